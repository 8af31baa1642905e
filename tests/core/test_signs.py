"""Hand-computed single-contract cases: every Greek, every exposure, every sign.

Reference point: S = F = K = 100, T = 1 year, sigma = 20 %, r = q = 0, multiplier 100.
Then d1 = 0.1, d2 = -0.1 and (standard normal tables)
N(0.1) = 0.539827837277029, phi(0.1) = 0.396952547477012, so by hand:

    call delta  = N(d1)                    = 0.539827837
    put delta   = N(d1) - 1                = -0.460172163
    gamma       = phi / (S sigma sqrt T)   = 0.019847627
    vega        = S phi sqrt T             = 39.695254748  (per 1.00 of vol)
    vanna       = -phi d2 / sigma          = +0.198476274
    charm(call) = -phi (2(r-q)T - d2 s) / (2 T s) = -phi * 0.02 / 0.4 = -0.019847627 / yr
"""

import math

import numpy as np
import pytest

from monitor.core.book import Book
from monitor.core.scenarios import hedge_flow
from tests.synth import make_chain

N1 = 0.539827837277029
PHI1 = 0.396952547477012
GAMMA = PHI1 / 20.0
VEGA = 100.0 * PHI1
VANNA = PHI1 * 0.1 / 0.2
CHARM_CALL = -PHI1 * 0.02 / 0.4


def one(strike=100.0, is_call=True, oi=1.0, model="classic", sigma=0.2, years=1.0, spot=100.0,
        r=0.0, q=0.0):
    chain = make_chain([(strike, years, is_call, sigma, oi)], spot=spot, r=r, q=q)
    return Book(chain, model=model, multiplier=100.0, rate=r, div_yield=q)


def test_single_call_greeks_by_hand():
    b = one()
    assert b.c.status[0] == 0
    assert b.c.iv[0] == pytest.approx(0.2, rel=1e-10)
    assert b.c.delta[0] == pytest.approx(N1, rel=1e-9)
    assert b.c.gamma[0] == pytest.approx(GAMMA, rel=1e-9)
    assert b.c.vega[0] == pytest.approx(VEGA, rel=1e-9)
    assert b.c.vanna[0] == pytest.approx(VANNA, rel=1e-9)
    assert b.c.charm[0] == pytest.approx(CHARM_CALL, rel=1e-8)


def test_single_put_greeks_by_hand():
    b = one(is_call=False)
    assert b.c.delta[0] == pytest.approx(N1 - 1.0, rel=1e-9)
    assert b.c.gamma[0] == pytest.approx(GAMMA, rel=1e-9)  # same as the call
    assert b.c.vanna[0] == pytest.approx(VANNA, rel=1e-9)  # same as the call
    # with r = q = 0 the put's charm equals the call's
    assert b.c.charm[0] == pytest.approx(CHARM_CALL, rel=1e-8)


def test_classic_model_dealer_short_one_put_exposures():
    """Dealer short 1 ATM put (classic: n = -OI for puts), M = 100, S = 100."""
    b = one(is_call=False)
    t = b.totals
    # DEX = n M delta S = -1 * 100 * (-0.460172) * 100 = +4601.72 (short put = long delta)
    assert t["dex_usd"] == pytest.approx(4601.72163, rel=1e-7)
    # GEX = n M gamma S^2 0.01 = -1 * 100 * 0.0198476 * 100 = -198.476 $ per 1 %
    assert t["gex_usd_per_pct"] == pytest.approx(-198.476274, rel=1e-7)
    # VEX = n M vanna S 0.01 = -1 * 100 * 0.198476 * 1 = -19.8476 $ per vol point
    assert t["vex_usd_per_vol_pt"] == pytest.approx(-19.8476274, rel=1e-7)
    # CEX = n M charm S / 365 = -1 * 100 * (-0.0198476) * 100 / 365 = +0.543771 $ per day
    assert t["cex_usd_per_day"] == pytest.approx(0.5437706, rel=1e-6)


