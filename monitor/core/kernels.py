"""The numba kernels over the book's struct-of-arrays state: where IV, Greeks and exposures
are computed, for the whole chain at once and for one contract at a time.

State layout: :mod:`monitor.core.layout` names every row and column (``F`` per-contract
fields, ``G`` per settlement group, the aggregates ``totals``, ``by_group``,
``by_strike``). Packing the float fields keeps the argument count small: numba
type-checks every argument of every call (about 50 ns each), which is most of the cost of
a one-quote update from Python.

Exposure contributions of contract ``i``: every exposure of the registry
(:mod:`monitor.core.exposures`), ``n M greek S**spot_power scale`` (REFERENCE.md, dollars;
``n`` = dealer position in contracts, ``M`` = multiplier, ``S`` = spot).

``whole_chain`` evaluates every contract (parallel) and re-sums the aggregates;
``apply_quotes`` / ``apply_quote`` / ``apply_positions`` change single contracts in O(1)
each: subtract the old contribution, re-evaluate (IV warm-started from the last value),
add the new one. All call the same ``_eval_contract``, so per-contract numbers are
identical. Arrays are passed one by one, not in a tuple: numba's parallel backend loses
writes made through a tuple of arrays inside ``prange``.
"""

import math
from collections import namedtuple

import numpy as np
from numba import prange

from monitor.core import status as st
from monitor.core.black76 import greeks, price
from monitor.core.exposures import GREEKS, N_EXPOSURES
from monitor.core.iv import implied_vol
from monitor.core.jit import kernel
from monitor.core.layout import (
    ASK,
    BID,
    CALLS,
    CONTRIB0,
    DELTA,
    DF_ROW,
    EXP_GREEK_ROW,
    EXP_SCALE,
    EXP_SPOT_POWER,
    F_FIELDS,
    FWD_ROW,
    G_FIELDS,
    GREEK0,
    IV,
    IV_SOURCE,
    N_F,
    POS,
    PUTS,
    STRIKE,
    T_ROW,
)
from monitor.core.smile import has_smile, smile_var, two_sided

ContractArrays = namedtuple("ContractArrays",
                            ("is_call", "group", "strike_idx", "status") + F_FIELDS)
GroupArrays = namedtuple("GroupArrays", G_FIELDS)
Aggregates = namedtuple("Aggregates", "totals by_group by_strike")

N_GREEKS = len(GREEKS)
# below this many updates a block is applied one by one. The block path (evaluate the
# distinct contracts, then move the aggregates) was faster from about 32 updates up, on
# one thread as on two (seven real books, random contracts, stop 25: 64 updates 555 vs
# 656 ns a quote on one thread, 513 vs 644 on two; 16 updates: no faster on one, slower
# on two); 64 leaves a margin. It used to be 256, which sent every underlying of a
# many-underlying batch (about 135 quotes each) down the slower one-by-one path.
PARALLEL_MIN_UPDATES = 64


@kernel(inline="always")
def _eval_contract(i, is_call, group, F, status, G, spot, mult, warm):
    """Evaluate contract ``i`` in place: status, IV (and its source), Greeks and exposure
    contributions.

    ``warm``: 1 = warm-start the IV solve from ``F[IV, i]``, 0 = cold start, -1 = do not
    solve: take ``F[IV, i]`` as given (``--greeks vendor``). A one-sided, zero-bid or wide
    quote takes its expiry's smile IV at the group's forward when the group has a smile
    (:mod:`monitor.core.smile`), clamped to its own bid and ask
    (:func:`_smile_iv_in_quote`), else its own mid's.
    """
    j = group[i]
    T = G[T_ROW, j]
    b = F[BID, i]
    a = F[ASK, i]
    code = st.OK
    src = st.IV_QUOTE
    sigma = np.nan
    if not (T > 0.0):
        code = st.EXPIRED
    elif warm < 0:
        sigma = F[IV, i]
        src = st.IV_VENDOR
        if not (sigma > 0.0):
            code = st.NO_VENDOR_IV
    elif not (b == b) or not (a == a) or not (a > 0.0):
        code = st.NO_QUOTE
    elif b < 0.0:
        code = st.NEGATIVE_PRICE
    elif b > a:
        code = st.CROSSED
    else:
        # the fit keeps each smile's variance positive at every strike (smile_fit); where
        # a smile is not (one stored by hand), the contract keeps its own mid
        v = np.nan
        if not two_sided(b, a) and has_smile(G, j):
            v = smile_var(G, j, math.log(F[STRIKE, i] / G[FWD_ROW, j]))
        if v > 0.0:
            sigma, src, code = _smile_iv_in_quote(F[STRIKE, i], G[FWD_ROW, j], T, G[DF_ROW, j],
                                                  is_call[i], b, a, v)
        else:
            if not two_sided(b, a):
                src = st.IV_WIDE_QUOTE
            guess = F[IV, i] if warm > 0 else -1.0
            sigma, code = implied_vol(0.5 * (b + a), G[FWD_ROW, j], F[STRIKE, i], T,
                                      G[DF_ROW, j], is_call[i], guess)
    status[i] = code
    if code != st.OK:
        F[IV, i] = np.nan
        F[IV_SOURCE, i] = -1.0
        for k in range(GREEK0, N_F):  # Greeks and contributions
            F[k, i] = 0.0
        return
    F[IV_SOURCE, i] = src
    g = greeks(spot, G[FWD_ROW, j], F[STRIKE, i], T, sigma, G[DF_ROW, j], is_call[i])
    F[IV, i] = sigma
    for k in range(N_GREEKS):  # black76.greeks returns them in GREEKS order
        F[GREEK0 + k, i] = g[k]
    _set_exposures(i, F, spot, mult)


