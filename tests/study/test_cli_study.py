"""``monitor study``: monitor.study.cli.main and the `monitor study` command itself."""

import io
import json

from typer.testing import CliRunner

from monitor.cli import app  # noqa: E402  the real command
from monitor.study.cli import main
from tests.study.synth import make_data_dir


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
