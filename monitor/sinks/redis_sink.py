"""Redis sink: the latest state and profile of each underlying, and its event stream.

Layout (``P`` = ``settings.prefix``, ``R`` = the root, e.g. ``SPX``)::

    P:R:state    hash    one field per top-level key of the state dict (see below)
    P:R:profile  string  JSON array: the profile rows as given (e.g. snapshot by_strike)
    P:R:events   stream  XADD ... MAXLEN ~ settings.stream_maxlen, entry fields:
                           event  JSON object of the event (+ "underlying": R if absent)
                           kind   event["kind"] ("" if absent)
                           ts_ns  event["ts_ns"] (int ns), else the publish time
    P:R:hedge_pressure  stream  one entry per published state (the publish cycle, 1 s by
                           default), MAXLEN ~ settings.stream_maxlen, for charts of the
                           hedge-pressure tape: ts_ns (the state's as_of_ns), spot, total,
                           0dte, next, later (USD, session running sums, + = dealers buy)
    P:events     pub/sub channel: the same event JSON, fire-and-forget

State hash field values (strings, readable with ``redis-cli HGETALL``):
``str`` as is; ``None`` (and NaN/inf) -> ``null``; ``bool`` -> ``true``/``false``;
numbers -> their JSON/shortest-repr text (``5800.25``, ``-1.2e+09``, ``42``); ``dict``,
``list`` and anything else -> JSON. :meth:`RedisSink.read_state` reverses this: a field
that parses as a JSON number, ``true``/``false``/``null``, array or object is decoded,
anything else is returned as the string (so a string value that looks like a number
comes back as a number). Fields are updated with ``HSET``; a key absent from a later
state keeps its older value (publish states with a fixed key set).

Stream entry IDs are assigned by the sink (``<ms>-<seq>``, increasing per stream, above
the stream's top item read once per root and connection) when an event is first sent,
and kept when it is re-sent after a failure: a re-sent event that Redis already holds
is recognised (XADD answers "equal or smaller", XRANGE finds the id) and not added
twice, so after an outage each event is in the stream exactly once and in order. (If
another writer moves the stream's top past our ids meanwhile, such events are appended
with ``*``: kept, but after that writer's entries.) Pub/sub messages may be repeated
after a failed pipeline: the stream is the durable path.

Redis down: ``publish`` never raises and does no network I/O; the newest state/profile
per root is kept (older ones are overwritten), events wait in a buffer of
``settings.buffer_max`` (oldest dropped first, counted in ``dropped_events``). A
background task pings every ``reconnect_interval`` seconds and, once Redis answers,
writes the kept states and the buffered events in order before newer ones.

As a :class:`~monitor.sinks.base.Sink` (durable) each cycle writes, per underlying, the
state, profile and events (above), then the regime history (``P:R:regime``) and the
checkpoint (``P:R:checkpoint``, base64 of the book's inputs); :meth:`RedisSink.write`
returns True only when every checkpoint of the cycle was stored, so the service commits
no offset past a checkpoint that is not in Redis. As the
:class:`~monitor.sinks.base.CheckpointStore` it loads them back after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
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
from monitor.tape import EXPIRY_BUCKETS

_NETWORK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError,
                   TimeoutError)


def numpy_enc_hook(obj):
    """msgspec ``enc_hook`` for numpy scalars and arrays (shared by the sinks)."""
    item = getattr(obj, "item", None)  # numpy scalar
    if callable(item) and getattr(obj, "shape", None) == ():
        return item()
    tolist = getattr(obj, "tolist", None)  # numpy array
    if callable(tolist):
        return tolist()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=numpy_enc_hook)
_decoder = msgspec.json.Decoder()


def to_json(obj) -> str:
    """Strict JSON text (NaN/inf -> null; numpy scalars and arrays accepted)."""
    return _encoder.encode(obj).decode()


def encode_field(value) -> str:
    """One state hash field value (see the module docstring)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return to_json(value)


