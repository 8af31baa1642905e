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

Shares come with Wilson 95 % intervals, means with t intervals and the difference with a
Welch interval; every row says its ``n``. The five-day windows of neighbouring sessions
overlap, so those intervals are too narrow (the sessions are not independent); the
report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitor.fmt import finite
from monitor.study import stats as S

__all__ = ["PUBLISHED", "ScoreRow", "levels_scorecard", "VOL_DAYS"]

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
        p = PUBLISHED.get(self.key)
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


def _tally(t: list, price: float, hit: bool) -> None:
    """Count one session (a missing price, NaN in the OHLC file, is not a session)."""
    if math.isfinite(price):
        t[0] += bool(hit)
        t[1] += 1


def levels_scorecard(rows: list[dict], spx: pd.DataFrame, level: float = 0.95
                     ) -> list[ScoreRow]:
    """The scorecard rows from the per-session levels ``rows`` (``date``, ``call_wall``,
    ``put_wall``, ``zero_gamma``; ISO dates) and the daily OHLC ``spx`` (columns open,
    high, low, close; a date index)."""
    spx = spx.sort_index()
    dates = [pd.Timestamp(r["date"]) for r in rows]
    nxt = _next_sessions(dates, spx)
    o, h, lo, c = (spx[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    tally = {k: [0, 0] for k in ("high_at_or_below_call_wall", "close_below_call_wall",
                                "low_at_or_above_put_wall", "close_above_put_wall")}
    above, below = [], []
    for r, k in zip(rows, nxt):
        if k is None:
            continue
        cw, pw, zg = (finite(r.get(x)) for x in ("call_wall", "put_wall", "zero_gamma"))
        if cw is not None:
            _tally(tally["high_at_or_below_call_wall"], h[k], h[k] <= cw)
            _tally(tally["close_below_call_wall"], c[k], c[k] < cw)
        if pw is not None:
            _tally(tally["low_at_or_above_put_wall"], lo[k], lo[k] >= pw)
            _tally(tally["close_above_put_wall"], c[k], c[k] > pw)
        if zg is not None and math.isfinite(o[k]):
            rv = realised_vol_pct(c, k - 1)
            if math.isfinite(rv):
                (above if o[k] > zg else below).append(rv)
    words = {
        "high_at_or_below_call_wall": "next session's high at or below the call wall",
        "close_below_call_wall": "next session's close below the call wall",
        "low_at_or_above_put_wall": "next session's low at or above the put wall",
        "close_above_put_wall": "next session's close above the put wall",
    }
    out = [ScoreRow(k, words[k], S.wilson(hit, n, level), "share")
           for k, (hit, n) in tally.items()]
    out.append(ScoreRow("rv5_open_above_zero_gamma", "5-day realised vol, next session opened "
                        "above zero gamma", S.mean_ci(above, level), "% ann."))
    out.append(ScoreRow("rv5_open_below_zero_gamma", "5-day realised vol, next session opened "
                        "below zero gamma", S.mean_ci(below, level), "% ann."))
    out.append(ScoreRow("rv5_below_minus_above", "difference, below minus above",
                        S.welch_diff(below, above, level), "% ann."))
    return out
