"""Position files have one strict reader: a bad row or a symbol not in the chain is an
error naming the file and the line, wherever a positions file is read (the dealers'
positions model, `monitor size --positions`, the configured user positions of the live
state's sizing advice)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.books import build_books, read_positions
from monitor.cli import app
from monitor.config import Settings, UnderlyingSettings
from monitor.ingest import Pipeline
from monitor.regimes.sizing import advice_for_state
from monitor.state import build_state
from tests.service.helpers import CHAIN

GOOD = "SPXW260918C07700000"  # in the 2026-08-21 chain
UNKNOWN = "SPXW260918C07777000"  # not a listed strike


@pytest.fixture(scope="module")
def spx_book():
    return build_books(Settings(), [CHAIN])["SPX"]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_FILES = [  # (content, line of the error, words in the message)
    (f"symbol,dealer_contracts\n{GOOD},10\n{UNKNOWN},5\n", 3,
     f"position not in the SPX chain: {UNKNOWN}"),
    (f"symbol,dealer_contracts\n{GOOD},ten\n", 2, "'ten' is not a number"),
    (f"# dealers\n{GOOD},1,2\n", 2, "expected 2 columns"),
    (f"{GOOD},nan\n", 1, "must be finite"),
]


@pytest.mark.parametrize("content,line,words", BAD_FILES)
def test_dealer_positions_file_errors_name_file_and_line(tmp_path, content, line, words):
    path = write(tmp_path, "dealers.csv", content)
    settings = Settings(underlyings={"SPX": UnderlyingSettings(
        settlement="am_monthly", position_model="positions", positions_file=path.name)})
    with pytest.raises(ValueError) as err:
        build_books(settings, [CHAIN], base=tmp_path)
    assert f"{path}:{line}: " in str(err.value) and words in str(err.value)


def test_dealer_positions_file_is_applied(tmp_path, spx_book):
    path = write(tmp_path, "dealers.csv", f"symbol,dealer_contracts\n{GOOD},-250\n")
    settings = Settings(underlyings={"SPX": UnderlyingSettings(
        settlement="am_monthly", position_model="positions", positions_file=str(path))})
    book = build_books(settings, [CHAIN])["SPX"]
    i = book.index_of(GOOD)
    assert book.c.pos[i] == -250.0
    assert (book.c.pos != 0).sum() == 1  # every other contract holds 0


@pytest.mark.parametrize("content,line,words", BAD_FILES)
def test_size_positions_errors_name_file_and_line(tmp_path, content, line, words):
    path = write(tmp_path, "mine.csv", content.replace("dealer_contracts", "contracts"))
    r = CliRunner().invoke(app, ["size", str(CHAIN), "--positions", str(path)])
    assert r.exit_code == 2
    out = r.stderr.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("monitor: error: ")
    assert f"{path}:{line}: " in out[0] and words.replace("dealer_contracts", "contracts") in out[0]


def test_configured_user_positions_errors_reach_the_advice(tmp_path, spx_book):
    path = write(tmp_path, "mine.csv", f"symbol,contracts\n{GOOD},2\n{UNKNOWN},1\n")
    settings = Settings(underlyings={"SPX": UnderlyingSettings(
        settlement="am_monthly", user_positions_file=path.name)})
    s = Pipeline({"SPX": spx_book}).states["SPX"]
    state, _ = build_state(s, ["long_gamma"])
    adv = advice_for_state(state, settings, book=spx_book, base=tmp_path)
    assert adv["position"] is None
    assert f"{path}:3: position not in the SPX chain: {UNKNOWN}" in adv["error"]


def test_binary_positions_file_is_named_not_echoed(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not a csv")
    with pytest.raises(ValueError) as err:
        read_positions(path)
    msg = str(err.value)
    assert str(path) in msg and "not a text CSV file" in msg and "\\xd0" not in msg
