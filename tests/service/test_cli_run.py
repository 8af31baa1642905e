"""`monitor run` and `monitor publish` as a user runs them (subprocesses)."""

import json
import os
import subprocess
import sys
import uuid

import pytest
import redis

from tests.broker import create_topics

pytestmark = pytest.mark.usefixtures("shared_redis")


def env(**extra):
    e = dict(os.environ)
    e["DEALERFLOW_REDIS__PREFIX"] = f"dealerflow_test_{uuid.uuid4().hex[:8]}"
    e.update(extra)
    return e


def cleanup(prefix):
    r = redis.Redis()
    keys = r.keys(f"{prefix}:*")
    state = {k.decode(): v.decode() for k, v in r.hgetall(f"{prefix}:SPX:state").items()}
    if keys:
        r.delete(*keys)
    return state


def test_run_embedded_default_prints_summary_and_exits_cleanly():
    e = env()
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--duration", "4",
                           "--metrics-port", "0"], capture_output=True, text=True, timeout=120,
                          env=e)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stdout.splitlines() if x.startswith("SPX spot")]
    assert lines and "GEX" in lines[-1] and "ticks/s" in lines[-1] and "zero-gamma" in lines[-1]
    # the embedded run writes under its own prefix, nothing under the live one
    assert cleanup(e["DEALERFLOW_REDIS__PREFIX"]) == {}
    state = cleanup(e["DEALERFLOW_REDIS__PREFIX"] + "-demo")
    assert float(state["spot"]) > 7000 and state["regime"].strip('"') in ("long_gamma",
                                                                          "short_gamma")
    # logs are JSON lines when stderr is not a terminal
    events = [json.loads(x)["event"] for x in proc.stderr.splitlines() if x.startswith("{")]
    assert "monitor_started" in events and "monitor_stopped" in events
    # issue 16: every kernel is warm before the service says ready, none compiles after
    assert events.index("kernels_ready") < events.index("monitor_started")
    assert "compiled_after_ready" not in events


def test_publish_then_run_against_kafka(kafka_bootstrap):
    import asyncio

    p = f"cli{uuid.uuid4().hex[:6]}"
    topics = {"TICKS": f"{p}.ticks", "OPTION_QUOTES": f"{p}.q", "OPTION_TRADES": f"{p}.t", "UNDERLYING": f"{p}.u",
              "OPEN_INTEREST": f"{p}.oi", "VOL_INDEX": f"{p}.v", "DEAD_LETTER": f"{p}.dlq"}
    asyncio.run(create_topics(kafka_bootstrap, list(topics.values()), 3))
    e = env(**{f"DEALERFLOW_KAFKA__TOPICS__{k}": v for k, v in topics.items()},
            DEALERFLOW_KAFKA__SESSION_TIMEOUT_MS="2000",
            DEALERFLOW_KAFKA__HEARTBEAT_INTERVAL_MS="300",
            DEALERFLOW_KAFKA__GROUP_ID=f"g-{p}")
    pub = subprocess.run([sys.executable, "-m", "monitor.cli", "publish", "--kafka",
                          kafka_bootstrap, "--seconds", "0.5", "--rate", "50000",
                          "--encoding", "binary"], capture_output=True, text=True, timeout=120,
                         env={**e, "DEALERFLOW_KAFKA__ENCODING": "binary"})
    assert pub.returncode == 0, pub.stderr[-2000:]
    assert "published 10,050 ticks" in pub.stdout
    # the README's order: the embedded default first, under the same settings ...
    demo = subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--duration", "3",
                           "--metrics-port", "0", "--no-summary"], capture_output=True, text=True,
                          timeout=120, env=e)
    assert demo.returncode == 0, demo.stderr[-2000:]
    run = subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--kafka", kafka_bootstrap,
                          "--duration", "8", "--metrics-port", "0", "--no-summary"],
                         capture_output=True, text=True, timeout=120,
                         env={**e, "DEALERFLOW_KAFKA__ENCODING": "binary"})
    assert run.returncode == 0, run.stderr[-2000:]
    stopped = [json.loads(x) for x in run.stderr.splitlines()
               if x.startswith("{") and '"monitor_stopped"' in x]
    assert stopped and stopped[0]["ticks_received"] == 10050
    # ... leaves nothing the Kafka run restores, and no quote of it is stale because of it
    assert '"checkpoint_restored"' not in run.stderr and "set aside" not in run.stderr
    assert stopped[0]["stale"] == 0
    assert cleanup(e["DEALERFLOW_REDIS__PREFIX"] + "-demo")["spot"]  # the demo's own keys
    state = cleanup(e["DEALERFLOW_REDIS__PREFIX"])
    assert float(state["spot"]) > 7000
