"""The service's small rules by hand (synthetic inputs): readiness at its thresholds,
health before the ingest loop exists, count deltas between cycles, the regime history's
continuity, the embedded source's batch size, the sinks assembled, the replay verdict's
sentences."""

from __future__ import annotations

from types import SimpleNamespace

from monitor.service import (
    Monitor,
    embedded_source,
    history_gap,
    make_sinks,
    readiness_problems,
    replay_verdict,
)
from monitor.sinks.metrics import Metrics
from monitor.sinks.stream import StreamHub, StreamSink
from monitor.sources.memory import MemorySource
from monitor.wire.schema import UnderlyingTick
from tests.service.helpers import books, make_settings


def test_readiness_only_past_each_threshold():
    base = dict(lag_total=0, last_batch=0.0, failing_since=None, store_down_since=None,
                stall_s=30.0, unreachable_s=10.0)
    assert readiness_problems(100.0, **base) == []
    assert readiness_problems(100.0, **dict(base, lag_total=1, last_batch=60.0)) == [
        "consumer lag 1 and nothing received for 40 s"]
    assert readiness_problems(100.0, **dict(base, lag_total=5, last_batch=70.0)) == []
    assert readiness_problems(100.0, **dict(base, lag_total=5, last_batch=69.0)) == [
        "consumer lag 5 and nothing received for 31 s"]
    assert readiness_problems(100.0, **dict(base, lag_total=5, last_batch=90.0)) == []
    assert readiness_problems(100.0, **dict(base, failing_since=70.0)) == []
    assert readiness_problems(100.0, **dict(base, failing_since=90.0)) == []
    assert readiness_problems(100.0, **dict(base, failing_since=60.0)) == [
        "publish cycles failing for 40 s"]
    assert readiness_problems(100.0, **dict(base, store_down_since=90.0)) == []
    assert readiness_problems(100.0, **dict(base, store_down_since=89.0)) == [
        "Redis unreachable for 11 s"]


def test_health_before_the_ingest_loop_and_count_deltas_between_cycles():
    settings = make_settings()
    mon = Monitor(settings, MemorySource([]), books(settings))
    assert mon.health() == (True, True, "")  # nothing has failed: live and ready
    c = mon.pipeline.counts
    c.ticks[("SPX", "quote", "applied")] = 5
    c.rejected[("SPX", "crossed")] = 2
    assert mon._count_deltas() == ({("SPX", "quote", "applied"): 5}, {("SPX", "crossed"): 2})
    assert mon._count_deltas() == ({}, {})  # nothing new
    c.ticks[("SPX", "quote", "applied")] = 12
    assert mon._count_deltas() == ({("SPX", "quote", "applied"): 7}, {})


def test_history_gap_by_hand():
    h = {"root": "SPX", "chain": "c1", "window": [[1_000 * 10**9], [3_000 * 10**9]]}
    assert history_gap(h, "SPX", "c1", 3_000 * 10**9, 1800.0) is None
    assert history_gap(h, "SPX", "c1", 4_800 * 10**9, 1800.0) is None  # exactly the window
    assert history_gap(h, "SPX", "c1", (3_000 + 7_200) * 10**9, 1800.0) == (
        "the history ends 2.0 h before the data, beyond the 1800 s regime window")
    assert history_gap(h, "SPX", "c1", 2_999 * 10**9, 1800.0) == (
        "the history is later than the data's event clock")
    assert history_gap(h, "NDX", "c1", 3_000 * 10**9, 1800.0) == "the history is SPX's"


async def test_embedded_batches_are_a_fiftieth_of_a_second_and_sinks_as_asked():
    settings = make_settings()
    settings.embedded.rate_ticks_per_s = 1000.0
    src = embedded_source(settings, books(settings))
    await src.start()
    first = await anext(src.batches())
    await src.stop()
    # 1000 ticks/s in batches of a fiftieth of a second: 20 option ticks (the underlying's
    # own ticks ride along, one every underlying_every option ticks)
    assert sum(not isinstance(t, UnderlyingTick) for t in first.ticks) == 20
    metrics = Metrics()
    plain = await make_sinks(settings, metrics)
    hub = StreamHub(10)
    with_stream = await make_sinks(settings, metrics, stream=hub)
    assert not [s for s in plain if isinstance(s, StreamSink)]
    assert [type(s) for s in with_stream if isinstance(s, StreamSink)] == [StreamSink]
    for s in plain + with_stream:
        await s.close()


def test_replay_verdict_sentences():
    fp = {"sha256": "ab" * 32, "solved": {}}
    src = SimpleNamespace(delivered=1234, manifest={"books": {"SPX": fp}})
    said, warned = [], []
    code = replay_verdict(src, {"SPX": dict(fp)}, said.append, warned.append)
    assert code == 0 and warned == []
    assert said == ["replay: 1,234 batches; every book is the recording's (SPX sha256 "
                    "abababababab; solved numbers within 1e-9)"]
    code = replay_verdict(src, {}, said.append, warned.append)
    assert code == 1
    assert warned == ["the replay's books differ from the recording's: SPX: not in the "
                      "replay (1,234 batches replayed)"]



async def test_the_embedded_source_keeps_no_checkpoints_and_an_unreachable_redis_warns():
    from monitor.service import make_source
    settings = make_settings()
    source, checkpoints = make_source(settings, books(settings))
    assert checkpoints is False and source.identity() == "embedded simulator"
    warned = []
    for s in await make_sinks(settings, Metrics(), warn=warned.append):  # Redis answers
        await s.close()
    assert warned == []
    down = make_settings(redis_url="redis://127.0.0.1:1/0")
    for s in await make_sinks(down, Metrics(), warn=warned.append):
        await s.close()
    assert warned == ["Redis at redis://127.0.0.1:1/0 is not reachable; running without it "
                      "(console output only, retrying)"]


def test_a_consumer_group_member_owns_nothing_until_it_is_assigned_partitions():
    """A partitioned source (the Kafka consumer group) hands this process its underlyings
    in the rebalance hooks: before that it publishes and checkpoints none (another
    member's state must never be overwritten); an in-memory source's process owns all."""
    from monitor.config import KafkaSettings
    from monitor.sources.kafka import KafkaSource

    settings = make_settings()
    b = books(settings)
    group = Monitor(settings, KafkaSource(KafkaSettings(bootstrap="127.0.0.1:1")), b)
    alone = Monitor(settings, MemorySource([]), b)
    try:
        assert group.owned == set() and alone.owned == set(b) == {"SPX"}
    finally:
        group._shutdown_threads()
        alone._shutdown_threads()


async def test_a_checkpoint_redis_did_not_store_fails_the_cycle():
    """Redis is a durable sink: a cycle whose checkpoint it could not store is not stored,
    so its offsets are not committed (``deliver``), while the sink itself never raises."""
    from monitor.config import RedisSettings
    from monitor.service import deliver
    from monitor.sinks.base import PublishCycle, UnderlyingCycle
    from monitor.sinks.redis_sink import RedisSink
    from tests.redis_server import free_port

    sink = RedisSink(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", prefix="t"),
                     reconnect_interval=60.0)
    cycle = PublishCycle([UnderlyingCycle("SPX", {"spot": 1.0}, [], checkpoint=b"cp")])
    try:
        assert await sink.write(cycle) is False  # nothing listens on that port
        assert await deliver(cycle, [sink]) is False
    finally:
        await sink.close()
