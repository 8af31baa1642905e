"""A batch of ticks as columns (struct of arrays), the form the pipeline's screening
kernel reads: option quotes and trades become rows of plain arrays, in arrival order;
every other tick (underlying, open interest, volatility index, or a quote/trade whose
symbol cannot be an OCC symbol) is a row of kind ``OTHER`` that the pipeline hands to its
per-tick path as the original object.

Columns, per row ``k``:

* ``kind`` int8: ``QUOTE`` 0, ``TRADE`` 1, ``OTHER`` 2;
* ``ts_ns`` int64: the tick's ``ts_ns`` (0 for open interest, which has none);
* ``symbol`` uint8[n, 21]: the OCC symbol's ASCII bytes, NUL-padded (as
  :mod:`monitor.wire.records` carries it);
* ``x0``, ``x1`` float64: quote ``bid``, ``ask``; trade ``price``, ``size``;
* ``x2``, ``x3`` float64: quote ``bid_size``, ``ask_size`` (0 otherwise);
* an ``OTHER`` row of a batch built without objects (a decoded message): ``x0`` is the
  index of its tick in ``others``.

A batch travels in a tick list like a tick and counts as ``len(batch)`` ticks.
:meth:`TickColumns.tick` gives row ``k`` back as the wire object (the original one when
the batch was built from objects: a rejected tick is logged and dead-lettered as it came).
"""

from __future__ import annotations

import numpy as np

from monitor.core.kinds import OTHER, QUOTE, TRADE
from monitor.wire.schema import OptionQuote, OptionTrade

#: a message read into columns holds at most one ``OTHER`` row in this many (else it is
#: read as objects: each ``OTHER`` row is decoded, and applied, on its own)
OTHER_SHARE_MAX = 8
WIDTH = 21  # bytes of a padded OCC symbol, the longest accepted


class TickColumns:
    """Ticks as columns (see the module docstring); ``objs``: the tick objects of the rows
    when built from objects (:func:`from_ticks`), else None."""

    __slots__ = ("kind", "ts_ns", "symbol", "x0", "x1", "x2", "x3", "objs", "others")

    def __init__(self, kind, ts_ns, symbol, x0, x1, x2, x3, objs=None, others=()):
        self.kind, self.ts_ns, self.symbol = kind, ts_ns, symbol
        self.x0, self.x1, self.x2, self.x3 = x0, x1, x2, x3
        self.objs = objs
        self.others = others

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def __repr__(self) -> str:
        return f"TickColumns({len(self)} ticks)"

    def name(self, k: int) -> str:
        """Row ``k``'s symbol as text."""
        return bytes(self.symbol[k]).rstrip(b"\0").decode("ascii", "replace")

    def tick(self, k: int):
        """Row ``k`` as a wire tick object."""
        if self.objs is not None:
            return self.objs[k]
        if self.kind[k] == OTHER:
            return self.others[int(self.x0[k])]
        if self.kind[k] == QUOTE:
            return OptionQuote(ts_ns=int(self.ts_ns[k]), symbol=self.name(k),
                               bid=float(self.x0[k]), ask=float(self.x1[k]),
                               bid_size=float(self.x2[k]), ask_size=float(self.x3[k]))
        if self.kind[k] == TRADE:
            return OptionTrade(ts_ns=int(self.ts_ns[k]), symbol=self.name(k),
                               price=float(self.x0[k]), size=float(self.x1[k]))
        raise ValueError(f"row {k}: unknown kind {self.kind[k]}")


