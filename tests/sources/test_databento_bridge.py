"""`monitor bridge databento --replay FILE.dbn` through a real broker: a DBN session
(synthetic ticks over the packaged real SPX chain, written as OPRA records) bridged into
the tick topic and consumed by `monitor run --kafka` ends in the same state as `monitor
run --replay` of the same file, field by field (1e-9 relative), the spot's source
(implied from parity) included."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests import dbn_files as W
from tests.broker import create_topics
from tests.service.helpers import close

pytestmark = pytest.mark.usefixtures("shared_redis")

PACKAGED_SPX = Path(__file__).parents[2] / "monitor" / "data" / "SPX_2026-08-21.csv.gz"
FIELDS = ("spot", "dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day",
          "zero_gamma", "call_wall", "put_wall", "as_of_ns", "customer_puts_sold",
          "trades_classified", "trades_unclassified", "hedge_pressure_usd", "spot_source")


def _env(prefix: str, group: str | None = None) -> dict:
    env = dict(os.environ, DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_LOG_FORMAT="json")
    if group:
        env["DEALERFLOW_KAFKA__GROUP_ID"] = group
    return env


def _monitor(*args, prefix: str):
    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=_env(prefix))


def _state(key: str) -> dict:
    raw = {k.decode(): v.decode() for k, v in redis.Redis().hgetall(key).items()}
    # (text fields are stored as they are, numbers and objects as JSON)
    return {k: v if k == "spot_source" else json.loads(v)
            for k, v in raw.items() if k in FIELDS}


def _differ(got, want) -> list:
    if isinstance(want, dict):
        return [d for k in want for d in _differ((got or {}).get(k), want[k])]
    if isinstance(want, str):
        return [] if got == want else [(got, want)]
    return [] if close(got, want) else [(got, want)]


def test_a_bridged_dbn_session_ends_where_its_replay_ends(kafka_bootstrap, tmp_path):
    path, _ = W.simulated_session(tmp_path)
    p = f"br{uuid.uuid4().hex[:6]}"
    topics = {"layout": "single", "ticks": f"{p}.ticks", "dead_letter": f"{p}.dlq"}
    asyncio.run(create_topics(kafka_bootstrap, [topics["ticks"], topics["dead_letter"]], 3))
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(
        ["chains:", f"  - {PACKAGED_SPX}", "kafka:", "  topics:"]
        + [f"    {k}: {v}" for k, v in topics.items()] + ["intervals:", "  publish_ms: 200"])
        + "\n")
    prefix, ref = f"dealerflow_test_{p}", f"dealerflow_test_ref_{p}"
    consumer = None
    try:
        out = _monitor("run", "--config", config, "--replay", path, "--metrics-port", "0",
                       "--no-summary", prefix=ref)
        assert out.returncode == 0, out.stderr[-3000:]
        want = _state(f"{ref}-replay:SPX:state")
        assert want["trades_classified"] > 0 and want["hedge_pressure_usd"]["prints"] > 0
        # OPRA has no SPX level: the spot is implied, and the label travels with the ticks
        assert want["spot_source"] == "implied_parity"

        out = _monitor("bridge", "databento", "--kafka", kafka_bootstrap, "--replay", path,
                       "--config", config, prefix=prefix)
        assert out.returncode == 0, out.stderr[-3000:]
        line = out.stdout.strip().splitlines()[-1]
        m = re.match(r"bridged ([\d,]+) ticks of session\.dbn to \S+ in [\d,]+ messages, .*"
                     r"records without a tick: (.*)$", line)
        assert m, line
        # three venues send each open interest: two of three repeats, never sent
        assert "open_interest_repeat" in m.group(2)

        log = open(tmp_path / "consumer.log", "w+")
        consumer = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(config), "--kafka",
             kafka_bootstrap, "--metrics-port", "0", "--no-summary"],
            stdout=subprocess.DEVNULL, stderr=log, env=_env(prefix, f"g-{p}"))
        deadline = time.monotonic() + 300
        while _state(f"{prefix}:SPX:state").get("as_of_ns") != want["as_of_ns"] or \
                _state(f"{prefix}:SPX:state").get("trades_classified") != \
                want["trades_classified"]:
            assert consumer.poll() is None, open(tmp_path / "consumer.log").read()[-3000:]
            assert time.monotonic() < deadline, "the consumer never reached the replay's end"
            time.sleep(0.2)
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(120) == 0
        got = _state(f"{prefix}:SPX:state")
        assert _differ(got, want) == []
    finally:
        if consumer is not None and consumer.poll() is None:
            consumer.kill()
        r = redis.Redis()
        for key in r.keys(f"{prefix}*") + r.keys(f"{ref}*"):
            r.delete(key)


def test_the_bridge_refuses_what_it_cannot_send_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABENTO_API_KEY"}
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "bridge", "databento",
                          "--kafka", "127.0.0.1:1"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 2
    assert out.stderr.strip() == ("monitor: error: the Databento API key is not set: export "
                                  "DATABENTO_API_KEY")
    out = _monitor("bridge", "databento", "--kafka", "127.0.0.1:1", "--replay",
                   tmp_path / "none.dbn", prefix="unused")
    assert (out.returncode, out.stderr.strip()) == (
        2, f"monitor: error: DBN file not found: {tmp_path / 'none.dbn'}")
