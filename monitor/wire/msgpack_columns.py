"""The ``binary`` (msgpack) encoding read straight into columns: one numba pass over a
message's bytes fills a :class:`monitor.wire.columns.TickColumns` (no Python object per
quote or trade), for the consumer's hot path.

It reads only what it can read exactly as msgspec would (:mod:`monitor.wire.codec`): an
array of tag-first tick arrays where each quote (5-7 items) and trade (5-6 items) has an
integer ``ts_ns`` in ``[0, 2**63)``, a string symbol, and numbers or nil (NaN) in the
float fields. A quote or trade whose symbol is not an OCC-sized ASCII string, a trade with
sale conditions, and every other tick kind are rows of kind ``OTHER``: their bytes are
decoded one by one with msgspec. Anything else in the message (a bad type, a wrong length,
trailing bytes) makes :func:`decode_columns` return None, and the caller decodes the
message with msgspec, which says exactly what is wrong.
"""

from __future__ import annotations

import numpy as np

from monitor.core.jit import kernel
from monitor.wire.columns import OTHER, QUOTE, TRADE, WIDTH, TickColumns, read
from monitor.wire.numbers import f32_of_bits, f64_of_bits


@kernel(inline="always")
def _be(buf, pos, n):
    """Big-endian unsigned integer of ``n`` bytes at ``pos``."""
    v = np.uint64(0)
    for j in range(n):
        v = (v << np.uint64(8)) | np.uint64(buf[pos + j])
    return v


@kernel
def _array_len(buf, pos):
    """(length, position after the header) of an array at ``pos``; length -1: none."""
    b = buf[pos]
    if 0x90 <= b <= 0x9F:
        return b & 0x0F, pos + 1
    if b == 0xDC and pos + 3 <= len(buf):
        return np.int64(_be(buf, pos + 1, 2)), pos + 3
    if b == 0xDD and pos + 5 <= len(buf):
        return np.int64(_be(buf, pos + 1, 4)), pos + 5
    return -1, pos


@kernel
def _str(buf, pos):
    """(start, length) of a string at ``pos``; length -1: not a string (or cut short)."""
    b = buf[pos]
    if 0xA0 <= b <= 0xBF:
        start, n = pos + 1, b & 0x1F
    elif b == 0xD9 and pos + 2 <= len(buf):
        start, n = pos + 2, np.int64(buf[pos + 1])
    elif b == 0xDA and pos + 3 <= len(buf):
        start, n = pos + 3, np.int64(_be(buf, pos + 1, 2))
    elif b == 0xDB and pos + 5 <= len(buf):
        start, n = pos + 5, np.int64(_be(buf, pos + 1, 4))
    else:
        return pos, -1
    if start + n > len(buf):
        return pos, -1
    return start, n


@kernel
def _uint(buf, pos):
    """(value, next position, ok) of a non-negative integer below 2**63 at ``pos``."""
    b = buf[pos]
    if b <= 0x7F:
        return np.int64(b), pos + 1, True
    size = 0
    signed = False
    if 0xCC <= b <= 0xCF:
        size = 1 << (b - 0xCC)
    elif 0xD0 <= b <= 0xD3:
        size = 1 << (b - 0xD0)
        signed = True
    if size == 0 or pos + 1 + size > len(buf):
        return np.int64(0), pos, False
    v = _be(buf, pos + 1, size)
    if signed and (v >> np.uint64(8 * size - 1)) & np.uint64(1):
        return np.int64(0), pos, False  # negative
    if v >> np.uint64(63):
        return np.int64(0), pos, False  # beyond int64
    return np.int64(v), pos + 1 + size, True


@kernel
def _number(buf, pos):
    """(value, next position, ok) of a float field: float64/32, an integer, nil = NaN."""
    b = buf[pos]
    if b == 0xCB and pos + 9 <= len(buf):
        return f64_of_bits(_be(buf, pos + 1, 8)), pos + 9, True
    if b == 0xCA and pos + 5 <= len(buf):
        return np.float64(f32_of_bits(np.uint32(_be(buf, pos + 1, 4)))), pos + 5, True
    if b == 0xC0:
        return np.nan, pos + 1, True
    if b <= 0x7F:
        return np.float64(b), pos + 1, True
    if b >= 0xE0:
        return np.float64(np.int64(b) - 256), pos + 1, True
    if 0xCC <= b <= 0xCF:
        size = 1 << (b - 0xCC)
        if pos + 1 + size > len(buf):
            return 0.0, pos, False
        return np.float64(_be(buf, pos + 1, size)), pos + 1 + size, True
    if 0xD0 <= b <= 0xD3:
        size = 1 << (b - 0xD0)
        if pos + 1 + size > len(buf):
            return 0.0, pos, False
        v = _be(buf, pos + 1, size)
        bits = 8 * size
        if bits < 64 and (v >> np.uint64(bits - 1)) & np.uint64(1):
            return np.float64(np.int64(v) - (np.int64(1) << bits)), pos + 1 + size, True
        return np.float64(np.int64(v)), pos + 1 + size, True
    return 0.0, pos, False


