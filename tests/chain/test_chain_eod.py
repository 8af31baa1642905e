"""Daily SPX / VIX snapshots (shared/data/cboe_chain_eod_2026): INDEX.csv, the vendor-GEX
golden values, and the SPX/SPXW (AM/PM) root rule."""

from __future__ import annotations

import csv
import gzip
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor.chain.loaders import load_eod_snapshot
from tests.chain._util import days_to_date, eod_index, is_listed_monthly, load
from tests.data_paths import DATA_DIR, EOD_DIR

NY = ZoneInfo("America/New_York")
INDEX = eod_index()
SPX = [r for r in INDEX if "/SPX/" in r["file"]]
VIX = [r for r in INDEX if "/VIX/" in r["file"]]


def _id(r):
    return r["file"].split("/")[-1]


def test_index_covers_every_file():
    on_disk = sorted(p.relative_to(DATA_DIR).as_posix() for p in EOD_DIR.glob("*/*.csv.gz"))
    assert on_disk == sorted(r["file"] for r in INDEX)
    assert (len(SPX), len(VIX)) == (44, 50)


@pytest.mark.parametrize("row", INDEX, ids=_id)
def test_eod_file_matches_index(row):
    c = load(str(DATA_DIR / row["file"]))
    und = "SPX" if "/SPX/" in row["file"] else "VIX"
    assert c.layout == "eod"
    assert c.underlying == und
    assert dict(c.rejected) == {}
    assert len(c) == int(row["rows"])
    assert c.spot == float(row["spot"])
    ts = datetime.fromisoformat(row["cboe_ts"]).replace(tzinfo=timezone.utc)
    assert c.as_of_ns == int(ts.timestamp()) * 1_000_000_000
    assert c.oi.sum() == float(row["total_oi"])
    label = date.fromisoformat(row["label_date"])
    dtes = {(days_to_date(e) - label).days for e in np.unique(c.expiry)}
    assert len(dtes) == int(row["n_dte"])
    assert max(dtes) == int(row["dte_max"])
    assert min(dtes) >= 0
    # vendor values: gamma 0 is kept as 0.0; iv 0 becomes NaN; no NaN quotes in these files
    assert not np.isnan(c.vendor_gamma).any()
    assert not np.any(c.vendor_iv == 0.0)
    assert np.isfinite(c.bid).all() and np.isfinite(c.ask).all()


def _reference(name: str) -> dict[str, float]:
    with open(EOD_DIR / name, newline="") as fh:
        return {r["date"]: float(r["net_gex_mm"]) for r in csv.DictReader(fh)}


def _naive_gex_mm(c, call_sign: int) -> float:
    sign = np.where(c.is_call, call_sign, -call_sign)
    return float(np.sum(sign * c.vendor_gamma * c.oi * 100.0 * c.spot**2 * 0.01) / 1e6)


def test_reference_has_every_spx_file_but_06_23():
    ref = _reference("gamma_SPX_reference.csv")
    labels = {r["label_date"] for r in SPX}
    assert labels - set(ref) == {"2026-06-23"}


@pytest.mark.parametrize("row", [r for r in SPX if r["label_date"] != "2026-06-23"], ids=_id)
def test_vendor_gex_golden_spx(row):
    """sum(gamma*OI*100*spot^2*0.01) over ALL rows, calls +, puts - reproduces the
    repository's net_gex_mm (stored to 0.1 $mm, so within half a unit)."""
    ref = _reference("gamma_SPX_reference.csv")
    c = load(str(DATA_DIR / row["file"]))
    assert _naive_gex_mm(c, +1) == pytest.approx(ref[row["label_date"]], abs=0.05 + 1e-6)


def test_vendor_gex_golden_08_21_value():
    c = load(str(EOD_DIR / "SPX/SPX_2026-08-21.csv.gz"))
    assert round(_naive_gex_mm(c, +1), 1) == 20520.2


# ---------------------------------------------------------------- SPX / SPXW root rule


