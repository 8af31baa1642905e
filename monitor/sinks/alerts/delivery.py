"""Desk-chat alert delivery. :class:`AlertSender` delivers regime events (formatted by
:mod:`monitor.sinks.alerts.format`) without ever blocking the caller:


- ``submit(event, quality_ok=..., quality_reason=...)`` is synchronous and does no I/O:
  dictionary work and ``put_nowait`` on one bounded ``asyncio.Queue`` per target
  (``queue_max`` deliveries each). A full queue drops the alert for that target
  (counted in ``dropped``, logged at most once a minute). Call it from the event loop's
  thread. One background task per target sends its queue in order (a failing Teams
  endpoint does not delay Slack).
- Deduplication: an alert whose ``(underlying, regime, to)`` equals the last alert
  accepted for that ``(underlying, regime)`` less than ``dedup_window_s`` ago is not
  sent (``deduplicated``). An alert with a different ``to`` in between (the regime
  changed and changed back) is news, so it is sent (rate-limited below).
- Rate limit per ``(underlying, regime)``: a token bucket of ``rate_limit_burst``
  tokens (default ``rate_limit_per_min``) refilled at ``rate_limit_per_min`` per
  minute. Alerts over the limit are held, not coalesced: kept in order per key and
  sent one per token as tokens refill (``rate_limited`` counts them). At most
  ``queue_max`` alerts wait in all keys together; more are dropped.
- Delivery: POST with ``timeout_s`` bounding each attempt. 2xx = ``sent``. 5xx, 408,
  timeouts and transport errors (connect/read/write/protocol) are retried up to
  ``max_retries`` times after ``uniform(d/2, d)`` seconds, ``d = min(backoff_cap_s,
  backoff_base_s * 2**n)`` (n = 0, 1, ...); 429 waits ``Retry-After`` (seconds or an
  HTTP date, at most ``retry_after_max_s``; without the header the backoff above) and
  counts as a retry. Any other status (400, 403, 404, 410, 3xx) is a permanent failure,
  not retried. A failure (permanent, or retries exhausted) counts once in ``failed`` and
  logs one warning with the status (or error type), the target kind and the endpoint's
  host only. A request that timed out may still have been posted by the server: chat
  webhooks have no idempotency key, so a rare duplicate message is possible (each
  request carries an ``X-Dealerflow-Alert-Id`` header, the same on every retry).
- Data-quality hold: quality is tracked per underlying. ``submit(..., quality_ok=False,
  quality_reason="stale quotes")`` (or ``set_quality(False, reason, underlying=...)``;
  ``underlying=None`` = every underlying) holds that underlying's alerts back: not sent,
  the latest per ``(underlying, regime)`` kept (an older one is replaced, counted in
  ``coalesced``). When quality returns (``submit(..., quality_ok=True)`` for that
  underlying, or ``set_quality(True, ...)``), the held alerts are released in order
  through deduplication and the rate limit, each with this extra line (the ``note``)::

      Held back from HH:MM EDT while data quality was poor (<reason>); resumed

  ``HH:MM EDT`` (``YYYY-MM-DD HH:MM EDT`` when not today; New York) = when the first alert of that
  key was held (wall clock); ``<reason>`` = the distinct reasons given while it was
  held, joined by ``"; "`` (``reason not given`` when none).
- ``close(timeout)`` stops accepting alerts, lets queued and rate-limited alerts go out
  until ``timeout`` seconds have passed, then cancels; what was left (including alerts
  still held for quality) is counted in ``dropped`` and logged as one warning.
- Counters (``stats()``): ``sent``, ``failed``, ``retried``, ``dropped`` count
  deliveries (one alert to one target); ``deduplicated``, ``held``, ``coalesced``,
  ``rate_limited`` count alerts.

Secrets: webhook URLs are kept as ``SecretStr``; logs carry ``redact(url)`` (scheme and
host), exception text is never logged (only its type), response bodies are logged with
the URL's path and query masked, ``repr()`` shows kinds and hosts only. The ``httpx``
logger (which logs each request's full URL at INFO) gets a filter that redacts URLs.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import SecretStr

from monitor.logs import redact
from monitor.sinks.alerts.format import FORMATTERS, alert_id, encode, held_note

__all__ = ["TARGET_KINDS", "AlertSender", "alert_sender_from_settings", "alert_sender_for",
           "parse_retry_after"]

TARGET_KINDS = ("slack", "teams", "generic")


def parse_retry_after(value: str | None, now_wall: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        v = float(value)
        return max(0.0, v) if math.isfinite(v) else None
    except ValueError:
        pass
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    now_wall = time.time() if now_wall is None else now_wall
    return max(0.0, dt.timestamp() - now_wall)


# ---------------------------------------------------------------------------------------
# The httpx logger writes each request's full URL at INFO: redact it.


class _RedactHttpxUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(
                redact(str(a)) if isinstance(a, httpx.URL)
                or (isinstance(a, str) and a.lower().startswith(("http://", "https://")))
                else a for a in args)
        elif isinstance(record.msg, str) and "://" in record.msg and not args:
            record.msg = " ".join(redact(w) if w.lower().startswith(("http://", "https://"))
                                  else w for w in record.msg.split(" "))
        return True


def _install_httpx_log_filter() -> None:
    lg = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in lg.filters):
        lg.addFilter(_RedactHttpxUrls())


# ---------------------------------------------------------------------------------------
# The sender

_COUNTERS = ("sent", "failed", "retried", "dropped", "deduplicated", "held", "coalesced",
             "rate_limited")
_TARGET_COUNTERS = ("sent", "failed", "retried", "dropped")


@dataclass
class _Alert:
    event: dict
    note: str | None
    key: tuple[str, str]
    id: str


@dataclass
class _Held:
    event: dict
    since_wall: float
    reasons: list[str]


@dataclass
class _Poor:
    since_wall: float
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str) -> None:
        if reason and reason not in self.reasons and len(self.reasons) < 5:
            self.reasons.append(reason)


@dataclass
class _Bucket:
    tokens: float
    t: float


class _Target:
    """One webhook. The URL is a ``SecretStr``; ``repr`` shows the kind and host only."""

    __slots__ = ("kind", "url", "endpoint", "queue", "task", "inflight", "counts")

    def __init__(self, kind: str, url: SecretStr, queue_max: int):
        self.kind = kind
        self.url = url
        self.endpoint = redact(url)
        self.queue: asyncio.Queue[_Alert] = asyncio.Queue(maxsize=queue_max)
        self.task: asyncio.Task | None = None
        self.inflight: _Alert | None = None
        self.counts = dict.fromkeys(_TARGET_COUNTERS, 0)

    def __repr__(self) -> str:
        return f"<alert target {self.kind} {self.endpoint}>"


class AlertSender:
    """Sends alert events to the configured webhooks from background tasks; see the
    module docstring for deduplication, rate limit, retries, the data-quality hold and
    the counters.

    ``targets``: ``{"slack" | "teams" | "generic": url}`` (``str`` or ``SecretStr``; a
    ``None``/empty URL is skipped). ``client``: an ``httpx.AsyncClient`` to use (not
    closed by :meth:`close`); default: one made by :meth:`start`. ``clock``: monotonic
    seconds for the dedup window and the rate limit; ``wall_clock``: epoch seconds for
    the "held back from" time. ``close_timeout_s``: :meth:`close`'s default timeout.
    """

    def __init__(self, targets: Mapping[str, str | SecretStr | None], *,
                 queue_max: int = 1000, dedup_window_s: float = 300.0,
                 rate_limit_per_min: float = 6.0, rate_limit_burst: int | None = None,
                 max_retries: int = 5, backoff_base_s: float = 0.5, backoff_cap_s: float = 30.0,
                 retry_after_max_s: float = 300.0, timeout_s: float = 5.0,
                 close_timeout_s: float = 5.0, client: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, logger=None):
        if queue_max < 1:
            raise ValueError("queue_max must be >= 1")
        if rate_limit_per_min <= 0:
            raise ValueError("rate_limit_per_min must be > 0")
        if max_retries < 0 or timeout_s <= 0 or backoff_base_s < 0 or backoff_cap_s < 0:
            raise ValueError("max_retries, backoff_base_s, backoff_cap_s must be >= 0 and "
                             "timeout_s > 0")
        self._targets: list[_Target] = []
        for kind, url in targets.items():
            if kind not in TARGET_KINDS:
                raise ValueError(f"unknown alert target kind {kind!r}; one of "
                                 f"{', '.join(TARGET_KINDS)}")
            if url is None:
                continue
            secret = url if isinstance(url, SecretStr) else SecretStr(str(url))
            raw = secret.get_secret_value().strip()
            if not raw:
                continue
            try:
                parts = urlsplit(raw)
                scheme = parts.scheme.lower()
                ok = scheme in ("http", "https") and bool(parts.hostname)
            except ValueError:
                scheme, ok = "", False
            if not ok:  # the URL itself stays out of the message
                raise ValueError(f"{kind} webhook URL must be an http(s) URL with a host "
                                 f"(scheme: {scheme[:10] or 'none'!r})")
            self._targets.append(_Target(kind, SecretStr(raw), queue_max))
        if not self._targets:
            raise ValueError("no alert webhook URL given")
        self.queue_max = queue_max
        self.dedup_window_s = dedup_window_s
        self.rate_limit_per_min = rate_limit_per_min
        self.rate_limit_burst = max(1, int(rate_limit_burst if rate_limit_burst is not None
                                           else rate_limit_per_min))
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.retry_after_max_s = retry_after_max_s
        self.timeout_s = timeout_s
        self.close_timeout_s = close_timeout_s
        self._client = client
        self._own_client = False
        self._clock = clock
        self._wall = wall_clock
        self.log = logger if logger is not None else structlog.get_logger("monitor.sinks.alerts")
        self.counts = dict.fromkeys(_COUNTERS, 0)
        self._last: dict[tuple[str, str], tuple[object, float]] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._backlog: dict[tuple[str, str], deque[_Alert]] = {}
        self._backlog_n = 0
        self._release_handle: asyncio.TimerHandle | None = None
        self._held: dict[tuple[str, str], _Held] = {}
        self._poor: dict[str, _Poor] = {}
        self._poor_all: _Poor | None = None
        self._started = False
        self._closed = False
        self._last_drop_log: float | None = None
        _install_httpx_log_filter()

    def __repr__(self) -> str:
        kinds = ", ".join(f"{t.kind}={t.endpoint}" for t in self._targets)
        return f"<AlertSender {kinds} started={self._started} closed={self._closed}>"

    @property
    def target_kinds(self) -> list[str]:
        return [t.kind for t in self._targets]

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the sender tasks (and the HTTP client, unless one was given)."""
        if self._started:
            return
        if self._closed:
            raise RuntimeError("AlertSender is closed")
        self._started = True
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
            self._own_client = True
        for t in self._targets:
            t.task = asyncio.create_task(self._run(t), name=f"alerts-{t.kind}")
        self._schedule_release()

    async def __aenter__(self) -> AlertSender:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self, timeout: float | None = None) -> None:
        """Stop accepting alerts; send what can be sent within ``timeout`` seconds
        (default ``close_timeout_s``), rate limit and retries included; then stop. What
        is left is counted in ``dropped`` and logged (one warning)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, self.close_timeout_s if timeout is None else timeout)
        if self._started:
            while self._pending_deliveries() and loop.time() < deadline:
                await asyncio.sleep(min(0.01, max(0.0, deadline - loop.time())))
        queued = sum(t.queue.qsize() + (t.inflight is not None) for t in self._targets)
        n = len(self._targets)
        limited, held = self._backlog_n, len(self._held)
        for t in self._targets:
            left = t.queue.qsize() + (t.inflight is not None) + (limited + held)
            t.counts["dropped"] += left
        unsent = queued + (limited + held) * n
        self.counts["dropped"] += unsent
        if unsent:
            self.log.warning("alerts_unsent_at_close", deliveries=unsent, queued=queued,
                             rate_limited_alerts=limited, held_for_quality_alerts=held)
        if self._release_handle is not None:
            self._release_handle.cancel()
            self._release_handle = None
        self._backlog.clear()
        self._backlog_n = 0
        self._held.clear()
        tasks = [t.task for t in self._targets if t.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for t in self._targets:
            t.task = None
            t.inflight = None
            while not t.queue.empty():
                t.queue.get_nowait()
        if self._own_client and self._client is not None:
            try:
                await self._client.aclose()
            except Exception:  # noqa: BLE001
                pass
            self._client = None

    def _pending_deliveries(self) -> bool:
        return bool(self._backlog_n or any(t.queue.qsize() or t.inflight is not None
                                           for t in self._targets))

    # -- intake (synchronous, no I/O) ------------------------------------------------------
    def submit(self, event: Mapping, *, quality_ok: bool = True,
               quality_reason: str = "") -> bool:
        """Queue ``event`` for every target; never blocks, never raises for a bad event.

        ``quality_ok``/``quality_reason``: the data quality of the event's underlying now
        (False holds its alerts back, True releases what was held; see the module
        docstring). Returns True when the alert was queued (or is waiting for the rate
        limit, or held for data quality), False when it was dropped (queue full, sender
        closed, not a mapping) or deduplicated."""
        if self._closed or not isinstance(event, Mapping):
            self._drop(len(self._targets), "closed" if self._closed else "not_a_mapping")
            return False
        event = dict(event)
        u = str(event.get("underlying") or "")
        key = (u, str(event.get("regime") or event.get("kind") or ""))
        if quality_ok:
            if u in self._poor:
                del self._poor[u]
                if self._poor_all is None:
                    self._release(lambda k: k[0] == u)
        else:
            self._mark_poor(u, str(quality_reason or ""))
        if self._poor_all is not None or u in self._poor:
            self._hold(key, event)
            return True
        return self._admit(event, key, None)

    def set_quality(self, ok: bool, reason: str = "", *, underlying: str | None = None) -> None:
        """Data quality of ``underlying`` (None = every underlying, also ones not seen
        yet) is poor (``ok=False``: hold its alerts back) or good again (``ok=True``:
        release them with the "held back" line)."""
        if self._closed:
            return
        if underlying is None:
            if ok:
                had = self._poor_all is not None or bool(self._poor)
                self._poor_all = None
                self._poor.clear()
                if had or self._held:
                    self._release(lambda k: True)
            else:
                if self._poor_all is None:
                    self._poor_all = _Poor(self._wall())
                    self.log.info("alerts_held_for_quality", underlying="*",
                                  reason=reason or "reason not given")
                self._poor_all.add(reason)
                self._add_reason(reason, lambda k: True)
            return
        u = str(underlying)
        if ok:
            if u in self._poor:
                del self._poor[u]
                if self._poor_all is None:
                    self._release(lambda k: k[0] == u)
        else:
            self._mark_poor(u, reason)

    def _mark_poor(self, u: str, reason: str) -> None:
        poor = self._poor.get(u)
        if poor is None:
            poor = self._poor[u] = _Poor(self._wall())
            self.log.info("alerts_held_for_quality", underlying=u,
                          reason=reason or "reason not given")
        poor.add(reason)
        self._add_reason(reason, lambda k: k[0] == u)

    def _add_reason(self, reason: str, match: Callable[[tuple[str, str]], bool]) -> None:
        """Alerts already held keep every reason given while they wait."""
        if reason:
            for k, h in self._held.items():
                if match(k) and reason not in h.reasons and len(h.reasons) < 5:
                    h.reasons.append(reason)

    def _hold(self, key: tuple[str, str], event: dict) -> None:
        prev = self._held.pop(key, None)  # re-inserted last: release order = latest submit
        reasons: list[str] = list(prev.reasons) if prev else []
        for p in (self._poor_all, self._poor.get(key[0])):
            for r in (p.reasons if p else ()):
                if r not in reasons:
                    reasons.append(r)
        self._held[key] = _Held(event, prev.since_wall if prev else self._wall(), reasons)
        self.counts["held"] += 1
        if prev is not None:
            self.counts["coalesced"] += 1

    def _release(self, match: Callable[[tuple[str, str]], bool]) -> None:
        keys = [k for k in self._held if match(k)]
        if not keys:
            return
        now_wall = self._wall()
        for k in keys:
            h = self._held.pop(k)
            self._admit(h.event, k, held_note(h.since_wall, h.reasons, now_wall))
        self.log.info("alerts_quality_resumed", released=len(keys))

    def _admit(self, event: dict, key: tuple[str, str], note: str | None) -> bool:
        now = self._clock()
        to = event.get("to")
        last = self._last.get(key)
        if last is not None and last[0] == to and now - last[1] < self.dedup_window_s:
            self.counts["deduplicated"] += 1
            self.log.debug("alert_deduplicated", underlying=key[0], regime=key[1], to=to)
            return False
        alert = _Alert(event, note, key, alert_id(event))
        backlog = self._backlog.get(key)
        if not backlog and self._take(key, now):
            ok = self._fan_out(alert)
        elif self._backlog_n >= self.queue_max:
            self._drop(len(self._targets), "rate_limit_backlog_full")
            ok = False
        else:
            if backlog is None:
                backlog = self._backlog[key] = deque()
            backlog.append(alert)
            self._backlog_n += 1
            self.counts["rate_limited"] += 1
            self.log.debug("alert_rate_limited", underlying=key[0], regime=key[1],
                           waiting=len(backlog))
            self._schedule_release()
            ok = True
        if ok:
            self._last[key] = (to, now)
        return ok

    def _fan_out(self, alert: _Alert) -> bool:
        accepted = 0
        for t in self._targets:
            try:
                t.queue.put_nowait(alert)
                accepted += 1
            except asyncio.QueueFull:
                t.counts["dropped"] += 1
                self._drop(1, "queue_full")
        return accepted > 0

    def _drop(self, n: int, why: str) -> None:
        if n <= 0:
            return
        self.counts["dropped"] += n
        now = self._clock()
        if self._last_drop_log is None or now - self._last_drop_log >= 60.0:
            self._last_drop_log = now
            self.log.warning("alerts_dropped", reason=why, dropped_total=self.counts["dropped"])

    # -- rate limit ---------------------------------------------------------------------
    def _refill(self, key: tuple[str, str], now: float) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(float(self.rate_limit_burst), now)
        elif now > b.t:
            b.tokens = min(float(self.rate_limit_burst),
                           b.tokens + (now - b.t) * self.rate_limit_per_min / 60.0)
            b.t = now
        return b

    def _take(self, key: tuple[str, str], now: float) -> bool:
        b = self._refill(key, now)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        return False

    def _schedule_release(self) -> None:
        if not self._backlog or self._release_handle is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop yet: start() schedules it
            return
        now = self._clock()
        per_s = self.rate_limit_per_min / 60.0
        wait = min((1.0 - self._refill(k, now).tokens) / per_s for k in self._backlog)
        # re-read the clock at least once a second (a test clock may not follow real time)
        self._release_handle = loop.call_later(min(max(wait, 0.001), 1.0), self._release_due)

    def _release_due(self) -> None:
        self._release_handle = None
        if self._closed:
            return
        now = self._clock()
        for key in list(self._backlog):
            dq = self._backlog[key]
            while dq and self._take(key, now):
                self._backlog_n -= 1
                self._fan_out(dq.popleft())
            if not dq:
                del self._backlog[key]
        self._schedule_release()

    # -- delivery -----------------------------------------------------------------------
    async def _run(self, t: _Target) -> None:
        while True:
            alert = await t.queue.get()
            t.inflight = alert
            try:
                await self._deliver(t, alert)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - type only: a message may hold the URL
                self._failed(t, alert, reason="internal_error", error=type(exc).__name__)
            finally:
                t.inflight = None
                t.queue.task_done()

    def _backoff(self, attempt: int) -> float:
        d = min(self.backoff_cap_s, self.backoff_base_s * (2 ** attempt))
        return random.uniform(d / 2, d)

    def _scrub(self, text: str) -> str:
        for t in self._targets:
            raw = t.url.get_secret_value()
            parts = urlsplit(raw)
            for s in (raw, parts.path, parts.query):
                if s and len(s) > 3:
                    text = text.replace(s, "***")
        return text

    def _failed(self, t: _Target, alert: _Alert, **info) -> None:
        t.counts["failed"] += 1
        self.counts["failed"] += 1
        self.log.warning("alert_failed", target=t.kind, endpoint=t.endpoint,
                         underlying=alert.key[0], regime=alert.key[1],
                         to=alert.event.get("to"), alert_id=alert.id, **info)

    async def _deliver(self, t: _Target, alert: _Alert) -> None:
        try:
            body = encode(FORMATTERS[t.kind](alert.event, alert.note))
        except Exception as exc:  # noqa: BLE001
            self._failed(t, alert, reason="format_error", error=type(exc).__name__)
            return
        headers = {"content-type": "application/json",
                   "user-agent": "dealerflow-monitor-alerts/1",
                   "x-dealerflow-alert-id": alert.id}
        url = t.url.get_secret_value()
        attempt = 0
        while True:
            status: int | None = None
            retry_after: float | None = None
            try:
                async with asyncio.timeout(self.timeout_s):
                    resp = await self._client.post(url, content=body, headers=headers,
                                                   timeout=self.timeout_s)
            except (httpx.TimeoutException, TimeoutError):
                cause = "timeout"
            except httpx.TransportError as exc:  # connect/read/write/protocol errors
                cause = type(exc).__name__
            except httpx.HTTPError as exc:  # e.g. an invalid URL: retrying will not help
                self._failed(t, alert, reason="request_error", error=type(exc).__name__,
                             attempts=attempt + 1)
                return
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    t.counts["sent"] += 1
                    self.counts["sent"] += 1
                    self.log.info("alert_sent", target=t.kind, endpoint=t.endpoint,
                                  underlying=alert.key[0], regime=alert.key[1],
                                  to=alert.event.get("to"), attempts=attempt + 1,
                                  held_back=alert.note is not None)
                    return
                detail = self._scrub(resp.text[:200]) if resp.content else ""
                if status == 429:
                    cause = "http_429"
                    retry_after = parse_retry_after(resp.headers.get("retry-after"),
                                                    self._wall())
                elif status >= 500 or status == 408:
                    cause = f"http_{status}"
                else:
                    self._failed(t, alert, reason="http_status", status=status,
                                 detail=detail, attempts=attempt + 1)
                    return
            if attempt >= self.max_retries:
                self._failed(t, alert, reason="retries_exhausted", last=cause, status=status,
                             attempts=attempt + 1)
                return
            delay = (min(retry_after, self.retry_after_max_s) if retry_after is not None
                     else self._backoff(attempt))
            attempt += 1
            t.counts["retried"] += 1
            self.counts["retried"] += 1
            self.log.debug("alert_retry", target=t.kind, endpoint=t.endpoint, cause=cause,
                           status=status, attempt=attempt, delay_s=round(delay, 3))
            await asyncio.sleep(delay)

    # -- counters -----------------------------------------------------------------------
    def stats(self) -> dict:
        """Counters (see the module docstring), what is pending, and per-target counts."""
        out: dict = dict(self.counts)
        out["pending"] = {
            "queued": sum(t.queue.qsize() + (t.inflight is not None) for t in self._targets),
            "rate_limited": self._backlog_n,
            "held": len(self._held),
        }
        out["quality_poor"] = (["*"] if self._poor_all is not None else []) + sorted(self._poor)
        out["targets"] = {t.kind: dict(t.counts) for t in self._targets}
        return out


def alert_sender_from_settings(alerts, **kw) -> AlertSender | None:
    """An :class:`AlertSender` for the webhook URLs in ``alerts``
    (:class:`monitor.config.AlertSecrets`: ``slack_webhook_url``, ``teams_webhook_url``,
    ``generic_webhook_url``), or None when none is set. ``kw``: AlertSender's options."""
    targets = {}
    for kind in TARGET_KINDS:
        url = getattr(alerts, f"{kind}_webhook_url", None)
        if url is None:
            continue
        raw = url.get_secret_value() if isinstance(url, SecretStr) else str(url)
        if raw.strip():
            targets[kind] = url
    if not targets:
        return None
    return AlertSender(targets, **kw)


def alert_sender_for(settings) -> AlertSender | None:
    """The sender :class:`monitor.config.Settings` describe: its ``alerts`` webhooks (from
    the environment) with its ``alerting`` options; None when no webhook is set."""
    a = settings.alerting
    return alert_sender_from_settings(
        settings.alerts, **a.model_dump(exclude={"max_quote_staleness_s", "max_oi_age_days"}))
