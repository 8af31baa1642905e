"""The hedge-pressure tape (issue 15, item 1; REFERENCE.md "Hedge pressure"), by hand.

A customer print of q contracts (+q bought, -q sold) leaves the dealers -q, and they hedge
at once by trading +q*M*delta units of the underlying (+ = dealers buy):
customers buy calls -> dealers buy; sell calls -> sell; buy puts -> sell; sell puts -> buy.
The book is the real SPX chain of 2026-08-21 evaluated at 14:00 New York, so that day's
SPXW contracts (0DTE) are alive; the signs below are written by hand, the sizes from each
contract's delta."""

from __future__ import annotations

import copy
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor.books import decode_checkpoint, encode_checkpoint
from monitor.config import UnderlyingSettings
from monitor.ingest import Pipeline
from monitor.sinks.metrics import Metrics
from monitor.state import build_state
from monitor.tape import HedgeTape
from monitor.wire.schema import OptionTrade
from tests.service.test_pipeline import BASE

NY = ZoneInfo("America/New_York")
T14 = int(dt.datetime(2026, 8, 21, 14, 0, tzinfo=NY).timestamp() * 1e9)
M = 100.0


@pytest.fixture(scope="module")
def book():
    b = copy.deepcopy(BASE)
    b.refresh(now_ns=T14, spot=b.spot, refit=True)
    return b


def pick(b, *, call: bool, bucket: str) -> int:
    """A two-sided contract with a delta strictly between 0 and 1, nearest 0.5, of the
    wanted expiry bucket (the end-of-day 0DTE quotes are mostly intrinsic: few qualify)."""
    exp = b.group_expiry[b.c.group]
    today = np.datetime64("2026-08-21")
    nxt = np.unique(exp[exp > today])[0]
    want = {"0dte": exp == today, "next": exp == nxt, "later": exp > nxt}[bucket]
    ok = (want & (b.c.is_call == call) & np.isfinite(b.c.delta) & (b.c.bid > 0)
          & (b.c.ask > b.c.bid) & (np.abs(b.c.delta) > 0.02) & (np.abs(b.c.delta) < 0.98))
    rows = np.flatnonzero(ok)
    assert rows.size, (call, bucket)
    return int(rows[np.argmin(np.abs(np.abs(b.c.delta[rows]) - 0.5))])


def trade(b, row, *, customer_buys: bool, size: float, ts: int) -> OptionTrade:
    sym = b.chain.symbols()[b.order[row]]
    price = float(b.c.ask[row] if customer_buys else b.c.bid[row])
    return OptionTrade(ts_ns=ts, symbol=sym, price=price, size=size)


def fresh(book) -> Pipeline:
    return Pipeline({"SPX": copy.deepcopy(book)})


CASES = [  # (call?, customer buys?, bucket, the dealers' hedge sign, by hand)
    (True, True, "0dte", +1),    # customers buy calls: dealers short calls, buy the index
    (True, False, "0dte", -1),   # customers sell calls: dealers long calls, sell
    (False, True, "later", -1),  # customers buy puts: dealers short puts, whose delta is
                                 # negative: the dealers are long delta and sell
    (False, False, "later", +1),  # customers sell puts: dealers buy
    (False, True, "next", -1),
    (True, False, "next", -1),
]


@pytest.mark.parametrize("call,buys,bucket,sign", CASES)
def test_one_print_gives_the_hedge_in_sign_and_size(book, call, buys, bucket, sign):
    p = fresh(book)
    s = p.states["SPX"]
    row = pick(s.book, call=call, bucket=bucket)
    size = 40.0
    assert p.apply([trade(s.book, row, customer_buys=buys, size=size, ts=T14 + 1)]) == 1
    assert s.classified == 1
    hp = s.tape.summary()
    delta = float(s.book.c.delta[row])
    units = (size if buys else -size) * M * delta
    assert np.sign(units) == sign  # the hand-written sign agrees with the formula
    assert hp["units"]["total"] == pytest.approx(units, rel=1e-12)
    assert hp["total"] == pytest.approx(units * s.book.spot, rel=1e-12)
    assert hp["units"]["by_expiry"][bucket] == pytest.approx(units, rel=1e-12)
    assert hp["units"]["calls" if call else "puts"] == pytest.approx(units, rel=1e-12)
    others = [v for k, v in hp["by_expiry"].items() if k != bucket]
    assert others == [0.0, 0.0] and hp["prints"] == 1 and hp["session"] == "2026-08-21"


