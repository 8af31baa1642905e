"""One function per claim. Each takes the prepared daily frame (see :func:`daily_frame`)
and whatever else it needs, and returns a :class:`~monitor.study.model.ClaimResult` with
its findings (estimate, 95 % interval, n, verdict), tables and the data for its charts.

Units: returns and ranges are in percent of the previous close, differences of them in
percentage points (pp). Every threshold below is a module constant, printed in the report.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from monitor.fmt import finite
from monitor.study import stats as S
from monitor.study.data import DailyData, _xnys, load_minute_bars, regular_sessions
from monitor.study.model import ClaimResult, finding

__all__ = [
    "MIN_N_GROUP", "MIN_N_CORR", "MIN_N_SHARE", "MIN_EPISODES", "N_BOOT", "SEED",
    "RALLY_DAYS", "RALLY_PCT", "JUMP_POINTS", "JUMP_DAYS", "HORIZONS", "EPISODE_GAP",
    "SELLOFF_DD_PCT", "SELLOFF_DAYS", "NULL_MARGIN_R", "NULL_MARGIN_HIT",
    "NULL_MARGIN_RET", "daily_frame", "claim1", "claim2", "claim3", "claim4", "claim5",
    "intraday_sessions",
]

# -- verdict thresholds ("too thin" below these) -------------------------------------------
MIN_N_GROUP = 30     # each group of a two-group comparison
MIN_N_CORR = 30      # pairs in a correlation / each regime of a slope
MIN_N_SHARE = 30     # trials of a hit rate / share
MIN_EPISODES = 10    # independent episodes of an event study
# "no relation" claims are supported only if the interval lies within null ± margin
NULL_MARGIN_R = 0.2      # correlation
NULL_MARGIN_HIT = 0.1    # hit rate around 0.5
NULL_MARGIN_RET = 0.2    # mean daily return difference, pp
# -- bootstrap -----------------------------------------------------------------------------
N_BOOT = 2000
SEED = 20260821
# -- claim parameters ----------------------------------------------------------------------
RALLY_DAYS = 5       # claim 2: non-overlapping windows of this many sessions ...
RALLY_PCT = 2.0      # ... with an SPX gain above this (percent) are "multi-day rallies"
JUMP_DAYS = 5        # claim 3: VIX up by at least JUMP_POINTS within JUMP_DAYS sessions
JUMP_POINTS = 10.0
HORIZONS = (5, 21, 63)
EPISODE_GAP = 21     # sessions without an event that separate two episodes
SELLOFF_DAYS = 63    # claim 3: "end of the sell-off" = no further fall of more than
SELLOFF_DD_PCT = 5.0  # SELLOFF_DD_PCT percent below the event close within SELLOFF_DAYS
NEXT_WEEK = 5        # claim 4: sessions after the expiration


def daily_frame(daily: DailyData) -> pd.DataFrame:
    """SPX sessions with close, ret (%), absret, range ((H-L)/previous close, %), the VIX
    close and the SqueezeMetrics GEX of the same date (NaN where absent)."""
    spx = daily.spx
    d = pd.DataFrame(index=spx.index)
    d["close"] = spx["close"]
    d["ret"] = spx["close"].pct_change() * 100.0
    d["absret"] = d["ret"].abs()
    d["range"] = (spx["high"] - spx["low"]) / spx["close"].shift(1) * 100.0
    d["vix"] = daily.vix.reindex(spx.index)
    d["gex"] = daily.gex["gex"].reindex(spx.index)
    return d


def _fmt(x, nd=2):
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def _ci(lo, hi, nd=2):
    return f"[{_fmt(lo, nd)}, {_fmt(hi, nd)}]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _mean_row(y: pd.Series, mask, nd=3, block: int = None):
    """(days, "mean [CI]", Estimate) of ``y`` on the days of ``mask``: the mean with a
    circular block bootstrap interval over the whole daily series (blocks of
    ``block`` days, default DAILY_BLOCK), so the clustering of the days is kept."""
    e = S.block_bootstrap_event_diff(y.to_numpy(), np.asarray(mask, dtype=bool),
                                     block=block or DAILY_BLOCK, n_boot=N_BOOT, seed=SEED,
                                     versus="none", episode_gap=1)
    return e.extra["n_event_days"], f"{_fmt(e.estimate, nd)} {_ci(e.lo, e.hi, nd)}", e


# ======================================================================================
# Claim 1: gamma regime and volatility
# ======================================================================================


def _trailing_rank(x: pd.Series, window: int = 252) -> pd.Series:
    """Share of the previous ``window - 1`` values below today's (no look-ahead)."""
    def f(w):
        return float((w[-1] > w[:-1]).mean())

    return x.rolling(window).apply(f, raw=True)


#: days per block of the block bootstrap over daily series (a trading month: regimes such
#: as negative GEX cluster for weeks)
DAILY_BLOCK = 21
#: blocks of the 5-session windows of claim 2 (4 windows = about a month)
WINDOW_BLOCK = 4
#: blocks for the 2026 own-GEX sample (about 40 sessions: a month-long block would leave
#: too few blocks to resample)
SHORT_BLOCK = 5
#: Newey-West lags for regressions on daily series (a trading month, as DAILY_BLOCK)
HAC_LAGS = 21
MIN_N_EPISODES = 10


def _short_diff(y: pd.Series, event: np.ndarray, n_boot: int, seed: int) -> S.Estimate:
    """:func:`_daily_diff` for the 2026 own-GEX sample: blocks of SHORT_BLOCK days, and n =
    the smaller group in days (the verdict's "too thin" rule for a two-group comparison)."""
    e = S.block_bootstrap_event_diff(y.to_numpy(), event, block=SHORT_BLOCK, n_boot=n_boot,
                                     seed=seed, versus="rest", episode_gap=0)
    e.n = min(e.extra["n_a"], e.extra["n_b"])
    return e


def _spearman_block(x: pd.Series, y: pd.Series) -> S.Estimate:
    """Spearman rho of two daily series with a circular block bootstrap interval (ranks
    over the whole sample, blocks of DAILY_BLOCK days; Fisher z would assume independent
    days, and GEX is persistent for months)."""
    ok = x.notna() & y.notna()
    rx, ry = x[ok].rank().to_numpy(), y[ok].rank().to_numpy()
    every = np.ones(len(rx), dtype=bool)
    r = S.block_bootstrap_slopes(ry, rx, every, every, block=DAILY_BLOCK, n_boot=N_BOOT,
                                 seed=SEED)["r_a"]
    r.method = f"Spearman rho, {r.method}"
    return r


