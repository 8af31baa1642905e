"""The Grafana dashboards, as code (Grafana Labs' ``grafana-foundation-sdk``).

    .venv/bin/python grafana/dashboards.py          # writes grafana/dashboards/*.json
    .venv/bin/python grafana/dashboards.py --check  # exit 1 if a committed file differs

The generated JSON is committed (Grafana's provisioning reads it: provisioning/dashboards)
and tests/test_grafana_prometheus.py regenerates it and compares. Every query uses only
the metrics ``monitor run`` exports (README, "Metrics") and the recording rules of
deploy/prometheus/rules.yml; that test checks each selector against a live /metrics and
evaluates every query in a real Prometheus.

One dashboard, "Dealer flow": the wall rows (read across a room: regime banner with its
sentence, spot against zero gamma and the walls, GEX / VEX / CEX over time, the gamma
profile by moneyness as bars and as a bucket x time heatmap, the scenario flows) and an
ingestion-health row; the hedge-pressure tape against spot; the structure forward in time
(zero gamma and GEX per horizon, charm to the close) and the settled-vs-live label with
both books' GEX. ``$underlying`` selects the underlying.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, dashboard, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueTextMode, VizOrientation
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardSpecialValueMapOptions,
    DataSourceRef,
    DynamicConfigValue,
    SpecialValueMap,
    SpecialValueMatch,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
)
from grafana_foundation_sdk.models.dashboard import Threshold as T
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="dealerflow-prometheus")
U = 'underlying="$underlying"'



def q(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> prometheus.Dataquery:
    b = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        b = b.legend_format(legend)
    return b.instant() if instant else b.range()


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [T(value=v, color=c) for v, c in steps])


SIGNED = thresholds((None, "red"), (0.0, "green"))  # - = dealers sell / short gamma


def ts(title: str, unit: str, h: int, w: int, *targets, th=None) -> timeseries.Panel:
    p = (timeseries.Panel().title(title).unit(unit).height(h).span(w).datasource(DS)
         .thresholds(th or SIGNED).line_width(3).fill_opacity(10))
    for t in targets:
        p = p.with_target(t)
    return p


def build() -> dashboard.Dashboard:
    no_flip = [SpecialValueMap(options=DashboardSpecialValueMapOptions(
        match=SpecialValueMatch.NA_N, result=ValueMappingResult(text="no flip within 20%")))]
    d = (dashboard.Dashboard("Dealer flow").uid("dealerflow-wall").tags(["dealerflow"])
         .refresh("5s").time("now-6h", "now").timezone("browser").editable()
         .tooltip(DashboardCursorSync.CROSSHAIR)
         .with_variable(dashboard.QueryVariable("underlying").label("underlying")
                        .datasource(DS).query("label_values(dealerflow_spot, underlying)")
                        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)))
    # -- the wall ---------------------------------------------------------------------
    d = d.with_row(dashboard.Row("$underlying: positioning"))
    d = d.with_panel(
        stat.Panel().title("Gamma state, and zero gamma against spot").height(5).span(12)
        .datasource(DS)
        .with_target(q(f"dealerflow_gamma_state{{{U}}}", "{{state}}", instant=True))
        .unit("percent").decimals(2).mappings(no_flip).thresholds(thresholds((None, "text")))
        .color_mode(BigValueColorMode.NONE).text_mode(BigValueTextMode.VALUE_AND_NAME)
        .description("The headline's own reading (full revaluation of -1% and +1%, as the "
                     "state's headline sentence): its words are the series' state label "
                     "(dealerflow_gamma_state), the number is zero gamma against spot (- = "
                     "below). No fixed text per regime label."))
    d = d.with_panel(
        stat.Panel().title("Regime labels in force").height(5).span(12).datasource(DS)
        .with_target(q(f"dealerflow_regime{{{U}}} == 1", "{{regime}}", instant=True))
        .thresholds(thresholds((None, "text"))).color_mode(BigValueColorMode.NONE).text_mode(BigValueTextMode.NAME)
        .description("The regime engine's labels in force (dealerflow_regime), as named; "
                     "README: Regimes"))
    d = d.with_panel(ts(
        "Spot, zero gamma and the walls", "none", 9, 12,
        q(f"dealerflow_spot{{{U}}}", "spot", ref="A"),
        q(f"dealerflow_zero_gamma{{{U}}}", "zero gamma", ref="B"),
        q(f"dealerflow_call_wall{{{U}}}", "call wall", ref="C"),
        q(f"dealerflow_put_wall{{{U}}}", "put wall", ref="D"),
        th=thresholds((None, "text"))))
    d = d.with_panel(
        bargauge.Panel().title("Dealers' hedge flow by scenario (full revaluation; + = buy)")
        .height(9).span(12).datasource(DS).unit("currencyUSD").thresholds(SIGNED)
        .orientation(VizOrientation.HORIZONTAL)
        .with_target(q(f"dealerflow_hedge_flow_usd{{{U}}}", "{{scenario}}", instant=True)))
    for title, metric, unit in (("GEX, $ per 1 % move", "dealerflow_gex_usd_per_pct", "currencyUSD"),
                                ("VEX, $ per vol point", "dealerflow_vex_usd_per_vol_pt", "currencyUSD"),
                                ("CEX, $ per day", "dealerflow_cex_usd_per_day", "currencyUSD")):
        d = d.with_panel(ts(title, unit, 7, 8, q(f"{metric}{{{U}}}", "$underlying")))
    d = d.with_panel(
        ts("Hedge-pressure tape: dealers' hedges of today's prints (+ = buy), spot on the right",
           "currencyUSD", 8, 24,
           q(f"dealerflow_hedge_pressure_usd{{{U}}}", "{{expiry}}", ref="A"),
           q(f"dealerflow_spot{{{U}}}", "spot", ref="B"))
        .override_by_name("spot", [DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
                                   DynamicConfigValue(id_val="unit", value="none")]))
    d = d.with_panel(
        bargauge.Panel().title("Gamma by strike, moneyness buckets ($ per 1 %)").height(9)
        .span(12).datasource(DS).unit("currencyUSD").thresholds(SIGNED)
        .orientation(VizOrientation.VERTICAL)
        .with_target(q(f"dealerflow_gex_profile_usd_per_pct{{{U}}}", "{{bucket}}",
                       instant=True)))
    d = d.with_panel(
        heatmap.Panel().title("Gamma by moneyness bucket over time").height(9).span(12)
        .datasource(DS).unit("currencyUSD").thresholds(SIGNED).calculate(False)
        .color(heatmap.HeatmapColorOptions().mode(HeatmapColorMode.SCHEME).scheme("RdYlGn")
               .fill("green"))
        .with_target(q(f"dealerflow_gex_profile_usd_per_pct{{{U}}}", "{{bucket}}")
                     .format("heatmap")))
    # -- forward in time, settled vs live (issue 15) ---------------------------------------
    d = d.with_row(dashboard.Row("$underlying: forward in time, settled vs live"))
    d = d.with_panel(
        stat.Panel().title("Zero gamma forward (spot and IVs held)").height(6).span(8)
        .datasource(DS).unit("none").decimals(0).thresholds(thresholds((None, "text")))
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
        .with_target(q(f"dealerflow_forward_zero_gamma{{{U}}}", "{{horizon}}", instant=True)))
    d = d.with_panel(
        bargauge.Panel().title("GEX forward by horizon, $ per 1 % (spot and IVs held)")
        .height(6).span(8).datasource(DS).unit("currencyUSD").thresholds(SIGNED)
        .orientation(VizOrientation.HORIZONTAL)
        .with_target(q(f"dealerflow_forward_gex_usd_per_pct{{{U}}}", "{{horizon}}",
                       instant=True)))
    d = d.with_panel(
        stat.Panel().title("Charm to the close: dealers' hedge from time alone (+ = buy)")
        .height(6).span(8).datasource(DS).unit("currencyUSD").thresholds(SIGNED)
        .color_mode(BigValueColorMode.BACKGROUND)
        .with_target(q(f"dealerflow_charm_to_close_usd{{{U}}}", "charm to close",
                       instant=True)))
    d = d.with_panel(
        stat.Panel().title("Today's prints against the settled book").height(6).span(8)
        .datasource(DS).text_mode(BigValueTextMode.NAME)
        .color_mode(BigValueColorMode.BACKGROUND).thresholds(thresholds((None, "blue")))
        .description("dealerflow_settled_vs_live: amplifying (today's flow adds to the "
                     "settled sign), dampening, flip (signs differ), same (below "
                     "regimes.settled_live_same_frac)")
        .with_target(q(f"dealerflow_settled_vs_live{{{U}}} == 1", "{{label}}",
                       instant=True)))
    d = d.with_panel(ts(
        "GEX of the settled and the live book, $ per 1 %", "currencyUSD", 6, 16,
        q(f"dealerflow_book_gex_usd_per_pct{{{U}}}", "{{book}}")))
    # -- ingestion health -----------------------------------------------------------------
    d = d.with_row(dashboard.Row("Ingestion health"))
    d = d.with_panel(ts("Ticks per second by outcome", "ops", 7, 8,
                        q("sum by (outcome) (dealerflow:ticks:rate1m)", "{{outcome}}"),
                        th=thresholds((None, "green"))))
    d = d.with_panel(ts("Rejections per second by reason", "ops", 7, 8,
                        q("sum by (reason) (dealerflow:ticks_rejected:rate5m)", "{{reason}}"),
                        th=thresholds((None, "green"), (1.0, "orange"), (100.0, "red"))))
    d = d.with_panel(ts("Consumer lag (messages)", "short", 7, 8,
                        q("sum(dealerflow_consumer_lag) or vector(0)", "lag"),
                        th=thresholds((None, "green"), (10000.0, "orange"), (100000.0, "red"))))
    d = d.with_panel(ts("Tick to state", "s", 7, 8,
                        q("dealerflow:tick_to_state_seconds:p50_1m", "p50 {{underlying}}", ref="A"),
                        q("dealerflow:tick_to_state_seconds:p99_1m", "p99 {{underlying}}", ref="B"),
                        th=thresholds((None, "green"), (0.05, "orange"), (0.5, "red"))))
    d = d.with_panel(ts("Redis: connected, events buffered", "short", 7, 8,
                        q("dealerflow_redis_connected", "connected", ref="A"),
                        q("dealerflow_redis_events_buffered", "buffered", ref="B"),
                        th=thresholds((None, "green"), (100.0, "orange"))))
    d = d.with_panel(ts("Data quality", "s", 7, 8,
                        q(f"dealerflow_quote_staleness_seconds{{{U}}}", "newest quote age", ref="A"),
                        q(f"dealerflow_state_age_seconds{{{U}}}", "state age", ref="B"),
                        th=thresholds((None, "green"), (30.0, "orange"), (120.0, "red"))))
    d = d.with_panel(
        stat.Panel().title("IV not solved / smile-priced").height(5).span(12).datasource(DS)
        .unit("percentunit").thresholds(thresholds((None, "green"), (0.05, "orange"), (0.2, "red")))
        .with_target(q(f"dealerflow_iv_failed_ratio{{{U}}}", "IV failed", ref="A", instant=True))
        .with_target(q(f"dealerflow_iv_smile_ratio{{{U}}}", "smile-priced", ref="B", instant=True)))
    d = d.with_panel(
        stat.Panel().title("Ready").height(5).span(12).datasource(DS)
        .with_target(q("min(dealerflow_ready)", instant=True))
        .mappings([ValueMap(options={"1": ValueMappingResult(text="READY", color="green", index=0),
                                     "0": ValueMappingResult(text="NOT READY", color="red", index=1)})])
        .color_mode(BigValueColorMode.BACKGROUND).thresholds(thresholds((None, "red"), (1.0, "green"))))
    return d


def render() -> dict[str, str]:
    """{file name: JSON text} of every dashboard."""
    enc = JSONEncoder(sort_keys=True, indent=2)
    model = build().build()
    for i, panel in enumerate(model.panels, 1):  # stable, unique ids (rows included)
        panel.id_val = i
    return {"dealerflow.json": enc.encode(model) + "\n"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare, do not write")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run grafana/dashboards.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
