"""The dealers' hedge trades of classified customer prints, summed (pure, numba): the
hedge-pressure tape's inner loop (``monitor.tape``, REFERENCE.md "Hedge pressure").

A print of ``q`` customer contracts (+ bought) on contract ``r`` at delta ``d`` (the
contract's at the quote in force at the print) makes the dealers trade ``q * M * d`` units
of the underlying (+ = they buy).
"""

import numpy as np

from monitor.core.jit import kernel


@kernel
def add_prints(rows, q, contracts, delta, slot, multiplier):
    """Add prints (``rows``, ``q``, each at its own ``delta``) in order: ``contracts[r] +=
    q`` for each, and per ``slot[r]`` (0..5) the sum of the hedges in units; a print without
    a finite delta adds no hedge. Returns ``(units per slot, prints hedged, prints without a delta)``."""
    by_slot = np.zeros(6)
    hedged = 0
    no_delta = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        contracts[r] += q[i]
        units = q[i] * multiplier * delta[i]
        if units - units == 0.0:
            by_slot[slot[r]] += units
            hedged += 1
        else:
            no_delta += 1
    return by_slot, hedged, no_delta
