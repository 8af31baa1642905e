"""Synthetic chains for hand-computed tests (labelled synthetic: no real data here).

Prices come from a Black-76 formula written out independently in this file (math.erf),
so a test can say "a contract with sigma = 20 %" and check what the core makes of it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import numpy as np

from monitor.chain.model import Chain

YEAR_NS = int(365 * 86400 * 1e9)
AS_OF_NS = int(dt.datetime(2026, 1, 2, 21, 0, tzinfo=dt.timezone.utc).timestamp() * 1e9)


def bs_price(S, K, T, sigma, r, q, is_call):
    F = S * math.exp((r - q) * T)
    s = sigma * math.sqrt(T)
    d1 = (math.log(F / K) + 0.5 * s * s) / s
    d2 = d1 - s
    N = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
    df = math.exp(-r * T)
    if is_call:
        return df * (F * N(d1) - K * N(d2))
    return df * (K * N(-d2) - F * N(-d1))


def make_chain(contracts, spot=100.0, r=0.0, q=0.0, as_of_ns=AS_OF_NS, spread=0.0,
               underlying="TEST"):
    """``contracts``: iterable of (strike, years, is_call, sigma, oi). Each contract's
    settlement is ``as_of + years`` exactly; its bid/ask straddle the model price."""
    rows = list(contracts)
    n = len(rows)
    strike = np.array([c[0] for c in rows], float)
    years = np.array([c[1] for c in rows], float)
    is_call = np.array([c[2] for c in rows], bool)
    sig = np.array([c[3] for c in rows], float)
    oi = np.array([c[4] for c in rows], float)
    mid = np.array([bs_price(spot, k, t, s, r, q, c)
                    for k, t, c, s in zip(strike, years, is_call, sig)])
    settle = as_of_ns + np.round(years * YEAR_NS).astype(np.int64)
    expiry = (settle // (86400 * 10**9)).astype("datetime64[D]")
    return Chain(underlying=underlying, spot=spot, as_of_ns=as_of_ns,
                 root=np.array([underlying] * n, dtype=object), expiry=expiry,
                 settle_ns=settle, am_settled=np.zeros(n, bool), strike=strike, is_call=is_call,
                 bid=mid - spread / 2, ask=mid + spread / 2, oi=oi,
                 vendor_iv=np.full(n, np.nan), vendor_delta=np.full(n, np.nan),
                 vendor_gamma=np.full(n, np.nan), layout="synthetic", source="synthetic",
                 rejected=Counter())