def from_ticks(ticks: list) -> TickColumns | None:
    """Columns of a list of wire tick objects (one Python pass; the objects are kept);
    None when the list holds columns batches among them."""
    n = len(ticks)
    # filled as Python lists and converted once: a list store costs a fraction of a
    # numpy scalar store, and this loop is the object path's main cost
    kind = [OTHER] * n
    ts = [0] * n
    x0 = [0.0] * n
    x1 = [0.0] * n
    x2 = [0.0] * n
    x3 = [0.0] * n
    names = [""] * n
    quote, trade = OptionQuote, OptionTrade
    for k, t in enumerate(ticks):
        cls = type(t)
        if cls is quote:
            s = t.symbol
            if len(s) > WIDTH or not s.isascii() or "\0" in s:
                continue  # not an OCC symbol: the per-tick path says why
            kind[k] = QUOTE
            ts[k] = t.ts_ns
            names[k] = s
            x0[k] = t.bid
            x1[k] = t.ask
            x2[k] = t.bid_size
            x3[k] = t.ask_size
        elif cls is trade:
            s = t.symbol
            if len(s) > WIDTH or not s.isascii() or "\0" in s:
                continue
            kind[k] = TRADE
            ts[k] = t.ts_ns
            names[k] = s
            x0[k] = t.price
            x1[k] = t.size
        elif cls is TickColumns:
            return None
        else:  # (an open-interest tick has no ts_ns: 0)
            ts[k] = getattr(t, "ts_ns", 0)
    sym = np.array(names, dtype=f"S{WIDTH}").view(np.uint8).reshape(n, WIDTH)
    f64 = np.float64
    return TickColumns(np.array(kind, dtype=np.int8), np.array(ts, dtype=np.int64), sym,
                       np.array(x0, dtype=f64), np.array(x1, dtype=f64),
                       np.array(x2, dtype=f64), np.array(x3, dtype=f64), list(ticks))


def read(payload, parsed, decode_one) -> TickColumns | None:
    """The columns a numba reader parsed from ``payload`` (``parsed``: ``(kind, ts_ns,
    symbol, x0, x1, x2, x3, start, end)``, ``start``/``end`` the bytes of each ``OTHER``
    row), its ``OTHER`` rows decoded one by one with ``decode_one`` (raises when
    malformed); None when msgspec should read the message (an ``OTHER`` row it cannot
    decode, or more of them than one row in :data:`OTHER_SHARE_MAX`)."""
    kind, ts, sym, x0, x1, x2, x3, start, end = parsed
    other = np.flatnonzero(kind == OTHER)
    if len(other) * OTHER_SHARE_MAX > len(kind):
        return None  # mostly objects: msgspec reads them faster one message at a time
    others = []
    raw = bytes(payload)
    for i, k in enumerate(other.tolist()):
        try:
            others.append(decode_one(raw[start[k]:end[k]]))
        except Exception:  # noqa: BLE001 - a malformed element: msgspec says why
            return None
        ts[k] = getattr(others[-1], "ts_ns", 0)
        x0[k] = i
    return TickColumns(kind, ts, sym, x0, x1, x2, x3, None, others)


def concat(parts: list[TickColumns]) -> TickColumns:
    """One batch of several, in order (adjacent messages are scanned as one)."""
    if len(parts) == 1:
        return parts[0]
    kind = np.concatenate([p.kind for p in parts])
    x0 = np.concatenate([p.x0 for p in parts])
    objs = None
    others: list = []
    if all(p.objs is not None for p in parts):
        objs = [t for p in parts for t in p.objs]
    else:
        at = 0
        for p in parts:  # each part's OTHER rows point into the joined list
            rows = np.flatnonzero(p.kind == OTHER)
            others.extend(p.tick(int(k)) for k in rows)
            x0[at + rows] = np.arange(len(others) - len(rows), len(others))
            at += len(p)
    return TickColumns(kind, np.concatenate([p.ts_ns for p in parts]),
                       np.concatenate([p.symbol for p in parts]), x0,
                       np.concatenate([p.x1 for p in parts]),
                       np.concatenate([p.x2 for p in parts]),
                       np.concatenate([p.x3 for p in parts]), objs, others)


def first_ts(ticks) -> int | None:
    """The ``ts_ns`` of a batch list's first tick (None: it has none, open interest)."""
    t = ticks[0]
    if type(t) is TickColumns:
        return int(t.ts_ns[0]) if len(t) and t.kind[0] != OTHER else None
    return getattr(t, "ts_ns", None)


def count(ticks) -> int:
    """Ticks in a batch's list (a columns batch counts its rows)."""
    return sum(len(t) if type(t) is TickColumns else 1 for t in ticks)


def objects(ticks) -> list:
    """A batch's list with each columns batch as its rows' tick objects (for tools and
    tests that look at ticks one by one)."""
    out = []
    for t in ticks:
        if type(t) is TickColumns:
            out.extend(t.tick(k) for k in range(len(t)))
        else:
            out.append(t)
    return out
