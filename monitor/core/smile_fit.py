"""Fitting one raw-SVI smile per expiry to the book's two-sided quotes, free of butterfly
and calendar arbitrage on the quoted range (:mod:`monitor.core.smile` for the formulas).

Points: per settlement group, the out-of-the-money contracts (calls at or above the
forward, puts below) whose quote is two-sided and sane (:func:`~monitor.core.smile.two_sided`)
and whose mid solved to an IV; at least :data:`MIN_POINTS` of them, else the group has no
smile. Residual of a point: ``(smile IV - mid IV) / max(half spread in vol, 0.1 vol pt)``
(half spread in vol = ``(ask - bid) / 2 / vega``), so a wing quote counts for what it says
and a tight one no more than a 1-vol-point one (the tightest quotes alone would pin the
fit at the money and let the wings, where one-sided quotes take the smile IV, go astray);
a soft-L1 loss keeps one bad quote from bending the smile.

Fit: Zeliade's quasi-explicit method (:func:`_quasi_explicit`: for fixed ``m, s`` the
rest is a bounded linear least squares that also enforces Lee's wing bound; a bounded
Nelder-Mead searches ``m, s``). If the result breaks an arbitrage condition on the
expiry's grid (:func:`grid`), an SLSQP pass from it imposes ``g(k) >= 0`` on the grid,
Lee's bound, and ``w(k) >= w_i(k)`` against every earlier accepted expiry ``i``
(:func:`calendar_floor`), then lifts the level if the calendar condition is still short
by rounding. A result that still breaks one, or that costs more than
:data:`MAX_FIX_VOL_PTS` of fit RMSE over the free fit, is dropped (the group has no smile,
status ``arbitrage``). Groups are fitted in order of settlement, so each is checked
against the smiles already accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitor.core import status as st
from monitor.core.jit import kernel
from monitor.core.smile import WIDE_SPREAD, butterfly_g, lee_ok, total_var

MIN_POINTS = 8
GRID_POINTS = 41
MIN_HALF_SPREAD_VOL = 0.01  # 1 vol pt (see the module docstring)
LOSS_SCALE = 2.0  # soft-L1 turns linear beyond two half-spreads
G_MARGIN = 1e-6  # the constrained pass asks for a little more than g >= 0 ...
W_MARGIN = 1e-9  # ... and the calendar lift for a little more than w_j >= w_i (relative)
MAX_FIX_VOL_PTS = 1.0  # an imposed condition may cost at most this much fit RMSE


@dataclass(frozen=True)
class ExpiryFit:
    """One group's smile. ``params``: raw SVI of total variance ``(a, b, rho, m, s)`` (None
    when not fitted); ``k_lo``/``k_hi``: the fitted points' log-moneyness range (the grid);
    ``rmse_vol_pts``/``max_abs_vol_pts``: smile IV - mid IV over the fitted points, in vol
    points; ``status``: ``fitted``, ``too_few_quotes``, ``expired`` or ``arbitrage``."""

    group: int
    T: float
    n_points: int
    params: tuple | None
    k_lo: float
    k_hi: float
    rmse_vol_pts: float
    max_abs_vol_pts: float
    status: str
    fixed: str = ""  # "" (free fit), "constrained" (SLSQP), "constrained+lifted" (level raised)


def grid(fit: ExpiryFit) -> np.ndarray:
    """The expiry's arbitrage-check grid: :data:`GRID_POINTS` points over its quoted range."""
    return np.linspace(fit.k_lo, fit.k_hi, GRID_POINTS)


def calendar_grid(later: ExpiryFit, earlier: ExpiryFit) -> np.ndarray:
    """Points of the later expiry's grid inside the earlier one's quoted range."""
    k = grid(later)
    return k[(k >= earlier.k_lo) & (k <= earlier.k_hi)]


def calendar_floor(fit: ExpiryFit, earlier: list[ExpiryFit]):
    """``(k, w_floor)``: the points of ``fit``'s grid inside some earlier expiry's quoted
    range, and there the highest total variance of those earlier smiles."""
    k = grid(fit)
    floor = np.full(len(k), -np.inf)
    for e in earlier:
        inside = (k >= e.k_lo) & (k <= e.k_hi)
        floor[inside] = np.maximum(floor[inside], total_var(e.params, k[inside]))
    covered = np.isfinite(floor)
    return k[covered], floor[covered]


