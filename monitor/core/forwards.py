"""Parity-implied forward per settlement group (REFERENCE.md, Pricing model).

For each group, among strikes with both a call and a put quoted (bid > 0, bid <= ask),
take the ``n_pairs`` strikes where ``|C_mid - P_mid|`` is smallest (nearest the money)
and use the median of ``K + (C_mid - P_mid) / df`` with ``df = exp(-r T)``. Groups
without a usable pair fall back to ``S exp((r - q) T)``.

The book keeps contracts sorted by (group, strike, call flag), so a put and its call
sit next to each other: one linear pass finds the pairs.
"""

import math

import numpy as np

from monitor.core.jit import kernel


@kernel
def parity_forwards(strike, is_call, group, bid, ask, group_T, group_df, spot, r, q, n_pairs,
                     out_fwd, out_from_parity):
    """Fill ``out_fwd[m]`` (index points) and ``out_from_parity[m]`` (bool) for every group."""
    n = strike.shape[0]
    m = group_T.shape[0]
    for j in range(m):
        out_fwd[j] = spot * math.exp((r - q) * max(group_T[j], 0.0))
        out_from_parity[j] = False
    start = 0
    while start < n:
        j = group[start]
        end = start
        while end < n and group[end] == j:
            end += 1
        diffs = np.empty(end - start)
        fwds = np.empty(end - start)
        cnt = 0
        df = group_df[j]
        for i in range(start, end - 1):
            # puts sort before calls at the same strike
            if (not is_call[i]) and is_call[i + 1] and strike[i] == strike[i + 1]:
                pb, pa, cb, ca = bid[i], ask[i], bid[i + 1], ask[i + 1]
                if pb > 0.0 and cb > 0.0 and pa >= pb and ca >= cb:
                    cp = 0.5 * (cb + ca) - 0.5 * (pb + pa)
                    diffs[cnt] = abs(cp)
                    fwds[cnt] = strike[i] + cp / df
                    cnt += 1
        if cnt > 0 and group_T[j] > 0.0:
            order = np.argsort(diffs[:cnt])
            take = min(n_pairs, cnt)
            out_fwd[j] = np.median(fwds[:cnt][order[:take]])
            out_from_parity[j] = True
        start = end
