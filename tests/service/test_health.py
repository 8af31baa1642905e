"""/healthz and /readyz tell the truth (issue 13): served by the metrics HTTP server from
the service's own view (Monitor.health), with the reason in the body. Not live when the
ingest loop has died; not ready while the consumer has lag but receives nothing, or while
Redis has been unreachable beyond ``redis.unreachable_ready_s``. Conditions are waited
for, never timed."""

import asyncio
import urllib.error
import urllib.request

from monitor.service import Monitor
from monitor.sinks.metrics import Metrics, MetricsSink
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.base import Source
from tests.service.helpers import books, make_settings


def probe(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class StuckSource(Source):
    """A source with messages waiting (lag) that never hands out a batch, or one whose
    iteration dies."""

    def __init__(self, die: bool = False):
        self.die = die
        self._stop = asyncio.Event()

    async def batches(self):
        if self.die:
            raise RuntimeError("the consumer died")
        await self._stop.wait()
        return
        yield  # (an async generator)

    async def stop(self):
        self._stop.set()

    async def commit(self, token):
        pass

    def lag(self):
        return {"ticks:0": 42}


async def until(cond, timeout=60.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def serve(monitor, metrics, check):
    metrics.health_probe = monitor.health
    port = metrics.serve("127.0.0.1", 0)
    run = asyncio.create_task(monitor.run())
    try:
        return await check(port)
    finally:
        monitor.stop()
        await run
        metrics.stop()


async def test_readyz_fails_while_lag_waits_and_nothing_arrives():
    settings = make_settings()
    settings.metrics.stall_s = 0.3
    metrics = Metrics()
    mon = Monitor(settings, StuckSource(), books(settings), sinks=[MetricsSink(metrics)])

    async def check(port):
        await until(lambda: mon.cycles >= 1)
        await until(lambda: probe(port, "/readyz")[0] == 503)
        code, body = probe(port, "/readyz")
        assert "consumer lag 42" in body
        assert probe(port, "/healthz")[0] == 200  # alive: restarting would not help

    await serve(mon, metrics, check)


async def test_healthz_fails_when_the_ingest_loop_dies():
    settings = make_settings()
    metrics = Metrics()
    mon = Monitor(settings, StuckSource(die=True), books(settings), sinks=[MetricsSink(metrics)])
    metrics.health_probe = mon.health
    port = metrics.serve("127.0.0.1", 0)
    try:
        assert await mon.run() == 1  # the exit code says so
        code, body = await asyncio.to_thread(probe, port, "/healthz")
        assert code == 503 and "ingest loop has ended" in body and "consumer died" in body
    finally:
        metrics.stop()


async def test_readyz_fails_once_redis_has_been_unreachable_long_enough():
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    settings.redis.unreachable_ready_s = 0.5
    metrics = Metrics()
    redis = RedisSink(settings.redis, metrics=metrics)
    await redis.start()
    mon = Monitor(settings, StuckSource(), books(settings),
                  sinks=[redis, MetricsSink(metrics)])

    async def check(port):
        await until(lambda: probe(port, "/readyz")[0] == 503
                    and "Redis unreachable" in probe(port, "/readyz")[1])

    await serve(mon, metrics, check)
