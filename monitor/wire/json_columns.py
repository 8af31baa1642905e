"""The ``json`` encoding read straight into columns: one numba pass over a message's bytes
fills a :class:`monitor.wire.columns.TickColumns` (no Python object per quote or trade),
for the consumer's hot path.

It reads only what it can read exactly as msgspec would (:mod:`monitor.wire.codec`): an
array of objects where each quote or trade has its ``type`` tag, an integer ``ts_ns`` in
``[0, 2**63)``, a plain string ``symbol`` (no escapes) and numbers or ``null`` (NaN) in
the float fields, each key once and no other keys. Numbers are read exactly, as msgspec's
correctly rounded reader reads them (:func:`monitor.wire.numbers.decimal_to_double`), up
to 19 significant digits; a longer one, or a subnormal or overflowing one, gives up. A
quote or trade whose symbol is not an OCC-sized ASCII string, a trade with sale
conditions, an object this reader gives up on, and every other tick kind are rows of
kind ``OTHER``, their bytes decoded one by one with msgspec. Anything else (a single
object, a bad value, trailing bytes) makes :func:`decode_columns` return None, and the
caller decodes the message with msgspec, which says exactly what is wrong.
"""

from __future__ import annotations

import numpy as np

from monitor.core.jit import kernel
from monitor.wire.columns import OTHER, QUOTE, TRADE, WIDTH, TickColumns, read
from monitor.wire.numbers import decimal_to_double

# keys, as bytes: bit of each in the "seen" mask
_KEYS = ("type", "ts_ns", "symbol", "bid", "ask", "bid_size", "ask_size", "price", "size",
         "conditions")
_KEY_BYTES = np.zeros((len(_KEYS), 10), dtype=np.uint8)
for _i, _k in enumerate(_KEYS):
    _KEY_BYTES[_i, :len(_k)] = np.frombuffer(_k.encode(), dtype=np.uint8)
K_TYPE, K_TS, K_SYMBOL, K_BID, K_ASK, K_BID_SIZE, K_ASK_SIZE, K_PRICE, K_SIZE, K_COND = range(10)


@kernel
def _ws(buf, pos):
    n = len(buf)
    while pos < n and (buf[pos] == 32 or buf[pos] == 10 or buf[pos] == 13 or buf[pos] == 9):
        pos += 1
    return pos


@kernel
def _string(buf, pos):
    """(start, length) of a string without escapes at ``pos`` (its opening quote); length
    -1: not one (or it has an escape, or a control character)."""
    if pos >= len(buf) or buf[pos] != 34:
        return pos, -1
    j = pos + 1
    while j < len(buf):
        c = buf[j]
        if c == 34:
            return pos + 1, j - pos - 1
        if c == 92 or c < 32:
            return pos, -1
        j += 1
    return pos, -1


@kernel
def _digits(buf, j, m, digits):
    """Read the decimal digits at ``j`` into the mantissa ``m`` (uint64): ``(position
    after them, m, significant digits so far, digits read)``; stops after a 20th
    significant digit (more than :func:`decimal_to_double` takes)."""
    n = len(buf)
    read = 0
    while j < n and 48 <= buf[j] <= 57:
        if digits > 0 or buf[j] != 48:
            digits += 1
        if digits > 19:
            break
        m = m * np.uint64(10) + np.uint64(buf[j] - 48)
        j += 1
        read += 1
    return j, m, digits, read


@kernel
def _number(buf, pos, integer):
    """(value, next position, ok, int value) of a JSON number at ``pos`` read exactly (see
    the module docstring), or of ``null`` (NaN, when not ``integer``); ``integer``: an
    integer literal in ``[0, 2**63)`` only."""
    n = len(buf)
    if pos + 4 <= n and buf[pos] == 110 and buf[pos + 1] == 117 and buf[pos + 2] == 108 \
            and buf[pos + 3] == 108:
        return np.nan, pos + 4, not integer, 0
    neg = False
    j = pos
    if j < n and buf[j] == 45:
        neg = True
        j += 1
    if j >= n or not (48 <= buf[j] <= 57):
        return 0.0, pos, False, 0
    if buf[j] == 48 and j + 1 < n and 48 <= buf[j + 1] <= 57:
        return 0.0, pos, False, 0  # a leading zero is not JSON
    j, m, digits, _ = _digits(buf, j, np.uint64(0), 0)
    if digits > 19:
        return 0.0, pos, False, 0
    exp10 = 0
    frac = False
    if j < n and buf[j] == 46:
        frac = True
        j += 1
        if j >= n or not (48 <= buf[j] <= 57):
            return 0.0, pos, False, 0
        j, m, digits, read = _digits(buf, j, m, digits)
        if digits > 19:
            return 0.0, pos, False, 0
        exp10 = -read
    has_exp = False
    if j < n and (buf[j] == 101 or buf[j] == 69):
        has_exp = True
        j += 1
        eneg = False
        if j < n and (buf[j] == 43 or buf[j] == 45):
            eneg = buf[j] == 45
            j += 1
        if j >= n or not (48 <= buf[j] <= 57):
            return 0.0, pos, False, 0
        e = 0
        while j < n and 48 <= buf[j] <= 57:
            e = e * 10 + (buf[j] - 48)
            if e > 400:
                return 0.0, pos, False, 0
            j += 1
        exp10 += -e if eneg else e
    if integer:
        if neg or frac or has_exp or m >= np.uint64(9223372036854775808):
            return 0.0, pos, False, 0
        return 0.0, j, True, np.int64(m)
    good, v = decimal_to_double(m, exp10)
    if not good:
        return 0.0, pos, False, 0
    return (-v if neg else v), j, True, 0


