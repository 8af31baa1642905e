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


def test_a_last_row_cut_mid_field_is_dropped_with_its_line_never_a_silent_number(tmp_path,
                                                                                 eod_lines):
    """A download cut inside the last field of its last row (``...,0.15,0.``) still has all
    9 fields: without its line terminator it is dropped, counted and noted with FILE:LINE,
    and the book equals the file without that row."""
    body = "".join(eod_lines[:12000])
    assert body.endswith("\n")
    last = eod_lines[11999].rstrip("\r\n")
    cut = body[: len(body) - 1 - (len(last) - last.rindex(",") - 2)]  # keep one digit of the ask
    assert cut.count(",") - body.count(",") == 0 and not cut.endswith("\n")
    path = tmp_path / "SPX_2026-08-21.csv"
    path.write_text(cut)
    chain = load_chain(path)
    assert chain.rejected["unterminated_last_row"] == 1
    assert any(n.startswith("SPX_2026-08-21.csv:12000: the last line has no line terminator")
               for n in chain.notes), chain.notes
    whole = tmp_path / "whole" / "SPX_2026-08-21.csv"
    whole.parent.mkdir()
    whole.write_text("".join(eod_lines[:11999]))
    assert len(chain) == len(load_chain(whole))
    r = CliRunner().invoke(app, ["snapshot", str(path)])
    assert r.exit_code == 0 and "unterminated_last_row" in r.stdout and ":12000:" in r.stdout


def test_a_real_file_without_a_final_newline_is_noted():
    """One real CBOE download (2022-01-09) ends without a line terminator: its last row is
    dropped with the note, not silently taken or silently lost."""
    chain = load_chain(DATA_DIR / "cboe_quotedata" / "spx" / "SPX_quotedata_2022-01-09_0311.csv.gz")
    assert chain.rejected["unterminated_last_row"] == 2  # a call and a put
    assert any("no line terminator" in n for n in chain.notes)


def test_a_png_given_as_a_chain_is_named_and_not_echoed(tmp_path):
    import base64
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
                           "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")  # a 1x1 PNG
    path = tmp_path / "chart.png"
    path.write_bytes(png)
    r = CliRunner().invoke(app, ["snapshot", str(path)])
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("monitor: error: unknown chain layout in") and "binary content" in line
    assert "PNG" not in line and "IHDR" not in line and "accepted: quotedata" in line
