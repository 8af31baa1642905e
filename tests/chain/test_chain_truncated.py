"""Files that cannot mislead: a real chain cut mid-row, or whose rows stop inside the first
(AM) block, is refused with the line; an end-of-day file whose name does not carry the root
is refused unless --underlying says it, and then equals the original."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from monitor.chain import ChainError, load_chain
from monitor.cli import app
from tests.data_paths import DATA_DIR

EOD = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-21.csv.gz"
QUOTEDATA = sorted((DATA_DIR / "cboe_quotedata" / "spx").glob("*"))[0]


@pytest.fixture(scope="module")
def eod_lines() -> list[str]:
    return gzip.decompress(EOD.read_bytes()).decode().splitlines(keepends=True)


def test_cut_mid_row_is_refused_with_its_line(tmp_path, eod_lines):
    text = "".join(eod_lines[:12000])
    cut = text[: len(text) - 9]  # the last row loses its last fields, as a cut download
    path = tmp_path / "SPX_2026-08-21.csv"
    path.write_text(cut)
    with pytest.raises(ChainError, match=r"SPX_2026-08-21.csv:12000: the last row has \d of 9 "
                                         r"fields: the file is cut mid-row"):
        load_chain(path)


def test_rows_stopping_inside_the_first_block_are_refused(tmp_path, eod_lines):
    """The file is one SPX (AM, monthly expiries) block, then the SPXW (PM) block; cut at a
    row boundary inside the first block, no PM block follows."""
    path = tmp_path / "SPX_2026-08-21.csv"
    path.write_text("".join(eod_lines[:1500]))
    with pytest.raises(ChainError, match=r"rows stop inside the SPX \(AM\) block: no SPXW"):
        load_chain(path)


def test_quotedata_cut_mid_row_is_refused(tmp_path):
    raw = QUOTEDATA.read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8", "replace")
    path = tmp_path / "quotedata.csv"
    path.write_text(text.rstrip("\r\n")[:-25] + "\n")
    with pytest.raises(ChainError, match="cut mid-row"):
        load_chain(path)


def test_renamed_file_needs_the_underlying_and_then_equals_the_original(tmp_path, eod_lines):
    path = tmp_path / "full.csv"
    path.write_text("".join(eod_lines))
    runner = CliRunner()
    r = runner.invoke(app, ["snapshot", str(path)])
    assert r.exit_code == 2
    assert "name the file ROOT_YYYY-MM-DD.csv[.gz]" in r.stderr and "--underlying" in r.stderr
    renamed = load_chain(path, underlying="SPX")
    original = load_chain(EOD)
    assert renamed.underlying == original.underlying == "SPX"
    assert list(renamed.root) == list(original.root)  # the SPX / SPXW (AM / PM) split
    assert renamed.as_of_ns == original.as_of_ns
    a = json.loads(runner.invoke(app, ["snapshot", str(path), "--underlying", "SPX",
                                       "--json"]).stdout)
    b = json.loads(runner.invoke(app, ["snapshot", str(EOD), "--json"]).stdout)
    for key in ("gex_usd_per_pct", "dex_usd", "vex_usd_per_vol_pt", "cex_usd_per_day",
                "zero_gamma", "call_wall", "put_wall"):
        assert a[key] == b[key], key
