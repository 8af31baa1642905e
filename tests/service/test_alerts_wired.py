"""The service hands regime changes to the desk-chat sender: a recorded webhook gets the
changes (not the cold-start classification), and data-quality holds come from the state."""

import asyncio

from pydantic import SecretStr

from monitor.config import AlertSecrets
from monitor.service import Monitor
from monitor.sinks.alerts import AlertSink, alert_sender_from_settings
from monitor.sources.memory import MemorySource
from monitor.state import data_quality
from tests.http_recorder import RecordingServer
from tests.service.helpers import Lockstep, books, make_settings, run_until, session_ticks


def test_regime_changes_reach_the_webhook_once_each():
    path = [(0, 0.0)] + [(2 * k + 2, -2.0 if k % 2 == 0 else 2.0) for k in range(4)]
    ticks = session_ticks(180000, seed=3, spot_path=path)
    batches = [ticks[i:i + 2000] for i in range(0, len(ticks), 2000)]
    settings = make_settings()
    settings.intervals.publish_ms = 50.0
    settings.intervals.reeval_ms = 20.0
    settings.regimes.min_dwell_s = 0.0
    with RecordingServer() as server:
        secret_path = "/hooks/T000/B000/s3cr3t-token"
        alerts = alert_sender_from_settings(
            AlertSecrets(generic_webhook_url=SecretStr(server.url(secret_path))),
            rate_limit_per_min=600, dedup_window_s=0, backoff_base_s=0.01)

        async def main():
            items = Lockstep(batches)  # every batch reaches the engine, however busy
            mon = Monitor(settings, MemorySource(items), books(settings),
                          sinks=[AlertSink(alerts)])
            items.monitor = mon
            assert await run_until(mon, len(ticks), timeout=240) == 0  # a hang guard
            return mon

        mon = asyncio.run(main())
        changes = [e for e in mon.events if e["from"] is not None or e["regime"] != "gamma"]
        assert changes, "the scripted swings should change the gamma regime"
        got = [r.json for r in server.delivered(secret_path)]
        assert [g["event"]["ts_ns"] for g in got] == [e["ts_ns"] for e in changes]
        assert all(g["text"] for g in got)


def test_data_quality_rule():
    ok, why = data_quality({"quality": {"quote_staleness_seconds": 5.0,
                                        "oi_age_seconds": 86400.0}}, 120.0, 4.0)
    assert ok and why == ""
    ok, why = data_quality({"quality": {"quote_staleness_seconds": 300.0,
                                        "oi_age_seconds": 6 * 86400.0}}, 120.0, 4.0)
    assert not ok and "newest quote 300 s old" in why and "open interest 6.0 days old" in why
