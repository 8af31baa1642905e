"""Outages mid-stream (issue 13), against real servers: a Kafka-protocol broker (Tansu,
memory storage) stopped and started again on the same port, which loses its topics and
offsets; and a Redis paused with SIGSTOP. The monitor keeps running, recovers by itself,
the health endpoints say what is going on, and it ends in the state the whole-chain
computation gives on all the ticks. Waits are on conditions, never on the clock."""

import asyncio
import os
import signal

import pytest

from monitor.service import Monitor
from monitor.sinks.metrics import Metrics, MetricsSink
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.kafka import KafkaTickProducer, input_topics
from tests.broker import create_topics, start_broker
from tests.redis_server import RedisServer
from tests.service.helpers import books, close, expected_book, make_settings, session_ticks
from tests.service.test_health import probe, until
from tests.service.test_kafka_end_to_end import kafka_source

FIELDS = ("dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day")


async def _publish(settings, ticks):
    k = settings.kafka
    await create_topics(k.bootstrap, input_topics(k.topics) + [k.topics.dead_letter], 1)
    async with KafkaTickProducer(k.bootstrap, "json", k.topics) as prod:
        await prod.send_ticks(ticks, batch_size=250)


@pytest.mark.parametrize("cut", [10000, 2500])
async def test_broker_restart_that_loses_the_topics_is_survived(shared_redis, cut):
    """``cut`` 10000: 40 messages, then 20 after (the new high watermark is below our
    position); 2500: 10 messages, then 50 at once: the new topic is already past our
    old position when we look, and only its content says it is another one (before: the
    consumer went on from offset 10, 2,500 ticks never applied, nothing said)."""
    broker = start_broker()
    try:
        settings = make_settings(broker.bootstrap)
        ticks = session_ticks(15000, seed=21)
        first, second = ticks[:cut], ticks[cut:]
        await _publish(settings, first)
        sink = RedisSink(settings.redis)
        await sink.start()
        mon = Monitor(settings, kafka_source(settings), books(settings), sinks=[sink],
                      checkpoints=True)
        run = asyncio.create_task(mon.run())
        await until(lambda: mon.ticks_received == len(first) and mon.cycles > 2)
        # the partition checked against the broker twice since: the same partition, no reset
        checks = mon.source._identity.checks
        await until(lambda: mon.source._identity.checks >= checks + 2, timeout=60)
        assert mon.source.resets == 0
        port = broker.port
        broker.stop()
        broker = start_broker(port=port)  # empty: topics, offsets and the group are gone
        await _publish(settings, second)
        # offsets start over at 0: found, read from the beginning (what was read of the
        # new topic from our old position on, before the check, comes again: idempotent)
        await until(lambda: mon.source.resets >= 1 and mon.ticks_received >= len(ticks),
                    timeout=120)
        mon.stop()
        assert await run == 0
        state = await sink.read_state("SPX")
        expected = expected_book(settings, ticks)
        for key in FIELDS:
            assert close(state[key], expected.totals[key]), key
        assert close(state["spot"], expected.spot, 0)
        await sink.client.delete(*await sink.client.keys(f"{settings.redis.prefix}:*"))
        await sink.close()
    finally:
        broker.stop()


async def test_redis_paused_then_resumed_ready_says_so_and_the_state_catches_up(
        kafka_bootstrap):
    with RedisServer() as rs:
        settings = make_settings(kafka_bootstrap, redis_url=rs.url)
        settings.redis.unreachable_ready_s = 1.0
        ticks = session_ticks(12000, seed=22)
        await _publish(settings, ticks[:6000])
        metrics = Metrics()
        sink = RedisSink(settings.redis, metrics=metrics)
        await sink.start()
        mon = Monitor(settings, kafka_source(settings), books(settings),
                      sinks=[sink, MetricsSink(metrics)], checkpoints=True)
        metrics.health_probe = mon.health
        port = metrics.serve("127.0.0.1", 0)
        run = asyncio.create_task(mon.run())
        try:
            await until(lambda: mon.ticks_received == 6000 and mon.cycles > 2)
            await until(lambda: probe(port, "/readyz")[0] == 200)
            os.kill(rs.proc.pid, signal.SIGSTOP)
            try:
                await _publish(settings, ticks[6000:])
                # ticks keep being applied while Redis does not answer
                await until(lambda: mon.ticks_received == len(ticks), timeout=120)
                await until(lambda: "Redis unreachable" in probe(port, "/readyz")[1])
                assert probe(port, "/healthz")[0] == 200  # alive: no restart needed
            finally:
                os.kill(rs.proc.pid, signal.SIGCONT)
            await until(lambda: probe(port, "/readyz")[0] == 200, timeout=120)
            mon.stop()
            assert await run == 0  # its last cycle writes the final state to Redis
            state = await sink.read_state("SPX")
            expected = expected_book(settings, ticks)
            for key in FIELDS:
                assert close(state[key], expected.totals[key]), key
            await sink.client.delete(*await sink.client.keys(f"{settings.redis.prefix}:*"))
        finally:
            metrics.stop()
            if not run.done():
                mon.stop()
                await run
            await sink.close()
