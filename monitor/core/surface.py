"""Volatility-surface summaries the regime engine watches: at-the-money IV and the
25-delta put skew of one reference expiry (pure numpy over the book's arrays).

Reference expiry: the first settlement group at least ``min_days`` out (default 7), so
0DTE noise does not drive the regimes. ATM IV: at the group's forward, interpolated
linearly in log-strike between the two strikes that bracket it (each strike's IV the mean
of its call and put IVs), so it moves smoothly with the forward instead of jumping when
the nearest strike changes (a jump of up to the skew across one strike interval, which
read as IV "changes" to the regimes). 25-delta put IV: interpolated linearly in delta
between the two puts that bracket -0.25. Skew = 25-delta put IV - ATM IV, in vol points
(positive = puts richer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.core import status as st


@dataclass(frozen=True)
class SurfacePoint:
    expiry: str
    days: float
    atm_iv: float  # decimal
    put25_iv: float  # decimal
    skew_pts: float  # vol points


def surface_point(book, min_days: float = 7.0) -> SurfacePoint | None:
    c, g = book.c, book.g
    live = np.flatnonzero(g.T * 365.0 >= min_days)
    for j in live[np.argsort(g.T[live])]:
        rows = np.flatnonzero((c.group == j) & (c.status == st.OK))
        if len(rows) < 4:
            continue
        F = g.fwd[j]
        strikes, inv = np.unique(c.strike[rows], return_inverse=True)
        iv_k = np.bincount(inv, weights=c.iv[rows]) / np.bincount(inv)  # call/put mean
        atm = _interp_at(np.log(strikes), iv_k, np.log(F))
        puts = rows[~c.is_call[rows]]
        if len(puts) == 0:
            continue
        order = np.argsort(c.delta[puts])
        put25 = _interp_at(c.delta[puts][order], c.iv[puts][order], -0.25)
        return SurfacePoint(str(book.group_expiry[j]), float(g.T[j] * 365.0), atm, put25,
                            100.0 * (put25 - atm))
    return None


def _interp_at(x: np.ndarray, y: np.ndarray, x0: float) -> float:
    """``y`` at ``x0`` by linear interpolation between the two ``x`` (increasing) that
    bracket it; the end value outside the range."""
    return float(np.interp(x0, x, y))
