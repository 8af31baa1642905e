"""The pipeline on its own: every kind of bad input is counted by reason and leaves the
state untouched; the next good tick is applied; open interest re-weights positions; spot
moves re-evaluate at event times: reeval_ms after the last refresh, or past the move
threshold."""

import copy
import math

import numpy as np
import pytest

from monitor.chain.loaders import load_chain
from monitor.core.book import Book
from monitor.ingest import Pipeline
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick, VolIndex
from tests.service.helpers import CHAIN

BASE = Book(load_chain(CHAIN))
TS = BASE.now_ns + 1_000_000


def pipeline(**kw):
    return Pipeline({"SPX": copy.deepcopy(BASE)}, **kw)


def atm_symbol():
    b = BASE
    i = int(np.argmax(np.where(b.c.status == 0, b.c.gamma, 0)))
    return b.chain.symbols()[b.order[i]], i


SYM, ROW = atm_symbol()


def totals(p):
    return dict(p.states["SPX"].book.totals)


@pytest.mark.parametrize("tick,reason", [
    (OptionQuote(ts_ns=TS, symbol=SYM, bid=math.nan, ask=1.0), "nan"),
    (OptionQuote(ts_ns=TS, symbol=SYM, bid=2.0, ask=math.inf), "nan"),
    (OptionQuote(ts_ns=TS, symbol=SYM, bid=5.0, ask=4.0), "crossed"),
    (OptionQuote(ts_ns=TS, symbol=SYM, bid=-1.0, ask=4.0), "negative_price"),
    (OptionQuote(ts_ns=TS, symbol="SPXW991231C09999000", bid=1.0, ask=2.0), "unknown_symbol"),
    (OptionQuote(ts_ns=TS, symbol="NOPE", bid=1.0, ask=2.0), "unknown_symbol"),
    (UnderlyingTick(ts_ns=TS, root="SPX", bid=math.nan, ask=math.nan, last=math.nan), "nan"),
    (UnderlyingTick(ts_ns=TS, root="SPX", bid=-2, ask=-1, last=-1.0), "negative_price"),
    (UnderlyingTick(ts_ns=TS, root="XYZ", bid=1, ask=2, last=1.5), "unknown_symbol"),
    (OpenInterest(date="2026-08-22", symbol=SYM, oi=math.nan), "nan"),
    (OpenInterest(date="2026-08-22", symbol=SYM, oi=-5.0), "negative_price"),
    (OptionTrade(ts_ns=TS, symbol=SYM, price=math.nan, size=1), "nan"),
    (VolIndex(ts_ns=TS, symbol="VIX", value=-3.0), "negative_price"),
])
def test_bad_tick_is_counted_and_does_not_touch_state(tick, reason):
    p = pipeline()
    before = totals(p)
    bid_before = p.states["SPX"].book.c.bid.copy()
    assert p.apply([tick]) == 0
    assert sum(n for (u, r), n in p.counts.rejected.items() if r == reason) == 1
    assert totals(p) == before
    assert np.array_equal(p.states["SPX"].book.c.bid, bid_before, equal_nan=True)
    # the next good tick is applied
    good = OptionQuote(ts_ns=TS + 5, symbol=SYM, bid=BASE.c.bid[ROW] * 1.1,
                       ask=BASE.c.ask[ROW] * 1.1)
    assert p.apply([good]) == 1
    assert totals(p)["gex_usd_per_pct"] != before["gex_usd_per_pct"]


def test_out_of_order_quote_is_stale_and_ignored():
    p = pipeline()
    newer = OptionQuote(ts_ns=TS + 10, symbol=SYM, bid=BASE.c.bid[ROW] * 1.1,
                        ask=BASE.c.ask[ROW] * 1.1)
    older = OptionQuote(ts_ns=TS, symbol=SYM, bid=0.05, ask=0.1)
    p.apply([newer])
    after = totals(p)
    assert p.apply([older]) == 0
    assert p.counts.ticks[("SPX", "quote", "stale")] == 1
    assert totals(p) == after
    # redelivery of the same tick (at-least-once) is idempotent
    assert p.apply([newer]) == 1
    assert totals(p) == pytest.approx(after, rel=1e-12)


