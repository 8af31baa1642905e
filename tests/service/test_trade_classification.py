"""Trade classification by hand (REFERENCE.md, ``flow``) and what a classified print does
to the dealers: a customer buy makes the dealers short that many contracts, a customer
sell long; customer put selling is what the exhaustion regime reads."""

import copy
import math

import numpy as np
import pytest

from monitor.ingest import Pipeline, classify_print
from monitor.wire.schema import OptionQuote, OptionTrade
from tests.service.test_pipeline import BASE, TS


@pytest.mark.parametrize("price,bid,ask,last,side", [
    (2.10, 2.00, 2.10, None, +1),   # at the ask: customer buy
    (2.20, 2.00, 2.10, None, +1),   # through the ask
    (2.00, 2.00, 2.10, None, -1),   # at the bid: customer sell
    (1.95, 2.00, 2.10, None, -1),   # through the bid
    (2.08, 2.00, 2.10, None, +1),   # inside, above the midpoint 2.05
    (2.02, 2.00, 2.10, None, -1),   # inside, below it
    (2.05, 2.00, 2.10, 2.00, +1),   # at the midpoint, uptick from the previous print
    (2.05, 2.00, 2.10, 2.10, -1),   # at the midpoint, downtick
    (2.05, 2.00, 2.10, 2.05, 0),    # at the midpoint, no tick: unclassified
    (2.05, 2.00, 2.10, None, 0),    # at the midpoint, no previous print
    (2.05, math.nan, 2.10, None, 0),  # no quote to judge against
    (2.05, 2.20, 2.10, None, 0),    # crossed quote
    (0.05, 0.00, 0.00, None, 0),    # no ask
    # found by a mutation run: a sub-dollar ask is a real quote (not "no ask"), and a
    # locked quote (bid = ask) is judged, the at-the-ask rule first
    (0.50, 0.30, 0.50, None, +1),   # at the ask of a 30/50-cent option
    (0.30, 0.30, 0.50, None, -1),   # at its bid
    (1.20, 1.20, 1.20, None, +1),   # locked 1.20/1.20, print at 1.20: at the ask, a buy
])
def test_classify_print_by_hand(price, bid, ask, last, side):
    assert classify_print(price, bid, ask, last) == side


def _put_row():
    c = BASE.c
    for i in range(len(c.strike)):
        if not c.is_call[i] and c.status[i] == 0 and c.bid[i] > 1.0 and c.ask[i] > c.bid[i]:
            return i
    raise AssertionError("no quoted put")


def test_classified_prints_move_the_flow_positions_and_put_selling():
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    bid, ask = float(BASE.c.bid[i]), float(BASE.c.ask[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, models={"SPX": ("flow", "classic")})
    s = p.states["SPX"]
    pos0 = float(s.book.c.pos[i])
    p.apply([OptionQuote(ts_ns=TS, symbol=sym, bid=bid, ask=ask),
             OptionTrade(ts_ns=TS + 1, symbol=sym, price=bid, size=30.0),   # customer sells 30
             OptionTrade(ts_ns=TS + 2, symbol=sym, price=ask, size=10.0),   # customer buys 10
             OptionTrade(ts_ns=TS + 3, symbol=sym, price=0.5 * (bid + ask), size=5.0)])
    # the midpoint print follows a downtick (ask -> mid): a customer sell
    assert (s.classified, s.unclassified) == (3, 0)
    dealer = +30.0 - 10.0 + 5.0  # dealers buy what customers sell
    assert s.flow_pos[i] == pytest.approx(dealer)
    assert s.customer_puts_sold == pytest.approx(dealer)
    # the flow model: the base model's position plus the dealers' running flow
    assert float(s.book.c.pos[i]) == pytest.approx(pos0 + dealer)


def test_classic_model_keeps_positions_but_counts_the_flow():
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    bid = float(BASE.c.bid[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)})
    s = p.states["SPX"]
    pos0 = float(s.book.c.pos[i])
    p.apply([OptionTrade(ts_ns=TS + 1, symbol=sym, price=bid, size=7.0)])
    assert s.customer_puts_sold == pytest.approx(7.0)
    assert float(s.book.c.pos[i]) == pos0


