"""Wire format v1: round trips, salvage of bad elements, fuzzing, the Kafka key."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.wire import (
    WIRE_VERSION,
    OpenInterest,
    OptionQuote,
    OptionTrade,
    UnderlyingTick,
    VolIndex,
    decode,
    encode,
    kafka_key,
    underlying_of_tick,
)

ENCODINGS = ("json", "binary")
TS = 1_787_342_400_000_000_000

ONE_OF_EACH = [
    OptionQuote(TS, "SPXW260821C07600000", 1.0, 1.2, 10.0, 20.0),
    OptionQuote(TS + 1, "SPXW  260821P07500000", 10.5, 10.9),  # padded OCC, default sizes
    OptionTrade(TS + 2, "SPY260821C00600000", 1.1, 5.0, "I"),
    OptionTrade(TS + 3, "SPY260821C00600000", 1.1, 5.0),
    UnderlyingTick(TS + 4, "SPX", 7598.5, 7599.0, 7598.75),
    OpenInterest("2026-08-20", "SPXW260821C07600000", 12034.0),
    VolIndex(TS + 5, "VIX", 15.42),
]


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_round_trip_every_type(encoding):
    payload = encode(ONE_OF_EACH, encoding)
    res = decode(payload, encoding)
    assert res.errors == [] and res.rejected == []
    assert res.ticks == ONE_OF_EACH
    # the public classes come back, whatever the encoding
    assert [type(t) for t in res.ticks] == [type(t) for t in ONE_OF_EACH]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("tick", ONE_OF_EACH, ids=lambda t: type(t).__name__)
def test_round_trip_single(encoding, tick):
    assert decode(encode([tick], encoding), encoding).ticks == [tick]


def test_json_layout_and_single_object():
    q = ONE_OF_EACH[0]
    obj = json.loads(encode([q], "json"))
    assert obj == [{"type": "quote", "ts_ns": TS, "symbol": "SPXW260821C07600000",
                    "bid": 1.0, "ask": 1.2, "bid_size": 10.0, "ask_size": 20.0}]
    # one bare object is a message too; defaults may be omitted; ints accepted for floats
    res = decode(b'{"type":"quote","ts_ns":1,"symbol":"SPXW260821C07600000","bid":1,"ask":1.2}',
                 "json")
    assert res.errors == []
    assert res.ticks == [OptionQuote(1, "SPXW260821C07600000", 1.0, 1.2, 0.0, 0.0)]
    assert type(res.ticks[0].bid) is float
    # unknown extra fields are ignored (forward compatible additions)
    res = decode(b'[{"type":"vol_index","ts_ns":1,"symbol":"VIX","value":15,"new":"x"}]', "json")
    assert res.ticks == [VolIndex(1, "VIX", 15.0)] and res.errors == []


def test_binary_layout_tag_first_and_trailing_defaults():
    payload = encode([ONE_OF_EACH[0], ONE_OF_EACH[4]], "binary")
    assert msgspec.msgpack.decode(payload) == [
        ["quote", TS, "SPXW260821C07600000", 1.0, 1.2, 10.0, 20.0],
        ["underlying", TS + 4, "SPX", 7598.5, 7599.0, 7598.75, ""],
    ]
    short = msgspec.msgpack.encode([["quote", 7, "SPY260821C00600000", 1.0, 2.0],
                                    ["trade", 8, "SPY260821C00600000", 1.5, 3.0],
                                    ["vol_index", 9, "VIX", 20.0, "future-field"],
                                    ["underlying", 10, "SPX", 1.0, 2.0, 1.5],
                                    ["underlying", 11, "SPX", 1.0, 2.0, 1.5,
                                     "implied_parity"]])
    res = decode(short, "binary")
    assert res.errors == []
    assert res.ticks == [OptionQuote(7, "SPY260821C00600000", 1.0, 2.0),
                         OptionTrade(8, "SPY260821C00600000", 1.5, 3.0, ""),
                         VolIndex(9, "VIX", 20.0),
                         UnderlyingTick(10, "SPX", 1.0, 2.0, 1.5, ""),
                         UnderlyingTick(11, "SPX", 1.0, 2.0, 1.5, "implied_parity")]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_nan_survives(encoding):
    ticks = [OptionQuote(1, "SPXW260821C07600000", math.nan, 1.0),
             UnderlyingTick(2, "SPX", 7600.0, math.nan, math.inf)]
    res = decode(encode(ticks, encoding), encoding)
    assert res.errors == []
    q, u = res.ticks
    assert math.isnan(q.bid) and q.ask == 1.0 and type(q) is OptionQuote
    assert u.bid == 7600.0 and math.isnan(u.ask)
    # JSON has no infinity either: it is written as null and read back as NaN
    assert math.isinf(u.last) if encoding == "binary" else math.isnan(u.last)


def test_null_float_is_nan_but_null_elsewhere_is_malformed():
    res = decode(b'[{"type":"quote","ts_ns":1,"symbol":"SPXW260821C07600000","bid":null,'
                 b'"ask":1.0},{"type":"quote","ts_ns":null,"symbol":"SPXW260821C07600000",'
                 b'"bid":1.0,"ask":1.0}]', "json")
    assert len(res.ticks) == 1 and math.isnan(res.ticks[0].bid)
    assert len(res.errors) == 1 and "`$[1].ts_ns`" in res.errors[0][1]
    res = decode(msgspec.msgpack.encode([["quote", 1, "SPXW260821C07600000", None, 1.0]]),
                 "binary")
    assert res.errors == [] and math.isnan(res.ticks[0].bid)


def test_encode_rejects_non_ticks_and_unknown_encoding():
    with pytest.raises(TypeError):
        encode([{"type": "quote"}], "json")
    with pytest.raises(ValueError):
        encode(ONE_OF_EACH, "xml")
    with pytest.raises(ValueError):
        decode(b"[]", "xml")


def test_wire_version():
    assert WIRE_VERSION == 2  # docs/wire-format.md: v2 = one topic keyed by underlying


# --------------------------------------------------------------------------------------
# Malformed input: salvage per element, errors name the field
# --------------------------------------------------------------------------------------


def test_json_one_bad_element_loses_only_itself():
    good = [ONE_OF_EACH[0], ONE_OF_EACH[4], ONE_OF_EACH[6]]
    elems = [json.loads(encode([t], "json"))[0] for t in good]
    bad = dict(elems[0], bid="1.05")
    payload = json.dumps([elems[0], bad, elems[1], elems[2]]).encode()
    res = decode(payload, "json")
    assert res.ticks == good
    assert len(res.errors) == 1
    reason, ctx = res.errors[0]
    assert reason == "malformed"
    assert "`$[1].bid`" in ctx and "str" in ctx
    assert json.loads(res.rejected[0]) == bad


def test_json_several_kinds_of_bad_elements():
    payload = (b'[{"type":"quote","ts_ns":1,"symbol":"SPXW260821C07600000","bid":1.0},'  # no ask
               b'{"type":"nope","ts_ns":1},'  # unknown type
               b'42,'                          # not an object
               b'{"type":"vol_index","ts_ns":2,"symbol":"VIX","value":17.5},'
               b'{"ts_ns":3,"symbol":"VIX","value":1.0}]')  # no tag
    res = decode(payload, "json")
    assert res.ticks == [VolIndex(2, "VIX", 17.5)]
    assert len(res.errors) == 4 and len(res.rejected) == 4
    ctx = [c for _, c in res.errors]
    assert "ask" in ctx[0] and "`$[0]`" in ctx[0]
    assert "'nope'" in ctx[1] and "`$[1].type`" in ctx[1]
    assert "`$[2]`" in ctx[2]
    assert "type" in ctx[3]


def test_binary_one_bad_element_names_the_field():
    payload = msgspec.msgpack.encode([
        ["quote", 1, "SPXW260821C07600000", 1.0, 1.2],
        ["quote", 2, "SPXW260821C07600000", "oops", 1.2],
        ["underlying", 3, "SPX", 7600.0, 7600.5, 7600.2],
        ["trade", "late", "SPY260821C00600000", 1.0, 1.0],
        ["oi", "2026-08-20", "SPY260821C00600000"],  # missing oi
        "not-a-tick",
    ])
    res = decode(payload, "binary")
    assert res.ticks == [OptionQuote(1, "SPXW260821C07600000", 1.0, 1.2),
                         UnderlyingTick(3, "SPX", 7600.0, 7600.5, 7600.2)]
    ctx = [c for _, c in res.errors]
    assert len(ctx) == 4
    assert "`$[1][3]`" in ctx[0] and "(field `bid`)" in ctx[0]
    assert "(field `ts_ns`)" in ctx[1]
    assert "`$[4]`" in ctx[2]
    assert "`$[5]`" in ctx[3]
    assert msgspec.msgpack.decode(res.rejected[0])[3] == "oops"


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("payload", [b"", b"\x00", b"{", b"[1,", b"null", b"\xc1", b"true",
                                     b'"quote"', b"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
                                     b"[" * 100_000])
def test_whole_message_malformed(encoding, payload):
    res = decode(payload, encoding)
    assert res.ticks == []
    assert len(res.errors) >= 1 and all(r == "malformed" for r, _ in res.errors)
    assert len(res.rejected) == len(res.errors)


def test_tombstone_is_malformed():
    res = decode(None, "json")
    assert res.errors == [("malformed", "empty message")]


def test_binary_message_must_be_an_array_of_ticks():
    single = msgspec.msgpack.encode(["quote", 1, "SPXW260821C07600000", 1.0, 1.2])
    res = decode(single, "binary")
    assert res.ticks == [] and res.errors  # each element is "not a tick array"


# --------------------------------------------------------------------------------------
# Fuzz: decode never raises, and accounts for every element
# --------------------------------------------------------------------------------------

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                          st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                          st.sampled_from(["quote", "trade", "underlying", "oi", "vol_index",
                                           "SPXW260821C07600000"]))
_msgpack_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1),
                             st.floats(), st.text(max_size=8), st.binary(max_size=8),
                             st.sampled_from(["quote", "trade", "underlying", "oi", "vol_index"]))
_json_values = st.recursive(
    _json_scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=5),
                           st.dictionaries(st.sampled_from(
                               ["type", "ts_ns", "symbol", "bid", "ask", "bid_size", "price",
                                "size", "root", "last", "date", "oi", "value", "x"]),
                               kids, max_size=7)),
    max_leaves=20)

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=200), st.sampled_from(ENCODINGS))
def test_fuzz_random_bytes(payload, encoding):
    res = decode(payload, encoding)
    assert isinstance(res.ticks, list) and isinstance(res.errors, list)
    assert len(res.errors) == len(res.rejected)
    assert all(r == "malformed" and isinstance(c, str) for r, c in res.errors)


@_FUZZ
@given(_json_values)
def test_fuzz_json_values(value):
    payload = json.dumps(value).encode()
    res = decode(payload, "json")
    if isinstance(value, list):
        assert len(res.ticks) + len(res.errors) == len(value)
    else:
        assert len(res.ticks) + len(res.errors) == 1


@_FUZZ
@given(st.lists(st.one_of(
    st.lists(_msgpack_scalars, max_size=8),
    st.tuples(st.sampled_from(["quote", "trade", "underlying", "oi", "vol_index"]),
              st.integers(0, 2**63 - 1), st.text(max_size=21),
              st.one_of(st.none(), st.floats()), st.floats()).map(list),
    _msgpack_scalars), max_size=8))
def test_fuzz_msgpack_arrays(elements):
    res = decode(msgspec.msgpack.encode(elements), "binary")
    assert len(res.ticks) + len(res.errors) == len(elements)


_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
_ticks = st.one_of(
    st.builds(OptionQuote, st.integers(0, 2**63 - 1), st.text(max_size=21), _floats, _floats,
              _floats, _floats),
    st.builds(OptionTrade, st.integers(0, 2**63 - 1), st.text(max_size=21), _floats, _floats,
              st.text(max_size=4)),
    st.builds(UnderlyingTick, st.integers(0, 2**63 - 1), st.text(max_size=6), _floats, _floats,
              _floats),
    st.builds(OpenInterest, st.text(max_size=10), st.text(max_size=21), _floats),
    st.builds(VolIndex, st.integers(0, 2**63 - 1), st.text(max_size=6), _floats),
)


@_FUZZ
@given(st.lists(_ticks, max_size=10), st.sampled_from(ENCODINGS))
def test_fuzz_round_trip(ticks, encoding):
    res = decode(encode(ticks, encoding), encoding)
    assert res.errors == []
    assert res.ticks == ticks


# --------------------------------------------------------------------------------------
# Kafka key
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("tick, key", [
    (OptionQuote(1, "SPXW260821C07600000", 1, 2), b"SPX"),
    (OptionQuote(1, "SPXW  260821C07600000", 1, 2), b"SPX"),
    (OptionQuote(1, "SPX   260918C07600000", 1, 2), b"SPX"),
    (OptionTrade(1, "SPX260918P05000000", 1, 2), b"SPX"),
    (OptionQuote(1, "NDXP260821C20000000", 1, 2), b"NDX"),
    (OptionQuote(1, "RUTW260821C02000000", 1, 2), b"RUT"),
    (OptionQuote(1, "XSP260821C00760000", 1, 2), b"XSP"),
    (OptionQuote(1, "SPY260821C00600000", 1, 2), b"SPY"),
    (OpenInterest("2026-08-20", "AAPL  260821C00200000", 5), b"AAPL"),
    (UnderlyingTick(1, "SPX", 1, 2, 1.5), b"SPX"),
    (UnderlyingTick(1, "SPXW", 1, 2, 1.5), b"SPX"),
    (VolIndex(1, "VIX", 15.0), b"VIX"),
])
def test_kafka_key(tick, key):
    assert kafka_key(tick) == key
    assert underlying_of_tick(tick) == key.decode()


def test_kafka_key_of_garbage_symbol_does_not_raise():
    assert kafka_key(OptionQuote(1, "junk", 1, 2)) == b"JUNK"


# --------------------------------------------------------------------------------------
# The documented examples decode
# --------------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "wire-format.md"


def test_documented_json_examples_decode():
    text = DOC.read_text()
    start = text.index("<!-- section: wire-format-v1")
    end = text.index("<!-- end section: wire-format-v1 -->")
    blocks = re.findall(r"```json\n(.*?)```", text[start:end], re.S)
    assert len(blocks) >= 2
    n = 0
    for block in blocks:
        res = decode(block.encode(), "json")
        assert res.errors == []
        n += len(res.ticks)
    assert {type(t) for t in decode(blocks[1].encode(), "json").ticks} == {
        OptionQuote, OptionTrade, UnderlyingTick, OpenInterest, VolIndex}
    assert n == 6


@pytest.mark.parametrize("configured,sent", [("binary", "json"), ("json", "binary"),
                                              ("records", "json"), ("records", "binary")])
def test_a_message_in_another_encoding_says_so(configured, sent):
    """A whole message in another encoding is not 'malformed': it is refused with the
    encoding it looks like and the setting to change."""
    q = OptionQuote(1, "SPXW260821C07600000", 1.0, 1.2)
    res = decode(encode([q], sent), configured)
    assert res.ticks == []
    ((reason, ctx),) = res.errors
    assert reason == "wrong_encoding"
    assert f"looks like {sent}" in ctx and f"--encoding {sent}" in ctx


def test_broken_json_is_still_malformed():
    res = decode(b"{not json", "json")
    assert [r for r, _ in res.errors] == ["malformed"]