def test_dealer_short_put_spot_up_one_pct_dealers_buy():
    """Short gamma: a 1 % rise forces the dealers to BUY about $198 (linear)."""
    b = one(is_call=False)
    f = hedge_flow(b, spot_pct=1.0)
    assert f.flow_usd_linear == pytest.approx(198.476274, rel=1e-7)
    assert f.flow_usd > 0
    # full revaluation, by hand: the put delta at S = 101 with the same sigma
    d1 = (math.log(101.0 / 100.0) + 0.02) / 0.2
    put_delta_up = 0.5 * (1 + math.erf(d1 / math.sqrt(2))) - 1.0
    expected_shares = 100.0 * (put_delta_up - (N1 - 1.0))  # -n M (delta' - delta), n = -1
    assert f.flow_shares == pytest.approx(expected_shares, rel=1e-9)
    assert f.flow_usd == pytest.approx(expected_shares * 100.0, rel=1e-9)


def test_dealer_short_put_spot_down_two_pct_dealers_sell():
    f = hedge_flow(one(is_call=False), spot_pct=-2.0)
    assert f.flow_usd_linear == pytest.approx(-2 * 198.476274, rel=1e-7)
    assert f.flow_usd < 0


def test_dealer_long_call_long_gamma_sells_rallies_buys_dips():
    b = one(is_call=True)  # classic: dealers long calls
    assert b.totals["gex_usd_per_pct"] == pytest.approx(198.476274, rel=1e-7)
    assert hedge_flow(b, spot_pct=2.0).flow_usd < 0
    assert hedge_flow(b, spot_pct=-2.0).flow_usd > 0


def test_short_all_model_flips_call_sign():
    b = one(is_call=True, model="short_all")
    assert b.totals["gex_usd_per_pct"] == pytest.approx(-198.476274, rel=1e-7)


def test_vanna_dealer_short_otm_put_vol_down_dealers_buy():
    """Short an OTM put (K = 90): vanna < 0, n = -1 so VEX > 0; IV falling -> dealers BUY."""
    b = one(strike=90.0, is_call=False)
    d1 = (math.log(100 / 90) + 0.02) / 0.2
    d2 = d1 - 0.2
    phi = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    vanna = -phi * d2 / 0.2
    assert vanna < 0
    assert b.c.vanna[0] == pytest.approx(vanna, rel=1e-9)
    vex = -1 * 100 * vanna * 100 * 0.01
    assert b.totals["vex_usd_per_vol_pt"] == pytest.approx(vex, rel=1e-9)
    down = hedge_flow(b, vol_pts=-2.0)
    assert down.flow_usd_linear == pytest.approx(2 * vex, rel=1e-9) and down.flow_usd > 0
    assert hedge_flow(b, vol_pts=+2.0).flow_usd < 0


def test_charm_dealer_short_otm_put_time_passing_dealers_buy():
    """An OTM put's delta decays toward 0: the short dealer's long delta shrinks, so one
    day passing makes the dealer BUY back hedge shares."""
    b = one(strike=90.0, is_call=False, years=30 / 365)
    assert b.c.charm[0] > 0  # put delta rises toward zero as time passes
    assert b.totals["cex_usd_per_day"] < 0
    f = hedge_flow(b, days=1.0)
    assert f.flow_usd > 0 and f.flow_usd_linear > 0
    assert f.flow_usd == pytest.approx(f.flow_usd_linear, rel=0.05)


def test_charm_with_carry_matches_finite_difference_of_delta():
    """r = 5 %, q = 2 %: charm is the calendar-time derivative of spot delta."""
    r, q, S, K, T, sig = 0.05, 0.02, 100.0, 105.0, 0.5, 0.25
    for is_call in (True, False):
        b = one(strike=K, is_call=is_call, sigma=sig, years=T, r=r, q=q)
        h = 1e-5

        def delta(t):
            F = S * math.exp((r - q) * t)
            s = sig * math.sqrt(t)
            d1 = (math.log(F / K) + 0.5 * s * s) / s
            n = 0.5 * (1 + math.erf(d1 / math.sqrt(2)))
            return math.exp(-q * t) * (n if is_call else n - 1.0)

        fd = (delta(T - h) - delta(T + h)) / (2 * h)  # t = -T
        assert b.c.charm[0] == pytest.approx(fd, rel=1e-6)


