"""The per-expiry smile: raw SVI, its no-arbitrage checks, the fit, and the quotes that take
its IV.

Bounds on real chains (stated in the README, Conventions): over each expiry's fitting
points (OTM, two-sided sane quotes), the smile IV minus the quote's own mid IV has a median
absolute value of at most 0.5 vol points and a 95th percentile of at most 1.5 points (the
2026 files: about 0.1 and 0.3-0.7; the June 2022 sell-off: 0.44 and 1.2); every accepted
smile is free of butterfly and calendar arbitrage on its grid; at least 85 % of the
expiries with enough quotes get a smile (2022-06-11: 42 of 48).
"""

import math

import numpy as np
import pytest

from monitor.chain.loaders import load_chain
from monitor.chain.model import Chain
from monitor.core import status as st
from monitor.core.book import Book
from monitor.core.layout import SVI_A, SVI_B, SVI_M, SVI_RHO, SVI_S
from monitor.core.smile import butterfly_g, total_var
from monitor.core.smile_fit import (
    MIN_POINTS,
    calendar_grid,
    fit_expiry,
    fit_points,
    grid,
)
from tests.data_paths import DATA_DIR

EOD = DATA_DIR / "cboe_chain_eod_2026" / "SPX"
QUOTEDATA = DATA_DIR / "cboe_quotedata" / "spx"
REAL = [EOD / "SPX_2026-08-19.csv.gz", EOD / "SPX_2026-06-18.csv.gz",
        QUOTEDATA / "SPX_quotedata_2023-02-03_2324.csv.gz",
        QUOTEDATA / "SPX_quotedata_2022-06-11_2047.csv.gz"]


def svi(p, k):  # written out again here, not imported
    a, b, rho, m, s = p
    return a + b * (rho * (k - m) + np.sqrt((k - m) ** 2 + s * s))


# -- the arbitrage conditions by hand --------------------------------------------------------
def test_flat_smile_has_density_factor_one():
    # b = 0: w = a everywhere, w' = w'' = 0, so g = 1
    assert np.allclose(butterfly_g((0.04, 0.0, 0.0, 0.0, 0.1), np.linspace(-1, 1, 11)), 1.0)


def test_vogt_smile_has_butterfly_arbitrage():
    # Axel Vogt's raw SVI (Gatheral & Jacquier 2014, "Arbitrage-free SVI volatility
    # surfaces", section 5.1): a well-known smile with a negative density near k = 0.7
    p = (-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)
    g = butterfly_g(p, np.linspace(-1.5, 1.5, 301))
    assert g.min() < 0.0
    k_bad = np.linspace(-1.5, 1.5, 301)[np.argmin(g)]
    assert 0.5 < k_bad < 1.0
    # and a tame smile (the same shape, higher level) has none
    assert butterfly_g((0.04, 0.1, -0.5, 0.0, 0.2), np.linspace(-1.5, 1.5, 301)).min() > 0.0


def test_total_variance_matches_the_formula():
    p = (0.01, 0.2, -0.6, 0.05, 0.15)
    k = np.array([-0.4, 0.0, 0.05, 0.3])
    assert np.allclose(total_var(p, k), svi(p, k), rtol=0, atol=1e-15)
    # at k = m: a + b s
    assert total_var(p, 0.05) == pytest.approx(0.01 + 0.2 * 0.15, rel=1e-14)


# -- the fit on a planted smile --------------------------------------------------------------
def test_fit_recovers_a_planted_smile():
    T = 0.25
    true = (0.004, 0.06, -0.55, 0.02, 0.12)
    k = np.linspace(-0.35, 0.15, 60)
    iv = np.sqrt(svi(true, k) / T)
    fit = fit_expiry(0, T, k, iv, np.full(len(k), 100.0), [])
    assert fit.status == "fitted" and fit.fixed == ""
    assert fit.rmse_vol_pts < 0.01
    kk = np.linspace(-0.35, 0.15, 7)
    assert np.allclose(np.sqrt(svi(fit.params, kk) / T), np.sqrt(svi(true, kk) / T), atol=1e-4)


