"""The numba kernels over the book's struct-of-arrays state: where IV, Greeks and exposures
are computed, for the whole chain at once and for one contract at a time.

State layout (see :class:`monitor.core.book.Book`):

* ``c`` (:class:`ContractArrays`): one row per contract, 1-D arrays per field.
* ``g`` (:class:`GroupArrays`): one row per settlement group (expiry date + AM/PM):
  years to settlement ``T``, forward ``fwd``, discount factor ``df``.
* ``agg`` (:class:`Aggregates`): ``totals[4]``, ``by_group[m, 4]``, ``by_strike[ns, 5]``.

Exposure contributions of contract ``i`` (REFERENCE.md, dollars; ``n`` = dealer position
in contracts, ``M`` = multiplier, ``S`` = spot):

* ``dex_usd = n M delta S``
* ``gex_usd_per_pct = n M gamma S^2 0.01``
* ``vex_usd_per_vol_pt = n M vanna S 0.01``
* ``cex_usd_per_day = n M charm S / 365``

``whole_chain`` evaluates every contract (parallel) and re-sums the aggregates;
``apply_quotes`` / ``apply_positions`` change single contracts in O(1) each: subtract the
old contribution, re-evaluate (IV warm-started from the last value), add the new one.
Both call the same ``_eval_contract``, so per-contract numbers are identical.

The kernels take the arrays one by one (call them as ``kernel(*c, *g, *agg, ...)``):
numba's parallel backend loses writes made through a tuple of arrays inside ``prange``.
"""

from collections import namedtuple

import numpy as np
from numba import prange

from monitor.core import status as st
from monitor.core.black76 import greeks
from monitor.core.iv import implied_vol
from monitor.core.jit import kernel

ContractArrays = namedtuple(
    "ContractArrays",
    "strike is_call group strike_idx bid ask pos iv delta gamma vega vanna charm "
    "dex gex vex cex status",
)
GroupArrays = namedtuple("GroupArrays", "T fwd df")
Aggregates = namedtuple("Aggregates", "totals by_group by_strike")

# column indices of totals / by_group
DEX, GEX, VEX, CEX = 0, 1, 2, 3
# column indices of by_strike
S_GEX_CALLS, S_GEX_PUTS, S_VEX, S_CEX, S_DEX = 0, 1, 2, 3, 4
DAYS_PER_YEAR = 365.0


@kernel(inline="always")
def _eval_contract(i, strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma,
                   vega, vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, spot, mult,
                   warm):
    """Evaluate contract ``i`` in place: status, IV, Greeks and exposure contributions.

    ``warm``: 1 = warm-start the IV solve from ``iv[i]``, 0 = cold start, -1 = do not
    solve: take ``iv[i]`` as given (``--greeks vendor``).
    """
    j = group[i]
    T = T_[j]
    b = bid[i]
    a = ask[i]
    code = st.OK
    sigma = np.nan
    if not (T > 0.0):
        code = st.EXPIRED
    elif warm < 0:
        sigma = iv[i]
        if not (sigma > 0.0):
            code = st.NO_VENDOR_IV
    elif not (b == b) or not (a == a) or not (a > 0.0):
        code = st.NO_QUOTE
    elif b < 0.0:
        code = st.NEGATIVE_PRICE
    elif b > a:
        code = st.CROSSED
    else:
        guess = iv[i] if warm > 0 else -1.0
        sigma, code = implied_vol(0.5 * (b + a), fwd[j], strike[i], T, df[j], is_call[i], guess)
    status[i] = code
    if code != st.OK:
        iv[i] = np.nan
        delta[i] = 0.0
        gamma[i] = 0.0
        vega[i] = 0.0
        vanna[i] = 0.0
        charm[i] = 0.0
        dex[i] = 0.0
        gex[i] = 0.0
        vex[i] = 0.0
        cex[i] = 0.0
        return
    d, gm, v, va, ch = greeks(spot, fwd[j], strike[i], T, sigma, df[j], is_call[i])
    iv[i] = sigma
    delta[i] = d
    gamma[i] = gm
    vega[i] = v
    vanna[i] = va
    charm[i] = ch
    _set_exposures(i, pos, delta, gamma, vanna, charm, dex, gex, vex, cex, spot, mult)


