"""One underlying's state as the ingest sees it: its book, event clock, pending spot,
tape, flow counts and the checkpoint of all of it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, replace

import numpy as np

from monitor.core.book import Book
from monitor.core.positions import dealer_positions
from monitor.core.smile_fit import ExpiryFit
from monitor.tape import HedgeTape

OTHER = "other"  # label for ticks whose underlying the monitor does not track
FEED = "feed"  # spot_source of a spot from the feed's own underlying tick
CHECKPOINT_VERSION = 4  # 3: each contract's last print ts_ns; 4: the last refresh's result


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
    refreshing: object = None  # the background refresh in flight (ingest.refresh.Refresh)
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


def _plain(d: dict) -> dict:
    """A smile fit's fields as msgpack takes them (numpy scalars as Python numbers)."""
    def one(v):
        if isinstance(v, (tuple, list)):
            return [one(x) for x in v]
        return v.item() if isinstance(v, np.generic) else v
    return {k: one(v) for k, v in d.items()}
