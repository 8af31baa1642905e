"""Databento's consolidated quote records as columns (numba): the one translation rule for
``cmbp-1``, ``tcbbo`` and ``cbbo-1s``/``cbbo-1m`` records (docs/databento.md), applied to a
run of them read with the vendor's own record dtype, for a DBN file's raw bytes and the
live client's record objects alike (:class:`monitor.sources.databento.DbnTranslator`).

The four record types share one 80-byte layout for every field read here (checked at
import against the vendor's dtypes, so a layout change fails loudly): instrument id,
``ts_recv``, the trade's ``price`` and ``size``, ``action`` (``cmbp-1`` only: ``T`` is a
trade), the consolidated bid and ask with their sizes.

Per record, in order, as :func:`quote_run` applies it:

* the instrument id looked up (sorted ids -> slot, -2 another underlying's): not found is
  ``unknown_instrument``, another underlying's ``other_underlying``;
* the quote: an undefined bid or ask is ``no_quote``, a negative one ``bad_price``; the
  quote in force again gives nothing; otherwise it becomes the slot's quote and a quote row;
* a trade (``tcbbo``, or a ``cmbp-1`` of action ``T``; a one-second record's price is the
  last trade, not a new one): a price undefined or negative, or a size of 0, is
  ``bad_price``; otherwise a trade row after its quote;
* a record that gave a row stops the run when its underlying's implied spot is due at its
  ``ts_recv`` (``due_at``), so the caller computes the spot from the quotes in force there.
"""

from __future__ import annotations

import databento_dbn as dbn
import numpy as np

from monitor.core.jit import kernel
from monitor.core.kinds import QUOTE, TRADE

__all__ = ["QUOTE_DTYPE", "QUOTE_RTYPES", "RECORD_SIZE", "COUNTED", "QuoteSlots",
           "index_records", "quote_run", "is_quote_rtype"]

#: the rtypes of the consolidated quote layout
QUOTE_RTYPES = (int(dbn.RType.CMBP_1), int(dbn.RType.TCBBO), int(dbn.RType.CBBO_1S),
                int(dbn.RType.CBBO_1M))
CMBP_1, TCBBO = int(dbn.RType.CMBP_1), int(dbn.RType.TCBBO)
TRADE_ACTION = ord("T")
UNDEF_PRICE = int(dbn.UNDEF_PRICE)
UNDEF_TS = int(dbn.UNDEF_TIMESTAMP)
SCALE = float(dbn.FIXED_PRICE_SCALE)

#: the vendor's CMBP-1 dtype with ``action`` as a byte number (numba reads numbers)
QUOTE_DTYPE = np.dtype([(n, "u1" if n == "action" else t) for n, t in dbn.CMBP1Msg._dtypes])
RECORD_SIZE = QUOTE_DTYPE.itemsize
_READ = ("instrument_id", "ts_recv", "price", "size", "bid_px_00", "ask_px_00", "bid_sz_00",
         "ask_sz_00")
_cbbo = np.dtype(dbn.CBBOMsg._dtypes)
if _cbbo.itemsize != RECORD_SIZE or any(
        _cbbo.fields[f][:2] != QUOTE_DTYPE.fields[f][:2] for f in _READ):
    raise ImportError("databento-dbn's CBBO and CMBP-1 layouts differ: "
                      "monitor.sources.dbn_columns must read them apart")
del _cbbo

#: reasons a quote record is counted, by code (names of monitor.sources.databento.REASONS)
UNKNOWN, OTHER_UNDERLYING, NO_QUOTE, BAD_QUOTE, BAD_TRADE = 1, 2, 3, 4, 5
COUNTED = {UNKNOWN: "unknown_instrument", OTHER_UNDERLYING: "other_underlying",
           NO_QUOTE: "no_quote", BAD_QUOTE: "bad_price", BAD_TRADE: "bad_price"}
STOP_END, STOP_DUE = 0, 1


def is_quote_rtype(rtypes: np.ndarray) -> np.ndarray:
    return np.isin(rtypes, QUOTE_RTYPES)


