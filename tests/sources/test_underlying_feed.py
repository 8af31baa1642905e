"""An underlying's own feed beside OPRA (``databento.underlying_feeds``): a stock's quote is
its spot, a futures quote is carried back to the spot over its time to expiration, and the
state says which (``spot_source``). Records written with ``databento-dbn``'s own classes;
prices synthetic."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import databento_dbn as dbn
import pytest
import redis

from monitor.books import build_books
from monitor.config import load_settings
from monitor.sinks.redis_sink import decode_field
from monitor.sources.databento import DbnTranslator
from monitor.sources.databento_replay import DbnReplaySource
from monitor.sources.underlying_feed import FeedTranslator
from monitor.wire.columns import objects
from monitor.wire.schema import UnderlyingTick
from tests import dbn_files as W

NS_PER_YEAR = 365 * 86400 * 10**9
TS = 1_787_342_400_000_000_000
STOCK, FUTURE = dbn.InstrumentClass.STOCK, dbn.InstrumentClass.FUTURE
PACKAGED_SPX = Path(__file__).parents[2] / "monitor" / "data" / "SPX_2026-08-21.csv.gz"


def packaged_symbols() -> list:
    """The packaged chain's contracts in the order W.session_records numbers them."""
    return build_books(load_settings(None), [PACKAGED_SPX])["SPX"].chain.symbols()


def carry(root: str, years: float) -> float:
    return math.exp(-(0.04 - 0.01) * years)  # r 4 %, q 1 %


def feed(roots, feeds) -> tuple[FeedTranslator, DbnTranslator]:
    """A feed's translator, counting with OPRA's."""
    opra = DbnTranslator(roots)
    return FeedTranslator(opra, feeds, carry), opra


def test_a_stock_quote_is_the_spot_and_its_trades_are_counted():
    tr, opra = feed(["SPY"], {"SPY": "SPY"})
    assert tr.translate(W.feed_definition(7, "SPY", TS, STOCK)) == []
    # a symbol not configured is no feed: not an option either
    assert tr.translate(W.feed_definition(8, "QQQ", TS, STOCK)) == []
    assert opra.counts["not_an_option"] == 1
    assert tr.translate(W.mbp1(7, TS + 1, 600.10, 600.12)) == [
        UnderlyingTick(TS + 1, "SPY", 600.10, 600.12, 600.11, "equity SPY")]
    # the same quote again is the quote in force; a trade gives no spot
    assert tr.translate(W.mbp1(7, TS + 2, 600.10, 600.12)) == []
    assert tr.translate(W.mbp1(7, TS + 3, 600.10, 600.12, dbn.Action.TRADE, 600.11, 5)) == []
    assert opra.counts["feed_trade"] == 1
    # an empty side and the quotes of an unmapped id are counted
    assert tr.translate(W.mbp1(7, TS + 4, float("nan"), 600.12)) == []
    assert tr.translate(W.mbp1(8, TS + 5, 500.0, 500.1)) == []
    assert (opra.counts["no_quote"], opra.counts["unknown_instrument"]) == (1, 1)


def test_a_futures_quote_is_carried_back_to_the_spot():
    expiry = TS + NS_PER_YEAR // 4  # a quarter of a year ahead
    tr, opra = feed(["SPX"], {"ESZ6": "SPX"})
    tr.translate(W.feed_definition(9, "ESZ6", TS, FUTURE, expiry))
    (t,) = tr.translate(W.mbp1(9, TS, 7650.00, 7650.25))
    # by hand: exp(-(0.04 - 0.01) * 0.25) = exp(-0.0075) = 0.992528055...
    f = 0.99252805481913
    assert (t.root, t.source) == ("SPX", "futures ESZ6 less carry")
    assert t.bid == pytest.approx(7650.00 * f, rel=1e-12)
    assert t.ask == pytest.approx(7650.25 * f, rel=1e-12)
    assert t.last == pytest.approx(7650.125 * f, rel=1e-12)
    assert t.bid < 7650.00  # a positive carry: the future above the spot
    # at and after its expiration no spot comes from it
    assert tr.translate(W.mbp1(9, expiry, 7651.0, 7651.25)) == []
    assert opra.counts["feed_expired"] == 1


