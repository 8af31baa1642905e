"""Screening option quotes and trades before they reach the book (pure, numba): the
vectorized twin of the per-tick checks in ``monitor.ingest`` for a batch read into
columns (:mod:`monitor.wire.columns`, every encoding).

Codes per tick (``out[k]``), in the order they are checked:
``APPLY`` 0, ``UNKNOWN`` 1 (symbol not in the book), ``NAN`` 2 (a price or size not
finite), ``NEGATIVE`` 3 (bid or ask < 0; a trade's price < 0 or size <= 0), ``CROSSED`` 4
(bid > ask), ``ABSURD_SIZE`` 9 (a trade larger than any believable one), ``ABSURD`` 7
(ask or trade price above the contract's ``max_px``: a multiple of its strike and the spot
no option can be worth), ``FUTURE`` 6 (``ts_ns`` after the wall-clock limit), ``PAST`` 8
(before its underlying's event clock minus the allowed past), ``STALE`` 5 (a quote older
than the contract's last applied ``ts_ns``; a trade older than its last applied print),
``DUPLICATE`` 10 (a trade at its contract's last applied print's ``ts_ns``: the same
print again, a redelivery or a producer's retry). A tick beyond its underlying's event clock
plus the allowed skew stops the scan (the per-tick path counts it as a vote for a clock
jump). Accepted quotes advance ``last_ts[row]`` and the event clock in order, so a later
tick of the batch is checked against them.
"""

import numpy as np

from monitor.core.jit import kernel
from monitor.core.kinds import QUOTE, TRADE
from monitor.core.layout import (
    C_LAST_PRINT,
    C_LAST_PX,
    C_LAST_TS,
    C_MAX_PX,
    C_PEND_ASK,
    C_PEND_BID,
    C_PEND_MARK,
    U_BAND_PCT,
    U_CLOCK,
    U_DUE,
    U_EVAL_SPOT,
    U_MAX_SIZE,
    U_PAST,
    U_PY_TRADES,
    U_SKEW,
    U_SPOT_HI,
    U_SPOT_LO,
    U_SPOT_N,
    U_SPOT_REF,
    U_SPOT_TS,
    U_TAPE_HI,
    U_TAPE_LO,
)
from monitor.core.symbol_index import find

APPLY, UNKNOWN, NAN, NEGATIVE, CROSSED, STALE, FUTURE, ABSURD, PAST = 0, 1, 2, 3, 4, 5, 6, 7, 8
REASONS = {UNKNOWN: "unknown_symbol", NAN: "nan", NEGATIVE: "negative_price",
           CROSSED: "crossed", FUTURE: "future_ts", ABSURD: "absurd_price",
           PAST: "past_ts"}


# -- a mixed batch of quotes and trades in arrival order (monitor.wire.columns) ----------

ABSURD_SIZE = 9
REASONS[ABSURD_SIZE] = "absurd_size"
DUPLICATE = 10


@kernel
def lookup_symbols(symbols, kind, table, rows):
    """``rows[k]``: index of ``symbols[k]`` in the :class:`SymbolIndex` for the quote and
    trade rows of a :mod:`monitor.wire.columns` batch (-1: unknown, or another kind)."""
    for k in range(symbols.shape[0]):
        rows[k] = find(symbols[k], table) if kind[k] <= TRADE else -1


@kernel(inline="always")
def classify(price, bid, ask, last_price):
    """+1 customer buy, -1 customer sell, 0 unclassified (``monitor.ingest.classify_print``
    with ``last_price`` NaN for no earlier print)."""
    if not (bid == bid and ask == ask) or ask <= 0.0 or bid > ask:
        return 0
    if price >= ask:
        return 1
    if price <= bid:
        return -1
    mid = 0.5 * (bid + ask)
    if price > mid:
        return 1
    if price < mid:
        return -1
    if not (last_price == last_price) or price == last_price:
        return 0
    return 1 if price > last_price else -1


