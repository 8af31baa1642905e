"""The metrics as a sink: each publish cycle's counts and timings into :class:`Metrics`."""

from __future__ import annotations

import time

from monitor.sinks.base import PublishCycle, Sink
from monitor.sinks.metrics.service_metrics import Metrics


class MetricsSink(Sink):
    """Publish cycles into a :class:`Metrics` (module docstring). ``gil``-cheap: dictionary
    work only; the gauges are built when Prometheus scrapes."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        #: the latest state of each underlying, with its profile as ``by_strike``
        self.states: dict[str, dict] = {}
        metrics.set_provider(lambda: self.states)

    async def write(self, cycle: PublishCycle) -> bool:
        m = self.metrics
        for u in cycle.underlyings:
            if u.root not in self.states:
                m.add_underlying(u.root)
            self.states[u.root] = {**u.state, "by_strike": u.profile,
                                   "published_s": time.time()}
            for ev in u.events:
                m.count_regime_change(u.root, ev["to"] or f"no_{ev['regime']}")
        for key, n in cycle.ticks.items():
            m.count_ticks(*key, n=n)
        for key, n in cycle.rejected.items():
            m.count_rejected(*key, n=n)
        return True

    def ready(self, ready: bool) -> None:
        self.metrics.set_ready(ready)

    def observe_batch(self, roots, seconds: float) -> None:
        for root in roots:
            self.metrics.observe_tick_to_state(root, seconds)

    def observe_handover(self, roots, seconds: float) -> None:
        self.metrics.takeover.set(seconds)
        self.metrics.takeovers.inc(len(list(roots)))