def session_prints(b):
    rows = [pick(b, call=c, bucket=k) for c in (True, False) for k in ("0dte", "next", "later")]
    out, ts = [], T14
    for i, row in enumerate(rows * 3):
        ts += 1_000_000
        out.append((row, i % 2 == 0, 5.0 + i, ts))
    return out


def recompute(b, prints) -> dict[str, float]:
    """The tape from the recorded prints, by the formula (bucketed by the row's expiry)."""
    exp = b.group_expiry[b.c.group]
    today = np.datetime64("2026-08-21")
    nxt = np.unique(exp[exp > today])[0]
    out = {"0dte": 0.0, "next": 0.0, "later": 0.0}
    for row, buys, size, _ in prints:
        k = "0dte" if exp[row] == today else "next" if exp[row] == nxt else "later"
        out[k] += (size if buys else -size) * M * float(b.c.delta[row]) * b.spot
    return out


def test_state_and_gauge_agree_with_a_recomputation_from_the_prints(book):
    p = fresh(book)
    s = p.states["SPX"]
    prints = session_prints(s.book)
    p.apply([trade(s.book, r, customer_buys=buys, size=size, ts=ts)
             for r, buys, size, ts in prints])
    want = recompute(s.book, prints)
    state, _ = build_state(s, [], und=UnderlyingSettings(adv_shares=2_000_000.0))
    hp = state["hedge_pressure_usd"]
    for k, v in want.items():
        assert hp["by_expiry"][k] == pytest.approx(v, rel=1e-12)
    assert hp["total"] == pytest.approx(sum(want.values()), rel=1e-12)
    assert hp["pct_adv"] == pytest.approx(100 * hp["units"]["total"] / 2_000_000.0)
    m = Metrics(provider=lambda: {"SPX": state})
    text = m.render().decode()
    for k, v in [*want.items(), ("all", sum(want.values()))]:
        line = next(x for x in text.splitlines()
                    if x.startswith("dealerflow_hedge_pressure_usd{")
                    and f'expiry="{k}"' in x and 'underlying="SPX"' in x)
        assert float(line.rsplit(" ", 1)[1]) == pytest.approx(v, rel=1e-9), k


def test_a_restart_continues_the_sessions_sums_from_the_checkpoint(book):
    p = fresh(book)
    s = p.states["SPX"]
    prints = session_prints(s.book)
    half = len(prints) // 2
    p.apply([trade(s.book, r, customer_buys=b_, size=z, ts=t) for r, b_, z, t in prints[:half]])
    cp = decode_checkpoint(encode_checkpoint(s.checkpoint()))
    q = fresh(book)
    q.states["SPX"].restore(cp)
    s2 = q.states["SPX"]
    s2.clock_ns = max(s2.clock_ns, T14)
    q.apply([trade(s2.book, r, customer_buys=b_, size=z, ts=t) for r, b_, z, t in prints[half:]])
    want = recompute(s2.book, prints)
    hp = s2.tape.summary()
    assert hp["prints"] == len(prints) and hp["session"] == "2026-08-21"
    for k, v in want.items():
        assert hp["by_expiry"][k] == pytest.approx(v, rel=1e-9)


