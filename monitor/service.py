"""The live service: wires a source -> pipeline (numba core) -> regimes -> Redis, metrics.

Tasks on one asyncio loop:

* ingest: ``async for batch in source.batches()``; decoding errors are counted; the ticks
  are applied on the single core thread (the pipeline's state has one writer, and this
  keeps the loop free for Kafka heartbeats and HTTP).
* refreshes: a whole-chain re-evaluation that falls due (spot moved, ``reeval_ms``
  elapsed) runs on a copy of the book in a third ("refresh") thread, with all cores but
  one; the core thread keeps applying ticks meanwhile and then replays them onto the
  refreshed copy and adopts it (``monitor.pipeline.Refresh``), so a tick never waits for
  a whole-chain pass.
* timers (every ``tick_s``): pending spot re-evaluations; every ``publish_ms`` a publish
  cycle: a frozen copy of each changed book is taken on the core thread (about 1 ms), its
  state, levels, scenarios and regime events are computed on a second ("levels") thread
  beside tick processing, then written to Redis with a checkpoint of the book's inputs,
  then -- only if the checkpoint was stored -- the source offsets of everything applied
  before the copy was taken are committed (at-least-once; a restart restores the
  checkpoint and re-reads the uncommitted ticks, which re-apply idempotently).
* a one-line terminal summary every second (``summary=True``).

``Monitor.stop()`` (SIGINT/SIGTERM, or ``duration`` elapsed): stop the source, apply what
was received, re-evaluate, publish, commit, flush Redis, exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import numba
import numpy as np
import structlog

from monitor.chain.loaders import load_chain
from monitor.config import Settings
from monitor.core.book import Book
from monitor.pipeline import OTHER, Pipeline
from monitor.regimes.engine import LABELS, RegimeEngine
from monitor.regimes.sizing import advice_for_state
from monitor.render import fmt_level, money
from monitor.sinks.metrics import Metrics
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.base import Source
from monitor.state import build_state, data_quality, observation, redis_state
from monitor.wire.records import QuoteBlock

log = structlog.get_logger("monitor.service")
REGIMES = LABELS


def resolve(path: str, base: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base is None else (base / p)


def build_books(settings: Settings, chains: list[str | Path],
                base: Path | None = None) -> dict[str, Book]:
    """One book per chain file, keyed by underlying, with that underlying's settings.
    ``flow`` books start from their base model; ``positions`` books hold the user's file
    (``positions_file``, relative to ``base``)."""
    from monitor.regimes.models import load_positions_file

    books = {}
    for path in chains:
        chain = load_chain(path)
        und = settings.underlying(chain.underlying)
        model = {"flow": und.flow_base_model, "positions": "classic"}.get(
            und.position_model, und.position_model)
        book = Book(chain, model=model, multiplier=und.multiplier, div_yield=und.div_yield,
                    rate=settings.pricing.rate, parity_pairs=settings.pricing.parity_pairs)
        if und.position_model == "positions":
            if not und.positions_file:
                raise ValueError(f"{chain.underlying}: position_model positions needs "
                                 f"positions_file")
            rows, pos, _ = load_positions_file(resolve(und.positions_file, base), book)
            book.update_positions(np.arange(len(book.oi)), np.zeros(len(book.oi)))
            book.update_positions(rows, pos)
        books[chain.underlying] = book
    return books


def position_models(settings: Settings, books: dict[str, Book]) -> dict[str, tuple[str, str]]:
    return {root: (settings.underlying(root).position_model,
                   settings.underlying(root).flow_base_model) for root in books}


def encode_checkpoint(cp: dict) -> bytes:
    """msgpack; numpy arrays as ``{"dtype", "data"}`` with the raw bytes (fast, exact)."""
    out = {k: ({"dtype": v.dtype.str, "data": v.tobytes()} if isinstance(v, np.ndarray) else v)
           for k, v in cp.items()}
    return msgspec.msgpack.encode(out)


def decode_checkpoint(raw: bytes) -> dict:
    out = msgspec.msgpack.decode(raw)
    for k, v in out.items():
        if isinstance(v, dict) and set(v) == {"dtype", "data"}:
            out[k] = np.frombuffer(v["data"], dtype=np.dtype(v["dtype"])).copy()
    return out


#: niceness of the threads that work beside the tick path (refreshes, publish cycles)
BACKGROUND_NICE = 10


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
    def __init__(self, settings: Settings, source: Source, books: dict[str, Book], *,
                 redis: RedisSink | None = None, metrics: Metrics | None = None,
                 summary: bool = False, checkpoints: bool = False, tick_s: float = 0.05,
                 max_ticks: int | None = None, alerts=None, base: Path | None = None,
                 out=sys.stdout):
        self.settings = settings
        self.source = source
        self.pipeline = Pipeline(books, reeval_ms=settings.intervals.reeval_ms,
                                 reeval_bps=settings.intervals.reeval_bps,
                                 models=position_models(settings, books),
                                 background_refresh=True)
        self.redis = redis
        self.metrics = metrics
        self.alerts = alerts  # an AlertSender, or None
        self.base = base  # folder of the config file: relative paths in it start there
        self.summary = summary
        self.checkpoints = checkpoints
        self.tick_s = tick_s
        self.max_ticks = max_ticks  # stop after receiving this many ticks (demos, tests)
        self.out = out
        self.core = ThreadPoolExecutor(max_workers=1, thread_name_prefix="core")
        # publish cycles compute on frozen copies here; numba's threadsafe layer (see
        # monitor.core.jit) lets its parallel kernels run beside the core thread's
        self.levels = ThreadPoolExecutor(max_workers=1, thread_name_prefix="levels",
                                         initializer=background_thread)
        # whole-chain refreshes on copies of the books
        self.refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh",
                                            initializer=background_thread)
        self._refreshes: set[asyncio.Task] = set()
        self.regimes = {root: RegimeEngine(root, settings.regimes) for root in books}
        self.states: dict[str, dict] = {}  # last published state per root (metrics read it)
        self.events: list[dict] = []  # every event since start (also in Redis)
        self._token = None  # merged source token of the batches applied since the last commit
        self._stop = asyncio.Event()
        self._ingest_done = asyncio.Event()
        self._synced_ticks: dict = {}
        self._synced_rejected: dict = {}
        self.ticks_received = 0
        self.decode_errors = 0
        self._last_summary = (time.monotonic(), 0)
        self._last_publish = (time.monotonic(), 0)
        self.tps = 0.0
        if metrics is not None:
            metrics.set_provider(lambda: self.states)

    async def _core(self, fn, *args):
        """``fn(*args)`` on the core thread; then launch the refreshes it started."""
        out = await asyncio.get_running_loop().run_in_executor(self.core, fn, *args)
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

    async def restore(self) -> None:
        """Load each underlying's regime history from Redis (so a restart does not forget
        the lookback) and, in Kafka mode, its book checkpoint (resume exactly)."""
        if self.redis is None:
            return
        for root, engine in self.regimes.items():
            raw = await self.redis.load_blob(root, "regime")
            if raw is not None:
                try:
                    engine.restore(msgspec.json.decode(raw))
                except (KeyError, TypeError, ValueError, msgspec.DecodeError) as err:
                    log.warning("regime_history_ignored", underlying=root, error=str(err))
        if not self.checkpoints:
            return
        for root, s in self.pipeline.states.items():
            raw = await self.redis.load_checkpoint(root)
            if raw is None:
                continue
            try:
                await self._core(s.restore, decode_checkpoint(raw))
                log.info("checkpoint_restored", underlying=root, clock_ns=s.clock_ns)
            except (ValueError, KeyError, msgspec.DecodeError) as err:
                log.warning("checkpoint_ignored", underlying=root, error=str(err))

    async def run(self, duration: float | None = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests): stop() is called directly
        await self.restore()
        if self.alerts is not None:
            await self.alerts.start()
        await self.source.start()
        # Everything built so far (chains, books, numba and pandas internals: some 200k
        # objects) lives as long as the process. Out of the cyclic GC's sight, a full
        # collection no longer walks it: measured 90 ms per full collection before, a
        # pause that every tick arriving meanwhile would wait through.
        gc.collect()
        gc.freeze()
        switch_s = sys.getswitchinterval()  # put back on the way out (tests share a process)
        sys.setswitchinterval(self.settings.intervals.gil_switch_ms / 1000.0)
        if self.metrics is not None:
            self.metrics.set_ready(True)
        log.info("monitor_started", underlyings=sorted(self.pipeline.states),
                 duration_s=duration)
        ingest = asyncio.create_task(self._ingest(), name="ingest")
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
            timers.cancel()
            await asyncio.gather(timers, return_exceptions=True)
            await asyncio.gather(*self._refreshes, return_exceptions=True)
            await self._core(self.pipeline.maintenance, True)
            await self.publish_cycle()  # commits what was applied, before the source stops
            await self.source.stop()
            if self.redis is not None:
                await self.redis.close()
            if self.alerts is not None:
                await self.alerts.close()
            if self.metrics is not None:
                self.metrics.set_ready(False)
            self.core.shutdown(wait=True)
            self.levels.shutdown(wait=True)
            self.refresher.shutdown(wait=True)
            sys.setswitchinterval(switch_s)
            if self.summary:
                self._print_summary(final=True)
            log.info("monitor_stopped", ticks_received=self.ticks_received,
                     events=len(self.events))
        exc = ingest.exception() if ingest.done() and not ingest.cancelled() else None
        if exc is not None:
            log.error("ingest_failed", error=repr(exc))
            return 1
        return 0

    # -- tasks --------------------------------------------------------------------------
    async def _ingest(self) -> None:
        try:
            async for batch in self.source.batches():
                if batch.errors:
                    self.decode_errors += len(batch.errors)
                    for reason, context in batch.errors:
                        self.pipeline.counts.reject(OTHER, "message", reason, context)
                if batch.ticks:
                    await self._core(self.pipeline.apply, batch.ticks)
                    if self.metrics is not None:
                        lat = (time.time_ns() - batch.received_ns) / 1e9
                        for root in self.pipeline.states:
                            self.metrics.observe_tick_to_state(root, lat)
                self.ticks_received += sum(len(t) if type(t) is QuoteBlock else 1
                                           for t in batch.ticks)
                self._token = self.source.merge_tokens(self._token, batch.token)
                if self.max_ticks is not None and self.ticks_received >= self.max_ticks:
                    self._stop.set()
                if self._stop.is_set():
                    break
        finally:
            self._ingest_done.set()

    async def _timers(self) -> None:
        pub_s = self.settings.intervals.publish_ms / 1000.0
        next_pub = time.monotonic() + pub_s
        next_summary = time.monotonic() + 1.0
        while not self._stop.is_set():
            await asyncio.sleep(self.tick_s)
            try:
                await self._core(self.pipeline.maintenance)
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

    # -- publishing ---------------------------------------------------------------------
    def _freeze(self) -> tuple[object, list]:
        """On the core thread, between batches: the source token and a frozen copy of each
        changed underlying (about a millisecond), so the slow part of a publish cycle
        (levels, scenarios, regimes) runs beside tick processing, not in its way."""
        token, self._token = self._token, None
        frozen = []
        vol_index = dict(self.pipeline.vol_index)
        for root, s in self.pipeline.states.items():
            if not s.dirty and root in self.states:
                continue
            s.dirty = False
            frozen.append((root, s.frozen_copy(), vol_index))
        return token, frozen

    def _collect(self, frozen: list) -> list[tuple]:
        """On the levels thread: per underlying, state, profile, regime events, regime
        history and checkpoint, all of the frozen instant."""
        out = []
        for root, s, vol_index in frozen:
            engine = self.regimes[root]
            state, profile = build_state(s, engine.current)
            vix_symbol = self.settings.underlying(root).vol_index
            vix = vol_index.get(vix_symbol) if vix_symbol else None
            state["vol_index"] = None if vix is None else vix[1]
            events = engine.update(observation(s, state, state["vol_index"]))
            state["regime"] = engine.labels["gamma"]
            state["regimes"] = ",".join(engine.current)
            state["sizing"] = advice_for_state(state, self.settings, book=s.book,
                                               base=self.base)
            regime_blob = msgspec.json.encode(engine.to_dict())
            # the checkpoint also serves `monitor whatif --from-redis` (full revaluation on
            # the live book), so it is written whenever Redis is there
            cp = encode_checkpoint(s.checkpoint()) if self.redis is not None else None
            out.append((root, state, profile, events, cp, regime_blob))
        return out

    async def publish_cycle(self) -> None:
        token, frozen = await self._core(self._freeze)
        items = await asyncio.get_running_loop().run_in_executor(self.levels, self._collect,
                                                                 frozen)
        checkpoints_ok = True
        now = time.monotonic()
        t_prev, n_prev = self._last_publish
        tps = (self.ticks_received - n_prev) / max(now - t_prev, 1e-9)
        self._last_publish = (now, self.ticks_received)
        lag = self.source.lag()
        for root, state, profile, events, cp, regime_blob in items:
            state["quality"]["ticks_per_second"] = tps  # all underlyings of this process
            state["quality"]["consumer_lag"] = lag
            self.states[root] = state
            self.events.extend(events)
            if self.alerts is not None:
                self._alert(root, state, events)
            for ev in events:
                log.info("regime_change", underlying=root, regime=ev["regime"],
                         frm=ev["from"], to=ev["to"], message=ev["message"])
                if self.metrics is not None:
                    self.metrics.count_regime_change(root, ev["to"] or f"no_{ev['regime']}")
            if self.redis is not None:
                await self.redis.publish(root, redis_state(state), profile, events,
                                         computed_at=time.perf_counter())
                await self.redis.save_blob(root, "regime", regime_blob)
                if cp is not None:
                    stored = await self.redis.save_checkpoint(root, cp)
                    checkpoints_ok = checkpoints_ok and stored
        self._sync_counts()
        if token is None:
            return
        if not self.checkpoints or checkpoints_ok:
            await self.source.commit(token)
        else:  # keep the offsets for the next cycle: nothing past the checkpoint is committed
            self._token = self.source.merge_tokens(token, self._token)

    def _alert(self, root: str, state: dict, events: list[dict]) -> None:
        """Hand regime changes to the desk-chat sender (never blocks). The first label of
        each family after a cold start is not an alert: it is a classification, not a
        change (it still goes to Redis)."""
        a = self.settings.alerting
        ok, reason = data_quality(state, a.max_quote_staleness_s, a.max_oi_age_days)
        self.alerts.set_quality(ok, reason, underlying=root)
        for ev in events:
            if ev["from"] is not None or ev["regime"] != "gamma":
                self.alerts.submit(ev, quality_ok=ok, quality_reason=reason)

    def _sync_counts(self) -> None:
        counts = self.pipeline.counts
        for sample in counts.take_samples():
            log.warning("tick_rejected", **sample)
        if self.metrics is None:
            return
        for key, n in list(counts.ticks.items()):
            d = n - self._synced_ticks.get(key, 0)
            if d:
                self.metrics.count_ticks(*key, n=d)
                self._synced_ticks[key] = n
        for key, n in list(counts.rejected.items()):
            d = n - self._synced_rejected.get(key, 0)
            if d:
                self.metrics.count_rejected(*key, n=d)
                self._synced_rejected[key] = n

    def _print_summary(self, final: bool = False) -> None:
        now = time.monotonic()
        t0, n0 = self._last_summary
        self.tps = (self.ticks_received - n0) / max(now - t0, 1e-9)
        self._last_summary = (now, self.ticks_received)
        for root, st_ in sorted(self.states.items()):
            zg = st_.get("zero_gamma")
            line = (f"{root} spot {st_['spot']:,.2f}  GEX {money(st_['gex_usd_per_pct'])}/1%  "
                    f"zero-gamma {'n/a' if zg is None else f'{zg:,.0f}'}  "
                    f"walls C {fmt_level(st_.get('call_wall'))} / P {fmt_level(st_.get('put_wall'))}  "
                    f"regime {st_.get('regime') or '-'}  {self.tps:,.0f} ticks/s"
                    + ("  (final)" if final else ""))
            print(line, file=self.out, flush=True)

