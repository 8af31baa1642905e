"""Whole-chain refreshes: inline, or on a copy of the book off the tick path
(:class:`Refresh`), adopted by the tick thread with what changed meanwhile."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from monitor.core.book import Book
from monitor.ingest.state import UnderlyingState


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


class Refreshes:
    """The refresh protocol of :class:`monitor.ingest.Pipeline` (a part of it)."""

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
