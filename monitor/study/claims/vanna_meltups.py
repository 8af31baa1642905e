"""Claim: slow melt-ups on falling implied vol are vanna flow. Multi-day rallies come with a
falling VIX more often than other windows do."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.study import stats as S
from monitor.study.claims.common import (
    DAILY_BLOCK,
    MIN_N_CORR,
    MIN_N_SHARE,
    N_BOOT,
    RALLY_DAYS,
    RALLY_PCT,
    SEED,
    WINDOW_BLOCK,
    ci,
    fmt,
)
from monitor.study.model import ClaimResult, finding


def _window_share(fall: np.ndarray, windows: np.ndarray) -> str:
    """"share [CI]" of ``windows`` with a falling VIX, block bootstrap over WINDOW_BLOCK runs."""
    e = S.block_bootstrap_event_diff(fall.astype(float), windows, block=WINDOW_BLOCK,
                                     n_boot=N_BOOT, seed=SEED, versus="none")
    return f"{fmt(e.estimate)} {ci(e.lo, e.hi)}"


def vanna_meltups(D: pd.DataFrame) -> ClaimResult:
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
                     f"{fmt(a.estimate, 3)} {ci(a.lo, a.hi, 3)}",
                     f"{fmt(b.estimate, 3)} {ci(b.lo, b.hi, 3)}",
                     f"{fmt(r.estimate)} {ci(r.lo, r.hi)}"])
    tables = [
        {"title": f"{RALLY_DAYS}-session windows since {d.index[0].date()}: VIX direction",
         "headers": ["windows", "n", "VIX fell", "share [95% CI]"],
         "note": "Circular block bootstrap over runs of "
                 f"{WINDOW_BLOCK} windows (about a month).",
         "rows": [[f"rally (> +{RALLY_PCT:g}%)", n, k,
                   f"{fmt(F[0].estimate)} {ci(F[0].lo, F[0].hi)}"],
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
    summary = (f"{k} of {n} rally windows ({fmt(100 * f0.estimate, 0)}%, 95% CI "
               f"{fmt(100 * f0.lo, 0)}-{fmt(100 * f0.hi, 0)}%) saw VIX fall, against "
               f"{fmt(100 * k0 / max(n0, 1), 0)}% of other windows. Same-day slope of SPX "
               f"on the VIX change: {pp[0].estimate:+.3f} %/pt after positive-GEX closes vs "
               f"{nn[0].estimate:+.3f} after negative ones (difference {f2.estimate:+.3f} "
               f"{ci(f2.lo, f2.hi, 3)}, {f2.verdict}{why.get(f2.verdict, '')}); per 1% VIX "
               f"change {pp[1].estimate:+.3f} vs {nn[1].estimate:+.3f} (difference "
               f"{f3.estimate:+.3f} {ci(f3.lo, f3.hi, 3)}, {f3.verdict}"
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
