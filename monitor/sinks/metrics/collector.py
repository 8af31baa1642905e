"""The gauges of every underlying's latest published state, read at each scrape (a custom
collector: no gauge keeps a stale value for an underlying the process no longer owns)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.chain.clock import HORIZONS
from monitor.core.exposures import EXPOSURES
from monitor.core.positions import SETTLED_VS_LIVE
from monitor.fmt import finite, scenario_label
from monitor.sinks.metrics.names import FORWARD_GAUGES, NAMESPACE, QUALITY_GAUGES, UNKNOWN_REGIME, gex_profile

_log = structlog.get_logger("monitor.sinks.metrics")


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
