"""The alert sink: regime changes of each publish cycle to the desk-chat sender, held back
while the state's data quality is poor (event-time quote staleness, open-interest age)."""

from __future__ import annotations

from monitor.sinks.alerts.delivery import AlertSender
from monitor.sinks.base import PublishCycle, Sink
from monitor.state import data_quality


class AlertSink(Sink):
    """Hands regime changes to ``sender`` (never blocks). The first label of the gamma
    family after a cold start is not an alert: it is a classification, not a change (it
    still goes to Redis and the stream). ``max_quote_staleness_s`` / ``max_oi_age_days``:
    the data-quality rule (:func:`monitor.state.data_quality`)."""

    def __init__(self, sender: AlertSender, *, max_quote_staleness_s: float = 120.0,
                 max_oi_age_days: float = 4.0):
        self.sender = sender
        self.max_quote_staleness_s = max_quote_staleness_s
        self.max_oi_age_days = max_oi_age_days

    async def setup(self) -> None:
        await self.sender.start()

    async def write(self, cycle: PublishCycle) -> bool:
        for u in cycle.underlyings:
            ok, reason = data_quality(u.state, self.max_quote_staleness_s,
                                      self.max_oi_age_days)
            self.sender.set_quality(ok, reason, underlying=u.root)
            for ev in u.events:
                if ev["from"] is not None or ev["regime"] != "gamma":
                    self.sender.submit(ev, quality_ok=ok, quality_reason=reason)
        return True

    async def close(self) -> None:
        await self.sender.close()
