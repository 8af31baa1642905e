"""The Markdown report and its PNG charts. Charts use matplotlib's object API with the Agg
canvas (no pyplot, no global backend switch), so the study runs headless and leaves the
process's matplotlib state alone."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.study.claims import common as C
from monitor.study.model import ClaimResult, Finding
from monitor.study.scorecard import PUBLISHED_SOURCE
from monitor.study.stats import describe_verdict_rule

__all__ = ["write_charts", "render_markdown", "fmt_value"]

_COL = {"neg": "#c0392b", "pos": "#2471a3", "grey": "#7f8c8d", "hi": "#e67e22"}


# ---------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------


def fmt_value(x, unit: str = "") -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    if unit in ("share", "r", "rho"):
        return f"{x:.3f}"
    if unit in ("%/pt", "%/%"):
        return f"{x:.4f}"
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.2f}"


def _ci(f: Finding) -> str:
    return f"[{fmt_value(f.lo, f.unit)}, {fmt_value(f.hi, f.unit)}]"


def _table(headers, rows) -> str:
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


_BADGE = {"supported": "**supported**", "contradicted": "**contradicted**",
          "too thin": "*too thin to tell*"}


# ---------------------------------------------------------------------------------------
# charts
# ---------------------------------------------------------------------------------------


def _fig(w=11.0, h=4.2, ncols=2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _err(e):
    m = e.estimate
    lo = m - e.lo if math.isfinite(e.lo) else 0.0
    hi = e.hi - m if math.isfinite(e.hi) else 0.0
    return m, lo, hi


def _chart1(c: ClaimResult, out: Path) -> list[dict]:
    res = []
    fig, (a, b) = _fig()
    sign = c.plot["sign"]
    names = list(sign)
    x = np.arange(2)
    for j, (label, off) in enumerate((("next-day |return|", -0.18), ("next-day range", 0.18))):
        vals = [_err(sign[n][j]) for n in names]
        a.bar(x + off, [v[0] for v in vals], 0.34,
              yerr=np.array([[v[1] for v in vals], [v[2] for v in vals]]), capsize=4,
              color=[_COL["neg"], _COL["pos"]], alpha=0.55 if j else 0.95, label=label)
    a.set_xticks(x, names)
    a.set_ylabel("% of previous close")
    a.set_title("SqueezeMetrics GEX sign (95% CI)")
    a.legend(fontsize=8)
    q = c.plot["quint"]
    xs = np.arange(1, 6)
    for key, lab, col, off in (("full", "full-sample quintiles", _COL["pos"], -0.18),
                               ("trail", "trailing 1y rank quintiles", _COL["hi"], 0.18)):
        vals = [_err(t[0]) for t in q[key]]
        b.bar(xs + off, [v[0] for v in vals], 0.34,
              yerr=np.array([[v[1] for v in vals], [v[2] for v in vals]]), capsize=3,
              color=col, label=lab)
    b.set_xticks(xs, [f"Q{i}" for i in xs])
    b.set_xlabel("GEX quintile (Q1 = lowest)")
    b.set_ylabel("mean next-day |return|, %")
    b.set_title("By GEX quintile (95% CI)")
    b.legend(fontsize=8)
    res.append({"file": _save(fig, out / "claim1_gex_regime.png").name,
                "caption": "Next-day SPX |return| and range by SqueezeMetrics GEX sign and "
                           "quintile"})
    own = c.plot.get("own")
    if own is not None and len(own):
        fig, (a, b) = _fig(12.0, 4.4)
        dates = own.index
        a.bar(dates, own["gex_model_usd_per_pct"] / 1e9, width=0.8,
              color=[_COL["neg"] if v < 0 else _COL["pos"]
                     for v in own["gex_model_usd_per_pct"]], label="model GEX")
        a.plot(dates, own["gex_vendor_usd_per_pct"] / 1e9, "k.", ms=5, label="vendor GEX")
        a.axhline(0, color="k", lw=0.6)
        a.set_ylabel("$bn per 1% move")
        a.set_title("Own GEX from the 2026 chains")
        a.legend(fontsize=8)
        a.tick_params(axis="x", rotation=45, labelsize=7)
        b.plot(dates, own["spot"], "-o", ms=3, color="k", label="SPX close")
        zg = own["zero_gamma"].astype(float)
        b.plot(dates, zg, "--", color=_COL["hi"], label="zero gamma (model)")
        b.set_title("Spot and zero-gamma level")
        b.legend(fontsize=8)
        b.tick_params(axis="x", rotation=45, labelsize=7)
        res.append({"file": _save(fig, out / "claim1_own_gex_2026.png").name,
                    "caption": "The project's own GEX (model and vendor Greeks), spot and "
                               "zero gamma, session by session"})
    return res


def _chart2(c: ClaimResult, out: Path) -> list[dict]:
    fig, (a, b) = _fig()
    s = c.plot["scatter"]
    for sg, key, col in ((1.0, "positive", _COL["pos"]), (-1.0, "negative", _COL["neg"])):
        sub = s[s["regime"] == sg]
        a.scatter(sub["dvix"], sub["ret"], s=3, alpha=0.35, color=col,
                  label=f"{key} GEX (n={len(sub)})")
        slope, mx, my = c.plot["fits"][key]
        xs = np.linspace(-10, 10, 10)
        a.plot(xs, my + slope * (xs - mx), color=col, lw=2)
    a.set_xlim(-12, 12)
    a.set_ylim(-8, 8)
    a.set_xlabel("VIX change, points")
    a.set_ylabel("SPX return, %")
    a.set_title("Same-day SPX return vs VIX change (OLS lines)")
    a.legend(fontsize=8, markerscale=4)
    r5, dv = c.plot["r5"], c.plot["dv"]
    rally = r5 > C.RALLY_PCT
    b.scatter(r5[~rally], dv[~rally], s=3, alpha=0.3, color=_COL["grey"], label="other windows")
    b.scatter(r5[rally], dv[rally], s=5, alpha=0.6, color=_COL["pos"], label="rallies")
    b.axhline(0, color="k", lw=0.6)
    b.axvline(C.RALLY_PCT, color="k", lw=0.6, ls="--")
    b.set_xlabel(f"SPX {C.RALLY_DAYS}-session return, %")
    b.set_ylabel("VIX change over the window, points")
    b.set_title(f"Non-overlapping {C.RALLY_DAYS}-session windows")
    b.legend(fontsize=8, markerscale=3)
    return [{"file": _save(fig, out / "claim2_vanna.png").name,
             "caption": "SPX against VIX: daily by GEX regime, and multi-day windows"}]


def _chart3(c: ClaimResult, out: Path) -> list[dict]:
    fig, (a, b) = _fig(12.0, 4.4)
    p = c.plot
    a.plot(p["dates"], p["vix"], lw=0.6, color="k")
    a.axhline(p["p95"], color=_COL["hi"], ls="--", label=f"p95 = {p['p95']:.1f}")
    a.axhline(p["p99"], color=_COL["neg"], ls="--", label=f"p99 = {p['p99']:.1f}")
    a.set_title("VIX close")
    a.legend(fontsize=8)
    names = list(dict.fromkeys(k[0] for k in p["events"]))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        vals = [_err(p["events"][(name, h)]) for h in C.HORIZONS]
        xs = np.arange(len(C.HORIZONS)) + (j - (len(names) - 1) / 2) * width
        b.bar(xs, [v[0] for v in vals], width,
              yerr=np.array([[v[1] for v in vals], [v[2] for v in vals]]), capsize=3,
              label=name, color=[_COL["hi"], _COL["neg"], _COL["pos"]][j % 3])
    b.axhline(0, color="k", lw=0.6)
    b.set_xticks(np.arange(len(C.HORIZONS)), [f"{h} sessions" for h in C.HORIZONS])
    b.set_ylabel("forward SPX return, event minus all days, pp")
    b.set_title("After VIX extremes (block-bootstrap 95% CI)")
    b.legend(fontsize=8)
    return [{"file": _save(fig, out / "claim3_vix_extremes.png").name,
             "caption": "VIX history with its percentiles; forward SPX returns after VIX "
                        "extremes relative to all days"}]


def _chart4(c: ClaimResult, out: Path) -> list[dict]:
    case = c.plot.get("case")
    fig, axes = _fig(12.0 if case else 6.0, 4.4, 2 if case else 1)
    a = axes[0]
    o = c.plot["opex"].dropna(subset=["ret", "next_week"])
    a.scatter(o["ret"], o["next_week"], s=8, alpha=0.6, color=_COL["pos"])
    a.axhline(0, color="k", lw=0.6)
    a.axvline(0, color="k", lw=0.6)
    a.set_xlabel("OPEX-day SPX return, %")
    a.set_ylabel(f"next {C.NEXT_WEEK} sessions, %")
    f0 = c.finding("4.next_week_corr")
    a.set_title(f"Monthly OPEX: r = {f0.estimate:+.3f} (n = {f0.n})")
    if case:
        b = axes[1]
        for day, (ts, path) in case["paths"].items():
            mins = (ts - ts.dt.normalize() - np_td(9, 30)).dt.total_seconds() / 60.0
            hot = day == case["day"]
            b.plot(mins / 60.0 + 9.5, path, lw=2.0 if hot else 0.7,
                   color=_COL["neg"] if hot else _COL["grey"], alpha=1.0 if hot else 0.6,
                   label=f"{day} (quad witching)" if hot else None, zorder=3 if hot else 1)
        b.axhline(0, color="k", lw=0.6)
        b.set_xlabel("hour (ET)")
        b.set_ylabel("% from previous close")
        b.set_title(f"SPX 1-minute sample around {case['day']}")
        b.legend(fontsize=8)
    return [{"file": _save(fig, out / "claim4_opex.png").name,
             "caption": "OPEX-day return against the next week; the 2023-03-17 quad witching "
                        "in the SPX minute sample"}]


def np_td(h, m):
    return pd.Timedelta(hours=h, minutes=m)


def _chart5(c: ClaimResult, out: Path) -> list[dict]:
    s = c.plot["sessions"]
    fig, (a,) = _fig(6.5, 4.6, 1)
    if len(s):
        for sg, lab, col in ((1.0, "after positive GEX", _COL["pos"]),
                             (-1.0, "after negative GEX", _COL["neg"])):
            for inst, mk in (("SPX", "o"), ("SPY", "s")):
                sub = s[(s["gex_sign"] == sg) & (s["instrument"] == inst)]
                if len(sub):
                    a.scatter(sub["r_rest"], sub["r_last"], marker=mk, color=col, s=28,
                              alpha=0.8, label=f"{inst} {lab} ({len(sub)})")
        a.legend(fontsize=8)
    a.axhline(0, color="k", lw=0.6)
    a.axvline(0, color="k", lw=0.6)
    a.set_xlabel("previous close to 30 min before the close, %")
    a.set_ylabel("last 30 minutes, %")
    a.set_title("Intraday momentum")
    return [{"file": _save(fig, out / "claim5_intraday.png").name,
             "caption": "Last half hour against the rest of the day, SPX and SPY sessions"}]


def write_charts(claims: dict[str, ClaimResult], out: Path) -> list[Path]:
    makers = {"1": _chart1, "2": _chart2, "3": _chart3, "4": _chart4, "5": _chart5}
    paths = []
    for k, c in claims.items():
        c.charts = makers[k](c, out)
        paths += [out / ch["file"] for ch in c.charts]
    return paths


# ---------------------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------------------


def _methods() -> str:
    rule = describe_verdict_rule()
    return f"""## How to read this report

