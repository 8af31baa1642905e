"""The live service: wires a source -> pipeline (numba core) -> regimes -> Redis, metrics.

Tasks on one asyncio loop:

* ingest: ``async for batch in source.batches()``; decoding errors are counted; the ticks
  are applied on the single core thread (the pipeline's state has one writer, and this
  keeps the loop free for Kafka heartbeats and HTTP).
* refreshes: a whole-chain re-evaluation that falls due at an underlying tick (spot
  moved ``reeval_bps``, or ``reeval_ms`` of event time since the last) runs on a copy of
  the book in a third ("refresh") thread, with all cores but one; the core thread keeps
  applying ticks meanwhile and then replays them onto the refreshed copy and adopts it
  (``monitor.ingest.Refresh``): a tick waits for a whole-chain pass only when the next
  one falls due, or a publish cycle freezes the book, before it is done.
* timers (every ``tick_s``): every ``publish_ms`` a publish
  cycle: a frozen copy of each changed book is taken on the core thread (about 1 ms), its
  state, levels, scenarios and regime events are computed on a second ("levels") thread
  beside tick processing, then written to Redis with a checkpoint of the book's inputs
  and of its last refresh's result,
  handed to every sink (:func:`deliver`: Redis with the checkpoint, Prometheus, desk
  chat), then -- only if every durable sink stored its checkpoints -- the source offsets
  of everything applied before the copy was taken are committed (at-least-once; a
  restart restores the checkpoint and re-reads the uncommitted ticks, which re-apply
  idempotently).
* a one-line terminal summary every second (``summary=True``).

``Monitor.stop()`` (SIGINT/SIGTERM, or ``duration`` elapsed): stop the source, apply what
was received, publish (the state re-evaluated whole on the final inputs, the checkpoint
as the run left it), commit, flush and close the sinks, exit 0.

Assembly (as nautilus_trader's factories build clients from their own configs):
:func:`make_source` and :func:`make_sinks` build the source and the sinks from the
settings, :func:`run_service` wires them and runs; the CLI only parses and calls it.
A new sink is one more entry in :func:`make_sinks`; :class:`Monitor` does not change.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import numba
import structlog

from monitor import failpoints
from monitor.books import (
    book_fingerprint,
    decode_checkpoint,
    encode_checkpoint,
    position_models,
)
from monitor.chain.model import ChainError
from monitor.config import Settings
from monitor.core.book import Book
from monitor.fmt import money, points
from monitor.ingest import OTHER, Pipeline
from monitor.logs import redact
from monitor.provenance import mismatch, provenance
from monitor.regimes.engine import LABELS, RegimeEngine
from monitor.regimes.sizing import advice_for_state
from monitor.sinks.alerts import AlertSink, alert_sender_for
from monitor.sinks.base import CheckpointStore, PublishCycle, Sink, UnderlyingCycle
from monitor.sinks.metrics import Metrics, MetricsSink
from monitor.sinks.redis_sink import RedisSink
from monitor.sinks.stream import StreamHub, StreamSink, wall_pages
from monitor.sources.base import Source, SourceUnavailable
from monitor.sources.databento_live import DatabentoLiveSource
from monitor.sources.databento_replay import DbnReplaySource
from monitor.sources.dbn_file import is_dbn
from monitor.sources.kafka import KafkaSource
from monitor.sources.memory import MemorySource
from monitor.sources.recording import (
    RecordingError,
    RecordingSource,
    ReplaySource,
    compare_books,
)
from monitor.sources.scenarios import DEMO_REGIMES, SCENARIOS
from monitor.sources.simulator import MarketSimulator, SimConfig
from monitor.state import build_state, observation
from monitor.threads import ThreadChooser
from monitor.warmup import compiled_signatures, warm_up
from monitor.wire.codec import WRONG_ENCODING
from monitor.wire.columns import count

log = structlog.get_logger("monitor.service")


#: niceness of the threads that work beside the tick path (refreshes, publish cycles)
BACKGROUND_NICE = 10
#: the longest shutdown waits for a publish cycle in flight (its events must not be lost)
SHUTDOWN_CYCLE_S = 30.0


def background_thread() -> None:
    """Initializer of the refresh and levels threads: their work (whole-chain passes,
    levels, scenarios) must not take CPU from the core thread and the event loop, which
    carry tick latency. On Linux a thread's niceness is its own and the worker threads
    its numba kernels start inherit it; numba's thread count is per calling thread, and
    all cores but one leaves a core to the tick path where niceness cannot be raised."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (AttributeError, OSError):  # not Linux, or not permitted: threads still help
        pass
    numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS - 1))


