"""The levels scorecard: how the monitor's own call wall, put wall and zero gamma of each
session did on the sessions that followed, beside SpotGamma's published statistics for
its own levels.

For session ``d`` (levels from that session's end-of-day chain) and the next session
``d+1`` of the SPX daily OHLC:

* call wall ``W_c``: share of ``d+1`` with ``high <= W_c`` and with ``close < W_c``;
* put wall ``W_p``: share with ``low >= W_p`` and with ``close > W_p``;
* zero gamma ``Z``: mean realised volatility of the five sessions after ``d``
  (``sqrt(252) * stdev`` of the five daily log returns ``d -> d+1 ... d+4 -> d+5``, in
  percent) when ``d+1`` opened above ``Z`` vs below it, and the difference.

Both wall definitions are scored side by side (:data:`DEFINITIONS`): the walls on their
side of spot (the monitor's, :func:`monitor.core.levels.walls`) and the unrestricted
maxima. Every interval (shares, means and the difference) is a circular block bootstrap
over the sessions in date order, blocks of :data:`BLOCK` sessions (seeded): the five-day
windows of neighbouring sessions overlap and levels and outcomes run in streaks, so an
interval that assumed independent sessions (Wilson, t, Welch) would be too narrow; every
row says its ``n`` and its method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitor.fmt import finite
from monitor.study import stats as S

__all__ = ["BLOCK", "DEFINITIONS", "PUBLISHED", "ScoreRow", "levels_scorecard", "VOL_DAYS"]

VOL_DAYS = 5

#: SpotGamma's published statistics for its own levels, 10 May 2019 - 28 May 2024
#: (issue 15): key -> (value, unit)
PUBLISHED = {
    "high_at_or_below_call_wall": (0.83, "share"),
    "close_below_call_wall": (0.88, "share"),
    "low_at_or_above_put_wall": (0.89, "share"),
    "close_above_put_wall": (0.93, "share"),
    "rv5_open_above_zero_gamma": (13.0, "% ann."),
    "rv5_open_below_zero_gamma": (18.0, "% ann."),
}
PUBLISHED_SOURCE = ("SpotGamma, its own Call Wall / Put Wall / Volatility Trigger, "
                    "10 May 2019 - 28 May 2024 (figures as quoted in issue 15)")


@dataclass(frozen=True)
class ScoreRow:
    key: str
    statement: str
    estimate: S.Estimate
    unit: str  # "share" or "% ann."

    @property
    def published(self) -> float | None:
        """SpotGamma's figure for the statistic (the same for both wall definitions)."""
        p = PUBLISHED.get(self.key.removesuffix("_any_strike"))
        return None if p is None else p[0]


def _next_sessions(dates: list[pd.Timestamp], spx: pd.DataFrame) -> list[int | None]:
    """Position in ``spx`` of the session after each of ``dates`` (None: not in the file)."""
    idx = spx.index
    out = []
    for d in dates:
        k = int(idx.searchsorted(d, side="right"))
        out.append(k if k < len(idx) and d in idx else None)
    return out


def realised_vol_pct(closes: np.ndarray, start: int, days: int = VOL_DAYS) -> float:
    """Annualised realised volatility (%) of the ``days`` daily log returns after
    position ``start`` (NaN when the file ends first)."""
    if start + days >= len(closes):
        return math.nan
    r = np.diff(np.log(closes[start:start + days + 1]))
    if not np.all(np.isfinite(r)):
        return math.nan
    return float(np.std(r, ddof=1) * math.sqrt(252.0) * 100.0)


