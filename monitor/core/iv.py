"""Implied volatility from a mid price (Black-76 on the forward).

The solver works on the out-of-the-money side (an in-the-money mid is turned into the
OTM price by put-call parity on the forward, which keeps precision for deep ITM rows)
and runs a bracketed Newton iteration on ``ln price(s)`` in total vol ``s = sigma sqrt(T)``.
``ln price`` is concave and increasing in ``s`` for OTM options, so Newton from the left
of the root converges monotonically, and a step that leaves the bracket falls back to
bisection. It stops when the step is below ``1e-13 s`` (quadratic convergence makes that
the last step), so a warm start and a cold start land on the same ``sigma`` to machine
precision: that is what lets the incremental book agree with the whole-chain pass.

Returns ``(sigma, status)`` with ``status`` from :mod:`monitor.core.status`.
"""

import math

from monitor.core import status as st
from monitor.core.black76 import norm_pdf, otm_price_normalized
from monitor.core.jit import kernel

SQRT_2PI = math.sqrt(2.0 * math.pi)
MAX_ITER = 64
S_MAX = 20.0  # total vol cap: sigma sqrt(T) = 20 is far beyond any real quote


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
        # ATM (Brenner-Subrahmanyam) and deep-OTM (ln c ~ -k^2 / 2s^2) first guesses.
        s_atm = SQRT_2PI * target
        s_otm = abs(k) / math.sqrt(max(-2.0 * log_target, 1e-12))
        s = max(s_atm, s_otm)
    lo = 0.0
    hi = S_MAX
    if not (s > lo and s < hi):
        s = 0.5 * (lo + hi) if hi < S_MAX else 1.0
    for _ in range(MAX_ITER):
        p = otm_price_normalized(k, s, otm_call)
        if p <= 0.0:
            # underflow far left of the root
            lo = s
            s = 0.5 * (lo + hi) if hi < S_MAX else 2.0 * s
            continue
        g = math.log(p) - log_target
        if g > 0.0:
            hi = s
        else:
            lo = s
        vega_n = norm_pdf(-k / s + 0.5 * s)
        step = -g * p / vega_n if vega_n > 0.0 else math.inf
        s_new = s + step
        if not (s_new > lo and s_new < hi):
            s_new = 0.5 * (lo + hi)
        if abs(s_new - s) <= 1e-13 * s:
            return s_new / sqrt_t, st.OK
        s = s_new
        if hi - lo <= 1e-15 * hi:
            return s / sqrt_t, st.OK
    return math.nan, st.IV_NO_CONVERGE
