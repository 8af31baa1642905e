"""The scales the packaged configuration gives flows (% of ADV, futures equivalents) come
from data at hand: SPY's mean daily volume over the 21 sessions of July 2025 (1-minute bars,
extended hours included) and, for SPX, SPY's mean daily dollar volume then over the mean SPX
close of those sessions; recomputed here from the files and held to the configuration."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.config import SPX_ADV_UNITS, Settings, load_settings
from monitor.paths import packaged_config
from tests.data_paths import DATA_DIR

SPY_1MIN = DATA_DIR / "intraday" / "SPY_1min_2025-07-01_2025-07-30_ext_hours.csv.gz"
SPX_DAILY = DATA_DIR / "market_daily" / "SPX_ohlc_2016-2026-08.csv"


@pytest.fixture(scope="module")
def july():
    bars = pd.read_csv(SPY_1MIN, parse_dates=["date"])
    day = bars["date"].dt.date
    spx = pd.read_csv(SPX_DAILY, parse_dates=["date"])
    spx = spx[(spx["date"] >= "2025-07-01") & (spx["date"] <= "2025-07-30")]
    return bars.groupby(day)["Volume"].sum(), (bars["Volume"] * bars["Close"]).groupby(day).sum(), spx


def test_adv_figures_are_the_data_s(july):
    shares, dollars, spx = july
    assert len(shares) == len(spx) == 21  # the same 21 sessions
    packaged = load_settings(packaged_config())
    assert packaged.underlying("SPY").adv_shares == round(shares.mean())
    spx_units = dollars.mean() / spx["c"].mean()
    assert packaged.underlying("SPX").adv_shares == round(spx_units)
    assert Settings().underlying("SPX").adv_shares == SPX_ADV_UNITS == round(spx_units)
    for root in ("SPX", "SPY"):
        assert "July 2025" in packaged.underlying(root).adv_source


def test_index_futures_equivalents_by_root():
    packaged = load_settings(packaged_config())
    got = {r: (packaged.underlying(r).futures_symbol, packaged.underlying(r).es_multiplier)
           for r in ("SPX", "NDX", "RUT")}
    assert got == {"SPX": ("ES", 50.0), "NDX": ("NQ", 20.0), "RUT": ("RTY", 50.0)}
    assert packaged.underlying("SPY").es_multiplier == 0.0  # an ETF: in its own shares
