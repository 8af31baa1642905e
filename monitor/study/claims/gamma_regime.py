"""Claim: dealers short gamma amplify moves. Days after a negative-GEX close move more
(absolute return, range) than days after a positive one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from monitor.study import stats as S
from monitor.study.claims.common import (
    HAC_LAGS,
    MIN_N_CORR,
    MIN_N_EPISODES,
    MIN_N_GROUP,
    MIN_N_SHARE,
    N_BOOT,
    SEED,
    SHORT_BLOCK,
    ci,
    daily_diff,
    fmt,
    mean_row,
    short_diff,
    spearman_block,
    trailing_rank,
)
from monitor.study.model import ClaimResult, finding


def gamma_regime(D: pd.DataFrame, own_rows: list[dict] | None, *, n_boot: int = N_BOOT,
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
        daily_diff(g["abs_next"], neg, n_boot, seed), direction="+",
        min_n=MIN_N_EPISODES, unit="pp", n_label=lab))
    F.append(finding(
        "1.range_sign", "After a negative-GEX close the next day's high-low range is larger",
        "mean next-day (high-low)/close, negative minus positive GEX",
        daily_diff(g["range_next"], neg, n_boot, seed), direction="+",
        min_n=MIN_N_EPISODES, unit="pp", n_label=lab))
    # quintiles: full-sample and by trailing one-year rank (GEX trends up with market size)
    g["q_full"] = pd.qcut(g["gex"], 5, labels=False) + 1
    rank = trailing_rank(g["gex"])
    g["q_trail"] = np.where(rank.notna(), np.minimum((rank * 5).fillna(0) // 1 + 1, 5),
                            np.nan)
    q1, q5 = g[g["q_trail"] == 1], g[g["q_trail"] == 5]
    q15 = g[g["q_trail"].isin([1, 5])]
    F.append(finding(
        "1.absret_quintile", "Next-day |return| falls from the lowest to the highest GEX "
        "quintile (quintiles of the trailing one-year GEX rank)",
        "mean next-day |return|, GEX quintile 1 minus quintile 5",
        daily_diff(q15["abs_next"], (q15["q_trail"] == 1).to_numpy(), n_boot, seed),
        direction="+", min_n=MIN_N_EPISODES, unit="pp",
        n_label=f"{len(q1)} Q1 / {len(q5)} Q5 days"))
    F.append(finding(
        "1.absret_spearman", "Higher GEX goes with a smaller next-day |return| (rank "
        "correlation over all days)", "Spearman rho(GEX, next-day |return|)",
        spearman_block(g["gex"], g["abs_next"]), direction="-", min_n=MIN_N_CORR, unit="rho"))
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
        n1, s1, e1 = mean_row(g["abs_next"], m)
        _, s2, e2 = mean_row(g["range_next"], m)
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
        na_, sa, ea = mean_row(g["abs_next"], a)
        _, sr, er = mean_row(g["range_next"], a)
        nb_, sb, eb = mean_row(g["abs_next"], b)
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
            short_diff(ok["abs_next"], mneg, n_boot, seed), direction="+", min_n=MIN_N_GROUP,
            unit="pp",
            n_label=f"{int(mneg.sum())} negative / {int((~mneg).sum())} positive days"))
        F.append(finding(
            "1.own_model_range", "Same for the next-day range, own model GEX",
            "mean next-day range, negative minus positive own model GEX",
            short_diff(ok["range_next"], mneg, n_boot, seed + 1), direction="+",
            min_n=MIN_N_GROUP, unit="pp",
            n_label=f"{int(mneg.sum())} negative / {int((~mneg).sum())} positive days"))
        F.append(finding(
            "1.own_vendor_absret", "Same with the naive vendor-gamma GEX (the file's gamma, "
            "expired contracts included)",
            "mean next-day |return|, negative minus positive vendor GEX",
            short_diff(ok["abs_next"], vneg, n_boot, seed + 2), direction="+",
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
                n1, s1, _ = mean_row(ok["abs_next"], m, block=SHORT_BLOCK)
                _, s2, _ = mean_row(ok["range_next"], m, block=SHORT_BLOCK)
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
               f"{fmt(e['mean_a'])}% against {fmt(e['mean_b'])}% after positive-GEX closes "
               f"(difference {h.estimate:+.2f} pp, 95% CI {ci(h.lo, h.hi)}, {h.n_label}). "
               f"Range: {F[1].estimate:+.2f} pp {ci(F[1].lo, F[1].hi)} ({F[1].verdict}). "
               f"Controlling for the VIX level the negative-GEX effect is "
               f"{F[4].estimate:+.2f} pp {ci(F[4].lo, F[4].hi)} ({F[4].verdict}).")
    if own_rows:
        f6 = next(f for f in F if f.key == "1.own_model_absret")
        summary += (f" With the project's own GEX (2026, {f6.n_label}) the difference is "
                    f"{f6.estimate:+.2f} pp {ci(f6.lo, f6.hi)}: {f6.verdict}.")
    return ClaimResult(
        id="1", title="Gamma regime and volatility",
        claim="Dealers short gamma (negative GEX) amplify moves, dealers long gamma dampen "
              "them: the next day is more volatile after a negative-GEX close.",
        findings=F, primary="1.absret_sign", summary=summary, tables=tables, notes=notes,
        plot={"sign": sign_plot, "quint": qplot, "own": own_plot})