def test_a_feed_definition_that_cannot_give_a_spot_is_counted_and_unmapped():
    tr, opra = feed(["SPX"], {"ESZ6": "SPX", "SPX": "SPX"})
    tr.translate(W.feed_definition(9, "ESZ6", TS, FUTURE))  # no expiration
    tr.translate(W.feed_definition(10, "SPX", TS, dbn.InstrumentClass.INDEX))
    assert opra.counts["feed_unusable"] == 2
    assert tr.translate(W.mbp1(9, TS + 1, 7650.0, 7650.25)) == []
    assert opra.counts["unknown_instrument"] == 1
    # a stock mapped, then deleted: its quotes are unknown again
    tr, opra = feed(["SPY"], {"SPY": "SPY"})
    tr.translate(W.feed_definition(7, "SPY", TS, STOCK))
    tr.translate(W.feed_definition(7, "SPY", TS, STOCK,
                                   action=dbn.SecurityUpdateAction.DELETE))
    assert tr.translate(W.mbp1(7, TS + 1, 600.1, 600.2)) == []
    assert opra.counts["unknown_instrument"] == 1


def test_a_futures_feed_prices_the_replay_instead_of_parity(tmp_path):
    """`monitor run --replay OPRA.dbn --replay GLBX.dbn`: the futures quotes, carried back
    with the configured rate (4 %) and dividend yield (1.3 %), are the state's spot, and it
    says so; the options' parity gives none."""
    opra, ticks = W.simulated_session(tmp_path)
    sim_spots = [(t.ts_ns, t.last) for t in ticks if isinstance(t, UnderlyingTick)]
    expiry = TS + NS_PER_YEAR // 2
    # the future's id is also an OPRA contract's (W.session_records numbers them from
    # 1000): ids are each dataset's own
    recs = [W.feed_definition(1000, "ESZ6", sim_spots[0][0] - 10, FUTURE, expiry)]
    for ts, spot in sim_spots:
        fut = spot * math.exp((0.04 - 0.013) * (expiry - ts) / NS_PER_YEAR)
        recs.append(W.mbp1(1000, ts, fut - 0.125, fut + 0.125))
    glbx = W.write(tmp_path / "es.dbn", recs, dataset="GLBX.MDP3")
    config = tmp_path / "config.yaml"
    config.write_text(f"chains:\n  - {PACKAGED_SPX}\ndatabento:\n  underlying_feeds:\n"
                      "    SPX: {dataset: GLBX.MDP3, symbol: ESZ6}\n")
    settings = load_settings(config)
    assert settings.underlying("SPX").div_yield == 0.013

    def ticks(paths, settings) -> list:
        chunks = DbnReplaySource(paths, settings, ["SPX"]).chunks()
        return objects([t for ticks, _ in chunks for t in ticks])

    def spot_sources(ticks) -> set:
        return {t.source for t in ticks if type(t) is UnderlyingTick}

    with_feed, alone = ticks([opra, glbx], settings), ticks([opra], load_settings(None))
    # every spot the replay makes is the future's; without the feed, parity's
    assert spot_sources(with_feed) == {"futures ESZ6 less carry"}
    assert spot_sources(alone) == {"implied_parity"}
    # and the options' ticks are the same, contract 1000's included
    options = [t for t in with_feed if type(t) is not UnderlyingTick]
    assert options == [t for t in alone if type(t) is not UnderlyingTick]
    first = packaged_symbols()[0]
    assert sum(getattr(t, "symbol", "") == first for t in options) > 1
    prefix = f"dealerflow_test_feed_{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_LOG_FORMAT="json")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(config), "--replay",
             str(opra), "--replay", str(glbx), "--metrics-port", "0", "--no-summary"],
            capture_output=True, text=True, timeout=600, env=env)
        assert out.returncode == 0, out.stderr[-3000:]
        state = {k.decode(): decode_field(v.decode()) for k, v in
                 redis.Redis().hgetall(f"{prefix}-replay:SPX:state").items()}
        assert state["spot_source"] == "futures ESZ6 less carry"
        chain_spot = build_books(load_settings(None), [PACKAGED_SPX])["SPX"].chain.spot
        assert state["spot"] != chain_spot
        # the last futures quote's midpoint, carried back: the simulator's last spot
        assert state["spot"] == pytest.approx(sim_spots[-1][1], rel=1e-9)
    finally:
        r = redis.Redis()
        keys = r.keys(f"{prefix}*")
        if keys:
            r.delete(*keys)


def test_replay_refuses_a_recording_mixed_with_dbn_files(tmp_path):
    opra, _ = W.simulated_session(tmp_path, seconds_x400=1)
    (tmp_path / "rec").mkdir()
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--replay", str(opra),
                          "--replay", str(tmp_path / "rec"), "--metrics-port", "0"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "--replay takes one recording (a folder) or DBN files" in out.stderr
