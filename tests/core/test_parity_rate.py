"""The discount factor from put-call parity: on real SPX chains the implied rate (median
over the expiries under a year that have one) lies within 1 pp of the Federal Reserve's
federal funds target of the day (upper bound of the FOMC's target range, a public record:
0.25 % until 2022-03-16, 1.00 % from 2022-05-04, 1.75 % from 2022-06-15, 4.75 % from
2023-02-01, 5.00 % from 2023-03-22, 5.25 % from 2023-05-03, 5.50 % from 2023-07-26, 4.50 %
from 2024-12-18). The band is wide on purpose: the options' rate is a term rate over each
expiry (it prices the hikes or cuts expected meanwhile) plus a funding spread. And by hand:
a synthetic chain priced at r = 3 % gives back 3 %."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.chain import load_chain
from monitor.core.book import Book
from tests.data_paths import QUOTEDATA_DIR
from tests.synth import AS_OF_NS as AS_OF
from tests.synth import make_chain

FULL_CHAINS = {  # file: target upper bound on the quotes' session, percent
    "SPX_quotedata_2022-02-05_2009.csv.gz": 0.25,
    "SPX_quotedata_2022-02-19_1617.csv.gz": 0.25,
    "SPX_quotedata_2022-06-11_2047.csv.gz": 1.00,
    "SPX_quotedata_2022-07-12_1155.csv.gz": 1.75,
    "SPX_quotedata_2023-02-07_1734.csv.gz": 4.75,
    "SPX_quotedata_2023-04-14_1912.csv.gz": 5.00,
    "SPX_quotedata_2023-05-23_1939.csv.gz": 5.25,
    "SPX_quotedata_2023-06-08_1956.csv.gz": 5.25,
    "SPX_quotedata_2023-09-14_1631.csv.gz": 5.50,
    "SPX_quotedata_2025-01-06_2048_febexp.csv.gz": 4.50,
}


@pytest.mark.parametrize("name,target_pct", sorted(FULL_CHAINS.items()))
def test_parity_rate_near_the_rate_of_the_day(name, target_pct):
    book = Book(load_chain(QUOTEDATA_DIR / "spx" / name))
    use = book.df_from_parity & (book.g.T > 0) & (book.g.T < 1.0)
    assert use.sum() >= 8, "a full chain has parity rates for most expiries"
    median_pct = 100 * float(np.median(book.implied_rates()[use]))
    assert abs(median_pct - target_pct) <= 1.0, (median_pct, target_pct)
    # the near expiries keep the configured rate (their slope is noise), and say so
    near = (book.g.T > 0) & (book.g.T < 14 / 365)
    assert not book.df_from_parity[near].any()
    assert np.allclose(book.implied_rates()[near], book.rate)


def test_parity_rate_by_hand_on_a_synthetic_chain():
    """Calls and puts at 21 strikes, 90 days out, priced at r = 3 %, q = 0 (synthetic)."""
    contracts = [(k, 90 / 365, cp, 0.2, 1.0) for k in np.arange(90.0, 111.0) for cp in (True, False)]
    book = Book(make_chain(contracts, r=0.03), rate=0.05)  # configured rate: wrong on purpose
    (j,) = np.flatnonzero(book.g.T > 0)
    assert book.df_from_parity[j]
    assert book.implied_rates()[j] == pytest.approx(0.03, abs=1e-6)
    assert book.g.fwd[j] == pytest.approx(100 * np.exp(0.03 * 90 / 365), rel=1e-6)


# -- exercise style and the configured term structure -------------------------------------------
def test_american_exercise_keeps_the_configured_rate_where_parity_gives_another():
    """The same synthetic chain priced at r = 3 %: an American-style book does not believe
    parity (early exercise breaks it) and keeps its configured 5 %, saying so."""
    contracts = [(k, 90 / 365, cp, 0.2, 1.0) for k in np.arange(90.0, 111.0) for cp in (True, False)]
    book = Book(make_chain(contracts, r=0.03), rate=0.05, european=False)
    (j,) = np.flatnonzero(book.g.T > 0)
    assert not book.df_from_parity[j]
    assert book.rate_sources()[j] == "configured"
    assert book.implied_rates()[j] == pytest.approx(0.05, abs=1e-12)
    assert book.g.df[j] == pytest.approx(np.exp(-0.05 * 90 / 365), rel=1e-12)


def test_term_structure_interpolates_linearly_in_days_and_is_flat_beyond():
    """Expiries at 10, 90 and 730 days on a curve {30: 3 %, 365: 5 %}: 3 % (flat below),
    3 % + 60/335 x 2 % = 3.35821 % (by hand), 5 % (flat above)."""
    contracts = [(k, d / 365, cp, 0.2, 1.0) for d in (10, 90, 730)
                 for k in (95.0, 100.0, 105.0) for cp in (True, False)]
    book = Book(make_chain(contracts, r=0.03), rate=0.99, european=False,
                rates=((365.0, 0.05), (30.0, 0.03)))
    live = np.flatnonzero(book.g.T > 0)
    assert list(np.round(book.g.T[live] * 365)) == [10, 90, 730]
    got = book.implied_rates()[live]
    assert got == pytest.approx([0.03, 0.03 + 60 / 335 * 0.02, 0.05], abs=1e-12)
    assert book.rate_sources() == ["configured"] * 3


def test_forward_tie_break_is_the_strike_nearer_spot_then_the_lower():
    """Two pairs with the same |C - P| = 4 and one pair taken (parity_pairs 1), rate 0:
    K 95 with C - P = +4 gives F = 99, K 105 with C - P = -4 gives F = 101. Spot 100: both
    5 away, the lower strike wins (99); spot 101: 105 is nearer (101). Rows in any order."""
    from monitor.chain.model import Chain

    def book(spot, perm):
        strike = np.array([95.0, 95.0, 105.0, 105.0])[perm]
        is_call = np.array([True, False, True, False])[perm]
        mid = np.array([6.0, 2.0, 2.0, 6.0])[perm]
        settle = AS_OF + int(30 / 365 * 365 * 86400e9)
        n = 4
        chain = Chain(underlying="TEST", spot=spot, as_of_ns=AS_OF,
                      root=np.array(["TEST"] * n, dtype=object),
                      expiry=np.full(n, np.datetime64(settle // 86400_000_000_000, "D")),
                      settle_ns=np.full(n, settle), am_settled=np.zeros(n, bool),
                      strike=strike, is_call=is_call, bid=mid - 0.05, ask=mid + 0.05,
                      oi=np.ones(n), vendor_iv=np.full(n, np.nan),
                      vendor_delta=np.full(n, np.nan), vendor_gamma=np.full(n, np.nan))
        return Book(chain, rate=0.0, parity_pairs=1, smile=False)

    rng = np.random.default_rng(3)
    for _ in range(6):
        perm = rng.permutation(4)
        assert book(100.0, perm).g.fwd[0] == pytest.approx(99.0, abs=1e-12)
        assert book(101.0, perm).g.fwd[0] == pytest.approx(101.0, abs=1e-12)


# American-style chains where parity, if believed, gives rates far from the policy rate of
# the day (5.25-5.50 % in 2023): SPY 2023-09-14 -0.21 %..2.86 %, SPY 2023-04-14 -0.78 %..2.70 %,
# AMD 2023-08-20 -0.43 % and 0.87 % (no QQQ chain is at hand)
AMERICAN = ["spy/SPY_quotedata_2023-09-14_1631.csv.gz", "spy/SPY_quotedata_2023-04-14_1915.csv.gz",
            "other/AMD_quotedata_2023-08-20_2235.csv.gz"]


@pytest.mark.parametrize("name", AMERICAN)
def test_american_style_chains_take_the_configured_rate_for_every_expiry(name):
    """SPY and a single stock under the packaged configuration: every live expiry's
    rate_source is ``configured`` and its rate is pricing.rate; the same chain read as
    European would have believed parity somewhere, at a rate below 3 %."""
    from monitor.books import book_for_chain
    from monitor.config import load_settings
    from monitor.snapshot import build_snapshot

    settings = load_settings()
    chain = load_chain(QUOTEDATA_DIR / name)
    as_european = Book(chain, european=True)
    believed = as_european.df_from_parity & (as_european.g.T > 0)
    assert believed.any() and np.all(as_european.implied_rates()[believed] < 0.03)
    book = book_for_chain(chain, settings)
    assert not book.european
    snap = build_snapshot(book)
    assert snap["exercise"] == "american" and snap["rates_from_parity"] == 0
    assert len(snap["by_expiry"]) >= 10
    for row in snap["by_expiry"]:
        assert row["rate_source"] == "configured", row
        assert row["rate"] == pytest.approx(settings.pricing.rate, abs=1e-12)


def test_spx_keeps_parity_rates_inside_the_band():
    from monitor.books import book_for_chain
    from monitor.config import load_settings
    from monitor.core.forwards import DF_RATE_BOUNDS
    from monitor.snapshot import build_snapshot

    book = book_for_chain(load_chain(QUOTEDATA_DIR / "spx" / "SPX_quotedata_2023-09-14_1631.csv.gz"),
                          load_settings())
    snap = build_snapshot(book)
    assert snap["exercise"] == "european"
    parity = [r for r in snap["by_expiry"] if r["rate_source"] == "parity"]
    assert len(parity) >= 8
    assert all(DF_RATE_BOUNDS[0] <= r["rate"] <= DF_RATE_BOUNDS[1] for r in parity)
    assert all(r["rate_from_parity"] for r in parity)
