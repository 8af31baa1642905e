"""DEX a trader can read: the out-of-the-money contracts' dollar delta alone, and the share
of gross |DEX| in in-the-money legs, by hand on a two-contract book (synthetic: S = 100,
r = q = 0, a year out, 20 % vol, multiplier 100; classic: dealers long the call, short
the put)."""

from __future__ import annotations

import math

import pytest

from monitor.core.book import Book
from monitor.snapshot import build_snapshot
from tests.synth import make_chain


def N(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_dex_otm_and_itm_share_by_hand():
    """Call K=90 (in the money, dealers +1) and put K=90 (out of the money, dealers -2)."""
    book = Book(make_chain([(90.0, 1.0, True, 0.2, 1.0), (90.0, 1.0, False, 0.2, 2.0)]),
                model="classic", multiplier=100.0, rate=0.0, div_yield=0.0)
    d1 = (math.log(100 / 90) + 0.02) / 0.2
    call_dex = 1 * 100 * N(d1) * 100
    put_dex = -2 * 100 * (N(d1) - 1.0) * 100  # short puts: positive dollar delta
    s = build_snapshot(book)
    assert s["dex_usd"] == pytest.approx(call_dex + put_dex, rel=1e-9)
    assert s["dex_otm_usd"] == pytest.approx(put_dex, rel=1e-9)
    assert s["dex_itm_share"] == pytest.approx(call_dex / (call_dex + put_dex), rel=1e-9)