def test_every_trade_outcome_is_counted_under_its_kind_and_reason():
    """One print of each kind of outcome; the counts (exported as dealerflow_ticks_total and
    dealerflow_ticks_rejected_total), the log samples and the state's trade fields say
    exactly what happened (a mutation run found these labels and bounds unguarded)."""
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    wall = TS + 10_000_000_000
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, max_future_s=300, wall_clock=lambda: wall)
    s = p.states["SPX"]
    s.dirty = False
    top = float(s.max_px[i])
    big = s.bounds.max_trade_contracts
    trades = [
        OptionTrade(ts_ns=TS + 1, symbol="SPXW  990101C09999000", price=1.0, size=1.0),  # unknown
        OptionTrade(ts_ns=TS + 2, symbol=sym, price=math.nan, size=1.0),        # nan
        OptionTrade(ts_ns=TS + 3, symbol=sym, price=-0.05, size=1.0),           # negative price
        OptionTrade(ts_ns=TS + 4, symbol=sym, price=1.0, size=0.0),             # no size
        OptionTrade(ts_ns=TS + 5, symbol=sym, price=1.0, size=big * 2),         # absurd size
        OptionTrade(ts_ns=TS + 6, symbol=sym, price=top * 1.5, size=1.0),       # absurd price
        OptionTrade(ts_ns=wall + 301 * 10**9, symbol=sym, price=1.0, size=1.0),  # future
        OptionTrade(ts_ns=TS + 7, symbol=sym, price=0.0, size=1.0),             # applied: a 0 print
        OptionTrade(ts_ns=TS + 8, symbol=sym, price=0.5, size=1.0),             # applied: sub-dollar
        OptionTrade(ts_ns=TS + 9, symbol=sym, price=top, size=big),             # applied: at the bounds
    ]
    assert p.apply(trades) == 3
    kinds = {k: n for k, n in p.counts.ticks.items() if k[1] == "trade"}
    assert kinds == {("SPX", "trade", "applied"): 3, ("SPX", "trade", "rejected"): 7}
    assert dict(p.counts.rejected) == {("SPX", "unknown_symbol"): 1, ("SPX", "nan"): 1,
                                       ("SPX", "negative_price"): 2, ("SPX", "absurd_size"): 1,
                                       ("SPX", "absurd_price"): 1, ("SPX", "future_ts"): 1}
    samples = p.counts.take_samples()
    assert {(x["kind"], x["reason"]) for x in samples} == {
        ("trade", r) for r in ("unknown_symbol", "nan", "negative_price", "absurd_size",
                               "absurd_price", "future_ts")}
    for x in samples:  # every sample names the print it judged
        assert ("SPXW  990101C09999000" if x["reason"] == "unknown_symbol" else sym) \
            in x["context"], x
    assert s.trades == 3 and s.last_trade_ts_ns == TS + 9
    assert s.dirty is True  # the flow counts are published and checkpointed


def test_a_trade_is_classified_against_the_quote_before_it_in_the_same_batch():
    """The quote that preceded a print on the wire is in force for it even while it waits
    in the batch: here the new quote moved a dollar below the book's, and the print at
    the new ask is a customer buy (against the book's old quote it would be a sell)."""
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    b0 = float(BASE.c.bid[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)})
    s = p.states["SPX"]
    new_bid, new_ask = b0 - 1.0, b0 - 0.5
    p.apply([OptionQuote(ts_ns=TS + 1, symbol=sym, bid=new_bid, ask=new_ask),
             OptionTrade(ts_ns=TS + 2, symbol=sym, price=new_ask, size=4.0)])
    assert classify_print(new_ask, b0, float(BASE.c.ask[i]), None) == -1  # the old quote's verdict
    assert (s.classified, s.unclassified) == (1, 0)
    assert s.customer_puts_sold == pytest.approx(-4.0)  # customers bought 4 puts