@pytest.mark.parametrize("row", SPX, ids=_id)
def test_spx_root_assignment(row):
    c = load(str(DATA_DIR / row["file"]))
    assert set(c.root) == {"SPX", "SPXW"}
    spx = c.root == "SPX"
    # the SPX (AM) root only on monthly expiries, per the shared calendar
    assert all(is_listed_monthly(days_to_date(e)) for e in np.unique(c.expiry[spx]))
    # every (root, expiry, strike, type) is unique once roots are assigned ...
    keys = list(zip(c.root, c.expiry.astype(np.int64), c.strike, c.is_call))
    assert len(set(keys)) == len(keys)
    # ... and every duplicated (expiry, strike, type) pair of the file is one SPX + one SPXW
    by_key: dict = {}
    for r, e, k, cp in keys:
        by_key.setdefault((e, k, cp), []).append(r)
    dups = [v for v in by_key.values() if len(v) > 1]
    assert 1500 <= len(dups) <= 3100  # 1.7k-3.0k duplicated keys per file in this window
    assert all(sorted(v) == ["SPX", "SPXW"] for v in dups)
    # AM flags and settlement instants follow the root
    assert np.array_equal(c.am_settled, spx)
    t_am = {datetime.fromtimestamp(s / 1e9, tz=NY).strftime("%H:%M") for s in np.unique(c.settle_ns[spx])}
    t_pm = {datetime.fromtimestamp(s / 1e9, tz=NY).strftime("%H:%M") for s in np.unique(c.settle_ns[~spx])}
    assert (t_am, t_pm) == ({"09:30"}, {"16:00"})
    assert any(n.startswith("root: first block") for n in c.notes)


@pytest.mark.parametrize("label", ["2026-06-18", "2026-07-17", "2026-08-21"])
def test_expiry_day_am_rows_are_dead(label):
    """On a monthly-expiry day the AM contracts settled in the morning: in the evening
    snapshot all of them show zero bid/ask/gamma/iv, while the PM (SPXW) ones are quoted."""
    c = load(str(EOD_DIR / f"SPX/SPX_{label}.csv.gz"))
    today = c.expiry == np.datetime64(label)
    am = today & (c.root == "SPX")
    pm = today & (c.root == "SPXW")
    assert am.sum() > 900 and pm.sum() > 800
    assert (c.bid[am] == 0).all() and (c.ask[am] == 0).all() and (c.vendor_gamma[am] == 0).all()
    assert np.isnan(c.vendor_iv[am]).all()
    assert (c.ask[pm] > 0).all()


def test_spx_rows_hold_more_oi_on_duplicate_keys():
    """SPX monthlies carry more OI than the SPXW twin on most strikes (80 % in the quotedata
    files, where the root is explicit); the assigned SPX rows must show the same."""
    c = load(str(EOD_DIR / "SPX/SPX_2026-07-08.csv.gz"))
    oi = {}
    for r, e, k, cp, q in zip(c.root, c.expiry.astype(np.int64), c.strike, c.is_call, c.oi):
        oi.setdefault((e, k, cp), {})[r] = q
    pairs = [(v["SPX"], v["SPXW"]) for v in oi.values() if len(v) == 2 and v["SPX"] != v["SPXW"]]
    frac = np.mean([a > b for a, b in pairs])
    assert frac > 0.7


def test_monthly_expiries_listed_with_am_rows():
    c = load(str(EOD_DIR / "SPX/SPX_2026-08-21.csv.gz"))
    am_exps = sorted({days_to_date(e) for e in np.unique(c.expiry[c.root == "SPX"])})
    assert am_exps[0] == date(2026, 8, 21)
    assert date(2026, 9, 18) in am_exps and date(2027, 6, 17) in am_exps  # Juneteenth-shifted
    assert am_exps[-1] == date(2031, 12, 19)
    assert len(am_exps) == 20


