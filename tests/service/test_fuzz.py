"""Property-based fuzzing (hypothesis) of every decoder and of the core's entry points
(issue 13): random bytes, wrong types, huge, tiny, NaN and infinite numbers, zero and
negative prices and strikes, expiries in the past, unknown roots.

Decoders never raise and account for every unit (a tick or an error with its bytes).
The pipeline never raises and never needs its backstop (no ``apply_error``); a tick it
rejects changes nothing but the counters, and whatever it applies leaves every exposure
finite. Both quote paths (per tick and fixed-width records) are fuzzed. The number of
cases per test is ``EXAMPLES`` (hypothesis settings below).
"""

import copy
import math

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import astuple

from monitor.core.book import Book
from monitor.ingest import Pipeline
from monitor.wire.codec import decode, encode
from monitor.wire.columns import TickColumns
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick, VolIndex
from tests.service.test_quote_records import as_records
from tests.synth import make_chain

EXAMPLES = 1500
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# a small book (synthetic chain, labelled so) keeps each case fast: 4 expiries x 5 strikes
BASE = Book(make_chain([(k, t, c, 0.2 + 0.002 * abs(k - 100), 500.0)
                        for t in (0.01, 0.05, 0.2, 0.6) for k in (90, 95, 100, 105, 110)
                        for c in (True, False)], spot=100.0, r=0.03, spread=0.05,
                       underlying="SPX"))
TS = BASE.now_ns + 10**6
SYMBOLS = list(BASE.chain.symbols())
WILD_SYMBOLS = SYMBOLS + [
    "SPXW201218C03000000",  # expired years ago
    "ZZZZ260821C00100000",  # unknown root
    "SPXW260821C00000000",  # strike 0
    "", "SPX", "SPXW  260821P07600000",  # padded form
]
LONG = "X" * 40  # beyond the records layout's 21 bytes: the per-tick path only
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1e-300, 5e-324, 1e300, 1e12, 1e9, math.nan, math.inf,
                     -math.inf]),
    st.floats(0.0, 500.0))
TIMES = st.one_of(st.integers(0, 2**63 - 1), st.integers(TS - 10**12, TS + 10**12),
                  st.sampled_from([0, 1, TS, TS + 1, 2**63 - 1]))

quotes = st.builds(OptionQuote, ts_ns=TIMES, symbol=st.sampled_from(WILD_SYMBOLS),
                   bid=NUMBERS, ask=NUMBERS, bid_size=NUMBERS, ask_size=NUMBERS)
TICKS = st.one_of(
    quotes,
    st.builds(OptionTrade, ts_ns=TIMES, symbol=st.sampled_from(WILD_SYMBOLS + [LONG]),
              price=NUMBERS,
              size=NUMBERS, conditions=st.text(max_size=5)),
    st.builds(UnderlyingTick, ts_ns=TIMES, root=st.sampled_from(["SPX", "SPXW", "QQQ", ""]),
              bid=NUMBERS, ask=NUMBERS, last=NUMBERS),
    st.builds(OpenInterest, date=st.sampled_from(["2026-08-22", "1999-01-01", "x"]),
              symbol=st.sampled_from(WILD_SYMBOLS + [LONG]), oi=NUMBERS),
    st.builds(VolIndex, ts_ns=TIMES, symbol=st.sampled_from(["VIX", "VIX1D", "ZZZ"]),
              value=NUMBERS),
)


def _accounted(res, n_units=None):
    """Every rejected unit has an error and its bytes."""
    assert len(res.errors) == len(res.rejected)
    assert all(isinstance(r, (bytes, bytearray, memoryview)) for r in res.rejected)
    if n_units is not None:
        assert len(res.ticks) + len(res.errors) >= min(n_units, 1)


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from(["json", "binary", "records"]))
def test_decoders_never_raise_on_random_bytes(payload, encoding):
    _accounted(decode(payload, encoding))


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=6),
                            st.dictionaries(st.sampled_from(["type", "ts_ns", "symbol", "bid",
                                                             "ask", "price", "size", "oi",
                                                             "date", "root", "last", "value",
                                                             "x"]), inner, max_size=7)),
    max_leaves=30)


