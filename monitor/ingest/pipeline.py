"""Where ticks come in: validate each tick and apply it to its underlying's book.

Synchronous and free of I/O, and not thread-safe: the service runs it on its one core
thread (only :meth:`Refresh.run` may run elsewhere, on its own copy). Per tick:

* every tick with a ``ts_ns``: not later than the wall clock plus ``max_future_s`` (else
  ``future_ts``: one tick dated years ahead would move the underlying's event clock, and
  every later computation, out of the calendars' range).
* option quote: known symbol, finite non-negative bid/ask, bid <= ask, not older than
  the contract's last applied ``ts_ns`` (else ``stale``: at-least-once redelivery makes
  re-applying idempotent). Good quotes are batched per underlying into one
  ``Book.update_quotes`` call (O(1) per contract).
* underlying tick: the new spot waits until a full re-evaluation is due, judged at
  underlying ticks in event time (the same on every run): ``reeval_ms`` of event time
  since the last one started, or a move of ``reeval_bps`` or more from its spot. Then
  ``Book.refresh`` at the new spot and the underlying's event clock, the whole-chain
  computation. With ``background_refresh`` (the service) that pass runs on a copy of
  the book in another thread while ticks keep being applied (:class:`Refresh`); the
  tick path waits only when the next one falls due before the last one is done. No
  timer starts one: the book every tick meets, and so the hedge tape, is a function
  of the ticks alone (``monitor.tape``).
* open interest: re-weights the contract's dealer position.
* trade: classified against the quote in force (REFERENCE.md, ``flow``): at/above the
  ask = customer buy (dealer -size), at/below the bid = customer sell (dealer +size),
  inside by the midpoint, at the midpoint by the tick rule; unclassified prints are
  counted, not guessed. The running dealer flow per contract feeds the ``flow`` position
  model (base model at the open + flow), and customer put selling feeds the regimes.
* volatility index: the latest value per symbol, for the regime engine.

Rejected ticks are counted by ``(underlying, reason)`` and never touch the state; the
first few of each reason are kept with context for one log line each.

A batch (of objects, or decoded straight into columns: :mod:`monitor.wire.columns`) takes
the columns path: one numba scan (:func:`monitor.core.quotes.scan_ticks`) makes the checks
above for its quotes and trades in order and records them as the per-tick path would, and
applies the underlying ticks that path would apply without a word (in bounds, no refresh
to start); it stops for each tick that path must take (any other kind or outcome, a vote
for a clock jump, a trade that re-weights a ``flow`` book or opens a tape session), which
:meth:`Pipeline._one` handles before the scan goes on.

A batch's good quotes wait (per underlying, in order) and go to the book in one
``Book.update_quotes`` call at its end, or before anything that must see them: a
whole-chain refresh starting (its copy of the book holds the quotes before the spot tick
that started it), open interest, a ``flow`` re-weighting. The book's spot moves only with
a refresh, so a spot tick that starts none leaves them waiting. Both paths end in the same
state with the same counts (``Pipeline(columns=False)`` is the reference the tests hold
the scan to).
"""

from __future__ import annotations

import time

import numpy as np

from monitor.chain.occ import underlying_of_root
from monitor.core.book import Book
from monitor.core.layout import C_LAST_PRINT, C_LAST_PX, C_LAST_TS, CF_FIELDS, CI_FIELDS
from monitor.core.symbol_index import SymbolIndex
from monitor.ingest.counts import Counts
from monitor.ingest.pending import Pending
from monitor.ingest.refresh import Refresh, Refreshes
from monitor.ingest.rules import TickRules
from monitor.ingest.scan import ColumnsScan
from monitor.ingest.state import OTHER, UnderlyingState
from monitor.wire.columns import TickColumns, concat, from_ticks