def test_fit_lifts_a_smile_below_an_earlier_one():
    # the later expiry quoted at less total variance than the earlier one: calendar
    # arbitrage in the quotes; the fit lifts its level until it is not below anywhere
    k = np.linspace(-0.2, 0.1, 40)
    early = fit_expiry(0, 0.10, k, np.sqrt(svi((0.004, 0.03, -0.5, 0.0, 0.1), k) / 0.10),
                       np.full(len(k), 100.0), [])
    later_iv = np.sqrt((svi((0.004, 0.03, -0.5, 0.0, 0.1), k) - 0.0005) / 0.11)
    later = fit_expiry(1, 0.11, k, later_iv, np.full(len(k), 100.0), [early])
    assert later.status == "fitted" and "lifted" in later.fixed
    kc = calendar_grid(later, early)
    assert np.all(svi(later.params, kc) >= svi(early.params, kc))


def test_too_few_points_is_no_smile():
    k = np.linspace(-0.1, 0.1, MIN_POINTS - 1)
    fit = fit_expiry(0, 0.1, k, np.full(len(k), 0.2), np.ones(len(k)), [])
    assert fit.params is None and fit.status == "too_few_quotes"


# -- a hand-built book: which quotes take the smile's IV -------------------------------------
def hand_book(smile_on=True):
    ns = np.datetime64("2026-09-18T20:00", "ns").astype(np.int64)
    now = ns - int(0.25 * 365 * 86400e9)
    strikes = np.array([90.0, 100.0, 110.0, 100.0])
    is_call = np.array([False, False, True, True])
    chain = Chain(
        underlying="TEST", spot=100.0, as_of_ns=now, strike=strikes, is_call=is_call,
        root=np.array(["TEST"] * 4, dtype=object),
        expiry=np.array(["2026-09-18"] * 4, dtype="datetime64[D]"),
        settle_ns=np.full(4, ns), am_settled=np.zeros(4, dtype=bool),
        bid=np.array([0.0, 3.9, 1.0, 3.9]), ask=np.array([2.0, 4.1, 4.0, 4.1]),
        oi=np.array([10.0, 10.0, 10.0, 10.0]),
        vendor_delta=np.full(4, np.nan), vendor_gamma=np.full(4, np.nan),
        vendor_iv=np.full(4, np.nan))
    return Book(chain, rate=0.0, smile=smile_on)


def test_zero_bid_and_wide_quotes_take_the_smile_iv():
    b = hand_book()
    assert b.smile_fits[0].params is None  # 4 quotes: too few to fit a smile
    # no smile: the zero-bid put (bid 0, ask 2.0) and the wide call (1.0 x 4.0) keep
    # their own mids, counted as such
    order = {(b.c.strike[i], bool(b.c.is_call[i])): i for i in range(4)}
    zero_bid, wide = order[(90.0, False)], order[(110.0, True)]
    two_sided = order[(100.0, True)]
    assert b.c.iv_source[zero_bid] == st.IV_WIDE_QUOTE
    assert b.c.iv_source[wide] == st.IV_WIDE_QUOTE
    assert b.c.iv_source[two_sided] == st.IV_QUOTE
    own_mid_iv = b.c.iv[two_sided]
    # a smile set by hand: flat 25 % variance-wise (w = a T with b = 0)
    b.G[SVI_A, 0], b.G[SVI_B, 0] = 0.25 ** 2, 0.0
    b.G[SVI_RHO, 0], b.G[SVI_M, 0], b.G[SVI_S, 0] = 0.0, 0.0, 0.1
    b.evaluate()
    assert b.c.iv[zero_bid] == pytest.approx(0.25, rel=1e-12)
    assert b.c.iv[wide] == pytest.approx(0.25, rel=1e-12)
    assert b.c.iv_source[zero_bid] == st.IV_SMILE
    # a sane two-sided quote keeps its own mid's IV
    assert b.c.iv[two_sided] == pytest.approx(own_mid_iv, rel=1e-12)
    assert b.iv_source_counts() == {"quote_mid": 2, "smile": 2}
    # the incremental path agrees: the put turns two-sided -> its own mid
    b.update_quote(zero_bid, 0.30, 0.34)
    assert b.c.iv_source[zero_bid] == st.IV_QUOTE
    assert b.c.iv[zero_bid] != pytest.approx(0.25, abs=1e-3)
    b.update_quote(zero_bid, 0.0, 2.5)  # the smile's price (1.32) inside [0, 2.5]
    assert b.c.iv[zero_bid] == pytest.approx(0.25, rel=1e-12)


