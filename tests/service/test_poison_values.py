"""Well-formed but absurd ticks (issue 13): each is counted by reason and leaves the state
untouched, on the per-tick path and (quotes) the records path; a tick far ahead of its
underlying's event clock is held until other ticks confirm the jump; a spot far from the
last good one waits for the next ticks to agree. Bounds from ``BoundsSettings`` (their
defaults unless a test says otherwise)."""

import copy

import numpy as np
import pytest

from monitor.config import BoundsSettings, Settings
from monitor.ingest import Pipeline
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick, VolIndex
from tests.service.test_pipeline import BASE, ROW, SYM, TS
from tests.service.test_quote_records import as_records

DAY = 86400 * 10**9


def pipeline(**bounds):
    return Pipeline({"SPX": copy.deepcopy(BASE)}, bounds={"SPX": BoundsSettings(**bounds)})


def snapshot(p):
    s = p.states["SPX"]
    return (s.clock_ns, s.spot_ts_ns, s.pending_spot, s.book.spot, s.trades, s.classified,
            dict(s.book.totals), s.book.c.bid.copy(), s.book.oi.copy(), dict(p.vol_index))


def unchanged(a, b):
    return all(np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y
               for x, y in zip(a, b))


def quote(ts, bid=None, ask=None):
    return OptionQuote(ts_ns=ts, symbol=SYM, bid=BASE.c.bid[ROW] * 1.1 if bid is None else bid,
                       ask=BASE.c.ask[ROW] * 1.1 if ask is None else ask)


STRIKE = float(BASE.c.strike[ROW])
ABSURD = [
    ("absurd_price", quote(TS + 1, bid=1.0, ask=1e9)),
    ("absurd_oi", OpenInterest(date="2026-08-22", symbol=SYM, oi=1e12)),
    ("absurd_size", OptionTrade(ts_ns=TS + 1, symbol=SYM, price=1.0, size=1e12)),
    ("absurd_price", OptionTrade(ts_ns=TS + 1, symbol=SYM, price=3.01 * max(STRIKE, BASE.spot),
                                 size=1.0)),
    ("absurd_price", VolIndex(ts_ns=TS + 1, symbol="VIX", value=1e6)),
    ("absurd_price", UnderlyingTick(ts_ns=TS + 1, root="SPX", bid=0, ask=0, last=1e7)),
    ("spot_unconfirmed", UnderlyingTick(ts_ns=TS + 1, root="SPX", bid=0, ask=0,
                                        last=BASE.spot * 1.5)),
    ("future_ts", quote(TS + DAY)),
    ("past_ts", quote(TS - 2 * DAY)),
]


@pytest.mark.parametrize("reason,tick", ABSURD, ids=[f"{r}-{type(t).__name__}"
                                                     for r, t in ABSURD])
def test_absurd_tick_is_counted_and_changes_nothing(reason, tick):
    p = pipeline()
    before = snapshot(p)
    assert p.apply([tick]) == 0
    assert sum(n for (_, r), n in p.counts.rejected.items() if r == reason) == 1
    assert unchanged(before, snapshot(p))
    # kept for the dead-letter topic, the tick itself
    assert [(d[0], d[2]) for d in p.counts.take_dead()] == [(reason, tick)]
    if isinstance(tick, OptionQuote):  # the records path judges the same
        r = pipeline()
        assert r.apply(as_records([tick])) == 0
        assert r.counts.rejected[("SPX", reason)] == 1
        assert unchanged(before, snapshot(r))
        assert [(d[0], d[2]) for d in r.counts.take_dead()] == [(reason, tick)]


def test_a_quote_a_day_ahead_does_not_freeze_its_contract():
    """Before: accepted, it moved the clock a day ahead and every later quote of the
    contract was stale."""
    for records in (False, True):
        p = pipeline()
        wrap = as_records if records else list
        assert p.apply(wrap([quote(TS + DAY)])) == 0
        assert p.apply(wrap([quote(TS + 10**9)])) == 1  # the next real quote applies
        assert p.states["SPX"].clock_ns == TS + 10**9


def test_a_jump_of_the_clock_is_believed_when_ticks_agree():
    """A session opening after a gap: the first ticks a day later are held, the third
    (clock_jump_confirm) moves the clock, and the session goes on."""
    p = pipeline(clock_jump_confirm=3)
    s = p.states["SPX"]
    syms = [SYM] + [x for x in BASE.chain.symbols()[:50] if x != SYM][:4]
    later = [OptionQuote(ts_ns=TS + DAY + k, symbol=syms[k], bid=1.0, ask=1.1) for k in range(4)]
    assert p.apply(later[:2]) == 0 and p.counts.rejected[("SPX", "future_ts")] == 2
    assert s.clock_ns < TS + DAY
    assert p.apply(later[2:]) == 2  # the third confirms (and the fourth follows)
    assert s.clock_ns == TS + DAY + 3