def test_expired_contract_has_no_greeks_and_is_counted():
    b = one(years=1.0)
    b.refresh(now_ns=int(b.group_settle_ns[0]) + 1)
    assert b.status_counts() == {"expired": 1}
    assert b.totals["gex_usd_per_pct"] == 0.0


def test_zero_dte_floor_keeps_greeks_finite():
    b = one(years=1.0)
    b.refresh(now_ns=int(b.group_settle_ns[0]) - 1_000_000_000)  # one second to settlement
    assert b.g.T[0] == pytest.approx(60.0 / (365 * 86400))
    assert b.c.status[0] == 0 and np.isfinite(b.c.gamma[0]) and b.c.gamma[0] > 0


@pytest.mark.parametrize("bid,ask,reason", [
    (float("nan"), 1.0, "no_quote"),
    (1.0, 0.0, "no_quote"),
    (2.0, 1.0, "crossed"),
    (-1.0, 5.0, "negative_price"),
    (0.001, 0.002, "below_intrinsic"),  # deep ITM call at 0.0015 < intrinsic 20
    (200.0, 200.0, "above_upper_bound"),  # call above the forward
])
def test_bad_quotes_are_counted_not_used(bid, ask, reason):
    b = one(strike=80.0)
    b.update_quote(0, bid, ask)
    assert b.status_counts() == {reason: 1}
    assert b.totals == {"dex_usd": 0.0, "gex_usd_per_pct": 0.0, "vex_usd_per_vol_pt": 0.0,
                        "cex_usd_per_day": 0.0}
    b.update_quote(0, 20.0, 21.0)  # the next good quote is applied
    assert b.status_counts() == {"ok": 1}


def test_days_scenario_revalues_with_the_shorter_discount_factor_and_carry():
    """r = 5 %, q = 2 %, 60 days passing: the contract is revalued at T - 60/365 with the
    forward keeping its carry per year and the discount factor of the shorter time
    (delta = e^{-q t} N(d1) written out here), not today's."""
    r, q, S, K, T, sig, days = 0.05, 0.02, 100.0, 95.0, 0.5, 0.25, 60.0
    b = one(strike=K, is_call=False, sigma=sig, years=T, r=r, q=q)  # dealer short 1 put

    def delta(t):
        F = S * math.exp((r - q) * t)
        s = sig * math.sqrt(t)
        d1 = (math.log(F / K) + 0.5 * s * s) / s
        return math.exp(-q * t) * (0.5 * (1 + math.erf(d1 / math.sqrt(2))) - 1.0)

    t1 = b.g.T[0] - days / 365.0
    expected = -b.c.pos[0] * 100.0 * (delta(t1) - delta(b.g.T[0])) * S
    assert hedge_flow(b, days=days).flow_usd == pytest.approx(expected, rel=1e-9)


def test_zero_gamma_is_found_across_the_whole_scan_range():
    """Dealers short a 100 put, long a 130 call: short gamma at spot 100, long near 130, so
    total GEX changes sign between: about 13 % above spot, inside the documented +-20 %
    scan (a narrower scan would report no flip)."""
    from monitor.core import levels

    chain = make_chain([(100.0, 0.25, False, 0.2, 1.0), (130.0, 0.25, True, 0.2, 1.0)])
    b = Book(chain, model="classic", multiplier=100.0, rate=0.0)
    assert b.totals["gex_usd_per_pct"] < 0
    zg = levels.zero_gamma(b)
    assert zg is not None and 110.0 < zg < 120.0
    below, above = levels.gex_curve(b, np.array([zg * 0.995, zg * 1.005]))
    assert below < 0 < above  # it is the sign change, not a local dip