def _daily_diff(y: pd.Series, event: np.ndarray, n_boot: int, seed: int) -> S.Estimate:
    """mean(y on event days) - mean(y on the other days) of a daily series, with a
    circular block bootstrap interval (blocks of DAILY_BLOCK days; n = episodes)."""
    return S.block_bootstrap_event_diff(y.to_numpy(), event, block=DAILY_BLOCK, n_boot=n_boot,
                                        seed=seed, versus="rest")


def claim1(D: pd.DataFrame, own_rows: list[dict] | None, *, n_boot: int = N_BOOT,
           seed: int = SEED) -> ClaimResult:
    d = D.copy()
    d["abs_next"] = d["absret"].shift(-1)
    d["range_next"] = d["range"].shift(-1)
    g = d.dropna(subset=["gex", "abs_next"]).copy()
    neg = (g["gex"] < 0).to_numpy()
    nn, npos = int(neg.sum()), int((~neg).sum())
    lab = f"{nn} negative / {npos} positive GEX days"
    F = []
    F.append(finding(
        "1.absret_sign", "After a negative-GEX close the next day's absolute SPX return is "
        "larger than after a positive-GEX close",
        "mean next-day |return|, negative minus positive GEX (SqueezeMetrics)",
        _daily_diff(g["abs_next"], neg, n_boot, seed), direction="+",
        min_n=MIN_N_EPISODES, unit="pp", n_label=lab))
    F.append(finding(
        "1.range_sign", "After a negative-GEX close the next day's high-low range is larger",
        "mean next-day (high-low)/close, negative minus positive GEX",
        _daily_diff(g["range_next"], neg, n_boot, seed), direction="+",
        min_n=MIN_N_EPISODES, unit="pp", n_label=lab))
    # quintiles: full-sample and by trailing one-year rank (GEX trends up with market size)
    g["q_full"] = pd.qcut(g["gex"], 5, labels=False) + 1
    rank = _trailing_rank(g["gex"])
    g["q_trail"] = np.where(rank.notna(), np.minimum((rank * 5).fillna(0) // 1 + 1, 5),
                            np.nan)
    q1, q5 = g[g["q_trail"] == 1], g[g["q_trail"] == 5]
    q15 = g[g["q_trail"].isin([1, 5])]
    F.append(finding(
        "1.absret_quintile", "Next-day |return| falls from the lowest to the highest GEX "
        "quintile (quintiles of the trailing one-year GEX rank)",
        "mean next-day |return|, GEX quintile 1 minus quintile 5",
        _daily_diff(q15["abs_next"], (q15["q_trail"] == 1).to_numpy(), n_boot, seed),
        direction="+", min_n=MIN_N_EPISODES, unit="pp",
        n_label=f"{len(q1)} Q1 / {len(q5)} Q5 days"))
    F.append(finding(
        "1.absret_spearman", "Higher GEX goes with a smaller next-day |return| (rank "
        "correlation over all days)", "Spearman rho(GEX, next-day |return|)",
        _spearman_block(g["gex"], g["abs_next"]), direction="-", min_n=MIN_N_CORR, unit="rho"))
    # control for the VIX level: the negative-GEX effect beyond what VIX already implies
    fit = S.ols(g["abs_next"], np.column_stack([neg.astype(float),
                                                g["vix"] / math.sqrt(252.0)]),
                names=["neg_gex", "vix_daily"], hac_lags=HAC_LAGS)
    est = fit["coef"]["neg_gex"]
    est.n = min(nn, npos)
    F.append(finding(
        "1.absret_sign_vixctl", "The negative-GEX effect on next-day |return| survives "
        "controlling for the VIX level", "OLS coefficient of a negative-GEX dummy on next-day "
        "|return|, controlling for VIX/sqrt(252)", est, direction="+", min_n=MIN_N_GROUP,
        unit="pp", n_label=f"{fit['n']} days ({nn} negative GEX)",
        detail={"vix_coef": fit["coef"]["vix_daily"].estimate}))

    tables = []
    rows = []
    sign_plot = {}
    for name, m in (("negative GEX", neg), ("positive GEX", ~neg)):
        n1, s1, e1 = _mean_row(g["abs_next"], m)
        _, s2, e2 = _mean_row(g["range_next"], m)
        rows.append([name, n1, s1, s2])
        sign_plot[name] = (e1, e2)
    span = f"{g.index[0].date()} to {g.index[-1].date()}"
    tables.append({"title": f"SqueezeMetrics GEX sign ({span}): next-day SPX move, %",
                   "headers": ["regime", "days", "mean |return| [95% CI]",
                               "mean range [95% CI]"], "rows": rows})
    rows, qplot = [], {"full": [], "trail": []}
    for q in range(1, 6):
        a = (g["q_full"] == q).to_numpy()
        b = (g["q_trail"] == q).to_numpy()
        na_, sa, ea = _mean_row(g["abs_next"], a)
        _, sr, er = _mean_row(g["range_next"], a)
        nb_, sb, eb = _mean_row(g["abs_next"], b)
        rows.append([f"Q{q}", na_, sa, sr, nb_, sb])
        qplot["full"].append((ea, er))
        qplot["trail"].append((eb,))
    tables.append({"title": "By GEX quintile (Q1 = lowest GEX): next-day SPX move, %",
                   "headers": ["quintile", "days (full-sample)", "mean |return|",
                               "mean range", "days (trailing rank)", "mean |return|"],
                   "rows": rows,
                   "note": "Full-sample quintiles mix eras (GEX grows with the market); the "
                           "trailing one-year rank avoids that and any look-ahead (first year "
                           "dropped)."})

    notes = []
    own_plot = None
    if own_rows:
        o = pd.DataFrame(own_rows)
        o.index = pd.DatetimeIndex(pd.to_datetime(o["date"]))
        o = o.join(d[["abs_next", "range_next", "gex"]], how="left")
        ok = o.dropna(subset=["abs_next"])
        mneg = (ok["gex_model_usd_per_pct"] < 0).to_numpy()
        vneg = (ok["gex_vendor_usd_per_pct"] < 0).to_numpy()
        F.append(finding(
            "1.own_model_absret", "Same, with the project's own GEX (model Greeks, expired "
            "contracts excluded) from the 2026 chains",
            "mean next-day |return|, negative minus positive own model GEX",
            _short_diff(ok["abs_next"], mneg, n_boot, seed), direction="+", min_n=MIN_N_GROUP,
            unit="pp",
            n_label=f"{int(mneg.sum())} negative / {int((~mneg).sum())} positive days"))
        F.append(finding(
            "1.own_model_range", "Same for the next-day range, own model GEX",
            "mean next-day range, negative minus positive own model GEX",
            _short_diff(ok["range_next"], mneg, n_boot, seed + 1), direction="+",
            min_n=MIN_N_GROUP, unit="pp",
            n_label=f"{int(mneg.sum())} negative / {int((~mneg).sum())} positive days"))
        F.append(finding(
            "1.own_vendor_absret", "Same with the naive vendor-gamma GEX (the file's gamma, "
            "expired contracts included)",
            "mean next-day |return|, negative minus positive vendor GEX",
            _short_diff(ok["abs_next"], vneg, n_boot, seed + 2), direction="+",
            min_n=MIN_N_GROUP, unit="pp",
            n_label=f"{int(vneg.sum())} negative / {int((~vneg).sum())} positive days"))
        both = o.dropna(subset=["gex"])
        agree = ((both["gex_model_usd_per_pct"] < 0) == (both["gex"] < 0)).to_numpy(float)
        F.append(finding(
            "1.own_vs_squeeze_sign", "The project's model GEX has the same sign as "
            "SqueezeMetrics' GEX on the same day", "share of days with the same sign",
            S.block_bootstrap_event_diff(
                agree, np.ones(len(both), dtype=bool), block=SHORT_BLOCK, n_boot=N_BOOT, seed=SEED,
                versus="none", episode_gap=0), direction="+", null=0.5, min_n=MIN_N_SHARE,
            unit="share", n_label=f"{len(both)} days",
            detail={"spearman": S.spearman_ci(both["gex_model_usd_per_pct"],
                                              both["gex"]).estimate}))
        rows = []
        for src, col in (("model", "gex_model_usd_per_pct"), ("vendor", "gex_vendor_usd_per_pct")):
            for name, m in (("negative", ok[col] < 0), ("positive", ok[col] >= 0)):
                n1, s1, _ = _mean_row(ok["abs_next"], m, block=SHORT_BLOCK)
                _, s2, _ = _mean_row(ok["range_next"], m, block=SHORT_BLOCK)
                rows.append([f"{src} GEX {name}", n1, s1, s2])
        tables.append({"title": "Own GEX, 2026 chains: next-day SPX move, %",
                       "headers": ["regime", "days", "mean |return| [95% CI]",
                                   "mean range [95% CI]"], "rows": rows,
                       "note": (f"Only {len(ok)} sessions with a next day ("
                                f"{int(mneg.sum())} with negative model GEX): too few for a "
                                "regime comparison. Shown for completeness and as a check that "
                                "the project's GEX and SqueezeMetrics' agree in sign.")
                       if min(int(mneg.sum()), int((~mneg).sum())) < MIN_N_GROUP else
                       f"{len(ok)} sessions with a next day."})
        own_plot = o
    else:
        notes.append("Own GEX from the 2026 chains was not computed (--no-own-gex or no "
                     "cboe_chain_eod*/SPX files).")

    h = F[0]
    e = h.detail
    summary = (f"After negative-GEX closes the next day's |return| averaged "
               f"{_fmt(e['mean_a'])}% against {_fmt(e['mean_b'])}% after positive-GEX closes "
               f"(difference {h.estimate:+.2f} pp, 95% CI {_ci(h.lo, h.hi)}, {h.n_label}). "
               f"Range: {F[1].estimate:+.2f} pp {_ci(F[1].lo, F[1].hi)} ({F[1].verdict}). "
               f"Controlling for the VIX level the negative-GEX effect is "
               f"{F[4].estimate:+.2f} pp {_ci(F[4].lo, F[4].hi)} ({F[4].verdict}).")
    if own_rows:
        f6 = next(f for f in F if f.key == "1.own_model_absret")
        summary += (f" With the project's own GEX (2026, {f6.n_label}) the difference is "
                    f"{f6.estimate:+.2f} pp {_ci(f6.lo, f6.hi)}: {f6.verdict}.")
    return ClaimResult(
        id="1", title="Gamma regime and volatility",
        claim="Dealers short gamma (negative GEX) amplify moves, dealers long gamma dampen "
              "them: the next day is more volatile after a negative-GEX close.",
        findings=F, primary="1.absret_sign", summary=summary, tables=tables, notes=notes,
        plot={"sign": sign_plot, "quint": qplot, "own": own_plot})


# ======================================================================================
# Claim 2: vanna melt-ups
# ======================================================================================


def _window_share(fall: np.ndarray, windows: np.ndarray) -> str:
    """"share [CI]" of ``windows`` with a falling VIX, block bootstrap over WINDOW_BLOCK runs."""
    e = S.block_bootstrap_event_diff(fall.astype(float), windows, block=WINDOW_BLOCK,
                                     n_boot=N_BOOT, seed=SEED, versus="none")
    return f"{_fmt(e.estimate)} {_ci(e.lo, e.hi)}"


def claim2(D: pd.DataFrame) -> ClaimResult:
    d = D.dropna(subset=["close", "vix"])
    c, v = d["close"].to_numpy(), d["vix"].to_numpy()
    starts = np.arange(0, len(d) - RALLY_DAYS, RALLY_DAYS)
    r5 = (c[starts + RALLY_DAYS] / c[starts] - 1.0) * 100.0
    dv = v[starts + RALLY_DAYS] - v[starts]
    rally = r5 > RALLY_PCT
    fall = dv < 0
    k, n = int((fall & rally).sum()), int(rally.sum())
    k0, n0 = int((fall & ~rally).sum()), int((~rally).sum())
    F = [finding(
        "2.rally_vix_down", f"Multi-day SPX rallies ({RALLY_DAYS}-session gain above "
        f"{RALLY_PCT:g}%) come with a falling VIX more often than not",
        "share of rally windows in which VIX fell",
        # rallies cluster in bull phases: a block bootstrap over runs of WINDOW_BLOCK windows
        # (about a month) instead of Wilson's independent windows
        S.block_bootstrap_event_diff(fall.astype(float), rally, block=WINDOW_BLOCK,
                                     n_boot=N_BOOT, seed=SEED, versus="none"),
        direction="+", null=0.5, min_n=MIN_N_SHARE, unit="share",
        n_label=f"{n} rally windows of {len(starts)}"),
        finding(
        "2.rally_vs_other", "VIX falls more often in rally windows than in other windows",
        "share with falling VIX, rally minus other windows",
        S.block_bootstrap_event_diff(fall.astype(float), rally, block=WINDOW_BLOCK,
                                     n_boot=N_BOOT, seed=SEED, versus="rest"),
        direction="+", min_n=MIN_N_SHARE, unit="share",
        n_label=f"{n} rally / {n0} other windows")]
    big = r5 > 2 * RALLY_PCT
    # same-day slope of SPX return on the VIX change, by the GEX sign of the previous close
    s = D.copy()
    s["dvix"] = s["vix"].diff()
    s["dlvix"] = np.log(s["vix"]).diff() * 100.0
    s["regime"] = np.sign(s["gex"].shift(1))
    s = s.dropna(subset=["ret", "dvix", "dlvix", "regime"])
    # slopes by the previous close's GEX sign, intervals from a block bootstrap of the whole
    # daily series (regimes last for months; the days within one are not independent)
    pos, neg = (s["regime"] == 1.0).to_numpy(), (s["regime"] == -1.0).to_numpy()
    pts = S.block_bootstrap_slopes(s["ret"], s["dvix"], pos, neg, block=DAILY_BLOCK,
                                   n_boot=N_BOOT, seed=SEED)
    logs = S.block_bootstrap_slopes(s["ret"], s["dlvix"], pos, neg, block=DAILY_BLOCK,
                                    n_boot=N_BOOT, seed=SEED + 1)
    fits = {name: (pts[f"slope_{ab}"], logs[f"slope_{ab}"], pts[f"r_{ab}"], s[m])
            for name, ab, m in (("positive", "a", pos), ("negative", "b", neg))}
    lab = f"{fits['positive'][0].n} positive / {fits['negative'][0].n} negative GEX days"
    F.append(finding(
        "2.slope_points", "Falling VIX lifts SPX more in positive GEX (the vanna regime): the "
        "same-day slope of SPX return on the VIX change is steeper (more negative) after "
        "positive-GEX closes", "slope (% SPX per VIX point), positive minus negative GEX",
        pts["diff"], direction="-",
        min_n=MIN_N_CORR, unit="%/pt", n_label=lab))
    F.append(finding(
        "2.slope_log", "Same, with the VIX change in percent (removes the VIX-level scale "
        "effect)", "slope (% SPX per 1% VIX change), positive minus negative GEX",
        logs["diff"], direction="-",
        min_n=MIN_N_CORR, unit="%/%", n_label=lab))
    rows = []
    for name in ("positive", "negative"):
        a, b, r, sub = fits[name]
        rows.append([f"{name} GEX (previous close)", a.n,
                     f"{_fmt(a.estimate, 3)} {_ci(a.lo, a.hi, 3)}",
                     f"{_fmt(b.estimate, 3)} {_ci(b.lo, b.hi, 3)}",
                     f"{_fmt(r.estimate)} {_ci(r.lo, r.hi)}"])
    tables = [
        {"title": f"{RALLY_DAYS}-session windows since {d.index[0].date()}: VIX direction",
         "headers": ["windows", "n", "VIX fell", "share [95% CI]"],
         "note": "Circular block bootstrap over runs of "
                 f"{WINDOW_BLOCK} windows (about a month).",
         "rows": [[f"rally (> +{RALLY_PCT:g}%)", n, k,
                   f"{_fmt(F[0].estimate)} {_ci(F[0].lo, F[0].hi)}"],
                  [f"strong rally (> +{2 * RALLY_PCT:g}%)", int(big.sum()),
                   int((fall & big).sum()),
                   _window_share(fall, big)],
                  ["all other windows", n0, k0, _window_share(fall, ~rally)]]},
        {"title": "Same-day SPX return on VIX change, by SqueezeMetrics GEX sign",
         "headers": ["regime", "days", "slope %/VIX pt [95% CI]", "slope %/1% VIX [95% CI]",
                     "corr(dVIX, ret) [95% CI]"], "rows": rows,
         "note": "OLS slopes and Pearson r; intervals from a circular block bootstrap of "
                 f"the daily series ({DAILY_BLOCK}-session blocks). Negative-GEX days have a "
                 "higher VIX level, so "
                 "one VIX point is a smaller relative change there; the per-percent slope "
                 "removes that scale difference."},
    ]
    f0, f2, f3 = F[0], F[2], F[3]
    pp, nn = fits["positive"], fits["negative"]
    why = {"contradicted": " (SPX moves more per unit of VIX change after negative-GEX "
                           "closes, not less)",
           "supported": " (SPX moves more per unit of VIX change after positive-GEX closes)"}
    summary = (f"{k} of {n} rally windows ({_fmt(100 * f0.estimate, 0)}%, 95% CI "
               f"{_fmt(100 * f0.lo, 0)}-{_fmt(100 * f0.hi, 0)}%) saw VIX fall, against "
               f"{_fmt(100 * k0 / max(n0, 1), 0)}% of other windows. Same-day slope of SPX "
               f"on the VIX change: {pp[0].estimate:+.3f} %/pt after positive-GEX closes vs "
               f"{nn[0].estimate:+.3f} after negative ones (difference {f2.estimate:+.3f} "
               f"{_ci(f2.lo, f2.hi, 3)}, {f2.verdict}{why.get(f2.verdict, '')}); per 1% VIX "
               f"change {pp[1].estimate:+.3f} vs {nn[1].estimate:+.3f} (difference "
               f"{f3.estimate:+.3f} {_ci(f3.lo, f3.hi, 3)}, {f3.verdict}"
               f"{why.get(f3.verdict, '')}).")
    return ClaimResult(
        id="2", title="Vanna melt-ups",
        claim="Falling implied volatility makes dealers buy back hedges (vanna), so rallies "
              "come with a falling VIX and the effect is strongest when dealers are long "
              "gamma.", findings=F, primary="2.rally_vix_down", summary=summary,
        tables=tables, plot={"scatter": s[["dvix", "ret", "regime"]],
                             "fits": {k_: (v_[0].estimate, fits[k_][3]["dvix"].mean(),
                                           fits[k_][3]["ret"].mean())
                                      for k_, v_ in fits.items()},
                             "r5": r5, "dv": dv})


# ======================================================================================
# Claim 3: extreme VIX and put selling
# ======================================================================================


def _forward(c: np.ndarray, h: int) -> np.ndarray:
    out = np.full(len(c), np.nan)
    out[:-h] = (c[h:] / c[:-h] - 1.0) * 100.0
    return out


def _edge(c: np.ndarray, vix: np.ndarray, h: int = 21) -> np.ndarray:
    """Put seller's edge proxy: variance-swap P&L in vol points (vega notional),
    (VIX^2 - RV^2) / (2 VIX), RV = annualised realised vol of the next h sessions."""
    lr = np.log(c[1:] / c[:-1])
    cs = np.concatenate([[0.0], np.cumsum(lr * lr)])
    out = np.full(len(c), np.nan)
    t = np.arange(len(c) - h)
    rv2 = (cs[t + h] - cs[t]) * 252.0 / h * 1e4
    out[t] = (vix[t] ** 2 - rv2) / (2.0 * vix[t])
    return out


def _further_drawdown(c: np.ndarray, h: int) -> np.ndarray:
    out = np.full(len(c), np.nan)
    if len(c) > h:
        mins = sliding_window_view(c[1:], h).min(axis=1)   # min of c[t+1 .. t+h]
        out[: len(mins)] = (mins / c[: len(mins)] - 1.0) * 100.0
    return out


def claim3(D: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED,
           progress=None) -> ClaimResult:
    d = D.dropna(subset=["close", "vix"])
    c, v = d["close"].to_numpy(), d["vix"].to_numpy()
    p95, p99 = float(np.quantile(v, 0.95)), float(np.quantile(v, 0.99))
    jump = np.zeros(len(v), dtype=bool)
    jump[JUMP_DAYS:] = v[JUMP_DAYS:] - v[:-JUMP_DAYS] >= JUMP_POINTS
    events = {"VIX > p95": v > p95, "VIX > p99": v > p99,
              f"VIX +{JUMP_POINTS:g} pts in {JUMP_DAYS}d": jump}
    fwd = {h: _forward(c, h) for h in HORIZONS}
    edge = _edge(c, v, 21)
    F, rows = [], []
    plot = {"events": {}, "edge": {}}
    for j, (name, ev) in enumerate(events.items()):
        if progress is not None:
            progress(f"  claim 3: block bootstrap for {name}")
        for i, h in enumerate(HORIZONS):
            est = S.block_bootstrap_event_diff(fwd[h], ev, block=max(h, EPISODE_GAP),
                                               n_boot=n_boot, seed=seed + 10 * j + i,
                                               episode_gap=EPISODE_GAP)
            key = f"3.fwd{h}_{['p95', 'p99', 'jump'][j]}"
            F.append(finding(
                key, f"After {name}, SPX returns over the next {h} sessions beat the "
                     f"average day's", f"mean {h}-session forward SPX return, event days "
                     f"minus all days", est, direction="+", min_n=MIN_EPISODES, unit="pp",
                n_label=f"{est.n} episodes ({est.extra['n_event_days']} event days)"))
            rows.append([name, h, est.extra["n_episodes"], est.extra["n_event_days"],
                         _fmt(est.extra["mean_event"]), _fmt(est.extra["mean_all"]),
                         f"{est.estimate:+.2f} {_ci(est.lo, est.hi)}", F[-1].verdict])
            plot["events"][(name, h)] = est
        est = S.block_bootstrap_event_diff(edge, ev, block=EPISODE_GAP, n_boot=n_boot,
                                           seed=seed + 100 + j, episode_gap=EPISODE_GAP)
        F.append(finding(
            f"3.edge_{['p95', 'p99', 'jump'][j]}", f"After {name} a put seller's edge "
            f"(implied minus realised variance) is larger than on average",
            "mean variance-swap P&L over 21 sessions (vol pts, vega notional), event days "
            "minus all days", est, direction="+", min_n=MIN_EPISODES, unit="vol pts",
            n_label=f"{est.n} episodes ({est.extra['n_event_days']} event days)"))
        plot["edge"][name] = est
    # does the extreme mark the end of the sell-off?
    fdd = _further_drawdown(c, SELLOFF_DAYS)
    on = S.episodes(events["VIX > p95"], EPISODE_GAP)
    on = on[np.isfinite(fdd[on])]
    ended = fdd[on] > -SELLOFF_DD_PCT
    base_ok = np.isfinite(fdd)
    base = float((fdd[base_ok] > -SELLOFF_DD_PCT).mean())
    F.append(finding(
        "3.selloff_end", f"A first close above the VIX 95th percentile marks the end of the "
                         f"sell-off: SPX does not close more than {SELLOFF_DD_PCT:g}% lower in "
                         f"the next {SELLOFF_DAYS} sessions",
        "share of VIX>p95 episodes with no further fall beyond "
        f"-{SELLOFF_DD_PCT:g}% in {SELLOFF_DAYS} sessions", S.wilson(int(ended.sum()), len(on)),
        direction="+", null=0.5, min_n=MIN_EPISODES, unit="share",
        n_label=f"{len(on)} episodes", detail={"base_rate_all_days": base,
                                               "median_further_dd": float(np.median(fdd[on]))
                                               if len(on) else math.nan}))
    ep_rows = [[str(d.index[t].date()), _fmt(v[t], 1), _fmt(fwd[21][t]), _fmt(fwd[63][t]),
                _fmt(fdd[t]), _fmt(edge[t], 1)] for t in S.episodes(events["VIX > p95"],
                                                                    EPISODE_GAP)]
    e_rows = []
    for j, name in enumerate(events):
        est = plot["edge"][name]
        vd = next(f.verdict for f in F if f.key == f"3.edge_{['p95', 'p99', 'jump'][j]}")
        e_rows.append([name, est.extra["n_episodes"], _fmt(est.extra["mean_event"]),
                       _fmt(est.extra["mean_all"]), f"{est.estimate:+.2f} {_ci(est.lo, est.hi)}",
                       vd])
    tables = [
        {"title": f"Forward SPX returns after VIX extremes (since {d.index[0].date()}; "
                  f"p95 = {p95:.1f}, p99 = {p99:.1f}), %",
         "headers": ["event", "horizon", "episodes", "event days", "mean after event",
                     "mean all days", "difference [95% CI]", "verdict"], "rows": rows,
         "note": "Percentiles of the whole VIX history (a look-ahead: the thresholds were not "
                 "known in 1990). Intervals: circular block bootstrap, blocks of max(horizon, "
                 f"{EPISODE_GAP}) sessions, {n_boot} resamples; n for the verdict = episodes "
                 f"(event days {EPISODE_GAP}+ sessions apart)."},
        {"title": "Put seller's edge proxy: (VIX^2 - realised variance over the next 21 "
                  "sessions) / (2 VIX), vol points",
         "headers": ["event", "episodes", "mean after event", "mean all days",
                     "difference [95% CI]", "verdict"], "rows": e_rows},
        {"title": "VIX > p95 episodes (first close above the threshold)",
         "headers": ["onset", "VIX", "SPX next 21d %", "SPX next 63d %",
                     f"worst close next {SELLOFF_DAYS}d %", "edge (vol pts)"], "rows": ep_rows},
    ]
    h = next(f for f in F if f.key == "3.fwd21_p95")
    h99 = next(f for f in F if f.key == "3.fwd21_p99")
    so = F[-1]
    summary = (f"After VIX closes above its 95th percentile ({p95:.1f}) the next 21 sessions "
               f"returned {h.estimate:+.2f} pp more than the average day {_ci(h.lo, h.hi)} "
               f"({h.n_label}). The 99th percentile ({p99:.1f}) leaves "
               f"{h99.n} episodes ({h99.verdict}). {_fmt(100 * so.estimate, 0)}% of the p95 episodes "
               f"{_ci(100 * so.lo, 100 * so.hi, 0)} saw no further fall beyond "
               f"-{SELLOFF_DD_PCT:g}% (all days: {100 * base:.0f}%): {so.verdict}.")
    plot.update(dates=d.index, vix=v, p95=p95, p99=p99)
    return ClaimResult(
        id="3", title="Extreme VIX and put selling",
        claim="Panic overprices protection: after an extreme VIX close (or a VIX jump) "
              "forward SPX returns and the put seller's edge are above average, and the "
              "extreme marks the end of the sell-off.",
        findings=F, primary="3.fwd21_p95", summary=summary, tables=tables, plot=plot)


# ======================================================================================
# Claim 4: expirations
# ======================================================================================


def _opex_diff(y: pd.Series, is_op: np.ndarray) -> S.Estimate:
    """mean(y on expiration days) - mean(y on the others): circular block bootstrap of the
    daily series (DAILY_BLOCK-session blocks: the other days' ranges and |returns| cluster
    in volatile spells); n = the expiration days (each its own event, a month apart)."""
    e = S.block_bootstrap_event_diff(y.to_numpy(), is_op, block=DAILY_BLOCK, n_boot=N_BOOT,
                                     seed=SEED, versus="rest", episode_gap=1)
    e.n = min(e.extra["n_a"], e.extra["n_b"])
    return e


def claim4(D: pd.DataFrame, opex: pd.DataFrame, spx_1min: Path | None) -> ClaimResult:
    d = D.copy()
    d["next_week"] = (d["close"].shift(-NEXT_WEEK) / d["close"] - 1.0) * 100.0
    lo_d, hi_d = max(opex.index.min(), d.index[1]), d.index.max()
    d = d[(d.index >= lo_d) & (d.index <= hi_d)].dropna(subset=["ret"])
    is_op = d.index.isin(opex.index)
    quad_dates = opex.index[opex["quad"].to_numpy()]
    is_q = d.index.isin(quad_dates)
    other = ~is_op
    o = d[is_op]
    F = []
    F.append(finding(
        "4.next_week_corr", "The expiration day's return does not predict the next week's "
        "(no correlation)", f"Pearson r(OPEX-day return, next {NEXT_WEEK} sessions' return)",
        S.pearson_ci(o["ret"], o["next_week"]), direction="0", margin=NULL_MARGIN_R,
        min_n=MIN_N_CORR, unit="r", n_label=f"{int(o['next_week'].notna().sum())} OPEX days"))
    pair = o.dropna(subset=["next_week"])
    pair = pair[(pair["ret"] != 0) & (pair["next_week"] != 0)]
    k = int((np.sign(pair["ret"]) == np.sign(pair["next_week"])).sum())
    F.append(finding(
        "4.next_week_hit", "The next week's direction is a coin flip after expiration",
        "share of OPEX days whose next week has the same sign", S.wilson(k, len(pair)),
        direction="0", null=0.5, margin=NULL_MARGIN_HIT, min_n=MIN_N_SHARE, unit="share",
        n_label=f"{len(pair)} OPEX days"))
    F.append(finding(
        "4.opex_mean_ret", "Expirations are non-directional: the OPEX-day mean return equals "
        "other days'", "mean return, OPEX days minus other days",
        _opex_diff(d["ret"], is_op), direction="0", margin=NULL_MARGIN_RET,
        min_n=MIN_N_GROUP, unit="pp", n_label=f"{len(o)} OPEX / {int(other.sum())} other days"))
    F.append(finding(
        "4.opex_range", "Pinning: monthly OPEX days have a smaller high-low range than other "
        "days", "mean range, OPEX days minus other days",
        _opex_diff(d["range"], is_op), direction="-", min_n=MIN_N_GROUP,
        unit="pp", n_label=f"{int(o['range'].notna().sum())} OPEX / "
                           f"{int(d['range'][other].notna().sum())} other days"))
    F.append(finding(
        "4.opex_absret", "Pinning: monthly OPEX days have a smaller |return| than other days",
        "mean |return|, OPEX days minus other days",
        _opex_diff(d["absret"], is_op), direction="-", min_n=MIN_N_GROUP,
        unit="pp", n_label=f"{len(o)} OPEX / {int(other.sum())} other days"))
    F.append(finding(
        "4.quad_range", "Quad-witching days have a smaller high-low range than non-expiration "
        "days", "mean range, quad witching minus non-OPEX days",
        # against non-expiration days: the other monthly expirations left out of both
        _opex_diff(d["range"].where(is_q | other), is_q), direction="-", min_n=MIN_N_GROUP,
        unit="pp", n_label=f"{int(is_q.sum())} quad-witching days"))
    rows = []
    for name, m in (("monthly OPEX (all)", is_op), ("  of which quad witching", is_q),
                    ("  of which other months", is_op & ~is_q), ("non-OPEX days", other)):
        rows.append([name, int(m.sum()), *(_mean_row(d[col], m)[1]
                                           for col in ("ret", "absret", "range"))])
    tables = [{"title": f"SPX on expiration days, {d.index[0].date()} to {d.index[-1].date()}, %",
               "headers": ["days", "n", "mean return", "mean |return|", "mean range"],
               "rows": rows,
               "note": "OPEX = the calendar file's monthly_opex_session (the session before a "
                       "holiday third Friday, e.g. 2026-06-18). Intervals: circular block "
                       f"bootstrap of the daily series ({DAILY_BLOCK}-session blocks)."}]
    case = _quad_case(spx_1min, D) if spx_1min is not None else None
    notes = []
    if case is not None:
        tables.append(case["table"])
        notes.extend(case["notes"])
    else:
        notes.append("The 2023-03-17 quad-witching case study needs an SPX 1-minute file "
                     "(intraday/SPX_1min*) covering that day: skipped.")
    f0, f1 = F[0], F[1]
    summary = (f"OPEX-day return vs next week: r = {f0.estimate:+.3f} {_ci(f0.lo, f0.hi, 3)} "
               f"({f0.n_label}); same sign {_fmt(100 * f1.estimate, 0)}% "
               f"{_ci(100 * f1.lo, 100 * f1.hi, 0)}. The 'no prediction' claim is "
               f"{f0.verdict} (rule: interval inside ±{NULL_MARGIN_R}). "
               f"OPEX-day range minus other days: {F[3].estimate:+.3f} pp "
               f"{_ci(F[3].lo, F[3].hi, 3)} ({F[3].verdict}); quad witching "
               f"{F[5].estimate:+.3f} pp {_ci(F[5].lo, F[5].hi, 3)} ({F[5].verdict}).")
    return ClaimResult(
        id="4", title="Expirations",
        claim="Expirations are mechanical and non-directional: hedges unwind, pinning damps "
              "the expiration day, and the expiration day's move says nothing about the next "
              "week.", findings=F, primary="4.next_week_corr", summary=summary, tables=tables,
        notes=notes, plot={"opex": o, "case": case})


def _quad_case(path: Path, D: pd.DataFrame, day: str = "2023-03-17") -> dict | None:
    bars = load_minute_bars(path)
    sess = regular_sessions(bars)
    if not sess:
        return None
    rows, paths = [], {}
    target = pd.Timestamp(day)
    for dte, b in sess.items():
        prev = D["close"][D.index < dte]
        pc = float(prev.iloc[-1]) if len(prev) else float(b["open"].iloc[0])
        close_ts = b.attrs["close_ts"]
        first30 = b[b["ts"] < b.attrs["open_ts"] + pd.Timedelta(minutes=30)]
        cut = b[b["ts"] < close_ts - pd.Timedelta(minutes=30)]
        last = float(b["close"].iloc[-1])
        r = {"date": str(dte.date()), "ret": (last / pc - 1) * 100,
             "range": (b["high"].max() - b["low"].min()) / pc * 100,
             "first30_range": (first30["high"].max() - first30["low"].min()) / pc * 100,
             "last30": (last / float(cut["close"].iloc[-1]) - 1) * 100 if len(cut) else math.nan,
             "daily_close": finite(D["close"].get(dte))}
        rows.append(r)
        paths[str(dte.date())] = (b["ts"], (b["close"] / pc - 1) * 100)
    if target not in sess:
        return None
    t = next(r for r in rows if r["date"] == day)
    rank = 1 + sum(r["range"] > t["range"] for r in rows)
    nxt = D["close"][D.index > target]
    nw = (float(nxt.iloc[NEXT_WEEK - 1]) / float(D["close"][target]) - 1) * 100 \
        if len(nxt) >= NEXT_WEEK and target in D.index else math.nan
    table = {"title": f"SPX 1-minute sample: {day} quad witching against the other sessions",
             "headers": ["session", "return %", "range %", "first 30 min range %",
                         "last 30 min %"],
             "rows": [[("**" + r["date"] + "** (quad witching)") if r["date"] == day else
                       r["date"], _fmt(r["ret"]), _fmt(r["range"]), _fmt(r["first30_range"]),
                       _fmt(r["last30"])] for r in rows]}
    notes = [f"{day} (quad witching, during the SVB stress): return {t['ret']:+.2f}%, range "
             f"{t['range']:.2f}% (rank {rank} of {len(rows)} sessions in the sample), last 30 "
             f"minutes {t['last30']:+.2f}%; the next {NEXT_WEEK} sessions returned "
             f"{_fmt(nw)}%. One day: an illustration, not evidence."]
    return {"table": table, "notes": notes, "paths": paths, "day": day, "rows": rows}


# ======================================================================================
# Claim 5: intraday momentum
# ======================================================================================


def intraday_sessions(path: Path, instrument: str, daily_close: pd.Series | None = None
                      ) -> list[dict]:
    """Per regular session: r_rest = previous close -> 30 min before the close, r_last =
    the last 30 minutes (percent). The previous close is the previous session's last
    regular bar in the file, else ``daily_close`` of the previous session (SPX), else the
    session's first open (flagged ``prev='open'``)."""
    bars = load_minute_bars(path)
    sess = regular_sessions(bars)
    out, prev_close, prev_day = [], None, None
    xnys = None
    if sess:
        days = list(sess)
        cal = _xnys(f"{days[0].year - 1}-01-01", f"{days[-1].year + 1}-12-31")
        xnys = pd.DatetimeIndex(cal.sessions)
        xnys = xnys.tz_localize(None) if xnys.tz is not None else xnys
    for day, b in sess.items():
        if prev_day is not None:
            k = xnys.searchsorted(day)
            if k == 0 or xnys[k - 1] != prev_day:     # a missing session in between
                prev_close = None
        close_ts = b.attrs["close_ts"]
        cut = b[b["ts"] < close_ts - pd.Timedelta(minutes=30)]
        if len(cut) == 0:
            continue
        p_close = float(b["close"].iloc[-1])
        p_cut = float(cut["close"].iloc[-1])
        src = "file"
        pc = prev_close
        if pc is None:
            dc = None
            if daily_close is not None:
                before = daily_close[daily_close.index < day]
                dc = float(before.iloc[-1]) if len(before) and \
                    (day - before.index[-1]).days <= 5 else None
            pc, src = (dc, "daily") if dc is not None else (float(b["open"].iloc[0]), "open")
        out.append({"date": day, "instrument": instrument, "prev": src,
                    "r_rest": (p_cut / pc - 1) * 100, "r_last": (p_close / p_cut - 1) * 100,
                    "early_close": close_ts.hour < 16})
        prev_close, prev_day = p_close, day
    return out


def claim5(files: dict[str, Path | None], D: pd.DataFrame) -> ClaimResult:
    sessions = []
    for inst in ("SPX", "SPY"):
        p = files.get(f"{inst.lower()}_1min")
        if p is not None:
            sessions += intraday_sessions(p, inst, D["close"] if inst == "SPX" else None)
    gex = D["gex"].dropna()
    s = pd.DataFrame(sessions)
    F, tables, notes = [], [], []
    if s.empty:
        s = pd.DataFrame(columns=["date", "instrument", "r_rest", "r_last", "gex_sign"])
        notes.append("No minute-bar files (intraday/SPX_1min*, intraday/SPY_1min*).")
    else:
        def prior_sign(day):
            g = gex[gex.index < day]
            return float(np.sign(g.iloc[-1])) if len(g) and (day - g.index[-1]).days <= 5 \
                else np.nan
        s["gex_sign"] = [prior_sign(dd) for dd in s["date"]]
    pooled = S.pearson_ci(s["r_rest"], s["r_last"])
    F.append(finding(
        "5.momentum", "Intraday momentum: the return up to 30 minutes before the close "
                      "predicts the last half hour (positive correlation)",
        "Pearson r(rest-of-day return, last-30-min return), SPX and SPY sessions pooled",
        pooled, direction="+", min_n=MIN_N_CORR, unit="r",
        n_label=f"{pooled.n} sessions"))
    pair = s[(s["r_rest"] != 0) & (s["r_last"] != 0)].dropna(subset=["r_rest", "r_last"])
    k = int((np.sign(pair["r_rest"]) == np.sign(pair["r_last"])).sum())
    F.append(finding(
        "5.momentum_hit", "The last half hour moves in the direction of the rest of the day "
                          "more often than not", "share of sessions with the same sign",
        S.wilson(k, len(pair)), direction="+", null=0.5, min_n=MIN_N_SHARE, unit="share",
        n_label=f"{len(pair)} sessions"))
    by = {}
    for name, sg in (("negative", -1.0), ("positive", 1.0)):
        sub = s[s["gex_sign"] == sg]
        by[name] = S.pearson_ci(sub["r_rest"], sub["r_last"])
        by[name].extra["n_sessions"] = len(sub)
    F.append(finding(
        "5.momentum_neg_gex", "Momentum is present in negative-GEX sessions (dealers short "
        "gamma chase the move into the close)", "Pearson r in sessions after a negative-GEX "
        "close", by["negative"], direction="+", min_n=MIN_N_CORR, unit="r",
        n_label=_plural(by['negative'].extra['n_sessions'], "session")))
    F.append(finding(
        "5.momentum_gex_diff", "Momentum is stronger in negative- than in positive-GEX "
        "sessions", "Pearson r, negative minus positive GEX sessions",
        S.corr_diff(by["negative"], by["positive"]), direction="+", min_n=MIN_N_CORR,
        unit="r", n_label=f"{by['negative'].extra['n_sessions']} negative / "
                          f"{by['positive'].extra['n_sessions']} positive sessions"))
    rows = []
    groups = [("all sessions", s)]
    groups += [(f"{i} sessions", s[s["instrument"] == i]) for i in ("SPX", "SPY")]
    groups += [("after negative GEX", s[s["gex_sign"] == -1]),
               ("after positive GEX", s[s["gex_sign"] == 1])]
    for name, sub in groups:
        e = S.pearson_ci(sub["r_rest"], sub["r_last"])
        span = (f"{sub['date'].min().date()} to {sub['date'].max().date()}"
                if len(sub) else "-")
        rows.append([name, len(sub), span, f"{_fmt(e.estimate)} {_ci(e.lo, e.hi)}"])
    early = [f"{inst} {dd.date()}" for dd, inst, ec in
             zip(s["date"], s["instrument"], s.get("early_close", [False] * len(s))) if ec]
    tables.append({"title": "Last 30 minutes against the rest of the day",
                   "headers": ["sessions", "n", "span", "r [95% CI, Fisher z]"],
                   "rows": rows,
                   "note": "GEX sign = SqueezeMetrics GEX of the previous close (known before "
                           "the session). The 2026 chains do not overlap the minute samples, "
                           "so the project's own GEX cannot be used here. Session hours from "
                           "the XNYS calendar; early closes"
                           + (f" ({', '.join(early)})" if early else "")
                           + " use the half hour before their own close."})
    p = F[0]
    spans = "; ".join(f"{inst} {sub['date'].min().date()} to {sub['date'].max().date()}"
                      for inst, sub in s.groupby("instrument")) if len(s) else "no sessions"
    nneg = by["negative"].extra["n_sessions"]
    dif = F[3]
    split = (f"only {_plural(nneg, 'session')} followed a negative-GEX close, so the GEX "
             f"split cannot be judged." if nneg < MIN_N_CORR else
             f"negative minus positive GEX r = {dif.estimate:+.2f} {_ci(dif.lo, dif.hi)} "
             f"({dif.verdict}).")
    summary = (f"Pooled over {_plural(p.n, 'session')} ({spans}) r = {p.estimate:+.2f} "
               f"{_ci(p.lo, p.hi)}; {split}")
    return ClaimResult(
        id="5", title="Intraday momentum",
        claim="Dealers short gamma hedge in the direction of the day's move late in the "
              "session, so the last half hour continues the rest of the day, more so in "
              "negative GEX.", findings=F, primary="5.momentum", summary=summary,
        tables=tables, notes=notes, plot={"sessions": s})