def test_a_real_spot_gap_is_applied_once_the_next_ticks_agree():
    p = pipeline(spot_band_pct=20, spot_confirm_ticks=3)
    s = p.states["SPX"]
    gap = BASE.spot * 0.7  # a 30 % gap (beyond the band)
    ticks = [UnderlyingTick(ts_ns=TS + k, root="SPX", bid=0, ask=0, last=gap * (1 + k * 1e-4))
             for k in range(3)]
    assert p.apply(ticks[:2]) == 0
    assert s.pending_spot is None and p.counts.rejected[("SPX", "spot_unconfirmed")] == 2
    assert p.apply(ticks[2:]) == 1
    assert s.book.spot == pytest.approx(gap * 1.0002)  # 30 %: re-evaluated at once
    # one absurd print between good ones does not count towards a jump
    q = pipeline(spot_confirm_ticks=2)
    bad = UnderlyingTick(ts_ns=TS + 1, root="SPX", bid=0, ask=0, last=1e7)
    good = UnderlyingTick(ts_ns=TS + 2, root="SPX", bid=0, ask=0, last=BASE.spot * 1.001)
    bad2 = UnderlyingTick(ts_ns=TS + 3, root="SPX", bid=0, ask=0, last=BASE.spot * 0.5)
    assert q.apply([bad, good, bad2]) == 1
    assert q.states["SPX"].book.spot == pytest.approx(BASE.spot * 1.001)


def test_per_underlying_bounds_override_the_section_key_by_key():
    s = Settings()
    s.underlyings["SPX"] = s.underlyings["SPX"].model_copy(
        update={"bounds": {"max_oi_contracts": 5.0}})
    b = s.bounds_for("SPX")
    assert b.max_oi_contracts == 5.0 and b.max_trade_contracts == s.bounds.max_trade_contracts
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, bounds={"SPX": b})
    assert p.apply([OpenInterest(date="2026-08-22", symbol=SYM, oi=6.0)]) == 0
    assert p.apply([OpenInterest(date="2026-08-22", symbol=SYM, oi=5.0)]) == 1
    s.underlyings["SPX"] = s.underlyings["SPX"].model_copy(update={"bounds": {"max_oi": 5.0}})
    with pytest.raises(ValueError, match="max_oi"):
        s.bounds_for("SPX")


def test_an_exception_while_applying_loses_only_the_tick_that_raised(monkeypatch):
    """The backstop behind the checks: a tick whose application raises is counted as
    apply_error with the exception; the ticks before and after it in the batch apply."""
    p = pipeline()
    s = p.states["SPX"]
    syms = BASE.chain.symbols()
    other = next(x for x in syms if x != SYM)
    real = Pipeline._open_interest

    def flaky(self, t, pending):
        if t.symbol == SYM:
            raise RuntimeError("disk on fire " + "x" * 300)
        return real(self, t, pending)

    monkeypatch.setattr(Pipeline, "_open_interest", flaky)
    batch = [quote(TS + 1), OpenInterest(date="2026-08-22", symbol=SYM, oi=7.0),
             OpenInterest(date="2026-08-22", symbol=other, oi=9.0),
             UnderlyingTick(ts_ns=TS + 2, root="SPX", bid=0, ask=0, last=BASE.spot * 1.0001)]
    assert p.apply(batch) == 3
    assert p.counts.rejected[("other", "apply_error")] == 1
    (sample,) = p.counts.take_samples()
    # the kind is the tick's type, the context the exception's type and text and the tick
    assert sample["kind"] == "OpenInterest"
    assert sample["context"].startswith("RuntimeError: disk on fire xxx")
    assert p.counts.ticks[("other", "OpenInterest", "rejected")] == 1
    (dead,) = p.counts.take_dead()  # the dead-letter context: cut to 200 characters
    assert dead[0] == "apply_error" and len(dead[1]) == 200
    assert s.book.oi[BASE.index_of(other)] == 9.0 and s.book.oi[ROW] == BASE.oi[ROW]
    assert s.last_ts[ROW] == TS + 1 and s.pending_spot == pytest.approx(BASE.spot * 1.0001)


def test_ordinary_feed_noise_is_counted_not_dead_lettered():
    p = pipeline()
    noise = [quote(TS + 1, bid=float("nan"), ask=1.0), quote(TS + 1, bid=2.0, ask=1.0),
             OptionQuote(ts_ns=TS + 1, symbol="ZZZZ260821C00100000", bid=1.0, ask=1.1)]
    assert p.apply(noise) == 0 and sum(p.counts.rejected.values()) == 3
    assert p.counts.take_dead() == []