@kernel
def _skip(buf, pos):
    """Position after the JSON value at ``pos`` (nested ones included; strings may hold
    escapes); -1 when the bytes end first."""
    n = len(buf)
    depth = 0
    j = pos
    while j < n:
        c = buf[j]
        if c == 34:
            j += 1
            while j < n and buf[j] != 34:
                j += 2 if buf[j] == 92 else 1
            if j >= n:
                return -1
            j += 1
            if depth == 0:
                return j
            continue
        if c == 123 or c == 91:
            depth += 1
        elif c == 125 or c == 93:
            depth -= 1
            if depth == 0:
                return j + 1
            if depth < 0:
                return -1
        elif depth == 0 and (c == 44 or c == 32 or c == 10 or c == 13 or c == 9):
            return j  # the end of a scalar
        j += 1
    return j if depth == 0 else -1


@kernel
def _key(buf, s, ls, key_bytes):
    """Index in :data:`_KEYS` of the key ``buf[s:s + ls]``, or -1."""
    if ls < 3 or ls > 10:
        return -1
    c = buf[s]  # the candidates of this length and first letter, then one comparison
    if ls == 3:
        k = K_BID if c == 98 else K_ASK if c == 97 else -1
    elif ls == 4:
        k = K_TYPE if c == 116 else K_SIZE if c == 115 else -1
    elif ls == 5:
        k = K_TS if c == 116 else K_PRICE if c == 112 else -1
    elif ls == 6:
        k = K_SYMBOL
    elif ls == 8:
        k = K_BID_SIZE if c == 98 else K_ASK_SIZE if c == 97 else -1
    elif ls == 10:
        k = K_COND
    else:
        k = -1
    if k < 0:
        return -1
    for j in range(1, ls):
        if buf[s + j] != key_bytes[k, j]:
            return -1
    return k


@kernel
def parse_ticks(buf, key_bytes):
    """Columns of a ``json`` message (module docstring): ``(ok, kind, ts_ns, symbol, x0,
    x1, x2, x3, start, end)``, ``start``/``end`` the bytes of each ``OTHER`` row."""
    nbuf = len(buf)
    pos = _ws(buf, 0)
    # an upper bound of the elements: the commas at any depth, plus one
    cap = 1
    for j in range(pos, nbuf):
        if buf[j] == 44:
            cap += 1
    kind = np.full(cap, OTHER, dtype=np.int8)
    ts = np.zeros(cap, dtype=np.int64)
    sym = np.zeros((cap, WIDTH), dtype=np.uint8)
    x0 = np.zeros(cap)
    x1 = np.zeros(cap)
    x2 = np.zeros(cap)
    x3 = np.zeros(cap)
    start = np.zeros(cap, dtype=np.int64)
    end = np.zeros(cap, dtype=np.int64)
    vals = np.zeros(10)
    if pos >= nbuf or buf[pos] != 91:
        return False, 0, kind, ts, sym, x0, x1, x2, x3, start, end
    pos = _ws(buf, pos + 1)
    k = 0
    if pos < nbuf and buf[pos] == 93:
        return _ws(buf, pos + 1) == nbuf, 0, kind, ts, sym, x0, x1, x2, x3, start, end
    while True:
        if pos >= nbuf or k >= cap:
            return False, k, kind, ts, sym, x0, x1, x2, x3, start, end
        row_ok = False
        if buf[pos] == 123:  # an object: read it if it is a plain quote or trade
            row_ok, t, s0, ls, nxt = _read_object(buf, pos, key_bytes, vals)
            if row_ok:
                kind[k] = QUOTE if vals[K_TYPE] == 1.0 else TRADE
                ts[k] = t
                for j in range(ls):
                    sym[k, j] = buf[s0 + j]
                if kind[k] == QUOTE:
                    x0[k], x1[k], x2[k], x3[k] = vals[K_BID], vals[K_ASK], vals[K_BID_SIZE], \
                        vals[K_ASK_SIZE]
                else:
                    x0[k], x1[k] = vals[K_PRICE], vals[K_SIZE]
        if not row_ok:  # its bytes, for msgspec
            nxt = _skip(buf, pos)
            if nxt < 0:
                return False, k, kind, ts, sym, x0, x1, x2, x3, start, end
            start[k], end[k] = pos, nxt
        k += 1
        pos = _ws(buf, nxt)
        if pos < nbuf and buf[pos] == 44:
            pos = _ws(buf, pos + 1)
            continue
        if pos < nbuf and buf[pos] == 93:
            return _ws(buf, pos + 1) == nbuf, k, kind, ts, sym, x0, x1, x2, x3, start, end
        return False, k, kind, ts, sym, x0, x1, x2, x3, start, end


