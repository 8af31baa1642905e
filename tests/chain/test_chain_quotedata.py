"""Every classic CBOE quotedata.csv file in shared/data/cboe_quotedata, against INDEX.csv."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor.chain.loaders import load_quotedata
from tests.chain._util import days_to_date, is_listed_monthly, load, quotedata_index
from tests.data_paths import DATA_DIR, MARKET_DAILY_DIR, QUOTEDATA_DIR

NY = ZoneInfo("America/New_York")
INDEX = quotedata_index()
IDS = [r["file"].split("/")[-1] for r in INDEX]

# Rows the loader is expected to refuse, per file (contracts, not table rows). AMD 2023-08-18
# carries 40 strike rows of the adjusted AMD1 series (deliverable changed by a corporate
# action): 80 contracts of another underlying.
EXPECTED_REJECTED = {
    "AMD_quotedata_2023-08-20_2235.csv.gz": {"other_underlying": 80},
    # the one download without a final line terminator: its last row (a call and a put,
    # OI 0 and 0) is dropped with a note (tests/chain/test_chain_truncated.py)
    "SPX_quotedata_2022-01-09_0311.csv.gz": {"unterminated_last_row": 2},
}


def test_index_covers_every_file():
    on_disk = sorted(p.relative_to(DATA_DIR).as_posix() for p in QUOTEDATA_DIR.glob("*/*.csv.gz"))
    assert on_disk == sorted(r["file"] for r in INDEX)
    assert len(on_disk) == 44
    assert {p.split("/")[1] for p in on_disk} == {"spx", "spy", "other"}


@pytest.mark.parametrize("row", INDEX, ids=IDS)
def test_quotedata_file_matches_index(row):
    name = row["file"].split("/")[-1]
    c = load(str(DATA_DIR / row["file"]))
    assert c.layout == "quotedata"
    assert c.underlying == row["underlying"]
    assert c.spot == float(row["header_last"])

    expected_rej = EXPECTED_REJECTED.get(name, {})
    assert dict(c.rejected) == expected_rej
    # one table row = a call and a put
    assert len(c) == 2 * int(row["strike_rows"]) - sum(c.rejected.values())
    if not expected_rej:
        assert int(c.is_call.sum()) == int((~c.is_call).sum()) == int(row["strike_rows"])
        assert c.oi.sum() == float(row["total_oi"])
    else:
        assert c.oi.sum() <= float(row["total_oi"])

    exps = sorted({days_to_date(e) for e in c.expiry})
    assert exps[0] == date.fromisoformat(row["exp_min"])
    assert exps[-1] == date.fromisoformat(row["exp_max"])
    assert len(exps) == int(row["n_exp"])

    # array sanity
    for arr in (c.strike, c.bid, c.ask, c.oi):
        assert np.isfinite(arr).all()
    assert (c.bid >= 0).all() and (c.ask >= 0).all() and (c.oi >= 0).all()
    assert not np.any(c.vendor_iv == 0.0)  # iv 0 -> NaN


@pytest.mark.parametrize("row", INDEX, ids=IDS)
def test_quotedata_as_of_matches_file_name(row):
    """The file names carry the Date line's local date and HH:MM; the loader's UTC as_of,
    shown in New York time, must give them back (covers every language and zone style)."""
    name = row["file"].split("/")[-1]
    m = re.search(r"_(\d{4}-\d{2}-\d{2})_(\d{2})(\d{2})", name)
    c = load(str(DATA_DIR / row["file"]))
    local = datetime.fromtimestamp(c.as_of_ns / 1e9, tz=NY)
    assert local.date().isoformat() == m.group(1)
    assert (local.hour, local.minute) == (int(m.group(2)), int(m.group(3)))
    assert c.as_of_ns % 60_000_000_000 == 0


@pytest.mark.parametrize(
    "rel, utc",
    [
        # Spanish, GMT-4
        ("spx/SPX_quotedata_2022-03-23_1011.csv.gz", (2022, 3, 23, 14, 11)),
        # Russian, GMT-5
        ("spx/SPX_quotedata_2023-12-09_1349.csv.gz", (2023, 12, 9, 18, 49)),
        # French, Unicode minus UTC-5
        ("other/TSLA_quotedata_2023-11-10_1855.csv.gz", (2023, 11, 10, 23, 55)),
        # English, Unicode minus UTC-4
        ("spx/SPX_quotedata_2023-04-14_1912.csv.gz", (2023, 4, 14, 23, 12)),
        # CRLF, leading line of commas, padded metadata, 3:11 AM EST
        ("spx/SPX_quotedata_2022-01-09_0311.csv.gz", (2022, 1, 9, 8, 11)),
        # malformed "4 June 4, 3:15 PM EDT"
        ("spy/SPY_quotedata_2023-06-04_1515.csv.gz", (2023, 6, 4, 19, 15)),
        # stray quote after the Date text
        ("spy/SPY_quotedata_2023-05-20_1146.csv.gz", (2023, 5, 20, 15, 46)),
        # padded metadata, no blank first line
        ("spx/SPX_quotedata_2022-07-12_1155.csv.gz", (2022, 7, 12, 15, 55)),
    ],
)
def test_quirk_files_as_of(rel, utc):
    c = load(str(QUOTEDATA_DIR / rel))
    assert c.as_of_ns == int(datetime(*utc, tzinfo=timezone.utc).timestamp()) * 1_000_000_000


def test_malformed_date_line_is_noted():
    c = load(str(QUOTEDATA_DIR / "spy/SPY_quotedata_2023-06-04_1515.csv.gz"))
    assert any("no year" in n for n in c.notes)


def test_crlf_file_is_clean():
    c = load(str(QUOTEDATA_DIR / "spx/SPX_quotedata_2022-01-09_0311.csv.gz"))
    assert set(c.root) == {"SPXW"}
    assert all("\r" not in s for s in c.symbols()[:50])
    assert c.spot == 4677.0298


def test_load_quotedata_direct_call():
    p = QUOTEDATA_DIR / "other/NVDA_quotedata_2025-01-06_2130.csv.gz"
    c = load_quotedata(p)
    assert c.underlying == "NVDA" and len(c) == 2 * 543
    c2 = load_quotedata(p, underlying="nvda")
    assert c2.underlying == "NVDA"


def _prior_close(c) -> float:
    for n in c.notes:
        m = re.match(r"prior_close=([-\d.]+)", n)
        if m:
            return float(m.group(1))
    raise AssertionError(f"no prior_close note in {c.notes}")


@pytest.mark.parametrize(
    "rel, prev_session",
    [
        ("spx/SPX_quotedata_2023-09-14_1631.csv.gz", "2023-09-13"),
        ("spx/SPX_quotedata_2022-06-11_2047.csv.gz", "2022-06-09"),
        ("spx/SPX_quotedata_2023-04-14_1912.csv.gz", "2023-04-13"),
    ],
)
def test_prior_close_note_matches_spx_history(rel, prev_session):
    with open(MARKET_DAILY_DIR / "SPX_ohlc_2016-2026-08.csv", newline="") as fh:
        closes = {r["date"]: float(r["c"]) for r in csv.DictReader(fh)}
    c = load(str(QUOTEDATA_DIR / rel))
    assert _prior_close(c) == pytest.approx(closes[prev_session], abs=0.006)


SPX_LIKE = [r for r in INDEX if r["underlying"] in ("SPX", "NDX")]


@pytest.mark.parametrize("row", SPX_LIKE, ids=[r["file"].split("/")[-1] for r in SPX_LIKE])
def test_index_roots_and_settlement(row):
    c = load(str(DATA_DIR / row["file"]))
    am_root = row["underlying"]
    is_am_root = c.root == am_root
    # AM roots only ever appear on monthly expiries (shared calendar), and exactly they are AM
    am_dates = {days_to_date(e) for e in np.unique(c.expiry[is_am_root])}
    assert all(is_listed_monthly(d) for d in am_dates)
    assert np.array_equal(c.am_settled, is_am_root)
    hhmm = {(t.hour, t.minute) for t in (datetime.fromtimestamp(x / 1e9, tz=NY)
                                         for x in np.unique(c.settle_ns[is_am_root]))}
    assert hhmm <= {(9, 30)}
    hhmm = {(t.hour, t.minute) for t in (datetime.fromtimestamp(x / 1e9, tz=NY)
                                         for x in np.unique(c.settle_ns[~is_am_root]))}
    assert hhmm == {(16, 0)}
    # settlement date is the expiry date
    settle_dates = [datetime.fromtimestamp(s / 1e9, tz=NY).date() for s in c.settle_ns[:200]]
    assert settle_dates == [days_to_date(e) for e in c.expiry[:200]]


def test_spx_and_spxw_distinguished():
    c = load(str(QUOTEDATA_DIR / "spx/SPX_quotedata_2023-09-14_1631.csv.gz"))
    roots = Counter(c.root)
    assert set(roots) == {"SPX", "SPXW"}
    # 2023-10-20 (monthly) is listed under both roots for the same strikes
    oct20 = c.expiry == np.datetime64("2023-10-20")
    both = set(zip(c.strike[oct20 & (c.root == "SPX")], c.is_call[oct20 & (c.root == "SPX")])) & \
        set(zip(c.strike[oct20 & (c.root == "SPXW")], c.is_call[oct20 & (c.root == "SPXW")]))
    assert len(both) > 300
    # symbols round-trip through the chain
    syms = c.symbols()
    assert syms[0] == "SPXW230914C01200000"
    assert "SPX231020C04110000" in syms and "SPXW231020C04110000" in syms


def test_vendor_values_kept():
    c = load(str(QUOTEDATA_DIR / "spx/SPX_quotedata_2023-09-14_1631.csv.gz"))
    i = c.symbols().index("SPXW230914C01200000")
    # row: Thu Sep 14 2023,SPXW230914C01200000,0,0,3300.1,3319.8,0,0,0,0,0,1200.00,...
    assert (c.bid[i], c.ask[i], c.oi[i]) == (3300.1, 3319.8, 0.0)
    assert np.isnan(c.vendor_iv[i]) and c.vendor_gamma[i] == 0.0 and c.vendor_delta[i] == 0.0