def test_trade_and_vol_index_edges_a_mutation_run_found_unguarded():
    """From the mutmut run over the ingest rules (docs/tests.md): a print of size 0 at
    a positive price is refused; the size bound is inclusive; a trade counts once; an older
    volatility-index value is stale and does not replace the newer; a quote with one NaN
    side classifies nothing."""
    from monitor.ingest import classify_print
    p = pipeline(max_trade_contracts=100.0)
    s = p.states["SPX"]
    assert p.apply([OptionTrade(ts_ns=TS + 1, symbol=SYM, price=1.0, size=0.0)]) == 0
    assert p.counts.rejected[("SPX", "negative_price")] == 1
    assert p.apply([OptionTrade(ts_ns=TS + 2, symbol=SYM, price=1.0, size=100.0)]) == 1
    assert s.trades == 1
    assert p.apply([OptionTrade(ts_ns=TS + 3, symbol=SYM, price=1.0, size=100.5)]) == 0
    assert p.counts.rejected[("SPX", "absurd_size")] == 1 and s.trades == 1
    assert p.apply([VolIndex(ts_ns=TS + 10, symbol="VIX", value=20.0)]) == 1
    assert p.apply([VolIndex(ts_ns=TS + 5, symbol="VIX", value=30.0)]) == 0
    assert p.vol_index["VIX"] == (TS + 10, 20.0)
    assert p.counts.ticks[("other", "vol_index", "stale")] == 1
    assert classify_print(3.0, float("nan"), 2.0, None) == 0  # at or above the ask
    assert classify_print(0.4, 0.5, float("nan"), None) == 0  # at or below the bid


def test_a_clock_jump_is_believed_when_enough_votes_lie_within_the_skew():
    """``vote_clock_jump`` by hand (confirm 3): votes exactly one skew apart are near each
    other (inclusive); the votes kept are the last 4 x confirm, so a vote 12 far votes ago
    no longer counts (a mutation run found both unguarded)."""
    s = pipeline().states["SPX"]
    skew, x = s.skew_ns, 10**18
    assert skew > 0 and s.bounds.clock_jump_confirm == 3
    assert s.vote_clock_jump(x) is None and s.vote_clock_jump(x + skew) is None
    assert s.vote_clock_jump(x + skew) == x  # three within one skew of the last: believed
    assert s.jump_votes == []
    s.vote_clock_jump(x)
    for k in range(12):  # isolated votes, far from each other and from x
        assert s.vote_clock_jump(x + (k + 1) * 10 * skew) is None
    assert len(s.jump_votes) == 12 and x not in [v for v, _ in s.jump_votes]
    assert s.vote_clock_jump(x + 1) is None and s.vote_clock_jump(x + 2) is None
    assert s.vote_clock_jump(x + 3) == x + 1


@pytest.mark.parametrize("columns", [False, True])
def test_a_clock_jump_vote_expires_as_the_event_clock_moves_on(columns):
    """The issue's case: one quote dated a day ahead, then the session's ordinary ticks for
    two minutes of event time, then two more a day ahead: the first vote has expired
    (clock_jump_window_s, 60 s), so the clock does not jump; three together do."""
    sym, bid, ask = SYM, float(BASE.c.bid[ROW]), float(BASE.c.ask[ROW])
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, columns=columns, max_future_s=10 * 86400)
    s = p.states["SPX"]
    day = 86_400 * 10**9
    q = lambda ts: OptionQuote(ts_ns=ts, symbol=sym, bid=bid, ask=ask)  # noqa: E731
    p.apply([q(TS + day)])
    p.apply([q(TS + k * 10**9) for k in range(1, 121)])  # two minutes of the session
    clock = s.clock_ns
    assert clock == TS + 120 * 10**9
    p.apply([q(TS + day + 10**9), q(TS + day + 2 * 10**9)])
    assert s.clock_ns == clock  # not believed: the first vote was 120 s of event time ago
    assert p.counts.rejected[("SPX", "future_ts")] == 3
    p.apply([q(TS + day + 3 * 10**9)])  # the third of three within the window: believed
    assert s.clock_ns == TS + day + 3 * 10**9


def test_an_absurd_spot_is_never_believed_however_often_repeated():
    """Spot 1e7 sent five times (the confirmation takes three): each one is absurd_price
    (beyond 3 x the chain's spot at start, bounds.max_spot_x), none votes, the book keeps
    its spot; the per-tick path and the columns scan judge alike. A real 30 % gap is still
    confirmed by three ticks (test above)."""
    from monitor.wire.columns import from_ticks

    for columns in (False, True):
        p = pipeline(spot_confirm_ticks=3)
        s = p.states["SPX"]
        ticks = [UnderlyingTick(ts_ns=TS + k, root="SPX", bid=0, ask=0, last=1e7)
                 for k in range(1, 6)]
        assert p.apply([from_ticks(ticks)] if columns else ticks) == 0
        assert p.counts.rejected[("SPX", "absurd_price")] == 5
        assert s.spot_votes == [] and s.pending_spot is None and s.book.spot == BASE.spot
        # a drift in steps inside the 20 % band is stopped at the believable edge too
        q = pipeline(spot_band_pct=20, spot_confirm_ticks=3)
        steps = [UnderlyingTick(ts_ns=TS + k, root="SPX", bid=0, ask=0,
                                last=BASE.spot * 1.15 ** k) for k in range(1, 10)]
        q.apply([from_ticks(steps)] if columns else steps)
        qs = q.states["SPX"]
        assert (qs.pending_spot or qs.book.spot) <= 3.0 * BASE.spot
        assert q.counts.rejected[("SPX", "absurd_price")] == sum(
            t.last > 3.0 * BASE.spot for t in steps)
