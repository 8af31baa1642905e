"""Claim: expirations move prices mechanically and say nothing about direction. Monthly and
quarterly expiration days and the weeks after them, against the other days."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.fmt import finite
from monitor.study import stats as S
from monitor.study.claims.common import (
    DAILY_BLOCK,
    MIN_N_CORR,
    MIN_N_GROUP,
    MIN_N_SHARE,
    N_BOOT,
    NEXT_WEEK,
    NULL_MARGIN_HIT,
    NULL_MARGIN_R,
    NULL_MARGIN_RET,
    SEED,
    ci,
    fmt,
    mean_row,
)
from monitor.study.data import load_minute_bars, regular_sessions
from monitor.study.model import ClaimResult, finding


def _opex_diff(y: pd.Series, is_op: np.ndarray) -> S.Estimate:
    """mean(y on expiration days) - mean(y on the others): circular block bootstrap of the
    daily series (DAILY_BLOCK-session blocks: the other days' ranges and |returns| cluster
    in volatile spells); n = the expiration days (each its own event, a month apart)."""
    e = S.block_bootstrap_event_diff(y.to_numpy(), is_op, block=DAILY_BLOCK, n_boot=N_BOOT,
                                     seed=SEED, versus="rest", episode_gap=1)
    e.n = min(e.extra["n_a"], e.extra["n_b"])
    return e


def expirations(D: pd.DataFrame, opex: pd.DataFrame, spx_1min: Path | None) -> ClaimResult:
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
        rows.append([name, int(m.sum()), *(mean_row(d[col], m)[1]
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
    summary = (f"OPEX-day return vs next week: r = {f0.estimate:+.3f} {ci(f0.lo, f0.hi, 3)} "
               f"({f0.n_label}); same sign {fmt(100 * f1.estimate, 0)}% "
               f"{ci(100 * f1.lo, 100 * f1.hi, 0)}. The 'no prediction' claim is "
               f"{f0.verdict} (rule: interval inside ±{NULL_MARGIN_R}). "
               f"OPEX-day range minus other days: {F[3].estimate:+.3f} pp "
               f"{ci(F[3].lo, F[3].hi, 3)} ({F[3].verdict}); quad witching "
               f"{F[5].estimate:+.3f} pp {ci(F[5].lo, F[5].hi, 3)} ({F[5].verdict}).")
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
                       r["date"], fmt(r["ret"]), fmt(r["range"]), fmt(r["first30_range"]),
                       fmt(r["last30"])] for r in rows]}
    notes = [f"{day} (quad witching, during the SVB stress): return {t['ret']:+.2f}%, range "
             f"{t['range']:.2f}% (rank {rank} of {len(rows)} sessions in the sample), last 30 "
             f"minutes {t['last30']:+.2f}%; the next {NEXT_WEEK} sessions returned "
             f"{fmt(nw)}%. One day: an illustration, not evidence."]
    return {"table": table, "notes": notes, "paths": paths, "day": day, "rows": rows}