@FUZZ
@given(JSONISH, st.sampled_from(["json", "binary"]))
def test_decoders_never_raise_on_wrong_types(doc, encoding):
    try:
        payload = (msgspec.json.encode(doc) if encoding == "json"
                   else msgspec.msgpack.encode(doc))
    except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
        return  # not encodable in the first place (e.g. an int beyond 64 bits in msgpack)
    _accounted(decode(payload, encoding))


def _state(p):
    s = p.states["SPX"]
    return (s.clock_ns, s.spot_ts_ns, s.pending_spot, s.trades, s.classified,
            s.customer_puts_sold, s.book.c.bid.copy(), s.book.c.ask.copy(), s.book.oi.copy(),
            s.last_ts.copy(), dict(p.vol_index))


def _same(a, b):
    return all(np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else
               (x == y or (x != x and y != y)) for x, y in zip(a, b))


def pipe(columns=True):
    # (a new one each time: a deep copy would cut the per-state last_ts views loose from
    # the pipeline's global array that the columns path screens against)
    return Pipeline({"SPX": copy.deepcopy(BASE)}, max_future_s=300.0,
                    wall_clock=lambda: TS + 10**12, columns=columns)


@FUZZ
@given(st.lists(TICKS, min_size=1, max_size=40), st.booleans())
def test_pipeline_never_raises_and_rejects_change_nothing(ticks, records):
    p = pipe()
    before = _state(p)
    applied = p.apply(as_records(ticks) if records else ticks)
    assert p.counts.rejected.get(("other", "apply_error"), 0) == 0
    if applied == 0:  # rejected (or stale) everything: nothing but the counters moved
        assert _same(before, _state(p))
    p.final_refresh()
    for k, v in p.states["SPX"].book.totals.items():
        assert math.isfinite(v), (k, v)
    # the checkpoint of whatever state resulted round-trips (it is the restart's input)
    from monitor.books import decode_checkpoint, encode_checkpoint
    cp = decode_checkpoint(encode_checkpoint(p.states["SPX"].checkpoint()))
    assert cp["n"] == len(BASE.c.strike)


@FUZZ
@given(st.lists(quotes, min_size=1, max_size=60))
def test_both_quote_paths_judge_random_quotes_alike(qs):
    """Quotes as records messages judged as the per-tick reference judges the objects."""
    a, b = pipe(columns=False), pipe()
    na = a.apply(qs)
    nb = b.apply(as_records(qs))
    assert na == nb
    assert dict(a.counts.rejected) == dict(b.counts.rejected)
    assert np.array_equal(a.states["SPX"].book.c.bid, b.states["SPX"].book.c.bid, equal_nan=True)
    assert np.array_equal(a.states["SPX"].last_ts, b.states["SPX"].last_ts)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(BASE.c.strike) - 1), NUMBERS, NUMBERS),
                min_size=1, max_size=50))
def test_book_update_quotes_keeps_exposures_finite(updates):
    """The core's incremental entry point itself, fed anything (no screening in front):
    it may mark contracts unusable, never poison the totals."""
    book = copy.deepcopy(BASE)
    idx = np.array([u[0] for u in updates], dtype=np.int64)
    bid = np.array([u[1] for u in updates], dtype=np.float64)
    ask = np.array([u[2] for u in updates], dtype=np.float64)
    book.update_quotes(idx, bid, ask)
    for k, v in book.totals.items():
        assert math.isfinite(v), (k, v)


def _rows(res):
    """The ticks of a decode result, columns batches read back row by row."""
    return [c.tick(k) for c in res.ticks for k in range(len(c))] \
        if res.ticks and isinstance(res.ticks[0], TickColumns) else res.ticks


