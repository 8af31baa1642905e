"""Hedge-flow scenarios: what the dealers must trade to stay delta-neutral.

For a scenario (spot x (1 + spot_pct/100), every IV + vol_pts/100, ``days`` calendar days
passing) every contributing contract is revalued in full (forwards scale with spot and
keep their carry per year; a contract whose settlement passes takes its exercise delta)
under one of two surface rules:

* ``sticky_strike`` (the default): a contract keeps its IV (plus ``vol_pts``);
* ``sticky_moneyness``: the expiry's smile moves with the forward, so a contract's IV
  changes by ``smile(ln(K/F')) - smile(ln(K/F))`` (its own offset from the smile kept);
  contracts of an expiry without a smile stay sticky strike.

and

    flow_shares = -sum_i n_i M (delta_i' - delta_i)
    flow_usd    = flow_shares * S

i.e. the change in the dealers' share delta valued at today's spot ``S`` (REFERENCE.md's
``-(D' - D)`` with ``D`` the dollar delta at a fixed reference price: the trade, not the
re-marking of the existing hedge). Positive = dealers BUY the underlying. The linear
estimate beside it is ``-(GEX spot_pct + VEX vol_pts + CEX days)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import prange

from monitor.core import status as st
from monitor.core.black76 import delta_only
from monitor.core.exposures import CEX, DAYS_PER_YEAR, GEX, VEX
from monitor.core.jit import kernel
from monitor.core.smile import has_smile, smile_var

SURFACES = ("sticky_strike", "sticky_moneyness")

MIN_SIGMA = 1e-4

STANDARD = (
    [(p, 0.0, 0.0) for p in (-5.0, -2.0, -1.0, 1.0, 2.0, 5.0)]
    + [(0.0, v, 0.0) for v in (-5.0, -2.0, 2.0, 5.0)]
    + [(0.0, 0.0, 1.0)]
)


@dataclass(frozen=True)
class Flow:
    spot_pct: float
    vol_pts: float
    days: float
    flow_usd: float  # full revaluation, + = dealers buy
    flow_usd_linear: float
    flow_shares: float
    surface: str = "sticky_strike"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@kernel(inline="always")
def _smile_vol(G, j, k):
    v = smile_var(G, j, k)
    return math.sqrt(v) if v > 0.0 else 0.0


@kernel(parallel=True)
def _share_delta_change(strike, is_call, group, pos, iv, use, T, T1, fwd, df, G, spot, mult,
                        spot_mult, dvol, moneyness):
    """``sum n M (delta' - delta)`` with group ``j`` at ``T1[j]`` years (<= 0: settled,
    exercise delta) after the move; forwards and discount factors keep their carry and
    rate per year."""
    total = 0.0
    for i in prange(strike.shape[0]):
        if not use[i]:
            continue
        j = group[i]
        t0 = T[j]
        sig = iv[i]
        d0 = delta_only(spot, fwd[j], strike[i], t0, sig, df[j], is_call[i])
        t1 = T1[j]
        ratio = t1 / t0 if t1 > 0.0 else 0.0
        f1 = fwd[j] * spot_mult * (fwd[j] / spot) ** (ratio - 1.0)
        df1 = df[j] ** ratio
        s1 = spot * spot_mult
        sig1 = sig + dvol
        if moneyness and has_smile(G, j):
            sig1 += (_smile_vol(G, j, math.log(strike[i] / f1))
                     - _smile_vol(G, j, math.log(strike[i] / fwd[j])))
        d1 = delta_only(s1, f1, strike[i], t1, max(sig1, MIN_SIGMA), df1, is_call[i])
        total += pos[i] * mult * (d1 - d0)
    return total


def hedge_flow(book, spot_pct: float = 0.0, vol_pts: float = 0.0, days: float = 0.0,
               surface: str = "sticky_strike") -> Flow:
    """Dealer hedge flow for one scenario (see the module docstring for units, sign and
    ``surface``)."""
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {', '.join(SURFACES)}, not {surface!r}")
    g = book.g
    dshares = share_delta_change(book, g.T - days / DAYS_PER_YEAR, 1.0 + spot_pct / 100.0,
                                 vol_pts / 100.0, surface == "sticky_moneyness")
    t = book.agg.totals
    linear = -(t[GEX] * spot_pct + t[VEX] * vol_pts + t[CEX] * days)
    flow_usd = -dshares * book.spot
    return Flow(spot_pct, vol_pts, days, float(flow_usd), float(linear),
                float(flow_usd / book.spot), surface)


def share_delta_change(book, T1, spot_mult: float = 1.0, dvol: float = 0.0,
                       moneyness: bool = False) -> float:
    """``sum n M (delta' - delta)`` over the contributing contracts (shares, or index
    units), each settlement group ``j`` moved to ``T1[j]`` years to settlement (<= 0: it
    has settled and takes its exercise delta), spot times ``spot_mult``, every IV plus
    ``dvol`` (decimal)."""
    c, g = book.c, book.g
    return _share_delta_change(c.strike, c.is_call, c.group, c.pos, c.iv, c.status == st.OK,
                               g.T, np.asarray(T1, dtype=np.float64), g.fwd, g.df, book.G,
                               book.spot, book.multiplier, spot_mult, dvol, moneyness)


def standard_flows(book) -> list[Flow]:
    """Spot -5/-2/-1/+1/+2/+5 %, vol -5/-2/+2/+5 points, +1 day."""
    return [hedge_flow(book, *s) for s in STANDARD]


def flow_units(flow_usd: float, spot: float, es_multiplier: float | None,
               adv_shares: float | None) -> dict:
    """A dollar flow valued at ``spot`` in other units: ``flow_shares = flow_usd / spot``
    (units of the underlying: shares, or index units), ``flow_es_contracts = flow_shares /
    es_multiplier`` (contracts of the underlying's index future with the same delta: ES, NQ
    ...) and ``flow_pct_adv = 100 flow_shares / adv_shares`` (signed percent of the average
    daily volume); ``None`` where the divisor is 0 (not configured)."""
    shares = flow_usd / spot
    return {
        "flow_shares": shares,
        "flow_es_contracts": shares / es_multiplier if es_multiplier else None,
        "flow_pct_adv": 100.0 * shares / adv_shares if adv_shares else None,
    }