def test_every_vol_index_outcome_is_counted_under_its_kind_and_reason():
    """A volatility-index level of each kind of outcome, against a pipeline that tracks VIX
    itself (its levels count under VIX) beside SPX (VIX1D counts under "other"): exact
    counts by kind and reason, samples naming the level, the bounds inclusive where they
    should be, and a repeated timestamp taken again (later on the wire wins)."""
    from monitor.chain.loaders import load_chain
    from monitor.core.book import Book
    from monitor.ingest import OTHER
    from monitor.wire.schema import VolIndex
    from tests.data_paths import DATA_DIR
    vix = Book(load_chain(DATA_DIR / "cboe_chain_eod_2026" / "VIX" / "VIX_2026-06-12.csv.gz"))
    wall = TS + 10_000_000_000
    p = Pipeline({"SPX": copy.deepcopy(BASE), "VIX": vix}, max_future_s=300,
                 wall_clock=lambda: wall)
    top, limit = p.max_vol_index, wall + 300 * 10**9
    applied = p.apply([
        VolIndex(ts_ns=TS + 1, symbol="VIX", value=math.nan),        # nan
        VolIndex(ts_ns=TS + 2, symbol="VIX", value=0.0),             # not positive
        VolIndex(ts_ns=TS + 3, symbol="VIX", value=top * 2),         # absurd
        VolIndex(ts_ns=limit + 1, symbol="VIX", value=20.0),         # 1 ns beyond the limit
        VolIndex(ts_ns=TS + 5, symbol="VIX", value=0.5),             # applied: below 1
        VolIndex(ts_ns=TS + 6, symbol="VIX", value=top),             # applied: at the bound
        VolIndex(ts_ns=TS + 6, symbol="VIX", value=18.0),            # applied: same time, later
        VolIndex(ts_ns=TS + 4, symbol="VIX", value=17.0),            # stale
        VolIndex(ts_ns=TS + 3, symbol="VIX", value=17.0),            # stale
        VolIndex(ts_ns=limit, symbol="VIX1D", value=12.0),           # applied: at the limit
    ])
    assert applied == 4
    assert p.vol_index["VIX"] == (TS + 6, 18.0) and p.vol_index["VIX1D"] == (limit, 12.0)
    kinds = {k: n for k, n in p.counts.ticks.items() if k[1] == "vol_index"}
    assert kinds == {(OTHER, "vol_index", "rejected"): 4, ("VIX", "vol_index", "applied"): 3,
                     (OTHER, "vol_index", "applied"): 1, (OTHER, "vol_index", "stale"): 2}
    assert dict(p.counts.rejected) == {(OTHER, "nan"): 1, (OTHER, "negative_price"): 1,
                                       (OTHER, "absurd_price"): 1, (OTHER, "future_ts"): 1}
    samples = p.counts.take_samples()
    assert {(x["kind"], x["reason"]) for x in samples} == {
        ("vol_index", r) for r in ("nan", "negative_price", "absurd_price", "future_ts")}
    assert all("VIX" in x["context"] for x in samples)


def test_unclassified_prints_are_counted_and_the_flow_model_marks_the_book_for_evaluation():
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    mid = 0.5 * (float(BASE.c.bid[i]) + float(BASE.c.ask[i]))
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, models={"SPX": ("flow", "classic")})
    s = p.states["SPX"]
    # at the midpoint with no previous print: unclassified, counted, applied
    assert p.apply([OptionTrade(ts_ns=TS + 1, symbol=sym, price=mid, size=3.0),
                    OptionTrade(ts_ns=TS + 2, symbol=sym, price=mid, size=3.0)]) == 2
    assert (s.classified, s.unclassified, s.trades) == (0, 2, 2)
    assert s.flow_pos.get(i, 0.0) == 0.0
    # a classified print under the flow model changes a position: the whole chain's
    # levels must be evaluated again, and the state published
    s.dirty = s.stale_eval = False
    assert p.apply([OptionTrade(ts_ns=TS + 3, symbol=sym, price=float(BASE.c.ask[i]),
                                size=2.0)]) == 1
    assert (s.classified, s.unclassified) == (1, 2)
    assert s.dirty is True and s.stale_eval is True


