"""The core thread and the threads beside it: the pipeline's one writer (ticks applied in
arrival order), the refresh thread (whole-chain passes on copies) and the levels thread
(publish cycles' computations), the latter two at a lower priority."""

from __future__ import annotations

import asyncio
import os
import threading

import numba
import structlog

log = structlog.get_logger("monitor.service")


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


class CoreThread:
    """The core thread of :class:`monitor.service.Monitor` (a part of it)."""

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

    def _shutdown_threads(self) -> None:
        self.core.shutdown(wait=True)
        self.levels.shutdown(wait=True)
        self.refresher.shutdown(wait=True)
