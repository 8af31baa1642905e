"""The ingest loop: each batch from the source handed to the core thread as it comes,
the next decoded while the one before is applied, each one's outcome settled in order."""

from __future__ import annotations

import asyncio
import time

import structlog

from monitor.ingest import OTHER
from monitor.wire.codec import WRONG_ENCODING
from monitor.wire.columns import count

log = structlog.get_logger("monitor.service")


class IngestLoop:
    """The ingest loop of :class:`monitor.service.Monitor` (a part of it)."""

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


def _where(token) -> str:
    """The batch a token covers, for a dead-letter header (``topic:partition<offset``)."""
    if isinstance(token, dict):
        return ",".join(f"{getattr(tp, 'topic', tp)}:{getattr(tp, 'partition', '')}<{off}"
                        for tp, off in token.items())
    return str(token)
