"""The numba readers' decimal-to-double conversion is exact: it gives what Python's
correctly rounded ``float`` gives, or gives up (subnormal, overflow)."""

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.wire.numbers import decimal_to_double


def convert(w: int, q: int):
    ok, v = decimal_to_double(np.uint64(w), q)
    return v if ok else None


@pytest.mark.parametrize("w,q,expected", [
    (1, -1, 0.1),                                  # not representable: the nearest double
    (9007199254740993, 0, 9007199254740992.0),     # 2**53 + 1: halfway, to even (down)
    (9007199254740995, 0, 9007199254740996.0),     # 2**53 + 3: halfway, to even (up)
    (1, 23, 1e23),                                 # beyond the fast path's 10**22
    (17976931348623157, 292, 1.7976931348623157e308),  # the largest double
    (28626715914700576, -16, 2.8626715914700576),  # 17 digits, as a simulator writes prices
    (1, -22, 1e-22), (123, 0, 123.0), (0, 5, 0.0),
    (2225073858507201, -323, None),                # subnormal: left to msgspec
    (1, 309, None),                                # overflow: left to msgspec
])
def test_by_hand(w, q, expected):
    assert convert(w, q) == expected


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_every_shortest_repr_reads_back(x):
    mant, _, e = repr(x).partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0") or "0"
    assert convert(int(digits), (int(e) if e else 0) - len(fp)) == x


def test_random_decimals_against_python():
    rng = random.Random(7)
    given_up = 0
    for _ in range(200_000):
        w = rng.randrange(0, 10 ** rng.randint(1, 19))
        q = rng.choice([rng.randint(-25, 25), rng.randint(-345, 310)])
        v = convert(w, q)
        if v is None:
            given_up += 1
            ref = float(f"{w}e{q}")
            assert ref == 0.0 or math.isinf(ref) or abs(ref) < 2.3e-308, (w, q)
            continue
        assert v == float(f"{w}e{q}"), (w, q)
    assert given_up < 20_000