def test_fallback_by_occurrence_when_reordered(tmp_path):
    """If the two-block order is lost, duplicates fall back to first = SPX, second = SPXW."""
    rows = [
        "7000.00,0,C,10,0.001,0.5,0.2,1.0,1.2",  # non-monthly 2026-08-14 -> SPXW
        "7000.00,7,C,500,0.001,0.5,0.2,1.0,1.2",  # 2026-08-21 monthly, first -> SPX
        "7000.00,7,C,20,0.001,0.5,0.2,1.0,1.2",  # duplicate -> SPXW
        "7100.00,7,P,30,0.001,-0.5,0.2,1.0,1.2",  # single on monthly -> SPX
        "6900.00,0,P,40,0.001,-0.5,0.2,1.0,1.2",  # non-monthly -> SPXW
    ]
    p = tmp_path / "SPX_2026-08-14.csv"
    p.write_text("# spot,7000,ts,2026-08-14 22:00:00\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n"
                 + "\n".join(rows) + "\n")
    c = load_eod_snapshot(p)
    assert c.root.tolist() == ["SPXW", "SPX", "SPXW", "SPX", "SPXW"]
    assert c.am_settled.tolist() == [False, True, False, True, False]
    assert any("occurrence" in n for n in c.notes)


# ---------------------------------------------------------------- VIX


@pytest.mark.parametrize("row", VIX, ids=_id)
def test_vix_files(row):
    c = load(str(DATA_DIR / row["file"]))
    assert set(c.root) == {"VIX"}
    assert c.am_settled.all()
    t = {datetime.fromtimestamp(s / 1e9, tz=NY).strftime("%H:%M") for s in np.unique(c.settle_ns)}
    assert t == {"09:30"}
    # VIX options expire on Wednesdays (or the day before a Wednesday holiday)
    assert all(days_to_date(e).weekday() in (1, 2) for e in np.unique(c.expiry))
    assert any("future" in n.lower() for n in c.notes)


def test_underlying_argument_and_name(tmp_path):
    body = "# spot,500.5,ts,2026-08-14 20:30:00\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n" \
           "500,7,C,10,0.01,0.5,0.2,1.0,1.2\n500,7,P,11,0.01,-0.5,0,1.0,1.2\n"
    p = tmp_path / "chain_2026-08-14.csv"
    p.write_text(body)
    c = load_eod_snapshot(p, underlying="SPY")
    assert c.underlying == "SPY" and set(c.root) == {"SPY"}
    assert c.expiry.tolist() == [np.datetime64("2026-08-21")] * 2
    assert not c.am_settled.any()
    assert c.vendor_iv[0] == 0.2 and np.isnan(c.vendor_iv[1])
    assert c.as_of_ns == int(datetime(2026, 8, 14, 20, 30, tzinfo=timezone.utc).timestamp()) * 10**9
    assert c.oi.tolist() == [10.0, 11.0]
    assert timedelta(days=7) == days_to_date(c.expiry[0]) - date(2026, 8, 14)


def _both_paths(path, monkeypatch):
    """(the chain as loaded, the chain read row by row: the table reader turned off)."""
    import monitor.chain.eod as eod

    fast = load_eod_snapshot(path)
    with monkeypatch.context() as m:
        m.setattr(eod, "_clean_table", lambda *a: None)
        slow = load_eod_snapshot(path)
    return fast, slow


def _assert_same_chain(a, b):
    from monitor.chain.model import ARRAY_FIELDS

    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert (a.spot, a.as_of_ns, a.clock_ns, a.notes, dict(a.rejected)) == \
        (b.spot, b.as_of_ns, b.clock_ns, b.notes, dict(b.rejected))


@pytest.mark.parametrize("row", SPX[::7] + VIX[::9], ids=_id)
def test_table_reader_reads_what_the_row_reader_reads(row, monkeypatch):
    """Clean real files go through pandas' C reader in one pass; every array must be
    what the row-by-row reader (float() per field) makes of the same file, bit for bit."""
    import monitor.chain.eod as eod

    text = gzip.open(DATA_DIR / row["file"], "rt").read()
    lines = text.splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith("strike"))
    header = lines[head].split(",")
    taken = eod._clean_table(lines[head + 1:], len(header),
                             {h: j for j, h in enumerate(header)}, 0, eod._Builder())
    assert taken is not None  # a clean file: the fast reader is the one that ran
    _assert_same_chain(*_both_paths(DATA_DIR / row["file"], monkeypatch))


