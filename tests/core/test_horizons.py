"""Structure forward in time (monitor.core.horizons) and the horizon clocks
(monitor.chain.clock.horizon_clocks), against an independent Black-Scholes written out
here (math.erf; synthetic, hand-built book).

Book: spot 100, r = 3 %, q = 1 %, the classic model (dealers long calls, short puts),
multiplier 100. Expiry A settles 2 hours after the clock, B after 3 days, C after 60 days.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from monitor.chain.clock import horizon_clocks
from monitor.core import horizons, levels
from monitor.core.book import Book
from tests.synth import AS_OF_NS, YEAR_NS, make_chain

S, R, Q, M = 100.0, 0.03, 0.01, 100.0
HOUR = 3600 / (365 * 86400)
DAY = 1 / 365
A, B, C = 2 * HOUR, 3 * DAY, 60 * DAY
CONTRACTS = [
    # (strike, years, is_call, sigma, oi)
    (99.5, A, True, 0.40, 400.0),  # in the money, settles in 2 hours
    (99.0, A, False, 0.40, 900.0),
    (101.0, A, True, 0.40, 700.0),
    (90.0, B, False, 0.35, 3000.0),
    (95.0, B, False, 0.28, 2500.0),
    (105.0, B, True, 0.20, 1500.0),
    (110.0, B, True, 0.19, 800.0),
    (85.0, C, False, 0.33, 4000.0),
    (95.0, C, False, 0.26, 1200.0),
    (100.0, C, True, 0.22, 2000.0),
    (110.0, C, True, 0.20, 3500.0),
]


def _N(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def bs_gamma(S_, K, T, sigma):
    s = sigma * math.sqrt(T)
    d1 = (math.log(S_ / K) + (R - Q) * T + 0.5 * s * s) / s
    return math.exp(-Q * T) * _phi(d1) / (S_ * s)


def bs_delta(S_, K, T, sigma, is_call):
    if T <= 0:  # settled: exercise delta
        return (1.0 if S_ > K else 0.0) if is_call else (-1.0 if S_ < K else 0.0)
    s = sigma * math.sqrt(T)
    d1 = (math.log(S_ / K) + (R - Q) * T + 0.5 * s * s) / s
    return math.exp(-Q * T) * (_N(d1) if is_call else _N(d1) - 1.0)


def dealer_n(is_call, oi):
    return oi if is_call else -oi  # classic: customers sell calls, buy puts


def oracle(dt_years, rows=CONTRACTS, S_=S):
    """(total GEX, {strike: (calls, puts)}) with ``dt_years`` passed, IVs held."""
    total, by = 0.0, {}
    for K, T, c, sig, oi in rows:
        T1 = T - dt_years
        if T1 <= 0:
            continue
        g = dealer_n(c, oi) * M * bs_gamma(S_, K, T1, sig) * S_ * S_ * 0.01
        total += g
        calls, puts = by.get(K, (0.0, 0.0))
        by[K] = (calls + g, puts) if c else (calls, puts + g)
    return total, by


def oracle_walls(by):
    """The call wall among the strikes at or above spot, the put wall at or below."""
    cw = max((k for k in by if k >= S), key=lambda k: abs(by[k][0]))
    pw = max((k for k in by if k <= S), key=lambda k: abs(by[k][1]))
    return cw, pw


def oracle_zero_gamma(dt_years, rows=CONTRACTS):
    """The sign change of GEX(S') nearest spot, by brentq on the formula above."""
    grid = S * np.exp(np.linspace(math.log(0.8), math.log(1.2), 2001))
    g = np.array([oracle(dt_years, rows, x)[0] for x in grid])
    flips = np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))
    k = flips[np.argmin(np.abs(grid[flips] - S))]
    return brentq(lambda x: oracle(dt_years, rows, x)[0], grid[k], grid[k + 1], xtol=1e-10)


@pytest.fixture(scope="module")
def book():
    return Book(make_chain(CONTRACTS, spot=S, r=R, q=Q), rate=R, div_yield=Q, multiplier=M,
                smile=False)


def ts_after(years):
    return AS_OF_NS + int(round(years * YEAR_NS))


def check(fw, dt_years, rows=CONTRACTS):
    total, by = oracle(dt_years, rows)
    assert fw.gex_usd_per_pct == pytest.approx(total, rel=1e-7)
    for k, (calls, puts) in by.items():
        i = int(np.flatnonzero(fw_strikes == k)[0])
        assert fw.by_strike[i, 0] == pytest.approx(calls, rel=1e-7, abs=1e-6)
        assert fw.by_strike[i, 1] == pytest.approx(puts, rel=1e-7, abs=1e-6)
    assert (fw.call_wall, fw.put_wall) == oracle_walls(by)
    # the scan's bisection stops at 0.01 % of spot
    assert fw.zero_gamma == pytest.approx(oracle_zero_gamma(dt_years, rows), abs=0.01)
    assert fw.contracts_live == sum(1 for r in rows if r[1] > dt_years)


fw_strikes = np.unique([c[0] for c in CONTRACTS])


def test_now_equals_the_books_own_levels(book):
    fw = horizons.forward_at(book, "now", book.now_ns)
    assert fw.gex_usd_per_pct == pytest.approx(book.totals["gex_usd_per_pct"], rel=1e-12)
    assert fw.zero_gamma == pytest.approx(levels.zero_gamma(book), rel=1e-12)
    assert (fw.call_wall, fw.put_wall) == levels.walls(book)
    np.testing.assert_allclose(fw.by_strike, book.agg.by_strike[:, :, 1], rtol=1e-10)
    check(fw, 0.0)


