"""The process's metrics: counters and histograms of ticks, rejections, regime changes and
latencies, the state collector, and the pages served beside them (``/metrics``,
``/healthz``, ``/readyz``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from monitor.sinks.http_server import HttpServer
from monitor.sinks.metrics.collector import StateCollector
from monitor.sinks.metrics.names import (
    DEFAULT_REGIMES,
    LATENCY_BUCKETS,
    NAMESPACE,
    REJECT_REASONS,
    TICK_OUTCOMES,
    UNKNOWN_REGIME,
    BoundedLabel,
)

_log = structlog.get_logger("monitor.sinks.metrics")


class Metrics:
    """All metrics of one monitor process, in a registry of their own.

    ``provider``: ``() -> {root: state}`` called at each scrape (keys read: module
    docstring). ``regimes``: the regime names of the one-hot ``dealerflow_regime`` gauge
    ("unknown" is added). ``lag_provider``: optional ``() -> {partition: lag}``.
    ``max_label_values``: distinct values kept per free-form label (underlying, kind,
    reason, regime) before new ones are exported as ``other``.
    """

    def __init__(self, provider: Callable[[], Mapping[str, Mapping]] | None = None, *,
                 regimes: Sequence[str] = DEFAULT_REGIMES,
                 lag_provider: Callable[[], Mapping] | None = None,
                 max_label_values: int = 64):
        self.registry = CollectorRegistry(auto_describe=False)
        r, ns = self.registry, NAMESPACE
        self.ticks = Counter("ticks", "Ticks seen, by outcome", ["underlying", "kind", "outcome"],
                             namespace=ns, registry=r)
        self.ticks_rejected = Counter("ticks_rejected", "Ticks rejected, by reason",
                                      ["underlying", "reason"], namespace=ns, registry=r)
        self.regime_changes = Counter("regime_changes", "Regime changes, by the new regime",
                                      ["underlying", "regime"], namespace=ns, registry=r)
        self.redis_events_dropped = Counter(
            "redis_events_dropped", "Events dropped from the Redis outage buffer (oldest first)",
            namespace=ns, registry=r)
        self.tick_to_state = Histogram(
            "tick_to_state_seconds", "Tick receipt to state updated", ["underlying"],
            namespace=ns, registry=r, buckets=LATENCY_BUCKETS)
        self.state_to_redis = Histogram(
            "state_to_redis_seconds", "State computed to written to Redis",
            namespace=ns, registry=r, buckets=LATENCY_BUCKETS)
        self.takeover = Gauge(
            "takeover_seconds", "Last take-over of underlyings in a consumer-group rebalance: "
            "from the revocation (or assignment) until their checkpoints were restored",
            namespace=ns, registry=r)
        self.takeovers = Counter(
            "takeovers", "Underlyings taken over in consumer-group rebalances", namespace=ns,
            registry=r)
        #: ``() -> (live, ready, why)`` from the service: what /healthz and /readyz say
        self.health_probe: Callable[[], tuple[bool, bool, str]] | None = None
        #: ``() -> (connected, events buffered)`` of the Redis sink, when there is one
        self.redis_probe: Callable[[], tuple[bool, int]] | None = None
        Gauge("up", "1 while the service is live (what /healthz says)", namespace=ns,
              registry=r).set_function(lambda: float(self._probe()[0]))
        Gauge("ready", "1 while the service is ready (what /readyz says)", namespace=ns,
              registry=r).set_function(lambda: float(self._ready.is_set()
                                                      and all(self._probe()[:2])))
        Gauge("redis_connected", "1 while the Redis sink is connected", namespace=ns,
              registry=r).set_function(
            lambda: float(self.redis_probe()[0]) if self.redis_probe else 0.0)
        Gauge("redis_events_buffered", "Regime events waiting for Redis (buffered or in "
              "flight)", namespace=ns, registry=r).set_function(
            lambda: float(self.redis_probe()[1]) if self.redis_probe else 0.0)
        self.collector = StateCollector(provider, regimes, lag_provider)
        self.registry.register(self.collector)
        self._underlying = BoundedLabel(cap=max_label_values)
        self._kind = BoundedLabel(cap=max_label_values)
        self._reason = BoundedLabel(REJECT_REASONS, cap=max_label_values)
        self._regime_names = tuple(regimes)
        self._regime = BoundedLabel(self._regime_names + (UNKNOWN_REGIME,),
                                     cap=max_label_values)
        self._ready = threading.Event()
        self._server: HttpServer | None = None

    def _probe(self) -> tuple[bool, bool, str]:
        return (True, True, "") if self.health_probe is None else self.health_probe()

    # -- updates from the pipeline ------------------------------------------------------
    def set_provider(self, provider: Callable[[], Mapping[str, Mapping]] | None) -> None:
        self.collector.provider = provider

    def count_ticks(self, underlying: str, kind: str, outcome: str, n: int = 1) -> None:
        """``outcome``: one of ``TICK_OUTCOMES`` (anything else raises ValueError)."""
        if outcome not in TICK_OUTCOMES:
            raise ValueError(f"outcome must be one of {TICK_OUTCOMES}, not {outcome!r}")
        if n:
            self.ticks.labels(self._underlying(underlying), self._kind(kind), outcome).inc(n)

    def add_underlying(self, underlying: str) -> None:
        """Create the underlying's rejection counters at 0 for every known reason, and its
        regime-change counters at 0 for every known regime: a series that exists before
        its first increment gives ``rate()`` its start (a counter born at 1 would hide
        that first rejection or change from rate and increase)."""
        u = self._underlying(underlying)
        for reason in REJECT_REASONS:
            self.ticks_rejected.labels(u, self._reason(reason))
        for regime in self._regime_names:
            self.regime_changes.labels(u, regime)

    def count_rejected(self, underlying: str, reason: str, n: int = 1) -> None:
        if n:
            self.ticks_rejected.labels(self._underlying(underlying), self._reason(reason)).inc(n)

    def count_regime_change(self, underlying: str, regime: str) -> None:
        self.regime_changes.labels(self._underlying(underlying), self._regime(regime)).inc()

    def count_redis_dropped(self, n: int = 1) -> None:
        if n:
            self.redis_events_dropped.inc(n)

    def observe_tick_to_state(self, underlying: str, seconds: float) -> None:
        self.tick_to_state.labels(self._underlying(underlying)).observe(seconds)

    def observe_state_to_redis(self, seconds: float) -> None:
        self.state_to_redis.observe(seconds)

    # -- exposition ---------------------------------------------------------------------
    def render(self) -> bytes:
        """The Prometheus text exposition of the registry (what ``/metrics`` serves)."""
        return generate_latest(self.registry)

    def set_ready(self, ready: bool = True) -> None:
        """``/readyz`` answers 200 while ready, 503 otherwise."""
        if ready:
            self._ready.set()
        else:
            self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def pages(self) -> dict:
        """The HTTP pages, ``{path: () -> (status, content type, body)}``: ``/metrics``
        (the exposition), ``/healthz`` (503 when :attr:`health_probe` says the service is
        not live), ``/readyz`` (503 before :meth:`set_ready`, or while the probe says not
        live or not ready; the body says why) and ``/``."""
        text = "text/plain; charset=utf-8"

        probe = self._probe

        def healthz():
            live, _, why = probe()
            return (200, text, b"ok\n") if live else (503, text, f"dead: {why}\n".encode())

        def readyz():
            if not self._ready.is_set():
                return 503, text, b"not ready: not started\n"
            live, ready, why = probe()
            if not (live and ready):
                return 503, text, f"not ready: {why}\n".encode()
            return 200, text, b"ready\n"

        return {"/metrics": lambda: (200, CONTENT_TYPE_LATEST, self.render()),
                "/healthz": healthz, "/readyz": readyz,
                "/": lambda: (200, text, b"dealerflow monitor: /wall /stream /metrics /healthz /readyz\n")}

    def serve(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
              max_connections: int = 64, pages: Mapping | None = None,
              handlers: Mapping | None = None, protected: tuple[str, ...] = ()) -> int:
        """Serve :meth:`pages` (:class:`monitor.sinks.http_server.HttpServer`: asyncio, one
        thread, ``max_connections`` at a time, ``/metrics`` behind ``token`` when given);
        ``pages`` and ``handlers`` add routes (the wall page and ``/stream``), the
        ``protected`` ones behind the token too; returns the port (``port=0`` picks a free
        one, readable as :attr:`port`)."""
        if self._server is not None:
            raise RuntimeError("metrics server already running")
        routes = {**self.pages(), **(pages or {})}
        server = HttpServer(routes, host, port, token=token, max_connections=max_connections,
                            protected=("/metrics", *protected),
                            handlers=handlers)
        server.start()
        self._server = server
        _log.info("metrics_serving", host=host, port=self.port, token=token is not None,
                  max_connections=max_connections)
        return self.port

    @property
    def port(self) -> int | None:
        return None if self._server is None else self._server.port

    def stop(self) -> None:
        """Stop the HTTP server (no-op when not serving)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
