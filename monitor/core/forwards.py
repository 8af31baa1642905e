"""Parity-implied discount factor and forward per settlement group (REFERENCE.md, Pricing
model; Quotes and the surface).

Discount factor: put-call parity ``C - P = df (F - K)`` is a line in ``K`` with slope
``-df``. For each group at least ``DF_MIN_T_YEARS`` out, the pairs quoted on both sides
with strikes within ``DF_STRIKE_BAND`` of spot (at least ``DF_MIN_PAIRS``) give ``df`` by
a regression of ``C_mid - P_mid`` on ``K``, weighted by the inverse of the pair's summed
bid-ask spread (the wide, noisy pairs count less). It is kept when the implied rate
``-ln(df) / T`` lies within ``DF_RATE_BOUNDS``; otherwise, and for nearer groups (where
``df`` is within a few 1e-4 of 1 and the slope is noise), ``df = exp(-r T)`` with the
configured rate. ``out_df_from_parity`` says which.

Exercise style: parity holds for European options only. For American ones (equities,
ETFs) early exercise breaks it, and the regression gives rates far from the policy rate
(QQQ: -0.8 % to +2.0 % for expiries of 238 days and more, inside the band), so the book of
an American-style underlying never estimates ``df`` here (``estimate_df`` False): its
groups keep the configured rates (``pricing.rates`` by tenor).

Forward: among the pairs, take the ``n_pairs`` strikes where ``|C_mid - P_mid|`` is
smallest (nearest the money) and use the median of ``K + (C_mid - P_mid) / df``; ties in
``|C_mid - P_mid|`` go to the strike nearer spot, then to the lower strike, so the forward
does not depend on how a sort happens to order equal keys. Groups without a usable pair
fall back to ``S exp((r_j - q) T)`` with the group's rate ``r_j``.

The book keeps contracts sorted by (group, strike, call flag), so a put and its call
sit next to each other: one linear pass finds the pairs.
"""

import math

import numpy as np

from monitor.core.jit import kernel

DF_MIN_T_YEARS = 14.0 / 365.0
DF_STRIKE_BAND = 0.10  # |K / S - 1| of the pairs in the regression
DF_MIN_PAIRS = 8
DF_RATE_BOUNDS = (-0.01, 0.15)  # implied rates outside this band are not believed


@kernel
def parity_forwards(strike, is_call, group, bid, ask, group_T, group_df, spot, group_r, q,
                     n_pairs, out_fwd, out_from_parity, out_df_from_parity, estimate_df):
    """Fill ``out_fwd[m]`` (index points), ``out_from_parity[m]`` (bool), ``group_df[m]``
    (the discount factor, in place: parity or as given) and ``out_df_from_parity[m]``
    for every group. ``group_r[m]``: each group's rate for the fallback forward.
    ``estimate_df`` False: keep ``group_df`` as given (the rates estimated earlier, or
    configured: American exercise) and estimate the forwards only."""
    n = strike.shape[0]
    m = group_T.shape[0]
    for j in range(m):
        out_fwd[j] = spot * math.exp((group_r[j] - q) * max(group_T[j], 0.0))
        out_from_parity[j] = False
        if estimate_df:
            out_df_from_parity[j] = False
    start = 0
    while start < n:
        j = group[start]
        end = start
        while end < n and group[end] == j:
            end += 1
        diffs = np.empty(end - start)
        ks = np.empty(end - start)
        cps = np.empty(end - start)
        cnt = 0
        # weighted least squares of cp on K over the band: sums for the 2x2 normal equations
        sw = swk = swkk = swy = swky = 0.0
        n_band = 0
        T = group_T[j]
        for i in range(start, end - 1):
            # puts sort before calls at the same strike
            if (not is_call[i]) and is_call[i + 1] and strike[i] == strike[i + 1]:
                pb, pa, cb, ca = bid[i], ask[i], bid[i + 1], ask[i + 1]
                if pb > 0.0 and cb > 0.0 and pa >= pb and ca >= cb:
                    cp = 0.5 * (cb + ca) - 0.5 * (pb + pa)
                    diffs[cnt] = abs(cp)
                    ks[cnt] = strike[i]
                    cps[cnt] = cp
                    cnt += 1
                    k = strike[i]
                    if estimate_df and abs(k / spot - 1.0) < DF_STRIKE_BAND:
                        w = 1.0 / max((pa - pb) + (ca - cb), 1e-3)
                        sw += w
                        swk += w * k
                        swkk += w * k * k
                        swy += w * cp
                        swky += w * k * cp
                        n_band += 1
        if estimate_df and T >= DF_MIN_T_YEARS and n_band >= DF_MIN_PAIRS:
            den = sw * swkk - swk * swk
            if den > 0.0:
                df_fit = -(sw * swky - swk * swy) / den
                if df_fit > 0.0:
                    rate = -math.log(df_fit) / T
                    if DF_RATE_BOUNDS[0] <= rate <= DF_RATE_BOUNDS[1]:
                        group_df[j] = df_fit
                        out_df_from_parity[j] = True
        df = group_df[j]
        if cnt > 0 and group_T[j] > 0.0:
            # the pairs come in increasing strike; two stable sorts: |C - P|, ties by the
            # distance to spot, then by strike
            near = np.argsort(np.abs(ks[:cnt] - spot), kind="mergesort")
            order = near[np.argsort(diffs[:cnt][near], kind="mergesort")]
            take = min(n_pairs, cnt)
            sel = order[:take]
            out_fwd[j] = np.median(ks[:cnt][sel] + cps[:cnt][sel] / df)
            out_from_parity[j] = True
        start = end