@kernel
def _skip(buf, pos):
    """Position after the one msgpack object at ``pos`` (nested ones included); -1 when
    the bytes end first or hold a reserved byte."""
    left = 1
    n = len(buf)
    while left > 0:
        if pos >= n:
            return -1
        b = buf[pos]
        left -= 1
        if b <= 0x7F or b >= 0xE0 or 0xC0 <= b <= 0xC3:
            pos += 1
        elif 0x80 <= b <= 0x8F:
            left += 2 * (b & 0x0F)
            pos += 1
        elif 0x90 <= b <= 0x9F:
            left += b & 0x0F
            pos += 1
        elif 0xA0 <= b <= 0xBF:
            pos += 1 + (b & 0x1F)
        elif b == 0xC4 or b == 0xD9:  # bin8, str8
            if pos + 2 > n:
                return -1
            pos += 2 + buf[pos + 1]
        elif b == 0xC5 or b == 0xDA:
            if pos + 3 > n:
                return -1
            pos += 3 + np.int64(_be(buf, pos + 1, 2))
        elif b == 0xC6 or b == 0xDB:
            if pos + 5 > n:
                return -1
            pos += 5 + np.int64(_be(buf, pos + 1, 4))
        elif b == 0xC7 or b == 0xC8 or b == 0xC9:  # ext 8/16/32
            size = 1 << (b - 0xC7)
            if pos + 1 + size > n:
                return -1
            pos += 2 + size + np.int64(_be(buf, pos + 1, size))
        elif b == 0xCA:
            pos += 5
        elif b == 0xCB:
            pos += 9
        elif 0xCC <= b <= 0xCF:
            pos += 1 + (1 << (b - 0xCC))
        elif 0xD0 <= b <= 0xD3:
            pos += 1 + (1 << (b - 0xD0))
        elif 0xD4 <= b <= 0xD8:  # fixext 1..16
            pos += 2 + (1 << (b - 0xD4))
        elif b == 0xDC or b == 0xDE:
            if pos + 3 > n:
                return -1
            m = np.int64(_be(buf, pos + 1, 2))
            left += m if b == 0xDC else 2 * m
            pos += 3
        elif b == 0xDD or b == 0xDF:
            if pos + 5 > n:
                return -1
            m = np.int64(_be(buf, pos + 1, 4))
            left += m if b == 0xDD else 2 * m
            pos += 5
        else:
            return -1
    return pos if pos <= n else -1


@kernel
def parse_ticks(buf):
    """Columns of a ``binary`` message (module docstring): ``(ok, kind, ts_ns, symbol,
    x0, x1, x2, x3, start, end)``, ``start``/``end`` the bytes of each ``OTHER`` row."""
    n, pos = _array_len(buf, 0) if len(buf) else (-1, 0)
    if n < 0 or n > len(buf):
        n = 0
        ok = False
    else:
        ok = True
    kind = np.full(n, OTHER, dtype=np.int8)
    ts = np.zeros(n, dtype=np.int64)
    sym = np.zeros((n, WIDTH), dtype=np.uint8)
    x0 = np.zeros(n)
    x1 = np.zeros(n)
    x2 = np.zeros(n)
    x3 = np.zeros(n)
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    for k in range(n):
        if not ok:
            break
        if pos >= len(buf):
            ok = False
            break
        start[k] = pos
        nxt = _skip(buf, pos)
        if nxt < 0:
            ok = False
            break
        end[k] = nxt
        m, p = _array_len(buf, pos)
        if m < 1:
            pos = nxt
            continue  # not a tick array: msgspec says what it is
        s0, ls = _str(buf, p)
        tag = 0  # 1 quote, 2 trade
        if ls == 5:
            if (buf[s0] == 113 and buf[s0 + 1] == 117 and buf[s0 + 2] == 111
                    and buf[s0 + 3] == 116 and buf[s0 + 4] == 101):  # "quote"
                tag = 1
            elif (buf[s0] == 116 and buf[s0 + 1] == 114 and buf[s0 + 2] == 97
                  and buf[s0 + 3] == 100 and buf[s0 + 4] == 101):  # "trade"
                tag = 2
        if tag == 0 or (tag == 1 and not 5 <= m <= 7) or (tag == 2 and not 5 <= m <= 6):
            pos = nxt
            continue
        p = s0 + ls
        t, p, good = _uint(buf, p)
        if not good:
            ok = False
            break
        s1, ls = _str(buf, p)
        if ls < 0:
            ok = False
            break
        plain = ls <= WIDTH
        for j in range(ls):
            c = buf[s1 + j]
            if c == 0 or c >= 128:
                plain = False
        p = s1 + ls
        a, p, g1 = _number(buf, p)
        b, p, g2 = _number(buf, p) if g1 else (0.0, p, False)
        if not g2:
            ok = False
            break
        c2 = 0.0
        c3 = 0.0
        if tag == 1:
            if m >= 6:
                c2, p, g1 = _number(buf, p)
                if not g1:
                    ok = False
                    break
            if m == 7:
                c3, p, g1 = _number(buf, p)
                if not g1:
                    ok = False
                    break
        elif m == 6:
            s2, lc = _str(buf, p)
            if lc < 0:
                ok = False
                break
            if lc > 0:
                plain = False  # sale conditions: the object keeps them
            p = s2 + lc
        if p != nxt:
            ok = False
            break
        pos = nxt
        if not plain:
            continue
        kind[k] = QUOTE if tag == 1 else TRADE
        ts[k] = t
        for j in range(ls):
            sym[k, j] = buf[s1 + j]
        x0[k] = a
        x1[k] = b
        x2[k] = c2
        x3[k] = c3
    if ok and pos != len(buf):
        ok = False  # trailing bytes
    return ok, kind, ts, sym, x0, x1, x2, x3, start, end


def decode_columns(payload, decode_one) -> TickColumns | None:
    """A ``binary`` message as columns, or None when only msgspec can say what it holds.
    ``decode_one(raw)``: an ``OTHER`` row's bytes to its tick (raises when malformed)."""
    ok, *parsed = parse_ticks(np.frombuffer(payload, dtype=np.uint8))
    return read(payload, parsed, decode_one) if ok else None