def test_smile_off_gives_every_quote_its_own_mid():
    b = hand_book(smile_on=False)
    assert b.smile_fits == []
    assert set(b.c.iv_source[b.c.status == st.OK]) <= {st.IV_QUOTE, st.IV_WIDE_QUOTE}


# -- real chains -----------------------------------------------------------------------------
@pytest.fixture(scope="module", params=REAL, ids=lambda p: p.name)
def real(request):
    return Book(load_chain(request.param))


def test_fitted_ivs_stay_near_the_two_sided_mid_ivs(real):
    errs = []
    for f in real.smile_fits:
        if f.params is None:
            continue
        k, iv, _ = fit_points(real, f.group)
        errs.append(100.0 * (np.sqrt(svi(f.params, k) / f.T) - iv))
    e = np.abs(np.concatenate(errs))
    assert np.median(e) <= 0.5
    assert np.quantile(e, 0.95) <= 1.5


def test_accepted_smiles_are_free_of_butterfly_and_calendar_arbitrage(real):
    fitted = [f for f in real.smile_fits if f.params is not None]
    enough = [f for f in real.smile_fits if f.status != "expired" and f.n_points >= MIN_POINTS]
    assert len(fitted) >= 0.85 * len(enough) and len(fitted) >= 10
    for f in fitted:
        kg = grid(f)
        w = svi(f.params, kg)
        assert np.all(w > 0.0)
        assert np.all(butterfly_g(f.params, kg) >= 0.0), f
        a, b, rho, m, s = f.params
        assert b * (1 + abs(rho)) <= 2.0 * (1 + 1e-12)  # Lee: wing slopes of w at most 2
    for i, early in enumerate(fitted):  # every pair, earlier settlement first
        for late in fitted[i + 1:]:
            kc = calendar_grid(late, early)
            assert np.all(svi(late.params, kc) >= svi(early.params, kc)), (early, late)


def test_one_sided_share_is_counted_and_takes_the_smile(real):
    counts = real.iv_source_counts()
    ok = int((real.c.status == st.OK).sum())
    assert sum(counts.values()) == ok
    c = real.c
    ok_rows = c.status == st.OK
    one_sided = ok_rows & ((c.bid <= 0) | (c.ask - c.bid > 0.5 * 0.5 * (c.bid + c.ask)))
    has = np.array([f.params is not None for f in real.smile_fits])[c.group]
    on_smile = (c.iv_source == st.IV_SMILE) | (c.iv_source == st.IV_SMILE_AT_BOUND)
    # every one-sided or wide quote of an expiry with a smile takes the smile's IV (held
    # inside its own quote: tests/core/test_smile_in_market.py) ...
    assert np.all(on_smile[one_sided & has])
    assert counts["smile"] + counts.get("smile_at_bound", 0) == int((one_sided & has).sum()) > 0
    # ... and none of the sane two-sided ones does
    assert not np.any(on_smile[ok_rows & ~one_sided])
    assert math.isclose(counts.get("wide_quote_mid", 0), int((one_sided & ~has).sum()))


# -- whatif on the smile: sticky moneyness ---------------------------------------------------
def _set_smile(b, a, bb, rho, m, s):
    b.G[SVI_A, 0], b.G[SVI_B, 0], b.G[SVI_RHO, 0], b.G[SVI_M, 0], b.G[SVI_S, 0] = a, bb, rho, m, s
    b.evaluate()


def _ql_delta(S, F, K, T, sig, df, is_call):
    import QuantLib as ql
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, float(K))
    return ql.BlackCalculator(payoff, float(F), float(sig * math.sqrt(T)), float(df)).delta(S)


def test_sticky_moneyness_shifts_each_iv_by_the_smile_move():
    from monitor.core.scenarios import hedge_flow

    b = hand_book()
    p = (0.04, 0.1, -0.9, 0.0, 0.1)  # implied variance: a steep put skew
    _set_smile(b, *p)
    c, g = b.c, b.g
    S, F0, T, df = b.spot, g.fwd[0], g.T[0], g.df[0]
    F1, S1 = F0 * 0.98, S * 0.98  # spot -2 %, no time passing: the forward scales with spot
    vol = lambda k: math.sqrt(svi(p, k))  # noqa: E731
    expected = 0.0
    for i in np.flatnonzero(c.status == st.OK):
        K = c.strike[i]
        sig1 = c.iv[i] + vol(math.log(K / F1)) - vol(math.log(K / F0))
        d0 = _ql_delta(S, F0, K, T, c.iv[i], df, c.is_call[i])
        d1 = _ql_delta(S1, F1, K, T, sig1, df, c.is_call[i])
        expected -= c.pos[i] * b.multiplier * (d1 - d0) * S
    got = hedge_flow(b, -2.0, surface="sticky_moneyness")
    assert got.flow_usd == pytest.approx(expected, rel=1e-9)
    assert got.surface == "sticky_moneyness"
    # the skew makes the difference: the flow is not the sticky-strike one
    assert abs(got.flow_usd - hedge_flow(b, -2.0).flow_usd) > 1e-3 * abs(expected)


