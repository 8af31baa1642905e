"""Metrics over HTTP: scraped and parsed like Prometheus does; health endpoints; logs."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from monitor.logs import configure_logging, redact, reset_logging
from monitor.sinks.metrics import (
    DEFAULT_REGIMES,
    PROFILE_BUCKETS,
    Metrics,
    gex_profile,
    moneyness_bucket,
)

SPOT = 5000.0
BY_STRIKE = [  # strikes from -30 % to +30 %, including the bucket edges
    {"strike": k, "gex_usd_per_pct_calls": 1e6 * (i + 1), "gex_usd_per_pct_puts": -3e5 * i,
     "vex_usd_per_vol_pt": 1.0, "cex_usd_per_day": 2.0}
    for i, k in enumerate([3500.0, 4450.0, 4474.0, 4476.0, 4500.0, 4900.0, 4975.0, 4976.0,
                           5000.0, 5024.9, 5025.0, 5100.0, 5500.0, 5524.9, 5525.0, 6500.0])
]
STATES = {
    "SPX": {"spot": SPOT, "dex_usd": -1.5e9, "gex_usd_per_pct": 2.5e8,
            "vex_usd_per_vol_pt": -3.0e7, "cex_usd_per_day": 4.0e6, "zero_gamma": 4890.5,
            "call_wall": 5100.0, "put_wall": 4900.0, "regime": "short_gamma",
            "by_strike": BY_STRIKE,
            "quality": {"oi_age_seconds": 3600.0, "iv_failed_ratio": 0.02,
                        "iv_smile_ratio": 0.07, "quote_staleness_seconds": 1.5, "ticks_per_second": 12000.0,
                        "consumer_lag": {"quotes-0": 10, "quotes-1": 0}}},
    "NDX": {"spot": 20000.0, "dex_usd": 1.0, "gex_usd_per_pct": -2.0,
            "vex_usd_per_vol_pt": 3.0, "cex_usd_per_day": -4.0, "zero_gamma": None,
            "call_wall": None, "put_wall": 19000.0, "regime": None, "by_strike": [],
            "quality": {"consumer_lag": {"quotes-1": 7}}},
}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port: int) -> dict[str, list]:
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def value(samples, name, **labels):
    hits = [v for lab, v in samples.get(name, []) if lab == labels]
    assert len(hits) == 1, (name, labels, samples.get(name))
    return hits[0]


@pytest.fixture
def served():
    m = Metrics(lambda: STATES)
    port = m.serve("127.0.0.1", 0)
    assert port and m.port == port
    yield m
    m.stop()


def test_moneyness_buckets():
    assert len(PROFILE_BUCKETS) == 23 and len(set(PROFILE_BUCKETS)) == 23
    assert PROFILE_BUCKETS[0] == "<-10%" and PROFILE_BUCKETS[-1] == ">+10%"
    assert "0%" in PROFILE_BUCKETS and "+1%" in PROFILE_BUCKETS and "-10%" in PROFILE_BUCKETS
    assert moneyness_bucket(5000.0, 5000.0) == "0%"
    assert moneyness_bucket(5024.9, 5000.0) == "0%"
    assert moneyness_bucket(5025.0, 5000.0) == "+1%"
    assert moneyness_bucket(4975.0, 5000.0) == "0%"  # -0.5 % is in [-0.5, +0.5)
    assert moneyness_bucket(4974.9, 5000.0) == "-1%"
    assert moneyness_bucket(4475.0, 5000.0) == "-10%"
    assert moneyness_bucket(4976.0, 5000.0) == "0%"
    assert moneyness_bucket(4474.0, 5000.0) == "<-10%"
    assert moneyness_bucket(4476.0, 5000.0) == "-10%"
    assert moneyness_bucket(5524.9, 5000.0) == "+10%"
    assert moneyness_bucket(5525.0, 5000.0) == ">+10%"
    assert moneyness_bucket(3500.0, 5000.0) == "<-10%"


def test_gauges_match_provider(served):
    s = scrape(served.port)
    for name, key in [("dealerflow_spot", "spot"), ("dealerflow_dex_usd", "dex_usd"),
                      ("dealerflow_gex_usd_per_pct", "gex_usd_per_pct"),
                      ("dealerflow_vex_usd_per_vol_pt", "vex_usd_per_vol_pt"),
                      ("dealerflow_cex_usd_per_day", "cex_usd_per_day")]:
        for root, state in STATES.items():
            assert value(s, name, underlying=root) == state[key]
    assert value(s, "dealerflow_zero_gamma", underlying="SPX") == 4890.5
    assert value(s, "dealerflow_call_wall", underlying="SPX") == 5100.0
    assert value(s, "dealerflow_put_wall", underlying="NDX") == 19000.0
    # None: no sample
    assert all(lab["underlying"] != "NDX" for lab, _ in s["dealerflow_zero_gamma"])
    assert all(lab["underlying"] != "NDX" for lab, _ in s["dealerflow_call_wall"])

    q = STATES["SPX"]["quality"]
    assert value(s, "dealerflow_oi_age_seconds", underlying="SPX") == q["oi_age_seconds"]
    assert value(s, "dealerflow_iv_failed_ratio", underlying="SPX") == q["iv_failed_ratio"]
    assert value(s, "dealerflow_iv_smile_ratio", underlying="SPX") == q["iv_smile_ratio"]
    assert value(s, "dealerflow_quote_staleness_seconds",
                 underlying="SPX") == q["quote_staleness_seconds"]
    assert value(s, "dealerflow_ticks_per_second", underlying="SPX") == q["ticks_per_second"]
    assert value(s, "dealerflow_consumer_lag", partition="quotes-0") == 10
    assert value(s, "dealerflow_consumer_lag", partition="quotes-1") == 7  # max over roots


def test_regime_one_hot(served):
    s = scrape(served.port)
    for root, current in [("SPX", "short_gamma"), ("NDX", "unknown")]:
        rows = {lab["regime"]: v for lab, v in s["dealerflow_regime"]
                if lab["underlying"] == root}
        assert set(rows) == set(DEFAULT_REGIMES) | {"unknown"}
        assert sum(rows.values()) == 1.0
        assert rows[current] == 1.0


def test_gex_profile_buckets_bounded_and_sum(served):
    s = scrape(served.port)
    rows = {lab["bucket"]: v for lab, v in s["dealerflow_gex_profile_usd_per_pct"]
            if lab["underlying"] == "SPX"}
    assert set(rows) == set(PROFILE_BUCKETS)
    total = sum(r["gex_usd_per_pct_calls"] + r["gex_usd_per_pct_puts"] for r in BY_STRIKE)
    assert sum(rows.values()) == pytest.approx(total, rel=1e-12)
    assert rows["<-10%"] == pytest.approx(sum(
        r["gex_usd_per_pct_calls"] + r["gex_usd_per_pct_puts"] for r in BY_STRIKE
        if r["strike"] < 4475.0))
    assert rows["0%"] == pytest.approx(sum(
        r["gex_usd_per_pct_calls"] + r["gex_usd_per_pct_puts"] for r in BY_STRIKE
        if 4975.0 <= r["strike"] < 5025.0))
    assert gex_profile(BY_STRIKE, SPOT) == pytest.approx(rows)
    # an empty chain still exports the 23 buckets, at 0
    ndx = [v for lab, v in s["dealerflow_gex_profile_usd_per_pct"] if lab["underlying"] == "NDX"]
    assert len(ndx) == 23 and not any(ndx)


def test_counters_and_histograms(served):
    m = served
    m.count_ticks("SPX", "quote", "applied", 5)
    m.count_ticks("SPX", "quote", "applied")
    m.count_ticks("SPX", "trade", "rejected", 2)
    m.count_rejected("SPX", "crossed", 2)
    m.count_rejected("SPX", "nan")
    m.count_regime_change("SPX", "short_gamma")
    m.count_redis_dropped(3)
    m.observe_tick_to_state("SPX", 150e-6)
    m.observe_tick_to_state("SPX", 3e-3)
    m.observe_state_to_redis(800e-6)
    with pytest.raises(ValueError):
        m.count_ticks("SPX", "quote", "exploded")
    s = scrape(m.port)
    assert value(s, "dealerflow_ticks_total", underlying="SPX", kind="quote",
                 outcome="applied") == 6
    assert value(s, "dealerflow_ticks_total", underlying="SPX", kind="trade",
                 outcome="rejected") == 2
    assert value(s, "dealerflow_ticks_rejected_total", underlying="SPX", reason="crossed") == 2
    assert value(s, "dealerflow_ticks_rejected_total", underlying="SPX", reason="nan") == 1
    assert value(s, "dealerflow_regime_changes_total", underlying="SPX",
                 regime="short_gamma") == 1
    assert value(s, "dealerflow_redis_events_dropped_total") == 3
    assert value(s, "dealerflow_tick_to_state_seconds_count", underlying="SPX") == 2
    assert value(s, "dealerflow_tick_to_state_seconds_bucket", underlying="SPX",
                 le="0.0002") == 1
    assert value(s, "dealerflow_state_to_redis_seconds_count") == 1
    les = {lab["le"] for lab, _ in s["dealerflow_state_to_redis_seconds_bucket"]}
    assert "2e-05" in les and "0.1" in les and "+Inf" in les

    m.count_ticks("SPX", "quote", "applied")
    assert value(scrape(m.port), "dealerflow_ticks_total", underlying="SPX", kind="quote",
                 outcome="applied") == 7


def test_added_underlying_exports_its_counters_at_zero_before_any_increment():
    """Prometheus's rule for labelled counters: a series born at 1 hides its first
    increment from rate() and increase(), and an alert rule naming it finds nothing."""
    m = Metrics(regimes=("long_gamma", "short_gamma"))
    m.add_underlying("NDX")

    def samples():
        out: dict[str, list] = {}
        for family in text_string_to_metric_families(m.render().decode()):
            for x in family.samples:
                out.setdefault(x.name, []).append((x.labels, x.value))
        return out

    s = samples()
    for regime in ("long_gamma", "short_gamma"):
        assert value(s, "dealerflow_regime_changes_total", underlying="NDX", regime=regime) == 0
    assert value(s, "dealerflow_ticks_rejected_total", underlying="NDX", reason="crossed") == 0
    m.count_regime_change("NDX", "short_gamma")
    assert value(samples(), "dealerflow_regime_changes_total", underlying="NDX",
                 regime="short_gamma") == 1


def test_label_values_stay_bounded():
    m = Metrics(max_label_values=4)
    for i in range(50):
        m.count_rejected("SPX", f"weird reason {i}")
    reasons = {s.labels["reason"] for fam in text_string_to_metric_families(m.render().decode())
               for s in fam.samples if s.name == "dealerflow_ticks_rejected_total"}
    assert "other" in reasons and len(reasons) <= 20  # known reasons + a few + other


def test_health_and_readiness(served):
    assert get(f"http://127.0.0.1:{served.port}/healthz") == (200, "ok\n")
    status, _ = get(f"http://127.0.0.1:{served.port}/readyz")
    assert status == 503
    served.set_ready(True)
    assert get(f"http://127.0.0.1:{served.port}/readyz")[0] == 200
    served.set_ready(False)
    assert get(f"http://127.0.0.1:{served.port}/readyz")[0] == 503
    assert get(f"http://127.0.0.1:{served.port}/nope")[0] == 404


def test_separate_registries_and_failing_provider():
    def boom():
        raise RuntimeError("provider broke")
    a, b = Metrics(lambda: STATES), Metrics(boom)
    a.count_redis_dropped(2)
    pa, pb = a.serve(), b.serve()
    try:
        assert pa != pb
        sa, sb = scrape(pa), scrape(pb)
        assert value(sa, "dealerflow_redis_events_dropped_total") == 2
        assert value(sb, "dealerflow_redis_events_dropped_total") == 0
        assert "dealerflow_spot" not in sb  # the scrape still works
    finally:
        a.stop()
        b.stop()
    a.stop()  # idempotent


def test_forward_and_charm_gauges_keep_bounded_horizons():
    fwd = [{"horizon": h, "zero_gamma": 4900.0 + i, "gex_usd_per_pct": 1e8 * (i + 1),
            "call_wall": 5100.0, "put_wall": None}
           for i, h in enumerate(("+1h", "close", "next_open", "after_next_expiry", "+7y"))]
    state = {"spot": SPOT, "forward": fwd, "charm_to_close_usd": -2.5e9,
             "charm_to_close_shares": -5e5}
    m = Metrics(lambda: {"SPX": state})
    port = m.serve("127.0.0.1", 0)
    try:
        s = scrape(port)
    finally:
        m.stop()
    for i, h in enumerate(("+1h", "close", "next_open", "after_next_expiry")):
        assert value(s, "dealerflow_forward_zero_gamma", underlying="SPX", horizon=h) == 4900 + i
        assert value(s, "dealerflow_forward_gex_usd_per_pct", underlying="SPX",
                     horizon=h) == 1e8 * (i + 1)
    assert {lab["horizon"] for lab, _ in s["dealerflow_forward_zero_gamma"]} == {
        "+1h", "close", "next_open", "after_next_expiry"}  # "+7y" is not a horizon
    assert "dealerflow_forward_put_wall" not in s  # None: no sample
    assert value(s, "dealerflow_charm_to_close_usd", underlying="SPX") == -2.5e9
    assert value(s, "dealerflow_charm_to_close_shares", underlying="SPX") == -5e5


# -- logs -------------------------------------------------------------------------------

@pytest.fixture
def restore_logging():
    yield
    reset_logging()


def test_json_logs_one_object_per_event(restore_logging):
    buf = io.StringIO()
    configure_logging("json", "info", stream=buf)
    log = structlog.get_logger("test")
    structlog.contextvars.bind_contextvars(underlying="SPX", partition=3)
    try:
        log.info("regime_changed", regime="short_gamma", gex_usd_per_pct=-1.5e8)
        log.debug("hidden")  # below the level
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            log.exception("failed")
        import logging
        logging.getLogger("aiokafka").warning("stdlib %s", "record")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3, lines
    first, second, third = (json.loads(line) for line in lines)
    assert first["event"] == "regime_changed" and first["level"] == "info"
    assert first["underlying"] == "SPX" and first["partition"] == 3
    assert first["regime"] == "short_gamma" and first["gex_usd_per_pct"] == -1.5e8
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert second["level"] == "error" and "ZeroDivisionError" in second["exception"]
    assert third["event"] == "stdlib record" and third["level"] == "warning"


def test_auto_is_json_off_a_terminal(restore_logging):
    buf = io.StringIO()  # not a TTY
    configure_logging("auto", "warning", stream=buf)
    structlog.get_logger().warning("w", x=1)
    structlog.get_logger().info("i")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["x"] == 1


def test_console_logs(restore_logging):
    buf = io.StringIO()
    configure_logging("console", "debug", stream=buf)
    structlog.get_logger().info("hello", a=1)
    out = buf.getvalue()
    assert "hello" in out and "a" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.splitlines()[0])


@pytest.mark.parametrize("url, expected", [
    ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:secret@host/1", "redis://user:***@host/1"),
    ("redis://host:6379/0", "redis://host:6379/0"),
    ("rediss://default:p%40ss@cache.example.com:6380",
     "rediss://default:***@cache.example.com:6380"),
    ("redis://host/0?password=secret&socket_timeout=1",
     "redis://host/0?password=***&socket_timeout=1"),
    ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com"),
    ("https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
     "?api-version=2016-06-01&sig=SECRETSIG", "https://prod-12.westus.logic.azure.com:443"),
    ("http://user:pw@example.com/hook?token=x", "http://example.com"),
    ("not a url", "***"),
    (None, ""),
])
def test_redact(url, expected):
    assert redact(url) == expected


def test_redact_secretstr():
    from pydantic import SecretStr
    out = redact(SecretStr("https://hooks.slack.com/services/T/B/SECRET"))
    assert out == "https://hooks.slack.com" and "SECRET" not in out


def _samples(m: Metrics) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_state_fields_read_as_decoded_from_redis_and_lags_from_the_source():
    # a state as json.loads gives it (strings not the registry's own objects), a junk
    # scenario before a good one, a strike row with puts only, the source's own lags
    from monitor.sinks.metrics import gex_profile
    label = "".join(["damp", "ening"])
    state = {"spot": 100.0, "settled_vs_live": {"label": label},
             "scenarios": ["junk", {"spot_pct": -2.0, "vol_pts": 0.0, "days": 0.0,
                                    "flow_usd": -5e6, "flow_shares": -5e4}]}
    probe = [(True, 3)]
    m = Metrics(lambda: {"SPX": state}, lag_provider=lambda: {"ticks:0": 12, "ticks:1": 0})
    m.redis_probe = lambda: probe[0]
    s = _samples(m)
    assert value(s, "dealerflow_settled_vs_live", underlying="SPX", label="dampening") == 1.0
    assert value(s, "dealerflow_settled_vs_live", underlying="SPX", label="flip") == 0.0
    assert [v for _, v in s["dealerflow_hedge_flow_usd"]] == [-5e6]
    assert value(s, "dealerflow_consumer_lag", partition="ticks:0") == 12
    assert value(s, "dealerflow_consumer_lag", partition="ticks:1") == 0
    assert value(s, "dealerflow_redis_connected") == 1.0
    assert value(s, "dealerflow_redis_events_buffered") == 3.0
    m.redis_probe = None  # no Redis sink: not connected, nothing buffered
    s = _samples(m)
    assert value(s, "dealerflow_redis_connected") == 0.0
    assert value(s, "dealerflow_redis_events_buffered") == 0.0
    assert gex_profile([{"strike": 100.0, "gex_usd_per_pct_puts": -2.0}], 100.0)["0%"] == -2.0


def test_label_values_are_cleaned_and_cut_at_40_characters():
    m = Metrics()
    m.count_rejected("SPX", "x" * 50)
    reasons = {lab["reason"] for lab, _ in _samples(m)["dealerflow_ticks_rejected_total"]}
    assert "x" * 40 in reasons and "x" * 41 not in reasons


def test_latency_buckets_reach_one_second_to_show_outages():
    m = Metrics()
    m.observe_tick_to_state("SPX", 0.7)
    s = _samples(m)
    les = [lab["le"] for lab, _ in s["dealerflow_tick_to_state_seconds_bucket"]]
    assert les[-3:] == ["0.25", "1.0", "+Inf"]
    assert value(s, "dealerflow_tick_to_state_seconds_bucket", underlying="SPX", le="1.0") == 1
    assert value(s, "dealerflow_tick_to_state_seconds_bucket", underlying="SPX", le="0.25") == 0


def test_a_label_keeps_its_known_values_and_one_new_one_past_a_small_cap():
    from monitor.sinks.metrics.names import BoundedLabel as _BoundedLabel
    lab = _BoundedLabel(("a", "b", "c"), cap=1)  # the cap raised to the known values + 1
    assert [lab(v) for v in ("a", "x", "y", "x", "c")] == ["a", "x", "other", "x", "c"]
    # the default: 64 distinct underlyings, the 65th is "other"
    m = Metrics()
    for i in range(65):
        m.count_rejected(f"U{i}", "crossed")
    unds = {x["underlying"] for x, _ in _samples(m)["dealerflow_ticks_rejected_total"]}
    assert len(unds - {"other"}) == 64 and "other" in unds and "U64" not in unds


def test_regime_index_age_and_profile_of_odd_states():
    # a headline regime outside the list is index -1; a state published at t=1000 s (1970)
    # is decades old; a negative spot gives no profile
    state = {"spot": -0.5, "regime": "not_a_regime", "published_s": 1000.0,
             "by_strike": BY_STRIKE}
    s = _samples(Metrics(lambda: {"SPX": state}))
    assert value(s, "dealerflow_regime_index", underlying="SPX") == -1.0
    assert value(s, "dealerflow_state_age_seconds", underlying="SPX") > 1.7e9
    assert "dealerflow_gex_profile_usd_per_pct" not in s
