"""`monitor events ROOT` prints the regime changes the service stored in Redis;
`monitor alerts test` sends one message to each configured webhook and says whether it
arrived (a recording HTTP server stands in for Slack/Teams)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import RedisSettings
from monitor.logs import reset_logging
from monitor.sinks.redis_sink import RedisSink
from tests.http_recorder import RecordingServer, Reply


@pytest.fixture(autouse=True)
def _own_logging():
    """`alerts test` configures logging onto the runner's stderr, closed afterwards: put
    the defaults back so later tests do not log into a closed stream."""
    yield
    reset_logging()


@pytest.mark.usefixtures("shared_redis")
def test_events_prints_the_stored_regime_changes():
    prefix = f"dealerflow_test_events_{uuid.uuid4().hex[:8]}"
    settings = RedisSettings(prefix=prefix)
    events = [{"kind": "regime_change", "ts_ns": 1787350724000000000 + k, "underlying": "SPX",
               "regime": "gamma", "from": frm, "to": to, "message": f"sentence {k}"}
              for k, (frm, to) in enumerate([(None, "long_gamma"), ("long_gamma", "short_gamma")])]

    async def store():
        sink = RedisSink(settings)
        await sink.start()
        await sink.publish("SPX", {"underlying": "SPX"}, [], events)
        await sink.close()

    asyncio.run(store())
    env = {"DEALERFLOW_REDIS__PREFIX": prefix}
    try:
        r = CliRunner().invoke(app, ["events", "SPX"], env=env)
        assert r.exit_code == 0, r.output
        lines = r.stdout.strip().splitlines()
        assert len(lines) == 2
        assert "gamma: - -> long_gamma  sentence 0" in lines[0]
        assert "gamma: long_gamma -> short_gamma  sentence 1" in lines[1]
        # one prefix is read, and named: the live runs', with the demo's beside it
        assert r.stderr.strip() == (f"events of SPX under Redis prefix {prefix} (live runs; the "
                                    f"embedded demo's are under {prefix}-demo: --demo)")
        r = CliRunner().invoke(app, ["events", "SPX", "--last", "1", "--json"], env=env)
        (line,) = r.stdout.strip().splitlines()
        assert json.loads(line)["to"] == "short_gamma"
        r = CliRunner().invoke(app, ["events", "SPX", "--demo"], env=env)
        assert r.exit_code == 0 and r.stdout == ""  # the demo's prefix holds none of these
        assert f"under Redis prefix {prefix}-demo (embedded demo;" in r.stderr
    finally:
        async def clean():
            sink = RedisSink(settings)
            await sink.start()
            await sink.client.delete(*await sink.client.keys(f"{prefix}:*"))
            await sink.close()
        asyncio.run(clean())


def test_alerts_test_sends_one_message_per_webhook():
    with RecordingServer() as server:
        path = "/hooks/generic/s3cr3t"
        env = {"DEALERFLOW_ALERTS__GENERIC_WEBHOOK_URL": server.url(path)}
        r = CliRunner().invoke(app, ["alerts", "test"], env=env)
        assert r.exit_code == 0, r.output
        assert r.stdout.strip() == "generic: sent"
        (got,) = server.delivered(path)
        assert "Test message from `monitor alerts test`" in got.json["text"]
        assert "s3cr3t" not in r.output
        server.script(Reply(404))
        r = CliRunner().invoke(app, ["alerts", "test"], env=env)
        assert r.exit_code == 1 and r.stdout.strip() == "generic: FAILED"


def test_alerts_test_without_a_webhook_says_how_to_set_one():
    r = CliRunner().invoke(app, ["alerts", "test"], env={})
    assert r.exit_code == 2 and "DEALERFLOW_ALERTS__SLACK_WEBHOOK_URL" in r.stderr