@kernel
def index_records(buf, start, offs, rtypes):
    """Each whole record of ``buf`` from byte ``start``: its offset and rtype (the
    vendor's length byte counts 4-byte words); returns ``(records, end)``, ``end`` where
    the last whole record ends (bytes after it: a record cut short)."""
    n = 0
    pos = start
    size = buf.shape[0]
    while pos < size:
        length = np.int64(buf[pos]) * 4
        if length < 16 or pos + length > size:
            break
        offs[n] = pos
        rtypes[n] = buf[pos + 1]
        n += 1
        pos += length
    return n, pos


@kernel(fastmath=False)  # (a price is exactly its fixed-point value / 1e9, as in Python)
def quote_run(rec, start, ids, codes, q_ts, q_bid, q_ask, slot_und, due_at,
              kind, ts, slot, x0, x1, x2, x3, counted, reason):
    """Apply the rule (module docstring) to ``rec[start:]`` (a :data:`QUOTE_DTYPE` array)
    until its end or a due implied spot; rows and counted records are appended to the
    output arrays (room for two rows and one count per record). Returns ``(next record,
    rows, counted, last ts_recv, why it stopped)``: :data:`STOP_END` or :data:`STOP_DUE` (the
    last row's underlying's implied spot is due)."""
    rows = 0
    nc = 0
    last = np.int64(0)
    for k in range(start, rec.shape[0]):
        r = rec[k]
        t = np.int64(r.ts_recv)
        if t != UNDEF_TS and t > last:
            last = t
        iid = np.int64(r.instrument_id)
        pos = np.searchsorted(ids, iid)
        if pos >= ids.shape[0] or ids[pos] != iid:
            counted[nc] = k
            reason[nc] = UNKNOWN
            nc += 1
            continue
        s = codes[pos]
        if s < 0:
            counted[nc] = k
            reason[nc] = OTHER_UNDERLYING
            nc += 1
            continue
        gave = False
        if r.bid_px_00 == UNDEF_PRICE or r.ask_px_00 == UNDEF_PRICE:
            counted[nc] = k
            reason[nc] = NO_QUOTE
            nc += 1
        else:
            bid = r.bid_px_00 / SCALE
            ask = r.ask_px_00 / SCALE
            if bid < 0.0 or ask < 0.0:
                counted[nc] = k
                reason[nc] = BAD_QUOTE
                nc += 1
            elif not (q_bid[s] == bid and q_ask[s] == ask):
                q_ts[s] = t
                q_bid[s] = bid
                q_ask[s] = ask
                kind[rows] = QUOTE
                ts[rows] = t
                slot[rows] = s
                x0[rows] = bid
                x1[rows] = ask
                x2[rows] = r.bid_sz_00
                x3[rows] = r.ask_sz_00
                rows += 1
                gave = True
        if r.rtype == TCBBO or (r.rtype == CMBP_1 and r.action == TRADE_ACTION):
            if r.price == UNDEF_PRICE or r.price < 0 or r.size == 0:
                counted[nc] = k
                reason[nc] = BAD_TRADE
                nc += 1
            else:
                kind[rows] = TRADE
                ts[rows] = t
                slot[rows] = s
                x0[rows] = r.price / SCALE
                x1[rows] = r.size
                x2[rows] = 0.0
                x3[rows] = 0.0
                rows += 1
                gave = True
        if gave:
            u = slot_und[s]
            if u >= 0 and t >= due_at[u]:
                return k + 1, rows, nc, last, STOP_DUE
    return rec.shape[0], rows, nc, last, STOP_END


IGNORED = -2  # the lookup's code for another underlying's contract
WIDTH = 21  # monitor.wire.columns.WIDTH


