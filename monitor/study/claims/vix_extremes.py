"""Claim: extreme VIX and put selling (self-termination). Put premiums at their extreme
bring sellers, dealers' positions flip and the sell-off ends: extreme-VIX days come near
the bottom, with better forward returns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from monitor.study import stats as S
from monitor.study.claims.common import (
    EPISODE_GAP,
    HORIZONS,
    JUMP_DAYS,
    JUMP_POINTS,
    MIN_EPISODES,
    N_BOOT,
    SEED,
    SELLOFF_DAYS,
    SELLOFF_DD_PCT,
    ci,
    fmt,
)
from monitor.study.model import ClaimResult, finding


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


def vix_extremes(D: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED,
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
                         fmt(est.extra["mean_event"]), fmt(est.extra["mean_all"]),
                         f"{est.estimate:+.2f} {ci(est.lo, est.hi)}", F[-1].verdict])
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
    ep_rows = [[str(d.index[t].date()), fmt(v[t], 1), fmt(fwd[21][t]), fmt(fwd[63][t]),
                fmt(fdd[t]), fmt(edge[t], 1)] for t in S.episodes(events["VIX > p95"],
                                                                    EPISODE_GAP)]
    e_rows = []
    for j, name in enumerate(events):
        est = plot["edge"][name]
        vd = next(f.verdict for f in F if f.key == f"3.edge_{['p95', 'p99', 'jump'][j]}")
        e_rows.append([name, est.extra["n_episodes"], fmt(est.extra["mean_event"]),
                       fmt(est.extra["mean_all"]), f"{est.estimate:+.2f} {ci(est.lo, est.hi)}",
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
               f"returned {h.estimate:+.2f} pp more than the average day {ci(h.lo, h.hi)} "
               f"({h.n_label}). The 99th percentile ({p99:.1f}) leaves "
               f"{h99.n} episodes ({h99.verdict}). {fmt(100 * so.estimate, 0)}% of the p95 episodes "
               f"{ci(100 * so.lo, 100 * so.hi, 0)} saw no further fall beyond "
               f"-{SELLOFF_DD_PCT:g}% (all days: {100 * base:.0f}%): {so.verdict}.")
    plot.update(dates=d.index, vix=v, p95=p95, p99=p99)
    return ClaimResult(
        id="3", title="Extreme VIX and put selling",
        claim="Panic overprices protection: after an extreme VIX close (or a VIX jump) "
              "forward SPX returns and the put seller's edge are above average, and the "
              "extreme marks the end of the sell-off.",
        findings=F, primary="3.fwd21_p95", summary=summary, tables=tables, plot=plot)
