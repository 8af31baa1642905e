"""A batch of tick objects is turned into columns and its quotes and trades screened,
classified and applied by one kernel pass (``Pipeline._columns``); the per-tick path
(``Pipeline(columns=False)``) is the reference. On sessions that hold every tick kind,
every rejection reason, two underlyings, clock-jump votes, prints outside the tape's
session and odd symbols, both must end in the same state with the same counts."""

import copy
import math
import random

import numpy as np
import pytest

from monitor.chain.loaders import load_chain
from monitor.core.book import Book
from monitor.ingest import Pipeline
from monitor.sources.simulator import MarketSimulator, SimConfig
from monitor.wire.codec import decode, encode
from monitor.wire.columns import OTHER, QUOTE, TRADE, TickColumns, from_ticks
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick, VolIndex
from tests.data_paths import DATA_DIR
from tests.service.test_pipeline import BASE, ROW, SYM, TS

VIX = Book(load_chain(DATA_DIR / "cboe_chain_eod_2026" / "VIX" / "VIX_2026-08-21.csv.gz"))
DAY_NS = 86_400 * 10**9


def _sim(book, n, seed):
    return MarketSimulator(book, SimConfig(rate_ticks_per_s=20000.0, seed=seed)).ticks(n)


def _bad(ts: int) -> list:
    """One tick for each reason the quote and trade checks give, plus the odd ones."""
    bid, ask = float(BASE.c.bid[ROW]), float(BASE.c.ask[ROW])
    q = lambda **kw: OptionQuote(**{"ts_ns": ts, "symbol": SYM, "bid": bid, "ask": ask, **kw})  # noqa: E731
    t = lambda **kw: OptionTrade(**{"ts_ns": ts, "symbol": SYM, "price": ask, "size": 3.0, **kw})  # noqa: E731
    return [
        q(bid=math.nan), q(ask=math.inf), q(bid=-1.0), q(bid=ask + 1.0), q(ask=1e9),
        q(symbol="SPXW991231C09999000"), q(symbol="X" * 30), q(symbol="SPXW2608é1C07600000"),
        q(symbol="SPXW\0260821C07600000"), q(), q(ts_ns=ts - 1),  # stale
        q(ts_ns=ts + 10**18),  # beyond the wall clock
        q(ts_ns=ts - 3 * DAY_NS),  # before the event clock's window
        t(price=math.nan), t(size=0.0), t(price=-1.0), t(size=1e9), t(price=1e9),
        t(symbol="SPXW991231P09999000"), t(ts_ns=ts + 10**18), t(ts_ns=ts - 3 * DAY_NS),
        t(price=0.5 * (bid + ask)), t(price=0.5 * (bid + ask), ts_ns=ts + 1),  # unclassified
        t(price=0.5 * (bid + ask), ts_ns=ts + 1), t(ts_ns=ts),  # a duplicate, a stale print
        OptionQuote(ts_ns=ts, symbol=SYM[:-15].ljust(6) + SYM[-15:], bid=bid, ask=ask),
    ]


def _votes(ts: int) -> list:
    """Quotes an hour ahead of the clock (three agreeing ones move it), then a trade and a
    quote there."""
    later = ts + 3600 * 10**9
    return [OptionQuote(ts_ns=later + k, symbol=SYM, bid=float(BASE.c.bid[ROW]),
                        ask=float(BASE.c.ask[ROW])) for k in range(3)] + [
        OptionTrade(ts_ns=later + 5, symbol=SYM, price=float(BASE.c.ask[ROW]), size=2.0),
        OptionQuote(ts_ns=later + 6, symbol=SYM, bid=float(BASE.c.bid[ROW]),
                    ask=float(BASE.c.ask[ROW]))]


