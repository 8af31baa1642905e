"""Claim: intraday momentum. The return up to 30 minutes before the close predicts the
last half hour, more so in negative-GEX sessions (dealers short gamma hedge with the move)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitor.study import stats as S
from monitor.study.claims.common import (
    MIN_N_CORR,
    MIN_N_SHARE,
    ci,
    fmt,
    plural,
)
from monitor.study.data import _xnys, load_minute_bars, regular_sessions
from monitor.study.model import ClaimResult, finding


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


def intraday_momentum(files: dict[str, Path | None], D: pd.DataFrame) -> ClaimResult:
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
        n_label=plural(by['negative'].extra['n_sessions'], "session")))
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
        rows.append([name, len(sub), span, f"{fmt(e.estimate)} {ci(e.lo, e.hi)}"])
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
    split = (f"only {plural(nneg, 'session')} followed a negative-GEX close, so the GEX "
             f"split cannot be judged." if nneg < MIN_N_CORR else
             f"negative minus positive GEX r = {dif.estimate:+.2f} {ci(dif.lo, dif.hi)} "
             f"({dif.verdict}).")
    summary = (f"Pooled over {plural(p.n, 'session')} ({spans}) r = {p.estimate:+.2f} "
               f"{ci(p.lo, p.hi)}; {split}")
    return ClaimResult(
        id="5", title="Intraday momentum",
        claim="Dealers short gamma hedge in the direction of the day's move late in the "
              "session, so the last half hour continues the rest of the day, more so in "
              "negative GEX.", findings=F, primary="5.momentum", summary=summary,
        tables=tables, notes=notes, plot={"sessions": s})
