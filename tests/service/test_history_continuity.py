"""Regime history that belongs to the data: a stored history is restored only when it is
continuous with the new data (same underlying and chain file, event times within the
regime window); otherwise it is dropped, so no sentence compares data days apart."""

from __future__ import annotations

import pytest

from monitor.books import build_books
from monitor.chain import load_chain
from monitor.core.book import Book
from monitor.service import Monitor, history_gap
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.memory import MemorySource
from monitor.sources.simulator import MarketSimulator, SimConfig
from tests.data_paths import DATA_DIR
from tests.service.helpers import CHAIN, make_settings, run_until

OTHER = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-06-17.csv.gz"
S = 1_000_000_000


def hist(root="SPX", chain="a.csv", times=(100 * S, 130 * S)):
    return {"root": root, "chain": chain, "window": [[t, 1.0, 15.0, 0.0, 15.0] for t in times]}


@pytest.mark.parametrize("d,clock,words", [
    (hist(root="SPY"), 140 * S, "the history is SPY's"),
    (hist(chain="b.csv"), 140 * S, "chain b.csv"),
    (hist(), 120 * S, "later than the data's event clock"),
    (hist(), (130 + 1801) * S, "beyond the 1800 s regime window"),
])
def test_history_gap_reasons(d, clock, words):
    assert words in history_gap(d, "SPX", "a.csv", clock, 1800.0)


def test_continuous_history_has_no_gap():
    assert history_gap(hist(), "SPX", "a.csv", 140 * S, 1800.0) is None
    assert history_gap(hist(times=()), "SPX", "a.csv", 140 * S, 1800.0) is None


def session(chain, n=6000, seed=5):
    sim = MarketSimulator(Book(load_chain(chain)), SimConfig(rate_ticks_per_s=20000.0,
                                                             seed=seed))
    ticks = sim.ticks(n)
    return [ticks[i:i + 2000] for i in range(0, n, 2000)], n


@pytest.mark.usefixtures("shared_redis")
async def test_history_of_another_chain_is_dropped_not_compared():
    settings = make_settings()
    batches, n = session(CHAIN)
    first = Monitor(settings, MemorySource(batches), build_books(settings, [CHAIN]),
                    sinks=[RedisSink(settings.redis)])
    assert await run_until(first, n) == 0
    assert first.regimes["SPX"].window  # it stored a history
    # the same prefix, two months earlier: the stored window must not be restored
    batches, n = session(OTHER)
    second = Monitor(settings, MemorySource(batches), build_books(settings, [OTHER]),
                     sinks=[RedisSink(settings.redis)])
    assert await run_until(second, n) == 0
    start, end = load_chain(OTHER).eval_ns, second.pipeline.states["SPX"].clock_ns
    window = second.regimes["SPX"].window
    assert window and all(start <= w[0] <= end for w in window)  # none from August
    # and the first label is a classification (from None), not a change from the old one
    gamma = [e for e in second.events if e["regime"] == "gamma"]
    assert gamma and gamma[0]["from"] is None
    reader = RedisSink(settings.redis)
    await reader.start()
    await reader.client.delete(*await reader.client.keys(f"{settings.redis.prefix}:*"))
    await reader.close()