def session(seed: int) -> list:
    rng = random.Random(seed)
    spx = _sim(BASE, 12000, seed)
    vix = _sim(VIX, 3000, seed + 1)
    ticks = []
    for t in spx:  # two underlyings interleaved
        ticks.append(t)
        if vix and rng.random() < 0.25:
            ticks.append(vix.pop(0))
    ticks += vix
    syms = [t.symbol for t in spx if isinstance(t, OptionTrade)]
    for _ in range(40):  # open interest and the volatility index among them
        k = rng.randrange(len(ticks))
        ticks.insert(k, OpenInterest(date="2026-08-21", symbol=rng.choice(syms),
                                     oi=float(rng.randrange(0, 5000))))
        ticks.insert(k, VolIndex(ts_ns=ticks[k - 1].ts_ns if k else TS, symbol="VIX",
                                 value=15.0 + rng.random()))
    mid = len(ticks) // 2
    ts = max(getattr(t, "ts_ns", 0) for t in ticks[:mid])
    ticks[mid:mid] = _bad(ts) + _votes(ts)
    # prints of the next session (the tape opens a new one) and one of a past one
    last = ticks[-1]
    nxt = [OptionTrade(ts_ns=TS + DAY_NS + k, symbol=s, price=1.0, size=1.0)
           for k, s in enumerate(syms[:5])]
    return ticks + nxt + [OptionTrade(ts_ns=TS - DAY_NS, symbol=syms[0], price=1.0,
                                      size=1.0), last]


def run(ticks: list, columns: bool, seed: int, **kw) -> Pipeline:
    p = Pipeline({"SPX": copy.deepcopy(BASE), "VIX": copy.deepcopy(VIX)}, columns=columns,
                 max_future_s=3600 * 24 * 365 * 20, **kw)
    rng = random.Random(seed)
    k = 0
    while k < len(ticks):  # batches of random sizes, as a consumer hands them out
        n = rng.choice([1, 2, 7, 50, 400, 3000])
        p.apply(ticks[k:k + n])
        k += n
    return p


def assert_same(a: Pipeline, b: Pipeline) -> None:
    assert a.counts.ticks == b.counts.ticks
    assert a.counts.rejected == b.counts.rejected
    assert [(r, type(t), t) for r, _, t in a.counts.dead] == \
        [(r, type(t), t) for r, _, t in b.counts.dead]
    assert sorted((s["reason"], s["underlying"]) for s in a.counts.samples) == \
        sorted((s["reason"], s["underlying"]) for s in b.counts.samples)
    for root in a.states:
        sa, sb = a.states[root], b.states[root]
        for name in ("clock_ns", "trades", "classified", "unclassified", "customer_puts_sold",
                     "last_trade_ts_ns", "flow_pos", "pending_spot", "spot_ts_ns"):
            assert getattr(sa, name) == getattr(sb, name), (root, name)
        assert np.array_equal(sa.last_ts, sb.last_ts)
        assert np.array_equal(sa.last_trade_px, sb.last_trade_px, equal_nan=True)
        assert np.array_equal(sa.last_print_ts, sb.last_print_ts)
        assert sa.tape.checkpoint() == sb.tape.checkpoint()
        for arr in ("bid", "ask", "iv", "delta", "gamma", "pos"):
            assert np.array_equal(getattr(sa.book.c, arr), getattr(sb.book.c, arr),
                                  equal_nan=True), (root, arr)
        assert sa.book.totals == sb.book.totals


@pytest.mark.parametrize("seed,model,tape", [(1, "classic", True), (2, "flow", True),
                                             (3, "classic", False)])
def test_columns_end_where_the_per_tick_path_ends(seed, model, tape):
    ticks = session(seed)
    models = {"SPX": (model, "classic"), "VIX": ("classic", "classic")}
    ref = run(ticks, False, seed, models=models, tape=tape)
    col = run(ticks, True, seed, models=models, tape=tape)
    assert_same(ref, col)
    # the session exercised what it was built for
    spx = col.states["SPX"]
    reasons = {r for (_, r) in col.counts.rejected}
    assert {"nan", "negative_price", "crossed", "absurd_price", "absurd_size",
            "unknown_symbol", "future_ts", "past_ts"} <= reasons
    assert col.counts.ticks[("SPX", "quote", "stale")] >= 1
    assert spx.classified > 100 and spx.unclassified > 0
    assert col.states["VIX"].trades > 10
    assert spx.clock_ns >= TS + 3600 * 10**9  # the voted jump happened
    if tape:
        assert spx.tape.session != ref.states["SPX"].tape.session or spx.tape.prints > 0