@kernel
def scan_ticks(kind, ts, x0, x1, rows, out, side, book_bid, book_ask, spot_of, spot_px,
               start, serial, ts_limit, reeval_frac, state_of, ui, uf, ci, cf):
    """Screen and apply, in order from ``start``, the quotes and trades of a columns batch
    (``rows`` from :func:`lookup_symbols`) as the pipeline's per-tick path does, and stop
    at the first row that path must take (returned; ``len(kind)`` when none is left): a
    row of another kind, a tick beyond its underlying's clock skew (a vote for a clock
    jump), a trade of an underlying whose prints re-weight the book (``py_trades[u]``) or
    outside its tape's session ``[tape_lo[u], tape_hi[u])``. A stopping row is left
    untouched.

    The state is packed by kind and dtype (:mod:`monitor.core.layout`): per underlying
    ``ui`` (int64) and ``uf`` (float64), per contract ``ci`` and ``cf``; each name below is
    the row of that name (``clock`` = ``ui[U_CLOCK]``, ``max_px`` = ``cf[C_MAX_PX]``...).
    Per underlying ``u`` (``state_of[row]``): ``clock`` its event clock (advanced by
    accepted quotes), ``skew`` / ``past`` the allowed distance after / before it in ns (0:
    none), ``max_size`` the largest believable trade; ``ts_limit`` the wall-clock limit.
    ``out[k]``: the code (``APPLY`` or a reason). An accepted quote advances ``last_ts``
    and becomes the quote in force of its row (``pend_*``, marked with this batch's
    ``serial``); a trade is accepted only after its row's last print (``last_print``, its
    ``ts_ns``; -1: none), which it then advances, and is classified against the quote in
    force (else the book's, ``book_bid[k]`` / ``book_ask[k]``) and the row's previous print
    (``last_px``, NaN: none): ``side[k]`` = +1 customer buy / -1 sell / 0 unclassified;
    ``book_bid[k]`` / ``book_ask[k]`` then hold the quote in force it was classified against.

    Underlying ticks (rows of another kind with ``spot_of[k]`` >= 0, the underlying, and
    ``spot_px[k]`` the price the per-tick path takes: last, else the midpoint) are applied
    here only when that path would apply them without a word: the price finite and
    positive, the time inside the limits and not before the underlying's last spot
    (``spot_ts[u]``), the move from the last spot (``spot_ref[u]``) inside the band
    (``band_pct[u]``, in %), the price inside the believable spots ``spot_lo[u] ..
    spot_hi[u]`` (``bounds.max_spot_x``), and no whole-chain refresh to start (a move of
    ``reeval_frac`` or more from the spot of the last refresh ``eval_spot[u]``, or an
    event clock at or past ``due_ns[u]``: ``monitor.ingest``). Such a
    tick advances ``spot_ts``, the event clock and ``spot_ref`` (the pending spot) and
    is counted in ``spot_n[u]``; any other stops the scan. Any other row of another kind
    (``spot_of[k]`` -1) stops it."""
    clock, skew, past = ui[U_CLOCK], ui[U_SKEW], ui[U_PAST]
    tape_lo, tape_hi, spot_ts = ui[U_TAPE_LO], ui[U_TAPE_HI], ui[U_SPOT_TS]
    due_ns, spot_n, py_trades = ui[U_DUE], ui[U_SPOT_N], ui[U_PY_TRADES]
    max_size, spot_ref, eval_spot = uf[U_MAX_SIZE], uf[U_SPOT_REF], uf[U_EVAL_SPOT]
    band_pct, spot_lo, spot_hi = uf[U_BAND_PCT], uf[U_SPOT_LO], uf[U_SPOT_HI]
    last_ts, last_print, pend_mark = ci[C_LAST_TS], ci[C_LAST_PRINT], ci[C_PEND_MARK]
    max_px, pend_bid, pend_ask, last_px = cf[C_MAX_PX], cf[C_PEND_BID], cf[C_PEND_ASK], cf[C_LAST_PX]
    n = kind.shape[0]
    for k in range(start, n):
        kd = kind[k]
        if kd > TRADE:
            u = spot_of[k]
            if u < 0:
                return k
            px, t = spot_px[k], ts[k]
            if not (px - px == 0.0) or px <= 0.0 or t > ts_limit or t < spot_ts[u]:
                return k
            if skew[u] > 0 and t > clock[u] + skew[u]:
                return k
            if past[u] > 0 and t < clock[u] - past[u]:
                return k
            # (the same arithmetic as the per-tick path, so both decide alike)
            if (abs(px / spot_ref[u] - 1.0) * 100.0 > band_pct[u] or px < spot_lo[u]
                    or px > spot_hi[u]):
                return k
            if abs(px / eval_spot[u] - 1.0) >= reeval_frac or max(t, clock[u]) >= due_ns[u]:
                return k
            spot_ts[u] = t
            if t > clock[u]:
                clock[u] = t
            spot_ref[u] = px
            spot_n[u] += 1
            out[k] = APPLY
            continue
        r = rows[k]
        if r < 0:
            out[k] = UNKNOWN
            continue
        a, b = x0[k], x1[k]  # bid, ask / price, size
        if not (a - a == 0.0) or not (b - b == 0.0):
            out[k] = NAN
            continue
        u = state_of[r]
        if kd == QUOTE:
            if a < 0.0 or b < 0.0:
                out[k] = NEGATIVE
                continue
            if a > b:
                out[k] = CROSSED
                continue
            if b > max_px[r]:
                out[k] = ABSURD
                continue
        else:
            if a < 0.0 or b <= 0.0:
                out[k] = NEGATIVE
                continue
            if b > max_size[u]:
                out[k] = ABSURD_SIZE
                continue
            if a > max_px[r]:
                out[k] = ABSURD
                continue
        t = ts[k]
        if t > ts_limit:
            out[k] = FUTURE
            continue
        if skew[u] > 0 and t > clock[u] + skew[u]:
            return k
        if past[u] > 0 and t < clock[u] - past[u]:
            out[k] = PAST
            continue
        if kd == QUOTE:
            if t < last_ts[r]:
                out[k] = STALE
                continue
            last_ts[r] = t
            if t > clock[u]:
                clock[u] = t
            pend_bid[r] = a
            pend_ask[r] = b
            pend_mark[r] = serial
            out[k] = APPLY
            continue
        if t <= last_print[r]:
            out[k] = STALE if t < last_print[r] else DUPLICATE
            continue
        if py_trades[u] != 0 or t < tape_lo[u] or t >= tape_hi[u]:
            return k
        last_print[r] = t
        if pend_mark[r] == serial:
            book_bid[k] = pend_bid[r]
            book_ask[k] = pend_ask[r]
        side[k] = classify(a, book_bid[k], book_ask[k], last_px[r])
        last_px[r] = a
        out[k] = APPLY
    return n


@kernel
def trade_sums(tk, g, g_state, g_is_call, side, ts, size, n_states):
    """Per underlying, the accepted prints ``tk`` of a scanned batch (``g``: their global
    contract indices, ``side``: the scan's classification): ``(prints, classified, latest
    ts_ns, customer puts bought)``, the last in contracts (+ bought, - sold; summed in
    arrival order, as the per-tick path adds them). One pass for every underlying: the
    same counts in numpy took a dozen calls per batch."""
    n = np.zeros(n_states, dtype=np.int64)
    hits = np.zeros(n_states, dtype=np.int64)
    last = np.full(n_states, np.iinfo(np.int64).min, dtype=np.int64)
    puts = np.zeros(n_states)
    for j in range(tk.shape[0]):
        k = tk[j]
        c = g[k]
        u = g_state[c]
        n[u] += 1
        if ts[k] > last[u]:
            last[u] = ts[k]
        if side[k] != 0:
            hits[u] += 1
            if not g_is_call[c]:
                puts[u] += side[k] * size[k]
    return n, hits, last, puts