@kernel(inline="always")
def _smile_iv_in_quote(K, fwd, T, df, is_call, b, a, v):
    """``(sigma, iv_source, status)`` of a contract priced off its expiry's smile (implied
    variance ``v`` > 0 at its strike), kept inside its own quote: when the smile's price
    lies above the ask, or below a bid above zero, the IV is the one that prices the
    contract at that bound (``IV_SMILE_AT_BOUND``); a zero bid bounds it above only. The
    smile exists to repair quotes that say little, and a price outside the market would
    make them worse (an eve-of-expiry 0.05-ask wing priced at several points)."""
    sigma = math.sqrt(v)
    p = price(fwd, K, T, sigma, df, is_call)
    if p > a:
        bound = a
    elif b > 0.0 and p < b:
        bound = b
    else:
        return sigma, st.IV_SMILE, st.OK
    sigma, code = implied_vol(bound, fwd, K, T, df, is_call, sigma)
    return sigma, st.IV_SMILE_AT_BOUND, code


@kernel(inline="always")
def _set_exposures(i, F, spot, mult):
    nm = F[POS, i] * mult
    for e in range(N_EXPOSURES):
        s_pow = 1.0
        for _ in range(EXP_SPOT_POWER[e]):
            s_pow *= spot
        F[CONTRIB0 + e, i] = nm * F[EXP_GREEK_ROW[e], i] * s_pow * EXP_SCALE[e]


@kernel(inline="always")
def _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, sign):
    """Add (sign=+1) or remove (sign=-1) contract ``i``'s contribution from the aggregates."""
    j = group[i]
    k = strike_idx[i]
    side = CALLS if is_call[i] else PUTS
    for e in range(N_EXPOSURES):
        x = sign * F[CONTRIB0 + e, i]
        totals[e] += x
        by_group[j, e] += x
        by_strike[k, side, e] += x


@kernel(inline="always")
def _remove(i, is_call, group, strike_idx, totals, by_group, by_strike, old):
    """Remove contributions ``old[e]`` (a saved copy of contract ``i``'s) from the aggregates."""
    j = group[i]
    k = strike_idx[i]
    side = CALLS if is_call[i] else PUTS
    for e in range(N_EXPOSURES):
        totals[e] -= old[e]
        by_group[j, e] -= old[e]
        by_strike[k, side, e] -= old[e]


@kernel(parallel=True)
def evaluate_all(is_call, group, strike_idx, F, status, G, spot, mult, warm):
    """IV, Greeks and contributions for every contract (threads over contracts)."""
    for i in prange(is_call.shape[0]):
        _eval_contract(i, is_call, group, F, status, G, spot, mult, warm)


@kernel
def resum(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike):
    """Rebuild the aggregates from the per-contract contributions (serial, fixed order)."""
    totals[:] = 0.0
    by_group[:, :] = 0.0
    by_strike[:, :, :] = 0.0
    for i in range(is_call.shape[0]):
        _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, 1.0)


@kernel
def whole_chain(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike, spot,
                mult, warm):
    """``evaluate_all`` then ``resum``: the whole-chain path."""
    evaluate_all(is_call, group, strike_idx, F, status, G, spot, mult, warm)
    resum(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike)


@kernel(inline="always")
def _update_quote(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike, spot,
                  mult, i, new_bid, new_ask):
    _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, -1.0)
    F[BID, i] = new_bid
    F[ASK, i] = new_ask
    _eval_contract(i, is_call, group, F, status, G, spot, mult, 1)
    _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, 1.0)


@kernel
def last_updates(idx, mark, keep):
    """Positions ``k`` of the last update of each contract in ``idx`` into ``keep``
    (latest first); returns how many. ``mark``: int64 scratch per contract, all -1 on
    entry and again on return."""
    n = 0
    for k in range(idx.shape[0] - 1, -1, -1):
        i = idx[k]
        if mark[i] < 0:
            mark[i] = k
            keep[n] = k
            n += 1
    for j in range(n):
        mark[idx[keep[j]]] = -1
    return n


