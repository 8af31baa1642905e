"""Settled vs live books (monitor.core.positions.settled_vs_live), each label by hand.

Book (synthetic): one call and one put, both S = K = 100, T = 1 year, sigma = 20 %,
r = q = 0, multiplier 100; OI 1000 calls, 400 puts; base model classic (dealers long the
calls, short the puts). Both have gamma phi(0.1) / 20 = 0.019847627, so one contract
carries 100 * 0.019847627 * 100^2 * 0.01 = 198.476 $ per 1 % (U below):

    settled GEX = (1000 - 400) U = +600 U,   gross |GEX| = 1400 U,
    'same' threshold (2 %) = 28 U.

A customer buying q contracts leaves the dealers -q: the flow's GEX is -q U.
"""

import numpy as np
import pytest

from monitor.core.book import Book
from monitor.core.positions import SETTLED_VS_LIVE, settled_vs_live
from tests.synth import make_chain

U = 100 * (0.396952547477012 / 20.0) * 100**2 * 0.01


@pytest.fixture(scope="module")
def book():
    chain = make_chain([(100.0, 1.0, True, 0.2, 1000.0), (100.0, 1.0, False, 0.2, 400.0)])
    return Book(chain, model="classic", rate=0.0, div_yield=0.0, smile=False)


def prints(book, calls=0.0, puts=0.0):
    """Customer contracts per book row (+ bought)."""
    q = np.zeros(2)
    q[book.c.is_call] = calls
    q[~book.c.is_call] = puts
    return q


@pytest.mark.parametrize("calls,puts,label,live_u", [
    (+10, 0, "same", 590),         # |flow| 10 U < 28 U
    (0, -12, "same", 612),         # customers sell 12 puts: +12 U, still below 28 U
    (-200, 0, "amplifying", 800),  # customers sell calls: dealers longer gamma
    (0, -150, "amplifying", 750),  # customers sell puts: dealers buy them back, + gamma
    (0, +300, "dampening", 300),   # customers buy puts: dealers shorter, still long
    (+500, 0, "dampening", 100),
    (+900, 0, "flip", -300),       # customers buy calls: dealers now short gamma
    (+400, +400, "flip", -200),
])
def test_each_label_by_hand(book, calls, puts, label, live_u):
    r = settled_vs_live(book, prints(book, calls, puts), base_model="classic",
                        same_below_frac=0.02)
    assert r["label"] == label
    assert r["settled_gex_usd_per_pct"] == pytest.approx(600 * U, rel=1e-9)
    assert r["live_gex_usd_per_pct"] == pytest.approx(live_u * U, rel=1e-9)
    assert r["flow_gex_usd_per_pct"] == pytest.approx((live_u - 600) * U, rel=1e-9)
    assert r["same_below_usd_per_pct"] == pytest.approx(0.02 * 1400 * U, rel=1e-9)
    by_settled, by_live = r["by_strike"]  # one strike: the totals
    assert by_settled == pytest.approx([600 * U], rel=1e-9)
    assert by_live == pytest.approx([live_u * U], rel=1e-9)


def test_the_threshold_and_the_base_model_are_honoured(book):
    # 10 U of flow is 'same' at 2 % of 1400 U but not at 0.5 % (7 U)
    q = prints(book, calls=-10)
    assert settled_vs_live(book, q, same_below_frac=0.02)["label"] == "same"
    assert settled_vs_live(book, q, same_below_frac=0.005)["label"] == "amplifying"
    # short_all: dealers short both: settled -1400 U; customers selling 200 calls: +200 U
    r = settled_vs_live(book, q * 20, base_model="short_all")
    assert r["settled_gex_usd_per_pct"] == pytest.approx(-1400 * U, rel=1e-9)
    assert r["label"] == "dampening"
    assert settled_vs_live(book, prints(book))["label"] == "same"  # no prints
    assert set(SETTLED_VS_LIVE) == {"amplifying", "dampening", "flip", "same"}