def decode_field(text: str):
    """Inverse of :func:`encode_field` (JSON scalars/containers decoded, else the string)."""
    if not text:
        return text
    c = text[0]
    if c in "-0123456789tfn[{":
        try:
            value = _decoder.decode(text)
        except msgspec.DecodeError:
            return text
        return value
    return text


def encode_state(state: Mapping) -> dict[str, str]:
    return {str(k): encode_field(v) for k, v in state.items()}


@dataclass(slots=True)
class _Event:
    root: str
    fields: dict[str, str]
    json: str
    id: str | None = None  # assigned at the first send, kept for re-sends


@dataclass(slots=True)
class _Pending:
    mapping: dict[str, str]
    profile: str
    t0: float  # perf_counter when the state was computed / handed over
    tape: dict[str, str] | None = None  # the hedge_pressure stream entry


def tape_sample(state: Mapping) -> dict[str, str] | None:
    """The ``P:R:hedge_pressure`` stream entry of a state (None without a tape)."""
    hp = state.get("hedge_pressure_usd")
    if not isinstance(hp, Mapping):
        return None
    by = hp.get("by_expiry") or {}
    return {"ts_ns": encode_field(state.get("as_of_ns")), "spot": encode_field(state.get("spot")),
            "total": encode_field(hp.get("total")),
            **{k: encode_field(by.get(k)) for k in EXPIRY_BUCKETS}}


