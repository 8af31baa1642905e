"""Implied volatility from a mid price (Black-76 on the forward).

The solver works on the out-of-the-money side (an in-the-money mid is turned into the
OTM price by put-call parity on the forward, which keeps precision for deep ITM rows)
and runs a bracketed Halley iteration on ``ln price(s)`` in total vol ``s = sigma sqrt(T)``
(its second derivative costs no extra transcendental call). ``ln price`` is concave and
increasing in ``s`` for OTM options; a step that leaves the bracket falls back to
bisection. It stops when ``|ln(model / mid)| <= 1e-13``, so a warm start and a cold start
land on the same ``sigma`` to about 1e-13 relative: that is what lets the incremental
book agree with the whole-chain pass.

Returns ``(sigma, status)`` with ``status`` from :mod:`monitor.core.status`.
"""

import math

from monitor.core import status as st
from monitor.core.black76 import norm_cdf, norm_pdf
from monitor.core.jit import kernel

SQRT_2PI = math.sqrt(2.0 * math.pi)
MAX_ITER = 64
S_MAX = 20.0  # total vol cap: sigma sqrt(T) = 20 is far beyond any real quote
CUBIC_DONE = 1e-6  # |g| at which one more Halley step lands below 1e-15
TOL_LOG_PRICE = 1e-13  # |ln(model price / mid)|: far inside the 1e-8 target, reachable in float64


@kernel(inline="always")
def implied_vol(mid, F, K, T, df, is_call, sigma_guess):
    """Implied vol of a discounted ``mid`` (per unit of underlying); ``sigma_guess`` <= 0 = cold start."""
    if not (mid == mid) or not (F > 0.0) or not (K > 0.0) or not (T > 0.0):
        return math.nan, st.NO_QUOTE
    k = math.log(K / F)
    ek = math.exp(k)
    c = mid / (df * F)  # undiscounted price in units of F
    if is_call:
        intrinsic = max(1.0 - ek, 0.0)
        upper = 1.0
    else:
        intrinsic = max(ek - 1.0, 0.0)
        upper = ek
    if c >= upper:
        return math.nan, st.ABOVE_UPPER
    # The OTM-side price: subtract intrinsic (parity on the forward).
    otm_call = k >= 0.0
    target = c - intrinsic
    if target <= 0.0:
        return math.nan, st.BELOW_INTRINSIC
    log_target = math.log(target)
    sqrt_t = math.sqrt(T)
    if sigma_guess > 0.0:
        s = sigma_guess * sqrt_t
    else:
        s = initial_guess(k, ek, target, otm_call, log_target)
    lo = 0.0
    hi = S_MAX
    if not (s > lo and s < hi):
        s = 1.0
    for _ in range(MAX_ITER):
        d1 = -k / s + 0.5 * s
        d2 = d1 - s
        if otm_call:
            p = norm_cdf(d1) - ek * norm_cdf(d2)
        else:
            p = ek * norm_cdf(-d2) - norm_cdf(-d1)
        if p <= 0.0:
            # underflow far left of the root
            lo = s
            s = 0.5 * (lo + hi)
            continue
        g = math.log(p) - log_target
        if abs(g) <= TOL_LOG_PRICE:
            return s / sqrt_t, st.OK
        if g > 0.0:
            hi = s
        else:
            lo = s
        # Halley on g(s) = ln p(s) - ln target: g' = v/p, g'' = v (d1 d2 / s - v/p) / p
        v = norm_pdf(d1)
        g1 = v / p
        g2 = g1 * (d1 * d2 / s - g1)
        den = 2.0 * g1 * g1 - g * g2
        step = -2.0 * g * g1 / den if den > 0.0 else -g / g1
        s_new = s + step
        if not (s_new > lo and s_new < hi):
            s_new = 0.5 * (lo + hi)
        elif abs(g) <= CUBIC_DONE:
            # the error here is tiny: after this Halley step it is far below
            # TOL_LOG_PRICE (cubic convergence), so skip the confirming evaluation
            return s_new / sqrt_t, st.OK
        if hi - lo <= 1e-14 * hi:
            return s_new / sqrt_t, st.OK
        s = s_new
    return math.nan, st.IV_NO_CONVERGE


@kernel(inline="always")
def initial_guess(k, ek, target, otm_call, log_target):
    """First total-vol guess: Corrado-Miller near the money, the deep-OTM asymptote
    ``ln c ~ -k^2 / 2s^2`` where that is larger (Corrado-Miller undershoots there)."""
    # Corrado-Miller on the call price (an OTM put becomes a call by parity)
    call = target if otm_call else target + 1.0 - ek
    half = call - 0.5 * (1.0 - ek)
    disc = half * half - (1.0 - ek) ** 2 / math.pi
    s_cm = SQRT_2PI / (1.0 + ek) * (half + math.sqrt(disc)) if disc > 0.0 else 0.0
    s_otm = abs(k) / math.sqrt(max(-2.0 * log_target, 1e-12))
    return max(s_cm, s_otm, 1e-8)
