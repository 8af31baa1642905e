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

import dataclasses
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from monitor.chain.occ import underlying_of_root
from monitor.core.book import Book
from monitor.core.positions import dealer_positions
from monitor.core.quotes import (
    APPLY,
    DUPLICATE,
    REASONS,
    STALE,
    classify,
    lookup_symbols,
    scan_ticks,
    trade_sums,
)
from monitor.core.reasons import DEAD_LETTER
from monitor.core.smile_fit import ExpiryFit
from monitor.core.symbol_index import SymbolIndex
from monitor.tape import HedgeTape
from monitor.wire.columns import QUOTE, TRADE, TickColumns, concat, from_ticks
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick, VolIndex

OTHER = "other"  # label for ticks whose underlying the monitor does not track
FEED = "feed"  # spot_source of a spot from the feed's own underlying tick
CHECKPOINT_VERSION = 4  # 3: each contract's last print ts_ns; 4: the last refresh's result
SAMPLES_PER_REASON = 3


@dataclass
class UnderlyingState:
    """One underlying's book plus what the pipeline tracks about its ticks."""

    root: str
    book: Book
    last_ts: np.ndarray  # int64 per book row: ts_ns of the last applied quote
    spot_ts_ns: int
    clock_ns: int  # latest event time applied (the book's evaluation clock)
    pending_spot: float | None = None
    # the event clock and spot of the last whole-chain refresh started: the next one is
    # due at the underlying tick ``reeval_ms`` of event time later, or ``reeval_bps`` away
    last_reeval_ns: int = 0
    eval_spot: float = 0.0
    oi_date: str | None = None
    last_trade_ts_ns: int = 0
    trades: int = 0
    position_model: str = "classic"  # classic | short_all | flow | positions
    base_model: str = "classic"  # flow: the model at the open
    flow_pos: dict = field(default_factory=dict)  # row -> dealer contracts from trade prints
    # per book row: the last print's price (tick rule), NaN: none yet; a slice of the
    # pipeline's array, as last_ts
    last_trade_px: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # per book row: the last applied print's ts_ns (-1: none); a print at or before it is
    # a duplicate or stale (a slice of the pipeline's array, as last_ts)
    last_print_ts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pending_quote: dict = field(default_factory=dict)  # row -> (bid, ask) not yet applied
    customer_puts_sold: float = 0.0  # contracts, cumulative (sold - bought)
    classified: int = 0
    unclassified: int = 0
    dirty: bool = True  # changed since the last publish
    stale_eval: bool = False  # changed since the last whole-chain refresh (forwards, clock)
    refreshing: "Refresh | None" = None  # a background refresh in flight
    touched: list = field(default_factory=list)  # row arrays changed while it runs
    spare: Book | None = None  # the arrays the book had before the last refresh: reused
    bounds: object = None  # monitor.config.BoundsSettings of this underlying
    max_px: np.ndarray | None = None  # per row: the highest believable option price
    spot_range: tuple = (0.0, math.inf)  # the believable spots (bounds.max_spot_x)
    skew_ns: int = 0  # bounds.max_clock_skew_s, ns (0: no event-clock limit)
    past_ns: int = 0  # bounds.max_past_s, ns (0: no limit)
    # (ts_ns, event clock when cast) of ticks beyond the clock skew
    jump_votes: list = field(default_factory=list)
    jump_window_ns: int = 0  # bounds.clock_jump_window_s, ns
    spot_votes: list = field(default_factory=list)  # unconfirmed spots far from the last
    tape: HedgeTape = field(default_factory=HedgeTape)  # dealers' hedges of classified prints
    # classified prints of the batch in hand not yet in the tape (row, customer contracts,
    # the quote in force), all inside the tape's current session: added in one pass before
    # the book adopts another refresh (Pipeline._drain_tapes); a print outside it goes to
    # the tape at once
    tape_rows: list = field(default_factory=list)
    tape_q: list = field(default_factory=list)
    tape_bid: list = field(default_factory=list)
    tape_ask: list = field(default_factory=list)
    # a columns batch's prints, as (rows, contracts, bids, asks) arrays, in order with the
    # ones above (which go into a chunk of their own before the next chunk is added)
    tape_chunks: list = field(default_factory=list)
    # prints drained while a background refresh is in flight: they came after it started,
    # so they are valued with its result, once adopted (Pipeline.finish_refresh)
    deferred: list = field(default_factory=list)
    # where its spot comes from now: "chain file" until an underlying tick is applied, then
    # that tick's source: "feed" (the feed's own quote of the underlying) or the word the
    # tick carries for a price made elsewhere ("implied_parity": monitor.sources.parity_spot)
    spot_source: str = "chain file"
    offset: int = 0  # of its first row in the pipeline's per-contract arrays
    frozen: "UnderlyingState | None" = None  # the last frozen_copy(reuse=True)

    def vote_clock_jump(self, ts: int) -> int | None:
        """A tick dated beyond the clock skew votes for a jump of the event clock (a session
        opening after a gap): once ``clock_jump_confirm`` votes lie within the skew of each
        other, the earliest of them (the votes are then cleared); else None. A vote expires
        once the event clock has moved ``clock_jump_window_s`` past where it stood when the
        vote was cast: a lone far-dated tick among a session's ordinary ones is not held
        until two more come, minutes later (event time: the same on every run)."""
        b = self.bounds
        clock, window = self.clock_ns, self.jump_window_ns
        votes = self.jump_votes = [v for v in self.jump_votes if clock - v[1] <= window]
        votes.append((ts, clock))
        near = [v for v, _ in votes if abs(v - ts) <= self.skew_ns]
        if len(near) >= b.clock_jump_confirm:
            votes.clear()
            return min(near)
        del votes[:-4 * b.clock_jump_confirm]
        return None

    def touch(self, rows) -> None:
        """Note rows whose quote or position changed (replayed onto a refresh in flight)."""
        if self.refreshing is not None:
            self.touched.append(np.asarray(rows, dtype=np.int64))

    def positions_for(self, rows: np.ndarray) -> np.ndarray:
        """Dealer contracts of ``rows`` under this underlying's position model."""
        b = self.book
        base = self.base_model if self.position_model == "flow" else self.position_model
        pos = dealer_positions(base, b.c.is_call[rows], b.oi[rows])
        if self.position_model == "flow" and self.flow_pos:
            pos = pos + np.array([self.flow_pos.get(int(r), 0.0) for r in rows])
        return pos

    def reweight(self, rows: np.ndarray) -> None:
        self.book.update_positions(rows, self.positions_for(rows))
        self.touch(rows)

    def frozen_copy(self, reuse: bool = False) -> "UnderlyingState":
        """A copy whose book and arrays will not change (the publish cycle reads it while
        ticks keep coming). ``reuse``: written into the arrays of the previous reused copy
        (the service's publish cycles: one at a time, each done with its copy before the
        next is taken), so the tick thread copies into memory already mapped instead of
        allocating and page-faulting in a new book per cycle (several times slower for a
        large book); the previous reused copy must no longer be read."""
        old = self.frozen if reuse else None
        same = old is not None and len(old.last_ts) == len(self.last_ts)
        book = self.book.copy(into=old.book if same else None)
        if same:
            np.copyto(old.last_ts, self.last_ts)
            np.copyto(old.last_trade_px, self.last_trade_px)
            np.copyto(old.last_print_ts, self.last_print_ts)
            last_ts, last_px, print_ts = old.last_ts, old.last_trade_px, old.last_print_ts
        else:
            last_ts, last_px = self.last_ts.copy(), self.last_trade_px.copy()
            print_ts = self.last_print_ts.copy()
        out = replace(self, book=book, last_ts=last_ts, flow_pos=dict(self.flow_pos),
                      last_trade_px=last_px, last_print_ts=print_ts, pending_quote={},
                      tape=self.tape.copy(),
                      refreshing=None, touched=[], spare=None, frozen=None, tape_rows=[],
                      tape_q=[], tape_bid=[], tape_ask=[], tape_chunks=[], deferred=[])
        if reuse:
            self.frozen = out
        return out

    def checkpoint(self) -> dict:
        """The mutable inputs of the book (with the universe's size), the result of its
        last whole-chain refresh (clock, spot, rates, forwards, smiles: what the contracts
        are evaluated under until the next one) and the flow model's running counts,
        enough to resume exactly: the restored book is the one the run had, not a new
        refresh (format :data:`CHECKPOINT_VERSION`; the service adds the source
        ``offsets`` it covers). No background refresh may be in flight."""
        b = self.book
        if self.refreshing is not None:
            raise RuntimeError(f"{self.root}: a background refresh is in flight")
        return {**self._refresh_result(), "version": CHECKPOINT_VERSION, "root": self.root, "n": len(b.c.strike),
                "spot": b.spot, "pending_spot": self.pending_spot,
                "spot_ts_ns": self.spot_ts_ns, "clock_ns": self.clock_ns, "bid": b.c.bid,
                "spot_source": self.spot_source,
                "ask": b.c.ask, "oi": b.oi, "last_ts": self.last_ts, "oi_date": self.oi_date,
                "flow_pos": {str(k): v for k, v in self.flow_pos.items()},
                "last_trade_px": {str(k): float(self.last_trade_px[k])
                                  for k in np.flatnonzero(self.last_trade_px == self.last_trade_px)},
                "last_print_ts": self.last_print_ts,
                "customer_puts_sold": self.customer_puts_sold, "trades": self.trades,
                "classified": self.classified, "unclassified": self.unclassified,
                "last_trade_ts_ns": self.last_trade_ts_ns, "tape": self.tape.checkpoint()}

    def _refresh_result(self) -> dict:
        b = self.book
        return {"book_now_ns": b.now_ns, "groups": b.G.ravel(), "group_rate": b.group_rate,
                "rates_estimated": b._rates_estimated,
                "fwd_from_parity": b.forward_from_parity, "df_from_parity": b.df_from_parity,
                "smile_fit_ns": b.smile_fit_ns,
                "smile_fits": [_plain(dataclasses.asdict(f)) for f in b.smile_fits],
                "last_reeval_ns": self.last_reeval_ns, "eval_spot": self.eval_spot}

    def _restore_refresh(self, cp: dict) -> None:
        """The book as the checkpointed run had it: its last refresh's result, every
        contract evaluated under it at its quote in force (IVs solved cold: the same
        roots to 1e-13)."""
        b = self.book
        b.spot = float(cp["spot"])
        b.now_ns = int(cp["book_now_ns"])
        b.G[:] = np.asarray(cp["groups"]).reshape(b.G.shape)
        b.group_rate = np.asarray(cp["group_rate"], dtype=np.float64).copy()
        b._rates_estimated = bool(cp["rates_estimated"])
        b.forward_from_parity[:] = cp["fwd_from_parity"]
        b.df_from_parity[:] = cp["df_from_parity"]
        b.smile_fit_ns = cp["smile_fit_ns"]
        b.smile_fits = [ExpiryFit(**{**f, "params": None if f["params"] is None
                                     else tuple(f["params"])}) for f in cp["smile_fits"]]
        self.last_reeval_ns, self.eval_spot = int(cp["last_reeval_ns"]), float(cp["eval_spot"])
        b.evaluate(warm=False)

    def restore(self, cp: dict) -> None:
        """Resume from :meth:`checkpoint` (versions 1-3, without the refresh's result:
        a refresh at the checkpoint's clock with smiles fitted anew)."""
        b = self.book
        if cp.get("version", 1) > CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {cp['version']} is newer than this "
                             f"monitor's ({CHECKPOINT_VERSION})")
        if cp["n"] != len(b.c.strike) or cp["root"] != self.root:
            raise ValueError("checkpoint does not match this chain")
        b.c.bid[:] = cp["bid"]
        b.c.ask[:] = cp["ask"]
        self.last_ts[:] = cp["last_ts"]
        self.spot_ts_ns, self.clock_ns = int(cp["spot_ts_ns"]), int(cp["clock_ns"])
        # (a checkpoint written before the label was kept: its spot came from the ticks)
        self.spot_source = str(cp.get("spot_source", FEED))
        self.pending_spot, self.oi_date = cp["pending_spot"], cp["oi_date"]
        self.flow_pos = {int(k): float(v) for k, v in cp.get("flow_pos", {}).items()}
        self.customer_puts_sold = float(cp.get("customer_puts_sold", 0.0))
        self.last_trade_px[:] = np.nan
        for k, v in cp.get("last_trade_px", {}).items():
            self.last_trade_px[int(k)] = float(v)
        self.last_print_ts[:] = cp.get("last_print_ts", -1)  # (version 2: none kept)
        self.trades = int(cp.get("trades", 0))
        self.classified = int(cp.get("classified", 0))
        self.unclassified = int(cp.get("unclassified", 0))
        self.last_trade_ts_ns = int(cp.get("last_trade_ts_ns", 0))
        self.tape = HedgeTape()
        self.tape.restore(cp.get("tape"), b)
        b.oi[:] = np.asarray(cp["oi"], dtype=np.float64)
        if self.position_model != "positions":
            self.reweight(np.arange(len(b.oi)))
        if "groups" in cp:
            self._restore_refresh(cp)
        else:  # the whole-chain computation on the checkpoint's inputs, smiles fitted
            b.refresh(now_ns=self.clock_ns, spot=float(cp["spot"]), refit=True)
            self.last_reeval_ns, self.eval_spot = self.clock_ns, b.spot
        self.dirty = True