DIRTY_ROWS = [
    ("500,7,C,10,0.01,0.5,0.2,,1.2", {}),  # no bid: NaN, kept
    ("500,7,C,10,0.01,0.5,nan,1.0,1.2", {}),  # NaN written as text: kept as NaN
    ("500,7,X,10,0.01,0.5,0.2,1.0,1.2", {"bad_type": 1}),
    ("500,7.5,C,10,0.01,0.5,0.2,1.0,1.2", {"bad_expiry": 1}),
    ("500,7,C,-1,0.01,0.5,0.2,1.0,1.2", {"negative_oi": 1}),
    ("500,7,C,10,0.01,0.5,0.2,-1.0,1.2", {"negative_price": 1}),
    ("500,7,C,10,0.01,0.5,0.2,1.0abc,1.2", {"bad_number": 1}),
    ("500,7,C,10,0.01,0.5,0.2", {"missing_field": 1}),
    ("0,7,C,10,0.01,0.5,0.2,1.0,1.2", {"bad_number": 1}),
    ("500,7,C,10,0.01,0.5,inf,1.0,1.2", {"bad_number": 1}),
    ("# a comment between rows", {}),
    ("", {}),
    ("500,7,C,10,0.01,0.5,0.2,1.0,1.2,extra", {}),  # a longer row: its known fields read
    ('500,7,"C",10,0.01,0.5,0.2,1.0,1.2', {"bad_type": 1}),  # quotes kept, as the row reader
    ('"500",7,C,10,0.01,0.5,0.2,1.0,1.2', {}),  # ... which strips them from numbers
]


@pytest.mark.parametrize("dirty,refused", DIRTY_ROWS, ids=[d or "blank" for d, _ in DIRTY_ROWS])
def test_a_dirty_row_is_read_row_by_row(tmp_path, monkeypatch, dirty, refused):
    """One row the table reader cannot take as it is sends the whole file to the row
    reader, which says what it refuses (hand-made file: the counts are the cases')."""
    body = ("# spot,500.5,ts,2026-08-14 20:30:00\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n"
            "500,7,C,10,0.01,0.5,0.2,1.0,1.2\n" + dirty + "\n500,7,P,11,0.01,-0.5,0,1.0,1.2\n")
    p = tmp_path / "SPY_2026-08-14.csv"
    p.write_text(body)
    fast, slow = _both_paths(p, monkeypatch)
    _assert_same_chain(fast, slow)
    assert dict(fast.rejected) == refused
    assert len(fast) == 3 - sum(refused.values()) - (dirty.startswith("#") or dirty == "")


def test_clean_hand_table_zero_iv_is_none(tmp_path, monkeypatch):
    """The table reader keeps the row reader's conventions: a zero IV (or -0) is none."""
    p = tmp_path / "SPY_2026-08-14.csv"
    p.write_text("# spot,500.5,ts,2026-08-14 20:30:00\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n"
                 "500,7,c,10,0.01,0.5,0.2,1.0,1.2\n500,7,PUT,11,0.01,-0.5,0,1.0,1.2\n"
                 "505,14, P ,12,0.01,-0.5,-0.0,2.0,2.5\n\n")
    fast, slow = _both_paths(p, monkeypatch)
    _assert_same_chain(fast, slow)
    assert fast.is_call.tolist() == [True, False, False]
    assert fast.vendor_iv[0] == 0.2 and np.isnan(fast.vendor_iv[1:]).all()
    assert fast.expiry.tolist() == [np.datetime64("2026-08-21"), np.datetime64("2026-08-21"),
                                    np.datetime64("2026-08-28")]