def test_a_frozen_copy_does_not_change_while_ticks_keep_coming():
    """What a publish cycle reads (``frozen_copy``) keeps the book, quotes' times and flow
    positions of the instant it was taken, and none of the live state's work in flight."""
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    bid, ask = float(BASE.c.bid[i]), float(BASE.c.ask[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, models={"SPX": ("flow", "classic")})
    s = p.states["SPX"]
    p.apply([OptionQuote(ts_ns=TS + 1, symbol=sym, bid=bid, ask=ask),
             OptionTrade(ts_ns=TS + 2, symbol=sym, price=ask, size=5.0)])
    # work in flight on the live state (a refresh running, rows touched meanwhile, a spare
    # book, a quote waiting in a batch) is not the copy's
    s.refreshing, s.spare = object(), object()
    s.touched.append(np.array([i]))
    s.pending_quote[i] = (bid, ask)
    f = s.frozen_copy()
    assert f.pending_quote == {} and f.touched == [] and f.refreshing is None and f.spare is None
    s.refreshing = s.spare = None
    s.touched.clear()
    s.pending_quote.clear()
    p.apply([OptionQuote(ts_ns=TS + 3, symbol=sym, bid=bid + 0.5, ask=ask + 0.5),
             OptionTrade(ts_ns=TS + 4, symbol=sym, price=bid + 0.5, size=7.0)])
    assert (float(f.book.c.bid[i]), float(f.book.c.ask[i])) == (bid, ask)
    assert int(f.last_ts[i]) == TS + 1 and int(s.last_ts[i]) == TS + 3
    assert f.flow_pos == {i: -5.0} and s.flow_pos == {i: 2.0}
    prints = lambda st: {int(k): float(st.last_trade_px[k])  # noqa: E731
                         for k in np.flatnonzero(~np.isnan(st.last_trade_px))}
    assert prints(f) == {i: ask} and prints(s) == {i: bid + 0.5}
    assert f.book is not s.book and f.root == "SPX"


def test_a_reused_frozen_copy_is_rewritten_whole():
    """The service's frozen copies reuse one set of arrays (``frozen_copy(reuse=True)``):
    the next one equals a fresh copy of the live state, whatever the previous one's reader
    did to it, and the live state is never shared."""
    i = _put_row()
    sym = BASE.chain.symbols()[BASE.order[i]]
    bid, ask = float(BASE.c.bid[i]), float(BASE.c.ask[i])
    p = Pipeline({"SPX": copy.deepcopy(BASE)})
    s = p.states["SPX"]
    p.apply([OptionQuote(ts_ns=TS + 1, symbol=sym, bid=bid, ask=ask),
             OptionTrade(ts_ns=TS + 2, symbol=sym, price=ask, size=5.0)])
    first = s.frozen_copy(reuse=True)
    first.book.F[:] = -1.0  # a reader that scribbled on its copy
    first.last_ts[:] = 0
    p.apply([OptionQuote(ts_ns=TS + 3, symbol=sym, bid=bid + 0.5, ask=ask + 0.5)])
    second = s.frozen_copy(reuse=True)
    fresh = s.frozen_copy()
    assert second.book is first.book  # the same arrays, rewritten
    assert np.array_equal(second.book.F, fresh.book.F, equal_nan=True)
    assert np.array_equal(second.last_ts, s.last_ts)
    assert second.book.totals == fresh.book.totals == s.book.totals
    assert second.book.F is not s.book.F and second.last_ts is not s.last_ts