@dataclass
class Refresh:
    """A whole-chain refresh of one underlying computed off the tick path.

    :meth:`Pipeline.start_refresh` (tick thread) copies the book and notes the clock and
    spot; :meth:`run` (any thread: numba only, no shared state) refreshes the copy;
    :meth:`Pipeline.finish_refresh` (tick thread) replays onto the copy the quotes and
    positions that changed meanwhile, one contract at a time, and the book adopts it. The
    result is what an inline refresh at the start instant followed by those updates gives.
    """

    state: UnderlyingState
    book: Book  # the copy being refreshed
    now_ns: int
    spot: float
    started_ns: int = 0  # wall clock, time.time_ns(): start and end of run()
    ended_ns: int = 0
    refit: bool = False  # fit the smiles whether due or not, IV solves cold
    ran: bool = False  # run() has finished (error: what it raised)
    error: BaseException | None = None
    outcome: str = ""  # "adopted" or "abandoned" once the tick thread is done with it
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run(self) -> None:
        """Refresh the copy, once: a second call (the tick thread needing the result, or
        the refresh thread starting late) waits for the first, or returns at once, and
        raises what the run raised."""
        with self._lock:
            if not self.ran:
                self.started_ns = time.time_ns()
                try:
                    # a refit (the final, forced refresh) also starts the IV solves cold,
                    # so its result does not depend on where earlier solves left them
                    self.book.refresh(now_ns=self.now_ns, spot=self.spot,
                                      warm=not self.refit, refit=self.refit)
                except BaseException as err:
                    self.error = err
                finally:
                    self.ran = True
                    self.ended_ns = time.time_ns()
            if self.error is not None:
                raise self.error


