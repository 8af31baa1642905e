"""The commit order's dead-letter step (the table in ``Monitor._publish_cycle``): a batch's
offsets are committed only after its poison ticks were kept on the dead-letter topic. A
source stand-in holds the dead-letter write until the test releases it; the publish cycle
that took the batch's offsets must wait for it (committing first would lose the poison if
the process died before the write)."""

import asyncio

from monitor.service import Monitor
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
