"""Loaders and data quirks of monitor.study (tiny hand-made files, plus the real calendar)."""

import gzip

import numpy as np
import pandas as pd
import pytest

from monitor.study import data as DA
from monitor.study.claims import intraday_sessions
from monitor.study.gex2026 import date_chain_files
from tests.data_paths import CALENDAR_CSV


def _write(p, text, gz=False):
    p.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def test_spx_history_quirks_and_ohlc_override(tmp_path):
    hist = _write(tmp_path / "SPX_History_x.csv.gz",
                  "DATE,OPEN,HIGH,LOW,CLOSE\n"
                  "01/03/1983,100,100,100,100\n"          # O=H=L=C: no range
                  "01/04/1983,100,102,99,101\n"
                  "01/05/1983,101,103,100,102\n"
                  "01/06/1983,102,104,101,103.5\n"        # intraday partial: dropped
                  , gz=True)
    ohlc = _write(tmp_path / "SPX_ohlc_x.csv",
                  "date,o,h,l,c\n1983-01-05,101,103.5,100,102.25\n1983-01-06,102,104,101,103\n")
    notes = []
    spx = DA.load_spx_daily(ohlc, hist, notes)
    assert list(spx.index.strftime("%Y-%m-%d")) == ["1983-01-03", "1983-01-04", "1983-01-05",
                                                    "1983-01-06"]
    assert np.isnan(spx.loc["1983-01-03", "high"]) and spx.loc["1983-01-03", "close"] == 100
    assert spx.loc["1983-01-05", "close"] == 102.25          # the ohlc file wins
    assert spx.loc["1983-01-06", "close"] == 103              # not the partial 103.5
    assert any("partial" in n for n in notes) and any("O=H=L=C" in n for n in notes)
    only_hist = DA.load_spx_daily(None, hist)
    assert only_hist.index[-1] == pd.Timestamp("1983-01-05")


def test_vix_close_primary_and_history_fill(tmp_path):
    close = _write(tmp_path / "VIX_close.csv", "date,value\n2020-01-02,12.5\n2020-01-03,14\n")
    hist = _write(tmp_path / "VIX_History.csv", "DATE,OPEN,HIGH,LOW,CLOSE\n"
                  "01/03/2020,1,1,1,99\n01/06/2020,13,14,12,13.8\n")
    v = DA.load_vix_close(close, hist)
    assert v.tolist() == [12.5, 14.0, 13.8]


def test_vvix_drops_2006(tmp_path):
    p = _write(tmp_path / "VVIX_History.csv",
               "DATE,VVIX\n03/06/2006,71.7\n03/15/2006,15.71\n01/03/2007,80.1\n")
    s = DA.load_vvix(p)
    assert s.index.min() == pd.Timestamp("2007-01-03") and len(s) == 1


def test_exchange_calendar_fallback_matches_the_calendar_file():
    assert CALENDAR_CSV.exists(), f"shared data not found: {CALENDAR_CSV}"
    f = DA.load_opex_calendar(CALENDAR_CSV)
    x = DA.opex_calendar_from_exchange(1990, 2027)
    assert list(f.index) == list(x.index)
    assert (f["quad"].to_numpy() == x["quad"].to_numpy()).all()
    assert pd.Timestamp("2026-06-18") in f.index          # Juneteenth moves OPEX
    assert pd.Timestamp("2025-04-17") in f.index          # Good Friday moves OPEX
    assert bool(f.loc["2026-06-18", "quad"])


def test_minute_bars_with_and_without_header_and_early_close(tmp_path):
    rows = []
    for day, last in (("2025-07-02", "16:59"), ("2025-07-03", "16:59")):
        for t in pd.date_range(f"{day} 09:00", f"{day} {last}", freq="1min"):
            rows.append(f"{t:%Y-%m-%d %H:%M:%S},10,10.5,9.5,10")
    p1 = _write(tmp_path / "a.csv", "date,Open,High,Low,Close,Volume\n" +
                "\n".join(r + ",5" for r in rows) + "\n")
    p2 = _write(tmp_path / "b.csv", "\n".join(rows) + "\n")
    b1, b2 = DA.load_minute_bars(p1), DA.load_minute_bars(p2)
    assert len(b1) == len(b2) == len(rows)
    sess = DA.regular_sessions(b1)
    assert len(sess[pd.Timestamp("2025-07-02")]) == 390
    early = sess[pd.Timestamp("2025-07-03")]                 # 13:00 early close
    assert len(early) == 210 and early["ts"].max() == pd.Timestamp("2025-07-03 12:59")