def test_padded_occ_symbol_is_accepted():
    padded = SYM[:-15].ljust(6) + SYM[-15:]
    assert len(padded) == 21
    p = pipeline()
    assert p.apply([OptionQuote(ts_ns=TS, symbol=padded, bid=BASE.c.bid[ROW] * 1.05,
                                ask=BASE.c.ask[ROW] * 1.05)]) == 1


def test_open_interest_reweights_the_dealer_position():
    p = pipeline()
    b = p.states["SPX"].book
    old_gex = b.c.gex[ROW]
    old_oi = b.oi[ROW]
    p.apply([OpenInterest(date="2026-08-22", symbol=SYM, oi=old_oi * 2)])
    assert b.c.gex[ROW] == pytest.approx(2 * old_gex, rel=1e-12)
    assert b.totals["gex_usd_per_pct"] == pytest.approx(
        BASE.totals["gex_usd_per_pct"] + old_gex, rel=1e-9)


def test_open_interest_among_quotes_in_one_batch_reweights_each_row_at_its_last_value():
    """Open interest waits for the batch's quotes and is re-weighted once per row: the row
    given 2x its OI holds 2x its GEX, the row given 5x then 3x holds 3x, the third row's
    quote moves only its own Greeks, and the totals are those of one tick per batch."""
    b0 = BASE
    ok = np.flatnonzero((b0.c.status == 0) & (b0.c.gamma > 0) & (b0.oi > 0))
    r1, r2, r3 = ok[np.argsort(b0.c.gamma[ok])[-3:]]
    sym = {r: b0.chain.symbols()[b0.order[r]] for r in (r1, r2, r3)}
    ticks = [OpenInterest(date="2026-08-22", symbol=sym[r1], oi=b0.oi[r1] * 2),
             OptionQuote(ts_ns=TS, symbol=sym[r3], bid=b0.c.bid[r3] * 1.05,
                         ask=b0.c.ask[r3] * 1.05),
             OpenInterest(date="2026-08-22", symbol=sym[r2], oi=b0.oi[r2] * 5),
             OpenInterest(date="2026-08-22", symbol=sym[r2], oi=b0.oi[r2] * 3)]
    for columns in (False, True):
        p = pipeline(columns=columns)
        b = p.states["SPX"].book
        assert p.apply(ticks) == 4
        assert b.c.gex[r1] == pytest.approx(2 * b0.c.gex[r1], rel=1e-12)
        assert b.c.gex[r2] == pytest.approx(3 * b0.c.gex[r2], rel=1e-12)
        assert b.oi[r2] == b0.oi[r2] * 3
        one = pipeline(columns=columns)
        for t in ticks:
            one.apply([t])
        for k, v in totals(one).items():
            assert b.totals[k] == pytest.approx(v, rel=1e-9, abs=1e-6), k


