"""The project's canonical chain CSV: exact round trips, header format, gzip."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from monitor.chain.loaders import load_canonical, load_chain, write_canonical
from monitor.chain.model import ARRAY_FIELDS, Chain
from tests.chain._util import load
from tests.data_paths import EOD_DIR, LONG_DIR, QUOTEDATA_DIR


def assert_same_chain(a: Chain, b: Chain) -> None:
    assert (a.underlying, a.spot, a.as_of_ns, len(a)) == (b.underlying, b.spot, b.as_of_ns, len(b))
    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
            # bit-exact, including the sign of zero
            assert np.array_equal(np.signbit(x), np.signbit(y)), name
        else:
            assert np.array_equal(x, y), name


SOURCES = [
    EOD_DIR / "SPX/SPX_2026-08-21.csv.gz",
    EOD_DIR / "VIX/VIX_2026-07-17.csv.gz",
    QUOTEDATA_DIR / "spx/SPX_quotedata_2023-09-14_1631.csv.gz",
    QUOTEDATA_DIR / "other/NDX_quotedata_2022-02-05_2026.csv.gz",
    LONG_DIR / "SPX_long_2025-01-29.csv.gz",
]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_round_trip_exact(tmp_path, src, suffix):
    c = load(str(src))
    out = tmp_path / f"chain{suffix}"
    write_canonical(c, out)
    back = load_chain(out)
    assert back.layout == "canonical"
    assert dict(back.rejected) == {}
    assert_same_chain(c, back)
    # writing the loaded chain again gives the same bytes
    out2 = tmp_path / f"again{suffix}"
    write_canonical(back, out2)
    assert out.read_bytes() == out2.read_bytes()
    if suffix == ".csv.gz":
        assert out.read_bytes()[:2] == b"\x1f\x8b"


def test_header_format(tmp_path):
    c = load(str(EOD_DIR / "SPX/SPX_2026-08-21.csv.gz"))
    out = write_canonical(c, tmp_path / "c.csv")
    lines = out.read_text().splitlines()
    assert lines[0] == "# monitor-chain v1,underlying=SPX,spot=7674.3701,as_of=2026-08-21T22:18:44Z"
    assert lines[1] == "symbol,bid,ask,oi,iv,delta,gamma"
    assert len(lines) == 2 + len(c)
    # first file row: 200.00,0,C,2994,0.000000,0.0000,0.0000,0.00,0.00 -> AM SPX, iv empty
    assert lines[2] == "SPX260821C00200000,0.0,0.0,2994,,0.0,0.0"
    assert all(re.fullmatch(r"[A-Z0-9]{1,6}\d{6}[CP]\d{8}(,[^,]*){6}", ln) for ln in lines[2:200])


def test_as_of_nanoseconds_and_nan_quotes(tmp_path):
    base = load(str(QUOTEDATA_DIR / "other/TSLA_quotedata_2023-08-20_2238.csv.gz"))
    c = base.take(np.arange(10))
    c.as_of_ns = base.as_of_ns + 123_456_789
    c.bid[0] = np.nan
    c.ask[1] = np.nan
    c.vendor_delta[2] = -0.0
    c.oi[3] = 12.5
    c.spot = 218.80000000000001  # same double as 218.8; repr must round-trip anyway
    out = write_canonical(c, tmp_path / "t.csv")
    first = out.read_text().splitlines()[0]
    assert first == "# monitor-chain v1,underlying=TSLA,spot=218.8,as_of=2023-08-21T02:38:00.123456789Z"
    back = load_canonical(out)
    assert_same_chain(c, back)


def test_canonical_sniffed_by_content_not_name(tmp_path):
    c = load(str(QUOTEDATA_DIR / "other/NVDA_quotedata_2025-01-06_2130.csv.gz"))
    gz_named_csv = tmp_path / "looks_plain.csv"
    write_canonical(c, tmp_path / "x.csv.gz")
    gz_named_csv.write_bytes((tmp_path / "x.csv.gz").read_bytes())
    assert_same_chain(c, load_chain(gz_named_csv))
    plain_named_gz = tmp_path / "looks_gz.csv.gz"
    plain_named_gz.write_bytes(gzip.decompress(gz_named_csv.read_bytes()))
    assert_same_chain(c, load_chain(plain_named_gz))


def test_canonical_bad_rows_counted(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "# monitor-chain v1,underlying=SPX,spot=5000.0,as_of=2025-01-06T21:00:00Z\n"
        "symbol,bid,ask,oi,iv,delta,gamma\n"
        "SPXW250107C05000000,10.0,10.5,100,0.15,0.5,0.002\n"
        "SPXW250107X05000000,10.0,10.5,100,0.15,0.5,0.002\n"  # bad symbol
        "SPXW250107P05000000,abc,10.5,100,0.15,0.5,0.002\n"  # bad number
        "SPXW250107P05010000,-1.0,10.5,100,0.15,0.5,0.002\n"  # negative price
        "SPXW250107P05020000,1.0,10.5,,0.15,0.5,0.002\n"  # missing oi
        "SPXW250107P05030000,1.0,10.5\n"  # short row
        "SPX250117P05000000,,,7,,,\n"  # empty quotes/greeks -> NaN, kept
    )
    c = load_chain(p)
    assert len(c) == 2
    assert dict(c.rejected) == {"bad_symbol": 1, "bad_number": 1, "negative_price": 1, "missing_field": 2}
    assert np.isnan(c.bid[1]) and np.isnan(c.vendor_gamma[1]) and c.oi[1] == 7.0
    assert c.root.tolist() == ["SPXW", "SPX"] and c.am_settled.tolist() == [False, True]