class RedisSink(Sink, CheckpointStore):
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
        self._buffer: deque[_Event] = deque()
        self._inflight = 0  # events of the write in flight (off the buffer, not yet stored)
        self._pending: dict[str, _Pending] = {}
        self._lock = asyncio.Lock()
        self._last_id: dict[str, tuple[int, int]] = {}
        self._top_checked: set[str] = set()
        self._reconnect_task: asyncio.Task | None = None
        self._started = False
        self._closed = False

    # -- keys ---------------------------------------------------------------------------
    def state_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:state"

    def profile_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:profile"

    def events_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:events"

    def tape_key(self, root: str) -> str:
        return f"{self.prefix}:{root}:hedge_pressure"

    @property
    def buffered_events(self) -> int:
        """Events not yet stored: waiting in the buffer or in a write still in flight (a
        flush takes them off the buffer before Redis has answered)."""
        return len(self._buffer) + self._inflight

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

    # -- the Sink interface -------------------------------------------------------------
    durable = True

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

    async def load(self, root: str, name: str) -> bytes | None:
        return await self.load_blob(root, name)

    async def __aexit__(self, *exc) -> None:
        await self.close()

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
            self._pending[root] = _Pending(encode_state(state), to_json(list(profile)), t0,
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

    def _make_event(self, root: str, event: Mapping) -> _Event:
        body = dict(event)
        body.setdefault("underlying", root)
        ts_ns = body.get("ts_ns")
        ts_ns = int(ts_ns) if ts_ns is not None else time.time_ns()
        text = to_json(body)
        kind = body.get("kind")
        return _Event(root, {"event": text, "kind": "" if kind is None else str(kind),
                             "ts_ns": str(ts_ns)}, text)

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

    def _event_refused(self, ev: _Event, error) -> None:
        """Redis refused the write of ``ev`` (not a network failure): dropped, named."""
        self.errors += 1
        self._dropped(1)
        self.log.error("redis_event_write_failed", underlying=ev.root, error=str(error))

    def _next_id(self, root: str) -> str:
        ms = time.time_ns() // 1_000_000
        last_ms, last_seq = self._last_id.get(root, (0, -1))
        new = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        self._last_id[root] = new
        return f"{new[0]}-{new[1]}"

    def _bump_id(self, root: str, stream_id: str | None) -> None:
        if not stream_id:
            return
        ms, _, seq = stream_id.partition("-")
        top = (int(ms), int(seq or 0))
        if top > self._last_id.get(root, (0, -1)):
            self._last_id[root] = top

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
        batch: list[_Event] = []
        while self._buffer and len(batch) < self.flush_batch:
            batch.append(self._buffer.popleft())
        timeout = self.op_timeout + 1e-4 * len(batch)
        self._inflight = len(batch)
        try:
            return await self._write_batch(states, batch, timeout)
        finally:
            self._inflight = 0

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
        except _NETWORK_ERRORS as exc:
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
        retry: list[_Event] = []
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

    async def _resolve_id_conflicts(self, events: list[_Event]) -> bool:
        """Events whose explicit id Redis refused: already there (a re-send) or the
        stream moved past our ids (another writer): append those with ``*``."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for ev in events:
                pipe.xrange(self.events_key(ev.root), ev.id, ev.id, count=1)
            found = await asyncio.wait_for(pipe.execute(raise_on_error=False), self.op_timeout)
            missing = []
            for ev, hit in zip(events, found):
                if isinstance(hit, list) and hit:
                    self.duplicate_events += 1
                    self.published_events += 1
                else:
                    missing.append(ev)
            if missing:
                pipe = self.client.pipeline(transaction=False)
                for ev in missing:
                    pipe.xadd(self.events_key(ev.root), ev.fields, id="*",
                              maxlen=self.settings.stream_maxlen, approximate=True)
                added = await asyncio.wait_for(pipe.execute(raise_on_error=False),
                                               self.op_timeout)
                for ev, new_id in zip(missing, added):
                    if isinstance(new_id, Exception):
                        self._event_refused(ev, new_id)
                    else:
                        self.published_events += 1
                        self._bump_id(ev.root, new_id)
                self.log.warning("redis_stream_id_conflict", events=len(missing))
        except asyncio.CancelledError:
            self._buffer.extendleft(reversed(events))
            raise
        except _NETWORK_ERRORS as exc:
            self._buffer.extendleft(reversed(events))
            self._lost(exc)
            return False
        return True

    # -- checkpoints (resume after a restart) ---------------------------------------------
    def blob_key(self, root: str, name: str) -> str:
        return f"{self.settings.prefix}:{root}:{name}"

    def checkpoint_key(self, root: str) -> str:
        return self.blob_key(root, "checkpoint")

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

    async def load_blob(self, root: str, name: str) -> bytes | None:
        """The blob, or None if there is none or Redis is unreachable."""
        try:
            raw = await asyncio.wait_for(self.client.get(self.blob_key(root, name)),
                                         self.op_timeout * 4)
        except Exception:  # noqa: BLE001
            return None
        return None if raw is None else base64.b64decode(raw)

    # -- reading (tests, the whatif command) ----------------------------------------------
    async def read_state(self, root: str) -> dict:
        """The state hash of ``root``, fields decoded (:func:`decode_field`); ``{}`` if
        none. Raises redis errors when Redis is unreachable."""
        raw = await self.client.hgetall(self.state_key(root))
        return {k: decode_field(v) for k, v in raw.items()}

    async def read_profile(self, root: str) -> list:
        """The profile of ``root`` (``[]`` if none)."""
        raw = await self.client.get(self.profile_key(root))
        return [] if raw is None else _decoder.decode(raw)

    async def read_events(self, root: str, last_id: str = "0", count: int | None = None
                          ) -> list[dict]:
        """Stream entries of ``root`` after ``last_id`` (exclusive), oldest first:
        ``{"id", "kind", "ts_ns", "event"}`` with ``event`` the decoded event dict."""
        start = "-" if last_id in ("0", "0-0", "-") else f"({last_id}"
        entries = await self.client.xrange(self.events_key(root), start, "+", count=count)
        out = []
        for entry_id, fields in entries:
            ts = fields.get("ts_ns")
            out.append({"id": entry_id, "kind": fields.get("kind", ""),
                        "ts_ns": int(ts) if ts else None,
                        "event": _decoder.decode(fields["event"]) if "event" in fields else None})
        return out
