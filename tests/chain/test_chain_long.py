"""The long SPX layout (shared/data/cboe_long)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from monitor.chain.loaders import load_long
from tests.chain._util import days_to_date, is_listed_monthly, load
from tests.data_paths import LONG_DIR

CASES = [
    # file, rows (SOURCES.md), Index Spot, as_of = 16:00 EST on the file date = 21:00 UTC
    ("SPX_long_2025-01-22.csv.gz", 25048, 6086.3701, (2025, 1, 22, 21, 0)),
    ("SPX_long_2025-01-29.csv.gz", 24858, 6039.3101, (2025, 1, 29, 21, 0)),
]


@pytest.mark.parametrize("name, rows, spot, utc", CASES)
def test_long_file(name, rows, spot, utc):
    c = load(str(LONG_DIR / name))
    assert c.layout == "long"
    assert c.underlying == "SPX"
    assert dict(c.rejected) == {}
    assert len(c) == rows
    assert c.spot == spot
    assert c.as_of_ns == int(datetime(*utc, tzinfo=timezone.utc).timestamp()) * 1_000_000_000
    assert int(c.is_call.sum()) == rows // 2
    assert days_to_date(c.expiry.min()).isoformat() == name[9:19]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_long_roots(name):
    c = load(str(LONG_DIR / name))
    spx = c.root == "SPX"
    assert set(c.root) == {"SPX", "SPXW"}
    assert all(is_listed_monthly(days_to_date(e)) for e in np.unique(c.expiry[spx]))
    # non-monthly expiries are all SPXW
    non_monthly = np.array([not is_listed_monthly(days_to_date(e)) for e in c.expiry])
    assert (c.root[non_monthly] == "SPXW").all()
    keys = list(zip(c.root, c.expiry.astype(np.int64), c.strike, c.is_call))
    assert len(set(keys)) == len(keys)
    assert np.array_equal(c.am_settled, spx)
    # duplicated (expiry, strike, type): one SPX, one SPXW; the SPX one mostly holds more OI
    oi: dict = {}
    for r, e, k, cp, q in zip(c.root, c.expiry.astype(np.int64), c.strike, c.is_call, c.oi):
        oi.setdefault((e, k, cp), {})[r] = q
    pairs = [v for v in oi.values() if len(v) == 2]
    assert len(pairs) > 2500
    differing = [(v["SPX"], v["SPXW"]) for v in pairs if v["SPX"] != v["SPXW"]]
    assert np.mean([a > b for a, b in differing]) > 0.8


def test_long_values_of_a_row():
    c = load_long(LONG_DIR / "SPX_long_2025-01-22.csv.gz")
    # 2025-02-21,564.53,42.03,544.4,551.6,9,0.206,0.9479,0.0003,1882,5550.0,Call  (first = SPX)
    # 2025-02-21,571.4,48.9,545.3,550.6,1,0.2052,0.9472,0.0003,12,5550.0,Call     (SPXW)
    syms = c.symbols()
    i = syms.index("SPX250221C05550000")
    j = syms.index("SPXW250221C05550000")
    assert (c.bid[i], c.ask[i], c.oi[i], c.vendor_iv[i], c.vendor_delta[i]) == (544.4, 551.6, 1882.0, 0.206, 0.9479)
    assert (c.bid[j], c.ask[j], c.oi[j], c.vendor_iv[j]) == (545.3, 550.6, 12.0, 0.2052)
    assert c.am_settled[i] and not c.am_settled[j]
