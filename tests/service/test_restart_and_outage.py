"""Resilience: a restart resumes from committed offsets plus the Redis checkpoint and ends
where an uninterrupted run ends; a Redis outage loses no regime event (within the buffer)."""

import asyncio

import pytest

from monitor.service import Monitor
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.memory import MemorySource
from tests.redis_server import RedisServer
from tests.service.helpers import (
    Lockstep,
    books,
    close,
    make_settings,
    run_until,
    session_ticks,
)
from tests.service.test_kafka_end_to_end import kafka_source, publish


async def final_state(settings):
    r = RedisSink(settings.redis)
    await r.start()
    state = await r.read_state("SPX")
    keys = await r.client.keys(f"{settings.redis.prefix}:*")
    if keys:
        await r.client.delete(*keys)
    await r.close()
    return state


KEYS = ("spot", "dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day",
        "zero_gamma", "call_wall", "put_wall", "as_of_ns", "customer_puts_sold",
        "trades_classified", "trades_unclassified")


@pytest.mark.usefixtures("shared_redis")
async def test_stop_mid_stream_and_resume_equals_uninterrupted_run(kafka_bootstrap):
    ticks = session_ticks(30000, seed=9)
    a = make_settings(kafka_bootstrap)
    await publish(a, ticks)
    # uninterrupted reference: its own consumer group and Redis prefix, same topics; twice,
    # since two clean runs over the same ticks must give the same state, flow fields too
    async def clean_run():
        ref = make_settings(kafka_bootstrap)
        ref.kafka = ref.kafka.model_copy(update={"topics": a.kafka.topics})
        mon = Monitor(ref, kafka_source(ref), books(ref), sinks=[RedisSink(ref.redis)],
                      checkpoints=True)
        await mon.store.start()
        assert await run_until(mon, len(ticks)) == 0
        return await final_state(ref)

    expected, twice = await clean_run(), await clean_run()
    assert expected["trades_classified"] > 0  # (the flow fields are exercised)
    for key in KEYS:
        assert close(twice[key], expected[key]), key

    # interrupted: stop after about a third, start a new process-equivalent, finish
    a.kafka = a.kafka.model_copy(update={"max_records": 1})  # one 500-tick message a batch
    first = Monitor(a, kafka_source(a), books(a), sinks=[RedisSink(a.redis)], checkpoints=True,
                    max_ticks=len(ticks) // 3)
    await first.store.start()
    assert await run_until(first, len(ticks)) == 0
    seen_first = first.ticks_received
    assert 0 < seen_first < len(ticks)
    second = Monitor(a, kafka_source(a), books(a), sinks=[RedisSink(a.redis)], checkpoints=True)
    await second.store.start()
    assert await run_until(second, len(ticks) - seen_first) == 0
    # it resumed from the committed offsets: nothing was read twice
    assert second.ticks_received == len(ticks) - seen_first
    got = await final_state(a)
    for key in KEYS:
        assert close(got[key], expected[key]), key


@pytest.mark.timeout(900)  # (340k ticks in lockstep: minutes beside a busy core)
async def test_redis_restart_loses_no_regime_event(redis_server_binary):
    """Spot swings -2 % / +2 % across zero gamma (0.2 % below spot on this chain), so the
    gamma regime flips about eight times; Redis is killed and restarted in the middle."""
    path = [(0, 0.0)] + [(2 * k + 2, -2.0 if k % 2 == 0 else 2.0) for k in range(8)]
    ticks = session_ticks(340000, seed=3, spot_path=path)
    batches = [ticks[i:i + 2000] for i in range(0, len(ticks), 2000)]
    with RedisServer(persist=True) as server:  # what was stored before the kill survives
        settings = make_settings(redis_url=server.url)
        settings.intervals.publish_ms = 50.0
        settings.intervals.reeval_ms = 20.0
        settings.regimes.min_dwell_s = 0.0  # the session is 16 simulated seconds long
        sink = RedisSink(settings.redis)
        await sink.start()
        items = Lockstep(batches)  # every batch reaches the engine, however busy
        mon = Monitor(settings, MemorySource(items), books(settings), sinks=[sink])
        items.monitor = mon

        async def outage():
            while len(mon.events) < 2:
                await asyncio.sleep(0.02)
            server.stop()
            n = len(mon.events)
            while len(mon.events) < n + 2:  # events happen while Redis is down
                await asyncio.sleep(0.02)
            server.start()

        task = asyncio.create_task(outage())
        assert await run_until(mon, len(ticks), timeout=600) == 0  # a hang guard
        await asyncio.wait_for(task, 5)
        assert len(mon.events) >= 5
        reader = RedisSink(settings.redis)
        await reader.start()
        stored = [e["event"] for e in await reader.read_events("SPX")]
        await reader.close()
        assert [(e["ts_ns"], e["to"]) for e in stored] == [
            (e["ts_ns"], e["to"]) for e in mon.events]
        assert sink.dropped_events == 0
