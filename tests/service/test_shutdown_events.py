"""Shutdown during a publish cycle loses no regime event: the cycle whose computation is
running on the levels thread when the stop comes is finished, and its events reach the
monitor's event list and every sink (Redis, the stream and the alert sender are sinks)."""

import asyncio
import threading

from monitor.service import SHUTDOWN_CYCLE_S, Monitor
from monitor.service import monitor as service
from monitor.sinks.base import Sink
from monitor.sources.memory import MemorySource
from tests.service.helpers import books, make_settings


class Recorder(Sink):
    durable = True

    def __init__(self):
        self.events = []

    async def write(self, cycle) -> bool:
        for u in cycle.underlyings:
            self.events.extend(u.events)
        return True


class WaitSpy:
    """``asyncio`` as the service sees it, noting the timeout of every ``asyncio.wait``:
    the shutdown's wait for a cycle in flight is the one with ``SHUTDOWN_CYCLE_S``."""

    def __init__(self):
        self.timeouts = []

    def __getattr__(self, name):
        return getattr(asyncio, name)

    async def wait(self, fs, *args, **kw):
        self.timeouts.append(kw.get("timeout"))
        return await asyncio.wait(fs, *args, **kw)


async def test_stop_during_a_publish_cycle_keeps_its_events(monkeypatch):
    spy = WaitSpy()
    monkeypatch.setattr(service, "asyncio", spy)
    settings = make_settings()
    rec = Recorder()
    mon = Monitor(settings, MemorySource([], hold_open=True), books(settings), sinks=[rec])
    entered, release = threading.Event(), threading.Event()
    real_collect = mon._collect

    def slow_collect(frozen):
        if frozen:  # the first cycle with a book: its first observation emits the regimes
            entered.set()
            release.wait(60)
        return real_collect(frozen)

    mon._collect = slow_collect
    task = asyncio.create_task(mon.run())
    while not entered.is_set():  # a condition, not a time budget
        await asyncio.sleep(0.01)
    mon.stop()
    # shutdown has moved past the ingest loop to where a cycle in flight used to be
    # cancelled: it waits for that cycle (a condition, not a sleep)
    while SHUTDOWN_CYCLE_S not in spy.timeouts:
        await asyncio.sleep(0.01)
    assert mon._ingest_done.is_set()
    release.set()
    assert await task == 0
    engine = mon.regimes["SPX"]
    assert engine.current  # the engine advanced ...
    got = {e["to"] for e in mon.events}
    assert engine.labels["gamma"] in got  # ... and its events were kept
    assert [e["to"] for e in rec.events] == [e["to"] for e in mon.events]