def test_the_scan_stops_only_for_what_the_per_tick_path_must_take():
    """A batch of 3,000 simulated ticks (quotes, trades, underlying ticks) is scanned in
    one kernel pass with no tick handed to the per-tick path: underlying ticks that move
    the spot by less than the refresh threshold are applied by the scan itself. With a
    threshold every spot tick crosses, each one stops the scan (a refresh starts)."""
    ticks = _sim(BASE, 3000, 9)[:3000]
    n_under = sum(isinstance(t, UnderlyingTick) for t in ticks)
    assert n_under >= 5
    for bps in (1e9, 0.0):
        p = Pipeline({"SPX": copy.deepcopy(BASE)}, reeval_bps=bps)
        first = next(k for k, t in enumerate(ticks) if isinstance(t, OptionTrade))
        p.apply(ticks[:first + 1])  # the first print opens the tape's session: a stop
        rest = ticks[first + 1:]
        want = 0 if bps else sum(isinstance(t, UnderlyingTick) for t in rest)
        taken = []
        orig = p._one
        p._one = lambda t, pending: taken.append(t) or orig(t, pending)
        assert p.apply(rest) == len(rest)  # (all good ticks)
        assert sum(isinstance(t, UnderlyingTick) for t in taken) == want
        assert len(taken) == want
        assert p.counts.ticks[("SPX", "underlying", "applied")] == n_under
        assert p.counts.ticks[("SPX", "quote", "applied")] > 2000


def test_a_trade_is_classified_against_a_quote_earlier_in_the_same_batch():
    """Hand case: the book's quote is bid/ask; a new quote 2.00/2.10 arrives, then prints
    at 2.10 (at the new ask: a customer buy), 2.00 (at the bid: a sell), 2.05 at the
    midpoint after 2.00 (an uptick: a buy); the dealers: -10 + 20 - 5 = +5."""
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, models={"SPX": ("classic", "classic")})
    s = p.states["SPX"]
    p.apply([OptionTrade(ts_ns=TS, symbol=SYM, price=float(BASE.c.ask[ROW]), size=1.0),
             OptionQuote(ts_ns=TS, symbol=SYM, bid=float(BASE.c.bid[ROW]),
                         ask=float(BASE.c.ask[ROW]))])
    s.flow_pos.clear()
    bid, ask = 2.00, 2.10
    p.apply([OptionQuote(ts_ns=TS + 1, symbol=SYM, bid=bid, ask=ask),
             OptionTrade(ts_ns=TS + 2, symbol=SYM, price=2.10, size=10.0),
             OptionTrade(ts_ns=TS + 3, symbol=SYM, price=2.00, size=20.0),
             OptionTrade(ts_ns=TS + 4, symbol=SYM, price=2.05, size=5.0)])
    assert s.flow_pos == {ROW: 5.0}
    assert s.classified == 4 and s.last_trade_px[ROW] == 2.05


def test_from_ticks_columns_by_hand():
    q = OptionQuote(ts_ns=7, symbol=SYM, bid=1.5, ask=1.75, bid_size=3, ask_size=4)
    t = OptionTrade(ts_ns=8, symbol=SYM, price=1.7, size=2.0)
    u = UnderlyingTick(ts_ns=9, root="SPX", bid=1.0, ask=2.0, last=1.5)
    odd = OptionQuote(ts_ns=10, symbol="Z" * 22, bid=1.0, ask=2.0)
    c = from_ticks([q, t, u, odd])
    assert c.kind.tolist() == [QUOTE, TRADE, OTHER, OTHER]
    assert c.ts_ns.tolist()[:2] == [7, 8]
    assert (c.x0[0], c.x1[0], c.x2[0], c.x3[0]) == (1.5, 1.75, 3.0, 4.0)
    assert (c.x0[1], c.x1[1]) == (1.7, 2.0)
    assert c.name(0) == SYM and c.tick(2) is u and len(c) == 4


