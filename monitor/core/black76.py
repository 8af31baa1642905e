"""Black-76 on the forward: prices and Greeks of one contract (scalar numba functions).

Conventions (shared/REFERENCE.md):

* ``F`` forward of the contract's settlement group, ``df = exp(-r T)`` its discount
  factor, ``S`` spot, ``K`` strike, ``T`` years to settlement, ``sigma`` decimal vol.
* ``a = F df / S`` is ``exp(-q T)`` with the parity forward, so spot delta is
  ``a N(d1)`` for a call and ``-a N(-d1)`` for a put.
* ``s = sigma sqrt(T)`` (total volatility) and ``k = ln(K / F)`` (log-moneyness) are the
  solver's variables; ``d1 = -k/s + s/2``.

Greeks returned per unit of underlying, per option:

* delta: dV/dS (dimensionless)
* gamma: d2V/dS2 (per point)
* vega: dV/dsigma per 1.00 of vol (divide by 100 for per vol point)
* vanna: d(delta)/dsigma per 1.00 of vol
* charm: d(delta)/dt per year, calendar time passing (t = -T)
"""

import math

import numba

from monitor.core.jit import kernel

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@kernel(inline="always")
def norm_cdf(x):
    return 0.5 * math.erfc(-x / SQRT2)


@kernel(inline="always")
def norm_pdf(x):
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


@kernel(inline="always")
def otm_price_normalized(k, s, is_call):
    """Undiscounted option price divided by ``F``, for log-moneyness ``k`` and total vol ``s``."""
    d1 = -k / s + 0.5 * s
    d2 = d1 - s
    ek = math.exp(k)
    if is_call:
        return norm_cdf(d1) - ek * norm_cdf(d2)
    return ek * norm_cdf(-d2) - norm_cdf(-d1)


@kernel
def price(F, K, T, sigma, df, is_call):
    """Discounted Black-76 price per unit of underlying."""
    if T <= 0.0:
        return df * (max(F - K, 0.0) if is_call else max(K - F, 0.0))
    s = sigma * math.sqrt(T)
    return df * F * otm_price_normalized(math.log(K / F), s, is_call)


@kernel(inline="always")
def greeks(S, F, K, T, sigma, df, is_call):
    """(delta, gamma, vega, vanna, charm) of one contract; see the module docstring."""
    sqrt_t = math.sqrt(T)
    s = sigma * sqrt_t
    log_fs = math.log(F / S)  # = (r - q) T
    d1 = (math.log(F / K) + 0.5 * s * s) / s
    d2 = d1 - s
    a = F * df / S  # exp(-q T)
    pdf1 = norm_pdf(d1)
    cdf1 = norm_cdf(d1)
    delta = a * cdf1 if is_call else a * (cdf1 - 1.0)
    gamma = a * pdf1 / (S * s)
    vega = S * a * pdf1 * sqrt_t
    vanna = -a * pdf1 * d2 / sigma
    # q = r - ln(F/S)/T; r = -ln(df)/T
    q = (-math.log(df) - log_fs) / T
    common = a * pdf1 * (2.0 * log_fs - d2 * s) / (2.0 * T * s)
    if is_call:
        charm = q * a * cdf1 - common
    else:
        charm = -q * a * (1.0 - cdf1) - common
    return delta, gamma, vega, vanna, charm


@kernel(inline="always")
def delta_only(S, F, K, T, sigma, df, is_call):
    """Spot delta; at or past settlement the exercise value (1/0 call, -1/0 put)."""
    if T <= 0.0:
        if is_call:
            return 1.0 if S > K else 0.0
        return -1.0 if S < K else 0.0
    s = sigma * math.sqrt(T)
    d1 = (math.log(F / K) + 0.5 * s * s) / s
    a = F * df / S
    cdf1 = norm_cdf(d1)
    return a * cdf1 if is_call else a * (cdf1 - 1.0)


@kernel(parallel=True)
def price_many(S, fwd_ratio, K, T, sigma, df, is_call, out):
    """Discounted prices for arrays of contracts at spot ``S``; ``fwd_ratio`` = F/S."""
    for i in numba.prange(K.shape[0]):
        out[i] = price(S * fwd_ratio[i], K[i], T[i], sigma[i], df[i], is_call[i])
