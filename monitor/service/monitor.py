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
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import structlog

from monitor.config import Settings
from monitor.core.book import Book
from monitor.ingest import Pipeline
from monitor.provenance import provenance
from monitor.regimes.engine import RegimeEngine
from monitor.service.core_thread import CoreThread, background_thread
from monitor.service.handover import HandOver
from monitor.service.health import Health
from monitor.service.ingest_loop import IngestLoop
from monitor.service.publish import PublishCycles
from monitor.sinks.base import CheckpointStore, Sink
from monitor.sources.base import Source, SourceUnavailable
from monitor.threads import ThreadChooser
from monitor.warmup import compiled_signatures, warm_up

log = structlog.get_logger("monitor.service")


#: the longest shutdown waits for a publish cycle in flight (its events must not be lost)
SHUTDOWN_CYCLE_S = 30.0


class Monitor(CoreThread, HandOver, IngestLoop, PublishCycles, Health):
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
        self.pipeline = Pipeline.from_settings(books, settings, background_refresh=True)
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
        self._unstored: set[str] = set()  # roots whose last checkpoint was not stored
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

    # -- life cycle ---------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

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
