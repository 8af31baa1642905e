"""Errors that name the problem: every bad configuration, option or file below is refused
before anything starts, with exit status 2 and one `monitor: error:` line naming the key,
option or file (no traceback, no usage box, no raw bytes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.paths import packaged_chain

CHAIN = str(packaged_chain())


def one_error_line(r) -> str:
    lines = [x for x in r.stderr.strip().splitlines() if x.startswith("monitor: error:")]
    assert r.exit_code == 2, (r.exit_code, r.stdout[-500:], r.stderr[-1500:])
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-1500:]
    return lines[0]


def invoke(*args, env=None):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize("yaml_text,words", [
    ("intervals:\n  publsh_ms: 5\n",
     ["intervals.publsh_ms: unknown key", "did you mean intervals.publish_ms?"]),
    ("underlyings:\n  SPX:\n    multiplr: 5\n",
     ["underlyings.SPX.multiplr: unknown key", "did you mean underlyings.SPX.multiplier?"]),
    ("metrics:\n  port: 99999\n", ["metrics.port:", "65535", "got 99999"]),
    ("pricing:\n  rate: lots\n", ["pricing.rate:", "valid number", "got 'lots'"]),
    ("pricing: [\n  rate: 1\n", [":3:1: not valid YAML"]),
    ("alerts:\n  slack_webhook_url: https://x\n", ["secrets come from the environment"]),
])
def test_config_errors_name_file_and_key(tmp_path, yaml_text, words):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    line = one_error_line(invoke("snapshot", CHAIN, "--config", str(cfg)))
    assert str(cfg) in line
    for w in words:
        assert w in line, line


def test_environment_errors_name_the_variable():
    line = one_error_line(invoke("snapshot", CHAIN, env={"DEALERFLOW_PRICING__RATE": "abc"}))
    assert "environment variable DEALERFLOW_PRICING__RATE: pricing.rate:" in line


@pytest.mark.parametrize("args,words", [
    (["run", "--metrics-port", "99999"], "'--metrics-port'"),
    (["run", "--rate", "-5"], "--rate must be a number > 0, got -5.0"),
    (["run", "--duration", "-1"], "--duration must be a number > 0, got -1.0"),
    (["publish", "--kafka", "127.0.0.1:1", "--rate", "0"], "--rate must be a number > 0"),
    (["publish", "--kafka", "127.0.0.1:1", "--batch", "0"], "--batch must be a number > 0"),
    (["snapshot", CHAIN, "--bogus"], "No such option: --bogus"),
    (["snapshot"], "Missing argument 'path'"),
    (["whatif", CHAIN, "--points", "many"], "'--points'"),
    (["whatif", CHAIN, "--surface", "sticky"],
     "--surface must be sticky-strike or sticky-moneyness, not 'sticky'"),
    (["smiles", "/nonexistent/chain.csv"], "chain file not found: /nonexistent/chain.csv"),
    (["snapshot", "/nonexistent/chain.csv"], "chain file not found: /nonexistent/chain.csv"),
])
def test_bad_options_are_refused_before_anything_starts(args, words):
    assert words in one_error_line(invoke(*args))


def test_binary_chain_is_named_not_echoed(tmp_path):
    path = tmp_path / "chain.csv"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    line = one_error_line(invoke("snapshot", str(path)))
    assert str(path) in line and "binary content" in line and "\\x" not in line


@pytest.mark.parametrize("command", [["run", "--metrics-port", "0", "--duration", "30"],
                                     ["publish", "--seconds", "1"]])
def test_unreachable_broker_is_one_line_after_a_bounded_wait(command, tmp_path):
    """Nothing listens on port 1: the real process ends with one error line, quickly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    env["DEALERFLOW_REDIS__PREFIX"] = "dealerflow_test_unreachable"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", *command, "--kafka",
                           "127.0.0.1:1"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [x for x in proc.stderr.splitlines() if x.startswith("monitor: error:")]
    assert errors == ["monitor: error: cannot reach Kafka at 127.0.0.1:1: KafkaConnectionError"]
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 60
