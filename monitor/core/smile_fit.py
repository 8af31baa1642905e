"""Fitting one raw-SVI smile per expiry to the book's two-sided quotes, free of butterfly
and calendar arbitrage on the quoted range (:mod:`monitor.core.smile` for the formulas).

Points: per settlement group, the out-of-the-money contracts (calls at or above the
forward, puts below) whose quote is two-sided and sane (:func:`~monitor.core.smile.two_sided`)
and whose mid solved to an IV; at least :data:`MIN_POINTS` of them, else the group has no
smile. Residual of a point: ``(smile IV - mid IV) / max(half spread in vol, 1 vol pt)``
(half spread in vol = ``(ask - bid) / 2 / vega``), so a wing quote counts for what it says
and a tight one no more than a 1-vol-point one (the tightest quotes alone would pin the
fit at the money and let the wings, where one-sided quotes take the smile IV, go astray);
a soft-L1 loss keeps one bad quote from bending the smile.

Fit: Zeliade's quasi-explicit method (:func:`_quasi_explicit`: for fixed ``m, s`` the
rest is a bounded linear least squares that also enforces Lee's wing bound; a bounded
Nelder-Mead, compiled with the loss, searches ``m, s``). If the result breaks an
arbitrage condition on the expiry's grid (:func:`grid`) or falls below :data:`MIN_VOL`
anywhere (so every listed strike, however far out, has a positive variance): when only
the calendar condition (``w(k) < w_i(k)`` against an earlier accepted expiry ``i``,
:func:`calendar_floor`) or that floor is broken, the
level ``a`` is lifted just enough; otherwise, or when that costs too much, an SLSQP pass
imposes ``g(k) >= 0`` on the grid, Lee's bound and the calendar floor (lifting the level
if SLSQP stops just short of the floor). A result that still breaks one, or that costs
more than :data:`MAX_FIX_VOL_PTS` of fit RMSE over the free fit, is dropped (the group has no smile,
status ``arbitrage``). Groups are fitted in order of settlement, so each is checked
against the smiles already accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitor.core import status as st
from monitor.core.jit import kernel
from monitor.core.smile import butterfly_g, lee_ok, total_var

MIN_POINTS = 8
GRID_POINTS = 41
MIN_HALF_SPREAD_VOL = 0.01  # 1 vol pt (see the module docstring)
LOSS_SCALE = 2.0  # soft-L1 turns linear beyond two half-spreads
G_MARGIN = 1e-6  # the constrained pass asks for a little more than g >= 0 ...
W_MARGIN = 1e-9  # ... and the calendar lift for a little more than w_j >= w_i (relative)
MAX_FIX_VOL_PTS = 1.0  # an imposed condition may cost at most this much fit RMSE
MIN_VOL = 0.01  # the smile's lowest implied vol anywhere (1 vol pt): its variance stays
#                 positive at every strike the chain lists, however far beyond the quotes


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
    fixed: str = ""  # "" (free fit), "lifted" (level raised), "constrained" (SLSQP), or both


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


def min_total_var(p) -> float:
    """The lowest total variance raw SVI ``p`` reaches at any ``k``:
    ``a + b s sqrt(1 - rho**2)`` (at ``k = m - rho s / sqrt(1 - rho**2)``)."""
    a, b, rho, _, s = p
    return a + b * s * math.sqrt(max(1.0 - rho * rho, 0.0))


def violations(fit: ExpiryFit, earlier: list[ExpiryFit]) -> list[str]:
    """The conditions ``fit`` breaks: on its grid ``butterfly`` (``g < 0`` or ``w <= 0``),
    ``lee`` and ``calendar`` (below an earlier smile: :func:`calendar_floor`); anywhere,
    ``positive`` (implied vol below :data:`MIN_VOL` at some ``k``: beyond the quoted range
    raw SVI can fall to zero and below, where a listed wing strike would get no IV)."""
    p = fit.params
    out = []
    if min_total_var(p) < MIN_VOL * MIN_VOL * fit.T:
        out.append("positive")
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
    acceptable = lambda f: (f.rmse_vol_pts <= free.rmse_vol_pts + MAX_FIX_VOL_PTS  # noqa: E731
                            and arbitrage_free(f, earlier))
    liftable = lambda f: set(violations(f, earlier)) <= {"calendar", "positive"}  # noqa: E731
    if liftable(free):
        # the common case, and cheap: below an earlier smile somewhere, or too low far
        # out, so lift the level
        fit = _lifted(free, kc, floor, summary, "lifted")
        if acceptable(fit):
            return fit
    fit = summary(_constrained(free, k, iv, weight, kc, floor), fixed="constrained")
    if violations(fit, earlier) and liftable(fit):  # SLSQP stopped just short
        fit = _lifted(fit, kc, floor, summary, "constrained+lifted")
    if acceptable(fit):
        return fit
    return ExpiryFit(j, T, n, None, lo, hi, fit.rmse_vol_pts, fit.max_abs_vol_pts,
                     "arbitrage", fit.fixed)


def _lifted(fit, kc, floor, summary, label):
    """``fit`` with ``a`` raised just enough that ``w >= floor`` at every ``kc`` and the
    lowest implied vol is :data:`MIN_VOL` (:func:`min_total_var`)."""
    short = MIN_VOL * MIN_VOL * fit.T - min_total_var(fit.params)
    if len(kc):
        short = max(short, float(np.max(floor - total_var(fit.params, kc))))
    a, b, rho, m, s = fit.params
    return summary((a + max(short, 0.0) + W_MARGIN * (1.0 + abs(a)), b, rho, m, s), fixed=label)


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
    """Raw SVI by an outer bounded Nelder-Mead over ``(m, ln s)`` (:func:`_nelder_mead`)
    around :func:`_inner`, judged by the soft-L1 loss of the vol residuals; the inner fit
    weighs variance errors by ``weight / (2 sigma T)`` (d sigma = dw / (2 sigma T)).
    ``m`` stays within half the quoted range beyond it and ``s`` between 1e-3 and 2 times
    the range, where raw SVI keeps a shape that says something about the wings. Two starts;
    the better one is kept."""
    w_obs = iv * iv * T
    wv = weight / (2.0 * iv * T)
    lo, hi = float(k.min()), float(k.max())
    span = max(hi - lo, 1e-3)
    lower = np.array([lo - 0.5 * span, math.log(1e-3 * span)])
    upper = np.array([hi + 0.5 * span, math.log(2.0 * span)])
    step = np.array([0.1 * span, 0.5])
    best, best_f = None, np.inf
    for m0, s0 in ((0.0, 0.1 * span), (0.1 * span, 0.4 * span)):
        x0 = np.clip(np.array([m0, math.log(s0)]), lower, upper)
        x, f = _nelder_mead(k, iv, weight, w_obs, wv, T, x0, step, lower, upper)
        if f < best_f:
            best, best_f = x, f
    return _inner(k, w_obs, wv, best[0], math.exp(best[1]))


@kernel
def _nelder_mead(k, iv, weight, w_obs, wv, T, x0, step, lower, upper):
    """Nelder-Mead (standard coefficients 1, 2, 0.5, 0.5) in two dimensions over
    :func:`_qe_loss` of ``(m, ln s)``, points clipped to the box ``[lower, upper]``; stops
    when the simplex's spread in loss is below 1e-9 (relative) and in ``x`` below 1e-6, or
    after 400 iterations. Returns ``(x, loss)``."""
    P = np.empty((3, 2))
    f = np.empty(3)
    P[0] = x0
    for i in range(2):
        P[i + 1] = x0
        P[i + 1, i] += step[i] if x0[i] + step[i] <= upper[i] else -step[i]
    for i in range(3):
        P[i] = np.minimum(np.maximum(P[i], lower), upper)
        f[i] = _qe_loss(k, iv, weight, w_obs, wv, T, P[i, 0], math.exp(P[i, 1]))
    for _ in range(400):
        order = np.argsort(f)
        P, f = P[order].copy(), f[order].copy()
        if (f[2] - f[0] <= 1e-9 * (abs(f[0]) + 1e-12)
                and np.max(np.abs(P[1:] - P[0])) <= 1e-6):
            break
        c = 0.5 * (P[0] + P[1])
        xr = np.minimum(np.maximum(c + (c - P[2]), lower), upper)
        fr = _qe_loss(k, iv, weight, w_obs, wv, T, xr[0], math.exp(xr[1]))
        if fr < f[0]:
            xe = np.minimum(np.maximum(c + 2.0 * (c - P[2]), lower), upper)
            fe = _qe_loss(k, iv, weight, w_obs, wv, T, xe[0], math.exp(xe[1]))
            if fe < fr:
                P[2], f[2] = xe, fe
            else:
                P[2], f[2] = xr, fr
        elif fr < f[1]:
            P[2], f[2] = xr, fr
        else:
            xc = c + 0.5 * (P[2] - c) if fr >= f[2] else c + 0.5 * (xr - c)
            fc = _qe_loss(k, iv, weight, w_obs, wv, T, xc[0], math.exp(xc[1]))
            if fc < min(fr, f[2]):
                P[2], f[2] = xc, fc
            else:  # shrink toward the best point
                for i in (1, 2):
                    P[i] = P[0] + 0.5 * (P[i] - P[0])
                    f[i] = _qe_loss(k, iv, weight, w_obs, wv, T, P[i, 0], math.exp(P[i, 1]))
    i = np.argmin(f)
    return P[i].copy(), f[i]


def _constrained(fit, k, iv, weight, kc, floor):
    """SLSQP from ``fit`` with the arbitrage conditions as constraints: ``g >= G_MARGIN``
    on its grid, Lee's bound, the lowest variance at :data:`MIN_VOL` or above
    (:func:`min_total_var`), and total variance above ``floor`` at ``kc`` (the earlier
    smiles: :func:`calendar_floor`); in parameters scaled to order one (SLSQP's steps are
    not scale-free)."""
    from scipy.optimize import minimize

    T = fit.T
    kg = grid(fit)
    p0 = np.asarray(fit.params, dtype=np.float64)
    span = max(fit.k_hi - fit.k_lo, 1e-3)
    scale = np.array([max(abs(p0[0]), 1e-3 * T), max(p0[1], 1e-3), 1.0, span, span])
    wmax = float(np.max(iv * iv * T))
    w_scale = 1.0 / max(wmax, 1e-12)  # constraints of order one too
    w_min = (1.0 + G_MARGIN) * MIN_VOL * MIN_VOL * T
    lower = np.array([-2.0 * wmax, 0.0, -0.999, fit.k_lo - 0.5 * span, 1e-3 * span]) / scale
    upper = np.array([2.0 * wmax, 2.0, 0.999, fit.k_hi + 0.5 * span, 2.0 * span]) / scale
    # g is -inf where w <= 0: a large finite value keeps SLSQP's finite differences finite
    cons = [{"type": "ineq",
             "fun": lambda x: np.maximum(butterfly_g(x * scale, kg), -1e6) - G_MARGIN},
            {"type": "ineq", "fun": lambda x: np.array([2.0 - x[1] * scale[1] * (1.0 + x[2]),
                                                        2.0 - x[1] * scale[1] * (1.0 - x[2])])},
            {"type": "ineq", "fun": lambda x: (min_total_var(x * scale) - w_min) * w_scale}]
    if len(kc):
        cons.append({"type": "ineq",
                     "fun": lambda x: (total_var(x * scale, kc) - floor) * w_scale - W_MARGIN,
                     "jac": lambda x: _dw_dp(x * scale, kc) * scale * w_scale})

    def objective(x):
        """Soft-L1 loss of the vol residuals and its gradient in ``x`` (analytic: SLSQP's
        finite differences cost most of its time)."""
        p = x * scale
        w = np.maximum(total_var(p, k), 1e-12)
        sig = np.sqrt(w / T)
        z = (sig - iv) * weight / LOSS_SCALE
        root = np.sqrt(1.0 + z * z)
        dz_dw = weight / LOSS_SCALE / (2.0 * sig * T)
        grad = (2.0 * z / root * dz_dw) @ _dw_dp(p, k)
        return float(np.sum(2.0 * (root - 1.0))), grad * scale

    r = minimize(objective, np.clip(p0 / scale, lower, upper), jac=True, method="SLSQP",
                 bounds=list(zip(lower, upper)), constraints=cons,
                 options={"maxiter": 30, "ftol": 1e-10})
    return r.x * scale


def _dw_dp(p, k):
    """``dw/d(a, b, rho, m, s)`` of raw SVI at each ``k``: ``[len(k), 5]``."""
    a, b, rho, m, s = p
    d = np.asarray(k, dtype=np.float64) - m
    r = np.sqrt(d * d + s * s)
    return np.column_stack([np.ones_like(d), rho * d + r, b * d, -b * (rho + d / r), b * s / r])


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


__all__ = ["ExpiryFit", "GRID_POINTS", "MIN_POINTS", "arbitrage_free",
           "calendar_grid", "fit_book", "fit_expiry", "fit_points", "grid"]
