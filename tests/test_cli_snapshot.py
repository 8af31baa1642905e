"""`monitor snapshot` end to end on real chains: JSON fields, vendor GEX golden values,
human output, and one-line errors for bad input."""

import csv
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from monitor.chain.loaders import load_chain
from monitor.cli import app
from monitor.core.book import Book
from monitor.fmt import money
from tests.data_paths import DATA_DIR

EOD = DATA_DIR / "cboe_chain_eod_2026"
CHAIN = EOD / "SPX" / "SPX_2026-08-21.csv.gz"
runner = CliRunner()

REQUIRED = ["underlying", "spot", "as_of", "greeks", "model", "contracts_used", "dex_usd",
            "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day", "zero_gamma",
            "call_wall", "put_wall", "by_strike", "by_expiry", "scenarios", "rejected"]


def snapshot_json(*args):
    res = runner.invoke(app, ["snapshot", *map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def reference_gex():
    with open(EOD / "gamma_SPX_reference.csv") as fh:
        return {r["date"]: float(r["net_gex_mm"]) for r in csv.DictReader(fh)}


def test_json_fields_and_units():
    s = snapshot_json(CHAIN)
    for key in REQUIRED:
        assert key in s
    assert s["underlying"] == "SPX" and s["greeks"] == "model" and s["model"] == "classic"
    assert s["spot"] == pytest.approx(7674.3701)
    # saved at 18:18 ET, after the session: evaluated at the 16:15 ET close of index options
    assert s["as_of"] == "2026-08-21T20:15:00Z"
    assert s["quotes_taken_at"] == "2026-08-21T22:18:44Z"
    assert any(n.startswith("clock: quotes taken 2026-08-21 18:18 ET") for n in s["notes"])
    assert set(s["by_strike"][0]) == {"strike", "gex_usd_per_pct_calls", "gex_usd_per_pct_puts",
                                      "vex_usd_per_vol_pt", "cex_usd_per_day"}
    assert {"expiry", "dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt",
            "cex_usd_per_day"} <= set(s["by_expiry"][0])
    assert {(x["spot_pct"], x["vol_pts"], x["days"]) for x in s["scenarios"]} == {
        (-5, 0, 0), (-2, 0, 0), (-1, 0, 0), (1, 0, 0), (2, 0, 0), (5, 0, 0),
        (0, -5, 0), (0, -2, 0), (0, 2, 0), (0, 5, 0), (0, 0, 1)}
    for x in s["scenarios"]:
        assert x["flow_shares"] == pytest.approx(x["flow_usd"] / s["spot"])
    # the parts add up to the totals
    calls = sum(r["gex_usd_per_pct_calls"] for r in s["by_strike"])
    puts = sum(r["gex_usd_per_pct_puts"] for r in s["by_strike"])
    assert calls > 0 > puts  # classic: dealers long calls, short puts
    assert calls + puts == pytest.approx(s["gex_usd_per_pct"], rel=1e-9)
    assert sum(r["gex_usd_per_pct"] for r in s["by_expiry"]) == pytest.approx(
        s["gex_usd_per_pct"], rel=1e-9)
    # expired contracts (the 2026-08-21 PM expiry, past 16:00 ET) are excluded and counted
    assert s["rejected"]["expired"] > 0
    assert all(r["expiry"] > "2026-08-21" for r in s["by_expiry"])
    # linear estimate and the totals agree by definition
    one_up = next(x for x in s["scenarios"] if x["spot_pct"] == 1)
    assert one_up["flow_usd_linear"] == pytest.approx(-s["gex_usd_per_pct"])


def test_forward_structure_in_json_and_human_output_agree():
    """The 2026-08-21 file is evaluated at that Friday's close (16:15 ET): +1h is 17:15,
    the next close and open are Monday 2026-08-24's, and the next expiration after the
    Friday is Monday's SPXW (16:00 ET)."""
    s = snapshot_json(CHAIN)
    fw = {r["horizon"]: r for r in s["forward"]}
    # in time order: Monday's open (09:30 ET) and expiration (16:00 ET) before its close
    assert list(fw) == ["+1h", "next_open", "after_next_expiry", "close"]
    assert [r["ts_ns"] for r in s["forward"]] == sorted(r["ts_ns"] for r in s["forward"])
    assert fw["+1h"]["ts"] == "2026-08-21T21:15:00Z"
    assert fw["close"]["ts"] == "2026-08-24T20:15:00Z"
    assert fw["next_open"]["ts"] == "2026-08-24T13:30:00Z"
    assert fw["after_next_expiry"]["ts"] == "2026-08-24T20:00:00Z"
    assert s["charm_to_close_ts"] == fw["close"]["ts"]
    assert s["charm_to_close_shares"] * s["spot"] == pytest.approx(s["charm_to_close_usd"])
    # +1h on a Friday evening: nothing settles, GEX moves by time decay alone
    assert fw["+1h"]["gex_usd_per_pct"] == pytest.approx(s["gex_usd_per_pct"], rel=0.01)
    assert fw["close"]["contracts_live"] < fw["+1h"]["contracts_live"]
    text = runner.invoke(app, ["snapshot", str(CHAIN)]).stdout
    table = text[text.index("Structure forward in time"):]
    for r in s["forward"]:
        line = next(x for x in table.splitlines() if x.strip().startswith(r["horizon"] + " "))
        zg = "none" if r["zero_gamma"] is None else f"{r['zero_gamma']:,.2f}"
        assert zg in line and money(r["gex_usd_per_pct"]) in line
    # times a person reads in New York, with the zone (UTC in the JSON above)
    assert next(x for x in table.splitlines() if x.strip().startswith("next_open ")).split()[1:4] \
        == ["2026-08-24", "09:30", "EDT"]
    assert "charm to the close (2026-08-24 16:15 EDT)" in " ".join(table.split())
    usd = s["charm_to_close_usd"]
    words = " ".join(table.split())
    assert f"dealers {'BUY' if usd > 0 else 'SELL'} {money(abs(usd), signed=False)}" in words


def test_vendor_greeks_reproduce_published_gex_example():
    s = snapshot_json(CHAIN, "--greeks", "vendor")
    assert s["gex_usd_per_pct"] / 1e6 == pytest.approx(20520.2, abs=0.05)
    assert s["greeks"] == "vendor"


def test_vendor_gex_every_spx_file_matches_reference():
    ref = reference_gex()
    checked = 0
    for path in sorted((EOD / "SPX").glob("SPX_*.csv.gz")):
        date = path.stem.split("_")[1].removesuffix(".csv")
        if date not in ref:
            continue  # 2026-06-23 has no reference row (SOURCES.md)
        b = Book(load_chain(path), greeks="vendor")
        assert b.totals["gex_usd_per_pct"] / 1e6 == pytest.approx(ref[date], abs=0.05), date
        checked += 1
    assert checked == 43


def test_short_all_model_is_more_negative_than_classic():
    classic = snapshot_json(CHAIN)
    short_all = snapshot_json(CHAIN, "--model", "short_all")
    assert short_all["model"] == "short_all"
    # customers long everything: every gamma is dealer-short
    assert short_all["gex_usd_per_pct"] < 0
    assert short_all["gex_usd_per_pct"] < classic["gex_usd_per_pct"]


def test_human_output_fits_100_columns_and_spells_out_flows():
    res = runner.invoke(app, ["snapshot", str(CHAIN)])
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert max(len(x) for x in lines) <= 100
    # the scale of the dollar figures: days of the configured average daily volume
    s = snapshot_json(CHAIN)
    day_usd = s["adv_shares"] * s["spot"]
    assert s["adv_shares"] > 0 and "July 2025" in s["adv_source"]
    assert f"DEX = {s['dex_usd'] / day_usd:+,.1f} days of average daily volume" in res.stdout
    assert f"GEX per 1% = {100 * s['gex_usd_per_pct'] / day_usd:+.1f}% of a day's volume" in res.stdout
    # the per-expiry table is folded: the first rows, one line for the rest, the total
    assert any(x.startswith("By expiry (the first 12 of ") for x in lines)
    assert any(x.lstrip().startswith("+") and " more " in x for x in lines)
    assert any(x.lstrip().startswith("total ") for x in lines)
    text = res.stdout
    for needle in ("GEX", "zero gamma", "call wall", "put wall", "By expiry", "spot -2%",
                   "vol +2 pts", "+1 day"):
        assert needle in text
    assert "BUY" in text and "SELL" in text


@pytest.mark.parametrize("content,needle", [
    (None, "not found"),
    ("hello,world\n1,2\n", "layout"),
    ("# monitor-chain v1,underlying=SPX,spot=100.0,as_of=2026-01-02T21:00:00Z\n"
     "symbol,bid,ask,oi,iv,delta,gamma\n", "empty"),
    ("strike,dte,cp,oi,gamma,delta,iv,bid,ask\n100,1,C,1,0,0,0,1,2\n", "spot"),
])
def test_bad_input_one_line_error_nonzero_exit(tmp_path, content, needle):
    path = tmp_path / "chain.csv"
    if content is not None:
        path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", "snapshot", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("monitor: error:")
    assert needle in err[0].lower()
