"""Health and the summary line: ``/healthz`` and ``/readyz`` (live, ready and why) and the
one-line terminal summary each second."""

from __future__ import annotations

import time

from monitor.fmt import money, points


class Health:
    """Health and the summary of :class:`monitor.service.Monitor` (a part of it)."""

    def health(self) -> tuple[bool, bool, str]:
        """``(live, ready, why)`` for ``/healthz`` and ``/readyz`` (read from the HTTP
        server's thread: plain attributes only). Not live: the ingest loop ended with an
        error (the service is shutting down with exit code 1, or hangs doing so: an
        orchestrator should restart it). Not ready: the
        consumer has lag but applied nothing for ``metrics.stall_s``; publish cycles have
        failed or not been stored for that long; Redis unreachable for
        ``redis.unreachable_ready_s``. The body says which."""
        now = time.monotonic()
        task = self._ingest_task
        if (task is not None and task.done() and not task.cancelled()
                and task.exception() is not None):
            return False, False, f"the ingest loop has ended: {task.exception()!r}"[:300]
        why = readiness_problems(
            now, lag_total=self._lag_total, last_batch=self._last_batch,
            failing_since=self._failing_since, store_down_since=self._store_down_since,
            stall_s=self.settings.metrics.stall_s,
            unreachable_s=self.settings.redis.unreachable_ready_s)
        feed = self.source.problem()
        if feed:
            why.append(feed)
        return True, not why, "; ".join(why)

    def _print_summary(self, final: bool = False) -> None:
        now = time.monotonic()
        t0, n0 = self._last_summary
        self.tps = (self.ticks_received - n0) / max(now - t0, 1e-9)
        self._last_summary = (now, self.ticks_received)
        idle = now - self._last_batch
        stale = (f"  STALE: no ticks for {idle:,.0f} s"
                 if idle >= self.settings.intervals.stale_after_s and not final else "")
        for root, st_ in sorted(self.states.items()):
            zg = st_.get("zero_gamma")
            line = (f"{root} spot {st_['spot']:,.2f}  GEX {money(st_['gex_usd_per_pct'])}/1%  "
                    f"zero-gamma {points(zg)}  "
                    f"walls C {points(st_.get('call_wall'))} / P {points(st_.get('put_wall'))}  "
                    f"regime {st_.get('regime') or '-'}  "
                    f"tape {money((st_.get('hedge_pressure_usd') or {}).get('total'))}  "
                    f"{self.tps:,.0f} ticks/s"
                    + stale + ("  (final)" if final else ""))
            print(line, file=self.out, flush=True)


def readiness_problems(now: float, *, lag_total: int, last_batch: float,
                       failing_since: float | None, store_down_since: float | None,
                       stall_s: float, unreachable_s: float) -> list[str]:
    """Why the service is not ready at ``now`` (monotonic seconds; empty: ready): lag
    waiting while nothing was received for more than ``stall_s``, publish cycles failing
    for more than ``stall_s``, the store unreachable for more than ``unreachable_s``."""
    why = []
    if lag_total > 0 and now - last_batch > stall_s:
        why.append(f"consumer lag {lag_total} and nothing received for "
                   f"{now - last_batch:.0f} s")
    if failing_since is not None and now - failing_since > stall_s:
        why.append(f"publish cycles failing for {now - failing_since:.0f} s")
    if store_down_since is not None and now - store_down_since > unreachable_s:
        why.append(f"Redis unreachable for {now - store_down_since:.0f} s")
    return why
