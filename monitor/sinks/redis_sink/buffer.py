"""Redis down: ``publish`` never raises and does no network I/O; the newest state/profile
per root is kept, events wait in a bounded buffer (oldest dropped first, counted), and a
background task reconnects and writes what was kept, in order, before newer writes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.logs import redact

NETWORK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError,
                   TimeoutError)


@dataclass(slots=True)
class Event:
    root: str
    fields: dict[str, str]
    json: str
    id: str | None = None  # assigned at the first send, kept for re-sends


@dataclass(slots=True)
class Pending:
    mapping: dict[str, str]
    profile: str
    t0: float  # perf_counter when the state was computed / handed over
    tape: dict[str, str] | None = None  # the hedge_pressure stream entry


class ReconnectBuffer:
    """The reconnect buffer of :class:`~monitor.sinks.redis_sink.RedisSink` (a part of it)."""

    @property
    def buffered_events(self) -> int:
        """Events not yet stored: waiting in the buffer or in a write still in flight (a
        flush takes them off the buffer before Redis has answered)."""
        return len(self._buffer) + self._inflight

    def _trim(self) -> None:
        """Drop the oldest buffered events beyond ``buffer_max``."""
        over = len(self._buffer) - self.settings.buffer_max
        if over > 0:
            for _ in range(over):
                self._buffer.popleft()
            self._dropped(over)
            self.log.debug("redis_events_dropped", events=over, total=self.dropped_events)

    def _dropped(self, n: int) -> None:
        """``n`` events dropped: the sink's count and the metric alike."""
        self.dropped_events += n
        if n and self.metrics is not None:
            self.metrics.count_redis_dropped(n)

    def _event_refused(self, ev: Event, error) -> None:
        """Redis refused the write of ``ev`` (not a network failure): dropped, named."""
        self.errors += 1
        self._dropped(1)
        self.log.error("redis_event_write_failed", underlying=ev.root, error=str(error))

    def _ensure_reconnect(self) -> None:
        if self._closed:
            return
        task = self._reconnect_task
        if task is None or task.done():
            try:
                self._reconnect_task = asyncio.get_running_loop().create_task(
                    self._reconnect_loop(), name="redis-reconnect")
            except RuntimeError:  # no running loop
                self._reconnect_task = None

    async def _reconnect_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.reconnect_interval)
            if self.connected or self._closed:
                return
            try:
                await asyncio.wait_for(self.client.ping(), self.connect_timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                continue
            self.connected = True
            self._top_checked.clear()
            waiting = len(self._buffer)
            await self._flush()
            if self.connected:
                self.log.info("redis_reconnected", url=redact(self.settings.url),
                              events_flushed=waiting - len(self._buffer),
                              dropped_events=self.dropped_events)
                return

    def _lost(self, exc: BaseException) -> None:
        self.errors += 1
        if self.connected:
            self.log.warning("redis_connection_lost", url=redact(self.settings.url),
                             error=type(exc).__name__, detail=str(exc)[:200],
                             buffered_events=len(self._buffer))
        self.connected = False
        self._top_checked.clear()
        self._trim()
        self._ensure_reconnect()

    async def _flush(self) -> None:
        """Write kept states and buffered events, in order, while connected."""
        async with self._lock:
            while self.connected and (self._pending or self._buffer):
                if not await self._flush_batch():
                    return

    async def _flush_batch(self) -> bool:
        states, self._pending = self._pending, {}
        batch: list[Event] = []
        while self._buffer and len(batch) < self.flush_batch:
            batch.append(self._buffer.popleft())
        timeout = self.op_timeout + 1e-4 * len(batch)
        self._inflight = len(batch)
        try:
            return await self._write_batch(states, batch, timeout)
        finally:
            self._inflight = 0
