"""Commands no other test runs end to end: `--version`, `daily`'s table, `events --follow`
and `publish --ticks FILE` (against the test broker). (A successful `whatif` and `size`
through the CLI: tests/test_readme_figures.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import RedisSettings
from monitor.sinks.redis_sink import RedisSink
from tests.data_paths import DATA_DIR

runner = CliRunner()


def test_version_is_the_installed_package_s():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout == f"monitor {version('dealerflow-monitor')}\n"


def test_daily_prints_one_row_per_session_with_its_numbers(tmp_path):
    """Three real sessions (2026-08-18, -19, -21 SPX files): the table's rows carry the same
    numbers as `daily --json` (GEX in $bn to one decimal, zero gamma to the point)."""
    for d in ("2026-08-18", "2026-08-19", "2026-08-21"):
        shutil.copy(DATA_DIR / "cboe_chain_eod_2026" / "SPX" / f"SPX_{d}.csv.gz", tmp_path)
    vix = DATA_DIR / "market_daily" / "VIX_close_1990-2026-08.csv"
    text = runner.invoke(app, ["daily", str(tmp_path), "--vix", str(vix)])
    js = runner.invoke(app, ["daily", str(tmp_path), "--vix", str(vix), "--json"])
    assert text.exit_code == 0 and js.exit_code == 0, text.stderr + js.stderr
    rows = json.loads(js.stdout)
    assert [r["date"] for r in rows] == ["2026-08-18", "2026-08-19", "2026-08-21"]
    lines = [x for x in text.stdout.splitlines() if x[:4] == "2026"]
    assert len(lines) == 3
    for r, line in zip(rows, lines):
        cols = line.split()
        assert cols[0] == r["date"]
        assert float(cols[1].replace(",", "")) == pytest.approx(r["spot"], abs=0.005)
        assert float(cols[2]) == pytest.approx(r["gex_usd_per_pct"] / 1e9, abs=0.05)
        zg = r["zero_gamma"]
        assert cols[4] == ("none" if zg is None else f"{zg:,.0f}")


def _event(k: int) -> dict:
    return {"kind": "regime_change", "ts_ns": 1787350724000000000 + k * 60_000_000_000,
            "underlying": "SPX", "regime": "gamma", "from": "long_gamma", "to": "short_gamma",
            "message": f"sentence {k}"}


@pytest.mark.usefixtures("shared_redis")
def test_events_follow_prints_the_stored_then_the_new_events(tmp_path):
    settings = RedisSettings(prefix=f"dealerflow_test_follow_{uuid.uuid4().hex[:8]}")

    async def store(*events):
        sink = RedisSink(settings)
        await sink.start()
        await sink.publish("SPX", {"underlying": "SPX"}, [], list(events))
        await sink.close()

    asyncio.run(store(_event(0)))
    out = tmp_path / "out.txt"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")},
           "DEALERFLOW_REDIS__PREFIX": settings.prefix}
    try:
        with open(out, "w") as fh:
            proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "events", "SPX",
                                     "--follow", "--duration", "120", "--json"],
                                    stdout=fh, stderr=subprocess.PIPE, env=env)
            try:
                def lines():
                    return [json.loads(x) for x in out.read_text().splitlines() if x.strip()]

                deadline = time.monotonic() + 60
                while len(lines()) < 1:  # the stored event first
                    assert proc.poll() is None and time.monotonic() < deadline, "no first event"
                    time.sleep(0.1)
                asyncio.run(store(_event(1)))  # then one published while it follows
                while len(lines()) < 2:
                    assert proc.poll() is None and time.monotonic() < deadline, "no new event"
                    time.sleep(0.1)
                assert [e["message"] for e in lines()] == ["sentence 0", "sentence 1"]
            finally:
                proc.terminate()
                proc.wait(30)
    finally:
        async def clean():
            sink = RedisSink(settings)
            await sink.start()
            keys = await sink.client.keys(f"{settings.prefix}:*")
            if keys:
                await sink.client.delete(*keys)
            await sink.close()
        asyncio.run(clean())


def test_publish_ticks_file_sends_every_tick_of_the_file(tmp_path, kafka_bootstrap):
    """A recorded session as JSON lines (synthetic: the simulator over the real SPX chain),
    published with --ticks into a topic of its own, read back in full and in order."""
    from aiokafka import AIOKafkaConsumer

    from monitor.wire.codec import decode, encode
    from tests.service.helpers import session_ticks

    ticks = session_ticks(1200, seed=11)
    n = len(ticks)
    path = tmp_path / "ticks.jsonl"
    path.write_bytes(b"\n".join(encode(ticks[i:i + 100], "json") for i in range(0, n, 100)))
    topic = f"pub{uuid.uuid4().hex[:8]}.ticks"
    env = {"DEALERFLOW_KAFKA__TOPICS__TICKS": topic}
    r = runner.invoke(app, ["publish", "--kafka", kafka_bootstrap, "--ticks", str(path),
                            "--rate", "1000000", "--batch", "250"], env=env)
    assert r.exit_code == 0, r.stderr
    assert f"published {n:,} ticks" in r.stdout

    async def read_back():
        c = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        got = []
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while len(got) < len(ticks):
                assert asyncio.get_running_loop().time() < deadline, f"read {len(got)}"
                for msgs in (await c.getmany(timeout_ms=500)).values():
                    for m in msgs:
                        got.extend(decode(m.value, "json").ticks)
        finally:
            await c.stop()
        return got

    got = asyncio.run(read_back())
    key = lambda t: (type(t).__name__, t.ts_ns, getattr(t, "symbol", ""))  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, ticks))