def test_sticky_moneyness_on_a_flat_smile_is_sticky_strike():
    from monitor.core.scenarios import hedge_flow

    b = hand_book()
    _set_smile(b, 0.04, 0.0, 0.0, 0.0, 0.1)
    for pct in (-5.0, -1.0, 2.0):
        assert hedge_flow(b, pct, surface="sticky_moneyness").flow_usd == pytest.approx(
            hedge_flow(b, pct).flow_usd, rel=1e-12)
    with pytest.raises(ValueError, match="surface must be one of"):
        hedge_flow(b, -1.0, surface="sticky_delta")


def test_regimes_read_atm_iv_and_skew_off_the_smile():
    from scipy.optimize import brentq

    from monitor.core.surface import surface_point

    b = hand_book()
    c = b.c
    near = np.flatnonzero((c.iv_source == st.IV_QUOTE) & (c.status == st.OK))  # 100 P and C

    def shift(p):  # the re-levelling: quote ATM IV (both quotes at K = F here) minus smile
        k = np.log(c.strike[near] / b.g.fwd[0])
        return float(np.median(c.iv[near] - np.sqrt(svi(p, k))))

    flat = (0.25 ** 2, 0.0, 0.0, 0.0, 0.1)  # flat 25 %
    _set_smile(b, *flat)
    sp = surface_point(b)
    assert sp.source == "smile"
    assert sp.atm_iv == pytest.approx(0.25 + shift(flat), rel=1e-12)
    assert sp.skew_pts == pytest.approx(0.0, abs=1e-9)
    p = (0.03, 0.08, -0.8, 0.02, 0.15)
    _set_smile(b, *p)
    sp = surface_point(b)
    assert sp.atm_iv == pytest.approx(math.sqrt(svi(p, 0.0)) + shift(p), rel=1e-12)
    assert sp.skew_pts > 0  # puts richer on a negative-rho smile
    # the 25-delta put: the strike where the smile's IV is put25 (left wing) has delta -0.25
    F, T, df = b.g.fwd[0], b.g.T[0], b.g.df[0]
    k = brentq(lambda x: math.sqrt(svi(p, x)) + shift(p) - sp.put25_iv, -1.5, 0.0)
    delta = _ql_delta(b.spot, F, F * math.exp(k), T, sp.put25_iv, df, False)
    assert delta == pytest.approx(-0.25, abs=2e-3)


def test_regimes_see_iv_move_between_smile_refits():
    """The smile is refitted only every smile_refit_s: between refits the ATM IV the
    regimes read follows the two-sided quotes near the money (re-levelled smile)."""
    from monitor.core.surface import surface_point

    b = hand_book()
    _set_smile(b, 0.20 ** 2, 0.0, 0.0, 0.0, 0.1)  # flat 20 %, while the quotes say otherwise
    c = b.c
    atm_rows = np.flatnonzero((c.iv_source == st.IV_QUOTE) & (c.status == st.OK))
    assert len(atm_rows) == 2  # the 100 put and call, both two-sided
    before = surface_point(b)
    assert before.atm_iv == pytest.approx(np.median(c.iv[atm_rows]), rel=1e-12)
    # the ATM quotes move up: the read-off ATM IV moves with them, the smile untouched
    for i in atm_rows:
        b.update_quote(i, c.bid[i] * 1.2, c.ask[i] * 1.2)
    after = surface_point(b)
    assert after.atm_iv == pytest.approx(np.median(c.iv[atm_rows]), rel=1e-12)
    assert after.atm_iv > before.atm_iv + 0.02
    assert b.G[SVI_A, 0] == 0.20 ** 2
