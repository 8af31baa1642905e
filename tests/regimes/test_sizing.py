"""`size` against hand-computed single-contract books: the user's dollar delta (given or
from a positions file), the dealer flow in the standard scenarios, with/against per
scenario, the stance, the rule table, and the advice published with the state.

Books as in tests/core/test_signs.py: S = K = 100, T = 1 year, sigma = 20 %, r = q = 0,
multiplier 100, N(0.1) = 0.539827837277029 (call delta), put delta N(0.1) - 1.
Dealer short 1 put (classic, put OI 1): short gamma, dealers sell falls and buy rises.
Dealer long 1 call (classic, call OI 1): long gamma, dealers buy falls and sell rises.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest

from monitor.analysis.size import size_position
from monitor.books import read_positions
from monitor.config import Settings
from monitor.core.book import Book
from monitor.core.scenarios import STANDARD
from monitor.ingest import Pipeline
from monitor.options import parse_usd
from monitor.regimes.sizing import (
    CHARM_FLAG,
    DEFAULT_MULTIPLIERS,
    advice_for_state,
    advise,
    alignment,
    parse_labels,
    size_from_state,
)
from monitor.render.size import render_size
from monitor.state import build_state
from tests.synth import make_chain

N1 = 0.539827837277029


def N(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def put_delta(S: float) -> float:
    return N((math.log(S / 100.0) + 0.02) / 0.2) - 1.0


def one(is_call=False, oi=1.0):
    chain = make_chain([(100.0, 1.0, is_call, 0.2, oi)])
    return Book(chain, model="classic", multiplier=100.0, rate=0.0, div_yield=0.0)


def scen(r: dict, spot_pct: float, vol_pts: float = 0.0, days: float = 0.0) -> dict:
    return next(s for s in r["scenarios"]
                if (s["spot_pct"], s["vol_pts"], s["days"]) == (spot_pct, vol_pts, days))


# -- hand-computed books ----------------------------------------------------------------------
def test_long_user_against_short_gamma_dealers_by_hand():
    r = size_position(one(), user_delta_usd=1e6)
    assert r["labels"] == ["short_gamma"] and r["labels_source"] == "gex_sign"
    assert [(s["spot_pct"], s["vol_pts"], s["days"]) for s in r["scenarios"]] == STANDARD
    down = scen(r, -2.0)
    shares = 100.0 * (put_delta(98.0) - (N1 - 1.0))  # -n M (delta' - delta), n = -1
    assert down["flow_shares"] == pytest.approx(shares, rel=1e-9)
    assert down["flow_usd"] == pytest.approx(100.0 * shares, rel=1e-9) and down["flow_usd"] < 0
    assert down["dealers"] == "sell"
    assert down["user_delta_pnl_usd"] == pytest.approx(-20_000.0)  # 1e6 x -2 %
    assert down["adverse"] and down["alignment"] == "against"  # dealers sell, user long
    up = scen(r, 2.0)
    assert up["flow_usd"] > 0 and not up["adverse"] and up["alignment"] == "with"
    assert [s["adverse"] for s in r["scenarios"]] == [True] * 3 + [False] * 8
    # vol and time scenarios: alignment only (no delta P&L)
    vol_up = scen(r, 0.0, 2.0)
    assert vol_up["user_delta_pnl_usd"] is None and not vol_up["adverse"]
    assert vol_up["flow_usd"] > 0 and vol_up["alignment"] == "with"  # VEX < 0: IV up -> buy
    assert r["stance"] == "against"
    assert r["adverse_flow_usd"] == pytest.approx(down["flow_usd"], rel=1e-12)
    assert (r["rule"], r["multiplier"]) == ("short_gamma_against", 0.5)
    assert r["direction"] == "long" and r["user_delta_usd_per_pct"] == pytest.approx(1e4)
    assert r["flags"] == [] and "halve" in r["explanation"]


def test_short_user_in_short_gamma_is_against_on_the_way_up():
    r = size_position(one(), user_delta_usd=-5e5)
    assert [s["spot_pct"] for s in r["scenarios"] if s["adverse"]] == [1.0, 2.0, 5.0]
    assert scen(r, 2.0)["alignment"] == "against"  # dealers buy the rise, user short
    assert scen(r, 2.0)["user_delta_pnl_usd"] == pytest.approx(-10_000.0)
    assert r["stance"] == "against" and r["rule"] == "short_gamma_against"
    assert r["adverse_flow_usd"] == pytest.approx(scen(r, 2.0)["flow_usd"])


def test_long_user_with_long_gamma_dealers():
    r = size_position(one(is_call=True), user_delta_usd=2e6)
    assert r["labels"] == ["long_gamma"]
    down = scen(r, -2.0)
    shares = -100.0 * ((put_delta(98.0) + 1.0) - N1)  # n = +1
    assert down["flow_shares"] == pytest.approx(shares, rel=1e-9) and shares > 0
    assert down["alignment"] == "with"  # dealers buy the dip the user loses on
    assert r["stance"] == "with"
    assert (r["rule"], r["multiplier"]) == ("long_gamma", 1.0)


def test_flat_user():
    r = size_position(one(), user_delta_usd=0.0)
    assert r["direction"] == "flat" and r["stance"] == "none" and r["rule"] == "flat"
    assert all(s["alignment"] == "none" and not s["adverse"] for s in r["scenarios"])


# -- the rule table ---------------------------------------------------------------------------
def gamma_flows(short: bool) -> list[dict]:
    """Hand-made standard flows: short gamma = flow with the move, long = against it."""
    out = []
    for p, v, d in STANDARD:
        f = (p if short else -p) * 1e8 + v * 1e7
        out.append({"spot_pct": p, "vol_pts": v, "days": d, "flow_usd": f,
                    "flow_usd_linear": f, "flow_shares": f / 100.0})
    return out


@pytest.mark.parametrize("labels,delta,puts,short_gamma,rule,mult", [
    (["short_gamma", "feedback_selloff"], 1e6, 0, True, "feedback_long", 0.25),
    (["short_gamma", "feedback_selloff"], -1e6, 0, True, "feedback_short", 1.0),
    (["short_gamma", "exhaustion"], 1e6, 0, True, "exhaustion_long", 1.5),
    (["short_gamma", "exhaustion"], 0.0, 5, True, "exhaustion_long", 1.5),  # puts sold
    (["long_gamma", "exhaustion"], -1e6, 0, False, "exhaustion_short", 0.5),
    (["short_gamma"], 1e6, 0, True, "short_gamma_against", 0.5),
    (["short_gamma"], -1e6, 0, True, "short_gamma_against", 0.5),
    (["long_gamma"], 1e6, 0, False, "long_gamma", 1.0),
    (["long_gamma", "vanna_headwind"], 1e6, 0, False, "vanna_headwind_long", 0.75),
    (["long_gamma", "vanna_headwind"], -1e6, 0, False, "long_gamma", 1.0),
    (["long_gamma", "vanna_tailwind"], -1e6, 0, False, "vanna_tailwind_short", 0.75),
    (["charm_window"], 1e6, 0, False, "charm_window", 1.0),
    ([], 1e6, 0, False, "default", 1.0),
    (["short_gamma", "feedback_selloff"], 0.0, 0, True, "flat", 1.0),
])
def test_rule_table(labels, delta, puts, short_gamma, rule, mult):
    r = advise(underlying="TEST", spot=100.0, scenarios=gamma_flows(short_gamma), labels=labels,
               user_delta_usd=delta, short_put_contracts=puts)
    assert (r["rule"], r["multiplier"]) == (rule, mult)
    assert DEFAULT_MULTIPLIERS[rule] == mult


def test_charm_window_flag_rides_on_any_rule():
    r = advise(underlying="TEST", spot=100.0, scenarios=gamma_flows(True),
               labels="short_gamma,charm_window", user_delta_usd=1e6)
    assert r["rule"] == "short_gamma_against" and r["multiplier"] == 0.5
    assert r["flags"] == [CHARM_FLAG] and "non-directional" in r["explanation"]
    alone = advise(underlying="TEST", spot=100.0, scenarios=gamma_flows(False),
                   labels=["charm_window"], user_delta_usd=-1e6)
    assert alone["rule"] == "charm_window" and "don't read direction" in alone["flags"][0]


def test_alignment_rule():
    assert alignment(+5.0, +1.0) == "with" and alignment(-5.0, -1.0) == "with"
    assert alignment(-5.0, +1.0) == "against" and alignment(5.0, -1.0) == "against"
    assert alignment(0.0, 1.0) == "none" and alignment(1.0, 0.0) == "none"


def test_custom_multipliers_from_settings():
    settings = SimpleNamespace(sizing=SimpleNamespace(multipliers={"feedback_long": 0.1}))
    r = size_position(one(), user_delta_usd=1e6, labels=["feedback_selloff"], settings=settings)
    assert (r["rule"], r["multiplier"]) == ("feedback_long", 0.1)
    bad = SimpleNamespace(sizing=SimpleNamespace(multipliers={"yolo": 3.0}))
    with pytest.raises(ValueError, match="unknown sizing rule"):
        size_position(one(), user_delta_usd=1e6, settings=bad)


# -- positions file ---------------------------------------------------------------------------
def test_positions_file_by_hand(tmp_path):
    """User short 2 puts (ATM, delta -0.46017) and long 50 units of the underlying."""
    b = one()
    sym = b.chain.symbols()[0]
    path = tmp_path / "mine.csv"
    path.write_text(f"{sym},-2\nTEST,50\n")
    assert [p[:2] for p in read_positions(path)] == [(sym, -2.0), ("TEST", 50.0)]
    r = size_position(b, positions=path, labels=["short_gamma", "exhaustion"])
    expected = -2 * 100 * (N1 - 1.0) * 100.0 + 50 * 100.0  # contracts M delta S + units S
    assert expected == pytest.approx(14203.443, rel=1e-6)
    assert r["user_delta_usd"] == pytest.approx(expected, rel=1e-9)
    assert r["short_put_contracts"] == 2.0
    assert [p["kind"] for p in r["positions"]] == ["put", "underlying"]
    assert r["positions"][0]["delta"] == pytest.approx(N1 - 1.0, rel=1e-9)
    assert (r["rule"], r["multiplier"]) == ("exhaustion_long", 1.5)
    # a header line and comments are fine; a list of tuples works too
    path.write_text(f"symbol,contracts\n# mine\n{sym},-2\n")
    assert size_position(b, positions=path)["short_put_contracts"] == 2.0
    lst = size_position(b, positions=[(sym, 1.0)])
    assert lst["user_delta_usd"] == pytest.approx(100 * (N1 - 1.0) * 100.0, rel=1e-9)
    assert "puts sold" in render_size(r) and "x1.5" in render_size(r)


def test_bad_inputs(tmp_path):
    b = one()
    with pytest.raises(ValueError, match="positions file not found"):
        size_position(b, positions=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("TEST270101P00100000,-2\n")
    with pytest.raises(ValueError, match="not in the TEST chain: TEST270101P00100000"):
        size_position(b, positions=bad)
    bad.write_text(f"{b.chain.symbols()[0]},lots\n")
    with pytest.raises(ValueError, match="bad.csv:1: contracts 'lots' is not a number"):
        read_positions(bad)
    bad.write_text("a,b,c\n")
    with pytest.raises(ValueError, match="expected 2 columns"):
        read_positions(bad)
    bad.write_text("symbol,contracts\n")
    with pytest.raises(ValueError, match="holds no positions"):
        read_positions(bad)
    with pytest.raises(ValueError, match="exactly one"):
        size_position(b)
    with pytest.raises(ValueError, match="exactly one"):
        size_position(b, user_delta_usd=1.0, positions=[("TEST", 1.0)])
    with pytest.raises(ValueError, match="unknown regime label 'bullish'"):
        size_position(b, user_delta_usd=1.0, labels=["bullish"])
    with pytest.raises(ValueError, match="cannot read dollar delta"):
        parse_usd("lots")


@pytest.mark.parametrize("text,value", [("2.5e6", 2.5e6), ("-1mm", -1e6), ("+250k", 2.5e5),
                                        ("$-1.2m", -1.2e6), ("-$3bn", -3e9),
                                        ("1,000,000", 1e6), ("0", 0.0)])
def test_parse_usd(text, value):
    assert parse_usd(text) == pytest.approx(value)


def test_parse_labels():
    assert parse_labels("short_gamma, feedback_selloff") == ["short_gamma", "feedback_selloff"]
    assert parse_labels(["Long_Gamma", "long_gamma"]) == ["long_gamma"]
    assert parse_labels(None) == []


# -- from the published state -----------------------------------------------------------------
def published_state(book, regimes):
    s = Pipeline({"TEST": book}).states["TEST"]
    state, _ = build_state(s, regimes)
    return state


def test_size_from_state_matches_the_book():
    b = one()
    state = published_state(b, ["short_gamma", "feedback_selloff"])
    r = size_from_state(state, 1e6)
    assert r["labels"] == ["short_gamma", "feedback_selloff"] and r["labels_source"] == "state"
    assert (r["rule"], r["multiplier"]) == ("feedback_long", 0.25)
    direct = size_position(b, user_delta_usd=1e6, labels=["short_gamma", "feedback_selloff"])
    assert [s["flow_usd"] for s in r["scenarios"]] == pytest.approx(
        [s["flow_usd"] for s in direct["scenarios"]], rel=1e-12)
    assert r["stance"] == direct["stance"] == "against"


def test_advice_for_state_long_short_and_configured_position():
    state = published_state(one(), ["short_gamma", "feedback_selloff", "charm_window"])
    adv = advice_for_state(state, Settings())
    assert adv["error"] is None
    assert adv["labels"] == ["short_gamma", "feedback_selloff", "charm_window"]
    assert (adv["long"]["rule"], adv["long"]["multiplier"]) == ("feedback_long", 0.25)
    assert (adv["short"]["rule"], adv["short"]["multiplier"]) == ("feedback_short", 1.0)
    assert adv["long"]["stance"] == "against"
    assert adv["position"] is None and adv["user_delta_usd"] is None  # none configured
    und = SimpleNamespace(user_delta_usd=-2e6, user_positions_file=None, es_multiplier=0.0,
                          adv_shares=0.0)
    settings = SimpleNamespace(underlying=lambda root: und, sizing=None)
    adv = advice_for_state(state, settings)
    assert adv["user_delta_usd"] == -2e6
    assert adv["position"]["rule"] == "feedback_short" and adv["position"]["multiplier"] == 1.0
    assert adv["position"]["flags"] == [CHARM_FLAG]
    assert adv["position"]["adverse_flow_usd"] > 0  # dealers buy the +2 % against the short


def test_advice_for_state_positions_file_with_book(tmp_path):
    b = one()
    path = tmp_path / "mine.csv"
    path.write_text(f"symbol,contracts\n{b.chain.symbols()[0]},-3\n")
    und = SimpleNamespace(user_delta_usd=None, user_positions_file=str(path),
                          es_multiplier=0.0, adv_shares=0.0)
    settings = SimpleNamespace(underlying=lambda root: und, sizing=None)
    state = published_state(b, ["short_gamma", "exhaustion"])
    adv = advice_for_state(state, settings, book=b)
    assert adv["user_delta_usd"] == pytest.approx(-3 * 100 * (N1 - 1.0) * 100.0, rel=1e-9)
    assert adv["position"]["rule"] == "exhaustion_long"


def test_advice_for_state_never_raises():
    adv = advice_for_state({"underlying": "TEST", "spot": 100.0}, Settings())
    assert adv["long"] is None and "no scenarios" in adv["error"]


def test_standard_flows_in_state_by_hand():
    """Dealers short 1 put: for spot -1 % / +1 % they trade -n M (delta' - delta) S with
    n = -1, M = 100, S = 100 (sticky strike; r = q = 0 so the forward is spot)."""
    state = published_state(one(), ["short_gamma"])
    for pct in (-1.0, 1.0):
        s1 = 100.0 * (1 + pct / 100)
        n = -1.0  # dealers short one put
        by_hand = -n * 100.0 * (put_delta(s1) - put_delta(100.0)) * 100.0
        got = next(x for x in state["scenarios"] if x["spot_pct"] == pct and not x["vol_pts"]
                   and not x["days"])
        assert got["flow_usd"] == pytest.approx(by_hand, rel=1e-9)
    assert by_hand > 0  # short gamma: dealers buy into a rise


def test_a_forced_regime_whose_story_the_table_contradicts_says_so():
    """`size --regime short_gamma,feedback_selloff` on a long-gamma book (dealer long 1 call:
    they buy every fall): the feedback_long rule still cuts size to a quarter (the labels
    select it), but the explanation must not say the dealers sell into every fall, since the
    table beside it shows them buying; on the short-gamma book the story holds and is told."""
    long_book = size_position(one(is_call=True), user_delta_usd=1e6,
                              labels=["short_gamma", "feedback_selloff"])
    assert (long_book["rule"], long_book["multiplier"]) == ("feedback_long", 0.25)
    falls = [s for s in long_book["scenarios"] if s["adverse"]]
    assert falls and all(s["dealers"] == "buy" for s in falls)
    text = long_book["explanation"]
    assert "sells into every further fall" not in text
    assert "does not show the flow it describes" in text
    scale = {"": 1.0, "k": 1e3, "mm": 1e6, "bn": 1e9}
    for s in falls:  # every adverse row named with its side and amount, as in the table
        m = re.search(rf"spot {s['spot_pct']:+g}% they buy \$([\d.,]+)(k|mm|bn)?", text)
        assert m, (s["spot_pct"], text)
        shown = float(m.group(1).replace(",", "")) * scale[m.group(2) or ""]
        assert shown == pytest.approx(abs(s["flow_usd"]), rel=0.01, abs=0.5)
    short_book = size_position(one(is_call=False), user_delta_usd=1e6,
                               labels=["short_gamma", "feedback_selloff"])
    assert all(s["dealers"] == "sell" for s in short_book["scenarios"] if s["adverse"])
    assert "sells into every further fall" in short_book["explanation"]


def test_size_from_state_names_its_underlying_and_refuses_a_state_without_spot():
    state = published_state(one(), ["short_gamma"])
    assert size_from_state(state, 1e6)["underlying"] == "TEST"
    for bad in (None, 0.0, float("nan"), "7400"):
        with pytest.raises(ValueError, match=r"the state of TEST has no spot"):
            size_from_state({**state, "spot": bad}, 1e6)


def test_advice_for_state_flags_the_charm_window_only_when_in_force():
    b = one()
    assert advice_for_state(published_state(b, ["short_gamma", "charm_window"]),
                            Settings())["flags"] == [CHARM_FLAG]
    assert advice_for_state(published_state(b, ["short_gamma"]), Settings())["flags"] == []


def test_long_gamma_labels_over_a_short_gamma_table_say_do_not_count_on_damping():
    # the labels say long gamma, but the book (dealers short 1 put) sells every fall: a long
    # user's adverse rows are all against, and the sentence follows the table
    r = size_position(one(is_call=False), user_delta_usd=1e6, labels=["long_gamma"])
    assert (r["rule"], r["stance"]) == ("long_gamma", "against")
    assert r["explanation"].startswith("Dealers are long gamma at spot, but in the moves that "
                                       "hurt you")


def test_vanna_headwind_story_is_checked_against_the_pure_iv_rows_only():
    # dealers short 1 put: on IV +2 / +5 (spot and time unchanged) they BUY, so the
    # vanna_headwind_long story (they sell) is contradicted in exactly those two rows
    r = size_position(one(is_call=False), user_delta_usd=1e6,
                      labels=["long_gamma", "vanna_headwind"])
    assert r["rule"] == "vanna_headwind_long"
    named = re.findall(r"(spot [+-][\d.]+%|vol [+-][\d.]+ pts|[\d.]+ days?) they (buy|sell)",
                       r["explanation"])
    assert named == [("vol +2 pts", "buy"), ("vol +5 pts", "buy")]
    # dealers long 1 call: they sell on IV up, as the story says: the rule's own sentence
    r = size_position(one(is_call=True), user_delta_usd=1e6,
                      labels=["long_gamma", "vanna_headwind"])
    assert r["explanation"].startswith("IV is rising and the dealers' vanna hedging sells")


def test_the_underlying_itself_counts_at_delta_one_and_a_bad_row_names_its_line():
    from monitor.books import Position
    from monitor.regimes.sizing import user_delta_from_positions
    b = one()
    info = user_delta_from_positions(b, [("TEST", 10.0)])
    assert info["positions"][0]["delta"] == 1.0
    assert info["user_delta_usd"] == 10.0 * b.spot
    b.c.status[0] = 1  # the one contract without a usable delta
    sym = b.chain.symbols()[b.order[0]]
    with pytest.raises(ValueError, match=rf"^mine\.csv:3: {sym}: no usable delta"):
        user_delta_from_positions(b, [Position(sym, 1.0, "mine.csv:3")])
    with pytest.raises(ValueError, match=rf"^{sym}: no usable delta"):
        user_delta_from_positions(b, [(sym, 1.0)])


def _row(spot=0.0, vol=0.0, days=0.0, alignment="against", dealers="sell", flow=-1e6):
    return {"spot_pct": spot, "vol_pts": vol, "days": days, "alignment": alignment,
            "dealers": dealers, "flow_usd": flow}


def test_the_vanna_stories_are_checked_on_their_own_pure_iv_rows_only():
    from monitor.regimes.sizing import EXPLANATIONS, _explain
    own = EXPLANATIONS["vanna_headwind_long"]
    # headwind (IV up): a row of IV -0.5 that goes with the user is not the story's row
    rows = [_row(vol=2.0), _row(vol=-0.5, alignment="with", dealers="buy", flow=1e6)]
    assert _explain("vanna_headwind_long", rows, ["vanna_headwind"], 0.75) == own
    # tailwind (IV down): a spot row going with the user is not the story's row ...
    own = EXPLANATIONS["vanna_tailwind_short"]
    rows = [_row(vol=-2.0), _row(spot=-2.0, alignment="with", dealers="buy", flow=1e6)]
    assert _explain("vanna_tailwind_short", rows, ["vanna_tailwind"], 0.75) == own
    # ... but its own pure IV-down row going with the user contradicts it, by name
    rows = [_row(vol=-2.0, alignment="with", dealers="buy", flow=1e6)]
    text = _explain("vanna_tailwind_short", rows, ["vanna_tailwind"], 0.75)
    assert text != own and "vol -2 pts they buy" in text


def test_es_contracts_only_with_a_configured_future_multiplier():
    scen_ = [{"spot_pct": -2.0, "vol_pts": 0.0, "days": 0.0, "flow_usd": -5e6,
              "flow_usd_linear": -5e6, "flow_shares": -1e3}]
    kw = dict(underlying="SPX", spot=5000.0, scenarios=scen_, labels=["short_gamma"],
              user_delta_usd=1e6)
    for und in (None, SimpleNamespace(es_multiplier=0.0, adv_shares=0.0),
                SimpleNamespace(es_multiplier=None, adv_shares=None)):
        assert advise(**kw, und_settings=und)["scenarios"][0]["flow_es_contracts"] is None
    got = advise(**kw, und_settings=SimpleNamespace(es_multiplier=50.0, adv_shares=0.0))
    assert got["scenarios"][0]["flow_es_contracts"] == -5e6 / 5000.0 / 50.0  # -20


def test_a_vendor_delta_counts_for_a_contract_the_model_could_not_price():
    from monitor.regimes.sizing import user_delta_from_positions
    b = one()
    b.greeks = "vendor"
    b.c.status[0] = 1  # no model Greeks, but the vendor's delta is there
    b.c.delta[0] = -0.4
    sym = b.chain.symbols()[b.order[0]]
    info = user_delta_from_positions(b, [(sym, 2.0)])
    assert info["user_delta_usd"] == pytest.approx(2.0 * 100.0 * -0.4 * b.spot, rel=1e-12)
