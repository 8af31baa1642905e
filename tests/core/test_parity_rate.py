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