def test_a_new_session_starts_new_sums_and_older_prints_are_not_added(book):
    p = fresh(book)
    s = p.states["SPX"]
    row = pick(s.book, call=True, bucket="later")
    tape = s.tape
    quote = (s.book.c.bid[row], s.book.c.ask[row])  # the book's own: its delta
    tape.add(s.book, row, +10.0, T14, *quote)
    assert tape.prints == 1
    next_day = int(dt.datetime(2026, 8, 24, 10, 0, tzinfo=NY).timestamp() * 1e9)
    tape.add(s.book, row, -3.0, next_day, *quote)
    assert tape.session == "2026-08-24" and tape.prints == 1
    assert tape.units.sum() == pytest.approx(-3.0 * M * float(s.book.c.delta[row]))
    assert tape.add(s.book, row, +5.0, T14, *quote) == 0.0 and tape.stale == 1 and tape.prints == 1


def test_a_classified_print_without_a_delta_is_counted_not_guessed(book):
    p = fresh(book)
    s = p.states["SPX"]
    b = s.book
    dead = pick(b, call=True, bucket="later")
    # in force at the print: no quote (a zero ask), so no IV and no delta; before, the
    # tape read the book's delta of such a contract, 0.0, and counted it as hedged
    assert s.tape.add(b, dead, +7.0, T14, 0.0, 0.0) == 0.0
    assert s.tape.no_delta == 1 and s.tape.prints == 0 and s.tape.units.sum() == 0.0


def test_settled_vs_live_from_the_sessions_prints_in_state_metrics_and_checkpoint(book):
    """The live book is the settled one plus today's classified prints, row by row: the
    state's flow GEX equals -sum q M gamma S^2 / 100 over the recorded prints; the
    profile's per-strike live minus settled column sums to it; the gauges and the
    regime observation carry it; a checkpoint keeps the session's prints."""
    from monitor.state import observation

    p = fresh(book)
    s = p.states["SPX"]
    prints = session_prints(s.book)
    p.apply([trade(s.book, r, customer_buys=buys, size=size, ts=ts)
             for r, buys, size, ts in prints])
    b = s.book
    want = sum(-(size if buys else -size) * M * float(b.c.gamma[r]) * b.spot**2 * 0.01
               for r, buys, size, _ in prints)
    state, profile = build_state(s, [])
    svl = state["settled_vs_live"]
    assert svl["flow_gex_usd_per_pct"] == pytest.approx(want, rel=1e-9)
    assert svl["settled_gex_usd_per_pct"] == pytest.approx(state["gex_usd_per_pct"], rel=1e-9)
    assert svl["live_gex_usd_per_pct"] == pytest.approx(
        state["gex_usd_per_pct"] + want, rel=1e-9)
    diff = sum(r["gex_live_usd_per_pct"] - r["gex_settled_usd_per_pct"] for r in profile)
    assert diff == pytest.approx(want, rel=1e-6)
    # the label by its definition, from the hand-computed flow and the state's own GEX:
    # same below 2 % of the settled book's gross |GEX| (classic: |position| = open
    # interest), else flip / amplifying / dampening by the signs
    gross = float(sum(b.oi * M * np.abs(b.c.gamma) * b.spot**2 * 0.01))
    settled = state["gex_usd_per_pct"]
    if abs(want) < 0.02 * gross:
        label = "same"
    elif (settled + want > 0) != (settled > 0):
        label = "flip"
    else:
        label = "amplifying" if (want > 0) == (settled > 0) else "dampening"
    assert svl["label"] == label
    o = observation(s, state, None)
    assert (o.settled_vs_live, o.live_gex_usd_per_pct) == (svl["label"],
                                                            svl["live_gex_usd_per_pct"])
    text = Metrics(provider=lambda: {"SPX": state}).render().decode()
    hot = [x for x in text.splitlines() if x.startswith("dealerflow_settled_vs_live{")]
    assert len(hot) == 4
    assert sum(float(x.rsplit(" ", 1)[1]) for x in hot) == 1.0
    assert any(f'label="{svl["label"]}"' in x and x.endswith(" 1.0") for x in hot)
    live = next(x for x in text.splitlines()
                if x.startswith("dealerflow_book_gex_usd_per_pct{") and 'book="live"' in x)
    assert float(live.rsplit(" ", 1)[1]) == pytest.approx(svl["live_gex_usd_per_pct"])
    # restart: the session's prints come back with the checkpoint
    cp = decode_checkpoint(encode_checkpoint(s.checkpoint()))
    q = fresh(book)
    q.states["SPX"].restore(cp)
    state2, _ = build_state(q.states["SPX"], [])
    assert state2["settled_vs_live"]["flow_gex_usd_per_pct"] == pytest.approx(want, rel=1e-9)


