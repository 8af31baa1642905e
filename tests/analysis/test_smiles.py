"""``monitor smiles``: the comparison row of a real chain agrees with two snapshots of the
same file, one with the configured smile and one with ``pricing.smile: false`` (a config
file, through the CLI: an independent path to the same books)."""

import json

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.data_paths import DATA_DIR

CHAIN = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-19.csv.gz"


def _json(args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("cfg") / "config.yaml"
    cfg.write_text("pricing:\n  smile: false\n")
    on = _json(["snapshot", CHAIN, "--json"])
    off = _json(["snapshot", CHAIN, "--json", "--config", cfg])
    return on, off


def test_row_agrees_with_snapshots_with_and_without_the_smile(snapshots):
    on, off = snapshots
    (row,) = _json(["smiles", CHAIN, "--json"])
    assert row["one_sided"] == on["iv_source"]["smile"] + on["iv_source"]["smile_at_bound"] > 0
    assert off["iv_source"].get("smile", 0) == 0  # smile off: nobody takes a smile IV
    assert off["smiles_tried"] == 0
    assert row["smiles_fitted"] == on["smiles_fitted"] and row["smiles_tried"] == on["smiles_tried"]
    assert row["cex_usd_per_day"] == pytest.approx(on["cex_usd_per_day"], rel=1e-9)
    assert row["cex_change_pct"] == pytest.approx(
        100 * (on["cex_usd_per_day"] / off["cex_usd_per_day"] - 1), rel=1e-6)
    day = lambda s: next(f["flow_usd"] for f in s["scenarios"]  # noqa: E731
                         if f["days"] == 1 and f["spot_pct"] == 0 and f["vol_pts"] == 0)
    assert row["flow_1d_usd"] == pytest.approx(day(on), rel=1e-9)
    assert row["flow_1d_change_pct"] == pytest.approx(100 * (day(on) / day(off) - 1), rel=1e-6)
    # the smile prices the one-sided quotes below their own (mostly ask/2) mids
    assert row["smile_vs_cboe"] < row["own_mid_vs_cboe"]
    assert 0 <= row["two_sided_vs_cboe"] < 0.5


def test_human_table_fits_100_columns():
    r = CliRunner().invoke(app, ["smiles", str(CHAIN)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["file", "on", "smile"]
    assert lines[1].startswith("SPX_2026-08-19 ")
    assert max(len(x) for x in lines) <= 100