@kernel(parallel=True)
def _evaluate_updates(is_call, group, F, status, G, spot, mult, idx, new_bid, new_ask, keep,
                      old):
    """New quotes of contracts ``idx[keep[j]]`` (distinct) evaluated in parallel; their
    previous contributions saved in ``old[j]`` for the aggregates."""
    for j in prange(old.shape[0]):
        k = keep[j]
        i = idx[k]
        for e in range(N_EXPOSURES):
            old[j, e] = F[CONTRIB0 + e, i]
        F[BID, i] = new_bid[k]
        F[ASK, i] = new_ask[k]
        _eval_contract(i, is_call, group, F, status, G, spot, mult, 1)


@kernel
def apply_quotes(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike, spot,
                 mult, idx, new_bid, new_ask, mark):
    """Apply quote updates ``(idx[k], new_bid[k], new_ask[k])`` in order.

    Only the last update of each contract counts (a contract's state is a function of its
    latest quote: the IV is solved from it, warm-started from the previous solution), so a
    block keeps one update per contract, evaluates those in parallel, then moves the
    aggregates serially (old contribution out, new in). ``mark``: the book's int64
    scratch per contract (all -1).
    """
    m = idx.shape[0]
    if m < PARALLEL_MIN_UPDATES:
        for k in range(m):
            _update_quote(is_call, group, strike_idx, F, status, G, totals, by_group,
                          by_strike, spot, mult, idx[k], new_bid[k], new_ask[k])
        return
    keep = np.empty(m, dtype=np.int64)
    n = last_updates(idx, mark, keep)
    old = np.empty((n, N_EXPOSURES))
    _evaluate_updates(is_call, group, F, status, G, spot, mult, idx, new_bid, new_ask,
                      keep[:n], old)
    for j in range(n):
        i = idx[keep[j]]
        _remove(i, is_call, group, strike_idx, totals, by_group, by_strike, old[j])
        _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, 1.0)


@kernel
def apply_quote(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike, spot,
                mult, i, new_bid, new_ask):
    """One quote update with scalar arguments: the per-tick entry point from Python."""
    _update_quote(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike, spot,
                  mult, i, new_bid, new_ask)


@kernel
def apply_positions(is_call, group, strike_idx, F, status, G, totals, by_group, by_strike,
                    spot, mult, idx, new_pos):
    """Re-weight contracts ``idx[k]`` to dealer positions ``new_pos[k]`` (contracts); O(1) each."""
    for k in range(idx.shape[0]):
        i = idx[k]
        _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, -1.0)
        F[POS, i] = new_pos[k]
        if status[i] == st.OK:
            _set_exposures(i, F, spot, mult)
        _accumulate(i, is_call, group, strike_idx, F, totals, by_group, by_strike, 1.0)


@kernel
def set_exposures(F, spot, mult, rows):
    """Recompute the contribution rows of contracts ``rows`` from their Greeks and
    positions (the vendor-Greeks path, which replaces delta/gamma after evaluation)."""
    for k in range(rows.shape[0]):
        _set_exposures(rows[k], F, spot, mult)


@kernel
def quote_deltas(is_call, group, F, status, G, spot, mult, rows, bid, ask):
    """Delta of each contract ``rows[k]`` were it quoted ``bid[k]`` / ``ask[k]``, under the
    book's settlement groups ``G`` and ``spot`` as they stand; NaN where that quote gives
    no IV (status not OK). The book is not changed: each contract is evaluated by
    ``_eval_contract`` on a scratch copy of its column (IV warm-started from the book's,
    which lands on the same root as a cold start to the solver's 1e-13). A contract whose
    book quote is that quote already has that evaluation: its delta is read, not solved
    again (most prints). The hedge tape values each print at the quote in force at the
    print (``monitor.tape``)."""
    n = rows.shape[0]
    out = np.empty(n)
    col = np.empty((F.shape[0], 1))
    code = np.zeros(1, dtype=status.dtype)
    for k in range(n):
        r = rows[k]
        if F[BID, r] == bid[k] and F[ASK, r] == ask[k]:
            out[k] = F[DELTA, r] if status[r] == st.OK else np.nan
            continue
        for f in range(F.shape[0]):
            col[f, 0] = F[f, r]
        col[BID, 0] = bid[k]
        col[ASK, 0] = ask[k]
        _eval_contract(0, is_call[r:r + 1], group[r:r + 1], col, code, G, spot, mult, 1)
        out[k] = col[DELTA, 0] if code[0] == st.OK else np.nan
    return out