def test_yesterdays_prints_are_not_todays_live_book(book):
    p = fresh(book)
    s = p.states["SPX"]
    row = pick(s.book, call=True, bucket="later")
    s.tape.add(s.book, row, +25.0, T14, s.book.c.bid[row], s.book.c.ask[row])
    assert s.tape.session_contracts(s.book)[row] == 25.0
    next_day = copy.deepcopy(s.book)
    next_day.now_ns = T14 + 86400 * 10**9
    assert not s.tape.session_contracts(next_day).any()


def test_a_new_tape_counts_nothing_and_sessions_are_new_york_days():
    from types import SimpleNamespace

    from monitor.tape import HedgeTape
    t = HedgeTape()
    assert (t.summary()["prints"], t.summary()["session"]) == (0, None)
    assert t.summary()["units"]["total"] == t.summary()["total"] == 0.0
    # 2026-08-04 in New York (EDT, UTC-4): [04:00 UTC that day, 04:00 UTC the next)
    mid = int(dt.datetime(2026, 8, 4, 4, 0, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    b = SimpleNamespace(group_expiry=np.array(["2026-08-04"], dtype="datetime64[D]"),
                        c=SimpleNamespace(group=np.array([0]), is_call=np.array([True]),
                                          strike=np.array([100.0])), now_ns=mid + 10**9)
    t._open(b, mid + 10**9)
    assert (t.session, t.from_ns, t.until_ns) == ("2026-08-04", mid, mid + 86400 * 10**9)
    t._contracts[0] = 3.0
    # one second into the session, the book's clock reads that session's contracts
    assert t.session_contracts(b).tolist() == [3.0]
    b.now_ns = mid - 10**9  # one second before: the previous New York day, none
    assert t.session_contracts(b).tolist() == [0.0]
    assert t.summary()["units"]["total"] == t.summary()["total"] == 0.0
    # the next New York day: a new session, its contracts and sums from zero
    t._units[0], t.prints = 5.0, 3
    t._open(b, mid + 86400 * 10**9 + 1)
    assert t.session == "2026-08-05" and t._contracts.tolist() == [0.0]
    assert (t.prints, t.summary()["units"]["total"]) == (0, 0.0)


def test_buckets_by_hand_expired_today_next_and_later():
    # expired yesterday: 2 (no delta); today: 0; the first expiration after today: 1;
    # later: 2
    day = dt.date(2026, 8, 21)
    exp = np.array(["2026-08-20", "2026-08-21", "2026-08-24", "2026-09-18", "2026-08-24"],
                   dtype="datetime64[D]")
    assert HedgeTape.buckets(exp, day).tolist() == [2, 0, 1, 2, 1]


def test_pct_adv_for_any_positive_volume_and_none_without_one():
    t = HedgeTape()
    assert t.summary(adv_shares=0.5)["pct_adv"] == 0.0
    assert t.summary(adv_shares=0.0)["pct_adv"] is None


def test_a_checkpoint_without_a_stale_count_restores_zero():
    # a checkpoint written before the stale count existed
    t = HedgeTape()
    t.restore({"session": "", "usd": [1.0] * 6, "units": [2.0] * 6, "prints": 3,
               "no_delta": 1}, BASE)
    assert (t.stale, t.prints, t.no_delta) == (0, 3, 1)
    assert t.summary()["total"] == 6.0