class QuoteSlots:
    """The consolidated quote in force per instrument id, as the arrays :func:`quote_run`
    reads (one slot per id, never reused), each slot's OCC symbol and underlying, and the
    sorted lookup from instrument id to slot."""

    def __init__(self, capacity: int = 1024):
        self.slot_of: dict[int, int] = {}
        self.q_ts = np.zeros(capacity, dtype=np.int64)
        self.q_bid = np.full(capacity, np.nan)
        self.q_ask = np.full(capacity, np.nan)
        self.sym = np.zeros((capacity, WIDTH), dtype=np.uint8)
        self.und = np.full(capacity, -1, dtype=np.int64)
        #: underlying -> its index in ``und`` (and in the ``due_at`` a caller passes)
        self.und_index: dict[str, int] = {}
        self.und_names: list[str] = []
        self.ids = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros(0, dtype=np.int64)
        self.lookup_key = None  # the instrument map's version the lookup was built at

    def _grow(self) -> None:
        n = len(self.q_ts)
        self.q_ts = np.concatenate([self.q_ts, np.zeros(n, dtype=np.int64)])
        self.q_bid = np.concatenate([self.q_bid, np.full(n, np.nan)])
        self.q_ask = np.concatenate([self.q_ask, np.full(n, np.nan)])
        self.sym = np.concatenate([self.sym, np.zeros((n, WIDTH), dtype=np.uint8)])
        self.und = np.concatenate([self.und, np.full(n, -1, dtype=np.int64)])

    def assign(self, iid: int, symbol: str, underlying: str) -> None:
        """Map ``iid`` to ``symbol`` (a new symbol for a known id forgets its quote)."""
        s = self.slot_of.get(iid)
        if s is None:
            s = self.slot_of[iid] = len(self.slot_of)
            if s >= len(self.q_ts):
                self._grow()
        self.sym[s] = 0
        raw = symbol.encode("ascii")
        self.sym[s, :len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        u = self.und_index.get(underlying)
        if u is None:
            u = self.und_index[underlying] = len(self.und_names)
            self.und_names.append(underlying)
        self.und[s] = u

    def get(self, iid: int, default=None):
        """``(ts_recv, bid, ask)`` of the quote in force, else ``default``."""
        s = self.slot_of.get(iid)
        if s is None or self.q_bid[s] != self.q_bid[s]:
            return default
        return int(self.q_ts[s]), float(self.q_bid[s]), float(self.q_ask[s])

    def __getitem__(self, iid: int):
        q = self.get(iid)
        if q is None:
            raise KeyError(iid)
        return q

    def __contains__(self, iid: int) -> bool:
        return self.get(iid) is not None

    def forget(self, iid: int) -> None:
        s = self.slot_of.get(iid)
        if s is not None:
            self.q_ts[s], self.q_bid[s], self.q_ask[s] = 0, np.nan, np.nan

    def lookup(self, key, mapped, ignored) -> None:
        """The sorted ids the kernel looks up, as of the map's version ``key``: each mapped
        id -> its slot, each ``ignored`` id (another underlying's) -> :data:`IGNORED`."""
        ids = np.array([*mapped, *ignored], dtype=np.int64)
        codes = np.array([self.slot_of[i] for i in mapped] + [IGNORED] * len(ignored),
                         dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        self.ids, self.codes = ids[order], codes[order]
        self.lookup_key = key

    def run(self, rec: np.ndarray, start: int, due_at: np.ndarray):
        """:func:`quote_run` over ``rec[start:]``: ``(next record, why it stopped, kind,
        ts_ns, slot, x0, x1, x2, x3, counted records, their reasons, last ts_recv)``."""
        n = 2 * (len(rec) - start)
        kind = np.empty(n, dtype=np.int8)
        ts = np.empty(n, dtype=np.int64)
        slot = np.empty(n, dtype=np.int64)
        x0, x1, x2, x3 = (np.empty(n) for _ in range(4))
        counted = np.empty(n // 2, dtype=np.int64)
        reason = np.empty(n // 2, dtype=np.int8)
        nxt, rows, nc, last, why = quote_run(rec, start, self.ids, self.codes, self.q_ts,
                                        self.q_bid, self.q_ask, self.und, due_at, kind, ts,
                                        slot, x0, x1, x2, x3, counted, reason)
        return (int(nxt), int(why), kind[:rows], ts[:rows], slot[:rows], x0[:rows],
                x1[:rows], x2[:rows], x3[:rows], counted[:nc], reason[:nc], int(last))
