"""Screening a block of option quotes before they reach the book (pure, numba): the
vectorized twin of the per-tick checks in ``monitor.pipeline`` for quotes that arrive as
fixed-width records (``monitor.wire.records``).

Codes per quote (``out[k]``), in the order they are checked:
``APPLY`` 0, ``UNKNOWN`` 1 (row < 0: symbol not in the book), ``NAN`` 2 (bid or ask not
finite), ``NEGATIVE`` 3 (bid or ask < 0), ``CROSSED`` 4 (bid > ask), ``ABSURD`` 7 (ask
above the contract's ``max_px``: a multiple of its strike and the spot no option can be
worth), ``FUTURE`` 6 (``ts_ns`` after its underlying's ``ts_hi``: the wall clock or the
underlying's event clock plus the allowed skew), ``PAST`` 8 (before its underlying's
``ts_lo``), ``STALE`` 5 (older than the contract's last applied ``ts_ns``). Accepted quotes
advance ``last_ts[row]`` in order, so a later quote of the same contract in the block is
checked against an earlier one.
"""

import numpy as np

from monitor.core.jit import kernel
from monitor.core.symbol_index import WIDTH, find

APPLY, UNKNOWN, NAN, NEGATIVE, CROSSED, STALE, FUTURE, ABSURD, PAST = 0, 1, 2, 3, 4, 5, 6, 7, 8
REASONS = {UNKNOWN: "unknown_symbol", NAN: "nan", NEGATIVE: "negative_price",
           CROSSED: "crossed", FUTURE: "future_ts", ABSURD: "absurd_price",
           PAST: "past_ts"}


@kernel(inline="always")
def _screen(r, t, b, a, last_ts, max_px, state_of, ts_lo, ts_hi):
    if r < 0:
        return UNKNOWN
    if not (b - b == 0.0) or not (a - a == 0.0):  # NaN or +-inf
        return NAN
    if b < 0.0 or a < 0.0:
        return NEGATIVE
    if b > a:
        return CROSSED
    if a > max_px[r]:
        return ABSURD
    u = state_of[r]
    if t > ts_hi[u]:
        return FUTURE
    if t < ts_lo[u]:
        return PAST
    if t < last_ts[r]:
        return STALE
    last_ts[r] = t
    return APPLY


@kernel
def screen_records(symbols, ts, bid, ask, keys, table, last_ts, rows, out, max_px,
                   state_of, ts_lo, ts_hi):
    """Look up and screen in one pass: ``rows[k]`` = index of ``symbols[k]``
    (``uint8[m, WIDTH]``) in a :class:`monitor.core.symbol_index.SymbolIndex` (``keys``,
    ``table``) or -1, ``out[k]`` its code. Indexed like the keys: ``last_ts``, ``max_px``
    (the highest believable ask) and ``state_of`` (the contract's underlying, which
    indexes ``ts_lo`` / ``ts_hi``: its acceptable ``ts_ns`` range). Returns the number
    accepted."""
    buf = np.empty(WIDTH, dtype=np.uint8)
    accepted = 0
    for k in range(symbols.shape[0]):
        r = find(symbols[k], keys, table, buf)
        rows[k] = r
        out[k] = _screen(r, ts[k], bid[k], ask[k], last_ts, max_px, state_of, ts_lo, ts_hi)
        accepted += out[k] == APPLY
    return accepted
