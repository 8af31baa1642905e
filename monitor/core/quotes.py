"""Screening a block of option quotes before they reach the book (pure, numba): the
vectorized twin of the per-tick checks in ``monitor.pipeline`` for quotes that arrive as
fixed-width records (``monitor.wire.records``).

Codes per quote (``out[k]``), in the order they are checked:
``APPLY`` 0, ``UNKNOWN`` 1 (row < 0: symbol not in the book), ``NAN`` 2 (bid or ask not
finite), ``NEGATIVE`` 3 (bid or ask < 0), ``CROSSED`` 4 (bid > ask), ``STALE`` 5 (older than
the contract's last applied ``ts_ns``). Accepted quotes advance ``last_ts[row]`` in order,
so a later quote of the same contract in the block is checked against an earlier one.
"""

from monitor.core.jit import kernel

APPLY, UNKNOWN, NAN, NEGATIVE, CROSSED, STALE = 0, 1, 2, 3, 4, 5
REASONS = {UNKNOWN: "unknown_symbol", NAN: "nan", NEGATIVE: "negative_price",
           CROSSED: "crossed"}


@kernel
def screen_quotes(rows, ts, bid, ask, last_ts, out):
    """Fill ``out`` with a code per quote (see the module docstring); returns the number
    accepted."""
    accepted = 0
    for k in range(rows.shape[0]):
        r = rows[k]
        b = bid[k]
        a = ask[k]
        if r < 0:
            out[k] = UNKNOWN
        elif not (b - b == 0.0) or not (a - a == 0.0):  # NaN or +-inf
            out[k] = NAN
        elif b < 0.0 or a < 0.0:
            out[k] = NEGATIVE
        elif b > a:
            out[k] = CROSSED
        elif ts[k] < last_ts[r]:
            out[k] = STALE
        else:
            last_ts[r] = ts[k]
            out[k] = APPLY
            accepted += 1
    return accepted