def violations(fit: ExpiryFit, earlier: list[ExpiryFit]) -> list[str]:
    """The arbitrage conditions ``fit`` breaks on its grid: ``butterfly`` (``g < 0`` or
    ``w <= 0``), ``lee`` and ``calendar`` (below an earlier smile: :func:`calendar_floor`)."""
    p = fit.params
    out = []
    if not lee_ok(p):
        out.append("lee")
    if not np.all(butterfly_g(p, grid(fit)) >= 0.0):
        out.append("butterfly")
    k, floor = calendar_floor(fit, earlier)
    if len(k) and not np.all(total_var(p, k) >= floor):
        out.append("calendar")
    return out


def arbitrage_free(fit: ExpiryFit, earlier: list[ExpiryFit]) -> bool:
    """No butterfly, Lee or calendar violation on the grids (:func:`violations`)."""
    return fit.params is not None and not violations(fit, earlier)


def fit_points(book, j: int):
    """``(k, iv, weight)`` of group ``j``'s fitting points (see the module docstring)."""
    c = book.c
    F = book.g.fwd[j]
    rows = np.flatnonzero((c.group == j) & (c.status == st.OK) & (c.iv_source == st.IV_QUOTE))
    k_all = np.log(c.strike[rows] / F)
    otm = np.where(c.is_call[rows], k_all >= 0.0, k_all < 0.0)
    rows, k = rows[otm], k_all[otm]
    half = 0.5 * (c.ask[rows] - c.bid[rows]) / np.maximum(c.vega[rows], 1e-300)
    return k, c.iv[rows], 1.0 / np.maximum(half, MIN_HALF_SPREAD_VOL)