@pytest.mark.parametrize("encoding", ["records", "binary", "json"])
def test_decoded_messages_end_where_the_per_tick_path_ends(encoding):
    """The session as messages of 500 ticks in each encoding (``records``: tick records
    with the other kinds after them), decoded and applied a consumer batch at a time."""
    ticks = session(4)
    ticks.insert(100, OptionTrade(ts_ns=ticks[99].ts_ns, symbol=SYM, price=1.0, size=1.0,
                                  conditions="I"))  # sale conditions: travels as an object
    msgs = [encode(ticks[k:k + 500], encoding) for k in range(0, len(ticks), 500)]
    ref, p = (Pipeline({"SPX": copy.deepcopy(BASE), "VIX": copy.deepcopy(VIX)},
                       max_future_s=3600 * 24 * 365 * 20, columns=c) for c in (False, True))
    for k in range(0, len(msgs), 7):  # batches of 7 messages (where a batch ends matters:
        ref.apply(ticks[k * 500:(k + 7) * 500])  # its prints meet the book before its quotes)
        batch = [t for m in msgs[k:k + 7] for t in decode(m, encoding).ticks]
        if encoding == "records":
            assert all(isinstance(t, TickColumns) for t in batch)
        p.apply(batch)
    assert_same(ref, p)


def test_tick_records_round_trip_and_malformed_bodies():
    q = OptionQuote(ts_ns=1, symbol=SYM, bid=1.0, ask=1.25, bid_size=3, ask_size=4)
    t = OptionTrade(ts_ns=2, symbol=SYM, price=1.2, size=5.0)
    c = OptionTrade(ts_ns=3, symbol=SYM, price=1.2, size=5.0, conditions="X")
    u = UnderlyingTick(ts_ns=4, root="SPX", bid=1.0, ask=2.0, last=1.5)
    msg = encode([q, t, c, u], "records")
    (cols,) = decode(msg, "records").ticks
    assert cols.kind.tolist() == [QUOTE, TRADE, OTHER, OTHER]
    assert [cols.tick(k) for k in range(4)] == [q, t, c, u]
    for bad in (msg[:-3], msg[:12], msg[:8] + (10**6).to_bytes(4, "little") + msg[12:]):
        res = decode(bad, "records")
        assert res.ticks == [] and res.errors[0][0] == "malformed"
    # a record of an unknown kind
    body = bytearray(msg)
    body[12] = 7
    assert decode(bytes(body), "records").errors[0][0] == "malformed"


def test_json_as_producers_write_it_is_read_into_columns():
    """Keys in any order, spaces and newlines, integers, exponents and null in float
    fields: read into columns (not handed to msgspec), each value as msgspec reads it."""
    text = (b' [ {"symbol": "' + SYM.encode() + b'", "ask": 2.5e-1, "type": "quote",\n'
            b'  "bid": 0.2, "ts_ns": 17, "ask_size": null} ,\n'
            b'{"type":"trade","ts_ns":18,"symbol":"' + SYM.encode() + b'","size":3,'
            b'"price":0.25,"conditions":""}]\n')
    (cols,) = decode(text, "json", columns=True).ticks
    assert isinstance(cols, TickColumns) and cols.kind.tolist() == [QUOTE, TRADE]
    assert cols.ts_ns.tolist() == [17, 18]
    assert (cols.x0[0], cols.x1[0], cols.x2[0]) == (0.2, 0.25, 0.0) and math.isnan(cols.x3[0])
    assert (cols.x0[1], cols.x1[1]) == (0.25, 3.0)
    ref = decode(text, "json").ticks
    assert cols.tick(1) == ref[1]


def test_msgpack_is_read_into_columns():
    import msgspec
    msg = msgspec.msgpack.encode([["quote", 17, SYM, 0.2, 1, None, 4.5],
                                  ["trade", 18, SYM, 0.25, 3, ""],
                                  ["vol_index", 19, "VIX", 18.5]] + [["quote", 20, SYM, 1.0, 2.0]] * 6)
    (cols,) = decode(msg, "binary", columns=True).ticks
    assert cols.kind.tolist() == [QUOTE, TRADE, OTHER] + [QUOTE] * 6
    assert (cols.x0[0], cols.x1[0], cols.x3[0]) == (0.2, 1.0, 4.5) and math.isnan(cols.x2[0])
    assert cols.tick(2) == VolIndex(ts_ns=19, symbol="VIX", value=18.5)
    assert cols.ts_ns.tolist()[:3] == [17, 18, 19]
