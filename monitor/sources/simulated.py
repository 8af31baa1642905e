"""The embedded source: a :class:`~monitor.sources.simulator.MarketSimulator` session (or
any iterable of tick batches) delivered in-process at a chosen wall-clock rate, through
the same :class:`~monitor.sources.base.Source` interface as Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable

from monitor.sources.base import Batch, Source


class PacedSource(Source):
    """Batches from ``batches`` (an iterable of tick lists), paced to ``rate_ticks_per_s``
    (``None`` = as fast as the consumer takes them). Offsets do not apply: commit is a no-op."""

    def __init__(self, batches: Iterable[list], rate_ticks_per_s: float | None = None):
        self._batches = batches
        self.rate = rate_ticks_per_s
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True

    async def batches(self) -> AsyncIterator[Batch]:  # type: ignore[override]
        start = time.monotonic()
        sent = 0
        for ticks in self._batches:
            if self._stopped:
                return
            if self.rate:
                ahead = sent / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            else:
                await asyncio.sleep(0)
            sent += len(ticks)
            yield Batch(ticks=ticks, errors=[], token=None, received_ns=time.time_ns())

    async def commit(self, token: object) -> None:
        return None