class Monitor:
    """Source -> pipeline -> publish cycles -> sinks (module docstring).

    ``sinks``: where publish cycles go (:class:`monitor.sinks.base.Sink`); the first that is
    also a :class:`~monitor.sinks.base.CheckpointStore` is where :meth:`restore` reads the
    regime history and (``checkpoints=True``, Kafka mode) the book checkpoints, and the
    checkpoints are encoded each cycle only when there is one. ``base``: folder of the
    config file (relative paths in it start there). ``max_ticks``: stop after receiving
    this many ticks (demos, tests). ``warn``: where a console line goes (a checkpoint or
    regime history set aside at restore, with why); None = the log alone.
    """

    def __init__(self, settings: Settings, source: Source, books: dict[str, Book], *,
                 sinks: Sequence[Sink] = (), summary: bool = False, checkpoints: bool = False,
                 tick_s: float = 0.05, max_ticks: int | None = None, base: Path | None = None,
                 out=sys.stdout, warn: Callable[[str], None] | None = None):
        self.settings = settings
        self.source = source
        self.warn = warn
        # what this run writes beside each checkpoint and regime history, and what a
        # stored one must match to be restored (monitor.provenance)
        self.provenance = {root: provenance(source.identity(), b) for root, b in books.items()}
        self._compiled_at_ready: dict[str, int] = {}  # numba signatures when ready
        self.pipeline = Pipeline(books, max_future_s=settings.intervals.max_future_s,
                                 reeval_ms=settings.intervals.reeval_ms,
                                 reeval_bps=settings.intervals.reeval_bps,
                                 models=position_models(settings, books),
                                 bounds={r: settings.bounds_for(r) for r in books},
                                 background_refresh=True)
        self.sinks = list(sinks)
        self.store = next((s for s in self.sinks if isinstance(s, CheckpointStore)), None)
        self.base = base
        self.summary = summary
        self.checkpoints = checkpoints
        self.tick_s = tick_s
        self.max_ticks = max_ticks
        self.out = out
        self.core = ThreadPoolExecutor(max_workers=1, thread_name_prefix="core")
        self.threads = ThreadChooser(numba.config.NUMBA_NUM_THREADS)
        # publish cycles compute on frozen copies here; numba's threadsafe layer (see
        # monitor.core.jit) lets its parallel kernels run beside the core thread's
        self.levels = ThreadPoolExecutor(max_workers=1, thread_name_prefix="levels",
                                         initializer=background_thread)
        # whole-chain refreshes on copies of the books
        self.refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh",
                                            initializer=background_thread)
        self._refreshes: set[asyncio.Task] = set()
        # a partitioned source (a consumer group) hands this process some underlyings:
        # only those are published and checkpointed (another member's state must never be
        # overwritten); they are taken over and handed over in its rebalance hooks
        self.owned: set[str] = set() if source.partitioned else set(books)
        source.set_rebalance_hooks(self._on_revoked, self._on_assigned)
        self._position: dict = {}  # next source offset applied, per partition (merged tokens)
        self._kept: set = set()  # partitions handed over cleanly at the last revocation
        self._rebalance_t0: float | None = None
        # the run's end published every owned underlying whole and stored it (run())
        self._final_stored = False
        self.final_books: dict[str, dict] = {}  # per underlying, the final book's fingerprint
        self._publishing = asyncio.Lock()  # one publish cycle at a time (timer, rebalance)
        self._last_checkpoint_all = time.monotonic()
        self._ingest_task: asyncio.Task | None = None
        self._settling: deque[asyncio.Task] = deque()  # batches applied or being applied
        self._lag_total = 0  # consumer lag at the last publish cycle
        self._failing_since: float | None = None  # publish cycles failing / not stored
        self._store_down_since: float | None = None
        self.regimes = {root: RegimeEngine(root, settings.regimes) for root in books}
        self.states: dict[str, dict] = {}  # last published state per root
        self.events: list[dict] = []  # every event since start (also in the sinks)
        self._token = None  # merged source token of the batches applied since the last commit
        self._stop = asyncio.Event()
        self._ingest_done = asyncio.Event()
        self._synced_ticks: dict = {}
        self._synced_rejected: dict = {}
        self.ticks_received = 0
        self.decode_errors = 0
        self.cycles = 0  # publish cycles completed
        self._told_encoding = False
        self._last_summary = (time.monotonic(), 0)
        self._last_batch = time.monotonic()  # when the source last handed out ticks
        self._last_publish = (time.monotonic(), 0)
        self.tps = 0.0

    def _on_core(self, fn, *args):
        # the core thread's parallel kernels (batch scans, inline refreshes) use all cores
        # only while other processes leave them idle (monitor.threads: on a shared core,
        # two threads ran slower than one)
        self.threads.apply()
        return fn(*args)

    async def _core(self, fn, *args):
        """``fn(*args)`` on the core thread; then launch the refreshes it started."""
        out = await asyncio.get_running_loop().run_in_executor(self.core, self._on_core, fn,
                                                               *args)
        for job in self.pipeline.take_refreshes():
            task = asyncio.create_task(self._refresh(job), name=f"refresh-{job.state.root}")
            self._refreshes.add(task)
            task.add_done_callback(self._refreshes.discard)
        return out

    async def _refresh(self, job) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.refresher, job.run)
        except Exception:  # noqa: BLE001 - the book keeps its state; the next one retries
            log.exception("refresh_failed", underlying=job.state.root)
            await self._core(self.pipeline.abandon_refresh, job)
            return
        await self._core(self.pipeline.finish_refresh, job)

    # -- life cycle ---------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    async def restore(self, roots=None) -> dict[str, dict[str, int]]:
        """Per underlying of ``roots`` (default all): with ``checkpoints``, its book
        checkpoint (resume exactly); then its regime history (so a restart does not forget
        the lookback), used only when it is continuous with the data (:func:`history_gap`),
        else dropped with one log line. Returns, per restored checkpoint, the source
        offsets it covers (where the source reads on: :meth:`Source.resume_from`)."""
        covered: dict[str, dict[str, int]] = {}
        if self.store is None:
            return covered
        roots = list(self.pipeline.states) if roots is None else sorted(roots)
        if self.checkpoints:
            for root in roots:
                s = self.pipeline.states[root]
                raw = await self.store.load(root, "checkpoint")
                if raw is None:
                    continue
                try:
                    cp = decode_checkpoint(raw)
                    why = mismatch(cp.get("provenance"), self.provenance[root],
                                   int(cp["clock_ns"]))
                    if why is not None:
                        self._set_aside(root, "checkpoint", why)
                        continue
                    await self._core(s.restore, cp)
                    covered[root] = dict(cp.get("offsets") or {})
                    log.info("checkpoint_restored", underlying=root, clock_ns=s.clock_ns,
                             offsets=covered[root])
                except (ValueError, KeyError, TypeError, msgspec.DecodeError) as err:
                    log.warning("checkpoint_ignored", underlying=root, error=str(err))
        for root in roots:
            engine = self.regimes[root]
            raw = await self.store.load(root, "regime")
            if raw is None:
                continue
            s = self.pipeline.states[root]
            try:
                d = msgspec.json.decode(raw)
                why = mismatch(d.get("provenance"), self.provenance[root])
                if why is not None:
                    self._set_aside(root, "regime history", why)
                    continue
                gap = history_gap(d, root, self.provenance[root]["universe"], s.clock_ns,
                                  self.settings.regimes.window_s)
                if gap is not None:
                    log.info("regime_history_dropped", underlying=root, reason=gap)
                    continue
                engine.restore(d)
                log.info("regime_history_restored", underlying=root)
            except (KeyError, TypeError, ValueError, msgspec.DecodeError) as err:
                log.warning("regime_history_ignored", underlying=root, error=str(err))
        return covered

    def _set_aside(self, root: str, what: str, why: str) -> None:
        """A stored checkpoint or regime history that is not this run's: logged, and one
        console line (``warn``)."""
        log.warning("restore_set_aside", underlying=root, what=what, reason=why)
        if self.warn is not None:
            self.warn(f"{root}: the stored {what} was set aside: {why}")

    # -- rebalances (a partitioned source) -------------------------------------------------
    async def _on_revoked(self, partitions) -> None:
        """Hand over what this process gives up, within the rebalance: one publish cycle
        of every owned underlying (state, checkpoint with the offsets it covers, commit),
        so the next owner restores it and reads on exactly from there. At the run's end
        the final cycle is the hand-over: nothing is written after it."""
        self._rebalance_t0 = time.monotonic()
        lost = {r for r in self.owned if self.source.partitions_of(r) & set(partitions)}
        if not lost:
            return
        if not self._stop.is_set():
            ok = await self.publish_cycle(force=lost)
        else:  # the run's end (the source stopping revokes everything): the state handed
            # over is the final one, never a plain cycle's written after it
            ok = self._final_stored or await self.publish_cycle(force=lost, final=True)
        # partitions whose hand-over was stored: if they come back to this process, it
        # reads on from its own position (its books are exactly there)
        self._kept = set(partitions) if ok else set()
        self.owned -= lost
        for root in lost:
            self.states.pop(root, None)
        log.info("underlyings_handed_over", underlyings=sorted(lost), stored=ok)

    async def _on_assigned(self, partitions) -> None:
        """Take over the underlyings the new assignment holds: those handed over by another
        member (or by this one before a restart) restore their checkpoint and regime
        history, and the source reads on from the offsets the checkpoints cover; the take-
        over time goes to the log and the sinks."""
        t0 = self._rebalance_t0 if self._rebalance_t0 is not None else time.monotonic()
        self._rebalance_t0 = None
        mine = {r for r in self.pipeline.states if self.source.owns(r)}
        kept = {r for r in mine if self.source.partitions_of(r) & self._kept}
        taken = mine - kept
        covered = await self.restore(taken) if taken else {}

        def own_position():  # core thread: nothing is being applied meanwhile
            out = {r: self.source.covered_by(r, self._position) for r in kept}
            keep = set(partitions) & self._kept
            self._position = {tp: off for tp, off in self._position.items() if tp in keep}
            if isinstance(self._token, dict):  # an old owner's offsets are not ours to commit
                self._token = {tp: off for tp, off in self._token.items() if tp in keep}
            return out

        covered.update(await self._core(own_position))
        self._kept = set()
        sought = self.source.resume_from(covered)
        # (a taken underlying is published next cycle: it is not in self.states)
        self.owned = mine
        seconds = time.monotonic() - t0
        if taken:
            for sink in self.sinks:
                sink.observe_handover(sorted(taken), seconds)
        log.info("underlyings_taken_over", underlyings=sorted(taken), kept=sorted(kept),
                 takeover_s=round(seconds, 3), resumed_at={str(k): v for k, v in
                                                           sought.items()})

    async def run(self, duration: float | None = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests): stop() is called directly
        for sink in self.sinks:
            await sink.setup()
        if not self.source.partitioned and self.source.restorable:
            await self.restore()  # (a partitioned source: each underlying when assigned)
        try:
            await self.source.start()
        except SourceUnavailable:
            for sink in self.sinks:
                await sink.close()
            self._shutdown_threads()
            raise
        # Everything built so far (chains, books, numba and pandas internals: some 200k
        # objects) lives as long as the process. Out of the cyclic GC's sight, a full
        # collection no longer walks it: measured 90 ms per full collection before, a
        # pause that every tick arriving meanwhile would wait through.
        # every kernel the ticks and publish cycles can call is compiled (or loaded from
        # numba's cache) now, on copies, before /readyz says ready: not on the first ticks
        books = {root: st.book for root, st in self.pipeline.states.items()}
        warm = await self._core(warm_up, books)
        self._compiled_at_ready = compiled_signatures()
        log.info("kernels_ready", seconds=round(warm.seconds, 3), kernels=warm.kernels,
                 compiled_signatures=warm.compiled, cache_dir=warm.cache_dir)
        gc.collect()
        gc.freeze()
        switch_s = sys.getswitchinterval()  # put back on the way out (tests share a process)
        sys.setswitchinterval(self.settings.intervals.gil_switch_ms / 1000.0)
        for sink in self.sinks:
            sink.ready(True)
        log.info("monitor_started", underlyings=sorted(self.pipeline.states),
                 duration_s=duration)
        ingest = self._ingest_task = asyncio.create_task(self._ingest(), name="ingest")
        timers = asyncio.create_task(self._timers(), name="timers")
        try:
            if duration is not None:
                await asyncio.wait([asyncio.create_task(self._stop.wait()), ingest],
                                   timeout=duration, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.wait([asyncio.create_task(self._stop.wait()), ingest],
                                   return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stop.set()
            # let the batch in hand finish (it is applied whole on the core thread), then
            # stop waiting for more: an unapplied batch was not committed and comes again
            done, _ = await asyncio.wait([ingest], timeout=2.0)
            if not done:
                ingest.cancel()
                await asyncio.gather(ingest, return_exceptions=True)
            # let a publish cycle in flight finish: cancelling it while its computation runs
            # on the levels thread would let the regime engine advance and drop the events
            # it returned (they would never reach Redis or desk chat); the timer loop ends
            # by itself once it sees the stop
            done, _ = await asyncio.wait([timers], timeout=SHUTDOWN_CYCLE_S)
            if not done:
                log.warning("publish_cycle_abandoned_at_shutdown", waited_s=SHUTDOWN_CYCLE_S)
                timers.cancel()
            await asyncio.gather(timers, return_exceptions=True)
            await asyncio.gather(*self._refreshes, return_exceptions=True)
            # commits what was applied, before the source stops; the state published is
            # the whole-chain computation on the final inputs, the checkpoint the run's own
            self._final_stored = await self.publish_cycle(final=True)
            await self.source.stop()
            self.source.end_of_run(dict(self.final_books))
            for sink in self.sinks:
                sink.ready(False)
                await sink.flush()
                await sink.close()
            self._shutdown_threads()
            sys.setswitchinterval(switch_s)
            late = sorted(k for k, n in compiled_signatures().items()
                          if n > self._compiled_at_ready.get(k, 0))
            if late:  # a path the warm-up missed: say which, so it can be added there
                log.warning("compiled_after_ready", kernels=late)
            if self.summary:
                self._print_summary(final=True)
            ticks = self.pipeline.counts.ticks
            log.info("monitor_stopped", ticks_received=self.ticks_received,
                     events=len(self.events),
                     stale=sum(n for (_, _, outcome), n in ticks.items() if outcome == "stale"),
                     rejected=sum(self.pipeline.counts.rejected.values()))
        exc = ingest.exception() if ingest.done() and not ingest.cancelled() else None
        if exc is not None:
            log.error("ingest_failed", error=repr(exc))
            return 1
        return 0

    def health(self) -> tuple[bool, bool, str]:
        """``(live, ready, why)`` for ``/healthz`` and ``/readyz`` (read from the HTTP
        server's thread: plain attributes only). Not live: the ingest loop ended with an
        error (the service is shutting down with exit code 1, or hangs doing so: an
        orchestrator should restart it). Not ready: the
        consumer has lag but applied nothing for ``metrics.stall_s``; publish cycles have
        failed or not been stored for that long; Redis unreachable for
        ``redis.unreachable_ready_s``. The body says which."""
        now = time.monotonic()
        task = self._ingest_task
        if (task is not None and task.done() and not task.cancelled()
                and task.exception() is not None):
            return False, False, f"the ingest loop has ended: {task.exception()!r}"[:300]
        why = readiness_problems(
            now, lag_total=self._lag_total, last_batch=self._last_batch,
            failing_since=self._failing_since, store_down_since=self._store_down_since,
            stall_s=self.settings.metrics.stall_s,
            unreachable_s=self.settings.redis.unreachable_ready_s)
        feed = self.source.problem()
        if feed:
            why.append(feed)
        return True, not why, "; ".join(why)

    def _shutdown_threads(self) -> None:
        self.core.shutdown(wait=True)
        self.levels.shutdown(wait=True)
        self.refresher.shutdown(wait=True)

    # -- tasks --------------------------------------------------------------------------
    async def _ingest(self) -> None:
        """Hand each batch to the core thread as it comes. The next batch is fetched and
        decoded here while the core thread applies the one before (decoding and applying
        overlap on two cores instead of taking turns); at most two batches wait on the
        core thread, which applies them in arrival order, and each one's outcome is
        settled in that order (:meth:`_settle`)."""
        settling = self._settling
        try:
            async for batch in self.source.batches():
                if batch.errors:
                    self.decode_errors += len(batch.errors)
                    for reason, context in batch.errors:
                        if reason == WRONG_ENCODING and not self._told_encoding:
                            self._told_encoding = True  # one line, not one per message
                            log.error("encoding_mismatch", detail=context)
                if batch.ticks:
                    self._last_batch = time.monotonic()
                applied = asyncio.ensure_future(
                    self._core(self._apply, batch.ticks, batch.token, batch.errors))
                settling.append(asyncio.create_task(
                    self._settle(applied, batch, settling[-1] if settling else None)))
                while len(settling) > 1:  # the one before is done: fetch the next one
                    await settling[0]  # (left in the deque until done: a publish cycle
                    settling.popleft()  # waits for it before it commits)
                if self._stop.is_set():
                    break
            while settling:
                await settling[0]
                settling.popleft()
        finally:
            for task in settling:  # (an error above: the rest are not waited for)
                task.cancel()
            settling.clear()
            self._ingest_done.set()

    async def _settle(self, applied: asyncio.Future, batch, before: asyncio.Task | None
                      ) -> None:
        """After a batch is applied (and the one before it settled): its poison to the
        dead-letter topic, its tick-to-state latency to the sinks, the count of ticks."""
        if before is not None:
            await before
        dead = await applied
        if dead:  # poison the checks rejected: kept before the offsets are committed
            await self.source.dead_letter_ticks(dead, _where(batch.token))
        if batch.ticks:
            lat = (time.time_ns() - batch.received_ns) / 1e9
            for sink in self.sinks:
                sink.observe_batch(self.pipeline.states, lat)
        self.ticks_received += count(batch.ticks)
        if self.max_ticks is not None and self.ticks_received >= self.max_ticks:
            self._stop.set()

    def _apply(self, ticks, token, errors=()) -> list:
        """Core thread: apply a batch and, in the same step, note the offsets it covers,
        so a frozen copy's checkpoint always says exactly which ticks are in it; returns
        the poison it rejected, for the dead-letter topic. ``errors``: the batch's decode
        errors, counted here (the counters belong to the core thread)."""
        counts = self.pipeline.counts
        for reason, context in errors:
            counts.reject(OTHER, "message", reason, context)
        if ticks:
            self.pipeline.apply(ticks)
        self._token = self.source.merge_tokens(self._token, token)
        if isinstance(token, dict):
            self._position.update(token)
        return counts.take_dead()

    async def _timers(self) -> None:
        pub_s = self.settings.intervals.publish_ms / 1000.0
        next_pub = time.monotonic() + pub_s
        next_summary = time.monotonic() + 1.0
        while not self._stop.is_set():
            await asyncio.sleep(self.tick_s)
            if self._stop.is_set():  # the final cycle is the shutdown's
                break
            try:
                now = time.monotonic()
                if now >= next_pub:
                    next_pub = now + pub_s
                    await self.publish_cycle()
                if now >= next_summary:
                    next_summary = now + 1.0
                    if self.summary:
                        self._print_summary()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed cycle is logged; the next one retries
                log.exception("timer_cycle_failed")
                self._failing_since = self._failing_since or time.monotonic()

    # -- publishing ---------------------------------------------------------------------
    def _freeze(self, force=frozenset(), final: bool = False) -> tuple[object, list]:
        """On the core thread, between batches: the source token and a frozen copy of each
        owned underlying that changed (or is in ``force``; about a millisecond each), with
        the source offsets its checkpoint covers, so the slow part of a publish cycle
        (levels, scenarios, regimes) runs beside tick processing, not in its way. A
        refresh in flight is finished first: a checkpoint holds the book it leaves and
        the prints valued with it. ``final``: every owned underlying, each copy to be
        refreshed whole before it is published (after its checkpoint is taken)."""
        self.pipeline.complete_refreshes()
        if final:
            force = set(force) | self.owned
        token, self._token = self._token, None
        frozen = []
        vol_index = dict(self.pipeline.vol_index)
        for root, s in self.pipeline.states.items():
            if root not in self.owned:
                continue
            if not s.dirty and root in self.states and root not in force:
                continue
            s.dirty = False
            frozen.append((root, s.frozen_copy(reuse=True), vol_index,
                           final or self.pipeline.consistent(s),
                           self.source.covered_by(root, self._position), final))
        return token, frozen

    def _collect(self, frozen: list) -> list[UnderlyingCycle]:
        """On the levels thread: per underlying, state, profile, regime events, regime
        history and checkpoint, all of the frozen instant."""
        out = []
        for root, s, vol_index, consistent, covered, final in frozen:
            engine = self.regimes[root]
            # the checkpoint also serves `monitor whatif --from-redis` (full revaluation on
            # the live book), so it is kept whenever there is a store
            prov = self.provenance[root]
            book_cp = s.checkpoint() if self.store is not None or final else None
            cp = (encode_checkpoint({**book_cp, "offsets": covered, "provenance": prov})
                  if self.store is not None else None)
            if final:
                self.final_books[root] = book_fingerprint(book_cp)  # the run's own book
                # the whole-chain computation on the final inputs, smiles refitted
                s.book.refresh(now_ns=s.clock_ns, spot=s.pending_spot or s.book.spot,
                               refit=True)
                s.pending_spot = None
            und = self.settings.underlying(root)
            state, profile = build_state(
                s, engine.current, und=und,
                same_below_frac=self.settings.regimes.settled_live_same_frac)
            vix_symbol = und.vol_index
            vix = vol_index.get(vix_symbol) if vix_symbol else None
            state["vol_index"] = None if vix is None else vix[1]
            # the engine sees only consistent books (Pipeline.consistent): a state frozen
            # while a spot move's refresh is in flight is published, not observed
            events = (engine.update(observation(s, state, state["vol_index"]))
                      if consistent else [])
            state["regime"] = engine.labels["gamma"]
            state["regimes"] = ",".join(engine.current)
            state["sizing"] = advice_for_state(state, self.settings, book=s.book,
                                               base=self.base)
            history = {**engine.to_dict(), "chain": prov["universe"], "provenance": prov}
            out.append(UnderlyingCycle(root, state, profile, events,
                                       msgspec.json.encode(history), cp))
        return out

    async def publish_cycle(self, force=frozenset(), final: bool = False) -> bool:
        """Freeze, compute, hand to the sinks, then commit (module docstring); ``force``:
        underlyings published and checkpointed even if unchanged; ``final`` (a run's
        end): all of them, each published as the whole-chain computation on its final
        inputs. True when every durable sink stored the cycle."""
        async with self._publishing:
            return await self._publish_cycle(force, final)

    async def _publish_cycle(self, force, final: bool = False) -> bool:
        """The commit order, and what a crash or a failed step at each point must give
        (``monitor.failpoints`` names the points; tests/service/test_fault_injection.py
        tests every row against the real broker and Redis). Steps: (1) freeze: a copy of
        each changed book and the source offsets its checkpoint covers; (2) each sink
        writes the cycle: Redis the state, then the checkpoint; (3) the dead letters of
        the applied batches are acknowledged; (4) the offsets are committed, only when
        every durable sink stored its checkpoint.

        ==========================  ======================================================
        point                       after a restart (a new process, same group and prefix)
        ==========================  ======================================================
        crash ``state_stored``      the state is newer than the checkpoint; the restart
                                    restores the older checkpoint and re-reads from its
                                    offsets (nothing committed past it): final state as
                                    an uninterrupted run's, no print applied twice
        fail ``checkpoint_write``   not stored: no commit this cycle (the offsets wait
                                    for the next stored checkpoint); the run goes on
        crash ``checkpoint_stored`` checkpoint newer than the committed offsets: the
                                    restart reads on from the offsets the checkpoint
                                    covers; nothing applied twice
        crash ``dead_letters_sent`` as above; the dead letters may be sent again (at
                                    least once), never lost
        fail ``commit``             the cycle raises (logged); its offsets go back to be
                                    committed with the next cycle's; nothing lost
        crash ``committed``         checkpoint and offsets agree; the restart re-reads
                                    nothing
        ==========================  ======================================================

        In every row: committed offsets never run ahead of a stored checkpoint's."""
        now = time.monotonic()
        if now - self._last_checkpoint_all >= self.settings.kafka.checkpoint_s:
            # every owned underlying's checkpoint now and then, changed or not: its offsets
            # keep up with the partition, so a take-over re-reads little
            self._last_checkpoint_all = now
            force = set(force) | self.owned
        token, frozen = await self._core(self._freeze, force, final)
        # the batches in the token are applied; their dead letters go out (in _settle)
        # before their offsets are committed below
        settling = list(self._settling)
        items = await asyncio.get_running_loop().run_in_executor(self.levels, self._collect,
                                                                 frozen)
        now = time.monotonic()
        t_prev, n_prev = self._last_publish
        tps = (self.ticks_received - n_prev) / max(now - t_prev, 1e-9)
        self._last_publish = (now, self.ticks_received)
        lag, feed_lag = self.source.lag(), self.source.feed_lag_s()
        for u in items:
            u.state["quality"]["ticks_per_second"] = tps  # all underlyings of this process
            u.state["quality"]["consumer_lag"] = lag
            u.state["quality"]["feed_lag_seconds"] = feed_lag
            self.states[u.root] = u.state
            self.events.extend(u.events)
            for ev in u.events:
                log.info("regime_change", underlying=u.root, regime=ev["regime"],
                         frm=ev["from"], to=ev["to"], message=ev["message"])
        stored = await deliver(PublishCycle(items, *self._count_deltas()), self.sinks)
        self.cycles += 1
        now = time.monotonic()
        self._lag_total = sum(lag.values())
        up = getattr(self.store, "connected", True)
        self._store_down_since = None if up else (self._store_down_since or now)
        # a cycle not stored because Redis is down is Redis's reason (its own threshold)
        self._failing_since = (None if stored or not up else (self._failing_since or now))
        if token is None:
            return stored
        failpoints.hit("checkpoint_stored")
        if settling:
            await asyncio.gather(*settling, return_exceptions=True)
        failpoints.hit("dead_letters_sent")
        if not self.checkpoints or stored:
            try:
                if failpoints.hit("commit"):
                    raise failpoints.FailpointError("commit: refused on command")
                await self.source.commit(token)
            except Exception:  # the next cycle commits them with its own
                self._token = self.source.merge_tokens(token, self._token)
                raise
            failpoints.hit("committed")
        else:  # keep the offsets for the next cycle: nothing past the checkpoint is committed
            self._token = self.source.merge_tokens(token, self._token)
        return stored

    def _count_deltas(self) -> tuple[dict, dict]:
        """Tick and rejection counts since the last cycle (and one log line per new
        rejection reason, with its context)."""
        counts = self.pipeline.counts
        for sample in counts.take_samples():
            log.warning("tick_rejected", **sample)
        for sample in counts.take_dropped():
            log.info("tick_dropped", **sample)
        out = []
        for now, synced in ((counts.ticks, self._synced_ticks),
                            (counts.rejected, self._synced_rejected)):
            delta = {}
            for key, n in list(now.items()):
                if n != synced.get(key, 0):
                    delta[key] = n - synced.get(key, 0)
                    synced[key] = n
            out.append(delta)
        return out[0], out[1]

    def _print_summary(self, final: bool = False) -> None:
        now = time.monotonic()
        t0, n0 = self._last_summary
        self.tps = (self.ticks_received - n0) / max(now - t0, 1e-9)
        self._last_summary = (now, self.ticks_received)
        idle = now - self._last_batch
        stale = (f"  STALE: no ticks for {idle:,.0f} s"
                 if idle >= self.settings.intervals.stale_after_s and not final else "")
        for root, st_ in sorted(self.states.items()):
            zg = st_.get("zero_gamma")
            line = (f"{root} spot {st_['spot']:,.2f}  GEX {money(st_['gex_usd_per_pct'])}/1%  "
                    f"zero-gamma {points(zg)}  "
                    f"walls C {points(st_.get('call_wall'))} / P {points(st_.get('put_wall'))}  "
                    f"regime {st_.get('regime') or '-'}  "
                    f"tape {money((st_.get('hedge_pressure_usd') or {}).get('total'))}  "
                    f"{self.tps:,.0f} ticks/s"
                    + stale + ("  (final)" if final else ""))
            print(line, file=self.out, flush=True)


def readiness_problems(now: float, *, lag_total: int, last_batch: float,
                       failing_since: float | None, store_down_since: float | None,
                       stall_s: float, unreachable_s: float) -> list[str]:
    """Why the service is not ready at ``now`` (monotonic seconds; empty: ready): lag
    waiting while nothing was received for more than ``stall_s``, publish cycles failing
    for more than ``stall_s``, the store unreachable for more than ``unreachable_s``."""
    why = []
    if lag_total > 0 and now - last_batch > stall_s:
        why.append(f"consumer lag {lag_total} and nothing received for "
                   f"{now - last_batch:.0f} s")
    if failing_since is not None and now - failing_since > stall_s:
        why.append(f"publish cycles failing for {now - failing_since:.0f} s")
    if store_down_since is not None and now - store_down_since > unreachable_s:
        why.append(f"Redis unreachable for {now - store_down_since:.0f} s")
    return why


def _where(token) -> str:
    """The batch a token covers, for a dead-letter header (``topic:partition<offset``)."""
    if isinstance(token, dict):
        return ",".join(f"{getattr(tp, 'topic', tp)}:{getattr(tp, 'partition', '')}<{off}"
                        for tp, off in token.items())
    return str(token)


def history_gap(history: dict, root: str, chain: str, clock_ns: int,
                window_s: float) -> str | None:
    """Why a stored regime history is not continuous with the data (None: it is): another
    underlying or chain (``chain``: the universe fingerprint, :mod:`monitor.provenance`),
    an event clock behind the history's (time went back), or a gap longer than the regime
    window (the window's changes would compare data hours or days apart, as after a
    restart on another day's chain)."""
    if history.get("root") != root:
        return f"the history is {history.get('root')}'s"
    if history.get("chain") != chain:
        return f"the history is of chain {history.get('chain')}, the data of {chain}"
    times = [int(w[0]) for w in history.get("window") or []]
    if not times:
        return None
    last = max(times)
    if last > clock_ns:
        return "the history is later than the data's event clock"
    if clock_ns - last > window_s * 1e9:
        return (f"the history ends {(clock_ns - last) / 3.6e12:.1f} h before the data, beyond "
                f"the {window_s:g} s regime window")
    return None


async def deliver(cycle: PublishCycle, sinks: Sequence[Sink]) -> bool:
    """Hand ``cycle`` to every sink, in order; True when every durable sink stored it.

    The one place that orders a publish cycle's effects (the contract is
    :mod:`monitor.sinks.base`'s): each sink writes the cycle (the Redis sink: state,
    profile and events, then the regime history and the checkpoint); the caller commits
    the source offsets only when this returns True, so no offset is ever committed past
    a checkpoint that was not stored. A sink that raises is logged and counts as not
    stored when it is durable; the other sinks still get the cycle."""
    stored = True
    for sink in sinks:
        try:
            ok = await sink.write(cycle)
        except Exception:  # noqa: BLE001 - one sink's failure must not stop the others
            log.exception("sink_write_failed", sink=type(sink).__name__)
            ok = False
        if sink.durable and not ok:
            stored = False
    return stored


# -- assembly: the source and the sinks from the settings ------------------------------------
class ServiceError(ValueError):
    """A setting the service cannot start with (one line, for ``monitor: error:``)."""


def embedded_simulator(settings: Settings, books: dict[str, Book]) -> MarketSimulator:
    """The embedded default's market: a simulator from the first book as it starts (a
    copy: the simulator reads its IVs, quotes and forwards once, and building a book of
    its own would evaluate and fit the chain a second time, ~0.4 s of start-up), on
    ``embedded.scenario``'s scripted path when one is set."""
    sim_book = next(iter(books.values())).copy()
    emb = settings.embedded
    paths = SCENARIOS[emb.scenario] if emb.scenario else {}
    return MarketSimulator(sim_book, SimConfig(rate_ticks_per_s=emb.rate_ticks_per_s,
                                               seed=emb.seed, **paths))


#: what the embedded simulator's checkpoints name as their source (monitor.provenance)
EMBEDDED_SOURCE = "embedded simulator"


def embedded_source(settings: Settings, books: dict[str, Book]) -> MemorySource:
    """The embedded default: :func:`embedded_simulator`'s session, paced to
    ``embedded.rate_ticks_per_s``."""
    emb = settings.embedded
    sim = embedded_simulator(settings, books)
    batch = max(1, int(emb.rate_ticks_per_s / 50))

    def forever():
        while True:
            yield sim.ticks(batch)

    return MemorySource(forever(), rate_ticks_per_s=emb.rate_ticks_per_s, record_commits=False,
                        identity=EMBEDDED_SOURCE)


def demo_settings(settings: Settings) -> Settings:
    """With an ``embedded.scenario`` (and no Kafka), the regime windows compressed to the
    scenario's seconds (:data:`monitor.sources.scenarios.DEMO_REGIMES`); else unchanged."""
    if not settings.embedded.scenario or settings.kafka.bootstrap:
        return settings
    log.info("demo_scenario", scenario=settings.embedded.scenario,
             regimes="windows compressed to seconds for the demo")
    return settings.model_copy(update={"regimes": settings.regimes.model_copy(
        update=DEMO_REGIMES)})  # (model_copy keeps which file the settings came from)


def embedded_prefix(settings: Settings) -> Settings:
    """Without Kafka (the embedded simulator), the Redis keys under their own prefix,
    ``{redis.prefix}-demo`` (:attr:`Settings.demo_redis_prefix`): a demo never writes
    where a live run reads; else unchanged."""
    return settings if settings.kafka.bootstrap else settings.demo_keys()


def make_source(settings: Settings, books: dict[str, Book], *, record: Path | None = None,
                replay: Path | list[Path] | None = None, speed: float | None = None,
                databento: bool = False) -> tuple[Source, bool]:
    """(source, checkpoints): a recording replayed or DBN files (``replay``: a recording's
    folder, or DBN files merged in ``ts_recv`` order; checkpoints off), Databento's
    live feed (``databento``; checkpoints off: a restart starts from the gateway's
    present), the Kafka consumer group when ``kafka.bootstrap`` is set (resumable:
    checkpoints on), else the embedded simulator (checkpoints off); with ``record``, what
    it delivers is also written there (:mod:`monitor.sources.recording`)."""
    replays = ([] if replay is None else list(replay) if isinstance(replay, (list, tuple))
               else [replay])
    dbn_files = [p for p in replays if is_dbn(p)]
    if dbn_files and len(dbn_files) < len(replays) or len(replays) > 1 and not dbn_files:
        raise ValueError("--replay takes one recording (a folder) or DBN files, not "
                         + ", ".join(str(p) for p in replays))
    if databento:
        source, checkpoints = DatabentoLiveSource(settings, list(books)), False
    elif dbn_files:
        source, checkpoints = DbnReplaySource(dbn_files, settings, list(books),
                                              speed=speed), False
    elif replays:
        source, checkpoints = ReplaySource(replays[0], speed=speed), False
    elif settings.kafka.bootstrap:
        source, checkpoints = KafkaSource.from_settings(settings.kafka), True
    else:
        source, checkpoints = embedded_source(settings, books), False
    if record is not None:
        source = RecordingSource(source, record)
    return source, checkpoints


async def make_sinks(settings: Settings, metrics: Metrics,
                     warn: Callable[[str], None] | None = None,
                     stream: StreamHub | None = None) -> list[Sink]:
    """Redis (state, events, checkpoints), Prometheus (``metrics``), ``/stream`` (when a
    hub is given) and, when a webhook is configured, desk-chat alerts. An unreachable
    Redis is a warning, not an error: the Redis sink keeps data and retries."""
    redis = RedisSink(settings.redis, metrics=metrics)
    if not await redis.start() and warn is not None:
        warn(f"Redis at {redact(settings.redis.url)} is not reachable; running without it "
             f"(console output only, retrying)")
    metrics.redis_probe = lambda: (redis.connected, redis.buffered_events)
    sinks: list[Sink] = [redis, MetricsSink(metrics)]
    if stream is not None:
        sinks.append(StreamSink(stream))
    a = settings.alerting
    sender = alert_sender_for(settings)
    if sender is not None:
        sinks.append(AlertSink(sender, max_quote_staleness_s=a.max_quote_staleness_s,
                               max_oi_age_days=a.max_oi_age_days))
    return sinks


def replay_verdict(source: ReplaySource, books: dict[str, dict],
                   say: Callable[[str], None] | None,
                   warn: Callable[[str], None] | None) -> int:
    """After a replay: its books against the recording's (:func:`book_fingerprint`); 0 when
    every underlying's is the recorded one, else 1 (one line naming them and why)."""
    recorded = source.manifest.get("books") or {}
    if not recorded:
        msg = "the recording holds no final books (its run did not end cleanly): not compared"
        log.warning("replay_not_compared", reason=msg)
        if warn is not None:
            warn(msg)
        return 0
    differ = compare_books(recorded, books)
    if differ:
        log.error("replay_differs", differences=differ, batches=source.delivered)
        if warn is not None:
            warn("the replay's books differ from the recording's: "
                 + "; ".join(f"{r}: {why}" for r, why in differ.items())
                 + f" ({source.delivered:,} batches replayed)")
        return 1
    digests = {r: b["sha256"] for r, b in sorted(books.items())}
    log.info("replay_identical", batches=source.delivered, books_sha256=digests)
    if say is not None:
        say(f"replay: {source.delivered:,} batches; every book is the recording's ("
            + ", ".join(f"{r} sha256 {d[:12]}" for r, d in digests.items())
            + "; solved numbers within 1e-9)")
    return 0


async def run_service(settings: Settings, books: dict[str, Book], *, base: Path | None = None,
                      duration: float | None = None, summary: bool = True,
                      warn: Callable[[str], None] | None = None,
                      say: Callable[[str], None] | None = None, record: Path | None = None,
                      replay: Path | list[Path] | None = None,
                      speed: float | None = None, databento: bool = False) -> int:
    """``monitor run``: serve ``/metrics`` ``/healthz`` ``/readyz``, build the source and
    sinks from ``settings``, run until stopped (or ``duration`` seconds); the exit code.
    ``ServiceError`` when the metrics address cannot be served."""
    if failpoints.ERROR:
        raise ServiceError(failpoints.ERROR)
    settings = (settings.demo_keys("replay") if replay
                else settings if databento  # the live feed: the live keys
                else embedded_prefix(demo_settings(settings)))
    metrics = Metrics(regimes=LABELS)
    ss = settings.stream
    hub = StreamHub(ss.history, retry_ms=ss.retry_ms, write_timeout_s=ss.write_timeout_s,
                    stale_after_s=ss.stale_after_s)
    try:
        token = settings.metrics.token
        metrics.serve(settings.metrics.host, settings.metrics.port,
                      token=token.get_secret_value() if token else None,
                      max_connections=settings.metrics.max_connections,
                      pages=wall_pages(), handlers={"/stream": hub.handle},
                      protected=("/wall", "/stream"))
    except OSError as err:
        raise ServiceError(f"cannot serve metrics on {settings.metrics.host}:"
                           f"{settings.metrics.port}: {err.strerror or err}; choose another "
                           f"--metrics-port") from None
    try:
        try:
            source, checkpoints = make_source(settings, books, record=record, replay=replay,
                                              speed=speed, databento=databento)
        except (RecordingError, ChainError, ValueError, SourceUnavailable) as err:
            raise ServiceError(str(err)) from None
        sinks = await make_sinks(settings, metrics, warn, stream=hub)
        mon = Monitor(settings, source, books, sinks=sinks, summary=summary,
                      checkpoints=checkpoints, base=base, warn=warn)
        metrics.health_probe = mon.health
        try:
            code = await mon.run(duration)
        except SourceUnavailable as err:
            raise ServiceError(str(err)) from None
        if isinstance(source, ReplaySource):
            code = max(code, replay_verdict(source, mon.final_books, say, warn))
        return code
    finally:
        metrics.stop()
