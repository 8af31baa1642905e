"""File-level errors (ChainError) and row-level rejections, on tiny hand-written files."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import numpy as np
import pytest

from monitor.chain.loaders import (
    load_chain,
    load_eod_snapshot,
    load_long,
    load_quotedata,
    sniff_layout,
)
from monitor.chain.model import ChainError

QD_HEADER = ("Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,"
             "Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest")


def qd_row(call="SPXW250107C05000000", put="SPXW250107P05000000", strike="5000.00",
           cbid="10", cask="10.5", coi="100", pbid="9", pask="9.5", poi="200", exp="Tue Jan 07 2025"):
    return (f"{exp},{call},10.2,0,{cbid},{cask},5,0.15,0.51,0.0021,{coi},{strike},"
            f"{put},9.1,0,{pbid},{pask},3,0.16,-0.49,0.0021,{poi}")


def quotedata(rows, meta=None) -> str:
    meta = meta if meta is not None else [
        "",
        "S&P 500 INDEX,Last: 5975.3799,Change:  32.9099",
        '"Date: January 6, 2025 at 9:26 PM EST",Bid: 5934.4302,Ask: 6032.4502,Size: 1*1,Volume: 0',
    ]
    return "\n".join([*meta, QD_HEADER, *rows]) + "\n"


def one_line(err: ChainError) -> str:
    msg = str(err)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


# ---------------------------------------------------------------- file-level


def test_missing_file(tmp_path):
    with pytest.raises(ChainError) as ei:
        load_chain(tmp_path / "nope.csv")
    assert "not found" in one_line(ei.value) and "nope.csv" in str(ei.value)
    with pytest.raises(ChainError):
        load_quotedata(tmp_path / "nope.csv")


def test_unknown_layout_content(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("hello,world\n1,2\n")
    with pytest.raises(ChainError) as ei:
        load_chain(p)
    assert "unknown chain layout" in one_line(ei.value)
    p.write_text("")
    with pytest.raises(ChainError) as ei:
        load_chain(p)
    assert "unknown chain layout" in one_line(ei.value)


def test_unknown_layout_argument(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(quotedata([qd_row()]))
    with pytest.raises(ChainError) as ei:
        load_chain(p, layout="parquet")
    assert "unknown chain layout" in one_line(ei.value)
    assert len(load_chain(p, layout="quotedata")) == 2


def test_layout_forced_mismatch_is_a_chain_error(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(quotedata([qd_row()]))
    with pytest.raises(ChainError):
        load_chain(p, layout="canonical")


def test_empty_chains(tmp_path):
    eod = tmp_path / "SPX_2026-08-21.csv"
    eod.write_text("# spot,7674.37,ts,2026-08-21 22:18:44\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n")
    with pytest.raises(ChainError) as ei:
        load_chain(eod)
    assert "empty chain" in one_line(ei.value)

    qd = tmp_path / "quotedata.csv"
    qd.write_text(quotedata([]))
    with pytest.raises(ChainError) as ei:
        load_chain(qd)
    assert "empty chain" in one_line(ei.value)

    # rows present but none usable: the message lists the reasons
    qd.write_text(quotedata([qd_row(call="BAD", put="WORSE")]))
    with pytest.raises(ChainError) as ei:
        load_chain(qd)
    assert "empty chain" in one_line(ei.value) and "bad_symbol=2" in str(ei.value)

    lng = tmp_path / "SPX_long_2025-01-22.csv"
    lng.write_text("Expiration Date,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Type,Index Spot\n")
    with pytest.raises(ChainError) as ei:
        load_chain(lng)
    assert "no spot" in one_line(ei.value) or "empty chain" in str(ei.value)


def test_no_spot(tmp_path):
    qd = tmp_path / "quotedata.csv"
    qd.write_text(quotedata([qd_row()], meta=["", "S&P 500 INDEX,Change: 3", '"Date: January 6, 2025 at 9:26 PM EST"']))
    with pytest.raises(ChainError) as ei:
        load_chain(qd)
    assert "no spot" in one_line(ei.value)

    qd.write_text(quotedata([qd_row()], meta=["S&P 500 INDEX,Last: 0,Change: 3", "Date: January 6, 2025"]))
    with pytest.raises(ChainError) as ei:
        load_chain(qd)
    assert "no spot" in one_line(ei.value)

    eod = tmp_path / "SPX_2026-08-21.csv"
    eod.write_text("# spot,,ts,2026-08-21 22:18:44\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n"
                   "7000,0,C,1,0,0,0,0,0\n")
    with pytest.raises(ChainError) as ei:
        load_chain(eod)
    assert "no spot" in one_line(ei.value)

    lng = tmp_path / "SPX_long_2025-01-22.csv"
    lng.write_text("Expiration Date,Bid,Ask,IV,Delta,Gamma,Open Interest,Strike,Type\n"
                   "2025-01-24,1,2,0.2,0.5,0.001,10,6000,Call\n")
    with pytest.raises(ChainError) as ei:
        load_chain(lng)
    assert "no spot" in one_line(ei.value)

    can = tmp_path / "c.csv"
    can.write_text("# monitor-chain v1,underlying=SPX,spot=nan,as_of=2025-01-06T21:00:00Z\n"
                   "symbol,bid,ask,oi,iv,delta,gamma\nSPXW250107C05000000,1,2,3,,,\n")
    with pytest.raises(ChainError) as ei:
        load_chain(can)
    assert "no spot" in one_line(ei.value)


def test_eod_without_underlying(tmp_path):
    p = tmp_path / "2026-08-21.csv"
    p.write_text("# spot,100,ts,2026-08-21 22:18:44\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n"
                 "100,0,C,1,0,0,0,0,0\n")
    with pytest.raises(ChainError):
        load_chain(p)
    assert load_chain(p, underlying="SPY").underlying == "SPY"


# ---------------------------------------------------------------- row-level


def test_quotedata_row_rejections(tmp_path):
    rows = [
        qd_row(),  # good: 2 contracts
        qd_row(call="SPXW250107X05010000", put="SPXW250107P05010000", strike="5010.00"),  # bad call symbol
        qd_row(call="SPXW250107C05020000", put="SPXW250107P05020000", strike="5020.00", pbid="abc"),  # bad put number
        qd_row(call="SPXW250107C05030000", put="SPXW250107P05030000", strike="5030.00", cask="-1"),  # negative call ask
        qd_row(call="SPXW250107C05040000", put="SPXW250107P05040000", strike="5040.00", poi=""),  # missing put oi
        "Tue Jan 07 2025,SPXW250107C05050000,1,2,3",  # short row: both contracts
        qd_row(call="SPXW250107C05070000", put="SPXW250107P05060000", strike="5060.00"),  # call symbol != Strike
        qd_row(call="SPXW250110C05080000", put="SPXW250107P05080000", strike="5080.00"),  # call symbol != Expiration
        ",,,,,,,,,,,,,,,,,,,,,",  # padding line: not a row
        "",
    ]
    p = tmp_path / "quotedata.csv"
    p.write_text(quotedata(rows))
    c = load_chain(p)
    assert dict(c.rejected) == {"bad_symbol": 1, "bad_number": 1, "negative_price": 1,
                                "missing_field": 3, "symbol_mismatch": 2}
    assert len(c) == 16 - 8
    assert c.symbols() == [
        "SPXW250107C05000000", "SPXW250107P05000000", "SPXW250107P05010000",
        "SPXW250107C05020000", "SPXW250107P05030000", "SPXW250107C05040000",
        "SPXW250107P05060000", "SPXW250107P05080000",
    ]


def test_quotedata_numbers_with_spaces_quotes_and_crlf(tmp_path):
    rows = [
        qd_row(coi='"1,234"', poi="77 883 662"),
        qd_row(call="SPX250117C05000000", put="SPX250117P05000000", exp="Fri Jan 17 2025",
               coi="1\u202f234", cbid="\u22120"),
    ]
    meta = [
        ",,,,,,,,,,,,,,,,,,,,,",
        "SP 500 INDEX,Last: 5975.3799,Change:  \u221232.9099,,,,,,,,,,,,,,,,,,",
        'Date: 6 janvier 2025 \u00e0 21:26 UTC\u22125",Bid: 5934.4302,Ask: 6032.4502,Size: 1*1,Volume: 1\u202f234,,,,',
    ]
    p = tmp_path / "quotedata.csv.gz"
    p.write_bytes(gzip.compress(quotedata(rows, meta).replace("\n", "\r\n").encode("utf-8")))
    assert sniff_layout(gzip.decompress(p.read_bytes()).decode()) == "quotedata"
    c = load_quotedata(p)
    assert dict(c.rejected) == {}
    assert c.oi.tolist() == [1234.0, 77883662.0, 1234.0, 200.0]
    assert c.bid[2] == 0.0
    assert c.root.tolist() == ["SPXW", "SPXW", "SPX", "SPX"]
    assert c.am_settled.tolist() == [False, False, True, True]
    assert c.underlying == "SPX"
    assert c.as_of_ns == int(datetime(2025, 1, 7, 2, 26, tzinfo=timezone.utc).timestamp()) * 10**9
    assert any(n.startswith("prior_close=6008.2898") for n in c.notes)


def test_quotedata_unparseable_date_falls_back(tmp_path):
    meta = ["", "X,Last: 100,Change: 1", "Date: sometime soon,Bid: 1,Ask: 2"]
    p = tmp_path / "q.csv"
    p.write_text(quotedata([qd_row(call="SPY250107C00100000", put="SPY250107P00100000", strike="100.00")], meta))
    c = load_chain(p)
    # 16:00 EST on the earliest expiry 2025-01-07 = 21:00 UTC
    assert c.as_of_ns == int(datetime(2025, 1, 7, 21, 0, tzinfo=timezone.utc).timestamp()) * 10**9
    assert any("unparseable" in n for n in c.notes) and any("assumed" in n for n in c.notes)
    assert c.underlying == "SPY"


def test_eod_row_rejections(tmp_path):
    p = tmp_path / "SPY_2026-08-14.csv"
    p.write_text(
        "# spot,600,ts,2026-08-14 20:30:00\nstrike,dte,cp,oi,gamma,delta,iv,bid,ask\n"
        "600,7,C,10,0.01,0.5,0.2,1.0,1.2\n"
        "600,7,X,10,0.01,0.5,0.2,1.0,1.2\n"  # bad type
        "600,x,C,10,0.01,0.5,0.2,1.0,1.2\n"  # bad number
        "600,7.5,C,10,0.01,0.5,0.2,1.0,1.2\n"  # fractional dte
        "600,7,P,10,0.01,-0.5,0.2,-1.0,1.2\n"  # negative bid
        "600,7,P,-3,0.01,-0.5,0.2,1.0,1.2\n"  # negative oi
        "600,7,P\n"  # short
        "601,7,P,5,0.01,-0.5,0.2,,\n"  # empty quotes -> NaN, kept
    )
    c = load_eod_snapshot(p)
    assert len(c) == 2
    assert dict(c.rejected) == {"bad_type": 1, "bad_number": 1, "bad_expiry": 1,
                                "negative_price": 1, "negative_oi": 1, "missing_field": 1}
    assert np.isnan(c.bid[1]) and np.isnan(c.ask[1])


def test_long_row_rejections(tmp_path):
    p = tmp_path / "SPX_long_2025-01-22.csv"
    p.write_text(
        "Expiration Date,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Type,Index Spot\n"
        "2025-01-24,1,0,1.0,1.2,0,0.2,0.5,0.001,10,6000.0,Call,6086.37\n"
        "2025-02-30,1,0,1.0,1.2,0,0.2,0.5,0.001,10,6000.0,Call,6086.37\n"  # bad expiry
        "2025-01-24,1,0,1.0,1.2,0,0.2,0.5,0.001,10,6000.0,Straddle,6086.37\n"  # bad type
        "2025-01-24,1,0,1.0,1.2,0,0.2,0.5,0.001,10,6000.0\n"  # short
        "2025-02-21,1,0,1.0,1.2,0,0.0,0.5,0.001,10,6000.0,Put,6086.37\n"
        "2025-02-21,1,0,1.0,1.2,0,0.2,0.5,0.001,11,6000.0,Put,6086.37\n"
    )
    c = load_long(p)
    assert dict(c.rejected) == {"bad_expiry": 1, "bad_type": 1, "missing_field": 1}
    assert c.root.tolist() == ["SPXW", "SPX", "SPXW"]
    assert c.spot == 6086.37
    assert np.isnan(c.vendor_iv[1]) and c.vendor_iv[2] == 0.2
