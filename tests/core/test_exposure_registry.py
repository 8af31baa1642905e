"""The exposure registry is the one declaration of every exposure: each appears, under its
key and with its unit in the name, in the snapshot JSON, the Redis state and /metrics; the
layout and the contributions follow it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.core.book import Book
from monitor.core.exposures import EXPOSURES, GREEKS
from monitor.core.layout import CONTRIB0, F_FIELDS, GREEK0, N_F
from monitor.render.snapshot import render_snapshot
from monitor.service import Monitor
from monitor.sinks.metrics import Metrics, MetricsSink
from monitor.sinks.redis_sink import RedisSink
from monitor.snapshot import build_snapshot
from monitor.sources.memory import MemorySource
from tests.service.helpers import books, make_settings, run_until, session_ticks
from tests.synth import make_chain

#: the unit of each exposure, as its key must spell it
UNIT_SUFFIX = {"$": "_usd", "$ per 1% spot move": "_usd_per_pct",
               "$ per vol point": "_usd_per_vol_pt", "$ per day": "_usd_per_day"}


def test_every_exposure_has_its_unit_in_its_name():
    for e in EXPOSURES:
        assert e.unit in UNIT_SUFFIX, e
        assert e.key.endswith(UNIT_SUFFIX[e.unit]), e
        assert e.greek in GREEKS
    assert len({e.key for e in EXPOSURES}) == len(EXPOSURES)


def test_layout_has_one_contribution_row_per_exposure():
    assert N_F == CONTRIB0 + len(EXPOSURES)
    assert F_FIELDS[GREEK0:CONTRIB0] == GREEKS
    assert F_FIELDS[CONTRIB0:] == tuple(e.field for e in EXPOSURES)


def test_contributions_are_the_registry_formula_by_hand():
    """One call, S = K = 100, T = 1, sigma 20 %, r = q = 0, dealers long 3 (classic OI 3):
    each contribution is n M greek S^p scale with the book's own Greeks."""
    book = Book(make_chain([(100.0, 1.0, True, 0.2, 3.0)]), model="classic",
                multiplier=100.0, rate=0.0, div_yield=0.0)
    gamma = book.c.gamma[0]
    # hand: gamma = phi(d1) / (S sigma sqrt T), d1 = 0.1
    assert gamma == pytest.approx(math.exp(-0.005) / math.sqrt(2 * math.pi) / 20.0, rel=1e-6)
    # REFERENCE's definitions written out, not read from the registry: (greek, S power, scale)
    by_hand = {"dex_usd": ("delta", 1, 1.0), "gex_usd_per_pct": ("gamma", 2, 0.01),
               "vex_usd_per_vol_pt": ("vanna", 1, 0.01), "cex_usd_per_day": ("charm", 1, 1 / 365)}
    assert set(by_hand) == {e.key for e in EXPOSURES}
    for e in EXPOSURES:
        greek_name, power, scale = by_hand[e.key]
        greek = getattr(book.c, greek_name)[0]
        want = 3.0 * 100.0 * greek * 100.0 ** power * scale
        assert getattr(book.c, e.field)[0] == pytest.approx(want, rel=1e-12), e.key
        assert book.totals[e.key] == pytest.approx(want, rel=1e-12), e.key
    assert book.totals["gex_usd_per_pct"] == pytest.approx(3 * 100 * gamma * 100 * 100 * 0.01)


@pytest.mark.usefixtures("shared_redis")
async def test_every_exposure_reaches_snapshot_redis_and_metrics():
    settings = make_settings()
    snap = build_snapshot(books(settings)["SPX"])
    text = render_snapshot(snap)
    for e in EXPOSURES:
        assert isinstance(snap[e.key], float) and np.isfinite(snap[e.key]), e.key
        assert e.key in snap["by_expiry"][0], e.key
        assert f"  {e.short} " in text, e.key

    ticks = session_ticks(4000)
    sink = RedisSink(settings.redis)
    metrics = Metrics()
    mon = Monitor(settings, MemorySource([ticks[:2000], ticks[2000:]]), books(settings),
                  sinks=[sink, MetricsSink(metrics)])
    assert await run_until(mon, len(ticks)) == 0
    reader = RedisSink(settings.redis)
    await reader.start()
    try:
        state = await reader.read_state("SPX")
    finally:
        await reader.client.delete(*await reader.client.keys(f"{settings.redis.prefix}:*"))
        await reader.close()
    samples = {f.name: [s.value for s in f.samples if s.labels.get("underlying") == "SPX"]
               for f in text_string_to_metric_families(metrics.render().decode())}
    for e in EXPOSURES:
        assert state[e.key] == pytest.approx(mon.states["SPX"][e.key], rel=1e-12), e.key
        assert samples[f"dealerflow_{e.key}"] == [pytest.approx(state[e.key], rel=1e-9)], e.key
