"""Screening a block of option quotes before they reach the book (pure, numba): the
vectorized twin of the per-tick checks in ``monitor.pipeline`` for quotes that arrive as
fixed-width records (``monitor.wire.records``).

Codes per quote (``out[k]``), in the order they are checked:
``APPLY`` 0, ``UNKNOWN`` 1 (row < 0: symbol not in the book), ``NAN`` 2 (bid or ask not
finite), ``NEGATIVE`` 3 (bid or ask < 0), ``CROSSED`` 4 (bid > ask), ``FUTURE`` 6 (``ts_ns``
after ``max_ts``: the wall clock plus the allowed skew), ``STALE`` 5 (older than the
contract's last applied ``ts_ns``). Accepted quotes advance ``last_ts[row]`` in order,
so a later quote of the same contract in the block is checked against an earlier one.
"""

import numpy as np

from monitor.core.jit import kernel
from monitor.core.symbol_index import WIDTH, find

APPLY, UNKNOWN, NAN, NEGATIVE, CROSSED, STALE, FUTURE = 0, 1, 2, 3, 4, 5, 6
REASONS = {UNKNOWN: "unknown_symbol", NAN: "nan", NEGATIVE: "negative_price",
           CROSSED: "crossed", FUTURE: "future_ts"}


@kernel(inline="always")
def _screen(r, t, b, a, last_ts, max_ts):
    if r < 0:
        return UNKNOWN
    if not (b - b == 0.0) or not (a - a == 0.0):  # NaN or +-inf
        return NAN
    if b < 0.0 or a < 0.0:
        return NEGATIVE
    if b > a:
        return CROSSED
    if t > max_ts:
        return FUTURE
    if t < last_ts[r]:
        return STALE
    last_ts[r] = t
    return APPLY


@kernel
def screen_records(symbols, ts, bid, ask, keys, table, last_ts, rows, out, max_ts):
    """Look up and screen in one pass: ``rows[k]`` = index of ``symbols[k]``
    (``uint8[m, WIDTH]``) in a :class:`monitor.core.symbol_index.SymbolIndex` (``keys``,
    ``table``) or -1, ``out[k]`` its code, ``last_ts`` indexed like the keys, ``max_ts``
    the latest acceptable ``ts_ns``. Returns the number accepted."""
    buf = np.empty(WIDTH, dtype=np.uint8)
    accepted = 0
    for k in range(symbols.shape[0]):
        r = find(symbols[k], keys, table, buf)
        rows[k] = r
        out[k] = _screen(r, ts[k], bid[k], ask[k], last_ts, max_ts)
        accepted += out[k] == APPLY
    return accepted