@kernel(inline="always")
def _set_exposures(i, pos, delta, gamma, vanna, charm, dex, gex, vex, cex, spot, mult):
    nm = pos[i] * mult
    dex[i] = nm * delta[i] * spot
    gex[i] = nm * gamma[i] * spot * spot * 0.01
    vex[i] = nm * vanna[i] * spot * 0.01
    cex[i] = nm * charm[i] * spot / DAYS_PER_YEAR


@kernel(inline="always")
def _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group, by_strike,
                sign):
    """Add (sign=+1) or remove (sign=-1) contract ``i``'s contribution from the aggregates."""
    j = group[i]
    k = strike_idx[i]
    d = sign * dex[i]
    g = sign * gex[i]
    v = sign * vex[i]
    c = sign * cex[i]
    totals[DEX] += d
    totals[GEX] += g
    totals[VEX] += v
    totals[CEX] += c
    by_group[j, DEX] += d
    by_group[j, GEX] += g
    by_group[j, VEX] += v
    by_group[j, CEX] += c
    by_strike[k, S_GEX_CALLS if is_call[i] else S_GEX_PUTS] += g
    by_strike[k, S_VEX] += v
    by_strike[k, S_CEX] += c
    by_strike[k, S_DEX] += d


@kernel(parallel=True)
def evaluate_all(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                 vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, spot, mult, warm):
    """IV, Greeks and contributions for every contract (threads over contracts)."""
    for i in prange(strike.shape[0]):
        _eval_contract(i, strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma,
                       vega, vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, spot, mult,
                       warm)


@kernel
def resum(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega, vanna,
          charm, dex, gex, vex, cex, status, totals, by_group, by_strike):
    """Rebuild the aggregates from the per-contract contributions (serial, fixed order)."""
    totals[:] = 0.0
    by_group[:, :] = 0.0
    by_strike[:, :] = 0.0
    for i in range(strike.shape[0]):
        _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group,
                    by_strike, 1.0)


@kernel
def whole_chain(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, totals, by_group,
                by_strike, spot, mult, warm):
    """``evaluate_all`` then ``resum``: the whole-chain path."""
    evaluate_all(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                 vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, spot, mult, warm)
    resum(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega, vanna,
          charm, dex, gex, vex, cex, status, totals, by_group, by_strike)


@kernel
def apply_quotes(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                 vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, totals, by_group,
                 by_strike, spot, mult, idx, new_bid, new_ask):
    """Apply quote updates ``(idx[k], new_bid[k], new_ask[k])`` in order; O(1) per update."""
    for k in range(idx.shape[0]):
        i = idx[k]
        _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group,
                    by_strike, -1.0)
        bid[i] = new_bid[k]
        ask[i] = new_ask[k]
        _eval_contract(i, strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma,
                       vega, vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, spot, mult,
                       1)
        _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group,
                    by_strike, 1.0)


@kernel
def apply_positions(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                    vanna, charm, dex, gex, vex, cex, status, totals, by_group, by_strike, spot,
                    mult, idx, new_pos):
    """Re-weight contracts ``idx[k]`` to dealer positions ``new_pos[k]`` (contracts); O(1) each."""
    for k in range(idx.shape[0]):
        i = idx[k]
        _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group,
                    by_strike, -1.0)
        pos[i] = new_pos[k]
        if status[i] == st.OK:
            _set_exposures(i, pos, delta, gamma, vanna, charm, dex, gex, vex, cex, spot, mult)
        _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group,
                    by_strike, 1.0)


@kernel
def apply_quote(strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, totals, by_group,
                by_strike, spot, mult, i, new_bid, new_ask):
    """One quote update with scalar arguments: the per-tick entry point from Python
    (no temporary arrays)."""
    _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group, by_strike,
                -1.0)
    bid[i] = new_bid
    ask[i] = new_ask
    _eval_contract(i, strike, is_call, group, strike_idx, bid, ask, pos, iv, delta, gamma, vega,
                   vanna, charm, dex, gex, vex, cex, status, T_, fwd, df, spot, mult, 1)
    _accumulate(i, group, strike_idx, is_call, dex, gex, vex, cex, totals, by_group, by_strike,
                1.0)