Every finding gives an estimate, a two-sided 95 % confidence interval, the sample size that
governs it, the method, and a verdict. Returns and ranges are percent of the previous SPX
close; differences of them are percentage points (pp).

**Intervals.** Every interval over a daily series accounts for serial dependence. Regime
comparisons (claim 1: next-day moves after negative vs positive GEX closes, lowest vs
highest GEX quintile; the table rows' means), claim 4's expiration-day comparisons and
claim 2's slopes: seeded circular block bootstrap ({C.N_BOOT} resamples, blocks of
{C.DAILY_BLOCK} sessions) of the whole daily series, n = regime episodes (or expiration
days, each its own event), because negative-GEX days cluster in crises and volatile
spells cluster for weeks: an interval that assumes independent days overstates the
precision (Welch's [0.72, 1.07] pp for the headline against the block bootstrap's
[0.55, 1.36]). The slopes (OLS of the same-day SPX return on the VIX change, by the
previous close's GEX sign), their difference and the correlations beside them come from
the same resamples; the Spearman correlation of GEX with the next day's move resamples
the ranks. The VIX-controlled regression of claim 1: OLS with Newey-West standard errors
({C.HAC_LAGS} lags, Bartlett kernel). Claim 2's shares of 5-session windows with a
falling VIX: circular block bootstrap over runs of {C.WINDOW_BLOCK} windows (rallies
cluster in bull phases). The 2026 own-GEX window (about 40 sessions): blocks of
{C.SHORT_BLOCK} sessions. Overlapping forward returns after VIX events (claim 3): blocks
of max(horizon, {C.EPISODE_GAP}) sessions, so both the overlap of forward windows and the
clustering of events are kept. Independent by construction, and so with the classic
intervals: the expiration-day return against the next five sessions' (claim 4; Fisher z
and Wilson: one pair a month, windows that do not overlap), shares of VIX episodes (claim
3; Wilson: episodes at least {C.EPISODE_GAP} sessions apart) and the intraday sessions of
claim 5 (Fisher z, Zou (2007) for the difference of two correlations; Wilson).

