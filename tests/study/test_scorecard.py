"""The levels scorecard (monitor.study.scorecard) on synthetic data with planted answers
(labelled synthetic: no real data here), and on the real 2026 chains through the report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitor.study.scorecard import PUBLISHED, levels_scorecard, realised_vol_pct

N_DAYS = 32
DATES = pd.bdate_range("2026-01-05", periods=N_DAYS)


def ohlc(returns, highs=None, lows=None, opens=None):
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    df = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close},
                      index=DATES[:len(close)])
    for col, vals in (("high", highs), ("low", lows), ("open", opens)):
        for k, v in (vals or {}).items():
            df.iloc[k, df.columns.get_loc(col)] = v
    return df


def by_key(rows):
    return {r.key: r.estimate for r in rows}


def test_wall_shares_planted():
    """Call wall 110 every day; the next session's high is above it on 3 of 10 days and
    its close above it on 1; put wall 90, the low below it on 2, the close below on 1."""
    flat = np.zeros(N_DAYS - 1)
    highs = {k: 111.0 for k in (1, 4, 7)}
    lows = {k: 89.0 for k in (2, 5)}
    spx = ohlc(flat, highs=highs, lows=lows)
    spx.iloc[7, spx.columns.get_loc("close")] = 110.5  # the one close above the call wall
    spx.iloc[5, spx.columns.get_loc("close")] = 89.5   # the one close below the put wall
    rows = [{"date": str(d.date()), "call_wall": 110.0, "put_wall": 90.0, "zero_gamma": None}
            for d in DATES[:10]]  # next sessions: positions 1..10
    e = by_key(levels_scorecard(rows, spx))
    assert (e["high_at_or_below_call_wall"].estimate, e["high_at_or_below_call_wall"].n) == (
        0.7, 10)
    assert e["close_below_call_wall"].estimate == 0.9
    assert e["low_at_or_above_put_wall"].estimate == 0.8
    assert e["close_above_put_wall"].estimate == 0.9
    lo, hi = e["high_at_or_below_call_wall"].ci
    assert lo <= 0.7 <= hi and "circular block bootstrap (block 5" in e[
        "high_at_or_below_call_wall"].method
    # a wall exactly at the high counts as held; at the close, the close is not below
    spx2 = ohlc(flat)
    rows2 = [{"date": str(DATES[0].date()), "call_wall": float(spx2["high"].iloc[1]),
              "put_wall": float(spx2["close"].iloc[1]), "zero_gamma": None}]
    e2 = by_key(levels_scorecard(rows2, spx2))
    assert e2["high_at_or_below_call_wall"].estimate == 1.0
    assert e2["close_above_put_wall"].estimate == 0.0


def test_sessions_without_a_next_session_or_a_price_are_not_counted():
    spx = ohlc(np.zeros(N_DAYS - 1), highs={3: math.nan})
    rows = [{"date": str(DATES[2].date()), "call_wall": 200.0, "put_wall": 1.0,
             "zero_gamma": None},  # next session's high is NaN
            {"date": str(DATES[-1].date()), "call_wall": 200.0, "put_wall": 1.0,
             "zero_gamma": None},  # no next session in the file
            {"date": "2025-12-25", "call_wall": 200.0, "put_wall": 1.0,
             "zero_gamma": None}]  # not a session of the file
    e = by_key(levels_scorecard(rows, spx))
    assert e["high_at_or_below_call_wall"].n == 0
    assert e["close_below_call_wall"].n == 1


def test_realised_vol_after_zero_gamma_planted():
    """Daily log returns alternate +-1 % for the first 15 days, +-2 % after: any 5 of
    them have stdev (ddof 1) sqrt(0.00012) = 1.0954 %, so 17.39 % annualised, and twice
    that in the second half. Sessions 0..9 open above zero gamma (it is 50), 16..24 below
    (it is 500)."""
    r = np.array([0.01 * (-1) ** k for k in range(15)]
                 + [0.02 * (-1) ** k for k in range(N_DAYS - 16)])
    spx = ohlc(r)
    rows = ([{"date": str(DATES[k].date()), "call_wall": None, "put_wall": None,
              "zero_gamma": 50.0} for k in range(10)]
            + [{"date": str(DATES[k].date()), "call_wall": None, "put_wall": None,
                "zero_gamma": 500.0} for k in range(15, 25)])
    rv1 = math.sqrt(0.00012) * math.sqrt(252) * 100
    assert realised_vol_pct(spx["close"].to_numpy(), 0) == pytest.approx(rv1, rel=1e-9)
    e = by_key(levels_scorecard(rows, spx))
    assert e["rv5_open_above_zero_gamma"].estimate == pytest.approx(rv1, rel=1e-9)
    assert e["rv5_open_above_zero_gamma"].n == 10
    assert e["rv5_open_below_zero_gamma"].estimate == pytest.approx(2 * rv1, rel=1e-9)
    assert e["rv5_open_below_zero_gamma"].n == 10
    assert e["rv5_below_minus_above"].estimate == pytest.approx(rv1, rel=1e-9)
    assert e["high_at_or_below_call_wall"].n == 0  # no walls given


def test_published_figures_are_the_issues():
    assert PUBLISHED["high_at_or_below_call_wall"][0] == 0.83
    assert PUBLISHED["close_below_call_wall"][0] == 0.88
    assert PUBLISHED["low_at_or_above_put_wall"][0] == 0.89
    assert PUBLISHED["close_above_put_wall"][0] == 0.93
    assert PUBLISHED["rv5_open_above_zero_gamma"][0] == 13.0
    assert PUBLISHED["rv5_open_below_zero_gamma"][0] == 18.0


def test_a_planted_serial_dependence_widens_the_intervals():
    """40 sessions, the call wall crossed on 12 of them (synthetic): spread out (every
    third or so session) or in one streak of 12 (serial dependence, as in a trending
    month). The share is 70 % either way; the block bootstrap's interval is wider for the
    streak than for the spread-out misses and than Wilson's (which assumes independent
    sessions, and cannot tell the two apart)."""
    from monitor.study.stats import wilson

    n = 40
    dates = pd.bdate_range("2026-01-05", periods=n + 1)

    def interval(missed):
        close = np.full(n + 1, 100.0)
        high = close + 1
        for k in missed:
            high[k + 1] = 111.0  # the next session's high above the wall
        spx = pd.DataFrame({"open": close, "high": high, "low": close - 1, "close": close},
                           index=dates)
        rows = [{"date": str(d.date()), "call_wall": 110.0, "put_wall": 90.0,
                 "zero_gamma": None} for d in dates[:n]]
        e = by_key(levels_scorecard(rows, spx))["high_at_or_below_call_wall"]
        assert (e.estimate, e.n, e.extra["k"]) == (pytest.approx(0.7), 40, 28)
        return e.hi - e.lo

    spread = interval([round(3.3 * i) for i in range(12)])
    streak = interval(range(14, 26))
    w = wilson(28, 40)
    assert streak > 1.5 * spread
    assert streak > 1.3 * (w.hi - w.lo)


def test_both_wall_definitions_are_scored_beside_the_published_figures():
    """The walls on their side of spot and over every strike, each row with SpotGamma's
    figure: a put wall above spot (any strike) fails every low, the one below holds."""
    flat = np.zeros(N_DAYS - 1)
    spx = ohlc(flat)  # close 100, high 101, low 99 every session
    rows = [{"date": str(d.date()), "call_wall": 110.0, "put_wall": 90.0,
             "call_wall_any_strike": 95.0, "put_wall_any_strike": 105.0,
             "zero_gamma": None} for d in DATES[:12]]
    rows_by = {r.key: r for r in levels_scorecard(rows, spx)}
    assert rows_by["low_at_or_above_put_wall"].estimate.estimate == 1.0
    assert rows_by["low_at_or_above_put_wall_any_strike"].estimate.estimate == 0.0
    assert rows_by["high_at_or_below_call_wall_any_strike"].estimate.estimate == 0.0
    assert rows_by["high_at_or_below_call_wall_any_strike"].published == 0.83
    assert rows_by["low_at_or_above_put_wall"].published == 0.89
    assert rows_by["low_at_or_above_put_wall_any_strike"].statement.endswith("(any strike)")
