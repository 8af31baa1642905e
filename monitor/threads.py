"""How many threads a parallel numba kernel should use right now.

numba splits a ``prange`` loop into one static share per thread and waits for the slowest.
When another process keeps a core busy, the share that lands on that core waits for the
scheduler, and two threads run slower than one: measured on this 2-core machine with a
``while True: pass`` beside it, a whole-chain evaluation took 7.98 ms on 2 threads against
4.44 ms on 1 (quiet: 2.59 against 4.80), and smaller chunks did not help.

:class:`ThreadChooser` looks at the whole machine's CPU use (``/proc/stat``) minus this
process's own (``time.process_time``) over the last ``sample_s`` seconds: while the other
processes leave the cores the kernel wants idle, it returns ``max_threads``, else 1.
Where ``/proc/stat`` cannot be read (not Linux) it always returns ``max_threads``.
numba's thread count is per calling thread, so each service thread applies the choice to
its own kernels (:meth:`apply`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["ThreadChooser", "read_proc_stat"]

#: other processes may use this much of a core before a second thread stops paying
SPARE_CORE_FRACTION = 0.5


def read_proc_stat(path: str = "/proc/stat") -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, or None."""
    try:
        with open(path, "rb") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    ticks = [int(x) for x in fields[:8]]
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = sum(ticks) / hz
    idle = (ticks[3] + ticks[4]) / hz  # idle + iowait
    return total - idle, total


class ThreadChooser:
    """See the module docstring. ``reader`` and ``own_cpu`` are injectable for tests."""

    def __init__(self, max_threads: int, sample_s: float = 1.0, *,
                 cores: int | None = None,
                 reader: Callable[[], tuple[float, float] | None] = read_proc_stat,
                 own_cpu: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.monotonic):
        self.max_threads = max(1, int(max_threads))
        self.sample_s = sample_s
        self.cores = cores or os.cpu_count() or 1
        self._reader, self._own, self._clock = reader, own_cpu, clock
        self._last = None  # (wall, busy, own)
        self._choice = self.max_threads
        self.other_cores = 0.0  # the other processes' CPU use, in cores, last sample

    def threads(self) -> int:
        """The thread count for a parallel kernel now (re-sampled every ``sample_s``)."""
        if self.max_threads == 1:
            return 1
        now = self._clock()
        if self._last is not None and now - self._last[0] < self.sample_s:
            return self._choice
        stat = self._reader()
        if stat is None:
            return self.max_threads
        own = self._own()
        if self._last is not None:
            t0, busy0, own0 = self._last
            dt = now - t0
            if dt > 0:
                other = max(0.0, (stat[0] - busy0) - (own - own0)) / dt
                self.other_cores = other
                # all threads only while the others leave (nearly) as many cores idle
                ok = other <= self.cores - self.max_threads + SPARE_CORE_FRACTION
                self._choice = self.max_threads if ok else 1
        self._last = (now, stat[0], own)
        return self._choice

    def apply(self) -> int:
        """Set the calling thread's numba thread count to :meth:`threads`; returns it."""
        import numba

        n = self.threads()
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        return n
