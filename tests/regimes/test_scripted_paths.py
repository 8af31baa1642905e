"""Scripted market paths from the simulator, starting from real chains, through the whole
service (pipeline, numba core, regime engine): the regimes must come in order.

The moves are synthetic (the simulator's); the starting chains are real. Windows are
seconds of simulated time so a session stays short."""

import asyncio

from monitor.service import Monitor
from monitor.sources.memory import MemorySource
from monitor.sources.simulator import MarketSimulator, SimConfig
from tests.data_paths import DATA_DIR
from tests.service.helpers import Lockstep, make_settings, run_until

SPX = DATA_DIR / "cboe_chain_eod_2026" / "SPX"


def settings():
    s = make_settings()
    r = s.regimes
    r.window_s, r.min_dwell_s, r.sample_s = 2.0, 0.5, 0.1
    r.vanna_iv_change_pts, r.vanna_min_flow_usd = 1.0, 1e9
    r.feedback_spot_pct, r.feedback_iv_pts = -1.0, 1.0
    r.exhaustion_min_history, r.exhaustion_rollover_pts = 5, 1.0
    r.exhaustion_put_selling_contracts = 500
    s.intervals.publish_ms = 20.0
    s.intervals.reeval_ms = 100.0  # event time: 140 refreshes over the 14 s path
    return s


def run_session(chain, cfg: SimConfig, seconds: float, settings_):
    from monitor.books import build_books
    from monitor.chain.loaders import load_chain
    from monitor.core.book import Book

    books = build_books(settings_, [chain])
    sim = MarketSimulator(Book(load_chain(chain)), cfg)
    # one observation of the engine per 0.5 s of market time (the labels' minimum dwell),
    # 28 over the 14 s path: the source waits for publish cycles after each batch, so a
    # busy machine cannot thin the observations out (before, the engine was fed once per
    # wall-clock cycle and, under load, saw 3-13 of them)
    batches = list(sim.session(seconds, batch=int(cfg.rate_ticks_per_s * 0.5)))
    n = sum(len(b) for b in batches)
    items = Lockstep(batches)
    mon = Monitor(settings_, MemorySource(items), books)
    items.monitor = mon
    assert asyncio.run(run_until(mon, n, timeout=300)) == 0
    return mon.events


def order_of(events, labels):
    seen = [e["to"] for e in events if e["to"]]
    return [seen.index(x) if x in seen else None for x in labels]


def test_vanna_melt_up_then_feedback_selloff_then_exhaustion():
    s = settings()
    cfg = SimConfig(rate_ticks_per_s=40000, seed=11,
                    # 0-4 s melt-up, 4-6 flat, 6-10 sell-off, 10-14 IV rolls over
                    spot_path=[(0, 0.0), (4, 1.0), (6, 1.0), (10, -2.5), (14, -2.5)],
                    vol_path=[(0, 0.0), (4, -3.0), (6, -3.0), (10, 5.0), (14, 2.0)],
                    put_selling_path=[(0, 0.0), (10, 0.0), (10.5, 1.0), (14, 1.0)])
    events = run_session(SPX / "SPX_2026-08-21.csv.gz", cfg, 14.0, s)
    i_vanna, i_short, i_feedback, i_exhaustion = order_of(
        events, ["vanna_tailwind", "short_gamma", "feedback_selloff", "exhaustion"])
    assert None not in (i_vanna, i_short, i_feedback, i_exhaustion), [
        (e["regime"], e["to"]) for e in events]
    assert i_vanna < i_feedback < i_exhaustion
    assert i_short < i_feedback
    tail = next(e for e in events if e["to"] == "vanna_tailwind")
    assert tail["iv_change_pts"] < 0 and tail["vex_usd_per_vol_pt"] > 0  # dealers buy
    fb = next(e for e in events if e["to"] == "feedback_selloff")
    assert fb["gex_usd_per_pct"] < 0 and fb["spot_change_pct"] < 0 < fb["iv_change_pts"]
    # no label flaps: a label, once set, holds at least the minimum dwell (event time), and
    # each family changes only a handful of times over the four legs of the path
    for fam in ("gamma", "vanna", "feedback", "exhaustion"):
        ch = [e for e in events if e["regime"] == fam]
        assert len(ch) <= 8, fam
        for a, b in zip(ch, ch[1:]):
            if a["to"] is not None:
                assert b["ts_ns"] - a["ts_ns"] >= s.regimes.min_dwell_s * 1e9, fam


def test_charm_window_around_the_2026_06_18_quad_witching():
    s = settings()
    cfg = SimConfig(rate_ticks_per_s=20000, seed=3, spot_path=[(0, 0.0), (2, 0.0)])
    events = run_session(SPX / "SPX_2026-06-15.csv.gz", cfg, 2.0, s)
    charm = [e for e in events if e["regime"] == "charm"]
    assert charm and charm[0]["to"] == "charm_window" and charm[0]["mechanical"]
    assert "2026-06-18 quarterly (quad witching)" in charm[0]["message"]
    # a week before, outside the window: no charm event
    events = run_session(SPX / "SPX_2026-07-09.csv.gz", cfg, 2.0, s)
    assert not [e for e in events if e["regime"] == "charm"]
