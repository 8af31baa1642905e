"""A contract priced off its expiry's smile stays inside its own market: its model price lies
within [bid, ask] (a zero bid bounds it above only); where the smile's IV would price it
outside, the IV is the one at that bound (``iv_source`` ``smile_at_bound``). And the fit
never leaves a listed strike without an IV: no ``iv_no_converge`` comes from the smile.
"""

import math

import numpy as np
import pytest
from scipy.stats import norm

from monitor.chain.loaders import load_chain
from monitor.chain.model import Chain
from monitor.core import status as st
from monitor.core.black76 import price
from monitor.core.book import Book
from monitor.core.layout import SVI_A, SVI_B, SVI_M, SVI_RHO, SVI_S
from monitor.core.smile_fit import MIN_VOL, min_total_var
from tests.data_paths import DATA_DIR

EOD = DATA_DIR / "cboe_chain_eod_2026" / "SPX"
# 22:53 UTC on Thursday 2026-07-16: the eve of the AM-settled July monthly (09:30 ET Friday)
EVE_OF_MONTHLY = EOD / "SPX_2026-07-16.csv.gz"
ON_SMILE = (st.IV_SMILE, st.IV_SMILE_AT_BOUND)


def _bs_iv(price_, F, K, T, df, is_call):
    """IV by vollib's Let's Be Rational (the independent oracle)."""
    from vollib.black import implied_volatility

    r = -math.log(df) / T
    return implied_volatility.implied_volatility(price_, F, K, r, T, "c" if is_call else "p")


def flat_smile_book(bids, asks, strikes, is_call, vol=0.25):
    """One expiry, 0.25 years out, spot = forward = 100, rate 0, and a flat smile set by
    hand at ``vol``."""
    n = len(strikes)
    ns = np.datetime64("2026-09-18T20:00", "ns").astype(np.int64)
    now = ns - int(0.25 * 365 * 86400e9)
    chain = Chain(
        underlying="TEST", spot=100.0, as_of_ns=now, strike=np.array(strikes, float),
        is_call=np.array(is_call), root=np.array(["TEST"] * n, dtype=object),
        expiry=np.array(["2026-09-18"] * n, dtype="datetime64[D]"),
        settle_ns=np.full(n, ns), am_settled=np.zeros(n, dtype=bool),
        bid=np.array(bids, float), ask=np.array(asks, float), oi=np.full(n, 10.0),
        vendor_delta=np.full(n, np.nan), vendor_gamma=np.full(n, np.nan),
        vendor_iv=np.full(n, np.nan))
    b = Book(chain, rate=0.0)
    b.G[SVI_A, 0], b.G[SVI_B, 0] = vol ** 2, 0.0
    b.G[SVI_RHO, 0], b.G[SVI_M, 0], b.G[SVI_S, 0] = 0.0, 0.0, 0.1
    b.evaluate()
    return b


def test_hand_cases_above_the_ask_below_the_bid_and_inside():
    # Black-76 at 25 %, F = 100, T = 0.25, r = 0 (by hand, Hull's formula):
    # put 90: 1.319; call 110: 1.681; call 120: 0.440 (vollib.black agrees)
    b = flat_smile_book(bids=[0.0, 2.0, 0.0], asks=[1.20, 9.0, 3.0],
                        strikes=[90.0, 110.0, 120.0], is_call=[False, True, True])
    row = {(float(b.c.strike[i]), bool(b.c.is_call[i])): i for i in range(3)}
    above, below, inside = row[(90.0, False)], row[(110.0, True)], row[(120.0, True)]
    F, T = float(b.g.fwd[0]), float(b.g.T[0])
    assert F == pytest.approx(100.0, rel=1e-12)  # no parity pair: S exp((r - q) T), r = q = 0
    # the zero-bid put: the smile prices it at 1.319, just above its 1.20 ask -> the IV of
    # the ask (a price just past a bound is judged by it)
    assert b.c.iv_source[above] == st.IV_SMILE_AT_BOUND
    assert b.c.iv[above] == pytest.approx(_bs_iv(1.20, F, 90.0, T, 1.0, False), rel=1e-9)
    assert b.c.iv[above] < 0.25
    # the wide call (2.0 x 9.0): 1.68 < its bid -> the IV of the bid
    assert b.c.iv_source[below] == st.IV_SMILE_AT_BOUND
    assert b.c.iv[below] == pytest.approx(_bs_iv(2.0, F, 110.0, T, 1.0, True), rel=1e-9)
    assert b.c.iv[below] > 0.25
    # the zero-bid call inside [0, 3.0]: the smile's own 25 %
    assert b.c.iv_source[inside] == st.IV_SMILE
    assert b.c.iv[inside] == pytest.approx(0.25, rel=1e-12)
    assert b.iv_source_counts() == {"smile": 1, "smile_at_bound": 2}
    # the incremental path applies the same rule, both ways
    b.update_quote(inside, 0.0, 0.20)  # 0.440 > 0.20: now at the ask
    assert b.c.iv_source[inside] == st.IV_SMILE_AT_BOUND
    assert b.c.iv[inside] == pytest.approx(_bs_iv(0.20, F, 120.0, T, 1.0, True), rel=1e-9)
    b.update_quote(above, 0.0, 2.0)  # 1.319 inside [0, 2.0]: back on the smile
    assert b.c.iv_source[above] == st.IV_SMILE
    assert b.c.iv[above] == pytest.approx(0.25, rel=1e-12)
    whole = b.copy()
    whole.evaluate(warm=False)
    assert np.array_equal(whole.c.iv_source, b.c.iv_source)
    assert np.allclose(whole.c.iv, b.c.iv, rtol=1e-12, atol=0)


