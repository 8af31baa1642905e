"""In-memory source: feeds given batches through the same pipeline as Kafka (tests, the
embedded default, benchmarks).

Like bytewax's ``TestingSource``: each item becomes one :class:`~monitor.sources.base.Batch`
whose token is its sequence number (0, 1, ...); :meth:`MemorySource.commit` records the
latest token in :attr:`MemorySource.last_committed` (and, with ``record_commits``, every
token in :attr:`MemorySource.committed`) so a test can check what the service committed
and when. ``rate_ticks_per_s`` paces delivery to a wall-clock tick rate: the embedded
default is a :class:`~monitor.sources.simulator.MarketSimulator` session delivered this
way.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterable, AsyncIterator, Iterable, Union

from monitor.sources.base import Batch, Source
from monitor.wire.codec import decode
from monitor.wire.schema import Tick

__all__ = ["MemorySource"]

#: One item: a list of ticks, a ready-made Batch (its token is replaced), or an encoded
#: wire message (``bytes``, decoded with the source's ``encoding``).
Item = Union[list[Tick], Batch, bytes]


class MemorySource(Source):
    """A source over ``batches`` (an iterable or async iterable of items, see :data:`Item`).

    ``encoding``: how ``bytes`` items are decoded (``"json"`` / ``"binary"``).
    ``hold_open``: after the last item, keep :meth:`batches` open until :meth:`stop`
    (a long-running service under test does not see its source end).
    ``delay_s``: sleep between batches (paces a demo).
    ``rate_ticks_per_s``: deliver at most this many ticks per second of wall clock
    (counted from the first batch; ``None`` = as fast as the consumer takes them).
    ``record_commits``: keep every committed token in :attr:`committed` (tests); off, only
    the latest is kept, so an endless source does not grow. ``identity``: what
    :meth:`identity` says (default the class name; the embedded default names itself).
    """

    def __init__(self, batches: Iterable[Item] | AsyncIterable[Item], *,
                 encoding: str = "json", hold_open: bool = False, delay_s: float = 0.0,
                 rate_ticks_per_s: float | None = None, record_commits: bool = True,
                 identity: str | None = None):
        if rate_ticks_per_s is not None and not rate_ticks_per_s > 0:
            raise ValueError(f"rate_ticks_per_s must be > 0, got {rate_ticks_per_s!r}")
        self._items = batches
        self._encoding = encoding
        self._hold_open = hold_open
        self._delay_s = delay_s
        self.rate = rate_ticks_per_s
        self._record = record_commits
        self._identity = identity
        self._stopped = asyncio.Event()
        self._started = False
        self._iterating = False
        #: tokens passed to :meth:`commit`, in order (with ``record_commits``)
        self.committed: list[object] = []
        self._last_committed: object | None = None
        #: number of batches handed out so far
        self.delivered = 0

    async def start(self) -> None:
        self._started = True

    def identity(self) -> str:
        return self._identity or super().identity()

    async def stop(self) -> None:
        self._stopped.set()

    @property
    def last_committed(self) -> object | None:
        return self._last_committed

    async def _aiter_items(self) -> AsyncIterator[Item]:
        items = self._items
        if hasattr(items, "__aiter__"):
            async for item in items:  # type: ignore[union-attr]
                yield item
        else:
            for item in items:  # type: ignore[union-attr]
                yield item

    def _to_batch(self, item: Item, seq: int) -> Batch:
        now = time.time_ns()
        if isinstance(item, Batch):
            return Batch(list(item.ticks), list(item.errors), seq,
                         item.received_ns or now, dict(item.partition_info))
        if isinstance(item, (bytes, bytearray, memoryview)):
            res = decode(bytes(item), self._encoding, columns=True)
            return Batch(res.ticks, res.errors, seq, now, {})
        return Batch(list(item), [], seq, now, {})

    async def batches(self) -> AsyncIterator[Batch]:  # type: ignore[override]
        if self._iterating:
            raise RuntimeError("MemorySource.batches() is already being iterated")
        self._iterating = True
        seq = sent = 0
        start = time.monotonic()
        try:
            async for item in self._aiter_items():
                if self._stopped.is_set():
                    return
                if seq and self._delay_s > 0:
                    try:
                        await asyncio.wait_for(self._stopped.wait(), self._delay_s)
                        return
                    except asyncio.TimeoutError:
                        pass
                if self.rate:
                    ahead = sent / self.rate - (time.monotonic() - start)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                    if self._stopped.is_set():
                        return
                else:
                    await asyncio.sleep(0)  # let the loop breathe between batches
                batch = self._to_batch(item, seq)
                sent += len(batch.ticks)
                seq += 1
                self.delivered = seq
                yield batch
            if self._hold_open:
                await self._stopped.wait()
        finally:
            self._iterating = False

    async def commit(self, token: object) -> None:
        if token is not None:
            self._last_committed = token
            if self._record:
                self.committed.append(token)