@pytest.mark.parametrize("columns", [False, True])
def test_spot_move_reevaluates_past_threshold_or_reeval_ms_of_event_time_later(columns):
    """Event time, not the wall clock: a 1 bp tick waits; the next underlying tick
    250 ms (event time) after the last refresh starts one (249 ms: not yet); a 10 bp
    move starts one at once. Both paths (per tick, the columns scan) decide alike."""
    p = pipeline(reeval_ms=250, reeval_bps=5, columns=columns)
    s = p.states["SPX"]
    spot0, t0 = s.book.spot, s.book.now_ns

    def spot(ts, x):
        u = UnderlyingTick(ts_ns=ts, root="SPX", bid=0, ask=0, last=spot0 * x)
        q = OptionQuote(ts_ns=ts, symbol=SYM, bid=BASE.c.bid[ROW], ask=BASE.c.ask[ROW])
        p.apply([q, u])  # (a batch of two: the columns path scans it)

    spot(TS, 1.0001)  # 1 bp
    assert s.book.spot == spot0 and s.pending_spot == pytest.approx(spot0 * 1.0001)
    spot(t0 + 249_000_000, 1.0002)
    assert s.book.spot == spot0 and s.pending_spot == pytest.approx(spot0 * 1.0002)
    spot(t0 + 250_000_000, 1.0003)
    assert s.book.spot == pytest.approx(spot0 * 1.0003) and s.pending_spot is None
    assert s.last_reeval_ns == t0 + 250_000_000 and s.book.now_ns == t0 + 250_000_000
    # 10 bp from the last refresh's spot: at once
    spot(t0 + 250_000_001, 1.0013)
    assert s.book.spot == pytest.approx(spot0 * 1.0013)
    # an older underlying tick is stale
    p.apply([UnderlyingTick(ts_ns=TS - 1, root="SPX", bid=0, ask=0, last=spot0 * 2)])
    assert p.counts.ticks[("SPX", "underlying", "stale")] == 1
    assert s.book.spot == pytest.approx(spot0 * 1.0013)


def test_final_refresh_leaves_the_whole_chain_result():
    p = pipeline()
    q = OptionQuote(ts_ns=TS, symbol=SYM, bid=BASE.c.bid[ROW] * 1.2, ask=BASE.c.ask[ROW] * 1.2)
    p.apply([q])
    p.final_refresh()
    expected = copy.deepcopy(BASE)
    expected.c.bid[ROW], expected.c.ask[ROW] = q.bid, q.ask
    expected.refresh(now_ns=TS, refit=True)  # forced: smiles fitted to the final quotes
    got = p.states["SPX"].book.totals
    for k, v in expected.totals.items():
        assert got[k] == pytest.approx(v, rel=1e-12)


def test_checkpoint_round_trip_restores_the_state():
    p = pipeline()
    p.apply([OptionQuote(ts_ns=TS, symbol=SYM, bid=BASE.c.bid[ROW] * 1.2,
                         ask=BASE.c.ask[ROW] * 1.2),
             OpenInterest(date="2026-08-22", symbol=SYM, oi=123.0),
             UnderlyingTick(ts_ns=TS + 1, root="SPX", bid=0, ask=0, last=BASE.spot * 1.01),
             OptionQuote(ts_ns=TS + 2, symbol=SYM, bid=BASE.c.bid[ROW] * 1.3,
                         ask=BASE.c.ask[ROW] * 1.3)])
    from monitor.books import decode_checkpoint, encode_checkpoint

    cp = decode_checkpoint(encode_checkpoint(p.states["SPX"].checkpoint()))
    q = pipeline()
    q.states["SPX"].restore(cp)
    # the book the run had: the refresh at the spot tick, the later quote evaluated under
    # it (a new refresh at the checkpoint's clock would move every forward and clock)
    a, b = p.states["SPX"].book, q.states["SPX"].book
    assert b.totals == pytest.approx(a.totals, rel=1e-12)
    assert b.oi[ROW] == 123.0 and b.spot == a.spot == pytest.approx(BASE.spot * 1.01)
    assert b.now_ns == a.now_ns == TS + 1 and np.array_equal(b.G, a.G, equal_nan=True)
    for name in ("iv", "delta", "gamma"):
        assert np.allclose(getattr(b.c, name), getattr(a.c, name), rtol=1e-12, atol=0,
                           equal_nan=True), name
    assert q.states["SPX"].last_reeval_ns == TS + 1


