"""The gamma sentence states what the full revaluation shows: on hand-built books where
zero gamma lies inside a 1 % move (below and above spot), the headline gives the side and
the amount of the full-revaluation flow and names the flip; where it does not, the plain
long/short sentence. Synthetic books (tests/synth.py): two contracts a week out at 20 %
vol, S = 100, r = q = 0, multiplier 100."""

from __future__ import annotations

import pytest

from monitor.analysis.size import size_position
from monitor.core.book import Book
from monitor.fmt import money
from monitor.regimes.sizing import LONG_GAMMA_AGAINST
from monitor.render.snapshot import render_snapshot
from monitor.sentences import gamma_sentence, spot_flows
from monitor.snapshot import build_snapshot
from tests.synth import make_chain

WEEK = 7 / 365


def book_of(contracts):
    return Book(make_chain(contracts), model="classic", multiplier=100.0, rate=0.0,
                div_yield=0.0)


def snap(contracts):
    return build_snapshot(book_of(contracts))


def flows(s):
    return spot_flows(s["scenarios"])


def test_flip_below_spot_long_gamma_here_a_fall_sells():
    """Dealers long the 100 call, short 1.05 of the 99 put: long gamma at 100, short below
    99.8. A 1 % fall crosses zero gamma: by full revaluation the dealers SELL."""
    s = snap([(100.0, WEEK, True, 0.2, 1.0), (99.0, WEEK, False, 0.2, 1.05)])
    down, up = flows(s)
    assert s["gex_usd_per_pct"] > 0 and -1.0 < s["zero_gamma_distance_pct"] < 0
    assert down < 0  # the local sign says buy; the full revaluation says sell
    h = s["headline"]
    assert h.startswith("Dealers long gamma here (")
    assert f"but zero gamma is {abs(s['zero_gamma_distance_pct']):.2f}% below spot" in h
    assert f"a 1% fall flips dealers short and they sell {money(-down, signed=False)}" in h
    assert f"into a 1% rise they {'sell' if up < 0 else 'buy'} {money(abs(up), signed=False)}" in h
    assert "(full revaluation)" in h
    assert h in render_snapshot(s).replace("\n  ", " ")


def test_flip_above_spot_long_gamma_here_a_rise_buys():
    """Dealers long the 100 call, short 1.05 of the 101 put: zero gamma just above spot; a
    1 % rise crosses it and the dealers BUY (short gamma there)."""
    s = snap([(100.0, WEEK, True, 0.2, 1.0), (101.0, WEEK, False, 0.2, 1.05)])
    down, up = flows(s)
    assert s["gex_usd_per_pct"] > 0 and 0 < s["zero_gamma_distance_pct"] < 1.0
    assert up > 0
    h = s["headline"]
    assert f"but zero gamma is {s['zero_gamma_distance_pct']:.2f}% above spot" in h
    assert f"a 1% rise flips dealers short and they buy {money(up, signed=False)}" in h
    # the crossing side comes first
    assert h.index("a 1% rise") < h.index("1% fall")


def test_flip_above_spot_short_gamma_here_a_rise_sells():
    s = snap([(100.0, WEEK, True, 0.2, 1.0), (99.0, WEEK, False, 0.2, 1.1)])
    down, up = flows(s)
    assert s["gex_usd_per_pct"] < 0 and 0 < s["zero_gamma_distance_pct"] < 1.0 and up < 0
    assert ("Dealers short gamma here (" in s["headline"]
            and f"a 1% rise flips dealers long and they sell {money(-up, signed=False)}"
            in s["headline"])


def test_plain_long_gamma_one_call():
    """One long call a year out: zero gamma nowhere near; the plain sentence, both sides
    from the full revaluation (dealers buy the fall, sell the rise)."""
    s = snap([(100.0, 1.0, True, 0.2, 1.0)])
    down, up = flows(s)
    assert down > 0 > up
    assert s["headline"] == (
        f"Dealers long gamma ({money(s['gex_usd_per_pct'])} per 1%, locally): into a 1% fall "
        f"they buy {money(down, signed=False)}, into a 1% rise they sell "
        f"{money(-up, signed=False)} (full revaluation); moves are damped, price tends to pin")


def test_fragile_short_gamma_names_the_nearby_flip():
    s = snap([(100.0, WEEK, True, 0.2, 1.0), (99.0, WEEK, False, 0.2, 1.2)])
    assert s["gex_usd_per_pct"] < 0 and 0 < s["zero_gamma_distance_pct"] < 2.0
    assert s["headline"].endswith(
        f"fragile: zero gamma is {s['zero_gamma_distance_pct']:.2f}% above spot")


@pytest.mark.parametrize("down,up,words", [
    (-13.23e9, -35.1e9, "a 1% fall flips dealers short and they sell $13.23bn; into a 1% "
                        "rise they sell $35.10bn"),
    (2e9, 3e9, "into a 1% fall they buy $2.00bn; into a 1% rise they buy $3.00bn, against "
               "the local sign"),
])
def test_sentence_by_hand(down, up, words):
    """The SPX 2026-08-21 numbers (GEX +$8.41bn, zero gamma 0.18 % below spot, full
    revaluation -$13.23bn / -$35.10bn), and a rise that buys with no flip in range."""
    zg = 7674.37 * (1 - 0.0018) if down < 0 else None
    h = gamma_sentence(gex_usd_per_pct=8.41e9, spot=7674.37, zero_gamma=zg,
                       flow_down_usd=down, flow_up_usd=up)
    assert words in h, h


def test_size_explanation_follows_its_table():
    """Long gamma at spot with zero gamma inside the fall: for a long position the adverse
    fall is `against` by full revaluation, and the explanation must not promise damping."""
    book = book_of([(100.0, WEEK, True, 0.2, 1.0), (99.0, WEEK, False, 0.2, 1.05)])
    r = size_position(book, user_delta_usd=1e6)
    assert r["labels"] == ["long_gamma"] and r["rule"] == "long_gamma"
    adverse = [x for x in r["scenarios"] if x["adverse"]]
    assert adverse and {x["alignment"] for x in adverse} == {"against"}
    assert r["stance"] == "against" and r["explanation"] == LONG_GAMMA_AGAINST
    plain = size_position(book_of([(100.0, 1.0, True, 0.2, 1.0)]), user_delta_usd=1e6)
    assert plain["stance"] == "with" and "damps moves" in plain["explanation"]