def test_a_smile_at_a_bound_below_intrinsic_is_the_quotes_own_rejection():
    # a deep ITM call quoted 0 x 5 when intrinsic is 20: the smile prices it above the ask,
    # and the ask itself is below intrinsic: rejected as the quote's own fault, never a
    # silent IV
    b = flat_smile_book(bids=[0.0], asks=[5.0], strikes=[80.0], is_call=[True])
    assert b.c.status[0] == st.BELOW_INTRINSIC
    assert b.totals["gex_usd_per_pct"] == 0.0


@pytest.fixture(scope="module")
def eve():
    return Book(load_chain(EVE_OF_MONTHLY))


def _contract_prices(b, rows):
    c, g = b.c, b.g
    j = c.group[rows]
    return np.array([price(g.fwd[jj], c.strike[i], g.T[jj], c.iv[i], g.df[jj], c.is_call[i])
                     for i, jj in zip(rows, j)])


def test_eve_of_monthly_smile_prices_stay_inside_every_quote(eve):
    c = eve.c
    on = np.flatnonzero((c.status == st.OK) & np.isin(c.iv_source, ON_SMILE))
    p = _contract_prices(eve, on)
    bid, ask = c.bid[on], c.ask[on]
    assert np.all(p <= ask * (1 + 1e-9)), "a smile price above its ask"
    assert np.all((bid <= 0) | (p >= bid * (1 - 1e-9))), "a smile price below its bid"
    counts = eve.iv_source_counts()
    assert counts["smile_at_bound"] > 100  # the eve's zero-bid wings: 622 on this file
    assert counts["smile"] > 100
    # the monthly itself (settling 09:30 ET tomorrow) has contracts at the bound
    monthly = np.flatnonzero(eve.group_am & (eve.g.T > 0))[0]
    assert np.any((c.group == monthly) & (c.iv_source == st.IV_SMILE_AT_BOUND))
    assert "iv_no_converge" not in eve.status_counts()


