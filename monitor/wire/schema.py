"""Wire format v2: the ticks the monitor consumes (documented in ``docs/wire-format.md``;
the message bodies are those of v1, v2 changed the topic layout).

Five tick types, a tagged union on the field ``"type"``:

========================  ==============  ===============================================
class                     ``type`` tag    fields (in this order; defaults may be omitted)
========================  ==============  ===============================================
:class:`OptionQuote`      ``quote``       ts_ns, symbol, bid, ask, bid_size=0, ask_size=0
:class:`OptionTrade`      ``trade``       ts_ns, symbol, price, size, conditions=""
:class:`UnderlyingTick`   ``underlying``  ts_ns, root, bid, ask, last, source=""
:class:`OpenInterest`     ``oi``          date, symbol, oi
:class:`VolIndex`         ``vol_index``   ts_ns, symbol, value
========================  ==============  ===============================================

``ts_ns`` is integer nanoseconds since the Unix epoch (UTC); ``symbol`` an OCC option
symbol, compact (``SPXW260821C07600000``) or 21-character padded (``SPXW  260821C07600000``);
``date`` is ``YYYY-MM-DD``. Prices are floats in the underlying's currency.

The public classes above are what decoding returns for *both* encodings. The JSON form is
an object per tick (these classes); the binary (msgpack) form is an array per tick with the
tag first (``["quote", ts_ns, symbol, bid, ask, bid_size, ask_size]``). msgspec fixes the
array/object layout per class, so the binary layout uses private twin classes
(:data:`BINARY_TYPES`) that the codec converts from and to.

Only the *shape* is checked here (types, required fields). Semantic checks (NaN, crossed or
negative prices, unknown symbols, stale timestamps) belong to the service.
"""

from __future__ import annotations

from typing import Annotated, Union

import msgspec

__all__ = [
    "WIRE_VERSION",
    "OptionQuote",
    "OptionTrade",
    "UnderlyingTick",
    "OpenInterest",
    "VolIndex",
    "Tick",
    "TICK_TYPES",
    "TAGS",
    "BINARY_TYPES",
    "TO_CANONICAL",
    "LENIENT_JSON_TYPES",
    "LENIENT_BINARY_TYPES",
    "FIELDS",
]

#: Version of this wire format. Producers built on :mod:`monitor.sources.kafka` send it in
#: the Kafka header ``wire-version``; consumers read 1 and 2 and reject a message whose
#: header names another. v2 changed the topic layout only (one topic keyed by underlying,
#: docs/wire-format.md); the message bodies are those of v1.
WIRE_VERSION = 2

#: ``ts_ns`` must fit an int64 (the book's clocks) and not precede the epoch: a value
#: outside is a malformed tick at decode, not an overflow later in the service
TsNs = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]

_TAG_FIELD = "type"


class OptionQuote(msgspec.Struct, frozen=True, tag="quote", tag_field=_TAG_FIELD):
    """Top of book of one option contract."""

    ts_ns: TsNs
    symbol: str
    bid: float
    ask: float
    bid_size: float = 0.0
    ask_size: float = 0.0


class OptionTrade(msgspec.Struct, frozen=True, tag="trade", tag_field=_TAG_FIELD):
    """One option trade print (``conditions``: the feed's sale-condition codes, free text)."""

    ts_ns: TsNs
    symbol: str
    price: float
    size: float
    conditions: str = ""


class UnderlyingTick(msgspec.Struct, frozen=True, tag="underlying", tag_field=_TAG_FIELD):
    """Quote and last price of an underlying (``root``: ``SPX``, ``SPY``, ...);
    ``source``: where the price came from when it is not the feed's own quote of the
    underlying (``implied_parity``: implied from the options' put-call parity), which the
    state reports as its ``spot_source``; empty: the feed's."""

    ts_ns: TsNs
    root: str
    bid: float
    ask: float
    last: float
    source: str = ""


class OpenInterest(msgspec.Struct, frozen=True, tag="oi", tag_field=_TAG_FIELD):
    """Open interest of one contract as published for ``date`` (``YYYY-MM-DD``)."""

    date: str
    symbol: str
    oi: float


class VolIndex(msgspec.Struct, frozen=True, tag="vol_index", tag_field=_TAG_FIELD):
    """A volatility index level (``VIX``, ``VIX1D``, ...), in index points."""

    ts_ns: TsNs
    symbol: str
    value: float


Tick = Union[OptionQuote, OptionTrade, UnderlyingTick, OpenInterest, VolIndex]

#: The public tick classes, in tag order.
TICK_TYPES: tuple[type, ...] = (OptionQuote, OptionTrade, UnderlyingTick, OpenInterest, VolIndex)

#: tag -> public class
TAGS: dict[str, type] = {cls.__struct_config__.tag: cls for cls in TICK_TYPES}

#: tag -> field names in wire order (the binary form is ``[tag, *fields]``).
FIELDS: dict[str, tuple[str, ...]] = {tag: cls.__struct_fields__ for tag, cls in TAGS.items()}


def _twin(cls: type, *, array_like: bool, lenient: bool, prefix: str) -> type:
    """A private class with ``cls``'s tag and fields; ``array_like`` for the binary layout,
    ``lenient``: every ``float`` field also accepts ``null``/``nil`` (read as NaN)."""
    fields = []
    for fi in msgspec.structs.fields(cls):
        typ = fi.type
        if lenient and typ is float:
            typ = Union[float, None]
        if fi.default is msgspec.NODEFAULT:
            fields.append((fi.name, typ))
        else:
            fields.append((fi.name, typ, fi.default))
    cfg = cls.__struct_config__
    return msgspec.defstruct(
        prefix + cls.__name__, fields, frozen=True, array_like=array_like,
        tag=cfg.tag, tag_field=cfg.tag_field, module=__name__)


#: Binary (array-like) twins of the public classes, same tags and fields.
BINARY_TYPES: tuple[type, ...] = tuple(
    _twin(c, array_like=True, lenient=False, prefix="_Bin") for c in TICK_TYPES)
#: Twins whose float fields accept ``null`` (JSON) / ``nil`` (msgpack), read as NaN.
LENIENT_JSON_TYPES: tuple[type, ...] = tuple(
    _twin(c, array_like=False, lenient=True, prefix="_LenientJson") for c in TICK_TYPES)
LENIENT_BINARY_TYPES: tuple[type, ...] = tuple(
    _twin(c, array_like=True, lenient=True, prefix="_LenientBin") for c in TICK_TYPES)

#: any twin class -> its public class
TO_CANONICAL: dict[type, type] = {}
for _group in (BINARY_TYPES, LENIENT_JSON_TYPES, LENIENT_BINARY_TYPES):
    for _twin_cls, _pub in zip(_group, TICK_TYPES):
        TO_CANONICAL[_twin_cls] = _pub
del _group, _twin_cls, _pub
