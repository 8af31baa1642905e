"""Desk-chat alert delivery. :class:`AlertSender` delivers regime events (formatted by
:mod:`monitor.sinks.alerts.format`) without ever blocking the caller:

- ``submit(event, quality_ok=..., quality_reason=...)`` is synchronous and does no I/O:
  dictionary work and ``put_nowait`` on one bounded ``asyncio.Queue`` per target
  (``queue_max`` deliveries each). A full queue drops the alert for that target
  (counted in ``dropped``, logged at most once a minute). Call it from the event loop's
  thread. One background task per target sends its queue in order (a failing Teams
  endpoint does not delay Slack).
- Admission (:mod:`.policy`, no I/O, on an injected clock): deduplication within
  ``dedup_window_s``, a token-bucket rate limit per ``(underlying, regime)``, and the
  data-quality hold per underlying (held alerts released with a note saying when and
  why they were held).
- Delivery (:mod:`.transport`): POST with ``timeout_s`` bounding each attempt. 2xx =
  ``sent``. 5xx, 408, timeouts and transport errors (connect/read/write/protocol) are
  retried up to
  ``max_retries`` times after ``uniform(d/2, d)`` seconds, ``d = min(backoff_cap_s,
  backoff_base_s * 2**n)`` (n = 0, 1, ...); 429 waits ``Retry-After`` (seconds or an
  HTTP date, at most ``retry_after_max_s``; without the header the backoff above) and
  counts as a retry. Any other status (400, 403, 404, 410, 3xx) is a permanent failure,
  not retried. A failure (permanent, or retries exhausted) counts once in ``failed`` and
  logs one warning with the status (or error type), the target kind and the endpoint's
  host only. A request that timed out may still have been posted by the server: chat
  webhooks have no idempotency key, so a rare duplicate message is possible (each
  request carries an ``X-Dealerflow-Alert-Id`` header, the same on every retry).
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
import time
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import SecretStr

from monitor.sinks.alerts.policy import AdmissionPolicy, Alert, Bucket, Held, Poor
from monitor.sinks.alerts.transport import Target, Transport, install_httpx_log_filter, parse_retry_after

__all__ = ["TARGET_KINDS", "AlertSender", "alert_sender_from_settings", "alert_sender_for",
           "parse_retry_after"]


TARGET_KINDS = ("slack", "teams", "generic")

_COUNTERS = ("sent", "failed", "retried", "dropped", "deduplicated", "held", "coalesced",
             "rate_limited")


class AlertSender(AdmissionPolicy, Transport):
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
        self._targets: list[Target] = []
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
            self._targets.append(Target(kind, SecretStr(raw), queue_max))
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
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._backlog: dict[tuple[str, str], deque[Alert]] = {}
        self._backlog_n = 0
        self._release_handle: asyncio.TimerHandle | None = None
        self._held: dict[tuple[str, str], Held] = {}
        self._poor: dict[str, Poor] = {}
        self._poor_all: Poor | None = None
        self._started = False
        self._closed = False
        self._last_drop_log: float | None = None
        install_httpx_log_filter()

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
