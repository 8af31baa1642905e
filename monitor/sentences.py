"""The gamma sentence: what the dealers do for a fall and a rise, by full revaluation.

Every headline, regime event, alert and sizing explanation that says what dealers do for a
spot move takes it from here (REFERENCE.md, Sentences). The inputs are numbers the tables
beside the sentence show: the local GEX (USD per 1 %, "locally"), zero gamma, and the
full-revaluation hedge flows of the standard ``spot -1%`` and ``spot +1%`` scenarios
(positive = dealers buy). The local sign says what dealers do for a small move; when
the full revaluation of a 1 % move disagrees with it, zero gamma lies within the move (or
the gamma away from spot outweighs the local one) and the sentence says so, with the side
and amount of the full revaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from monitor.fmt import finite, money

MOVE_PCT = 1.0
#: zero gamma within this many moves of spot makes a long/short state "fragile"
FRAGILE_MOVES = 2.0


def spot_flows(scenarios: Iterable[Mapping], move_pct: float = MOVE_PCT
               ) -> tuple[float | None, float | None]:
    """(flow for spot -move, flow for spot +move) from scenario dicts (``spot_pct``,
    ``vol_pts``, ``days``, ``flow_usd``), None where the scenario is absent."""
    down = up = None
    for s in scenarios:
        if s.get("vol_pts") or s.get("days"):
            continue
        if s.get("spot_pct") == -move_pct:
            down = finite(s.get("flow_usd"))
        elif s.get("spot_pct") == move_pct:
            up = finite(s.get("flow_usd"))
    return down, up


def _verb(flow: float) -> str:
    return "buy" if flow > 0 else "sell" if flow < 0 else "trade nothing"


def _amount(flow: float) -> str:
    return "" if flow == 0 else " " + money(abs(flow), signed=False)


def gamma_sentence(*, gex_usd_per_pct: float, spot: float, zero_gamma: float | None,
                   flow_down_usd: float | None, flow_up_usd: float | None,
                   move_pct: float = MOVE_PCT) -> str:
    """The sentence (module docstring). Without the full-revaluation flows it falls back to
    the local GEX and says so ("linear estimate")."""
    gex = finite(gex_usd_per_pct) or 0.0
    local = "long" if gex >= 0 else "short"
    other = "short" if local == "long" else "long"
    g = money(gex)
    m = f"{move_pct:g}%"
    if flow_down_usd is None or flow_up_usd is None:  # no revaluation: say it is linear
        verb_fall, verb_rise = ("buy", "sell") if local == "long" else ("sell", "buy")
        a = money(abs(gex) * move_pct, signed=False)
        return (f"Dealers {local} gamma ({g} per 1%, locally): about {a} to {verb_fall} into "
                f"a {m} fall and to {verb_rise} into a {m} rise (linear estimate)")
    dist = None
    zg = finite(zero_gamma)
    if zg is not None and spot:
        dist = 100.0 * (zg / spot - 1.0)
    expected = {"fall": "buy", "rise": "sell"} if local == "long" else {"fall": "sell",
                                                                         "rise": "buy"}
    clauses, consistent, crossed = [], True, None
    for side, flow in (("fall", flow_down_usd), ("rise", flow_up_usd)):
        verb, amt = _verb(flow), _amount(flow)
        if verb == expected[side]:
            clauses.append(f"into a {m} {side} they {verb}{amt}")
            continue
        consistent = False
        crosses = dist is not None and (dist < 0 if side == "fall" else dist > 0) \
            and abs(dist) <= move_pct
        if crosses:
            crossed = side
            clauses.append(f"a {m} {side} flips dealers {other} and they {verb}{amt}")
        else:
            clauses.append(f"into a {m} {side} they {verb}{amt}, against the local sign "
                           f"(the gamma away from spot outweighs it)")
    where = None if dist is None else f"{abs(dist):.2f}% {'below' if dist < 0 else 'above'} spot"
    if consistent:
        tail = ("moves are damped, price tends to pin" if local == "long"
                else "feedback risk: their hedging adds to the move")
        fragile = (f"; fragile: zero gamma is {where}"
                   if dist is not None and abs(dist) <= FRAGILE_MOVES * move_pct else "")
        return (f"Dealers {local} gamma ({g} per 1%, locally): {clauses[0]}, {clauses[1]} "
                f"(full revaluation); {tail}{fragile}")
    lead = f"Dealers {local} gamma here ({g} per 1%, locally)"
    if crossed is not None:
        lead += f", but zero gamma is {where}"
        order = clauses if crossed == "fall" else clauses[::-1]
    else:
        order = clauses
    return f"{lead}: {order[0]}; {order[1]} (full revaluation)"


def headline(state: Mapping, move_pct: float = MOVE_PCT) -> str:
    """:func:`gamma_sentence` of a snapshot or published state (``gex_usd_per_pct``,
    ``spot``, ``zero_gamma``, ``scenarios``)."""
    down, up = spot_flows(state.get("scenarios") or (), move_pct)
    return gamma_sentence(gex_usd_per_pct=state.get("gex_usd_per_pct"),
                          spot=finite(state.get("spot")) or 0.0,
                          zero_gamma=state.get("zero_gamma"), flow_down_usd=down,
                          flow_up_usd=up, move_pct=move_pct)
