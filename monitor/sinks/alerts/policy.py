"""Which alerts go out, and when: the admission policy, no I/O, on an injected clock.

- Deduplication: an alert whose ``(underlying, regime, to)`` equals the last alert
  accepted for that ``(underlying, regime)`` less than ``dedup_window_s`` ago is not
  sent (``deduplicated``). An alert with a different ``to`` in between (the regime
  changed and changed back) is news, so it is sent (rate-limited below).
- Rate limit per ``(underlying, regime)``: a token bucket of ``rate_limit_burst``
  tokens (default ``rate_limit_per_min``) refilled at ``rate_limit_per_min`` per
  minute. Alerts over the limit are held, not coalesced: kept in order per key and
  sent one per token as tokens refill (``rate_limited`` counts them). At most
  ``queue_max`` alerts wait in all keys together; more are dropped.
- Data-quality hold: quality is tracked per underlying. ``submit(..., quality_ok=False,
  quality_reason="stale quotes")`` (or ``set_quality(False, reason, underlying=...)``;
  ``underlying=None`` = every underlying) holds that underlying's alerts back: not sent,
  the latest per ``(underlying, regime)`` kept (an older one is replaced, counted in
  ``coalesced``). When quality returns, the held alerts are released in order through
  deduplication and the rate limit, each with the ``held_note`` line (when and why they
  were held).

An admitted alert is fanned out to every target's queue (:mod:`.transport` sends it)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from monitor.sinks.alerts.format import alert_id, held_note


@dataclass
class Alert:
    event: dict
    note: str | None
    key: tuple[str, str]
    id: str


@dataclass
class Held:
    event: dict
    since_wall: float
    reasons: list[str]


@dataclass
class Poor:
    since_wall: float
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str) -> None:
        if reason and reason not in self.reasons and len(self.reasons) < 5:
            self.reasons.append(reason)


@dataclass
class Bucket:
    tokens: float
    t: float


class AdmissionPolicy:
    """The admission policy of :class:`~monitor.sinks.alerts.AlertSender` (a part of it;
    ``self._clock`` is the injected monotonic clock, ``self._wall`` the wall clock)."""

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
                    self._poor_all = Poor(self._wall())
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
            poor = self._poor[u] = Poor(self._wall())
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
        self._held[key] = Held(event, prev.since_wall if prev else self._wall(), reasons)
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
        alert = Alert(event, note, key, alert_id(event))
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

    def _fan_out(self, alert: Alert) -> bool:
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
    def _refill(self, key: tuple[str, str], now: float) -> Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = Bucket(float(self.rate_limit_burst), now)
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