def test_intraday_session_returns_have_the_known_answer(tmp_path):
    rows = []
    for day, p_open, p_cut, p_close in (("2023-03-16", 100.0, 101.0, 102.01),
                                        ("2023-03-17", 102.0, 99.96, 98.9604)):
        for t in pd.date_range(f"{day} 09:30", f"{day} 16:04", freq="1min"):
            if t < pd.Timestamp(f"{day} 15:30"):
                px = p_open if t < pd.Timestamp(f"{day} 15:29") else p_cut
            elif t < pd.Timestamp(f"{day} 16:00"):
                px = p_close if t == pd.Timestamp(f"{day} 15:59") else p_cut
            else:
                px = 555.0                                   # settlement prints: ignored
            rows.append(f"{t:%Y-%m-%d %H:%M:%S},{px},{px},{px},{px}")
    for t in pd.date_range("2023-03-21 09:30", "2023-03-21 15:59", freq="1min"):
        rows.append(f"{t:%Y-%m-%d %H:%M:%S},50,50,50,50")     # after a missing session
    p = _write(tmp_path / "SPX_1min.txt", "\n".join(rows) + "\n")
    out = intraday_sessions(p, "SPX")
    a, b, c = out
    assert c["prev"] == "open" and c["r_rest"] == 0.0        # 03-20 is missing: no gap return
    assert a["prev"] == "open" and a["r_rest"] == pytest.approx(1.0)
    assert a["r_last"] == pytest.approx(1.0)
    assert b["prev"] == "file"
    assert b["r_rest"] == pytest.approx((99.96 / 102.01 - 1) * 100)
    assert b["r_last"] == pytest.approx(-1.0)


def _chain(tmp_path, label, spot, ts):
    return _write(tmp_path / "SPX" / f"SPX_{label}.csv.gz",
                  f"# spot,{spot},ts,{ts}\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n", gz=True)


def test_chain_files_are_dated_by_their_spot(tmp_path):
    closes = pd.Series({pd.Timestamp("2026-06-18"): 7500.58, pd.Timestamp("2026-06-22"): 7472.79,
                        pd.Timestamp("2026-06-23"): 7365.46, pd.Timestamp("2026-07-01"): 7483.23,
                        pd.Timestamp("2026-07-02"): 7483.24, pd.Timestamp("2026-08-06"): 7709.96,
                        pd.Timestamp("2026-08-07"): 7757.64})
    paths = [
        _chain(tmp_path, "2026-06-18", 7500.5801, "2026-06-18 23:41:50"),
        _chain(tmp_path, "2026-06-19", 7500.5801, "2026-06-19 21:36:36"),   # holiday repeat
        _chain(tmp_path, "2026-06-22", 7472.79, "2026-06-22 23:15:47"),
        _chain(tmp_path, "2026-06-23", 7472.79, "2026-06-23 12:50:21"),     # pre-open fetch
        _chain(tmp_path, "2026-07-02", 7483.2402, "2026-07-02 22:59:46"),   # 0.01 from 07-01
        _chain(tmp_path, "2026-07-03", 7483.2402, "2026-07-03 21:30:47"),
        _chain(tmp_path, "2026-08-07", 7709.96, "2026-08-07 01:28:53"),     # really 08-06
        _chain(tmp_path, "2026-06-24", 1234.5, "2026-06-24 23:00:00"),      # no close that day
    ]
    kept, dropped = date_chain_files(sorted(paths), closes)
    got = {k["path"].name: (str(k["date"].date()), k["how"]) for k in kept}
    assert got == {
        "SPX_2026-06-18.csv.gz": ("2026-06-18", "matched"),
        "SPX_2026-06-22.csv.gz": ("2026-06-22", "matched"),
        "SPX_2026-06-24.csv.gz": ("2026-06-23", "unmatched"),
        "SPX_2026-07-02.csv.gz": ("2026-07-02", "matched"),
        "SPX_2026-08-07.csv.gz": ("2026-08-06", "relabelled"),
    }
    assert sorted(d["path"].name for d in dropped) == [
        "SPX_2026-06-19.csv.gz", "SPX_2026-06-23.csv.gz", "SPX_2026-07-03.csv.gz"]


def test_missing_directory_and_files_are_one_line_errors(tmp_path):
    with pytest.raises(DA.StudyError, match="data directory not found"):
        DA.load_daily(tmp_path / "nope")
    (tmp_path / "market_daily").mkdir()
    with pytest.raises(DA.StudyError, match="SPX") as e:
        DA.load_daily(tmp_path)
    assert "\n" not in str(e.value)
    _write(tmp_path / "market_daily" / "SPX_ohlc_x.csv", "date,o,h,l,c\n2020-01-02,1,1,1,1\n")
    _write(tmp_path / "market_daily" / "VIX_close_x.csv", "date,value\n2020-01-02,12\n")
    with pytest.raises(DA.StudyError, match="squeezemetrics") as e:
        DA.load_daily(tmp_path)
    assert "\n" not in str(e.value)
