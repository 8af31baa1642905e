"""The Redis sink: connection, the publish of a state, profile and events, and the write of
a publish cycle with its checkpoints (package docstring)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import deque
from collections.abc import Mapping, Sequence

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor import failpoints
from monitor.config import RedisSettings
from monitor.logs import redact
from monitor.sinks.base import CheckpointStore, PublishCycle, Sink
from monitor.sinks.redis_sink.buffer import NETWORK_ERRORS, Event, Pending, ReconnectBuffer
from monitor.sinks.redis_sink.codec import encode_state, tape_sample, to_json
from monitor.sinks.redis_sink.keys import RedisKeys
from monitor.sinks.redis_sink.read_back import ReadBack
from monitor.sinks.redis_sink.stream_ids import StreamIds


class RedisSink(RedisKeys, ReconnectBuffer, StreamIds, ReadBack, Sink, CheckpointStore):
    """Publishes state, profile and events of each underlying to Redis (module docstring).

    ``settings``: :class:`monitor.config.RedisSettings` (``password``, a ``SecretStr``,
    overrides any password in the URL and is never logged). ``logger``: a structlog
    logger (default ``monitor.sinks.redis``). ``metrics``: optional object with
    ``observe_state_to_redis(seconds)`` and ``count_redis_dropped(n)`` (e.g.
    :class:`monitor.sinks.metrics.Metrics`).

    Timeouts (seconds): ``op_timeout`` bounds one write round trip (pipeline) and is the
    socket timeout; ``connect_timeout`` bounds a connect/ping; ``reconnect_interval`` is
    the pause between reconnect attempts while Redis is down.

    Counters (attributes): ``published_states``, ``published_events``,
    ``buffered_events`` (not yet stored: in the buffer or in a write in flight), ``dropped_events``,
    ``duplicate_events`` (re-sent events Redis already had), ``errors`` (failed writes,
    encoding errors, command errors), ``last_publish_seconds`` (state computed -> written
    to Redis, of the last written state), ``connected``.
    """

    durable = True  # a cycle is stored only when its checkpoints are (Sink)

    def __init__(self, settings: RedisSettings, *, logger=None, metrics=None,
                 op_timeout: float = 0.5, connect_timeout: float = 0.5,
                 reconnect_interval: float = 0.5, health_check_interval: int = 5,
                 flush_batch: int = 1000):
        self.settings = settings
        self.log = logger if logger is not None else structlog.get_logger("monitor.sinks.redis")
        self.metrics = metrics
        self.op_timeout = op_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_interval = reconnect_interval
        self.health_check_interval = health_check_interval
        self.flush_batch = max(1, flush_batch)
        self.prefix = settings.prefix
        self.channel = f"{settings.prefix}:events"
        self.connected = False
        self.published_states = 0
        self.published_events = 0
        self.dropped_events = 0
        self.duplicate_events = 0
        self.errors = 0
        self.last_publish_seconds: float | None = None
        self._client: Redis | None = None
        self._buffer: deque[Event] = deque()
        self._inflight = 0  # events of the write in flight (off the buffer, not yet stored)
        self._pending: dict[str, Pending] = {}
        self._lock = asyncio.Lock()
        self._last_id: dict[str, tuple[int, int]] = {}
        self._top_checked: set[str] = set()
        self._reconnect_task: asyncio.Task | None = None
        self._started = False
        self._closed = False

    @property
    def client(self) -> Redis:
        """The ``redis.asyncio.Redis`` client (created on first use)."""
        if self._client is None:
            s = self.settings
            kwargs = {}
            if s.password is not None:
                kwargs["password"] = s.password.get_secret_value()
            if s.username is not None:  # a Redis 6 ACL user
                kwargs["username"] = s.username
            if s.url.startswith("rediss://") and s.ssl_ca_certs:  # TLS: whose CA to trust
                kwargs["ssl_ca_certs"] = s.ssl_ca_certs
            self._client = Redis.from_url(
                s.url,
                decode_responses=True,
                health_check_interval=self.health_check_interval,
                retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), 1),
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                socket_timeout=self.op_timeout,
                socket_connect_timeout=self.connect_timeout,
                **kwargs,
            )
            if s.password is not None:  # the URL's password must not win over the secret
                self._client.connection_pool.connection_kwargs["password"] = kwargs["password"]
        return self._client

    def stats(self) -> dict:
        return {"connected": self.connected, "published_states": self.published_states,
                "published_events": self.published_events,
                "buffered_events": self.buffered_events, "dropped_events": self.dropped_events,
                "duplicate_events": self.duplicate_events, "errors": self.errors,
                "last_publish_seconds": self.last_publish_seconds}

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> bool:
        """Connect. Never raises: when Redis is unreachable, logs one warning, leaves
        ``connected`` False and keeps retrying in the background. Returns ``connected``."""
        self._started = True
        self._closed = False
        client = self.client
        try:
            await asyncio.wait_for(client.ping(), self.connect_timeout * 2)
        except Exception as exc:
            self.connected = False
            self.log.warning("redis_unavailable", url=redact(self.settings.url),
                             error=type(exc).__name__, detail=str(exc)[:200],
                             retry_every_s=self.reconnect_interval)
            self._ensure_reconnect()
            return False
        self.connected = True
        self._top_checked.clear()
        self.log.info("redis_connected", url=redact(self.settings.url))
        if self._pending or self._buffer:
            await self._flush()
        return self.connected

    async def close(self) -> None:
        """Write what is kept if Redis is up, stop reconnecting, close the connection.
        Later ``publish`` calls are ignored (until ``start`` again)."""
        self._closed = True
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.flush()
        if self._buffer:
            self.log.warning("redis_events_unsent", events=len(self._buffer))
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception:
                pass
            self._client = None
        self.connected = False

    async def __aenter__(self) -> RedisSink:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def setup(self) -> None:
        """Connect, unless :meth:`start` already ran (it keeps retrying by itself)."""
        if not self._started:
            await self.start()

    async def write(self, cycle: PublishCycle) -> bool:
        """State, profile and events of each underlying, then its regime history and
        checkpoint; True when every checkpoint of the cycle was stored."""
        stored = True
        for u in cycle.underlyings:
            await self.publish(u.root, u.state, u.profile, u.events,
                               computed_at=time.perf_counter())
            failpoints.hit("state_stored")
            if u.regime_history is not None:
                await self.save_blob(u.root, "regime", u.regime_history)
            if u.checkpoint is not None:
                ok = (not failpoints.hit("checkpoint_write")
                      and await self.save_blob(u.root, "checkpoint", u.checkpoint))
                stored = ok and stored
        return stored

    async def flush(self) -> None:
        if self.connected and (self._pending or self._buffer):
            await self._flush()

    # -- publishing ---------------------------------------------------------------------
    async def publish(self, root: str, state: Mapping, profile: Sequence,
                      events: Sequence[Mapping] = (), *,
                      computed_at: float | None = None) -> None:
        """Write ``state`` (hash), ``profile`` (JSON) and ``events`` (stream + pub/sub) of
        ``root`` in one pipeline. Never raises; while Redis is down returns at once and
        keeps the data (module docstring). ``computed_at``: ``time.perf_counter()`` when
        the state was computed (default: now), the start of ``last_publish_seconds``."""
        if self._closed:
            self.log.debug("redis_publish_after_close", underlying=root)
            return
        t0 = time.perf_counter() if computed_at is None else computed_at
        try:
            self._pending[root] = Pending(encode_state(state), to_json(list(profile)), t0,
                                           tape_sample(state))
        except Exception as exc:
            self.errors += 1
            self.log.error("redis_state_encode_failed", underlying=root, error=repr(exc))
        for event in events:
            try:
                self._buffer.append(self._make_event(root, event))
            except Exception as exc:
                self.errors += 1
                self.log.error("redis_event_encode_failed", underlying=root, error=repr(exc))
        if not self.connected:
            self._trim()
            if self._started:
                self._ensure_reconnect()
            return
        await self._flush()

    def _make_event(self, root: str, event: Mapping) -> Event:
        body = dict(event)
        body.setdefault("underlying", root)
        ts_ns = body.get("ts_ns")
        ts_ns = int(ts_ns) if ts_ns is not None else time.time_ns()
        text = to_json(body)
        kind = body.get("kind")
        return Event(root, {"event": text, "kind": "" if kind is None else str(kind),
                             "ts_ns": str(ts_ns)}, text)

    async def _write_batch(self, states: dict, batch: list, timeout: float) -> bool:
        def restore():
            for root, pending in states.items():
                self._pending.setdefault(root, pending)  # a newer one wins
            self._buffer.extendleft(reversed(batch))

        try:
            # The top of each stream, once per root and connection, so our ids go above.
            roots = [r for r in dict.fromkeys(ev.root for ev in batch if ev.id is None)
                     if r not in self._top_checked]
            if roots:
                pipe = self.client.pipeline(transaction=False)
                for r in roots:
                    pipe.xrevrange(self.events_key(r), "+", "-", count=1)
                tops = await asyncio.wait_for(pipe.execute(raise_on_error=False),
                                              self.op_timeout)
                for r, top in zip(roots, tops):
                    if isinstance(top, list) and top:
                        self._bump_id(r, top[0][0])
                    self._top_checked.add(r)
            for ev in batch:
                if ev.id is None:
                    ev.id = self._next_id(ev.root)

            pipe = self.client.pipeline(transaction=False)
            for root, pending in states.items():
                if pending.mapping:
                    pipe.hset(self.state_key(root), mapping=pending.mapping)
                pipe.set(self.profile_key(root), pending.profile)
                if pending.tape:
                    pipe.xadd(self.tape_key(root), pending.tape,
                              maxlen=self.settings.stream_maxlen, approximate=True)
            maxlen = self.settings.stream_maxlen
            for ev in batch:
                pipe.xadd(self.events_key(ev.root), ev.fields, id=ev.id, maxlen=maxlen,
                          approximate=True)
                pipe.publish(self.channel, ev.json)
            results = await asyncio.wait_for(pipe.execute(raise_on_error=False), timeout)
        except asyncio.CancelledError:
            restore()
            raise
        except NETWORK_ERRORS as exc:
            restore()
            self._lost(exc)
            return False
        except Exception as exc:  # not a network failure: do not retry this batch forever
            self.errors += 1
            self._dropped(len(batch))
            self.log.error("redis_publish_failed", error=repr(exc), events_dropped=len(batch))
            return True

        done = time.perf_counter()
        i = 0
        for root, pending in states.items():
            n = (2 if pending.mapping else 1) + (1 if pending.tape else 0)
            failed = [r for r in results[i:i + n] if isinstance(r, Exception)]
            i += n
            if failed:
                self.errors += 1
                self.log.error("redis_state_write_failed", underlying=root, error=str(failed[0]))
                continue
            self.published_states += 1
            self.last_publish_seconds = done - pending.t0
            if self.metrics is not None:
                self.metrics.observe_state_to_redis(self.last_publish_seconds)
        retry: list[Event] = []
        for ev in batch:
            res = results[i]
            i += 2
            if isinstance(res, ResponseError) and "equal or smaller" in str(res):
                retry.append(ev)
            elif isinstance(res, Exception):
                self._event_refused(ev, res)
            else:
                self.published_events += 1
        if retry:
            return await self._resolve_id_conflicts(retry)
        return True

    async def save_blob(self, root: str, name: str, payload: bytes) -> bool:
        """Store ``payload`` (opaque bytes, e.g. a book checkpoint or the regime engine's
        history) at ``{prefix}:{root}:{name}``; False if Redis is down or the write failed
        (for a checkpoint the caller then must not commit source offsets)."""
        if not self.connected:
            return False
        try:
            await asyncio.wait_for(
                self.client.set(self.blob_key(root, name), base64.b64encode(payload).decode()),
                self.op_timeout * 4)
            return True
        except Exception as exc:  # noqa: BLE001 - never raise into the service
            self.errors += 1
            self.log.warning("redis_blob_write_failed", root=root, name=name,
                             error=type(exc).__name__)
            return False
