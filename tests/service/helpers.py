"""Shared pieces of the end-to-end service tests: a session built from a real chain, its
independent whole-chain expectation, and running a Monitor until it has seen N ticks."""

from __future__ import annotations

import asyncio
import math
import uuid

import numpy as np

from monitor.books import build_books
from monitor.chain.loaders import load_chain
from monitor.config import KafkaSettings, RedisSettings, Settings
from monitor.core.book import Book
from monitor.sources.simulator import MarketSimulator, SimConfig
from monitor.wire.schema import OptionQuote, UnderlyingTick
from tests.data_paths import DATA_DIR

CHAIN = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-21.csv.gz"


def make_settings(bootstrap: str | None = None, redis_url: str = "redis://127.0.0.1:6379/0",
                  group: str | None = None, topics_prefix: str | None = None) -> Settings:
    s = Settings()
    s.redis = RedisSettings(url=redis_url, prefix=f"dealerflow_test_{uuid.uuid4().hex[:8]}")
    if bootstrap:
        p = topics_prefix or f"t{uuid.uuid4().hex[:8]}"
        s.kafka = KafkaSettings(
            bootstrap=bootstrap, group_id=group or f"g-{uuid.uuid4().hex[:8]}",
            session_timeout_ms=2000, heartbeat_interval_ms=300,
            topics={"ticks": f"{p}.ticks", "option_quotes": f"{p}.q", "option_trades": f"{p}.t",
                    "underlying": f"{p}.u", "open_interest": f"{p}.oi",
                    "vol_index": f"{p}.v", "dead_letter": f"{p}.dlq"})
    s.intervals.publish_ms = 200.0
    return s


def books(settings: Settings):
    return build_books(settings, [CHAIN])


def session_ticks(n: int = 20000, seed: int = 5, spot_path=None, vol_path=None) -> list:
    book = Book(load_chain(CHAIN))
    sim = MarketSimulator(book, SimConfig(rate_ticks_per_s=20000.0, seed=seed,
                                          spot_path=spot_path or [(0, 0.0), (1.0, -0.6)],
                                          vol_path=vol_path))
    return sim.ticks(n)


def expected_book(settings: Settings, good_ticks: list) -> Book:
    """The whole-chain computation on the final quotes: the chain with each contract's
    last quote and the last spot, evaluated from scratch at the latest event time."""
    book = books(settings)["SPX"]
    last_quote: dict[str, OptionQuote] = {}
    spot, clock = book.spot, book.now_ns
    for t in good_ticks:
        if isinstance(t, OptionQuote):
            prev = last_quote.get(t.symbol)
            if prev is None or t.ts_ns >= prev.ts_ns:
                last_quote[t.symbol] = t
            clock = max(clock, t.ts_ns)
        elif isinstance(t, UnderlyingTick):
            spot = t.last
            clock = max(clock, t.ts_ns)
    for sym, q in last_quote.items():
        i = book.index_of(sym)
        book.c.bid[i] = q.bid
        book.c.ask[i] = q.ask
    book.refresh(now_ns=clock, spot=spot, refit=True)  # the final state is fitted anew
    return book


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-6)


class Lockstep:
    """Batches handed to a Monitor in lockstep with its publish cycles: after each batch
    the source waits until the whole-chain refreshes it caused are adopted and then until
    ``cycles`` more publish cycles have completed, so every batch's
    state reaches the regime engine however busy the machine is (event time, not wall
    time, decides what the engine sees). Use ``Lockstep(batches)`` as the MemorySource's
    items and set ``.monitor`` before running."""

    def __init__(self, batches, cycles: int = 2):
        self.batches = batches
        self.cycles = cycles
        self.monitor = None

    def _settled(self) -> bool:
        """No whole-chain refresh in flight: the book is the one the batch's ticks left
        (refreshes start at event times, so a spot move smaller than ``reeval_bps`` may
        wait for the next underlying tick: a timer would make the state depend on when
        the machine got round to it)."""
        mon = self.monitor
        return not mon._refreshes and all(
            st.refreshing is None for st in mon.pipeline.states.values())

    async def __aiter__(self):
        from monitor.wire.columns import count

        sent = 0
        for batch in self.batches:
            yield batch
            # (the monitor asks for the next batch while it applies this one)
            sent += count(batch)
            while self.monitor.ticks_received < sent and not self.monitor._stop.is_set():
                await asyncio.sleep(0.002)
            while not self._settled() and not self.monitor._stop.is_set():
                await asyncio.sleep(0.002)
            target = self.monitor.cycles + self.cycles
            while self.monitor.cycles < target and not self.monitor._stop.is_set():
                await asyncio.sleep(0.002)


async def run_until(monitor, n_ticks: int, timeout: float = 240.0) -> int:
    """Run ``monitor`` until it has received ``n_ticks`` ticks, then stop it; its exit code.
    A run that ends short of them (the hang guard ``timeout`` ran out, or the source ended
    early) raises: a caller never compares the state of a run cut short. A monitor with
    ``max_ticks`` (it stops itself) must reach the smaller of the two."""
    target = n_ticks if monitor.max_ticks is None else min(n_ticks, monitor.max_ticks)

    async def watch():
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while monitor.ticks_received < n_ticks and loop.time() < deadline:
            await asyncio.sleep(0.05)
        monitor.stop()

    watcher = asyncio.create_task(watch())
    rc = await monitor.run()
    watcher.cancel()
    if monitor.ticks_received < target:
        raise AssertionError(f"run_until: the run ended after {monitor.ticks_received:,} of "
                             f"{target:,} ticks (hang guard {timeout:g} s)")
    return rc


def state_arrays(book: Book) -> np.ndarray:
    return np.array(book.agg.totals)