def _same_ticks(a, b):
    return len(a) == len(b) and all(
        type(x) is type(y) and _same(astuple(x), astuple(y)) for x, y in zip(a, b))


@FUZZ
@given(st.lists(TICKS, min_size=0, max_size=30), st.sampled_from(["binary", "json"]))
def test_columns_readers_read_what_msgspec_reads(ticks, encoding):
    """The numba msgpack and JSON readers give the ticks msgspec gives, on every tick
    kind, NaN, infinities, huge and negative numbers, odd symbols and sale conditions."""
    payload = encode(ticks, encoding)
    ref = decode(payload, encoding)
    res = decode(payload, encoding, columns=True)
    _accounted(res)
    assert not res.errors and _same_ticks(_rows(res), ref.ticks)


@FUZZ
@given(st.one_of(st.binary(max_size=400), JSONISH.map(
    lambda d: msgspec.msgpack.encode(d) if _packable(d) else b""),
    JSONISH.map(lambda d: msgspec.json.encode(d) if _packable(d) else b"")))
def test_columns_readers_never_raise_and_agree(payload):
    """On random bytes and wrong types, the columns readers either give up (msgspec then
    decodes) or give exactly msgspec's ticks, never an error msgspec would not give."""
    if not payload:
        return
    for encoding in ("binary", "json"):
        ref = decode(payload, encoding)
        res = decode(payload, encoding, columns=True)
        _accounted(res)
        assert res.errors == ref.errors
        assert _same_ticks(_rows(res), ref.ticks)


FIELD_TEXT = st.one_of(  # ways a producer may write a number
    st.sampled_from(["0", "-0", "0.0", "1e2", "1E+2", "2.5e-3", "123456789012345678901",
                     "0.1000000000000000055511151231257827", "9007199254740993", "1e-22",
                     "1e23", "-1.5", "null", "07", "1.", ".5", "true", '"1"']),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.6f}"),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.17e}"),
    st.integers(-10**20, 10**20).map(str))
WS = st.sampled_from(["", "", " ", "\n  ", "\t"])


@st.composite
def json_texts(draw):
    """A JSON array of quote/trade objects as producers write them: any key order, spaces,
    numbers in any form, now and then an unknown or repeated key or a bad value."""
    items = []
    for _ in range(draw(st.integers(0, 6))):
        tag = draw(st.sampled_from(["quote", "trade", "underlying", "QUOTE"]))
        keys = (["ts_ns", "symbol", "bid", "ask", "bid_size", "ask_size"] if tag != "trade"
                else ["ts_ns", "symbol", "price", "size", "conditions"])
        keys = draw(st.permutations(keys + ["type"] + draw(st.sampled_from(
            [[], [], [], ["zz"], ["bid"], ["root"]]))))
        keys = keys[:len(keys) - draw(st.integers(0, 1))]  # now and then one missing
        parts = []
        for k in keys:
            if k == "type":
                v = f'"{tag}"'
            elif k == "symbol":
                v = '"' + draw(st.sampled_from(SYMBOLS[:3] + ["SPX\\u0057", "", "X" * 30])) + '"'
            elif k == "conditions":
                v = draw(st.sampled_from(['""', '"I"', "null"]))
            elif k == "ts_ns":
                v = draw(st.one_of(st.integers(-5, 2**64).map(str), st.just("1.0")))
            else:
                v = draw(FIELD_TEXT)
            parts.append(f'{draw(WS)}"{k}"{draw(WS)}:{draw(WS)}{v}{draw(WS)}')
        items.append("{" + ",".join(parts) + "}")
    return (draw(WS) + "[" + ",".join(items) + "]" + draw(WS)).encode()


@FUZZ
@given(json_texts())
def test_json_columns_reader_agrees_on_producer_texts(payload):
    ref = decode(payload, "json")
    res = decode(payload, "json", columns=True)
    _accounted(res)
    assert res.errors == ref.errors
    assert _same_ticks(_rows(res), ref.ticks)