@kernel
def _read_object(buf, pos, key_bytes, vals):
    """(plain, ts_ns, symbol start, symbol length, end) of the object at ``pos``: plain
    when it is a quote or trade this reader takes as a row of its own (``end``: the
    position after it); ``vals`` gets its floats and ``vals[K_TYPE]`` 1 (quote) or 2
    (trade)."""
    end = len(buf)
    seen = 0
    t = np.int64(0)
    s0 = 0
    ls = -1
    plain = True
    for j in range(10):
        vals[j] = 0.0
    p = _ws(buf, pos + 1)
    if p < end and buf[p] == 125:
        return False, t, s0, ls, 0
    while p < end:
        ks, kl = _string(buf, p)
        if kl < 0:
            return False, t, s0, ls, 0
        key = _key(buf, ks, kl, key_bytes)
        if key < 0 or (seen >> key) & 1:
            return False, t, s0, ls, 0  # an unknown or repeated key: msgspec decides
        seen |= 1 << key
        p = _ws(buf, ks + kl + 1)
        if p >= end or buf[p] != 58:
            return False, t, s0, ls, 0
        p = _ws(buf, p + 1)
        if key == K_TYPE:
            vs, vl = _string(buf, p)
            if vl != 5:
                return False, t, s0, ls, 0
            if buf[vs] == 113 and buf[vs + 1] == 117 and buf[vs + 2] == 111 \
                    and buf[vs + 3] == 116 and buf[vs + 4] == 101:
                vals[K_TYPE] = 1.0
            elif buf[vs] == 116 and buf[vs + 1] == 114 and buf[vs + 2] == 97 \
                    and buf[vs + 3] == 100 and buf[vs + 4] == 101:
                vals[K_TYPE] = 2.0
            else:
                return False, t, s0, ls, 0
            p = vs + vl + 1
        elif key == K_SYMBOL:
            s0, ls = _string(buf, p)
            if ls < 0:
                return False, t, s0, ls, 0
            if ls > WIDTH:
                plain = False
            for j in range(ls):
                if buf[s0 + j] >= 128 or buf[s0 + j] == 0:
                    plain = False
            p = s0 + ls + 1
        elif key == K_COND:
            cs, cl = _string(buf, p)
            if cl < 0:
                return False, t, s0, ls, 0
            if cl > 0:
                plain = False  # sale conditions: the object keeps them
            p = cs + cl + 1
        elif key == K_TS:
            v, p2, good, iv = _number(buf, p, True)
            if not good:
                return False, t, s0, ls, 0
            t = iv
            p = p2
        else:
            v, p2, good, iv = _number(buf, p, False)
            if not good:
                return False, t, s0, ls, 0
            vals[key] = v
            p = p2
        p = _ws(buf, p)
        if p < end and buf[p] == 44:
            p = _ws(buf, p + 1)
            continue
        if p < end and buf[p] == 125:
            break
        return False, t, s0, ls, 0
    if vals[K_TYPE] == 1.0:
        need = (1 << K_TYPE) | (1 << K_TS) | (1 << K_SYMBOL) | (1 << K_BID) | (1 << K_ASK)
        allowed = need | (1 << K_BID_SIZE) | (1 << K_ASK_SIZE)
    elif vals[K_TYPE] == 2.0:
        need = (1 << K_TYPE) | (1 << K_TS) | (1 << K_SYMBOL) | (1 << K_PRICE) | (1 << K_SIZE)
        allowed = need | (1 << K_COND)
    else:
        return False, t, s0, ls, 0
    if (seen & need) != need or (seen & ~allowed) != 0:
        return False, t, s0, ls, 0
    return plain, t, s0, ls, p + 1


def decode_columns(payload, decode_one) -> TickColumns | None:
    """A ``json`` message as columns, or None when only msgspec can say what it holds.
    ``decode_one(raw)``: an ``OTHER`` row's bytes to its tick (raises when malformed)."""
    ok, n, *parsed = parse_ticks(np.frombuffer(payload, dtype=np.uint8), _KEY_BYTES)
    return read(payload, [a[:n] for a in parsed], decode_one) if ok else None