def test_background_refresh_equals_inline_refresh_then_the_ticks_that_came_meanwhile():
    """The service's refresh runs on a copy while ticks keep coming; replaying them onto
    the refreshed copy must give what an inline refresh followed by the same ticks gives.
    Twice: the second refresh reuses the arrays the first one retired."""
    bg = pipeline(background_refresh=True)
    inline = pipeline()
    s = bg.states["SPX"]
    spot0 = s.book.spot
    ok = np.flatnonzero(BASE.c.status == 0)
    rows = np.r_[ROW, ok[::97]]  # the ATM contract (in the parity set) and a spread
    syms = BASE.chain.symbols()
    for rnd, factor in enumerate((1.002, 0.997)):
        ts = TS + 1000 * rnd
        move = UnderlyingTick(ts_ns=ts, root="SPX", bid=0, ask=0, last=spot0 * factor)
        later = [OptionQuote(ts_ns=ts + 2 + k, symbol=syms[BASE.order[r]],
                             bid=BASE.c.bid[r] * (1.05 + rnd), ask=BASE.c.ask[r] * (1.05 + rnd))
                 for k, r in enumerate(rows)]
        later.append(OpenInterest(date="2026-08-22", symbol=SYM, oi=BASE.oi[ROW] + 500 + rnd))
        for p in (bg, inline):
            p.apply([move])
        (job,) = bg.take_refreshes()
        assert bg.take_refreshes() == [] and s.refreshing is job
        before = s.book.spot
        for p in (bg, inline):
            p.apply(later)
        assert s.book.spot == before  # the live book is untouched until it adopts the copy
        job.run()
        bg.finish_refresh(job)
        got, want = s.book, inline.states["SPX"].book
        assert got.spot == want.spot == pytest.approx(spot0 * factor)
        assert got.now_ns == want.now_ns
        assert got.oi[ROW] == BASE.oi[ROW] + 500 + rnd
        for name in ("iv", "delta", "gamma", "gex", "vex", "cex"):
            assert np.allclose(getattr(got.c, name), getattr(want.c, name), rtol=1e-9,
                               atol=0, equal_nan=True), name
        for k, v in want.totals.items():
            assert got.totals[k] == pytest.approx(v, rel=1e-9), k
        assert (got.c.bid[rows] == BASE.c.bid[rows] * (1.05 + rnd)).all()
        assert s.refreshing is None and s.touched == [] and s.spare is not None
        assert not np.shares_memory(s.spare.F, got.F)


@pytest.mark.parametrize("columns", [False, True])
def test_a_refresh_starts_from_the_quotes_before_the_move_in_one_batch(columns):
    """Hand case, one batch: quote A, a 1 bp spot tick (no refresh: it waits), quote B, a
    10 bp spot tick (a refresh starts), quote C. The refresh's copy holds A and B and not
    C; the live book ends with all three; C's row is the one replayed onto the copy."""
    p = pipeline(background_refresh=True, columns=columns)
    s = p.states["SPX"]
    spot0 = s.book.spot
    syms = BASE.chain.symbols()
    ok = np.flatnonzero(BASE.c.status == 0)
    ra, rb, rc = int(ok[10]), int(ok[200]), int(ok[400])
    q = [OptionQuote(ts_ns=TS + k, symbol=syms[BASE.order[r]], bid=BASE.c.bid[r] * 1.1,
                     ask=BASE.c.ask[r] * 1.1) for k, r in enumerate((ra, rb, rc))]
    small = UnderlyingTick(ts_ns=TS + 10, root="SPX", bid=0, ask=0, last=spot0 * 1.0001)
    big = UnderlyingTick(ts_ns=TS + 20, root="SPX", bid=0, ask=0, last=spot0 * 1.001)
    assert p.apply([q[0], small, q[1], big, q[2]]) == 5
    (job,) = p.take_refreshes()
    assert job.spot == spot0 * 1.001 and job.now_ns == TS + 20
    assert job.book.c.bid[ra] == q[0].bid and job.book.c.bid[rb] == q[1].bid
    assert job.book.c.bid[rc] == BASE.c.bid[rc]  # C came after the copy
    assert [s.book.c.bid[r] for r in (ra, rb, rc)] == [t.bid for t in q]
    assert np.concatenate(s.touched).tolist() == [rc]
    assert s.pending_spot is None and s.spot_ts_ns == TS + 20
    assert p.counts.ticks[("SPX", "underlying", "applied")] == 2