class Pipeline(TickRules, ColumnsScan, Pending, Refreshes):
    """Applies tick batches to the books of the configured underlyings."""

    def __init__(self, books: dict[str, Book], *, reeval_ms: float = 250.0,
                 reeval_bps: float = 5.0,
                 models: dict[str, tuple[str, str]] | None = None,
                 background_refresh: bool = False, max_future_s: float | None = None,
                 wall_clock=time.time_ns, bounds: dict | None = None, tape: bool = True,
                 columns: bool = True):
        """``models``: per root ``(position_model, flow_base_model)``; default the book's
        own model. For ``positions`` the books already hold the user's positions.
        ``background_refresh``: due whole-chain refreshes are started as :class:`Refresh`
        jobs for the caller to run (:meth:`take_refreshes`) instead of inline.
        ``max_future_s``: ticks dated more than this after ``wall_clock()`` (UTC ns) are
        rejected as ``future_ts`` (None or 0: no limit). ``bounds``: per root a
        :class:`monitor.config.BoundsSettings` (default: its defaults). ``tape``: keep the
        hedge-pressure tape (off only to measure what it costs: benchmarks/bench_tape.py).
        ``columns``: a batch of tick objects is turned into columns and its quotes and
        trades screened and applied in one kernel pass (:meth:`_columns`); off, each tick
        takes the per-tick path (the reference the kernel is tested against)."""
        from monitor.config import BoundsSettings  # (a plain settings model)
        self.max_future_ns = int(max_future_s * 1e9) if max_future_s else None
        self.wall_clock = wall_clock
        self.ts_limit = np.iinfo(np.int64).max  # set per batch
        self._taped: dict[str, UnderlyingState] = {}  # underlyings with prints to add
        self.tape = tape
        self.columns = columns
        self.reeval_ns = int(reeval_ms * 1e6)
        self.reeval_frac = reeval_bps / 1e4
        self.background_refresh = background_refresh
        self.started: list[Refresh] = []  # started, not yet taken by the caller
        self.states: dict[str, UnderlyingState] = {}
        self.symbols: dict[str, tuple[UnderlyingState, int]] = {}
        # every contract of every book has a global index g = offset of its book + row:
        # a columns batch's symbols are looked up in a numba hash table over these
        # (SymbolIndex) and screened against one last_ts array whose slices are the
        # states' own last_ts
        sizes = [len(book.c.strike) for book in books.values()]
        # the scan's per-contract state, packed (monitor.core.layout: ci int64, cf float64);
        # the arrays the Python side reads are its rows (views), the states' their slices
        self.ci = np.full((len(CI_FIELDS), sum(sizes)), -1, dtype=np.int64)
        self.cf = np.full((len(CF_FIELDS), sum(sizes)), np.nan)
        self.last_ts, self.print_ts = self.ci[C_LAST_TS], self.ci[C_LAST_PRINT]
        self.last_px = self.cf[C_LAST_PX]  # per contract: last print (tick rule)
        self.state_list: list[UnderlyingState] = []  # (state id = position here)
        names: list[str] = []
        start = 0
        for (root, book), n in zip(books.items(), sizes):
            s = UnderlyingState(root=root, book=book, last_ts=self.last_ts[start:start + n],
                                spot_ts_ns=book.now_ns, clock_ns=book.now_ns,
                                last_trade_px=self.last_px[start:start + n],
                                last_print_ts=self.print_ts[start:start + n], offset=start,
                                last_reeval_ns=book.now_ns, eval_spot=book.spot)
            s.position_model, s.base_model = (models or {}).get(root, (book.model, book.model))
            s.bounds = (bounds or {}).get(root) or BoundsSettings()
            s.max_px = s.bounds.max_price_x * np.maximum(book.c.strike, book.spot)
            s.spot_range = (book.spot / s.bounds.max_spot_x, book.spot * s.bounds.max_spot_x)
            s.skew_ns = int(s.bounds.max_clock_skew_s * 1e9)
            s.past_ns = int(s.bounds.max_past_s * 1e9)
            s.jump_window_ns = int(s.bounds.clock_jump_window_s * 1e9)
            self.states[root] = s
            self.state_list.append(s)
            book_symbols = list(np.array(book.chain.symbols(), dtype=object)[book.order])
            for row, sym in enumerate(book_symbols):
                self.symbols.setdefault(sym, (s, row))
            names.extend(book_symbols)
            start += n
        self.state_ids = {s.root: u for u, s in enumerate(self.state_list)}
        self.index = SymbolIndex(names)
        self.g_state = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        self.g_row = np.concatenate([np.arange(n, dtype=np.int64) for n in sizes]
                                    ) if sizes else np.zeros(0, dtype=np.int64)
        self.g_is_call = np.concatenate([b.c.is_call for b in books.values()]
                                        ) if sizes else np.zeros(0, dtype=np.bool_)
        self.vol_index: dict[str, tuple[int, float]] = {}
        self.counts = Counts()
        self.max_vol_index = max((s.bounds.max_vol_index for s in self.state_list),
                                 default=BoundsSettings().max_vol_index)
        self._init_scan()
        self.serial = 1  # of the columns batch being scanned (marks its quotes in force)

    @classmethod
    def from_settings(cls, books: dict[str, Book], settings, **kw) -> Pipeline:
        """The pipeline a :class:`monitor.config.Settings` describes (its intervals, each
        root's position model and bounds): the one place the settings become the keywords
        above (``kw``: the others, e.g. ``background_refresh``)."""
        from monitor.books import position_models  # (where books and their models live)
        iv = settings.intervals
        return cls(books, max_future_s=iv.max_future_s, reeval_ms=iv.reeval_ms,
                   reeval_bps=iv.reeval_bps, models=position_models(settings, books),
                   bounds={r: settings.bounds_for(r) for r in books}, **kw)

    def apply(self, ticks) -> int:
        """Apply a batch in order; returns the number of ticks applied."""
        self.ts_limit = (np.iinfo(np.int64).max if self.max_future_ns is None
                          else self.wall_clock() + self.max_future_ns)
        if self.columns and len(ticks) > 1 and type(ticks[0]) is not TickColumns:
            cols = from_ticks(ticks)
            if cols is not None:  # (None: batches among the objects; they go as they are)
                ticks = [cols]
        return self._apply_list(ticks)

    def _apply_list(self, ticks) -> int:
        """The per-tick path (a run of adjacent columns batches scanned as one)."""
        pending: dict[str, list] = {}  # root -> [state, rows, bids, asks, chunks]: _flush
        counts = self.counts
        applied = 0
        cols: list[TickColumns] = []  # a run of adjacent columns batches, scanned as one
        for t in ticks:
            counts.current = t
            try:
                if type(t) is TickColumns:  # adjacent ones (messages of a batch) as one
                    cols.append(t)
                    continue
                if cols:
                    run, cols = cols, []
                    applied += self._columns(concat(run), pending)
                    counts.current = t
                applied += self._one(t, pending)
            except Exception as err:  # noqa: BLE001 - one bad tick must not stop the rest
                self._apply_error(t, err)
        counts.current = None  # (a flush's quotes are not one tick)
        if cols:
            try:
                applied += self._columns(concat(cols), pending)
            except Exception as err:  # noqa: BLE001
                self._apply_error(cols[0], err)
            counts.current = None
        if self._taped:
            self._drain_tapes()
        for root in pending:
            try:
                self._flush(pending, root)
            except Exception as err:  # noqa: BLE001
                self._apply_error(f"{root}: pending quotes", err)
        return applied

    def _apply_error(self, what, err: Exception) -> None:
        """A tick (or a batch, or an underlying's pending quotes) whose application raised:
        counted as ``apply_error`` with the exception, the rest of the batch goes on.
        (Each check above exists so that this never happens; this is the backstop.)"""
        self.counts.reject(OTHER, type(what).__name__, "apply_error",
                           f"{type(err).__name__}: {err} in {what!r}"[:200])

    def _state_of_root(self, root: str) -> UnderlyingState | None:
        """The state an underlying tick's root belongs to (``SPXW`` is SPX's)."""
        return self.states.get(root) or self.states.get(underlying_of_root(root))

    def _lookup(self, symbol: str) -> tuple[UnderlyingState, int] | None:
        """(state, book row) of an OCC symbol, compact or 21-character padded."""
        return self.symbols.get(symbol) or self.symbols.get(symbol.replace(" ", ""))

    def _und_of_symbol(self, symbol: str) -> str:
        root = underlying_of_root(symbol.replace(" ", "")[:-15])
        return root if root in self.states else OTHER
