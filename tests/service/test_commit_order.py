"""The commit order's dead-letter step (the table in ``Monitor._publish_cycle``): a batch's
offsets are committed only after its poison ticks were kept on the dead-letter topic. A
source stand-in holds the dead-letter write until the test releases it; the publish cycle
that took the batch's offsets must wait for it (committing first would lose the poison if
the process died before the write)."""

import asyncio

from monitor.service import Monitor
from monitor.sinks.base import CheckpointStore
from monitor.sources.memory import MemorySource
from monitor.wire.schema import OptionQuote
from tests.service.helpers import books, make_settings
from tests.service.test_pipeline import BASE, ROW, SYM, TS
from tests.service.test_shutdown_events import Recorder


class HeldDeadLetters(MemorySource):
    def __init__(self, batches):
        super().__init__(batches, hold_open=True)
        self.release = asyncio.Event()
        self.kept: list[str] = []  # reasons of the dead letters written
        self.commits: list[tuple[object, int]] = []  # (token, dead letters kept by then)

    async def dead_letter_ticks(self, rejected, where):
        await self.release.wait()
        self.kept.extend(reason for reason, _, _ in rejected)

    async def commit(self, token):
        self.commits.append((token, len(self.kept)))
        await super().commit(token)


async def until(cond, what: str, limit_s: float = 120.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not cond():
        assert loop.time() < deadline, f"hang guard: {what}"
        await asyncio.sleep(0.005)


async def test_offsets_wait_for_their_dead_letters():
    settings = make_settings()
    bid, ask = float(BASE.c.bid[ROW]), float(BASE.c.ask[ROW])
    batch = [OptionQuote(ts_ns=TS + 1, symbol=SYM, bid=bid, ask=ask),
             OptionQuote(ts_ns=TS + 2, symbol=SYM, bid=1.0, ask=1e9)]  # absurd: poison
    src = HeldDeadLetters([batch])
    mon = Monitor(settings, src, books(settings), sinks=[Recorder()])
    froze_at: list[int] = []  # publish cycles finished when one took the batch's offsets
    real_freeze = mon._freeze

    def freeze(*a, **kw):
        token, frozen = real_freeze(*a, **kw)
        if token is not None:
            froze_at.append(mon.cycles)
        return token, frozen

    mon._freeze = freeze
    task = asyncio.create_task(mon.run())
    try:
        # that cycle has handed its state to the sinks (it counts itself then); committing
        # before the dead letters would have happened in the same step
        await until(lambda: froze_at and mon.cycles > froze_at[0],
                    "the publish cycle holding the batch's offsets")
        assert src.kept == [] and src.commits == []  # held: not committed
        src.release.set()
        await until(lambda: src.commits, "the commit after the dead letter")
        assert src.commits[0] == (0, 1) and src.kept == ["absurd_price"]
    finally:
        src.release.set()
        mon.stop()
        assert await task == 0


class FailsFirstCheckpoint(Recorder, CheckpointStore):
    """A durable store whose first checkpoint write is not stored (as Redis refusing it);
    it notes, per cycle, the underlyings whose checkpoint it stored."""

    def __init__(self):
        super().__init__()
        self.failed = False
        self.stored: list[set] = []  # per cycle

    async def write(self, cycle) -> bool:
        await super().write(cycle)
        roots = {u.root for u in cycle.underlyings if u.checkpoint is not None}
        if roots and not self.failed:
            self.failed = True
            self.stored.append(set())
            return False
        self.stored.append(roots)
        return True

    async def load(self, root, name):
        return None


class Commits(MemorySource):
    def __init__(self, batches, store: FailsFirstCheckpoint):
        super().__init__(batches, hold_open=True)
        self.store = store
        self.commits: list[tuple[object, int]] = []  # (token, cycles written by then)

    async def commit(self, token):
        self.commits.append((token, len(self.store.stored)))
        await super().commit(token)


async def test_no_commit_past_a_checkpoint_that_was_not_stored_even_with_no_new_ticks():
    """A cycle whose checkpoint was not stored keeps its offsets; the next cycles, with no
    tick of that underlying since, must store its checkpoint before they commit them (a
    quiet underlying is not "unchanged" while its last checkpoint is missing)."""
    settings = make_settings()
    bid, ask = float(BASE.c.bid[ROW]), float(BASE.c.ask[ROW])
    store = FailsFirstCheckpoint()
    src = Commits([[OptionQuote(ts_ns=TS + 1, symbol=SYM, bid=bid, ask=ask)]], store)
    mon = Monitor(settings, src, books(settings), sinks=[store], checkpoints=True)
    task = asyncio.create_task(mon.run())
    try:
        await until(lambda: store.failed and len(store.stored) >= store.stored.index(set()) + 4,
                    "three publish cycles after the one not stored")
        assert src.commits, "the batch's offsets were never committed"
        token, cycles = src.commits[0]
        # the first commit comes after a cycle that stored SPX's checkpoint
        assert "SPX" in set().union(*store.stored[:cycles]), (store.stored, src.commits)
    finally:
        mon.stop()
        assert await task == 0
