"""Symbol -> row lookup inside numba: an open-addressing hash table over OCC symbols as
fixed-width bytes, so option quotes that arrive as records (``monitor.wire.records``) are
looked up without a Python object (or a string comparison in numpy) per quote.

Keys are canonical: the symbol's bytes with spaces and NULs removed, so the compact form
(``SPXW260821C07600000``) and the 21-character padded form (``SPXW  260821C07600000``)
find the same row, as the per-tick path's ``symbol.replace(" ", "")`` does.

A canonical key (at most 21 bytes) is packed into three little-endian 64-bit words. Each
slot of the table holds the three words and the row + 1 (0: empty), 32 bytes, so a probe
reads one cache line and compares three words (not 21 bytes behind a second pointer).
The table holds ``2**k >= 2 n`` slots (load <= 0.5, linear probing); the slot is the low
``k`` bits of a hash of the three words (three independent multiplications and a
finaliser: a byte-at-a-time hash such as FNV-1a chains 21 multiplications, one per
byte). A hit compares every word, so a collision can never return a wrong row.
"""

from __future__ import annotations

import numpy as np

from monitor.core.jit import kernel

WIDTH = 21  # bytes of an OCC symbol in its padded form, the longest accepted
_K0 = np.uint64(0x9E3779B97F4A7C15)  # odd multipliers (golden ratio, splitmix64's)
_K1 = np.uint64(0xBF58476D1CE4E5B9)
_K2 = np.uint64(0x94D049BB133111EB)
_EMPTY = np.uint64(0)


@kernel(inline="always")
def _words(src):
    """``src``'s bytes without spaces and NULs, packed little-endian into three uint64
    words, and their count."""
    n = 0
    w0 = w1 = w2 = np.uint64(0)
    for j in range(WIDTH):
        c = src[j]
        if c != 32 and c != 0:  # (predictable: a feed sends one form of symbol)
            v = np.uint64(c) << np.uint64(8 * (n & 7))
            if n < 8:
                w0 |= v
            elif n < 16:
                w1 |= v
            else:
                w2 |= v
            n += 1
    return w0, w1, w2, n


@kernel(inline="always")
def _slot(w0, w1, w2, mask):
    # three independent products, then splitmix64's finaliser so the low bits (the
    # slot) depend on every input bit
    h = (w0 * _K0) ^ (w1 * _K1) ^ (w2 * _K2)
    h ^= h >> np.uint64(30)
    h *= _K1
    h ^= h >> np.uint64(27)
    h *= _K2
    h ^= h >> np.uint64(31)
    return h & mask


@kernel(inline="always")
def _holds(table, slot, w0, w1, w2):
    """Whether table slot ``slot`` holds the key of words ``w0, w1, w2``."""
    return table[slot, 0] == w0 and table[slot, 1] == w1 and table[slot, 2] == w2


@kernel(inline="always")
def find(symbol, table):
    """Row of one symbol (``uint8[WIDTH]``), or -1."""
    w0, w1, w2, n = _words(symbol)
    if n == 0:
        return -1
    mask = np.uint64(table.shape[0] - 1)
    slot = _slot(w0, w1, w2, mask)
    while True:
        row = table[slot, 3]
        if row == _EMPTY:
            return -1
        if _holds(table, slot, w0, w1, w2):
            return np.int64(row) - 1
        slot = (slot + np.uint64(1)) & mask


@kernel
def _fill(symbols, table):
    mask = np.uint64(table.shape[0] - 1)
    for g in range(symbols.shape[0]):
        w0, w1, w2, n = _words(symbols[g])
        if n == 0:
            continue
        slot = _slot(w0, w1, w2, mask)
        while table[slot, 3] != _EMPTY:
            if _holds(table, slot, w0, w1, w2):
                break  # a duplicate symbol keeps its first index
            slot = (slot + np.uint64(1)) & mask
        if table[slot, 3] == _EMPTY:
            table[slot, 0], table[slot, 1], table[slot, 2] = w0, w1, w2
            table[slot, 3] = np.uint64(g + 1)


@kernel
def lookup_all(symbols, table, out):
    """``out[k]`` = index of ``symbols[k]`` (``uint8[m, WIDTH]``, any strides) or -1."""
    for k in range(symbols.shape[0]):
        out[k] = find(symbols[k], table)


class SymbolIndex:
    """The hash table over ``symbols`` (OCC strings, at most ``WIDTH`` characters):
    ``index[k]`` is ``symbols[k]``'s position. ``table``: ``uint64[2**k, 4]``, per slot
    the key's three words and the row + 1 (0: empty); two slots per 64-byte cache line."""

    def __init__(self, symbols: list[str]):
        raw = np.array([s.encode("ascii") for s in symbols], dtype=f"S{WIDTH}")
        keys = np.zeros((len(symbols), WIDTH), dtype=np.uint8)
        if len(symbols):
            keys[:] = raw.view(np.uint8).reshape(len(symbols), WIDTH)
        bits = max(4, int(2 * max(len(symbols), 1) - 1).bit_length())
        self.table = np.zeros((1 << bits, 4), dtype=np.uint64)
        _fill(keys, self.table)

    def lookup(self, symbols: np.ndarray) -> np.ndarray:
        """Positions (int64, -1 = unknown) of ``symbols``: an ``S{WIDTH}`` array or
        ``uint8[m, WIDTH]``."""
        if symbols.dtype != np.uint8:
            symbols = np.ascontiguousarray(symbols, dtype=f"S{WIDTH}").view(np.uint8)
            symbols = symbols.reshape(-1, WIDTH)
        out = np.empty(symbols.shape[0], dtype=np.int64)
        lookup_all(symbols, self.table, out)
        return out
