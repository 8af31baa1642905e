"""Levels: zero-gamma (gamma flip), call and put walls, expiring share.

Zero gamma (REFERENCE.md, Levels): the spot ``S*`` where total GEX, every contract
revalued at ``S*`` with its current IV and T (sticky strike, forwards scaling with
spot), changes sign. For ``S' = u S`` contract ``i`` contributes

    GEX_i(u) = 0.01 S u * w_i * phi(z_i(u)),  w_i = n M a / s,  z_i(u) = d1_i + ln(u) / s_i

(``a = F df / S``, ``s = sigma sqrt(T)``), so the sign of GEX is the sign of
``h(x) = sum_i w_i exp(-z_i^2 / 2)`` with ``x = ln u``.

The scan evaluates ``h`` on a grid uniform in ``x`` covering spot -20 % .. +20 %
(401 points by default, REFERENCE asks for at least 200). On a uniform grid ``z`` moves
by a constant ``delta = dx / s`` per step, so ``exp(-z^2/2)`` follows the recurrence
``e[j+1] = e[j] rho[j]``, ``rho[j+1] = rho[j] exp(-delta^2)``: two multiplications per
grid point instead of an ``exp``, started at each contract's peak and stopped once its
term is below ``1e-17`` of the peak. The crossing nearest to spot is then refined by
bisection on the exact ``h`` to 0.01 % of spot. :func:`zero_gamma_full_scan` is the plain
version (an ``exp`` per contract per point) kept as the reference.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from monitor.core.exposures import BY_KEY, GEX
from monitor.core.jit import kernel
from monitor.core.layout import CALLS, PUTS

SCAN_LO, SCAN_HI = 0.8, 1.2  # spot multiples covered by the scan
SCAN_POINTS = 401
REFINE_REL = 1e-4  # bisection stops when the bracket is below 0.01 % of spot
TAIL = 1e-17


def gamma_terms(book, groups=None):
    """(w, d1, inv_s) of the contracts whose gamma counts: see the module docstring.
    ``groups``: ``(T, fwd, df)`` per settlement group to use instead of the book's (the
    book at a later clock, :mod:`monitor.core.horizons`); a group with ``T <= 0`` drops out."""
    return gamma_rows(book, groups)[1:]


def gamma_rows(book, groups=None):
    """(rows, w, d1, inv_s): :func:`gamma_terms` with the book rows they belong to."""
    c = book.c
    T_g, fwd_g, df_g = (book.g.T, book.g.fwd, book.g.df) if groups is None else groups
    ok = book.contributing() & (c.status == 0) & (T_g[c.group] > 0)
    rows = np.flatnonzero(ok)
    j = c.group[rows]
    T = T_g[j]
    s = c.iv[rows] * np.sqrt(T)
    F, df = fwd_g[j], df_g[j]
    a = F * df / book.spot
    w = c.pos[rows] * book.multiplier * a / s
    d1 = (np.log(F / c.strike[rows]) + 0.5 * s * s) / s
    keep = np.isfinite(w) & np.isfinite(d1) & (w != 0.0)
    return rows[keep], w[keep], d1[keep], 1.0 / s[keep]


@kernel(parallel=True)
def _scan_recurrence(w, d1, inv_s, x0, dx, n_grid, n_chunks):
    n = w.shape[0]
    acc = np.zeros((n_chunks, n_grid))
    per = (n + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        row = acc[ch]
        for i in range(ch * per, min(n, (ch + 1) * per)):
            delta = dx * inv_s[i]
            z0 = d1[i] + x0 * inv_s[i]
            jp = int(round(-z0 / delta))
            jp = min(max(jp, 0), n_grid - 1)
            zp = z0 + jp * delta
            ep = math.exp(-0.5 * zp * zp)
            if ep == 0.0:
                continue
            wi = w[i]
            row[jp] += wi * ep
            q = math.exp(-delta * delta)
            # upwards: e[j+1] = e[j] * rho, rho[j+1] = rho[j] * q
            e = ep
            rho = math.exp(-zp * delta - 0.5 * delta * delta)
            for jj in range(jp + 1, n_grid):
                e *= rho
                if e < TAIL * ep:
                    break
                row[jj] += wi * e
                rho *= q
            # downwards: e[j-1] = e[j] * tau, tau[j-1] = tau[j] * q
            e = ep
            tau = math.exp(zp * delta - 0.5 * delta * delta)
            for jj in range(jp - 1, -1, -1):
                e *= tau
                if e < TAIL * ep:
                    break
                row[jj] += wi * e
                tau *= q
    return acc.sum(axis=0)


@kernel(parallel=True)
def _h_direct(w, d1, inv_s, x):
    total = 0.0
    for i in prange(w.shape[0]):
        z = d1[i] + x * inv_s[i]
        total += w[i] * math.exp(-0.5 * z * z)
    return total


@kernel(parallel=True)
def _scan_direct(w, d1, inv_s, xs):
    out = np.zeros(xs.shape[0])
    for j in prange(xs.shape[0]):
        t = 0.0
        for i in range(w.shape[0]):
            z = d1[i] + xs[j] * inv_s[i]
            t += w[i] * math.exp(-0.5 * z * z)
        out[j] = t
    return out


def _grid(n_grid: int) -> tuple[float, float, np.ndarray]:
    x0, x1 = math.log(SCAN_LO), math.log(SCAN_HI)
    dx = (x1 - x0) / (n_grid - 1)
    return x0, dx, x0 + dx * np.arange(n_grid)


def _nearest_crossing(xs: np.ndarray, h: np.ndarray) -> tuple[float, float] | None:
    """Bracket ``(x_a, x_b)`` of the sign change of ``h`` nearest to ``x = 0`` (spot)."""
    sign = np.sign(h)
    nz = np.flatnonzero(sign != 0)
    if len(nz) < 2:
        return None
    s = sign[nz]
    flips = np.flatnonzero(s[:-1] != s[1:])
    if len(flips) == 0:
        return None
    a, b = xs[nz[flips]], xs[nz[flips + 1]]
    dist = np.where((a <= 0) & (b >= 0), 0.0, np.minimum(np.abs(a), np.abs(b)))
    k = int(np.argmin(dist))
    return float(a[k]), float(b[k])


def _refine(w, d1, inv_s, xa: float, xb: float) -> float:
    ha = _h_direct(w, d1, inv_s, xa)
    while math.exp(xb) - math.exp(xa) > REFINE_REL:
        xm = 0.5 * (xa + xb)
        hm = _h_direct(w, d1, inv_s, xm)
        if hm == 0.0:
            return xm
        if (hm > 0) == (ha > 0):
            xa, ha = xm, hm
        else:
            xb = xm
    return 0.5 * (xa + xb)


def zero_gamma(book, n_grid: int = SCAN_POINTS) -> float | None:
    """Zero-gamma spot level (index points) nearest to spot, or None if GEX keeps its sign
    over spot -20 % .. +20 %. Fast scan (recurrence) plus bisection."""
    return zero_gamma_of(book.spot, *gamma_terms(book), n_grid)


def zero_gamma_of(spot: float, w, d1, inv_s, n_grid: int = SCAN_POINTS) -> float | None:
    """:func:`zero_gamma` of the terms :func:`gamma_terms` returns (index points)."""
    if len(w) == 0:
        return None
    x0, dx, xs = _grid(n_grid)
    h = _scan_recurrence(w, d1, inv_s, x0, dx, n_grid, max(1, numba.get_num_threads()))
    return _solve(spot, w, d1, inv_s, xs, h)


def zero_gamma_full_scan(book, n_grid: int = SCAN_POINTS) -> float | None:
    """Reference implementation: an ``exp`` per contract per grid point, same bisection."""
    w, d1, inv_s = gamma_terms(book)
    if len(w) == 0:
        return None
    _, _, xs = _grid(n_grid)
    return _solve(book.spot, w, d1, inv_s, xs, _scan_direct(w, d1, inv_s, xs))


def _solve(spot, w, d1, inv_s, xs, h) -> float | None:
    br = _nearest_crossing(xs, h)
    if br is None:
        return None
    return spot * math.exp(_refine(w, d1, inv_s, *br))


def gex_curve(book, spots: np.ndarray) -> np.ndarray:
    """Total GEX (USD per 1 %) with spot moved to each of ``spots``, sticky strike."""
    w, d1, inv_s = gamma_terms(book)
    xs = np.log(np.asarray(spots, dtype=np.float64) / book.spot)
    h = _scan_direct(w, d1, inv_s, xs)
    # h sums n M (F df / S) phi / s; times S'^2 / S' (gamma's 1 / (S' s)) and the scale
    return BY_KEY["gex_usd_per_pct"].scale * np.asarray(spots) * h / math.sqrt(2.0 * math.pi)


def walls(book, any_strike: bool = False) -> tuple[float | None, float | None]:
    """(call wall, put wall) where a desk looks for them: the call wall is the strike **at
    or above spot** with the largest |GEX| from calls alone (resistance overhead), the put
    wall the strike **at or below spot** with the largest |GEX| from puts alone (support
    underneath). ``any_strike``: the unrestricted maxima instead (REFERENCE.md's bare
    definition; on the 2026 daily chains the 8000 strike, deep in the money for puts,
    wins both sides on many sessions). None where the side has no exposure."""
    return walls_of(book.agg.by_strike[:, :, GEX], book.strikes,
                    None if any_strike else book.spot)


def walls_of(gex_by_side: np.ndarray, strikes: np.ndarray, spot: float | None
             ) -> tuple[float | None, float | None]:
    """:func:`walls` of a per-strike GEX array ``[n_strikes, CALLS|PUTS]`` with the
    strikes restricted to the side of ``spot`` (None: any strike)."""
    out = []
    for side in (CALLS, PUTS):
        g = np.abs(gex_by_side[:, side])
        if spot is not None:
            g = np.where(strikes >= spot if side == CALLS else strikes <= spot, g, 0.0)
        out.append(float(strikes[int(np.argmax(g))]) if len(g) and g.max() > 0 else None)
    return out[0], out[1]


def expiring_share(book) -> tuple[str | None, float | None]:
    """(next expiration date, its share of gross |GEX|) over contributing contracts."""
    used = book.contributing() & (book.g.T[book.c.group] > 0)
    gross = np.abs(book.c.gex[used])
    if not used.any() or gross.sum() <= 0:
        return None, None
    exp = book.group_expiry[book.c.group[used]]
    nxt = exp.min()
    return str(nxt), float(gross[exp == nxt].sum() / gross.sum())
