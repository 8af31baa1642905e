"""Numbers for the numba message readers (:mod:`.json_columns`, :mod:`.msgpack_columns`):
IEEE bit casts and the exact reading of a decimal as a double.

:func:`decimal_to_double` gives ``w * 10**q`` correctly rounded (round half to even), as
a correctly rounded reader (msgspec, Python's ``float``) gives it, for ``w < 10**19``:
exactly by one IEEE operation on two exact doubles when ``w <= 2**53`` and ``|q| <= 22``
(Clinger's fast path), else by the Eisel-Lemire algorithm (Lemire, "Number Parsing at a
Gigabyte per Second", 2021, as in fast_float: the 128-bit truncated powers of five below,
one or two 64x64-bit products), which is exact for every such ``w`` and ``q``. It gives
up (``ok`` False) on subnormal results and overflow, which the caller then leaves to
msgspec.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from monitor.core.jit import kernel

_U = np.uint64
_SMALLEST_Q, _LARGEST_Q = -342, 308
_POW10 = np.array([10.0 ** k for k in range(23)])


def _powers_of_five() -> tuple[np.ndarray, np.ndarray]:
    """High and low 64 bits of 5**q, q in [-342, 308], normalized to 128 bits and
    truncated (fast_float's table, computed here with Python's integers)."""
    hi, lo = [], []
    for q in range(_SMALLEST_Q, _LARGEST_Q + 1):
        if q < 0:
            power5 = 5 ** -q
            z = power5.bit_length() if power5 & (power5 - 1) else power5.bit_length() - 1
            c = 2 ** (z + 127 if q >= -27 else 2 * z + 128) // power5 + 1
        else:
            c = 5 ** q
            c <<= max(0, 128 - c.bit_length())
        c >>= max(0, c.bit_length() - 128)
        hi.append(c >> 64)
        lo.append(c & (2 ** 64 - 1))
    return np.array(hi, dtype=np.uint64), np.array(lo, dtype=np.uint64)


_P5_HI, _P5_LO = _powers_of_five()


@intrinsic
def f64_of_bits(typingctx, bits):
    """The float64 whose IEEE bits are the uint64 ``bits`` (an LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.uint64), codegen


@intrinsic
def f32_of_bits(typingctx, bits):
    """The float32 whose IEEE bits are the uint32 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))
    return types.float32(types.uint32), codegen


@kernel
def _mul128(a, b):
    """(high, low) 64 bits of the 128-bit product of two uint64."""
    m32 = _U(0xFFFFFFFF)
    s32 = _U(32)
    a_lo, a_hi, b_lo, b_hi = a & m32, a >> s32, b & m32, b >> s32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (p0 >> s32) + (p1 & m32) + (p2 & m32)
    return p3 + (p1 >> s32) + (p2 >> s32) + (mid >> s32), (p0 & m32) | (mid << s32)


@kernel
def decimal_to_double(w, q):
    """(ok, value) of ``w * 10**q`` (``w``: uint64 below 10**19, ``q``: int) correctly
    rounded; see the module docstring."""
    if w == _U(0):
        return True, 0.0
    if w <= _U(2 ** 53) and -22 <= q <= 22:
        v = np.float64(w)
        return True, (v * _POW10[q] if q >= 0 else v / _POW10[-q])
    if q < _SMALLEST_Q or q > _LARGEST_Q:
        return False, 0.0
    lz = 0
    while not (w >> _U(63)):
        w = w << _U(1)
        lz += 1
    idx = q - _SMALLEST_Q
    hi, lo = _mul128(w, _P5_HI[idx])
    if (hi & _U(0x1FF)) == _U(0x1FF):  # the first product may be short: add the second
        hi2, lo2 = _mul128(w, _P5_LO[idx])
        lo = lo + hi2
        if hi2 > lo:
            hi = hi + _U(1)
    upper = np.int64(hi >> _U(63))
    shift = _U(upper + 9)
    mant = hi >> shift
    power2 = ((217706 * q) >> 16) + 63 + upper - lz + 1023
    if power2 <= 0:
        return False, 0.0  # subnormal
    if lo <= _U(1) and -4 <= q <= 23 and (mant & _U(3)) == _U(1) and (mant << shift) == hi:
        mant = mant & ~_U(1)  # exactly halfway: round to even, not up
    mant = (mant + (mant & _U(1))) >> _U(1)
    if mant >= (_U(2) << _U(52)):
        mant = _U(1) << _U(52)
        power2 += 1
    if power2 >= 0x7FF:
        return False, 0.0  # overflow
    return True, f64_of_bits((mant & ~(_U(1) << _U(52))) | (_U(power2) << _U(52)))
