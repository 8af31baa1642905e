"""In-memory source: feeds given batches through the same pipeline as Kafka (tests, demos).

Like bytewax's ``TestingSource``: each item becomes one :class:`~monitor.sources.base.Batch`
whose token is its sequence number (0, 1, ...); :meth:`MemorySource.commit` records tokens
in :attr:`MemorySource.committed` so a test can check what the service committed and when.
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
    """

    def __init__(self, batches: Iterable[Item] | AsyncIterable[Item], *,
                 encoding: str = "json", hold_open: bool = False, delay_s: float = 0.0):
        self._items = batches
        self._encoding = encoding
        self._hold_open = hold_open
        self._delay_s = delay_s
        self._stopped = asyncio.Event()
        self._started = False
        self._iterating = False
        #: tokens passed to :meth:`commit`, in order
        self.committed: list[object] = []
        #: number of batches handed out so far
        self.delivered = 0

    async def start(self) -> None:
        self._started = True

    async def stop(self) -> None:
        self._stopped.set()

    @property
    def last_committed(self) -> object | None:
        return self.committed[-1] if self.committed else None

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
            res = decode(bytes(item), self._encoding)
            return Batch(res.ticks, res.errors, seq, now, {})
        return Batch(list(item), [], seq, now, {})

    async def batches(self) -> AsyncIterator[Batch]:  # type: ignore[override]
        if self._iterating:
            raise RuntimeError("MemorySource.batches() is already being iterated")
        self._iterating = True
        seq = 0
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
                batch = self._to_batch(item, seq)
                seq += 1
                self.delivered = seq
                yield batch
            if self._hold_open:
                await self._stopped.wait()
        finally:
            self._iterating = False

    async def commit(self, token: object) -> None:
        if token is not None:
            self.committed.append(token)
