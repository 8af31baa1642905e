"""How an admitted alert reaches a webhook: one queue and one task per target, POST with a
bounded timeout, retries with jittered backoff (429: ``Retry-After``), one warning per
failure naming the target's kind and host only (URLs are secrets; the ``httpx`` logger's
request lines are redacted)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from datetime import timezone
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from monitor.logs import redact
from monitor.sinks.alerts.format import FORMATTERS, encode
from monitor.sinks.alerts.policy import Alert


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


def install_httpx_log_filter() -> None:
    lg = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in lg.filters):
        lg.addFilter(_RedactHttpxUrls())


TARGET_COUNTERS = ("sent", "failed", "retried", "dropped")


class Target:
    """One webhook. The URL is a ``SecretStr``; ``repr`` shows the kind and host only."""

    __slots__ = ("kind", "url", "endpoint", "queue", "task", "inflight", "counts")

    def __init__(self, kind: str, url: SecretStr, queue_max: int):
        self.kind = kind
        self.url = url
        self.endpoint = redact(url)
        self.queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_max)
        self.task: asyncio.Task | None = None
        self.inflight: Alert | None = None
        self.counts = dict.fromkeys(TARGET_COUNTERS, 0)

    def __repr__(self) -> str:
        return f"<alert target {self.kind} {self.endpoint}>"


class Transport:
    """The HTTP side of :class:`~monitor.sinks.alerts.AlertSender` (a part of it)."""

    # -- delivery -----------------------------------------------------------------------
    async def _run(self, t: Target) -> None:
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

    def _failed(self, t: Target, alert: Alert, **info) -> None:
        t.counts["failed"] += 1
        self.counts["failed"] += 1
        self.log.warning("alert_failed", target=t.kind, endpoint=t.endpoint,
                         underlying=alert.key[0], regime=alert.key[1],
                         to=alert.event.get("to"), alert_id=alert.id, **info)

    async def _deliver(self, t: Target, alert: Alert) -> None:
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