**Verdict rule.** The claim's verdict is that of its headline finding; the other findings
are supporting evidence with their own verdicts.

{rule}

**Thresholds.** Too thin below: {C.MIN_N_GROUP} observations per group for a comparison of
means, {C.MIN_N_CORR} pairs for a correlation or per regime for a slope, {C.MIN_N_SHARE}
trials for a share, {C.MIN_EPISODES} independent episodes (event days at least
{C.EPISODE_GAP} sessions apart) for an event study. "No relation" margins: r within
±{C.NULL_MARGIN_R}, hit rate within 0.5 ± {C.NULL_MARGIN_HIT}, mean daily return within
±{C.NULL_MARGIN_RET} pp.

These are associations in history, not causal proofs: the GEX sign, VIX extremes and
volatility are all entangled, which the findings that control for the VIX level try to show.
"""


def _claim_section(c: ClaimResult) -> str:
    parts = [f"## {c.id}. {c.title}", "", f"**Claim.** {c.claim}", "",
             f"**Verdict: {c.verdict}.** {c.summary}", ""]
    rows = []
    for f in c.findings:
        head = " (headline)" if f.key == c.primary else ""
        rows.append([f"{f.statement}{head}", f.statistic, fmt_value(f.estimate, f.unit)
                     + (f" {f.unit}" if f.unit not in ("share", "r", "rho") else ""), _ci(f),
                     f.n_label, f.method, _BADGE.get(f.verdict, f.verdict)])
    parts += [_table(["finding", "statistic", "estimate", "95% CI", "n", "method", "verdict"],
                     rows), ""]
    for t in c.tables:
        parts += [f"**{t['title']}**", "", _table(t["headers"], t["rows"]), ""]
        if t.get("note"):
            parts += [f"*{t['note']}*", ""]
    for ch in c.charts:
        parts += [f"![{ch['caption']}]({ch['file']})", "", f"*{ch['caption']}.*", ""]
    for n in c.notes:
        parts += [f"> {n}", ""]
    return "\n".join(parts)


def _daily_section(rows: list[dict], dropped: list[dict], own_gex: bool) -> str:
    parts = ["## The 2026 chain window, session by session", ""]
    if not rows:
        parts += ["Not computed (" + ("no cboe_chain_eod*/SPX files" if own_gex
                                       else "--no-own-gex") + ").", ""]
        return "\n".join(parts)
    parts += [f"{len(rows)} sessions. GEX in $bn per 1 % move (classic dealer positions: "
              "long calls, short puts). Model = IV from the mid, contracts past settlement "
              "excluded; vendor = the file's gamma as published (expired contracts included). "
              "Zero gamma from the model book. The date is the session whose SPX close "
              "equals the file's spot (see the file label where it differs).", ""]
    trows = []
    for r in rows:
        date = r["date"] + (f" (file {r['label']})" if r["label"] != r["date"] else "")
        vix = "n/a" if r["vix_close"] is None else f"{r['vix_close']:.2f}"
        if r["vix_source"] != "VIX close file" and r["vix_close"] is not None:
            vix += "*"
        zg = "none" if r["zero_gamma"] is None else f"{r['zero_gamma']:.1f}"
        trows.append([date, f"{r['spot']:.2f}", f"{r['gex_model_usd_per_pct'] / 1e9:+.1f}",
                      "+" if r["gex_vendor_sign"] > 0 else "-" if r["gex_vendor_sign"] < 0
                      else "0", f"{r['gex_vendor_usd_per_pct'] / 1e9:+.1f}", zg, vix])
    parts += [_table(["date", "spot", "model GEX", "vendor GEX sign", "vendor GEX",
                      "zero gamma", "VIX close"], trows), ""]
    if any(r["vix_source"] == "VIX chain header" for r in rows):
        parts += ["\\* VIX close not in the VIX close file; taken from the VIX chain header "
                  "(fetched after 16:00 ET that day).", ""]
    if dropped:
        parts += ["Files not used:", ""]
        parts += [f"- `{d['file']}`: {d['reason']}" for d in dropped]
        parts += [""]
    return "\n".join(parts)


def _median_distance(rows: list[dict], key: str) -> str:
    """Median |level / spot - 1| over the sessions that have the level, as a percentage."""
    d = [abs(r[key] / r["spot"] - 1.0) for r in rows if r.get(key) is not None]
    return f"{100 * float(np.median(d)):.1f}%" if d else "n/a"


def _widths(score: list) -> str:
    """The range of the share rows' interval widths, in percentage points."""
    w = [100 * (r.estimate.hi - r.estimate.lo) for r in score
         if r.unit == "share" and math.isfinite(r.estimate.hi - r.estimate.lo)]
    return f"{min(w):.0f}-{max(w):.0f}" if w else "n/a"


