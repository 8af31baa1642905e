"""RedisSink where a write fails or races, against real Redis servers (the shared one with
an own key prefix; private ones for outages and refusals): what write() reports for the
commit gate, failed state writes in a batch of several underlyings, refused stream ids
and the stream's last possible id, blobs a full server refuses."""

from __future__ import annotations

import signal

from structlog.testing import capture_logs

from monitor import failpoints
from monitor.config import RedisSettings
from monitor.sinks.base import PublishCycle, UnderlyingCycle
from monitor.sinks.metrics import Metrics
from monitor.sinks.redis_sink import RedisSink
from tests.redis_server import RedisServer
from tests.sinks.conftest import SHARED_URL
from tests.sinks.test_redis_sink import PROFILE, STATE, event, needs_binary, wait_until

MAX_ID = "18446744073709551615-18446744073709551615"  # the last id a stream can hold


async def test_write_reports_stored_only_when_every_checkpoint_is(sink, monkeypatch):
    cycle = PublishCycle([
        UnderlyingCycle("SPX", STATE, PROFILE, regime_history=b"h1", checkpoint=b"c1"),
        UnderlyingCycle("NDX", dict(STATE, underlying="NDX"), PROFILE)])
    assert await sink.write(cycle) is True
    assert await sink.load_blob("SPX", "regime") == b"h1"
    assert await sink.load_blob("SPX", "checkpoint") == b"c1"
    assert await sink.load_blob("NDX", "regime") is None  # none given, none written
    # the checkpoint write fails (as a refused write would): not stored, whatever else was
    monkeypatch.setattr(failpoints, "_ARMED", failpoints.parse("checkpoint_write=fail"))
    cycle.underlyings[0].checkpoint = b"c2"
    assert await sink.write(cycle) is False
    assert await sink.load_blob("SPX", "checkpoint") == b"c1"


async def test_a_sink_keeps_what_is_published_before_it_starts(prefix, shared):
    s = RedisSink(RedisSettings(url=SHARED_URL, prefix=prefix))
    await s.publish("SPX", STATE, PROFILE, [event(1)])
    assert s.buffered_events == 1
    assert await s.start()
    await s.flush()
    assert [e["event"]["seq"] for e in await s.read_events("SPX")] == [1]
    await s.close()


async def test_a_stream_moved_past_our_ids_is_resolved_once(sink, shared):
    # another writer's entry far ahead of the clock: our ids go on above it (its top is
    # read once); when it writes past us again, our next event's id is refused, goes in
    # with '*', and the ids after it start above that one: one conflict, not one per event
    key = sink.events_key("SPX")
    await shared.xadd(key, {"other": "1"}, id="99999999999999-0")
    await sink.publish("SPX", STATE, PROFILE, [event(0)])
    await shared.xadd(key, {"other": "2"}, id="99999999999999-5")
    with capture_logs() as logs:
        await sink.publish("SPX", STATE, PROFILE, [event(1)])
        await sink.publish("SPX", STATE, PROFILE, [event(2)])
    assert [e["event"] for e in logs if e["event"] == "redis_stream_id_conflict"] == [
        "redis_stream_id_conflict"]
    ids = [i for i, f in await shared.xrange(key) if "other" not in f]
    assert ids == ["99999999999999-1", "99999999999999-6", "99999999999999-7"]
    assert (sink.published_events, sink.dropped_events) == (3, 0)


async def test_an_event_the_stream_cannot_take_is_dropped_and_counted(prefix, shared):
    metrics = Metrics()
    s = RedisSink(RedisSettings(url=SHARED_URL, prefix=prefix), metrics=metrics)
    assert await s.start()
    # a stream at its last possible id, and a key of another type: both refuse the event
    await shared.xadd(s.events_key("SPX"), {"other": "1"}, id=MAX_ID)
    await shared.set(s.events_key("NDX"), "not a stream")
    await s.publish("SPX", STATE, PROFILE, [event(1)])
    await s.publish("NDX", dict(STATE, underlying="NDX"), PROFILE, [event(2)])
    assert (s.published_events, s.dropped_events, s.errors) == (0, 2, 2)
    assert metrics.redis_events_dropped._value.get() == 2
    await s.close()


@needs_binary
async def test_a_batch_of_several_states_after_an_outage_names_the_one_refused(prefix):
    with RedisServer() as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix), reconnect_interval=0.1,
                      op_timeout=0.3)
        assert await s.start()
        await s.client.set(s.state_key("NDX"), "not a hash")  # its state write is refused
        # (logs captured from before the resume: the reconnection may flush at once)
        with capture_logs() as logs:
            srv.proc.send_signal(signal.SIGSTOP)
            try:
                await s.publish("SPX", {**STATE, "spot": 5800.0}, PROFILE)  # times out: kept
                assert s.connected is False
                await s.publish("NDX", dict(STATE, underlying="NDX"), PROFILE)  # waits
            finally:
                srv.proc.send_signal(signal.SIGCONT)
            assert await wait_until(lambda: s.connected and not s._pending, 10.0)
        assert (await s.read_state("SPX"))["spot"] == 5800.0
        failed = [e for e in logs if e["event"] == "redis_state_write_failed"]
        assert [e["underlying"] for e in failed] == ["NDX"]
        assert s.errors == 2  # the lost connection, and NDX's refused state
        await s.close()


@needs_binary
async def test_a_state_whose_write_was_cut_is_written_after_the_reconnection(prefix):
    with RedisServer() as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix), reconnect_interval=0.1)
        assert await s.start()
        srv.stop()  # the sink does not know yet: its next write is cut
        await s.publish("SPX", {**STATE, "spot": 5800.0}, PROFILE)
        assert s.connected is False
        srv.start()  # empty: only a retried write can put the state there
        assert await wait_until(lambda: s.connected and not s._pending, 10.0)
        assert (await s.read_state("SPX"))["spot"] == 5800.0
        await s.close()


@needs_binary
async def test_a_blob_a_full_server_refuses_is_not_stored(prefix):
    with RedisServer() as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix))
        assert await s.start()
        await s.client.config_set("maxmemory-policy", "noeviction")
        await s.client.config_set("maxmemory", "1")
        with capture_logs() as logs:
            assert await s.save_blob("SPX", "checkpoint", b"x" * 1000) is False
        assert s.errors == 1
        assert [e["event"] for e in logs] == ["redis_blob_write_failed"]
        await s.close()