def _packable(doc) -> bool:
    try:
        msgspec.msgpack.encode(doc)
        return True
    except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
        return False


@FUZZ
@given(st.lists(TICKS, min_size=1, max_size=40))
def test_columns_and_per_tick_paths_judge_random_ticks_alike(ticks):
    a = pipe()
    b = Pipeline({"SPX": copy.deepcopy(BASE)}, max_future_s=300.0,
                 wall_clock=lambda: TS + 10**12, columns=False)
    assert a.apply(ticks) == b.apply(ticks)
    assert a.counts.ticks == b.counts.ticks and a.counts.rejected == b.counts.rejected
    assert _same(_state(a), _state(b))
    sa, sb = a.states["SPX"], b.states["SPX"]
    assert sa.flow_pos == sb.flow_pos and sa.tape.checkpoint() == sb.tape.checkpoint()
    assert np.array_equal(sa.last_trade_px, sb.last_trade_px, equal_nan=True)


# spots around the book's (100): inside and outside the 20 % band and the 5 bp refresh
# threshold, at times in and out of order and beyond the clock's skew
SPOTS = st.builds(UnderlyingTick, ts_ns=st.integers(TS - 2 * 10**9, TS + 400 * 10**9),
                  root=st.sampled_from(["SPX", "SPXW"]),
                  bid=st.sampled_from([99.0, math.nan]), ask=st.sampled_from([101.0, math.nan]),
                  last=st.one_of(st.floats(70.0, 130.0), st.sampled_from(
                      [100.0, 100.04, 100.06, 120.0, 120.01, 79.99, 0.0, math.nan])))
NEAR_QUOTES = st.builds(OptionQuote, ts_ns=st.integers(TS - 2 * 10**9, TS + 400 * 10**9),
                        symbol=st.sampled_from(SYMBOLS), bid=st.floats(0.0, 5.0),
                        ask=st.floats(5.0, 10.0))


@FUZZ
@given(st.lists(st.one_of(SPOTS, NEAR_QUOTES), min_size=2, max_size=40), st.booleans(),
       st.booleans())
def test_spot_ticks_in_the_scan_are_judged_as_the_per_tick_path_judges_them(
        ticks, background, in_flight):
    """Underlying ticks among a batch's quotes: the scan applies the plain ones itself and
    stops for the rest (rejections, votes, a refresh to start); both paths must end alike,
    down to the refreshes started and the book each one starts from."""
    a, b = (Pipeline({"SPX": copy.deepcopy(BASE)}, max_future_s=300.0,
                     wall_clock=lambda: TS + 10**12, columns=c, background_refresh=background)
            for c in (False, True))
    jobs = []
    if background and in_flight:  # a refresh in flight: a big move waits for it
        jobs = [p.start_refresh(p.states["SPX"]) for p in (a, b)]
        for p in (a, b):
            p.take_refreshes()
    assert a.apply(ticks) == b.apply(ticks)
    assert a.counts.ticks == b.counts.ticks and a.counts.rejected == b.counts.rejected
    assert _same(_state(a), _state(b))
    sa, sb = a.states["SPX"], b.states["SPX"]
    assert sa.spot_votes == sb.spot_votes and sa.jump_votes == sb.jump_votes
    assert (sa.refreshing is None) == (sb.refreshing is None)
    started_a, started_b = a.take_refreshes(), b.take_refreshes()
    assert len(started_a) == len(started_b)
    for ja, jb in zip(started_a, started_b):  # each started from the same book and spot
        assert ja.spot == jb.spot and ja.now_ns == jb.now_ns
        assert np.array_equal(ja.book.c.bid, jb.book.c.bid, equal_nan=True)
    if jobs:
        assert [len(x) for x in sa.touched] == [len(x) for x in sb.touched]
