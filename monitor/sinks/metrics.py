"""Prometheus metrics: counters and latency histograms updated by the pipeline, gauges
built at scrape time from the current state, and the pages ``/metrics``, ``/healthz`` and
``/readyz`` (served by :mod:`monitor.sinks.http_server`).

Every metric lives in the ``Metrics`` instance's own ``CollectorRegistry`` (several
instances can coexist, e.g. in tests). Names: namespace ``dealerflow``, base units in
the suffix. Labels are bounded: ``underlying``, ``kind``, ``outcome``, ``reason``,
``regime``, ``bucket``, ``partition``; never a raw strike, symbol or timestamp.

Updated by the pipeline (methods of :class:`Metrics`)::

    dealerflow_ticks_total{underlying,kind,outcome}      count_ticks()
        outcome in applied | stale | duplicate | rejected | ignored
    dealerflow_ticks_rejected_total{underlying,reason}   count_rejected()
    dealerflow_regime_changes_total{underlying,regime}   count_regime_change()
    dealerflow_redis_events_dropped_total                count_redis_dropped()
    dealerflow_tick_to_state_seconds{underlying}         observe_tick_to_state()  (histogram)
    dealerflow_state_to_redis_seconds                    observe_state_to_redis() (histogram)

Built at scrape time from ``provider() -> {root: state}`` (a snapshot-like dict, see
:func:`monitor.snapshot.build_snapshot`); exactly these keys are read, a missing key or a
``None`` value means no sample::

    dealerflow_spot{underlying}                     state["spot"]
    dealerflow_<key>{underlying}                    state[key] for every exposure of the
        registry (monitor.core.exposures): dealerflow_dex_usd, dealerflow_gex_usd_per_pct,
        dealerflow_vex_usd_per_vol_pt, dealerflow_cex_usd_per_day
    dealerflow_dex_otm_usd{underlying}              state["dex_otm_usd"]
    dealerflow_zero_gamma{underlying}               state["zero_gamma"]
    dealerflow_call_wall{underlying}                state["call_wall"]
    dealerflow_put_wall{underlying}                 state["put_wall"]
    dealerflow_gamma_state{underlying,state}        state["gamma_state"] as the label (the
        headline's words), value state["zero_gamma_distance_pct"] (NaN: none)
    dealerflow_regime{underlying,regime}            state["regimes"] (labels in force), 1/0 over
        the constructor's ``regimes`` plus "unknown" (None or a name not in the list), so
        the samples of one underlying always sum to 1
    dealerflow_gex_profile_usd_per_pct{underlying,bucket}
        from state["by_strike"] rows: row["strike"], row["gex_usd_per_pct_calls"] +
        row["gex_usd_per_pct_puts"], bucketed by moneyness vs state["spot"] (see
        :func:`moneyness_bucket`); all 23 buckets are always present (0 when empty)
    dealerflow_charm_to_close_usd{underlying}       state["charm_to_close_usd"] (+ = dealers buy)
    dealerflow_charm_to_close_shares{underlying}    state["charm_to_close_shares"]
    dealerflow_forward_<key>{underlying,horizon}    state["forward"][i][key] for key in
        zero_gamma, gex_usd_per_pct, call_wall, put_wall; horizon in +1h, close,
        next_open, after_next_expiry
    dealerflow_book_gex_usd_per_pct{underlying,book}  state["settled_vs_live"]
        ["settled_gex_usd_per_pct" | "live_gex_usd_per_pct"], book in settled, live
    dealerflow_settled_vs_live{underlying,label}    state["settled_vs_live"]["label"], one-hot
        over amplifying, dampening, flip, same
    dealerflow_oi_age_seconds{underlying}           state["quality"]["oi_age_seconds"]
    dealerflow_iv_failed_ratio{underlying}          state["quality"]["iv_failed_ratio"]
    dealerflow_iv_smile_ratio{underlying}           state["quality"]["iv_smile_ratio"]
    dealerflow_quote_staleness_seconds{underlying}  state["quality"]["quote_staleness_seconds"]
    dealerflow_ticks_per_second{underlying}         state["quality"]["ticks_per_second"]
    dealerflow_consumer_lag{partition}              state["quality"]["consumer_lag"], a dict
        {partition: messages behind}, merged over underlyings (max), plus
        ``lag_provider() -> {partition: lag}`` when given

(each ``state["quality"][k]`` falls back to ``state[k]`` when there is no ``quality``
entry for it). Values go through :func:`monitor.fmt.finite`: a missing, non-numeric or
non-finite value gives no sample.

:class:`MetricsSink` is the :class:`~monitor.sinks.base.Sink` that feeds a
:class:`Metrics` from the service's publish cycles (the states it serves at scrape time,
tick and rejection counts, regime changes) and its readiness and latency hooks.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.chain.clock import HORIZONS
from monitor.core.exposures import EXPOSURES
from monitor.core.positions import SETTLED_VS_LIVE
from monitor.core.reasons import REJECTIONS
from monitor.fmt import finite, scenario_label
from monitor.sinks.base import PublishCycle, Sink
from monitor.sinks.http_server import HttpServer

NAMESPACE = "dealerflow"

TICK_OUTCOMES = ("applied", "stale", "duplicate", "rejected", "ignored")
REJECT_REASONS = tuple(REJECTIONS)
"""Known reasons (:data:`monitor.core.reasons.REJECTIONS`), exported at 0 from the start;
other names (a vendor file's, :data:`monitor.sources.databento.REASONS`) are accepted
while they stay few (see ``max_label_values``)."""

DEFAULT_REGIMES = ("long_gamma", "short_gamma", "vanna_tailwind", "vanna_headwind",
                   "feedback_selloff", "exhaustion", "charm_window")
UNKNOWN_REGIME = "unknown"

LATENCY_BUCKETS = (20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
                   50e-3, 100e-3, 250e-3, 1.0)
"""Seconds: 20 µs to 100 ms, plus 250 ms and 1 s to see outages (and +Inf)."""

BUCKET_RANGE_PCT = 10
PROFILE_BUCKETS = (("<-10%",) + tuple(f"{k:+d}%" if k else "0%"
                                      for k in range(-BUCKET_RANGE_PCT, BUCKET_RANGE_PCT + 1))
                   + (">+10%",))
"""The 23 bucket labels: ``<-10%``, ``-10%`` ... ``-1%``, ``0%``, ``+1%`` ... ``+10%``,
``>+10%``."""

QUALITY_GAUGES = (
    ("oi_age_seconds", "Age of the open-interest data in use", "seconds"),
    ("iv_failed_ratio", "Share of quoted contracts whose IV could not be solved", "ratio"),
    ("iv_smile_ratio", "Share of contracts used whose IV comes from their expiry's smile "
     "(one-sided, zero-bid or wide quotes)", "ratio"),
    ("quote_staleness_seconds", "Age of the oldest quote still in use", "seconds"),
    ("ticks_per_second", "Ticks applied per second (recent rate)", ""),
    ("feed_lag_seconds", "How far the live feed's newest record (its capture time, "
     "Databento's ts_recv) is behind the wall clock (a live vendor feed only)", "seconds"),
)

#: ``dealerflow_forward_<key>{underlying,horizon}`` from each ``state["forward"]`` entry
FORWARD_GAUGES = (
    ("zero_gamma", "Zero gamma at the horizon (spot and IVs held), index points"),
    ("gex_usd_per_pct", "Dealer gamma exposure at the horizon (spot and IVs held), USD per "
     "1% move"),
    ("call_wall", "Call wall at the horizon (spot and IVs held), strike"),
    ("put_wall", "Put wall at the horizon (spot and IVs held), strike"),
)

_log = structlog.get_logger("monitor.sinks.metrics")


def moneyness_bucket(strike: float, spot: float) -> str:
    """Bucket label of ``strike`` relative to ``spot``.

    ``m = 100 (strike / spot - 1)`` percent, rounded half-up to a whole percent ``k``:
    bucket ``k`` covers ``[k - 0.5 %, k + 0.5 %)``, ``0%`` is at the money; ``-10%`` ...
    ``+10%`` are labelled with the sign (``-3%``, ``0%``, ``+3%``); below -10.5 % is
    ``<-10%``, at or above +10.5 % is ``>+10%``. A 1e-9 % tolerance puts exact edges
    (5025 vs 5000 = +0.5 %) in the upper bucket despite float rounding.
    """
    m = 100.0 * (strike - spot) / spot
    k = math.floor(m + 0.5 + 1e-9)  # tolerance: 5025 vs 5000 is +0.5 %, bucket +1%
    if k < -BUCKET_RANGE_PCT:
        return "<-10%"
    if k > BUCKET_RANGE_PCT:
        return ">+10%"
    return f"{k:+d}%" if k else "0%"


def gex_profile(by_strike: Iterable[Mapping], spot: float) -> dict[str, float]:
    """Sum of ``gex_usd_per_pct_calls + gex_usd_per_pct_puts`` per moneyness bucket
    (every label of ``PROFILE_BUCKETS`` present)."""
    out = dict.fromkeys(PROFILE_BUCKETS, 0.0)
    for row in by_strike:
        gex = float(row.get("gex_usd_per_pct_calls") or 0.0) + float(
            row.get("gex_usd_per_pct_puts") or 0.0)
        out[moneyness_bucket(float(row["strike"]), spot)] += gex
    return out


_LABEL_OK = re.compile(r"[^A-Za-z0-9_.:\-+%<>]")


class _BoundedLabel:
    """Keeps a label's value set bounded: values are cleaned (``[A-Za-z0-9_.:-+%<>]``, at
    most 40 characters) and after ``cap`` distinct values new ones become ``other``."""

    def __init__(self, known: Iterable[str] = (), cap: int = 64):
        self._seen: set[str] = set(known)
        self._cap = max(cap, len(self._seen) + 1)
        self._lock = threading.Lock()

    def __call__(self, value) -> str:
        v = _LABEL_OK.sub("_", str(value))[:40] or "none"
        if v in self._seen:
            return v
        with self._lock:
            if v in self._seen:
                return v
            if len(self._seen) >= self._cap:
                return "other"
            self._seen.add(v)
            return v


class StateCollector(Collector):
    """Gauges built from ``provider()`` at each scrape (see the module docstring)."""

    def __init__(self, provider: Callable[[], Mapping[str, Mapping]] | None,
                 regimes: Sequence[str],
                 lag_provider: Callable[[], Mapping] | None = None):
        self.provider = provider
        self.lag_provider = lag_provider
        self.regimes = tuple(regimes)

    def collect(self):
        try:
            states = dict(self.provider()) if self.provider is not None else {}
        except Exception as exc:  # a scrape must not fail because of the provider
            _log.warning("metrics_provider_failed", error=repr(exc))
            states = {}
        n = NAMESPACE
        simple = [("spot", "spot", "Underlying spot price, index points")] + [
            (e.key, e.key, f"{e.help}, {e.unit}") for e in EXPOSURES] + [
            ("dex_otm_usd", "dex_otm_usd", "Dealer delta exposure of the out-of-the-money "
             "contracts alone, $"),
            ("zero_gamma", "zero_gamma", "Zero-gamma (gamma flip) spot level, index points"),
            ("call_wall", "call_wall", "Strike with the largest call gamma exposure"),
            ("put_wall", "put_wall", "Strike with the largest put gamma exposure"),
            ("charm_to_close_usd", "charm_to_close_usd", "Dealers' hedge trade forced by time "
             "passing alone until the close (full revaluation), USD; + = dealers buy"),
            ("charm_to_close_shares", "charm_to_close_shares", "The same in units of the "
             "underlying"),
        ]
        families = {name: GaugeMetricFamily(f"{n}_{name}", doc, labels=["underlying"])
                    for name, _, doc in simple}
        quality = {name: GaugeMetricFamily(f"{n}_{name}", doc, labels=["underlying"])
                   for name, doc, _ in QUALITY_GAUGES}
        regime = GaugeMetricFamily(f"{n}_regime", "Current regime, one-hot (1 = in force)",
                                   labels=["underlying", "regime"])
        profile = GaugeMetricFamily(
            f"{n}_gex_profile_usd_per_pct",
            "Dealer gamma exposure per strike moneyness bucket (strike vs spot, 1% steps), "
            "USD per 1% move", labels=["underlying", "bucket"])
        lag_family = GaugeMetricFamily(f"{n}_consumer_lag",
                                       "Messages behind the end of each source partition",
                                       labels=["partition"])
        flow_usd = GaugeMetricFamily(
            f"{n}_hedge_flow_usd", "Dealers' forced hedge trade in the scenario (full "
            "revaluation), USD; + = dealers buy", labels=["underlying", "scenario"])
        flow_shares = GaugeMetricFamily(
            f"{n}_hedge_flow_shares", "Dealers' forced hedge trade in the scenario (full "
            "revaluation), units of the underlying; + = dealers buy",
            labels=["underlying", "scenario"])
        regime_index = GaugeMetricFamily(
            f"{n}_regime_index", "The headline regime as its index in "
            f"{', '.join(f'{i}={r}' for i, r in enumerate(self.regimes))}; -1 = none",
            labels=["underlying"])
        gamma_state = GaugeMetricFamily(
            f"{n}_gamma_state", "The gamma state in words (label state: the headline's "
            "reading, monitor.sentences.STATE_WORDS, e.g. LONG GAMMA, FRAGILE); value: zero "
            "gamma against spot, percent (- = below), NaN when there is none within +-20%",
            labels=["underlying", "state"])
        age = GaugeMetricFamily(f"{n}_state_age_seconds", "Wall-clock seconds since the "
                                "underlying's state was last published", labels=["underlying"])
        tape = GaugeMetricFamily(
            f"{n}_hedge_pressure_usd", "Dealers' hedge trades implied by today's classified "
            "customer option prints, session running sum, USD; + = dealers buy; expiry: "
            "0dte, next, later, all", labels=["underlying", "expiry"])
        forward = {key: GaugeMetricFamily(f"{n}_forward_{key}", doc,
                                          labels=["underlying", "horizon"])
                   for key, doc in FORWARD_GAUGES}
        books = GaugeMetricFamily(
            f"{n}_book_gex_usd_per_pct", "Dealer gamma exposure of the settled book (open "
            "interest, base model) and the live book (plus today's classified prints), USD "
            "per 1% move", labels=["underlying", "book"])
        svl = GaugeMetricFamily(
            f"{n}_settled_vs_live", "Today's classified prints against the settled book, "
            "one-hot: " + ", ".join(SETTLED_VS_LIVE), labels=["underlying", "label"])
        now_s = time.time()
        lags: dict[str, float] = {}
        regime_names = self.regimes + (() if UNKNOWN_REGIME in self.regimes
                                       else (UNKNOWN_REGIME,))

        for root, state in sorted(states.items()):
            if not isinstance(state, Mapping):
                continue
            root = str(root)
            for name, key, _ in simple:
                v = finite(state.get(key))
                if v is not None:
                    families[name].add_metric([root], v)
            # several labels can hold at once (a gamma sign plus patterns): 1 for each label
            # in force (state["regimes"], comma-separated or a list; else state["regime"])
            labels = state.get("regimes")
            if isinstance(labels, str):
                labels = [x for x in labels.split(",") if x]
            if not labels:
                labels = [state.get("regime")] if state.get("regime") else []
            current = {x if x in regime_names else UNKNOWN_REGIME for x in labels} or {
                UNKNOWN_REGIME}
            for r in regime_names:
                regime.add_metric([root, r], 1.0 if r in current else 0.0)
            if isinstance(state.get("gamma_state"), str):
                d = finite(state.get("zero_gamma_distance_pct"))
                gamma_state.add_metric([root, state["gamma_state"]],
                                       math.nan if d is None else d)
            head = state.get("regime")
            regime_index.add_metric([root], float(self.regimes.index(head))
                                    if head in self.regimes else -1.0)
            hp = state.get("hedge_pressure_usd")
            if isinstance(hp, Mapping):
                for bucket, v in (hp.get("by_expiry") or {}).items():
                    if finite(v) is not None:
                        tape.add_metric([root, str(bucket)], finite(v))
                if finite(hp.get("total")) is not None:
                    tape.add_metric([root, "all"], finite(hp.get("total")))
            for fw in state.get("forward") or ():
                if isinstance(fw, Mapping) and fw.get("horizon") in HORIZONS:
                    for key, _ in FORWARD_GAUGES:
                        v = finite(fw.get(key))
                        if v is not None:
                            forward[key].add_metric([root, fw["horizon"]], v)
            sl = state.get("settled_vs_live")
            if isinstance(sl, Mapping):
                for book, key in (("settled", "settled_gex_usd_per_pct"),
                                  ("live", "live_gex_usd_per_pct")):
                    if finite(sl.get(key)) is not None:
                        books.add_metric([root, book], finite(sl.get(key)))
                if sl.get("label") in SETTLED_VS_LIVE:
                    for label in SETTLED_VS_LIVE:
                        svl.add_metric([root, label], 1.0 if label == sl["label"] else 0.0)
            published = finite(state.get("published_s"))
            if published is not None:
                age.add_metric([root], max(0.0, now_s - published))
            for sc in state.get("scenarios") or ():
                if not isinstance(sc, Mapping):
                    continue
                label = scenario_label(sc)
                for fam, key in ((flow_usd, "flow_usd"), (flow_shares, "flow_shares")):
                    v = finite(sc.get(key))
                    if v is not None:
                        fam.add_metric([root, label], v)
            spot = finite(state.get("spot"))
            rows = state.get("by_strike")
            if spot and math.isfinite(spot) and spot > 0 and rows is not None:
                for bucket, value in gex_profile(rows, spot).items():
                    profile.add_metric([root, bucket], value)
            q = state.get("quality")
            q = q if isinstance(q, Mapping) else {}
            for name, _, _ in QUALITY_GAUGES:
                v = finite(q.get(name, state.get(name)))
                if v is not None:
                    quality[name].add_metric([root], v)
            lag = q.get("consumer_lag", state.get("consumer_lag"))
            if isinstance(lag, Mapping):
                for part, value in lag.items():
                    v = finite(value)
                    if v is not None:
                        lags[str(part)] = max(v, lags.get(str(part), -math.inf))
        if self.lag_provider is not None:
            try:
                for part, value in dict(self.lag_provider()).items():
                    v = finite(value)
                    if v is not None:
                        lags[str(part)] = max(v, lags.get(str(part), -math.inf))
            except Exception as exc:
                _log.warning("metrics_lag_provider_failed", error=repr(exc))
        for part, v in sorted(lags.items()):
            lag_family.add_metric([part], v)

        yield from families.values()
        yield regime
        yield regime_index
        yield gamma_state
        yield age
        yield profile
        yield flow_usd
        yield flow_shares
        yield tape
        yield from forward.values()
        yield books
        yield svl
        yield from quality.values()
        yield lag_family


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
        self._underlying = _BoundedLabel(cap=max_label_values)
        self._kind = _BoundedLabel(cap=max_label_values)
        self._reason = _BoundedLabel(REJECT_REASONS, cap=max_label_values)
        self._regime_names = tuple(regimes)
        self._regime = _BoundedLabel(self._regime_names + (UNKNOWN_REGIME,),
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
