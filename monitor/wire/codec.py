"""Encode and decode wire-format v1 messages (see :mod:`monitor.wire.schema`).

Two encodings, one per topic (configured, never sniffed):

* ``"json"``: a message is one tick object or a JSON array of tick objects.
* ``"binary"``: msgpack; a message is an array of ticks, each tick an array with the tag
  first: ``["quote", ts_ns, symbol, bid, ask, bid_size, ask_size]`` (trailing fields that
  have defaults may be left out).

:func:`decode` never raises on bad input: it returns the ticks it could read and one
``("malformed", context)`` error per rejected unit (the whole message when it cannot be
split, else each bad element of the array), ``context`` being msgspec's validation message
with the path of the bad field. Fast path: the whole message with one typed decoder; only
when that fails is the message split into elements and each decoded on its own (salvage),
so one bad tick costs only itself.

NaN: JSON has no NaN literal. In either encoding a ``null`` (JSON) / ``nil`` (msgpack)
in a *float* field decodes to ``float("nan")``, and :func:`encode` writes NaN and
+-infinity as ``null`` in JSON (msgspec's behaviour), so NaN round-trips through both
encodings and reaches the service's semantic checks (which reject it) instead of being
reported as malformed. ``null`` anywhere else (``ts_ns``, ``symbol``, ...) is malformed.
In msgpack a NaN is an ordinary float.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Union

import msgspec
import numpy as np
from msgspec.structs import astuple

from monitor.chain.occ import underlying_of_root
from monitor.wire import json_columns, records
from monitor.wire.columns import OTHER, QUOTE, TRADE, TickColumns, from_ticks
from monitor.wire.msgpack_columns import decode_columns
from monitor.wire.schema import (
    BINARY_TYPES,
    FIELDS,
    LENIENT_BINARY_TYPES,
    LENIENT_JSON_TYPES,
    TICK_TYPES,
    TO_CANONICAL,
    OpenInterest,
    OptionQuote,
    OptionTrade,
    Tick,
    UnderlyingTick,
    VolIndex,
)

__all__ = ["DecodeResult", "encode", "decode", "kafka_key", "underlying_of_tick",
           "ENCODINGS", "MALFORMED", "WRONG_ENCODING", "sniff_encoding"]

#: The encodings :func:`encode` and :func:`decode` accept (``"msgpack"`` = ``"binary"``).
ENCODINGS = ("json", "binary")
#: The error reason for anything that is not a well-formed v1 tick.
MALFORMED = "malformed"
#: a whole message in another encoding than the one configured (one-time error line)
WRONG_ENCODING = "wrong_encoding"

_CONTEXT_MAX = 300
_NAN = math.nan

_BinTick = Union[BINARY_TYPES]  # type: ignore[valid-type]
_LenientJsonTick = Union[LENIENT_JSON_TYPES]  # type: ignore[valid-type]
_LenientBinTick = Union[LENIENT_BINARY_TYPES]  # type: ignore[valid-type]

_JSON_ENC = msgspec.json.Encoder()
_JSON_MSG = msgspec.json.Decoder(Union[list[Tick], Tick])
_JSON_ONE = msgspec.json.Decoder(Tick)
_JSON_LENIENT_ONE = msgspec.json.Decoder(_LenientJsonTick)
_JSON_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])

_BIN_ENC = msgspec.msgpack.Encoder()
_BIN_MSG = msgspec.msgpack.Decoder(list[_BinTick])
_BIN_ONE = msgspec.msgpack.Decoder(_BinTick)
_BIN_LENIENT_ONE = msgspec.msgpack.Decoder(_LenientBinTick)
_BIN_RAW_LIST = msgspec.msgpack.Decoder(list[msgspec.Raw])
_BIN_ANY = msgspec.msgpack.Decoder()

_TAG_OF: dict[type, str] = {cls: cls.__struct_config__.tag for cls in TICK_TYPES}


@dataclass(slots=True)
class DecodeResult:
    """What one message held.

    ``errors[i]`` is ``(reason, context)`` for the ``i``-th rejected unit and
    ``rejected[i]`` its raw bytes (the whole message, or the one bad array element), e.g.
    for a dead-letter topic.
    """

    ticks: list[Tick]
    errors: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[bytes] = field(default_factory=list)


def _norm_encoding(encoding: str) -> str:
    if encoding == "json":
        return "json"
    if encoding in ("binary", "msgpack"):
        return "binary"
    if encoding == "records":
        return "records"
    raise ValueError(f"unknown wire encoding {encoding!r}: expected 'json', 'binary' or "
                     f"'records'")


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


def encode(ticks: Iterable[Tick], encoding: str) -> bytes:
    """One message holding ``ticks``: a JSON array of tick objects, or a msgpack array of
    array-form ticks. Raises ``TypeError`` for anything that is not a wire tick."""
    enc = _norm_encoding(encoding)
    ticks = list(ticks)
    tag_of = _TAG_OF
    for t in ticks:
        if type(t) not in tag_of:
            raise TypeError(f"not a wire tick: {type(t).__name__}")
    if enc == "json":
        return _JSON_ENC.encode(ticks)
    if enc == "records":  # quotes and trades as fixed-width records, in order
        if ticks and all(type(t) is OptionQuote for t in ticks):
            return records.encode_quotes(ticks)
        return _encode_tick_records(ticks)
    return _BIN_ENC.encode([(tag_of[type(t)], *astuple(t)) for t in ticks])


def _encode_tick_records(ticks: list) -> bytes:
    """A ``KIND_TICKS`` records message (:mod:`monitor.wire.records`)."""
    cols = from_ticks(ticks)
    for k in np.flatnonzero(cols.kind == TRADE):  # sale conditions travel with the object
        if ticks[k].conditions:
            cols.kind[k] = OTHER
    other = np.flatnonzero(cols.kind == OTHER)
    cols.x0[other] = np.arange(len(other))
    body = encode([ticks[k] for k in other], "binary") if len(other) else b""
    return records.encode_ticks(cols, body)


def _decode_quote_records(body) -> DecodeResult:
    """A ``KIND_QUOTES`` body as one :class:`TickColumns` of quotes."""
    rec = records.split_quotes(body)
    n = len(rec)
    if not n:
        return DecodeResult([])
    return DecodeResult([_record_columns(rec, np.full(n, QUOTE, dtype=np.int8),
                                         np.ascontiguousarray(rec["bid"], dtype=np.float64),
                                         ())])


def _record_columns(rec, kind, x0, others) -> TickColumns:
    """Columns of quote or tick records (their shared fields)."""
    n = len(rec)
    sym = np.ascontiguousarray(rec["symbol"]).view(np.uint8).reshape(n, records.WIDTH)
    return TickColumns(kind, np.ascontiguousarray(rec["ts_ns"], dtype=np.int64), sym, x0,
                       np.ascontiguousarray(rec["ask"], dtype=np.float64),
                       rec["bid_size"].astype(np.float64), rec["ask_size"].astype(np.float64),
                       None, others)


def _decode_tick_records(body) -> DecodeResult:
    """A ``KIND_TICKS`` body as one :class:`TickColumns`; a body that does not hold what
    its records say is malformed as a whole."""
    rec, rest = records.split_ticks(body)
    n = len(rec)
    kind = rec["kind"].astype(np.int8)
    if n and int(rec["kind"].max()) > OTHER:
        raise ValueError(f"tick record kind {int(rec['kind'].max())} (known: 0, 1, 2)")
    other = np.flatnonzero(kind == OTHER)
    others: list = []
    if len(rest):
        res = decode(bytes(rest), "binary")
        if res.errors:
            raise ValueError(f"the other ticks: {res.errors[0][1]}")
        others = res.ticks
    x0 = np.ascontiguousarray(rec["bid"], dtype=np.float64)
    if len(others) != len(other) or (len(other) and not np.array_equal(
            x0[other], np.arange(len(other)))):
        raise ValueError(f"{len(other)} records of other ticks, {len(others)} ticks after "
                         f"them")
    return DecodeResult([_record_columns(rec, kind, x0, others)] if n else [])


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _clip(text: str) -> str:
    return text if len(text) <= _CONTEXT_MAX else text[: _CONTEXT_MAX - 3] + "..."


def _from_lenient(t) -> Tick:
    return TO_CANONICAL[type(t)](*[_NAN if v is None else v for v in astuple(t)])


def _from_binary(t) -> Tick:
    return TO_CANONICAL[type(t)](*astuple(t))


_PATH_RE = re.compile(r"`\$((?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*)`")
_FIRST_INDEX_RE = re.compile(r"^\[(\d+)\]")


def _relocate(message: str, index: int) -> str:
    """Rewrite an element-relative msgspec path (`` `$.bid` ``) as message-relative
    (`` `$[3].bid` ``)."""
    out, n = _PATH_RE.subn(lambda m: f"`$[{index}]{m.group(1)}`", message, count=1)
    return out if n else f"{message} - at `$[{index}]`"


def _binary_field_name(raw: bytes, message: str) -> str | None:
    """For an element-relative msgpack error at `` `$[j]...` ``: the name of field ``j``."""
    m = _PATH_RE.search(message)
    if m is None:
        return None
    j = _FIRST_INDEX_RE.match(m.group(1))
    if j is None:
        return None
    pos = int(j.group(1))
    if pos == 0:
        return "type"
    try:
        value = _BIN_ANY.decode(raw)
    except Exception:  # noqa: BLE001 - best effort only
        return None
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0] in FIELDS:
        names = FIELDS[value[0]]
        if pos - 1 < len(names):
            return names[pos - 1]
    return None


def _decode_json_element(raw: bytes, i: int) -> tuple[Tick | None, str]:
    try:
        return _JSON_ONE.decode(raw), ""
    except msgspec.DecodeError:
        pass
    try:
        return _from_lenient(_JSON_LENIENT_ONE.decode(raw)), ""
    except msgspec.DecodeError as e:
        return None, f"element {i}: {_relocate(str(e), i)}"
    except Exception as e:  # noqa: BLE001 - never raise out of decode
        return None, f"element {i}: {type(e).__name__}: {e}"


def _decode_binary_element(raw: bytes, i: int) -> tuple[Tick | None, str]:
    try:
        return _from_binary(_BIN_ONE.decode(raw)), ""
    except msgspec.DecodeError:
        pass
    try:
        return _from_lenient(_BIN_LENIENT_ONE.decode(raw)), ""
    except msgspec.DecodeError as e:
        msg = str(e)
        name = _binary_field_name(raw, msg)
        ctx = f"element {i}: {_relocate(msg, i)}"
        if name is not None:
            ctx += f" (field `{name}`)"
        return None, ctx
    except Exception as e:  # noqa: BLE001
        return None, f"element {i}: {type(e).__name__}: {e}"


def _salvage(payload: bytes, enc: str, first_error: Exception) -> DecodeResult:
    raw_list = _JSON_RAW_LIST if enc == "json" else _BIN_RAW_LIST
    try:
        elements = raw_list.decode(payload)
    except Exception:  # noqa: BLE001 - not an array (or not even JSON/msgpack)
        elements = None
    if elements is None:
        if enc == "json":
            # a single tick object: a null float field is NaN, anything else is malformed
            try:
                return DecodeResult([_from_lenient(_JSON_LENIENT_ONE.decode(payload))])
            except Exception as e:  # noqa: BLE001
                ctx = str(e) if isinstance(e, msgspec.DecodeError) else \
                    f"{type(e).__name__}: {e}"
        else:
            ctx = f"not a msgpack array of ticks: {first_error}" \
                if isinstance(first_error, msgspec.DecodeError) else \
                f"{type(first_error).__name__}: {first_error}"
        return DecodeResult([], [(MALFORMED, _clip(ctx))], [bytes(payload)])

    one = _decode_json_element if enc == "json" else _decode_binary_element
    out = DecodeResult([])
    for i, raw in enumerate(elements):
        b = bytes(raw)
        tick, ctx = one(b, i)
        if tick is None:
            out.errors.append((MALFORMED, _clip(ctx)))
            out.rejected.append(b)
        else:
            out.ticks.append(tick)
    return out


def sniff_encoding(payload) -> str | None:
    """The encoding a whole message is plainly in: JSON ticks (an object with a ``type``
    tag, or an array of them), or msgpack ticks (an array of tag-first arrays); None when
    it is neither (then it is just malformed)."""
    raw = bytes(payload)
    try:
        v = msgspec.json.decode(raw)
    except Exception:  # noqa: BLE001 - not JSON
        pass
    else:
        first = v[0] if isinstance(v, list) and v else v
        return "json" if isinstance(first, dict) and "type" in first else None
    try:
        v = msgspec.msgpack.decode(raw)
    except Exception:  # noqa: BLE001 - not msgpack
        return None
    ok = isinstance(v, list) and v and isinstance(v[0], list) and v[0] and \
        isinstance(v[0][0], str)
    return "binary" if ok else None


def _binary_one(raw: bytes) -> Tick:
    return _from_binary(_BIN_ONE.decode(raw))


def decode(payload: bytes | bytearray | memoryview | None, encoding: str,
           columns: bool = False) -> DecodeResult:
    """The ticks in one message, and an error per rejected unit; never raises on bad input
    (only on an unknown ``encoding``). ``columns``: a ``json`` or ``binary`` message whose
    every tick reads exactly is returned as one :class:`TickColumns`
    (:mod:`monitor.wire.json_columns`, :mod:`monitor.wire.msgpack_columns`: the consumer's
    hot path), the same ticks as the objects it would otherwise give."""
    enc = _norm_encoding(encoding)
    if payload is None or len(payload) == 0:
        return DecodeResult([], [(MALFORMED, "empty message")], [b""])
    if columns and enc != "records":
        cols = (decode_columns(payload, _binary_one) if enc == "binary" else
                json_columns.decode_columns(payload, _JSON_ONE.decode))
        if cols is not None:
            return DecodeResult([cols] if len(cols) else [])
    if enc == "records":
        try:
            kind, body = records.parse(bytes(payload))
        except ValueError as e:
            other = sniff_encoding(payload)
            if other is not None:
                return DecodeResult([], [(WRONG_ENCODING, f"the message looks like {other}, "
                                          f"the configured encoding is records (set "
                                          f"kafka.encoding or --encoding {other})")],
                                    [bytes(payload)])
            return DecodeResult([], [(MALFORMED, _clip(str(e)))], [bytes(payload)])
        if kind == records.KIND_QUOTES:
            return _decode_quote_records(body)
        if kind == records.KIND_TICKS:
            try:
                return _decode_tick_records(body)
            except ValueError as e:
                return DecodeResult([], [(MALFORMED, _clip(str(e)))], [bytes(payload)])
        return decode(bytes(body), "binary")
    try:
        if enc == "json":
            res = _JSON_MSG.decode(payload)
            return DecodeResult(res if type(res) is list else [res])
        conv = TO_CANONICAL
        return DecodeResult([conv[type(t)](*astuple(t)) for t in _BIN_MSG.decode(payload)])
    except Exception as first:  # noqa: BLE001 - DecodeError, RecursionError, ...
        other = sniff_encoding(payload)
        if other is not None and other != enc:
            return DecodeResult([], [(WRONG_ENCODING, f"the message looks like {other}, the "
                                      f"configured encoding is {enc} (set kafka.encoding or "
                                      f"--encoding {other})")], [bytes(payload)])
        try:
            return _salvage(payload, enc, first)
        except Exception as e:  # noqa: BLE001 - last resort, should not happen
            return DecodeResult([], [(MALFORMED, _clip(f"{type(e).__name__}: {e}"))],
                                [bytes(payload)])


# --------------------------------------------------------------------------------------
# Partitioning key
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _underlying(root: str) -> str:
    return underlying_of_root(root)


def _occ_root(symbol: str) -> str:
    """The root of an OCC symbol (compact or padded) without validating the rest; the
    whole (stripped) string when it is too short to be one."""
    if 16 <= len(symbol) <= 21:
        return symbol[:-15].rstrip(" ")
    return symbol.strip()


def underlying_of_tick(tick: Tick) -> str:
    """The underlying a tick belongs to: ``SPXW...`` and ``SPX...`` options and the ``SPX``
    underlying tick give ``"SPX"`` (``NDXP`` -> ``NDX``, ``RUTW`` -> ``RUT``; ``XSP`` and
    equity roots as they are, see :data:`monitor.chain.occ.ROOT_UNDERLYING`). A
    :class:`VolIndex` gives its own symbol (``VIX``)."""
    cls = type(tick)
    if cls is OptionQuote or cls is OptionTrade or cls is OpenInterest:
        return _underlying(_occ_root(tick.symbol))
    if cls is UnderlyingTick:
        return _underlying(tick.root)
    if cls is VolIndex:
        return _underlying(tick.symbol)
    raise TypeError(f"not a wire tick: {cls.__name__}")


def kafka_key(tick: Tick) -> bytes:
    """Kafka message key: the underlying (:func:`underlying_of_tick`) as ASCII bytes, so
    every tick of one underlying lands in one partition, in order."""
    return underlying_of_tick(tick).encode("utf-8")
