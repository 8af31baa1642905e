"""The ingest loop fetches and decodes the next batch while the core thread applies the
one before (two cores instead of taking turns), and still applies and settles every
batch in arrival order, with at most two batches waiting on the core thread."""

import asyncio
import threading

from monitor.service import Monitor
from monitor.sources.memory import MemorySource
from tests.service.helpers import books, make_settings, run_until, session_ticks


class Handshake:
    """Batches whose next one is asked for only while the core thread is inside the
    apply of the one before: each apply waits (on the core thread) until the source has
    been asked for the next batch. A loop that waits for each apply before asking for the
    next never gets there; the apply gives up after ``timeout_s`` and says so."""

    def __init__(self, batches, timeout_s: float = 30.0):
        self.batches = batches
        self.timeout_s = timeout_s
        self.asked = [threading.Event() for _ in batches]
        self.overlapped: list[bool] = []  # per batch but the last: asked for the next meanwhile
        self.received_at_ask: list[int] = []  # the monitor's settled tick count at each ask
        self.monitor = None

    async def __aiter__(self):
        for k, batch in enumerate(self.batches):
            self.received_at_ask.append(self.monitor.ticks_received)
            self.asked[k].set()
            yield batch

    def wrap(self, pipeline) -> None:
        apply, n = pipeline.apply, iter(range(len(self.batches)))

        def gated(ticks):
            k = next(n)
            if k + 1 < len(self.batches):  # the last one has no next to wait for
                self.overlapped.append(self.asked[k + 1].wait(self.timeout_s))
            return apply(ticks)

        pipeline.apply = gated


async def test_the_next_batch_is_fetched_while_the_core_thread_applies():
    ticks = session_ticks(6000, seed=4)[:6000]
    batches = [ticks[i:i + 1000] for i in range(0, len(ticks), 1000)]
    settings = make_settings()
    order: list[int] = []
    gate = Handshake(batches)
    mon = gate.monitor = Monitor(settings, MemorySource(gate), books(settings))
    gate.wrap(mon.pipeline)
    inner = mon.pipeline.apply
    mon.pipeline.apply = lambda ts: order.append(ts[0].ts_ns) or inner(ts)
    assert await run_until(mon, len(ticks), timeout=120) == 0
    # every apply found the next batch already asked for: the two overlapped
    assert gate.overlapped == [True] * (len(batches) - 1)
    # at most two batches wait on the core thread: when batch k is asked for, every batch
    # before k - 1 has been applied and settled
    for k in range(2, len(batches)):
        assert gate.received_at_ask[k] >= 1000 * (k - 1), (k, gate.received_at_ask)
    # applied in arrival order, each once, every tick counted
    assert order == [b[0].ts_ns for b in batches]
    assert mon.ticks_received == len(ticks)
    assert mon.pipeline.counts.ticks[("SPX", "quote", "applied")] > 4000


async def test_a_failing_apply_stops_the_ingest_loop_with_its_error():
    """An exception from the core thread's step (not a bad tick, which the pipeline
    counts: a bug) still ends the ingest loop, as it did before the overlap."""
    ticks = session_ticks(3000, seed=4)[:3000]
    settings = make_settings()
    mon = Monitor(settings, MemorySource([ticks[:1000], ticks[1000:2000], ticks[2000:]]),
                  books(settings))
    calls = []

    def boom(ts):
        calls.append(len(ts))
        raise RuntimeError("bug in apply")

    mon.pipeline.apply = boom
    rc = await asyncio.wait_for(mon.run(duration=60), 120)
    assert rc != 0
    assert calls and len(calls) <= 2  # it stopped at the first error (one more may be queued)