def test_failed_background_refresh_keeps_the_pending_spot_and_is_due_again():
    p = pipeline(background_refresh=True)
    s = p.states["SPX"]
    spot0 = s.book.spot
    p.apply([UnderlyingTick(ts_ns=TS, root="SPX", bid=0, ask=0, last=spot0 * 1.002)])
    (job,) = p.take_refreshes()
    p.abandon_refresh(job)
    assert s.refreshing is None and s.book.spot == spot0
    assert s.pending_spot == pytest.approx(spot0 * 1.002)
    # the next underlying tick starts one, not another reeval_ms later (1 bp, 1 ns on)
    p.apply([UnderlyingTick(ts_ns=TS + 1, root="SPX", bid=0, ask=0, last=spot0 * 1.0021)])
    (again,) = p.take_refreshes()
    again.run()
    p.finish_refresh(again)
    assert s.book.spot == pytest.approx(spot0 * 1.0021)
    with pytest.raises(RuntimeError):
        p.finish_refresh(job)  # a stale job cannot be adopted


def test_book_is_consistent_only_once_a_spot_moves_refresh_is_adopted():
    """A 20 bp move starts a refresh: until it is adopted the book prices quotes at the new
    spot with the old forwards, so the regime engine must not read it (Pipeline.consistent);
    a move below reeval_bps (5) leaves the book consistent."""
    p = pipeline(background_refresh=True)
    s = p.states["SPX"]
    spot0 = s.book.spot
    assert p.consistent(s)
    p.apply([UnderlyingTick(ts_ns=TS, root="SPX", bid=0, ask=0, last=spot0 * 1.0002)])
    assert p.consistent(s) and not p.take_refreshes()  # 2 bp: below the refresh threshold
    p.apply([UnderlyingTick(ts_ns=TS + 1, root="SPX", bid=0, ask=0, last=spot0 * 1.002)])
    (job,) = p.take_refreshes()
    assert not p.consistent(s)
    job.run()
    assert not p.consistent(s)  # run, not yet adopted
    p.finish_refresh(job)
    assert p.consistent(s) and s.book.spot == pytest.approx(spot0 * 1.002)


@pytest.mark.parametrize("columns", [False, True])
def test_the_spot_source_is_the_chain_file_until_an_underlying_tick_is_applied(columns):
    p = pipeline(columns=columns)
    s = p.states["SPX"]
    assert s.spot_source == "chain file"
    # a rejected spot (unknown root) changes nothing; an applied one names its source
    p.apply([UnderlyingTick(ts_ns=TS, root="XYZ", bid=1.0, ask=2.0, last=1.5,
                            source="implied_parity")])
    assert s.spot_source == "chain file"
    spot = s.book.spot * 1.0001

    def quotes(t0):  # (a batch the columns path scans)
        return [OptionQuote(ts_ns=t0 + k, symbol=SYM, bid=BASE.c.bid[ROW],
                            ask=BASE.c.ask[ROW]) for k in range(8)]

    def spot_tick(ts, source):
        return UnderlyingTick(ts_ns=ts, root="SPX", bid=spot, ask=spot, last=spot,
                              source=source)

    # the label is the one the last applied spot carries
    assert p.apply(quotes(TS) + [spot_tick(TS + 9, "feed"), *quotes(TS + 10),
                                 spot_tick(TS + 19, "implied_parity")]) == 18
    assert s.spot_source == "implied_parity"
    # a spot tick without a source is the feed's own quote
    assert p.apply(quotes(TS + 20) + [spot_tick(TS + 29, "")]) == 9
    assert s.spot_source == "feed"
    assert p.apply(quotes(TS + 30) + [spot_tick(TS + 39, "implied_parity")]) == 9
    assert s.spot_source == "implied_parity"
    # a checkpoint keeps it (a restored book's spot is the ticks', not the chain file's)
    cp = s.checkpoint()
    q = pipeline(columns=columns)
    q.states["SPX"].restore(cp)
    assert q.states["SPX"].spot_source == "implied_parity"