#: the two wall definitions scored side by side: the suffix of the walls' fields and of the
#: rows' keys -> what the rows' statements add. "": the walls on their side of spot (call at
#: or above, put at or below); "_any_strike": the largest call / put |GEX| anywhere
DEFINITIONS = {"": "", "_any_strike": " (any strike)"}
WALL_STATS = {  # key -> (statement, wall field, OHLC column, held)
    "high_at_or_below_call_wall": ("next session's high at or below the call wall",
                                   "call_wall", "high", lambda x, w: x <= w),
    "close_below_call_wall": ("next session's close below the call wall",
                              "call_wall", "close", lambda x, w: x < w),
    "low_at_or_above_put_wall": ("next session's low at or above the put wall",
                                 "put_wall", "low", lambda x, w: x >= w),
    "close_above_put_wall": ("next session's close above the put wall",
                             "put_wall", "close", lambda x, w: x > w),
}
#: sessions per bootstrap block: the five-day volatility windows of neighbouring sessions
#: overlap, and levels and outcomes both run in streaks; blocks keep that dependence
BLOCK = VOL_DAYS


def _block_estimate(y: np.ndarray, event: np.ndarray, level: float, versus: str
                    ) -> S.Estimate:
    """A mean over the sessions of ``event`` (``versus="none"``; a share when ``y`` is
    0/1) or its difference to the rest (``versus="rest"``), with a circular block bootstrap
    interval over the session series (:func:`monitor.study.stats.block_bootstrap_event_diff`);
    ``n`` = the sessions counted (the smaller group for a difference)."""
    e = S.block_bootstrap_event_diff(y, event, block=BLOCK, level=level, versus=versus)
    ok = np.isfinite(y)
    n_ev, n_rest = int((event & ok).sum()), int((~event & ok).sum())
    e.n = n_ev if versus == "none" else min(n_ev, n_rest)
    if versus == "none":  # the sessions that held, for "k of n"
        e.extra["k"] = int(np.nansum(np.where(event, y, np.nan)))
    return e


def levels_scorecard(rows: list[dict], spx: pd.DataFrame, level: float = 0.95
                     ) -> list[ScoreRow]:
    """The scorecard rows from the per-session levels ``rows`` (``date``, ``call_wall``,
    ``put_wall``, ``zero_gamma``, and optionally ``call_wall_any_strike``,
    ``put_wall_any_strike``; ISO dates) and the daily OHLC ``spx`` (columns open, high,
    low, close; a date index). Every interval is a circular block bootstrap over the
    sessions in date order (blocks of :data:`BLOCK`), stated in each estimate's
    ``method``."""
    spx = spx.sort_index()
    rows = sorted(rows, key=lambda r: r["date"])
    nxt = _next_sessions([pd.Timestamp(r["date"]) for r in rows], spx)
    col = {k: spx[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close")}
    n = len(rows)
    out = []
    for suffix, words in DEFINITIONS.items():
        for key, (statement, field, price, held) in WALL_STATS.items():
            y = np.full(n, np.nan)
            for i, (r, k) in enumerate(zip(rows, nxt)):
                w = finite(r.get(field + suffix))
                if k is not None and w is not None and math.isfinite(col[price][k]):
                    y[i] = float(held(col[price][k], w))
            if suffix and np.isnan(y).all():
                continue  # rows without the unrestricted walls (older callers)
            out.append(ScoreRow(key + suffix, statement + words,
                                _block_estimate(y, np.isfinite(y), level, "none"), "share"))
    rv = np.full(n, np.nan)
    below = np.zeros(n, dtype=bool)
    for i, (r, k) in enumerate(zip(rows, nxt)):
        zg = finite(r.get("zero_gamma"))
        if k is not None and zg is not None and math.isfinite(col["open"][k]):
            rv[i] = realised_vol_pct(col["close"], k - 1)
            below[i] = not col["open"][k] > zg
    has = np.isfinite(rv)
    out.append(ScoreRow("rv5_open_above_zero_gamma", "5-day realised vol, next session opened "
                        "above zero gamma", _block_estimate(rv, has & ~below, level, "none"),
                        "% ann."))
    out.append(ScoreRow("rv5_open_below_zero_gamma", "5-day realised vol, next session opened "
                        "below zero gamma", _block_estimate(rv, has & below, level, "none"),
                        "% ann."))
    out.append(ScoreRow("rv5_below_minus_above", "difference, below minus above",
                        _block_estimate(rv, has & below, level, "rest"), "% ann."))
    return out
