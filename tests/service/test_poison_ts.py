"""Poison timestamps: a ``ts_ns`` outside int64 is malformed at decode (its bytes kept for
the dead-letter topic), and a tick dated beyond the wall clock plus ``max_future_s`` is
rejected as ``future_ts`` on both quote paths, for every kind of tick, leaving the
underlying's event clock and the book untouched."""

import copy
import json

import numpy as np
import pytest

from monitor.config import BoundsSettings
from monitor.ingest import Pipeline
from monitor.wire.codec import decode, encode
from monitor.wire.schema import OptionQuote, OptionTrade, UnderlyingTick, VolIndex
from tests.service.test_pipeline import BASE, ROW, SYM, TS
from tests.service.test_quote_records import as_records

WALL = TS + 3600 * 10**9  # the wall clock in these tests: an hour after the book's clock
SKEW_S = 300.0


@pytest.mark.parametrize("ts", [2**63, 2**64 - 1, -1])
@pytest.mark.parametrize("encoding", ["json", "binary"])
def test_ts_outside_int64_is_malformed_at_decode(ts, encoding):
    if encoding == "json":
        payload = json.dumps({"type": "quote", "ts_ns": ts, "symbol": SYM, "bid": 1.0,
                              "ask": 2.0}).encode()
    else:
        import msgspec
        payload = msgspec.msgpack.encode([["quote", ts, SYM, 1.0, 2.0, 0.0, 0.0]])
    r = decode(payload, encoding)
    assert r.ticks == []
    assert [e[0] for e in r.errors] == ["malformed"] and "ts_ns" in r.errors[0][1]
    assert r.rejected  # the bytes go to the dead-letter topic
    # the largest int64 is still a well-formed tick (the pipeline judges it)
    ok = decode(encode([OptionQuote(ts_ns=2**63 - 1, symbol=SYM, bid=1.0, ask=2.0)],
                       encoding), encoding)
    assert ok.ticks and not ok.errors


def pipeline():
    # the wall-clock limit alone (the event-clock skew: tests/service/test_poison_values.py)
    return Pipeline({"SPX": copy.deepcopy(BASE)}, max_future_s=SKEW_S,
                    wall_clock=lambda: WALL,
                    bounds={"SPX": BoundsSettings(max_clock_skew_s=0)})


def quote(ts, k=1.1):
    return OptionQuote(ts_ns=ts, symbol=SYM, bid=BASE.c.bid[ROW] * k, ask=BASE.c.ask[ROW] * k)


FUTURE = [WALL + int(SKEW_S * 1e9) + 1, WALL + 10 * 365 * 86400 * 10**9, 2**63 - 1]


@pytest.mark.parametrize("ts", FUTURE)
@pytest.mark.parametrize("records", [False, True])
def test_future_quote_is_rejected_and_leaves_the_clock(ts, records):
    p = pipeline()
    s = p.states["SPX"]
    clock0, totals0 = s.clock_ns, dict(s.book.totals)
    bid0 = s.book.c.bid.copy()
    ticks = [quote(ts)]
    assert p.apply(as_records(ticks) if records else ticks) == 0
    assert p.counts.rejected[("SPX", "future_ts")] == 1
    assert s.clock_ns == clock0 and dict(s.book.totals) == totals0
    assert np.array_equal(s.book.c.bid, bid0, equal_nan=True)
    # within the allowed skew it is applied, and a later good quote is not "stale"
    assert p.apply(as_records([quote(WALL + 10**9)]) if records else [quote(WALL + 10**9)]) == 1
    assert s.clock_ns == WALL + 10**9


@pytest.mark.parametrize("tick", [
    UnderlyingTick(ts_ns=FUTURE[1], root="SPX", bid=BASE.spot, ask=BASE.spot, last=BASE.spot),
    OptionTrade(ts_ns=FUTURE[1], symbol=SYM, price=float(BASE.c.ask[ROW]), size=10.0),
    VolIndex(ts_ns=FUTURE[1], symbol="VIX", value=20.0),
], ids=["underlying", "trade", "vol_index"])
def test_future_tick_of_every_kind_is_rejected(tick):
    p = pipeline()
    s = p.states["SPX"]
    clock0, spot_ts0, trades0 = s.clock_ns, s.spot_ts_ns, s.trades
    assert p.apply([tick]) == 0
    assert sum(n for (_, r), n in p.counts.rejected.items() if r == "future_ts") == 1
    assert (s.clock_ns, s.spot_ts_ns, s.trades) == (clock0, spot_ts0, trades0)
    assert "VIX" not in p.vol_index


def test_no_wall_clock_limit_by_default():
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, bounds={"SPX": BoundsSettings(max_clock_skew_s=0)})
    assert p.apply([quote(FUTURE[0])]) == 1
