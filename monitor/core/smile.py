"""The volatility smile of one expiry: raw SVI in log-moneyness, its arbitrage conditions,
and the kernel-side lookup (REFERENCE.md, Quotes and the surface).

Raw SVI (Gatheral 2004) gives the total implied variance at log-moneyness ``k = ln(K/F)``:

    w(k) = a + b (rho (k - m) + sqrt((k - m)**2 + s**2))        (w = sigma**2 T)

The book stores each expiry's smile in the ``G`` rows ``svi_a .. svi_s`` as *implied
variance* (``a`` and ``b`` divided by the fit's ``T``), so a contract's smile IV is
``sqrt(v(k))`` at the group's current forward without knowing when the fit was made;
``svi_b`` NaN = no smile for that group. Between refits the smile moves with the forward
(sticky moneyness), which is what a one-sided quote's IV should do.

No-arbitrage conditions checked on a grid of ``k`` (the fit enforces them):

* butterfly (a non-negative risk-neutral density): Gatheral's
  ``g(k) = (1 - k w'/(2w))**2 - (w'**2/4)(1/w + 1/4) + w''/2 >= 0`` and ``w > 0``;
* calendar: total variance does not fall with ``T`` at any ``k``
  (``w_j(k) >= w_i(k)`` for every earlier expiry ``i``).
"""

from __future__ import annotations

import math

import numpy as np

from monitor.core.jit import kernel
from monitor.core.layout import SVI_A, SVI_B, SVI_M, SVI_RHO, SVI_S

#: a quote is two-sided and sane when bid > 0 and (ask - bid) <= WIDE_SPREAD * mid; the
#: rest (zero bid, spread above half the mid) take the smile's IV: a mid of ask/2 or
#: of a quote that wide says little about the option's value (on the 2026-08-19 SPX file
#: this is 1 in 25 quotes, nearly all wings)
WIDE_SPREAD = 0.5


@kernel(inline="always")
def smile_var(G, j, k):
    """Implied variance (decimal**2) of group ``j``'s smile at log-moneyness ``k``; NaN
    when the group has no smile."""
    d = k - G[SVI_M, j]
    s = G[SVI_S, j]
    return G[SVI_A, j] + G[SVI_B, j] * (G[SVI_RHO, j] * d + math.sqrt(d * d + s * s))


@kernel(inline="always")
def has_smile(G, j):
    return G[SVI_B, j] == G[SVI_B, j]


@kernel(inline="always")
def two_sided(b, a):
    """A sane two-sided quote (see :data:`WIDE_SPREAD`); ``b``, ``a`` finite, ``0 <= b <= a``."""
    return b > 0.0 and (a - b) <= WIDE_SPREAD * 0.5 * (a + b)


# -- numpy side: parameters as arrays (a, b, rho, m, s) of total variance ------------------
def total_var(p, k):
    """``w(k)`` of raw SVI parameters ``p = (a, b, rho, m, s)``."""
    a, b, rho, m, s = p
    d = np.asarray(k, dtype=np.float64) - m
    return a + b * (rho * d + np.sqrt(d * d + s * s))


def butterfly_g(p, k):
    """Gatheral's density factor ``g(k)`` (>= 0 everywhere = no butterfly arbitrage);
    ``-inf`` where ``w <= 0``."""
    a, b, rho, m, s = p
    k = np.asarray(k, dtype=np.float64)
    d = k - m
    r = np.sqrt(d * d + s * s)
    w = a + b * (rho * d + r)
    w1 = b * (rho + d / r)
    w2 = b * s * s / (r * r * r)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
    return np.where(w > 0.0, g, -np.inf)


def lee_ok(p) -> bool:
    """Roger Lee's moment bound on the wings: slopes of ``w`` at most 2."""
    _, b, rho, _, _ = p
    return b * (1.0 + abs(rho)) <= 2.0 + 1e-12
