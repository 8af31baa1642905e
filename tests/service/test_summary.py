"""The terminal summary says plainly when the feed stops: STALE with the age."""

from __future__ import annotations

import asyncio
import io
import re

from monitor.service import Monitor
from monitor.sources.memory import MemorySource
from tests.service.helpers import books, make_settings, session_ticks


async def test_summary_marks_stale_when_the_feed_stops():
    settings = make_settings()
    settings.intervals.stale_after_s = 1.0
    out = io.StringIO()
    ticks = session_ticks(2000)
    mon = Monitor(settings, MemorySource([ticks], hold_open=True), books(settings),
                  summary=True, out=out)
    task = asyncio.create_task(mon.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while "STALE" not in out.getvalue() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    mon.stop()
    assert await task == 0
    lines = out.getvalue().splitlines()
    fresh = [x for x in lines if x.startswith("SPX spot") and "STALE" not in x]
    stale = [x for x in lines if "STALE" in x]
    assert fresh and stale, lines  # first live, then stale once the ticks stopped
    age = float(re.search(r"STALE: no ticks for ([\d,]+) s", stale[0]).group(1))
    assert age >= 1.0
    assert "(final)" in lines[-1] and "STALE" not in lines[-1]
