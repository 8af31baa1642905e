"""No state from another run: a checkpoint or regime history is restored only into a run of
the same source and universe with a clock that does not run backwards
(:mod:`monitor.provenance`); anything else is set aside with one console line saying why.

The sessions are synthetic (the simulator over the real SPX chain of 2026-08-21)."""

from __future__ import annotations

import msgspec
import pytest

from monitor.books import build_books
from monitor.provenance import mismatch, provenance, universe_id
from monitor.service import EMBEDDED_SOURCE, Monitor
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.memory import MemorySource
from tests.data_paths import DATA_DIR
from tests.service.helpers import CHAIN, books, make_settings, run_until, session_ticks

LIVE = "kafka topic dealerflow.ticks"
OTHER_CHAIN = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-19.csv.gz"


def stale(mon) -> int:
    return sum(n for (_, _, outcome), n in mon.pipeline.counts.ticks.items()
               if outcome == "stale")


async def run(settings, ticks, identity, warned=None):
    """A run of ``ticks`` from a source that names itself ``identity``, checkpointing to
    Redis under the settings' prefix; returns the monitor after its end."""
    batches = [ticks[i:i + 1000] for i in range(0, len(ticks), 1000)]
    mon = Monitor(settings, MemorySource(batches, identity=identity), books(settings),
                  sinks=[RedisSink(settings.redis)], checkpoints=True,
                  warn=None if warned is None else warned.append)
    await mon.store.start()
    assert await run_until(mon, len(ticks)) == 0
    return mon


def test_mismatch_reasons_by_hand():
    b = books(make_settings())["SPX"]
    mine = provenance(LIVE, b)
    assert mine == {"source": LIVE, "universe": universe_id(b), "start_ns": b.chain.eval_ns}
    assert mismatch(mine, mine, b.chain.eval_ns) is None
    assert "no provenance" in mismatch(None, mine)
    assert "written by a run of embedded simulator" in mismatch(
        {**mine, "source": EMBEDDED_SOURCE}, mine)
    other = build_books(make_settings(), [OTHER_CHAIN])["SPX"]
    assert universe_id(other) != universe_id(b)
    assert "another chain" in mismatch(provenance(LIVE, other), mine)
    assert "before this run's chain was taken" in mismatch(mine, mine, b.chain.eval_ns - 1)
    # the same chain built twice is the same universe (a fingerprint of its content)
    assert universe_id(books(make_settings())["SPX"]) == universe_id(b)


@pytest.mark.usefixtures("shared_redis")
async def test_a_demo_checkpoint_is_set_aside_and_a_live_restart_restores_its_own():
    """The README's order with the prefixes forced equal (the worst case): an embedded
    demo run far ahead in event time, then a live run under the same Redis prefix. The
    demo's checkpoint and history are set aside with one line each, so the live quotes
    (earlier than the demo's clock) are applied, not counted stale; a restart of the live
    run then restores its own checkpoint."""
    settings = make_settings()
    shift = 3600 * 10**9  # the demo runs an hour ahead of the live session
    later = [msgspec.structs.replace(t, ts_ns=t.ts_ns + shift) for t in session_ticks(6000, seed=4)]
    demo = await run(settings, later, EMBEDDED_SOURCE)
    demo_clock = demo.pipeline.states["SPX"].clock_ns

    live_ticks = session_ticks(6000, seed=8)
    assert max(t.ts_ns for t in live_ticks) < demo_clock
    warned: list[str] = []
    live = await run(settings, live_ticks, LIVE, warned)
    assert warned == [
        "SPX: the stored checkpoint was set aside: it was written by a run of embedded "
        f"simulator, this run reads {LIVE}",
        "SPX: the stored regime history was set aside: it was written by a run of embedded "
        f"simulator, this run reads {LIVE}"]
    assert stale(live) == 0
    live_clock = live.pipeline.states["SPX"].clock_ns
    assert live_clock < demo_clock

    warned.clear()
    restart = Monitor(settings, MemorySource([], identity=LIVE), books(settings),
                      sinks=[RedisSink(settings.redis)], checkpoints=True, warn=warned.append)
    await restart.store.start()
    await restart.restore()
    assert warned == []
    assert restart.pipeline.states["SPX"].clock_ns == live_clock
    assert restart.pipeline.states["SPX"].book.spot == live.pipeline.states["SPX"].book.spot
    await restart.store.close()
    r = RedisSink(settings.redis)
    await r.start()
    keys = await r.client.keys(f"{settings.redis.prefix}:*")
    if keys:
        await r.client.delete(*keys)
    await r.close()


@pytest.mark.usefixtures("shared_redis")
async def test_a_checkpoint_of_another_chain_is_set_aside():
    """The same source and root, but the run starts from another day's chain: its rows
    mean other contracts, so the stored checkpoint is set aside, with why."""
    settings = make_settings()
    first = await run(settings, session_ticks(3000, seed=2), LIVE)
    assert first.pipeline.states["SPX"].clock_ns > 0
    other = build_books(settings, [OTHER_CHAIN])
    warned: list[str] = []
    mon = Monitor(settings, MemorySource([], identity=LIVE), other,
                  sinks=[RedisSink(settings.redis)], checkpoints=True, warn=warned.append)
    await mon.store.start()
    await mon.restore()
    assert len(warned) == 2 and all("belongs to another chain" in w for w in warned), warned
    assert mon.pipeline.states["SPX"].book.spot == other["SPX"].chain.spot
    keys = await mon.store.client.keys(f"{settings.redis.prefix}:*")
    if keys:
        await mon.store.client.delete(*keys)
    await mon.store.close()


def test_the_embedded_run_writes_under_its_own_prefix():
    from monitor.service import embedded_prefix

    s = make_settings()
    assert embedded_prefix(s).redis.prefix == s.redis.prefix + "-demo"
    s.kafka = s.kafka.model_copy(update={"bootstrap": "127.0.0.1:9092"})
    assert embedded_prefix(s).redis.prefix == s.redis.prefix
    assert CHAIN.exists()