#: rejections of well-formed ticks that are kept for the dead-letter topic: poison (a
#: value no market produces), not the ordinary noise of a feed (stale, unknown symbol,
#: NaN or crossed quotes, which are only counted): :data:`monitor.core.reasons.DEAD_LETTER`
DEAD_LETTER_REASONS = DEAD_LETTER
#: at most this many are kept between two takes (the rest are counted only)
DEAD_LETTER_MAX = 10_000


@dataclass
class Counts:
    """Tick outcomes since start: ``ticks[(underlying, kind, outcome)]``,
    ``rejected[(underlying, reason)]``, a few samples per reason for the logs, and the
    rejected ticks of :data:`DEAD_LETTER_REASONS` (``(reason, context, tick)``) for the
    dead-letter topic; ``current`` is the tick being judged (set by the pipeline)."""

    ticks: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    samples: list = field(default_factory=list)
    dropped: list = field(default_factory=list)  # a few samples per :meth:`drop` outcome
    dead: list = field(default_factory=list)
    current: object = None
    _sampled: Counter = field(default_factory=Counter)

    def reject(self, und: str, kind: str, reason: str, context: str) -> None:
        self.ticks[(und, kind, "rejected")] += 1
        self.rejected[(und, reason)] += 1
        if self._sampled[reason] < SAMPLES_PER_REASON:
            self._sampled[reason] += 1
            self.samples.append({"underlying": und, "kind": kind, "reason": reason,
                                 "context": context[:200]})
        if (reason in DEAD_LETTER_REASONS and self.current is not None
                and len(self.dead) < DEAD_LETTER_MAX):
            self.dead.append((reason, context[:1000], self.current))

    def drop(self, und: str, kind: str, outcome: str, context: str, n: int = 1) -> None:
        """``n`` well-formed ticks not applied because the book already holds them or
        newer ones (``outcome``: ``duplicate`` or ``stale``): counted, and the first few of
        each outcome kept with their context for the log (not rejections: a redelivery
        is the at-least-once contract at work)."""
        self.ticks[(und, kind, outcome)] += n
        key = "drop:" + outcome
        if self._sampled[key] < SAMPLES_PER_REASON:
            self._sampled[key] += 1
            self.dropped.append({"underlying": und, "kind": kind, "outcome": outcome,
                                 "n": n, "context": context[:200]})

    def take_dropped(self) -> list[dict]:
        out, self.dropped = self.dropped, []
        return out

    def take_dead(self) -> list[tuple[str, str, object]]:
        out, self.dead = self.dead, []
        return out

    def take_samples(self) -> list[dict]:
        out, self.samples = self.samples, []
        return out


