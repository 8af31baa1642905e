"""Volatility-surface summaries the regime engine watches: at-the-money IV and the
25-delta put skew of one reference expiry (pure numpy over the book's arrays).

Reference expiry: the first settlement group at least ``min_days`` out (default 7), so
0DTE noise does not drive the regimes. ATM IV: mean of the call and put IVs at the strike
nearest that group's forward. 25-delta put IV: the put whose delta is nearest -0.25.
Skew = 25-delta put IV - ATM IV, in vol points (positive = puts richer).
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
        k = c.strike[rows]
        nearest = rows[np.abs(k - F) == np.abs(k - F).min()]
        atm = float(np.mean(c.iv[nearest]))
        puts = rows[~c.is_call[rows]]
        if len(puts) == 0:
            continue
        p25 = puts[int(np.argmin(np.abs(c.delta[puts] + 0.25)))]
        put25 = float(c.iv[p25])
        return SurfacePoint(str(book.group_expiry[j]), float(g.T[j] * 365.0), atm, put25,
                            100.0 * (put25 - atm))
    return None