def fit_expiry(j: int, T: float, k, iv, weight, earlier: list[ExpiryFit]) -> ExpiryFit:
    """The smile of one group from its points (see the module docstring)."""
    n = len(k)
    if not (T > 0.0):
        return ExpiryFit(j, T, n, None, np.nan, np.nan, np.nan, np.nan, "expired")
    if n < MIN_POINTS:
        return ExpiryFit(j, T, n, None, np.nan, np.nan, np.nan, np.nan, "too_few_quotes")
    k = np.asarray(k, dtype=np.float64)
    iv = np.asarray(iv, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    lo, hi = float(k.min()), float(k.max())
    summary = lambda p, status="fitted", fixed="": _summary(  # noqa: E731
        j, T, k, iv, tuple(p), lo, hi, status, fixed)
    free = summary(_quasi_explicit(k, iv, weight, T))
    if arbitrage_free(free, earlier):
        return free
    kc, floor = calendar_floor(free, earlier)
    fit = summary(_constrained(free, k, iv, weight, kc, floor), fixed="constrained")
    if not arbitrage_free(fit, earlier) and not np.any(butterfly_g(fit.params, grid(fit)) < 0.0):
        # only the calendar condition left (SLSQP stopped just short): lift the level
        short = float(np.max(floor - total_var(fit.params, kc)))
        a, b, rho, m, s_ = fit.params
        fit = summary((a + max(short, 0.0) + W_MARGIN * (1.0 + abs(a)), b, rho, m, s_),
                      fixed="constrained+lifted")
    if fit.rmse_vol_pts > free.rmse_vol_pts + MAX_FIX_VOL_PTS or not arbitrage_free(fit, earlier):
        return ExpiryFit(j, T, n, None, lo, hi, fit.rmse_vol_pts, fit.max_abs_vol_pts,
                         "arbitrage", fit.fixed)
    return fit


def _soft_l1(r):
    z = r / LOSS_SCALE
    return float(np.sum(2.0 * (np.sqrt(1.0 + z * z) - 1.0)))


def _vol_residual(p, k, iv, weight, T):
    return (np.sqrt(np.maximum(total_var(p, k), 1e-12) / T) - iv) * weight


def _inner(k, w_obs, wv, m, s):
    """Best ``(a, b, rho)`` for fixed ``m, s`` (Zeliade's quasi-explicit split): with the
    wing slopes ``u = b (1 + rho)``, ``v = b (1 - rho)`` raw SVI is linear,
    ``w = a + u (r + d) / 2 + v (r - d) / 2`` (``d = k - m``, ``r = sqrt(d**2 + s**2)``),
    and Lee's bound is the box ``0 <= u, v <= 2``: a bounded weighted least squares
    (:func:`_box_lsq3`)."""
    a, u, v = _box_lsq3(k, w_obs, wv, m, s)
    b = 0.5 * (u + v)
    rho = (u - v) / (u + v) if b > 0.0 else 0.0
    return np.array([a, b, min(max(rho, -0.999), 0.999), m, s])


@kernel
def _qe_loss(k, iv, weight, w_obs, wv, T, m, s):
    """The outer objective in one call: soft-L1 of the vol residuals of :func:`_box_lsq3`'s
    smile for ``(m, s)`` (a Python objective would spend most of its time in small numpy calls)."""
    a, u, v = _box_lsq3(k, w_obs, wv, m, s)
    total = 0.0
    for i in range(k.shape[0]):
        d = k[i] - m
        r = math.sqrt(d * d + s * s)
        w = max(a + 0.5 * u * (r + d) + 0.5 * v * (r - d), 1e-12)
        z = (math.sqrt(w / T) - iv[i]) * weight[i] / LOSS_SCALE
        total += 2.0 * (math.sqrt(1.0 + z * z) - 1.0)
    return total


@kernel
def _box_lsq3(k, w_obs, wv, m, s):
    """Weighted least squares of ``w_obs`` on ``(1, (r+d)/2, (r-d)/2)`` with the last two
    coefficients in ``[0, 2]``: the unconstrained solution if it is inside, else the best
    of the solutions with one or both of them fixed at a bound (exact for three unknowns).
    One pass over the points builds the Gram matrix; every candidate is solved from it."""
    Q = np.zeros((3, 3))
    q = np.zeros(3)
    yy = 0.0
    x = np.empty(3)
    for i in range(k.shape[0]):
        d = k[i] - m
        r = math.sqrt(d * d + s * s)
        w2 = wv[i] * wv[i]
        x[0] = 1.0
        x[1] = 0.5 * (r + d)
        x[2] = 0.5 * (r - d)
        for p in range(3):
            q[p] += w2 * x[p] * w_obs[i]
            for c in range(3):
                Q[p, c] += w2 * x[p] * x[c]
        yy += w2 * w_obs[i] * w_obs[i]
    best = np.zeros(3)
    best_err = np.inf
    for fu in (-1.0, 0.0, 2.0):  # -1 = free, else fixed at that bound
        for fv in (-1.0, 0.0, 2.0):
            fixed = np.array([-1.0, fu, fv])
            free = np.array([c for c in range(3) if fixed[c] < 0.0])
            nf = free.shape[0]
            A = np.empty((nf, nf))
            rhs = np.empty(nf)
            for a_ in range(nf):
                rhs[a_] = q[free[a_]]
                for c in range(3):
                    if fixed[c] >= 0.0:
                        rhs[a_] -= Q[free[a_], c] * fixed[c]
                for b_ in range(nf):
                    A[a_, b_] = Q[free[a_], free[b_]]
            if abs(np.linalg.det(A)) < 1e-300:
                continue
            sol = np.linalg.solve(A, rhs)
            cand = fixed.copy()
            ok = True
            for t in range(nf):
                cand[free[t]] = sol[t]
                if free[t] > 0 and (sol[t] < 0.0 or sol[t] > 2.0):
                    ok = False
            if not ok:
                continue
            err = yy - 2.0 * np.dot(cand, q) + np.dot(cand, Q @ cand)
            if err < best_err:
                best_err = err
                best = cand
    return best[0], best[1], best[2]


def _quasi_explicit(k, iv, weight, T):
    """Raw SVI by an outer bounded Nelder-Mead over ``(m, ln s)`` around :func:`_inner`,
    judged by the soft-L1 loss of the vol residuals; the inner fit weighs variance errors
    by ``weight / (2 sigma T)`` (d sigma = dw / (2 sigma T)). ``m`` stays within half the
    quoted range beyond it and ``s`` between 1e-3 and 2 times the range, where raw SVI
    keeps a shape that says something about the wings."""
    from scipy.optimize import minimize  # scipy costs ~0.3 s to import: only when fitting

    w_obs = iv * iv * T
    wv = weight / (2.0 * iv * T)
    lo, hi = float(k.min()), float(k.max())
    span = max(hi - lo, 1e-3)
    bounds = [(lo - 0.5 * span, hi + 0.5 * span), (np.log(1e-3 * span), np.log(2.0 * span))]

    def loss(x):
        return _qe_loss(k, iv, weight, w_obs, wv, T, x[0], math.exp(x[1]))

    best = None
    for m0, s0 in ((0.0, 0.1 * span), (0.1 * span, 0.4 * span)):
        x0 = np.clip([m0, np.log(s0)], [b[0] for b in bounds], [b[1] for b in bounds])
        r = minimize(loss, x0, method="Nelder-Mead", bounds=bounds,
                     options={"xatol": 1e-5, "fatol": 1e-8, "maxiter": 300})
        if best is None or r.fun < best.fun:
            best = r
    return _inner(k, w_obs, wv, best.x[0], np.exp(best.x[1]))


def _constrained(fit, k, iv, weight, kc, floor):
    """SLSQP from ``fit`` with the arbitrage conditions as constraints: ``g >= G_MARGIN``
    on its grid, Lee's bound, and total variance above ``floor`` at ``kc`` (the earlier
    smiles: :func:`calendar_floor`); in parameters scaled to order one (SLSQP's steps are
    not scale-free)."""
    from scipy.optimize import minimize

    T = fit.T
    kg = grid(fit)
    p0 = np.asarray(fit.params, dtype=np.float64)
    span = max(fit.k_hi - fit.k_lo, 1e-3)
    scale = np.array([max(abs(p0[0]), 1e-3 * T), max(p0[1], 1e-3), 1.0, span, span])
    wmax = float(np.max(iv * iv * T))
    lower = np.array([-2.0 * wmax, 0.0, -0.999, fit.k_lo - 0.5 * span, 1e-3 * span]) / scale
    upper = np.array([2.0 * wmax, 2.0, 0.999, fit.k_hi + 0.5 * span, 2.0 * span]) / scale
    # g is -inf where w <= 0: a large finite value keeps SLSQP's finite differences finite
    cons = [{"type": "ineq",
             "fun": lambda x: np.maximum(butterfly_g(x * scale, kg), -1e6) - G_MARGIN},
            {"type": "ineq", "fun": lambda x: np.array([2.0 - x[1] * scale[1] * (1.0 + x[2]),
                                                        2.0 - x[1] * scale[1] * (1.0 - x[2])])}]
    if len(kc):
        w_scale = 1.0 / max(wmax, 1e-12)  # constraints of order one too
        cons.append({"type": "ineq", "fun": lambda x: (total_var(x * scale, kc) - floor) * w_scale
                     - W_MARGIN})
    r = minimize(lambda x: _soft_l1(_vol_residual(x * scale, k, iv, weight, T)),
                 np.clip(p0 / scale, lower, upper), method="SLSQP",
                 bounds=list(zip(lower, upper)), constraints=cons,
                 options={"maxiter": 200, "ftol": 1e-12})
    return r.x * scale


def _summary(j, T, k, iv, p, lo, hi, status, fixed="") -> ExpiryFit:
    err = 100.0 * (np.sqrt(np.maximum(total_var(p, k), 0.0) / T) - iv)
    return ExpiryFit(j, T, len(k), p, lo, hi, float(np.sqrt(np.mean(err * err))),
                     float(np.max(np.abs(err))), status, fixed)


def fit_book(book) -> list[ExpiryFit]:
    """Fit every settlement group of ``book`` in order of settlement (see the module
    docstring); groups without an arbitrage-free smile get ``params None``."""
    fits: list[ExpiryFit] = []
    accepted: list[ExpiryFit] = []
    for j in range(len(book.g.T)):
        T = float(book.g.T[j])
        k, iv, w = fit_points(book, j) if T > 0 else ((), (), ())
        fit = fit_expiry(j, T, k, iv, w, accepted)
        fits.append(fit)
        if fit.params is not None:
            accepted.append(fit)
    return fits


__all__ = ["ExpiryFit", "GRID_POINTS", "MIN_POINTS", "WIDE_SPREAD", "arbitrage_free",
           "calendar_grid", "fit_book", "fit_expiry", "fit_points", "grid"]
