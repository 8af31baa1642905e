"""Symbol -> row lookup inside numba: an open-addressing hash table over OCC symbols as
fixed-width bytes, so option quotes that arrive as records (``monitor.wire.records``) are
looked up without a Python object (or a string comparison in numpy) per quote.

Keys are canonical: the symbol's bytes with spaces and NULs removed, so the compact form
(``SPXW260821C07600000``) and the 21-character padded form (``SPXW  260821C07600000``)
find the same row, as the per-tick path's ``symbol.replace(" ", "")`` does.

The table holds ``2**k >= 2 n`` slots (load <= 0.5, linear probing, FNV-1a 64-bit hash);
each slot is -1 or an index into ``keys`` (``uint8[n, WIDTH]``, canonical, NUL-padded),
and a hit is confirmed byte by byte, so a hash collision can never return a wrong row.
"""

from __future__ import annotations

import numpy as np

from monitor.core.jit import kernel

WIDTH = 21  # bytes of an OCC symbol in its padded form, the longest accepted
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@kernel(inline="always")
def _canonical(src, out):
    """Copy ``src``'s bytes without spaces and NULs into ``out`` (NUL-padded); returns the
    canonical length."""
    n = 0
    for j in range(WIDTH):
        c = src[j]
        if c != 32 and c != 0:
            out[n] = c
            n += 1
    for j in range(n, WIDTH):
        out[j] = 0
    return n


@kernel(inline="always")
def _hash(buf, n):
    h = _FNV_OFFSET
    for j in range(n):
        h = (h ^ np.uint64(buf[j])) * _FNV_PRIME
    return h


@kernel(inline="always")
def _same(keys, g, buf):
    for j in range(WIDTH):
        if keys[g, j] != buf[j]:
            return False
    return True


@kernel(inline="always")
def find(symbol, keys, table, buf):
    """Index into ``keys`` of one symbol (``uint8[WIDTH]``), or -1. ``buf``: scratch
    ``uint8[WIDTH]``."""
    n = _canonical(symbol, buf)
    if n == 0:
        return -1
    mask = np.uint64(table.shape[0] - 1)
    slot = _hash(buf, n) & mask
    while True:
        g = table[slot]
        if g < 0:
            return -1
        if _same(keys, g, buf):
            return g
        slot = (slot + np.uint64(1)) & mask


@kernel
def _fill(keys, table):
    buf = np.empty(WIDTH, dtype=np.uint8)
    mask = np.uint64(table.shape[0] - 1)
    for g in range(keys.shape[0]):
        n = _canonical(keys[g], buf)
        keys[g, :] = buf  # stored canonical
        slot = _hash(buf, n) & mask
        while table[slot] >= 0:
            if _same(keys, table[slot], buf):
                break  # a duplicate symbol keeps its first index
            slot = (slot + np.uint64(1)) & mask
        if table[slot] < 0:
            table[slot] = g


@kernel
def lookup_all(symbols, keys, table, out):
    """``out[k]`` = index of ``symbols[k]`` (``uint8[m, WIDTH]``, any strides) or -1."""
    buf = np.empty(WIDTH, dtype=np.uint8)
    for k in range(symbols.shape[0]):
        out[k] = find(symbols[k], keys, table, buf)


class SymbolIndex:
    """The hash table over ``symbols`` (OCC strings, at most ``WIDTH`` characters):
    ``index[k]`` is ``symbols[k]``'s position."""

    def __init__(self, symbols: list[str]):
        raw = np.array([s.encode("ascii") for s in symbols], dtype=f"S{WIDTH}")
        self.keys = np.zeros((len(symbols), WIDTH), dtype=np.uint8)
        if len(symbols):
            self.keys[:] = raw.view(np.uint8).reshape(len(symbols), WIDTH)
        size = 1 << max(4, int(2 * max(len(symbols), 1) - 1).bit_length())
        self.table = np.full(size, -1, dtype=np.int64)
        _fill(self.keys, self.table)

    def lookup(self, symbols: np.ndarray) -> np.ndarray:
        """Positions (int64, -1 = unknown) of ``symbols``: an ``S{WIDTH}`` array or
        ``uint8[m, WIDTH]``."""
        if symbols.dtype != np.uint8:
            symbols = np.ascontiguousarray(symbols, dtype=f"S{WIDTH}").view(np.uint8)
            symbols = symbols.reshape(-1, WIDTH)
        out = np.empty(symbols.shape[0], dtype=np.int64)
        lookup_all(symbols, self.keys, self.table, out)
        return out
