"""Other vendors' chains through a column mapping (monitor/chain/mapped.py): the packaged
real SPX chain (CBOE, 2026-08-21) written in a vendor's column layout (Polygon-style
flattened snapshot columns, IV in percent; the layout is synthetic, the numbers real), as
CSV and as Parquet, reads to exactly the chain the long layout reads from the same rows;
a file no layout or mapping accepts is refused naming them all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.chain import load_chain
from monitor.chain.model import ChainError
from monitor.config import Settings

PACKAGED = "monitor/data/SPX_2026-08-21.csv.gz"
POLYGON = {"expiration": "details.expiration_date", "strike": "details.strike_price",
           "type": "details.contract_type", "open_interest": "open_interest",
           "spot": "underlying_asset.price", "bid": "last_quote.bid", "ask": "last_quote.ask",
           "iv": "implied_volatility", "iv_scale": 0.01}


def _rows():
    c = load_chain(PACKAGED)
    iv = np.where(np.isfinite(c.vendor_iv), c.vendor_iv, 0.0)
    return pd.DataFrame({
        "ticker": [f"O:{s}" for s in c.symbols()],
        "details.expiration_date": c.expiry.astype("datetime64[D]").astype(str),
        "details.strike_price": c.strike, "details.contract_type": np.where(c.is_call,
                                                                             "call", "put"),
        "open_interest": c.oi, "underlying_asset.price": c.spot,
        "last_quote.bid": c.bid, "last_quote.ask": c.ask,
        "implied_volatility": np.round(iv * 100.0, 10)}), c


def _as_long(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.rename(columns={"details.expiration_date": "Expiration Date",
                                "details.strike_price": "Strike",
                                "details.contract_type": "Type",
                                "open_interest": "Open Interest",
                                "underlying_asset.price": "Index Spot", "last_quote.bid": "Bid",
                                "last_quote.ask": "Ask", "implied_volatility": "IV"})
    out["IV"] = out["IV"] * 0.01
    return out.drop(columns=["ticker"])


def _same(a, b):
    for f in ("root", "expiry", "settle_ns", "strike", "is_call", "bid", "ask", "oi"):
        x, y = getattr(a, f), getattr(b, f)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f
    assert np.allclose(a.vendor_iv, b.vendor_iv, rtol=1e-12, equal_nan=True)
    assert (a.spot, a.underlying, a.as_of_ns) == (b.spot, b.underlying, b.as_of_ns)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_vendors_chain_reads_as_the_long_layout_of_the_same_rows(tmp_path, kind):
    frame, cboe = _rows()
    (tmp_path / "v").mkdir()
    (tmp_path / "l").mkdir()
    vendor = tmp_path / "v" / f"SPX_2026-08-21.{kind}"
    if kind == "csv":
        frame.to_csv(vendor, index=False)
    else:
        frame.to_parquet(vendor, index=False)
    long = tmp_path / "l" / "SPX_2026-08-21.csv"
    _as_long(frame).to_csv(long, index=False)
    mappings = Settings(chain_layouts={"polygon": POLYGON}).chain_layouts
    got, want = load_chain(vendor, mappings=mappings), load_chain(long)
    assert want.layout == "long"
    _same(got, want)
    assert "read through the column mapping 'polygon' (config.yaml chain_layouts)" in got.notes
    # by hand: the real chain's contracts, all of them, at the real spot
    assert len(got.strike) == len(cboe.strike) and got.spot == 7674.3701
    i = int(np.flatnonzero((got.strike == 7700.0) & got.is_call
                           & (got.expiry == np.datetime64("2026-09-18")))[0])
    j = int(np.flatnonzero((cboe.strike == 7700.0) & cboe.is_call
                           & (cboe.expiry == np.datetime64("2026-09-18")))[0])
    assert (got.bid[i], got.ask[i], got.oi[i]) == (cboe.bid[j], cboe.ask[j], cboe.oi[j])


def test_an_unknown_layout_is_refused_naming_every_layout_and_how_to_map_one(tmp_path):
    frame, _ = _rows()
    f = tmp_path / "SPX_2026-08-21.csv"
    frame.drop(columns=["open_interest"]).to_csv(f, index=False)
    mappings = Settings(chain_layouts={"polygon": POLYGON}).chain_layouts
    with pytest.raises(ChainError) as err:
        load_chain(f, mappings=mappings)
    assert str(err.value) == (
        f"unknown chain layout in {f} (first line: 'ticker,details.expiration_date,"
        f"details.strike_price,details.'; accepted: quotedata, eod, long, canonical, mapped "
        f"'polygon'; another vendor's CSV or Parquet: map its columns under chain_layouts in "
        f"config.yaml, docs/chain-layouts.md)")
    pq = tmp_path / "x.parquet"
    frame.to_parquet(pq, index=False)
    with pytest.raises(ChainError, match=r"Parquet columns \['ticker', .* match no column "
                                         r"mapping \(accepted: quotedata, eod, long, "
                                         r"canonical;"):
        load_chain(pq)