def test_after_next_expiry_is_the_book_without_those_contracts(book):
    """At B's settlement, A and B are gone: the profile is C's alone, 3 days older."""
    fw = horizons.forward_at(book, "after_next_expiry", ts_after(B))
    without = [c for c in CONTRACTS if c[1] == C]
    check(fw, B, rows=without)
    assert fw.contracts_live == len(without)
    # and the walls did move: the settled expiries held the largest strikes
    assert (fw.call_wall, fw.put_wall) != oracle_walls(oracle(0.0)[1])


def test_close_equals_the_revaluation_at_the_close(book):
    """A close 5 hours ahead: A has settled, B and C are 5 hours shorter."""
    fw = horizons.forward_at(book, "close", ts_after(5 * HOUR))
    check(fw, 5 * HOUR)
    assert fw.gex_usd_per_pct != pytest.approx(book.totals["gex_usd_per_pct"], rel=1e-3)


def test_one_hour_keeps_the_expiring_contracts(book):
    fw = horizons.forward_at(book, "+1h", ts_after(HOUR))
    check(fw, HOUR)
    assert fw.contracts_live == len(CONTRACTS)


def test_charm_to_close_by_hand_with_a_contract_settling_before_it(book):
    """-sum n M (delta(t_close) - delta(now)) S, the 99.5 call of A settling in the money
    (exercise delta 1), the 99 put and 101 call of A out of the money (0)."""
    dt_years = 5 * HOUR
    expected = 0.0
    for K, T, c, sig, oi in CONTRACTS:
        d_now = bs_delta(S, K, T, sig, c)
        d_then = bs_delta(S, K, T - dt_years, sig, c)
        expected -= dealer_n(c, oi) * M * (d_then - d_now) * S
    usd, shares = horizons.charm_to(book, ts_after(dt_years))
    assert usd == pytest.approx(expected, rel=1e-7)
    assert shares == pytest.approx(expected / S, rel=1e-7)
    # the settlement matters: treating A's contracts as dropped (delta 0 after settling)
    # instead of exercised would be off by the 99.5 call's whole delta
    dropped = expected + sum(dealer_n(c, oi) * M * bs_delta(S, K, -1, sig, c) * S
                             for K, T, c, sig, oi in CONTRACTS if T == A)
    assert abs(dropped - usd) > 1e4 * abs(usd) * 1e-7
    assert abs(dropped - usd) == pytest.approx(400 * M * S, rel=1e-9)


def test_charm_to_now_is_zero_and_a_past_clock_counts_as_now(book):
    assert horizons.charm_to(book, book.now_ns) == (0.0, 0.0)
    past = horizons.forward_at(book, "past", book.now_ns - 10**12)
    assert past.gex_usd_per_pct == pytest.approx(book.totals["gex_usd_per_pct"], rel=1e-12)


def test_linear_charm_agrees_for_a_short_step(book):
    """Over 1 minute (nothing settles) the full revaluation is close to -CEX * days."""
    usd, _ = horizons.charm_to(book, ts_after(60 / (365 * 86400)))
    linear = -book.totals["cex_usd_per_day"] * 60 / 86400
    assert usd == pytest.approx(linear, rel=2e-3)


# -- the clocks ---------------------------------------------------------------------------

def ny(s):
    return int(pd.Timestamp(s, tz="America/New_York").value)


def expiries(*items):
    """(group_expiry, group_settle_ns) from (date, 'AM'|'PM') items."""
    exp = np.array([d for d, _ in items], dtype="datetime64[D]")
    settle = np.array([ny(f"{d} {'09:30' if ap == 'AM' else '16:00'}") for d, ap in items])
    return exp, settle


def clocks(now, underlying="SPX", items=(("2026-06-12", "PM"), ("2026-06-15", "PM"),
                                        ("2026-06-18", "AM"), ("2026-06-18", "PM"))):
    return dict(horizon_clocks(ny(now), underlying, *expiries(*items)))


def test_clocks_mid_session_friday():
    c = clocks("2026-06-12 14:00")
    assert c["+1h"] == ny("2026-06-12 15:00")
    assert c["close"] == ny("2026-06-12 16:15")  # index options: 15 minutes past the market
    assert c["next_open"] == ny("2026-06-15 09:30")  # Monday
    assert c["after_next_expiry"] == ny("2026-06-15 16:00")  # today's 0DTE is the close's


def test_clocks_after_the_close_and_over_a_holiday():
    c = clocks("2026-06-12 16:30")
    assert c["close"] == ny("2026-06-15 16:15")
    c = clocks("2026-06-18 17:00", items=(("2026-06-18", "PM"), ("2026-06-22", "PM")))
    assert c["close"] == ny("2026-06-22 16:15")  # 06-19 was Juneteenth
    assert c["next_open"] == ny("2026-06-22 09:30")
    assert c["after_next_expiry"] == ny("2026-06-22 16:00")


def test_clocks_equity_options_and_an_early_close():
    c = clocks("2026-11-27 10:00", underlying="SPY", items=(("2026-11-27", "PM"),))
    assert c["close"] == ny("2026-11-27 13:00")  # the day after Thanksgiving
    # nothing expires after today: the first settlement still ahead
    assert c["after_next_expiry"] == ny("2026-11-27 16:00")


def test_clocks_am_and_pm_of_the_same_date_both_go():
    c = clocks("2026-06-17 11:00", items=(("2026-06-17", "PM"), ("2026-06-18", "AM"),
                                          ("2026-06-18", "PM"), ("2026-07-17", "AM")))
    assert c["after_next_expiry"] == ny("2026-06-18 16:00")


def test_clocks_with_nothing_ahead_leave_the_expiry_horizon_out():
    c = clocks("2026-06-19 11:00", items=(("2026-06-18", "PM"),))
    assert "after_next_expiry" not in c and "close" in c
