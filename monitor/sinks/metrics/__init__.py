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

from monitor.sinks.metrics.names import (
    DEFAULT_REGIMES,
    PROFILE_BUCKETS,
    REJECT_REASONS,
    gex_profile,
    moneyness_bucket,
)
from monitor.sinks.metrics.service_metrics import Metrics
from monitor.sinks.metrics.sink import MetricsSink

__all__ = ["DEFAULT_REGIMES", "PROFILE_BUCKETS", "REJECT_REASONS", "Metrics", "MetricsSink",
           "gex_profile", "moneyness_bucket"]
