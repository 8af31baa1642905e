"""Zero gamma, walls, expiring share on synthetic books (labelled synthetic)."""

import math

import numpy as np
import pytest

from monitor.core import levels
from monitor.core.book import Book
from tests.synth import make_chain


def book_of(contracts, spot=100.0):
    return Book(make_chain(contracts, spot=spot), multiplier=100.0, rate=0.0)


def test_zero_gamma_between_put_and_call_strikes():
    # classic: dealers short 1000 puts at 95 and long 1000 calls at 105 -> GEX < 0 below,
    # > 0 above; by symmetry of the two gammas in log-space the flip is near 100.
    b = book_of([(95.0, 0.25, False, 0.2, 1000), (105.0, 0.25, True, 0.2, 1000)])
    zg = levels.zero_gamma(b)
    assert zg is not None and 95.0 < zg < 105.0
    curve = levels.gex_curve(b, np.array([zg * (1 - 2e-4), zg * (1 + 2e-4)]))
    assert curve[0] < 0 < curve[1]  # GEX changes sign across the reported level


def test_zero_gamma_matches_hand_solution():
    """Two contracts with equal OI, sigma and T: GEX(S) = 0 where the two gammas are equal.
    Gamma_i(S) ~ phi(d1_i)/S: equal when |d1_95| = |d1_105|, i.e. by hand
    ln(S/95) + s^2/2 = -(ln(S/105) + s^2/2)  ->  S = sqrt(95 * 105) * exp(-s^2/2)."""
    s = 0.2 * math.sqrt(0.25)
    b = book_of([(95.0, 0.25, False, 0.2, 1000), (105.0, 0.25, True, 0.2, 1000)])
    expected = math.sqrt(95.0 * 105.0) * math.exp(-0.5 * s * s)
    assert levels.zero_gamma(b) == pytest.approx(expected, rel=1e-4)


def test_zero_gamma_none_when_no_crossing():
    b = book_of([(100.0, 0.25, True, 0.2, 1000), (90.0, 0.25, True, 0.2, 500)])
    assert b.totals["gex_usd_per_pct"] > 0
    assert levels.zero_gamma(b) is None
    assert levels.zero_gamma_full_scan(b) is None


def test_fast_scan_equals_full_scan_on_random_books():
    rng = np.random.default_rng(11)
    for _ in range(20):
        contracts = [(float(k), float(t), bool(c), float(v), float(oi))
                     for k, t, c, v, oi in zip(rng.uniform(70, 130, 300),
                                               rng.choice([1 / 365, 7 / 365, 0.1, 1.0], 300),
                                               rng.integers(0, 2, 300),
                                               rng.uniform(0.1, 0.6, 300),
                                               rng.integers(0, 3000, 300))]
        b = book_of(contracts)
        fast, full = levels.zero_gamma(b), levels.zero_gamma_full_scan(b)
        assert (fast is None) == (full is None)
        if fast is not None:
            assert abs(fast - full) <= 1e-4 * b.spot


def test_walls_pick_largest_call_and_put_gamma():
    b = book_of([(100.0, 0.25, True, 0.2, 10), (105.0, 0.25, True, 0.2, 5000),
                 (95.0, 0.25, False, 0.2, 3000), (90.0, 0.25, False, 0.2, 100)])
    assert levels.walls(b) == (105.0, 95.0)


def test_walls_sit_on_their_side_of_spot_and_the_any_strike_maxima_are_kept():
    """Spot 100: the largest call |GEX| is an in-the-money 95 call (20,000 contracts) and
    the largest put |GEX| an in-the-money 105 put; a desk's call wall is the largest at or
    above spot (102: 4,000 beat 108: 1,000), its put wall the largest at or below (98)."""
    b = book_of([(95.0, 0.25, True, 0.2, 20000), (102.0, 0.25, True, 0.2, 4000),
                 (108.0, 0.25, True, 0.2, 1000), (105.0, 0.25, False, 0.2, 20000),
                 (98.0, 0.25, False, 0.2, 4000), (90.0, 0.25, False, 0.2, 1000)])
    assert levels.walls(b) == (102.0, 98.0)
    assert levels.walls(b, any_strike=True) == (95.0, 105.0)
    # a strike exactly at spot counts on both sides
    at = book_of([(100.0, 0.25, True, 0.2, 10), (100.0, 0.25, False, 0.2, 10),
                  (101.0, 0.25, True, 0.2, 1), (99.0, 0.25, False, 0.2, 1)])
    assert levels.walls(at) == (100.0, 100.0)
    # no strike on the call side: no call wall
    below = book_of([(95.0, 0.25, True, 0.2, 10), (95.0, 0.25, False, 0.2, 10)])
    assert levels.walls(below) == (None, 95.0)


def test_expiring_share():
    b = book_of([(100.0, 2 / 365, True, 0.2, 1000), (100.0, 0.5, True, 0.2, 1000)])
    nxt, share = levels.expiring_share(b)
    g = np.abs(b.c.gex)
    first = int(np.argmin(b.g.T[b.c.group]))
    assert share == pytest.approx(g[first] / g.sum())
    assert nxt == str(b.group_expiry[b.c.group[first]])