def _scorecard_section(score: list, rows: list[dict]) -> str:
    """The levels scorecard (monitor.study.scorecard) beside SpotGamma's statistics."""
    parts = ["## Levels scorecard: the monitor's walls and zero gamma, next session", ""]
    if not score:
        parts += ["Not computed (no own levels: the 2026 chains were skipped).", ""]
        return "\n".join(parts)
    first, last = (rows[0]["date"], rows[-1]["date"]) if rows else ("", "")

    def value(x, unit):
        if x is None or not math.isfinite(x):
            return "n/a"
        return f"{100 * x:.0f}%" if unit == "share" else f"{x:.1f}%"

    trows = []
    for r in score:
        e = r.estimate
        ci = f"[{value(e.lo, r.unit)}, {value(e.hi, r.unit)}]"
        n = (f"{e.extra.get('k', 0)} of {e.n}" if r.unit == "share" else
             f"{e.extra.get('n_a', e.n)} below, {e.extra.get('n_b', '')} above"
             if r.key.endswith("minus_above") else f"{e.n}")
        trows.append([r.statement, value(e.estimate, r.unit), ci, n,
                      value(r.published, r.unit) if r.published is not None else ""])
    method = score[0].estimate.method
    parts += [f"The monitor's own levels from each 2026 end-of-day SPX chain ({first} .. "
              f"{last}; model Greeks, classic positions), scored on the next session of the "
              "SPX daily OHLC, for both wall definitions: the call wall at or above spot and "
              "the put wall at or below it (the monitor's), and the strikes with the largest "
              "call / put |GEX| anywhere (\"any strike\"). 95% intervals for every row: "
              f"{method} over the sessions in date order, which keeps the streaks of "
              "neighbouring sessions (overlapping 5-day windows, trending weeks) that "
              "intervals assuming independent sessions would ignore.", "",
              _table(["statistic", "monitor", "95% CI", "n", "SpotGamma (published)"], trows),
              "",
              f"Published figures: {PUBLISHED_SOURCE}.", "",
              "What this can and cannot show:", "",
              "- The levels differ: SpotGamma's walls and Volatility Trigger come from its own "
              "positioning model and data; ours from open interest under the classic model. A "
              "close match or mismatch says how the monitor's levels behaved, not whether "
              "SpotGamma's are computed alike.",
              "- The periods differ: theirs span five years (2019-2024, ~1,250 sessions); ours "
              f"the {score[0].estimate.n} scored sessions of the 2026 chains, one summer. At that "
              f"n the shares' intervals are {_widths(score)} points wide: only larger gaps "
              "say anything.",
              "- Distance decides much of a wall's hit rate: a wall far from spot holds by "
              "construction, one near spot is crossed often. The monitor's walls were a "
              f"median {_median_distance(rows, 'call_wall')} (call) and "
              f"{_median_distance(rows, 'put_wall')} (put) from the session's spot "
              f"({_median_distance(rows, 'call_wall_any_strike')} and "
              f"{_median_distance(rows, 'put_wall_any_strike')} over any strike); the "
              "published figures come without their distances, so the shares are not "
              "like for like.",
              "- The zero-gamma split rests on few sessions below it.",
              ""]
    return "\n".join(parts)