def test_eve_of_monthly_what_the_bound_changes(eve):
    """How much CEX and the one-day flow of the at-bound contracts move against the
    unclamped smile (Black-76 by hand with scipy, per REFERENCE.md's charm), printed;
    the clamp lowers the IV of contracts above their ask and raises it below their bid."""
    c, g, G = eve.c, eve.g, eve.G
    rows = np.flatnonzero((c.status == st.OK) & (c.iv_source == st.IV_SMILE_AT_BOUND))
    j = c.group[rows]
    F, T, df, K = g.fwd[j], g.T[j], g.df[j], c.strike[rows]
    k = np.log(K / F)
    d = k - G[SVI_M, j]
    smile_iv = np.sqrt(G[SVI_A, j] + G[SVI_B, j] * (G[SVI_RHO, j] * d
                                                  + np.sqrt(d * d + G[SVI_S, j] ** 2)))
    p_smile = np.array([price(F[n], K[n], T[n], smile_iv[n], df[n], c.is_call[i])
                        for n, i in enumerate(rows)])
    over = p_smile > c.ask[rows]
    assert np.all(c.iv[rows][over] < smile_iv[over])
    assert np.all(c.iv[rows][~over] > smile_iv[~over])
    S, M = eve.spot, eve.multiplier
    a = F * df / S  # exp(-q T) with the parity forward

    def delta(sig, t):
        d1 = (np.log(F / K) + 0.5 * sig * sig * t) / (sig * np.sqrt(t))
        return np.where(c.is_call[rows], a * norm.cdf(d1), -a * norm.cdf(-d1))

    def charm_cex(sig):
        s = sig * np.sqrt(T)
        d1 = -k / s + 0.5 * s
        d2 = d1 - s
        r = -np.log(df) / T
        q = r - np.log(F / S) / T
        ch = -a * norm.pdf(d1) * (2 * (r - q) * T - d2 * s) / (2 * T * s)
        ch = ch + np.where(c.is_call[rows], q * a * norm.cdf(d1), -q * a * norm.cdf(-d1))
        return c.pos[rows] * M * ch * S / 365.0

    day = 1.0 / 365.0
    left = np.maximum(T - day, 60.0 / (365 * 86400))

    def day_flow(sig):
        return -(c.pos[rows] * M * (delta(sig, left) - delta(sig, T)) * S)

    cex_bound = float(np.sum(charm_cex(c.iv[rows])))
    cex_smile = float(np.sum(charm_cex(smile_iv)))
    # the kernel's own CEX of these rows agrees with the hand formula at the clamped IV
    assert cex_bound == pytest.approx(float(c.cex[rows].sum()), rel=1e-6)
    flow_bound, flow_smile = float(np.sum(day_flow(c.iv[rows]))), float(np.sum(day_flow(smile_iv)))
    total_cex = eve.totals["cex_usd_per_day"]
    print(f"\n{EVE_OF_MONTHLY.name}: {len(rows)} contracts at the bound; their CEX "
          f"{cex_bound / 1e9:+.3f}bn (unclamped smile {cex_smile / 1e9:+.3f}bn; book total "
          f"{total_cex / 1e9:+.3f}bn); their +1 day flow {flow_bound / 1e9:+.3f}bn "
          f"(unclamped {flow_smile / 1e9:+.3f}bn)")
    assert cex_bound != pytest.approx(cex_smile, rel=1e-3)


def _real_chains():
    q = DATA_DIR / "cboe_quotedata" / "spx"
    return sorted(EOD.glob("SPX_*.csv.gz")) + sorted(q.glob("SPX_quotedata_*.csv.gz"))


@pytest.fixture(scope="module")
def spx_books():
    """Every 2026 daily SPX file and every SPX quotedata file, as books (built once)."""
    files = _real_chains()
    assert len(files) >= 44 + 20
    return [(f, Book(load_chain(f))) for f in files]


def test_no_iv_no_converge_from_the_fit_on_any_spx_file(spx_books):
    """No contract rejected as ``iv_no_converge``, every accepted smile's variance
    positive everywhere (its lowest implied vol at least MIN_VOL), and every smile-priced
    contract inside its quote."""
    for f, b in spx_books:
        assert "iv_no_converge" not in b.status_counts(), f.name
        for fit in b.smile_fits:
            if fit.params is not None:
                assert math.sqrt(min_total_var(fit.params) / fit.T) >= MIN_VOL * (1 - 1e-9), f.name
        c = b.c
        on = np.flatnonzero((c.status == st.OK) & np.isin(c.iv_source, ON_SMILE))
        p = _contract_prices(b, on)
        assert np.all(p <= c.ask[on] * (1 + 1e-9)), f.name
        assert np.all((c.bid[on] <= 0) | (p >= c.bid[on] * (1 - 1e-9))), f.name


def test_walls_on_their_side_of_spot_on_every_spx_file(spx_books):
    """The call wall at or above spot and the put wall at or below it, on every file;
    the unrestricted maxima (kept) sit on the wrong side on many of the 2026 files (the
    8000 strike), which is why the walls are restricted."""
    from monitor.core import levels

    wrong_side = 0
    for f, b in spx_books:
        cw, pw = levels.walls(b)
        assert cw is not None and cw >= b.spot, (f.name, cw, b.spot)
        assert pw is not None and pw <= b.spot, (f.name, pw, b.spot)
        ca, pa = levels.walls(b, any_strike=True)
        wrong_side += (ca < b.spot) or (pa > b.spot)
        # the restricted wall is the any-strike one whenever that one is on its side
        assert (ca < b.spot) or ca == cw
        assert (pa > b.spot) or pa == pw
    print(f"\nany-strike walls on the wrong side of spot: {wrong_side} of {len(spx_books)} files")
    assert wrong_side >= 20
