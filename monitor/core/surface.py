"""Volatility-surface summaries the regime engine watches: at-the-money IV and the
25-delta put skew of one reference expiry (pure numpy over the book's arrays).

Reference expiry: the first settlement group at least ``min_days`` out (default 7), so
0DTE noise does not drive the regimes. When that group has a fitted smile
(:mod:`monitor.core.smile`), both numbers are read off the smile: ATM IV = its IV at
``k = 0`` (the forward), 25-delta put IV = its IV where the Black-76 put delta at that IV
is -0.25 (solved on a fine grid of ``k``). The smile is refitted only every
``smile_refit_s`` of event time, and the regimes must see IV move between refits, so it
is read *re-levelled*: shifted in parallel so that it passes through the ATM IV of the
group's two-sided quotes (as below; within the fit's residual right after a fit).
Otherwise, from the quotes: ATM IV at the group's forward, interpolated
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
from monitor.core.black76 import delta_only
from monitor.core.layout import SVI_A, SVI_B, SVI_M, SVI_RHO, SVI_S
from monitor.core.smile import total_var

SMILE_GRID = 801  # k points from -1.5 to 0.1: 0.2 % of log-moneyness apart


@dataclass(frozen=True)
class SurfacePoint:
    expiry: str
    days: float
    atm_iv: float  # decimal
    put25_iv: float  # decimal
    skew_pts: float  # vol points
    source: str = "quotes"  # "smile" when read off the fitted smile


def surface_point(book, min_days: float = 7.0) -> SurfacePoint | None:
    c, g = book.c, book.g
    live = np.flatnonzero(g.T * 365.0 >= min_days)
    for j in live[np.argsort(g.T[live])]:
        rows = np.flatnonzero((c.group == j) & (c.status == st.OK))
        if len(rows) < 4:
            continue
        F = g.fwd[j]
        if np.isfinite(book.G[SVI_B, j]):
            atm, put25 = _from_smile(book, j)
            return SurfacePoint(str(book.group_expiry[j]), float(g.T[j] * 365.0), atm, put25,
                                100.0 * (put25 - atm), "smile")
        atm = _quote_atm(book, rows, F)
        puts = rows[~c.is_call[rows]]
        if len(puts) == 0:
            continue
        order = np.argsort(c.delta[puts])
        put25 = _interp_at(c.delta[puts][order], c.iv[puts][order], -0.25)
        return SurfacePoint(str(book.group_expiry[j]), float(g.T[j] * 365.0), atm, put25,
                            100.0 * (put25 - atm))
    return None


def _from_smile(book, j: int) -> tuple[float, float]:
    # the book stores the smile as implied variance, so raw SVI gives sigma**2 directly
    p = tuple(book.G[r, j] for r in (SVI_A, SVI_B, SVI_RHO, SVI_M, SVI_S))
    smile = lambda k: np.sqrt(np.maximum(total_var(p, k), 1e-12))  # noqa: E731
    T, F, df, S = book.g.T[j], book.g.fwd[j], book.g.df[j], book.spot
    c = book.c
    two = np.flatnonzero((c.group == j) & (c.status == st.OK) & (c.iv_source == st.IV_QUOTE))
    atm = _quote_atm(book, two, F) if len(two) else float(smile(0.0))
    k = np.linspace(-1.5, 0.1, SMILE_GRID)
    iv = np.maximum(smile(k) + (atm - float(smile(0.0))), 1e-6)  # re-levelled through atm
    d = np.array([delta_only(S, F, F * np.exp(kk), T, v, df, False) for kk, v in zip(k, iv)])
    # put delta falls from about 0 (far OTM, low k) to about -0.5 at the forward: reversed,
    # it increases, as np.interp needs
    return atm, _interp_at(d[::-1], iv[::-1], -0.25)


def _quote_atm(book, rows: np.ndarray, F: float) -> float:
    """ATM IV of the quotes ``rows``: each strike's IV the mean of its call and put IVs,
    interpolated linearly in log-strike at the forward ``F``."""
    c = book.c
    strikes, inv = np.unique(c.strike[rows], return_inverse=True)
    iv_k = np.bincount(inv, weights=c.iv[rows]) / np.bincount(inv)
    return _interp_at(np.log(strikes), iv_k, np.log(F))


def _interp_at(x: np.ndarray, y: np.ndarray, x0: float) -> float:
    """``y`` at ``x0`` by linear interpolation between the two ``x`` (increasing) that
    bracket it; the end value outside the range."""
    return float(np.interp(x0, x, y))
