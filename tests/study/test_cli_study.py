"""``monitor study``: monitor.study.cli.main and the typer command proposed for
monitor/cli.py (defined here verbatim, registered on a local app)."""

import io
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from monitor.study.cli import main
from tests.study.synth import make_data_dir

app = typer.Typer(add_completion=False)


@app.callback()
def _root() -> None:
    """test app"""


# --- the command proposed for monitor/cli.py (keep in sync with docs/study.md) ----------
@app.command()
def study(
    data: Path = typer.Option(Path("../shared/data"), "--data",
                              help="data directory in the shared/data layout (market_daily/, "
                                   "calendar/, intraday/, cboe_chain_eod*/)"),
    out: Path = typer.Option(Path("study-report"), "--out",
                             help="output directory for report.md and the PNG charts"),
    no_own_gex: bool = typer.Option(False, "--no-own-gex",
                                    help="skip the project's own GEX from the daily SPX "
                                         "chains (claim 1, second half, and the 2026 table)"),
    as_json: bool = typer.Option(False, "--json",
                                 help="print the results as one JSON object"),
) -> None:
    """Test the mechanical dealer-flow claims on real history; write a Markdown report
    with charts (progress on stderr)."""
    from monitor.study.cli import main as study_main

    code = study_main(data, out, own_gex=not no_own_gex, as_json=as_json)
    if code:
        raise typer.Exit(code)
# ----------------------------------------------------------------------------------------


def test_main_missing_dir_is_one_line_exit_2(tmp_path):
    err = io.StringIO()
    assert main(tmp_path / "nope", tmp_path / "out", stdout=io.StringIO(), stderr=err) == 2
    last = err.getvalue().strip().splitlines()[-1]
    assert last.startswith("monitor: error: data directory not found")


def test_typer_command_json_and_help(tmp_path):
    root = make_data_dir(tmp_path / "d", start="2012-01-03", end="2016-12-30")
    runner = CliRunner()
    r = runner.invoke(app, ["study", "--help"])
    assert r.exit_code == 0
    for opt in ("--data", "--out", "--no-own-gex", "--json"):
        assert opt in r.output
    r = runner.invoke(app, ["study", "--data", str(root), "--out", str(tmp_path / "o"),
                            "--no-own-gex", "--json"])
    assert r.exit_code == 0, r.output
    start = r.stdout.index("{")
    d = json.loads(r.stdout[start:])
    assert set(d["claims"]) == {"1", "2", "3", "4", "5"}
    assert (tmp_path / "o" / "report.md").exists()
    r = runner.invoke(app, ["study", "--data", str(tmp_path / "missing")])
    assert r.exit_code == 2