class Pipeline:
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
        self.last_ts = np.full(sum(sizes), -1, dtype=np.int64)
        self.last_px = np.full(sum(sizes), np.nan)  # per contract: last print (tick rule)
        self.print_ts = np.full(sum(sizes), -1, dtype=np.int64)  # and its ts_ns
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
        self.max_px = (np.concatenate([s.max_px for s in self.state_list]) if sizes
                       else np.zeros(0))
        # the columns path (scan_ticks): per underlying, its bounds and (synced around each
        # scan) its event clock, its tape's session and whether its trades re-weight the
        # book; per contract, the quote in force of the batch being scanned
        self.skew_a = np.array([s.skew_ns for s in self.state_list], dtype=np.int64)
        self.past_a = np.array([s.past_ns for s in self.state_list], dtype=np.int64)
        self.max_size = np.array([s.bounds.max_trade_contracts for s in self.state_list],
                                 dtype=np.float64)
        self.clock_a = np.zeros(len(sizes), dtype=np.int64)
        # without a tape every print is inside "its session" (synced per scan otherwise)
        self.tape_lo = np.full(len(sizes), np.iinfo(np.int64).min, dtype=np.int64)
        self.tape_hi = np.full(len(sizes), np.iinfo(np.int64).max, dtype=np.int64)
        self.py_trades = np.array([s.position_model == "flow" for s in self.state_list],
                                  dtype=np.bool_)
        # underlying ticks in the scan: per underlying, its last spot's ts_ns, the spot the
        # band is judged from (pending, else the last refresh's), the last refresh's spot,
        # the band (%), the event time from which a refresh is due, and the ticks the scan
        # applied (the band: its % and the believable spots, lowest and highest)
        self.spot_ts_a = np.zeros(len(sizes), dtype=np.int64)
        self.spot_ref_a = np.ones(len(sizes))
        self.eval_spot_a = np.ones(len(sizes))
        self.band_a = np.array([(s.bounds.spot_band_pct, *s.spot_range)
                                for s in self.state_list], dtype=np.float64).reshape(-1, 3)
        self.due_a = np.zeros(len(sizes), dtype=np.int64)
        self.spot_n_a = np.zeros(len(sizes), dtype=np.int64)
        self.pend_bid = np.zeros(len(self.last_ts))
        self.pend_ask = np.zeros(len(self.last_ts))
        self.pend_mark = np.zeros(len(self.last_ts), dtype=np.int64)
        self.serial = 1  # of the columns batch being scanned (marks its quotes in force)

    # -- the hot path -------------------------------------------------------------------
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

    def _one(self, t, pending: dict) -> int:
        """One tick object (1 if applied); good quotes wait in ``pending`` for _flush."""
        cls = type(t)
        if cls is OptionQuote:
            return self._quote(t, pending)
        if cls is UnderlyingTick:
            return self._underlying(t, pending)
        if cls is OpenInterest:
            return self._open_interest(t, pending)
        if cls is OptionTrade:
            return self._trade(t, pending)
        if cls is VolIndex:
            return self._vol_index(t)
        self.counts.reject(OTHER, "unknown", "malformed", repr(t)[:100])
        return 0

    def _quote(self, t: OptionQuote, pending: dict) -> int:
        counts = self.counts
        hit = self._lookup(t.symbol)
        if hit is None:
            counts.reject(self._und_of_symbol(t.symbol), "quote", "unknown_symbol", t.symbol)
            return 0
        s, row = hit
        bid, ask = t.bid, t.ask
        if not (math.isfinite(bid) and math.isfinite(ask)):
            counts.reject(s.root, "quote", "nan", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if bid < 0.0 or ask < 0.0:
            counts.reject(s.root, "quote", "negative_price", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if bid > ask:
            counts.reject(s.root, "quote", "crossed", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if ask > s.max_px[row]:
            counts.reject(s.root, "quote", "absurd_price", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if not self._ts_ok(s, t.ts_ns, "quote", t.symbol):
            return 0
        if t.ts_ns < s.last_ts[row]:
            counts.ticks[(s.root, "quote", "stale")] += 1
            return 0
        s.last_ts[row] = t.ts_ns
        if t.ts_ns > s.clock_ns:
            s.clock_ns = t.ts_ns
        p = _pending_of(pending, s)
        p[1].append(row)
        p[2].append(bid)
        p[3].append(ask)
        s.pending_quote[row] = (bid, ask)
        return 1

    def _apply_error(self, what, err: Exception) -> None:
        """A tick (or a batch, or an underlying's pending quotes) whose application raised:
        counted as ``apply_error`` with the exception, the rest of the batch goes on.
        (Each check above exists so that this never happens; this is the backstop.)"""
        self.counts.reject(OTHER, type(what).__name__, "apply_error",
                           f"{type(err).__name__}: {err} in {what!r}"[:200])

    def _drain_tapes(self, root: str | None = None) -> None:
        """Add the recorded prints of ``root`` (None: of every underlying) to their tapes,
        each at the quote in force at the print, under the refresh in force: called
        before a refresh starts and at the end of a batch, so every print meets the
        forwards, clock and spot in force when it arrived, as one call per print would (at
        a tenth of the cost). While a background refresh is in flight the prints came
        after it started: they wait for its result (``deferred``)."""
        for r in ([root] if root is not None else list(self._taped)):
            s = self._taped.pop(r, None)
            if s is None:
                continue
            _tape_chunk(s)
            if not s.tape_chunks:
                continue
            prints = _joined(s.tape_chunks)
            s.tape_chunks.clear()
            if s.refreshing is not None:
                s.deferred.append(prints)
            else:
                s.tape.add_many(s.book, *prints)

    def _flush(self, pending: dict, root: str) -> None:
        """Apply ``root``'s waiting quotes, in arrival order (each print recorded the quote
        in force at it, so the prints may wait for the end of the batch), then re-weight
        the rows whose open interest changed (positions and Greeks are independent
        factors of every exposure: the order of the two updates does not change a sum),
        in one kernel call instead of one per tick (a feed's session opens with an open
        interest for every contract)."""
        p = pending.get(root)
        if p is None or not (p[1] or p[4] or p[5]):
            return
        s, rows, bids, asks, chunks, oi_rows = p
        if oi_rows and not (rows or chunks):
            _reweight_oi(s, oi_rows)
            return
        if chunks:  # a columns batch's quotes, maybe with per-tick ones between them
            _chunk(p)
            idx, bid, ask = _joined(chunks)
            chunks.clear()
        else:
            idx, bid, ask = np.array(rows, dtype=np.int64), np.array(bids), np.array(asks)
            rows.clear()
            bids.clear()
            asks.clear()
        s.pending_quote.clear()
        s.book.update_quotes(idx, bid, ask)
        s.touch(idx)
        self.counts.ticks[(root, "quote", "applied")] += len(idx)
        s.dirty = s.stale_eval = True
        if oi_rows:
            _reweight_oi(s, oi_rows)

    def _columns(self, tc: TickColumns, pending: dict) -> int:
        """A batch as columns: its quotes and trades screened, classified and recorded in
        one kernel pass (:func:`monitor.core.quotes.scan_ticks`), exactly as the per-tick
        path would, and its plain underlying ticks applied (:meth:`_spots`). The scan stops
        at each tick that path must take (another kind or outcome, a vote for a clock
        jump, a trade that re-weights the book or opens a tape session): what
        came before it is recorded (quotes waiting in ``pending``, prints waiting for
        their tape, as the per-tick path leaves them), the tick goes to :meth:`_one`, and
        the scan goes on after it."""
        n = len(tc)
        if n == 0:
            return 0
        g = np.empty(n, dtype=np.int64)
        lookup_symbols(tc.symbol, tc.kind, self.index.table, g)
        # the quote in force at each trade where no quote of this batch replaced it: the
        # book's (a book changes during the batch only by the batch's own quotes, which
        # the scan marks as in force); the scan writes the one it classified against here
        book_bid = np.full(n, np.nan)
        book_ask = np.full(n, np.nan)
        tk = np.flatnonzero((tc.kind == TRADE) & (g >= 0))
        if len(tk):
            for s_id, m in self._by_state(g[tk]):
                b = self.state_list[s_id].book
                rows = self.g_row[g[tk[m]]]
                book_bid[tk[m]] = b.c.bid[rows]
                book_ask[tk[m]] = b.c.ask[rows]
        spot_of, spot_px = self._spots(tc)
        self._moved_pending()
        codes = np.zeros(n, dtype=np.int8)
        side = np.zeros(n, dtype=np.int8)
        applied = start = 0
        try:
            while True:
                self._sync_in()
                stop = scan_ticks(tc.kind, tc.ts_ns, tc.x0, tc.x1, g, start, self.serial,
                                  self.ts_limit, self.last_ts, self.max_px, self.g_state,
                                  self.clock_a, self.skew_a, self.past_a, self.max_size,
                                  self.tape_lo, self.tape_hi, self.py_trades, self.pend_bid,
                                  self.pend_ask, self.pend_mark, book_bid, book_ask,
                                  self.last_px, self.print_ts, codes, side, spot_of, spot_px,
                                  self.spot_ts_a, self.spot_ref_a, self.eval_spot_a,
                                  self.band_a, self.reeval_frac, self.due_a,
                                  self.spot_n_a)
                applied += self._sync_out(tc, spot_of, start, stop)
                applied += self._record(tc, g, codes, side, start, stop, pending,
                                        (book_bid, book_ask))
                if stop >= n:
                    return applied
                t = tc.tick(stop)
                self.counts.current = t
                try:
                    applied += self._one(t, pending)
                except Exception as err:  # noqa: BLE001 - as the per-tick loop
                    self._apply_error(t, err)
                self._moved_pending()
                start = stop + 1
        finally:
            self.serial += 1  # this batch's quotes in force are no longer marked

    def _moved_pending(self) -> None:
        """Quotes the per-tick path left in force (``pending_quote``) as the scan's quotes
        in force, so a later trade of the batch meets them."""
        for st in self.state_list:
            if st.pending_quote:
                for row, (bid, ask) in st.pending_quote.items():
                    k = st.offset + row
                    self.pend_bid[k], self.pend_ask[k] = bid, ask
                    self.pend_mark[k] = self.serial
                st.pending_quote.clear()

    def _sync_in(self) -> None:
        """The per-underlying inputs of :func:`scan_ticks` that change from the states:
        event clocks, tape sessions and what an underlying tick is judged by."""
        for u, st in enumerate(self.state_list):
            self.clock_a[u] = st.clock_ns
            if self.tape:
                self.tape_lo[u], self.tape_hi[u] = st.tape.from_ns, st.tape.until_ns
            self.spot_ts_a[u] = st.spot_ts_ns
            self.spot_ref_a[u] = st.pending_spot or st.eval_spot
            self.eval_spot_a[u] = st.eval_spot
            self.due_a[u] = st.last_reeval_ns + self.reeval_ns
        self.spot_n_a[:] = 0

    def _sync_out(self, tc: TickColumns, spot_of: np.ndarray, start: int, stop: int) -> int:
        """The states after a scan of rows ``start``..``stop``: event clocks, and what the
        underlying ticks the scan applied changed, as :meth:`_underlying` changes it
        (every underlying row it passed it applied); returns how many it applied."""
        for u, st in enumerate(self.state_list):
            st.clock_ns = int(self.clock_a[u])
        applied = int(self.spot_n_a.sum())
        if applied:
            seg = spot_of[start:stop]
            for u in np.flatnonzero(self.spot_n_a).tolist():
                st = self.state_list[u]
                st.spot_votes.clear()  # (an accepted spot inside the band clears them)
                st.spot_ts_ns = int(self.spot_ts_a[u])
                last = start + int(np.flatnonzero(seg == u)[-1])
                st.spot_source = tc.tick(last).source or FEED
                st.pending_spot = float(self.spot_ref_a[u])
                self.counts.ticks[(st.root, "underlying", "applied")] += int(
                    self.spot_n_a[u])
        return applied

    def _spots(self, tc: TickColumns) -> tuple[np.ndarray, np.ndarray]:
        """Per row of a columns batch: the underlying (state id) of an underlying tick,
        else -1, and the price :meth:`_underlying` takes from it (last, else the
        midpoint), for the scan to apply the plain ones."""
        n = len(tc)
        spot_of = np.full(n, -1, dtype=np.int64)
        spot_px = np.zeros(n)
        for k in np.flatnonzero(tc.kind > TRADE).tolist():
            t = tc.tick(k)
            if type(t) is not UnderlyingTick:
                continue
            s = self._state_of_root(t.root)
            if s is not None:
                spot_of[k] = self.state_ids[s.root]
                spot_px[k] = spot_price(t)
        return spot_of, spot_px

    def _by_state(self, g: np.ndarray):
        """``(state id, positions)`` for each underlying among global contract indices
        ``g`` (positions in arrival order; a slice when they are all of one)."""
        sid = self.g_state[g]
        if len(self.state_list) == 1 or sid[0] == sid[-1] and (sid == sid[0]).all():
            yield int(sid[0]), slice(None)
            return
        # one stable sort instead of a comparison of every position per underlying
        order = np.argsort(sid, kind="stable")
        ranked = sid[order]
        cuts = (np.flatnonzero(ranked[1:] != ranked[:-1]) + 1).tolist()
        for a, b in zip([0, *cuts], [*cuts, len(sid)]):
            yield int(ranked[a]), order[a:b]

    def _record(self, tc: TickColumns, g, codes, side, a: int, b: int, pending,
                in_force: tuple) -> int:
        """Rows ``[a, b)`` of a scanned columns batch, recorded as the per-tick path
        records them: accepted quotes wait in ``pending`` (in order with the per-tick
        ones), classified prints wait for their tape, flow counts are updated, rejections
        counted. ``in_force``: (bids, asks) per row, the quote in force at each trade."""
        if b <= a:
            return 0
        kind, seg = tc.kind[a:b], codes[a:b]
        ok = seg == APPLY
        tk = a + np.flatnonzero(ok & (kind == TRADE))
        qk = a + np.flatnonzero(ok & (kind == QUOTE))
        if len(tk):
            self._record_trades(tc, g, side, tk, in_force)
        if len(qk):
            # gathered once for every underlying, then handed out as slices of one order
            gq = g[qk]
            rows, bid, ask = self.g_row[gq], tc.x0[qk], tc.x1[qk]
            for s_id, m in self._by_state(gq):
                p = _pending_of(pending, self.state_list[s_id])
                _chunk(p)
                p[4].append((rows[m], bid[m], ask[m]))
        if not ok.all():
            self._count_rejected(tc, g, codes, a + np.flatnonzero(~ok))
        return len(tk) + len(qk)

    def _record_trades(self, tc: TickColumns, g, side, tk: np.ndarray, in_force) -> None:
        """Accepted prints ``tk`` of a columns batch: counts per underlying (one pass over
        all of them, not one per underlying), flow positions, puts sold, tape chunks."""
        n_states = len(self.state_list)
        per, hits, last_ts, puts_bought = trade_sums(
            tk, g, self.g_state, self.g_is_call, side, tc.ts_ns, tc.x1, n_states)
        for u in np.flatnonzero(per).tolist():
            s = self.state_list[u]
            n, n_hit = int(per[u]), int(hits[u])
            s.trades += n
            s.last_trade_ts_ns = max(s.last_trade_ts_ns, int(last_ts[u]))
            s.dirty = True
            self.counts.ticks[(s.root, "trade", "applied")] += n
            s.unclassified += n - n_hit
            s.classified += n_hit
            s.customer_puts_sold -= float(puts_bought[u])
        th = tk[side[tk] != 0]  # the classified prints
        if not len(th):
            return
        gh = g[th]
        sid_h = self.g_state[gh]
        q = side[th] * tc.x1[th]  # customer contracts (+ bought, - sold)
        rows = self.g_row[gh]
        if self.tape:  # the scan kept every one inside the tape's session
            bid, ask = in_force  # (the scan wrote the quote in force at each trade)
            for u, m in self._by_state(gh):
                s = self.state_list[u]
                self._taped[s.root] = s
                _tape_chunk(s)
                s.tape_chunks.append((rows[m], q[m], bid[th][m], ask[th][m]))
        flows = [s.flow_pos for s in self.state_list]
        for u, r, d in zip(sid_h.tolist(), rows.tolist(), (-q).tolist()):
            flow = flows[u]
            flow[r] = flow.get(r, 0.0) + d

    def _count_rejected(self, tc: TickColumns, g, codes, rk: np.ndarray) -> None:
        """Rejected rows of a columns batch, counted as the per-tick path counts them
        (stale quotes by underlying, stale and duplicate trades as :meth:`Counts.drop`;
        the rest one by one, with context)."""
        code, kind = codes[rk], tc.kind[rk]
        self._count_stale(g[rk[(code == STALE) & (kind == QUOTE)]])
        for c, outcome in ((STALE, "stale"), (DUPLICATE, "duplicate")):
            dk = rk[(code == c) & (kind == TRADE)]
            for s_id, m in (self._by_state(g[dk]) if len(dk) else ()):
                first = dk[m][0]
                self.counts.drop(self.state_list[s_id].root, "trade", outcome,
                                 f"{tc.name(first)} {tc.x0[first]}x{tc.x1[first]} "
                                 f"ts_ns={tc.ts_ns[first]}", len(dk[m]))
        for k in rk[(code != STALE) & (code != DUPLICATE)].tolist():
            t = tc.tick(k)
            self.counts.current = t
            name = t.symbol
            is_quote = tc.kind[k] == QUOTE
            what = "quote" if is_quote else "trade"
            code = int(codes[k])
            if g[k] < 0:
                self.counts.reject(self._und_of_symbol(name), what, "unknown_symbol", name)
                continue
            s = self.state_list[int(self.g_state[g[k]])]
            reason = REASONS[code]
            if reason in ("future_ts", "past_ts"):
                context = f"{name} ts_ns={t.ts_ns}"
            elif is_quote:
                context = f"{name} bid={t.bid} ask={t.ask}"
            else:
                context = f"{name} {t.price}x{t.size}"
            self.counts.reject(s.root, what, reason, context)
        self.counts.current = None

    def _count_stale(self, g: np.ndarray) -> None:
        """Stale quotes (global contract indices ``g``) counted by underlying, vectorized:
        a redelivered batch after a restart is all stale."""
        if len(g):
            per_state = np.bincount(self.g_state[g], minlength=len(self.state_list))
            for s_id in np.flatnonzero(per_state):
                self.counts.ticks[(self.state_list[s_id].root, "quote", "stale")] += int(
                    per_state[s_id])

    def _underlying(self, t: UnderlyingTick, pending: dict) -> int:
        s = self._state_of_root(t.root)
        if s is None:
            self.counts.reject(OTHER, "underlying", "unknown_symbol", t.root)
            return 0
        price = spot_price(t)
        if not math.isfinite(price):
            self.counts.reject(s.root, "underlying", "nan", f"{t.root} last={t.last}")
            return 0
        if price <= 0.0:
            self.counts.reject(s.root, "underlying", "negative_price", f"{t.root} {price}")
            return 0
        lo, hi = s.spot_range
        if not lo <= price <= hi:  # never believed, however often repeated
            self.counts.reject(s.root, "underlying", "absurd_price",
                               f"{t.root} {price} (believable {lo:g}..{hi:g})")
            return 0
        if not self._ts_ok(s, t.ts_ns, "underlying", t.root):
            return 0
        if t.ts_ns < s.spot_ts_ns:
            self.counts.ticks[(s.root, "underlying", "stale")] += 1
            return 0
        last = s.pending_spot or s.eval_spot
        if abs(price / last - 1.0) * 100.0 > s.bounds.spot_band_pct:
            # one absurd print must not move the book; a real gap is confirmed by the ticks
            # after it agreeing with each other
            votes = s.spot_votes
            if votes and abs(price / votes[-1] - 1.0) * 100.0 > s.bounds.spot_band_pct:
                votes.clear()
            votes.append(price)
            if len(votes) < s.bounds.spot_confirm_ticks:
                self.counts.reject(s.root, "underlying", "spot_unconfirmed",
                                   f"{t.root} {price} (last {last})")
                return 0
        s.spot_votes.clear()
        s.spot_ts_ns = t.ts_ns
        s.spot_source = t.source or FEED
        s.clock_ns = max(s.clock_ns, t.ts_ns)
        s.pending_spot = price
        self.counts.ticks[(s.root, "underlying", "applied")] += 1
        if (abs(price / s.eval_spot - 1.0) >= self.reeval_frac
                or s.clock_ns - s.last_reeval_ns >= self.reeval_ns):
            # the refresh starts from the book as it is now: the quotes before this tick
            # go in first (otherwise they wait for the end of the batch, as the book's
            # spot moves only with a refresh)
            self._flush(pending, s.root)
            self._refresh_due(s)
        return 1

    def _open_interest(self, t: OpenInterest, pending: dict) -> int:
        hit = self._lookup(t.symbol)
        if hit is None:
            self.counts.reject(self._und_of_symbol(t.symbol), "oi", "unknown_symbol", t.symbol)
            return 0
        s, row = hit
        if not math.isfinite(t.oi):
            self.counts.reject(s.root, "oi", "nan", f"{t.symbol} oi={t.oi}")
            return 0
        if t.oi < 0:
            self.counts.reject(s.root, "oi", "negative_price", f"{t.symbol} oi={t.oi}")
            return 0
        if t.oi > s.bounds.max_oi_contracts:
            self.counts.reject(s.root, "oi", "absurd_oi", f"{t.symbol} oi={t.oi}")
            return 0
        s.book.oi[row] = t.oi
        if s.position_model != "positions":  # user positions do not follow open interest
            _pending_of(pending, s)[5].append(row)  # re-weighted at the next _flush
        s.oi_date = max(s.oi_date or "", t.date)
        s.dirty = s.stale_eval = True
        self.counts.ticks[(s.root, "oi", "applied")] += 1
        return 1

    def _trade(self, t: OptionTrade, pending: dict) -> int:
        hit = self._lookup(t.symbol)
        if hit is None:
            self.counts.reject(self._und_of_symbol(t.symbol), "trade", "unknown_symbol",
                               t.symbol)
            return 0
        s, row = hit
        if not (math.isfinite(t.price) and math.isfinite(t.size)):
            self.counts.reject(s.root, "trade", "nan", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if t.price < 0 or t.size <= 0:
            self.counts.reject(s.root, "trade", "negative_price", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if t.size > s.bounds.max_trade_contracts:
            self.counts.reject(s.root, "trade", "absurd_size", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if t.price > s.max_px[row]:
            self.counts.reject(s.root, "trade", "absurd_price", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if not self._ts_ok(s, t.ts_ns, "trade", t.symbol):
            return 0
        last_print = s.last_print_ts[row]
        if t.ts_ns <= last_print:  # printed before, or older than the last print
            self.counts.drop(s.root, "trade", "duplicate" if t.ts_ns == last_print
                             else "stale", f"{t.symbol} {t.price}x{t.size} ts_ns={t.ts_ns}")
            return 0
        s.last_print_ts[row] = t.ts_ns
        s.trades += 1
        s.last_trade_ts_ns = max(s.last_trade_ts_ns, t.ts_ns)
        q = s.pending_quote.get(row)
        if q is None and self.pend_mark[s.offset + row] == self.serial:  # a columns batch's
            q = (self.pend_bid[s.offset + row], self.pend_ask[s.offset + row])
        bid, ask = q if q is not None else (s.book.c.bid[row], s.book.c.ask[row])
        last = s.last_trade_px[row]
        side = classify_print(t.price, bid, ask, last if last == last else None)
        s.last_trade_px[row] = t.price
        s.dirty = True  # the flow counts are part of the published state and checkpoint
        self.counts.ticks[(s.root, "trade", "applied")] += 1
        if side == 0:
            s.unclassified += 1
            return 1
        s.classified += 1
        if self.tape:  # (two appends: a tuple per print costs more to unpack later)
            tape = s.tape
            if tape.from_ns <= t.ts_ns < tape.until_ns:  # the session in hand: batched
                if not s.tape_rows:
                    self._taped[s.root] = s
                s.tape_rows.append(row)  # (no chunk yet: a columns batch makes it)
                s.tape_q.append(side * t.size)
                s.tape_bid.append(bid)
                s.tape_ask.append(ask)
            else:  # a new session (or the first print, or a stale one): at once, in order
                self._drain_tapes(s.root)
                if s.refreshing is not None:  # (once a session: wait for it)
                    self._complete(s.refreshing)
                tape.add(s.book, row, side * t.size, t.ts_ns, bid, ask)
        dealer = -side * t.size
        s.flow_pos[row] = s.flow_pos.get(row, 0.0) + dealer
        if not s.book.c.is_call[row]:
            s.customer_puts_sold += dealer  # dealer buys what customers sell
        if s.position_model == "flow":
            self._flush(pending, s.root)
            s.reweight(np.array([row]))
            s.dirty = s.stale_eval = True
        return 1

    def _vol_index(self, t: VolIndex) -> int:
        und = underlying_of_root(t.symbol)
        if not math.isfinite(t.value):
            self.counts.reject(OTHER, "vol_index", "nan", f"{t.symbol}={t.value}")
            return 0
        if t.value <= 0:
            self.counts.reject(OTHER, "vol_index", "negative_price", f"{t.symbol}={t.value}")
            return 0
        if t.value > self.max_vol_index:
            self.counts.reject(OTHER, "vol_index", "absurd_price", f"{t.symbol}={t.value}")
            return 0
        if t.ts_ns > self.ts_limit:
            self.counts.reject(OTHER, "vol_index", "future_ts", f"{t.symbol} ts_ns={t.ts_ns}")
            return 0
        last = self.vol_index.get(t.symbol)
        if last is not None and t.ts_ns < last[0]:
            self.counts.ticks[(OTHER, "vol_index", "stale")] += 1
            return 0
        self.vol_index[t.symbol] = (t.ts_ns, t.value)
        self.counts.ticks[(und if und in self.states else OTHER, "vol_index", "applied")] += 1
        return 1

    def _ts_ok(self, s: UnderlyingState, ts: int, kind: str, what: str) -> bool:
        """``ts`` within the wall-clock limit and within the bounds' skew of ``s``'s event
        clock; a tick beyond the skew (but not beyond the wall clock) votes for a jump of
        the clock (a session opening after a gap), believed once ``clock_jump_confirm``
        such ticks lie within the skew of each other. Rejections counted by reason."""
        if ts > self.ts_limit:
            self.counts.reject(s.root, kind, "future_ts", f"{what} ts_ns={ts}")
            return False
        # confirmed, the clock moves with this tick
        if s.skew_ns and ts > s.clock_ns + s.skew_ns and s.vote_clock_jump(ts) is None:
            self.counts.reject(s.root, kind, "future_ts",
                               f"{what} ts_ns={ts}, {(ts - s.clock_ns) / 1e9:,.0f} s after "
                               f"the event clock")
            return False
        if s.past_ns and ts < s.clock_ns - s.past_ns:
            self.counts.reject(s.root, kind, "past_ts",
                               f"{what} ts_ns={ts}, {(s.clock_ns - ts) / 1e9:,.0f} s before "
                               f"the event clock")
            return False
        return True

    def _state_of_root(self, root: str) -> UnderlyingState | None:
        """The state an underlying tick's root belongs to (``SPXW`` is SPX's)."""
        return self.states.get(root) or self.states.get(underlying_of_root(root))

    def _lookup(self, symbol: str) -> tuple[UnderlyingState, int] | None:
        """(state, book row) of an OCC symbol, compact or 21-character padded."""
        return self.symbols.get(symbol) or self.symbols.get(symbol.replace(" ", ""))

    def _und_of_symbol(self, symbol: str) -> str:
        root = underlying_of_root(symbol.replace(" ", "")[:-15])
        return root if root in self.states else OTHER

    # -- refreshes ----------------------------------------------------------------------
    def reevaluate(self, s: UnderlyingState, refit: bool = False) -> None:
        """Whole-chain refresh, inline, at the pending spot and the underlying's event clock
        (IVs warm-started; ``refit``: the smiles fitted anew)."""
        if s.refreshing is not None:
            raise RuntimeError(f"{s.root}: a background refresh is in flight")
        job = self._begin(s, copy=False)
        job.refit = refit
        job.run()
        s.dirty = True

    def _begin(self, s: UnderlyingState, copy: bool) -> Refresh:
        if s.root in self._taped:  # the prints before it, under the refresh they met
            self._drain_tapes(s.root)
        book = s.book
        if copy:
            book, s.spare = s.book.copy(into=s.spare), None
        job = Refresh(s, book, s.clock_ns, s.pending_spot or s.book.spot)
        s.pending_spot = None
        s.stale_eval = False
        s.last_reeval_ns, s.eval_spot = s.clock_ns, job.spot
        return job

    def _refresh_due(self, s: UnderlyingState) -> None:
        """A refresh falls due (an underlying tick, at an event time): inline, or in the
        background; one still in flight is finished first (waited for, or run here), so
        the new one starts from its result, as inline refreshes would."""
        if not self.background_refresh:
            self.reevaluate(s)
            return
        if s.refreshing is not None:
            self._complete(s.refreshing)
        self.start_refresh(s)

    def start_refresh(self, s: UnderlyingState) -> Refresh:
        """Start a background refresh of ``s`` (tick thread): copy the book (about a
        millisecond for a full SPX chain); the job waits in :meth:`take_refreshes`."""
        job = self._begin(s, copy=True)
        s.refreshing, s.touched = job, []
        self.started.append(job)
        return job

    def take_refreshes(self) -> list[Refresh]:
        """The refreshes started since the last call: run each (:meth:`Refresh.run`, in
        any thread), then :meth:`finish_refresh` it on the tick thread."""
        out, self.started = self.started, []
        return out

    def _complete(self, job: Refresh) -> None:
        """Tick thread: the refresh in flight run to its end (here, if no thread has
        started it; else waited for) and adopted (or abandoned, if it raised: the thread
        that ran it reports the error)."""
        try:
            job.run()
        except Exception:  # noqa: BLE001
            self.abandon_refresh(job)
            return
        self.finish_refresh(job)

    def complete_refreshes(self) -> None:
        """Tick thread: every refresh in flight finished and adopted (before a checkpoint,
        which holds the book a refresh left, and the prints valued with it)."""
        for s in self.state_list:
            if s.refreshing is not None:
                self._complete(s.refreshing)

    def finish_refresh(self, job: Refresh) -> None:
        """Tick thread: replay onto the refreshed copy what changed since it was taken
        (open interest, positions, quotes of the touched rows), adopt it, and add the
        prints that came meanwhile to the tape with it. A job already adopted (the tick
        thread needed it first) is left alone."""
        s = job.state
        if job.outcome == "adopted":
            return
        if s.refreshing is not job:
            raise RuntimeError(f"{s.root}: not the refresh in flight")
        if s.touched:
            rows = np.unique(np.concatenate(s.touched))
            live, new = s.book, job.book
            new.oi[rows] = live.oi[rows]
            new.update_positions(rows, live.c.pos[rows])
            new.update_quotes(rows, live.c.bid[rows], live.c.ask[rows])
        s.spare = s.book.adopt(job.book)
        s.refreshing, s.touched, job.outcome = None, [], "adopted"
        self._add_deferred(s)
        s.dirty = True

    def abandon_refresh(self, job: Refresh) -> None:
        """Tick thread: a refresh that failed; the next underlying tick starts another."""
        s = job.state
        if s.refreshing is job:
            s.refreshing, s.touched, job.outcome = None, [], "abandoned"
            s.pending_spot = s.pending_spot or job.spot
            s.stale_eval = True
            s.last_reeval_ns = -(1 << 62)
            self._add_deferred(s)

    @staticmethod
    def _add_deferred(s: UnderlyingState) -> None:
        for prints in s.deferred:
            s.tape.add_many(s.book, *prints)
        s.deferred.clear()

    def consistent(self, s: UnderlyingState) -> bool:
        """The book is the whole state of its inputs: no refresh for a spot move is in
        flight or due. Between such a move and its refresh, the incremental updates price
        quotes at the new spot with the old forwards and clock, and the IVs of short-dated
        contracts near the money are off by vol points (the ATM IV the regimes read)."""
        if s.refreshing is not None:
            return False
        return s.pending_spot is None or abs(s.pending_spot / s.book.spot - 1.0) < self.reeval_frac

    def final_refresh(self) -> None:
        """Every underlying refreshed now, inline, smiles refitted and IVs solved cold, so
        the state is the whole-chain computation on the final inputs (a run's end:
        background refreshes in flight must have finished). Refreshes otherwise start
        only at ticks (:meth:`_underlying`), at event times, never on a timer: the book
        each print is valued under, and so the tape, is a function of the ticks alone."""
        self.complete_refreshes()
        for s in self.states.values():
            self.reevaluate(s, refit=True)


def _plain(d: dict) -> dict:
    """A smile fit's fields as msgpack takes them (numpy scalars as Python numbers)."""
    def one(v):
        if isinstance(v, (tuple, list)):
            return [one(x) for x in v]
        return v.item() if isinstance(v, np.generic) else v
    return {k: one(v) for k, v in d.items()}


def _tape_chunk(s: UnderlyingState) -> None:
    """Move a state's per-tick prints into its tape chunks (keeping arrival order)."""
    if s.tape_rows:
        s.tape_chunks.append((np.array(s.tape_rows, dtype=np.int64), np.array(s.tape_q),
                              np.array(s.tape_bid), np.array(s.tape_ask)))
        s.tape_rows, s.tape_q, s.tape_bid, s.tape_ask = [], [], [], []


def _pending_of(pending: dict, s: UnderlyingState) -> list:
    """``s``'s entry of a batch's waiting quotes: ``[state, rows, bids, asks, chunks,
    oi_rows]`` (per-tick quotes in the lists, a columns batch's as array chunks, the rows
    whose new open interest waits to re-weight their positions; :meth:`_flush`)."""
    p = pending.get(s.root)
    if p is None:
        p = pending[s.root] = [s, [], [], [], [], []]
    return p


def _chunk(p: list) -> None:
    """Move a pending entry's per-tick quotes into its chunks (keeping arrival order)."""
    s, rows, bids, asks, chunks, _ = p
    if rows:
        chunks.append((np.array(rows, dtype=np.int64), np.array(bids), np.array(asks)))
        rows.clear()
        bids.clear()
        asks.clear()


def _reweight_oi(s: UnderlyingState, oi_rows: list) -> None:
    """Re-weight the rows whose open interest changed (each once), and forget them."""
    s.reweight(np.unique(np.array(oi_rows, dtype=np.int64)))
    oi_rows.clear()


def _joined(chunks: list) -> tuple:
    """The columns of ``chunks`` (tuples of arrays, in arrival order) joined; a single
    chunk as it is (the usual case: no copy; its arrays are the batch's own gathers)."""
    if len(chunks) == 1:
        return chunks[0]
    return tuple(np.concatenate(col) for col in zip(*chunks))


def spot_price(t: UnderlyingTick) -> float:
    """The spot an underlying tick gives: its last trade, else its bid/ask midpoint."""
    return t.last if math.isfinite(t.last) and t.last > 0 else 0.5 * (t.bid + t.ask)


def classify_print(price: float, bid: float, ask: float, last_price: float | None) -> int:
    """+1 customer buy, -1 customer sell, 0 unclassified (REFERENCE.md, ``flow`` model):
    at/above the ask buy, at/below the bid sell, inside by the midpoint, at the midpoint
    by the tick rule against the contract's previous print (None: no print yet). The one
    rule is the scan's kernel, :func:`monitor.core.quotes.classify`."""
    return int(classify(float(price), float(bid), float(ask),
                        math.nan if last_price is None else float(last_price)))