def render_markdown(*, claims: dict[str, ClaimResult], daily_rows: list[dict],
                    dropped: list[dict], inventory: list[dict], notes: list[str],
                    data_dir: Path, elapsed_s: float, own_gex: bool,
                    scorecard: list | None = None) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = ["# Mechanical dealer-flow claims tested on real history", "",
            f"Generated by `monitor study` on {now} from `{data_dir}` "
            f"({elapsed_s:.0f} s).", "",
            "## Verdicts at a glance", ""]
    rows = []
    for c in claims.values():
        h = c.headline
        rows.append([c.id, c.title, h.statistic,
                     fmt_value(h.estimate, h.unit) + (f" {h.unit}" if h.unit not in
                                                      ("share", "r", "rho") else ""),
                     _ci(h), h.n_label, _BADGE.get(h.verdict, h.verdict)])
    head += [_table(["#", "claim", "headline statistic", "estimate", "95% CI", "n", "verdict"],
                    rows), ""]
    head += [f"- **{c.id}. {c.title}** — {c.verdict}: {c.summary}" for c in claims.values()]
    head += ["", _methods()]
    body = [_claim_section(c) for c in claims.values()]
    data = ["## Data", "", _table(["series", "file", "first", "last", "rows"],
                                  [[r["series"], r["file"], r["first"], r["last"], r["rows"]]
                                   for r in inventory]), "",
            "Data handling:", ""]
    data += [f"- {n}" for n in notes]
    data += ["- SPY daily closes (`SPY_close_*`) are dividend-adjusted and are not used; SPY "
             "enters only through its raw minute bars.",
             "- Minute bars: regular session only (XNYS hours from exchange_calendars; the SPX "
             "16:00-16:04 settlement prints and SPY's extended hours are dropped; early "
             "closes respected).",
             "- OPEX dates: the calendar's `monthly_opex_session` (holiday third Fridays move "
             "to the session before).", ""]
    return "\n".join(head + body + [_daily_section(daily_rows, dropped, own_gex),
                                    _scorecard_section(scorecard or [], daily_rows)]
                     + data) + "\n"
