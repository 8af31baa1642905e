"""RedisSink against real Redis servers: the shared one at 127.0.0.1:6379 (own key
prefix, cleaned up) and private ones (tests/redis_server.py) for outages."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from pydantic import SecretStr

from monitor.config import RedisSettings
from monitor.sinks.metrics import Metrics
from monitor.sinks.redis_sink import RedisSink, decode_field, encode_field
from tests.redis_server import RedisServer, free_port
from tests.sinks.conftest import SHARED_URL

# No skips: a Redis at :6379 (tests/conftest.py starts one if none answers) and the
# redis-server binary are requirements of the test suite, not optional features.
needs_shared = pytest.mark.usefixtures("shared_redis")
needs_binary = pytest.mark.usefixtures("redis_server_binary")

STATE = {"underlying": "SPX", "spot": 5801.25, "as_of": "2026-08-03T14:30:00Z",
         "dex_usd": -1.25e9, "gex_usd_per_pct": 3.5e8, "vex_usd_per_vol_pt": -2.0e7,
         "cex_usd_per_day": 1.5e6, "zero_gamma": None, "call_wall": 6000.0,
         "put_wall": 5500.0, "regime": "long_gamma", "contracts_used": 4211,
         "stale": False, "nan_value": math.nan, "rejected": {"crossed": 3}}
PROFILE = [{"strike": 5800.0, "gex_usd_per_pct_calls": 1.0e7, "gex_usd_per_pct_puts": -4.0e6},
           {"strike": 5900.0, "gex_usd_per_pct_calls": 2.0e6, "gex_usd_per_pct_puts": 0.0}]


def event(i: int, kind: str = "regime_change") -> dict:
    return {"kind": kind, "seq": i, "ts_ns": 1_780_000_000_000_000_000 + i, "regime": "x"}


async def wait_until(cond, timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(step)
    return cond()


def test_field_encoding_round_trip():
    for value in (5801.25, -1.25e9, 42, 0, True, False, None, [1, 2], {"a": 1.5}):
        assert decode_field(encode_field(value)) == value
    assert encode_field(None) == "null"
    assert encode_field(math.nan) == "null"
    assert encode_field(math.inf) == "null"
    assert encode_field("2026-08-03T14:30:00Z") == "2026-08-03T14:30:00Z"
    assert decode_field("long_gamma") == "long_gamma"
    assert encode_field(5801.25) == "5801.25"


@needs_shared
async def test_publish_state_profile_events(sink, shared, prefix):
    events = [event(i) for i in range(3)]
    t0 = time.perf_counter()
    await sink.publish("SPX", STATE, PROFILE, events)
    assert time.perf_counter() - t0 < 0.5

    raw = await shared.hgetall(f"{prefix}:SPX:state")
    assert raw["spot"] == "5801.25"
    assert raw["zero_gamma"] == "null"
    assert raw["nan_value"] == "null"
    assert raw["as_of"] == "2026-08-03T14:30:00Z"
    assert raw["stale"] == "false"
    assert json.loads(raw["rejected"]) == {"crossed": 3}

    state = await sink.read_state("SPX")
    expected = dict(STATE, nan_value=None)
    assert state == expected

    assert json.loads(await shared.get(f"{prefix}:SPX:profile")) == PROFILE
    assert await sink.read_profile("SPX") == PROFILE
    assert await sink.read_profile("NDX") == []

    got = await sink.read_events("SPX")
    assert [g["event"]["seq"] for g in got] == [0, 1, 2]
    assert all(g["kind"] == "regime_change" for g in got)
    assert [g["ts_ns"] for g in got] == [e["ts_ns"] for e in events]
    assert got[0]["event"] == dict(events[0], underlying="SPX")
    ids = [g["id"] for g in got]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    # read after an id is exclusive
    assert [g["event"]["seq"] for g in await sink.read_events("SPX", ids[0])] == [1, 2]

    assert sink.published_states == 1 and sink.published_events == 3
    assert sink.errors == 0 and sink.buffered_events == 0
    assert sink.last_publish_seconds is not None and 0 < sink.last_publish_seconds < 0.5

    # a newer state overwrites field by field
    await sink.publish("SPX", dict(STATE, spot=5810.0), PROFILE[:1], [])
    assert (await sink.read_state("SPX"))["spot"] == 5810.0
    assert await sink.read_profile("SPX") == PROFILE[:1]


@needs_shared
async def test_stream_is_capped_with_maxlen(sink, shared, prefix):
    for chunk in range(5):
        await sink.publish("SPX", STATE, [], [event(chunk * 100 + i) for i in range(100)])
    length = await shared.xlen(f"{prefix}:SPX:events")
    # MAXLEN ~ 10 trims whole radix-tree nodes (100 entries each by default)
    assert 10 <= length <= 200
    last = (await sink.read_events("SPX"))[-1]
    assert last["event"]["seq"] == 499
    assert sink.published_events == 500


@needs_shared
async def test_publish_reaches_pubsub_subscriber(sink, shared, prefix):
    pubsub = shared.pubsub()
    await pubsub.subscribe(f"{prefix}:events")
    msg = await pubsub.get_message(timeout=1.0)
    assert msg["type"] == "subscribe"
    await sink.publish("SPX", STATE, PROFILE, [event(1), event(2, kind="level_cross")])
    got = []
    deadline = time.monotonic() + 3
    while len(got) < 2 and time.monotonic() < deadline:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if msg is not None:
            got.append(json.loads(msg["data"]))
    await pubsub.aclose()
    assert got == [dict(event(1), underlying="SPX"),
                   dict(event(2, kind="level_cross"), underlying="SPX")]


@needs_shared
async def test_bad_input_never_raises(sink):
    await sink.publish("SPX", {"x": object()}, [], [{"kind": "bad", "v": object()},
                                                    event(7)])
    assert sink.errors == 2
    assert [e["event"]["seq"] for e in await sink.read_events("SPX")] == [7]


@needs_shared
async def test_resent_event_is_not_duplicated(sink, shared, prefix):
    await sink.publish("SPX", STATE, [], [event(0), event(1)])
    first = await sink.read_events("SPX")
    # an event re-sent with the id it already got (a pipeline whose reply was lost)
    again = sink._make_event("SPX", event(1))
    again.id = first[1]["id"]
    sink._buffer.append(again)
    await sink.publish("SPX", STATE, [], [event(2)])
    assert [e["event"]["seq"] for e in await sink.read_events("SPX")] == [0, 1, 2]
    assert sink.duplicate_events == 1 and sink.errors == 0


@needs_shared
async def test_stream_top_from_another_writer(sink, shared, prefix):
    key = f"{prefix}:SPX:events"
    future_ms = time.time_ns() // 1_000_000 + 3_600_000
    # before our first event: the sink reads the top and goes above it
    await shared.xadd(key, {"event": "{}", "kind": "other", "ts_ns": "0"}, id=f"{future_ms}-5")
    await sink.publish("SPX", STATE, [], [event(0)])
    # after: another writer jumps ahead again; our event is appended with '*'
    await shared.xadd(key, {"event": "{}", "kind": "other", "ts_ns": "0"},
                      id=f"{future_ms + 1000}-0")
    await sink.publish("SPX", STATE, [], [event(1)])
    kinds = [(e["kind"], e["event"].get("seq")) for e in await sink.read_events("SPX")]
    assert kinds == [("other", None), ("regime_change", 0), ("other", None),
                     ("regime_change", 1)]
    assert sink.published_events == 2 and sink.duplicate_events == 0


async def test_start_without_redis_does_not_raise(prefix):
    port = free_port()
    s = RedisSink(RedisSettings(url=f"redis://127.0.0.1:{port}/0", prefix=prefix,
                                buffer_max=3, password=SecretStr("hunter2")),
                  reconnect_interval=0.1)
    t0 = time.perf_counter()
    assert await s.start() is False
    assert time.perf_counter() - t0 < 2.0
    assert s.connected is False
    def no_network(*a, **k):
        raise AssertionError("publish touched the network while Redis is down")

    s.client.pipeline = no_network  # while down, publish only keeps data (no round trip)
    for i in range(5):
        await s.publish("SPX", STATE, PROFILE, [event(i)])
    assert s.buffered_events == 3 and s.dropped_events == 2
    # reconnect attempts go on in the background, and none of them raises
    task = s._reconnect_task
    assert task is not None
    assert not await wait_until(lambda: task.done(), 0.5)
    await s.close()


async def test_unreachable_warning_does_not_leak_password(prefix, capsys):
    import structlog
    from structlog.testing import capture_logs
    port = free_port()
    s = RedisSink(RedisSettings(url=f"redis://:urlsecret@127.0.0.1:{port}/0", prefix=prefix,
                                password=SecretStr("hunter2")), reconnect_interval=0.1,
                  logger=structlog.get_logger("test"))
    with capture_logs() as logs:
        assert await s.start() is False
        await s.close()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["event"] == "redis_unavailable"
    text = repr(logs)
    assert "hunter2" not in text and "urlsecret" not in text
    assert warnings[0]["url"] == f"redis://:***@127.0.0.1:{port}/0"


@needs_binary
@pytest.mark.parametrize("persist", [True, False], ids=["aof", "memory"])
async def test_outage_buffers_and_flushes_in_order(prefix, persist):
    with RedisServer(persist=persist) as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix, buffer_max=1000),
                      reconnect_interval=0.1, op_timeout=0.3)
        assert await s.start()
        seq = 0
        for _ in range(5):
            await s.publish("SPX", dict(STATE, spot=1000.0 + seq), PROFILE, [event(seq)])
            seq += 1
        assert s.published_events == 5

        srv.stop()
        first_outage_seq = seq
        slowest = 0.0
        for _ in range(20):
            t0 = time.perf_counter()
            await s.publish("SPX", dict(STATE, spot=1000.0 + seq), PROFILE,
                            [event(seq), event(seq + 1)])
            slowest = max(slowest, time.perf_counter() - t0)
            seq += 2
        assert slowest < 0.5, slowest
        assert s.connected is False
        assert s.buffered_events == 40 and s.dropped_events == 0
        latest_spot = 1000.0 + seq - 2

        srv.start()
        # on reconnecting the sink writes, by itself, the newest state it kept (older ones
        # were superseded) and the buffered events, before anything newer
        assert await wait_until(lambda: s.connected and s.buffered_events == 0, 10.0)
        assert (await s.read_state("SPX"))["spot"] == latest_spot
        # new events published after the restart come after the buffered ones
        await s.publish("SPX", dict(STATE, spot=9999.0), PROFILE, [event(seq)])
        seq += 1
        assert await wait_until(lambda: s.buffered_events == 0, 5.0)

        got = [e["event"]["seq"] for e in await s.read_events("SPX")]
        expected_from = 0 if persist else first_outage_seq
        assert got == list(range(expected_from, seq))  # each once, in order
        assert (await s.read_state("SPX"))["spot"] == 9999.0
        assert s.published_events == seq and s.dropped_events == 0
        assert s.duplicate_events == 0
        await s.close()


@needs_binary
async def test_outage_overflow_drops_oldest_and_reconnects_alone(prefix):
    metrics = Metrics()
    with RedisServer() as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix, buffer_max=5),
                      reconnect_interval=0.1, metrics=metrics)
        assert await s.start()
        await s.publish("SPX", STATE, PROFILE, [event(i) for i in range(8)])  # > buffer_max
        assert s.published_events == 8 and s.dropped_events == 0

        srv.stop()
        t_down = time.perf_counter()
        for i in range(100, 112):
            await s.publish("SPX", dict(STATE, spot=float(i)), PROFILE, [event(i)])
        assert s.buffered_events == 5 and s.dropped_events == 7
        assert metrics.redis_events_dropped._value.get() == 7

        from structlog.testing import capture_logs
        with capture_logs() as logs:
            srv.start()  # no more publishing: the background task reconnects and flushes
            assert await wait_until(lambda: s.connected and s.buffered_events == 0, 5.0)
        got = [e["event"]["seq"] for e in await s.read_events("SPX")]
        assert got == list(range(107, 112))  # the 5 newest, in order
        said = [e for e in logs if e["event"] == "redis_reconnected"]
        assert [(e["events_flushed"], e["dropped_events"]) for e in said] == [(5, 7)]
        assert (await s.read_state("SPX"))["spot"] == 111.0  # the newest state wins
        assert s.last_publish_seconds >= time.perf_counter() - t_down - 5.0
        assert s.last_publish_seconds > 0.05  # measured from the publish call
        await s.close()


@needs_binary
async def test_a_failed_write_never_puts_its_state_back_over_a_newer_one(prefix):
    """A state whose write failed is kept for the next write, unless a newer state of the
    same underlying was published meanwhile: the newer one is what Redis must end with
    (putting the failed one back over it left the hand-over state of a member in Redis)."""
    import signal
    with RedisServer() as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix), reconnect_interval=0.1,
                      op_timeout=0.3)
        assert await s.start()
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            older = asyncio.create_task(s.publish("SPX", {**STATE, "spot": 5800.0}, []))
            # published while the older one's write is in flight (it holds the write lock)
            await wait_until(lambda: s._lock.locked(), 30.0)
            newer = asyncio.create_task(s.publish("SPX", {**STATE, "spot": 5900.0}, []))
            await asyncio.wait_for(asyncio.gather(older, newer), 30.0)
            assert s.connected is False
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        assert await wait_until(lambda: s.connected and not s._pending, 10.0)
        assert (await s.read_state("SPX"))["spot"] == 5900.0
        await s.close()


@needs_binary
async def test_hung_server_times_out_and_resend_is_not_duplicated(prefix):
    """A stopped (SIGSTOP) server: publish returns after op_timeout; on SIGCONT Redis
    still executes the abandoned pipeline, and the re-sent events are recognised."""
    import signal
    with RedisServer() as srv:
        s = RedisSink(RedisSettings(url=srv.url, prefix=prefix), reconnect_interval=0.1,
                      op_timeout=0.3)
        assert await s.start()
        await s.publish("SPX", STATE, [], [event(0)])
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(1, 4):
                # returns (after op_timeout for the first), never hangs: the bound is a
                # hang guard, not a speed budget
                await asyncio.wait_for(s.publish("SPX", STATE, [], [event(i)]), 30.0)
            assert s.connected is False and s.buffered_events == 3
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        assert await wait_until(lambda: s.connected and s.buffered_events == 0, 5.0)
        assert [e["event"]["seq"] for e in await s.read_events("SPX")] == [0, 1, 2, 3]
        # the abandoned pipeline (event 1) ran when the server resumed: its re-send is
        # recognised as already written, not written twice
        assert s.published_events == 4 and s.duplicate_events == 1
        await s.close()


@needs_binary
async def test_password_from_settings_wins_over_url(prefix):
    with RedisServer(extra_args=("--requirepass", "s3cret")) as srv:
        url = srv.url.replace("redis://", "redis://:wrong@")
        s = RedisSink(RedisSettings(url=url, prefix=prefix, password=SecretStr("s3cret")))
        assert await s.start()
        await s.publish("SPX", STATE, PROFILE, [event(0)])
        assert (await s.read_state("SPX"))["spot"] == STATE["spot"]
        await s.close()
        bad = RedisSink(RedisSettings(url=srv.url, prefix=prefix), reconnect_interval=0.1)
        assert await bad.start() is False  # no password: refused, not raised
        await bad.close()


def test_tape_sample_carries_each_expiry_bucket():
    from monitor.sinks.redis_sink import tape_sample
    hp = {"total": -3.0, "by_expiry": {"0dte": -1.0, "next": -0.5, "later": -1.5}}
    got = tape_sample({"as_of_ns": 5, "spot": 100.0, "hedge_pressure_usd": hp})
    assert got == {"ts_ns": "5", "spot": encode_field(100.0), "total": encode_field(-3.0),
                   "0dte": encode_field(-1.0), "next": encode_field(-0.5),
                   "later": encode_field(-1.5)}


async def test_blobs_round_trip_only_while_connected(sink, prefix):
    assert await sink.save_blob("SPX", "checkpoint", b"\x00\xffbook") is True
    assert await sink.load_blob("SPX", "checkpoint") == b"\x00\xffbook"
    assert await sink.load_blob("SPX", "nothing") is None
    down = RedisSink(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", prefix=prefix))
    assert down.connected is False  # before start: not connected, whatever comes next
    assert await down.save_blob("SPX", "checkpoint", b"x") is False
    await down.close()


async def test_failed_state_and_event_writes_are_counted_and_named(sink, shared, prefix):
    from structlog.testing import capture_logs
    # keys of the wrong type make Redis refuse exactly those commands (WRONGTYPE)
    await shared.set(sink.state_key("SPX"), "not a hash")
    await shared.set(sink.events_key("NDX"), "not a stream")
    with capture_logs() as logs:
        await sink.publish("SPX", STATE, PROFILE, [])
        await sink.publish("NDX", dict(STATE, underlying="NDX"), PROFILE, [event(1)])
    assert (sink.published_states, sink.published_events) == (1, 0)
    assert (sink.errors, sink.dropped_events) == (2, 1)
    assert [(e["event"], e["underlying"]) for e in logs if e["log_level"] == "error"] == [
        ("redis_state_write_failed", "SPX"), ("redis_event_write_failed", "NDX")]
    assert all("WRONGTYPE" in e["error"] for e in logs if e["log_level"] == "error")


async def test_a_state_with_its_tape_and_events_in_one_write(sink, shared, prefix):
    hp = {"total": -3.0, "by_expiry": {"0dte": -1.0, "next": -0.5, "later": -1.5}}
    state = dict(STATE, as_of_ns=7, hedge_pressure_usd=hp)
    await sink.publish("SPX", state, PROFILE, [event(1), event(2), event(3)])
    assert (sink.published_states, sink.published_events, sink.errors) == (1, 3, 0)
    assert [e["event"]["seq"] for e in await sink.read_events("SPX")] == [1, 2, 3]
    # each reply read against its own command: the 3 refused event writes, not their
    # notifications (state, profile, tape, then 2 commands per event)
    await shared.set(sink.events_key("NDX"), "not a stream")
    await sink.publish("NDX", dict(state, underlying="NDX"), PROFILE, [event(4), event(5),
                                                                       event(6)])
    assert (sink.published_states, sink.published_events) == (2, 3)
    assert (sink.dropped_events, sink.errors) == (3, 3)


async def test_tls_certificates_only_for_a_tls_url(prefix, tmp_path):
    ca = str(tmp_path / "ca.pem")
    plain = RedisSink(RedisSettings(url=SHARED_URL, prefix=prefix, ssl_ca_certs=ca))
    assert "ssl_ca_certs" not in plain.client.connection_pool.connection_kwargs
    assert await plain.start() is True  # a plain connection, the CA setting unused
    await plain.close()
    tls = RedisSink(RedisSettings(url="rediss://127.0.0.1:6390/0", prefix=prefix,
                                  ssl_ca_certs=ca))
    assert tls.client.connection_pool.connection_kwargs["ssl_ca_certs"] == ca
    tls_default = RedisSink(RedisSettings(url="rediss://127.0.0.1:6390/0", prefix=prefix))
    assert "ssl_ca_certs" not in tls_default.client.connection_pool.connection_kwargs
