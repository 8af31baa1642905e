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
from typing import NamedTuple

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


#: the gamma state in words (the wall banner and Grafana's regime panel; a bounded set,
#: so a Prometheus label can carry it): key -> words; ``{local}`` is LONG or SHORT,
#: ``{side}`` FALL or RISE
STATE_WORDS = {
    "plain": "{local} GAMMA",
    "fragile": "{local} GAMMA, FRAGILE",
    "crossed": "{local} GAMMA HERE, FLIPS IN A 1% {side}",
    "outweighed": "{local} GAMMA LOCALLY, OUTWEIGHED AWAY FROM SPOT",
    "linear": "{local} GAMMA (LINEAR ESTIMATE)",
}


class GammaReading(NamedTuple):
    """What the sentence, its short form and the state words are made of."""

    local: str  # "long" or "short": the sign of the local GEX
    gex: float  # USD per 1 %
    kind: str  # a key of STATE_WORDS
    dist_pct: float | None  # zero gamma against spot, percent (- = below)
    crossed: str | None  # "fall" or "rise": the side of the move zero gamma lies within
    clauses: tuple[str, ...]  # what dealers do into the fall and the rise


def gamma_reading(*, gex_usd_per_pct: float, spot: float, zero_gamma: float | None,
                  flow_down_usd: float | None, flow_up_usd: float | None,
                  move_pct: float = MOVE_PCT) -> GammaReading:
    """The reading behind every gamma sentence (module docstring)."""
    gex = finite(gex_usd_per_pct) or 0.0
    local = "long" if gex >= 0 else "short"
    other = "short" if local == "long" else "long"
    dist = None
    zg = finite(zero_gamma)
    if zg is not None and spot:
        dist = 100.0 * (zg / spot - 1.0)
    if flow_down_usd is None or flow_up_usd is None:  # no revaluation: say it is linear
        return GammaReading(local, gex, "linear", dist, None, ())
    m = f"{move_pct:g}%"
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
    if consistent:
        fragile = dist is not None and abs(dist) <= FRAGILE_MOVES * move_pct
        kind = "fragile" if fragile else "plain"
    else:
        kind = "crossed" if crossed is not None else "outweighed"
    return GammaReading(local, gex, kind, dist, crossed, tuple(clauses))


def _where(r: GammaReading) -> str:
    """Where zero gamma lies: ``0.18% below`` (spot)."""
    return f"{abs(r.dist_pct):.2f}% {'below' if r.dist_pct < 0 else 'above'}"


def gamma_sentence(*, gex_usd_per_pct: float, spot: float, zero_gamma: float | None,
                   flow_down_usd: float | None, flow_up_usd: float | None,
                   move_pct: float = MOVE_PCT) -> str:
    """The sentence (module docstring). Without the full-revaluation flows it falls back to
    the local GEX and says so ("linear estimate")."""
    r = gamma_reading(gex_usd_per_pct=gex_usd_per_pct, spot=spot, zero_gamma=zero_gamma,
                      flow_down_usd=flow_down_usd, flow_up_usd=flow_up_usd, move_pct=move_pct)
    g = money(r.gex)
    m = f"{move_pct:g}%"
    if r.kind == "linear":
        verb_fall, verb_rise = ("buy", "sell") if r.local == "long" else ("sell", "buy")
        a = money(abs(r.gex) * move_pct, signed=False)
        return (f"Dealers {r.local} gamma ({g} per 1%, locally): about {a} to {verb_fall} into "
                f"a {m} fall and to {verb_rise} into a {m} rise (linear estimate)")
    if r.kind in ("plain", "fragile"):
        tail = ("moves are damped, price tends to pin" if r.local == "long"
                else "feedback risk: their hedging adds to the move")
        fragile = f"; fragile: zero gamma is {_where(r)} spot" if r.kind == "fragile" else ""
        return (f"Dealers {r.local} gamma ({g} per 1%, locally): {r.clauses[0]}, "
                f"{r.clauses[1]} (full revaluation); {tail}{fragile}")
    lead = f"Dealers {r.local} gamma here ({g} per 1%, locally)"
    order = r.clauses
    if r.kind == "crossed":
        lead += f", but zero gamma is {_where(r)} spot"
        order = r.clauses if r.crossed == "fall" else r.clauses[::-1]
    return f"{lead}: {order[0]}; {order[1]} (full revaluation)"


def state_words(r: GammaReading) -> str:
    """The gamma state in words (:data:`STATE_WORDS`, upper case, no number)."""
    return STATE_WORDS[r.kind].format(local=r.local.upper(), side=(r.crossed or "").upper())


def short_form(r: GammaReading) -> str:
    """The banner's line: the state words, and where gamma flips when that is the point
    (``LONG GAMMA, FRAGILE: flips 0.18% below``; ``LONG GAMMA HERE, FLIPS IN A 1% FALL
    (0.18% below)``)."""
    words = state_words(r)
    if r.dist_pct is None or r.kind not in ("fragile", "crossed"):
        return words
    return f"{words}: flips {_where(r)}" if r.kind == "fragile" else f"{words} ({_where(r)})"


def _inputs(state: Mapping, move_pct: float) -> dict:
    down, up = spot_flows(state.get("scenarios") or (), move_pct)
    return {"gex_usd_per_pct": state.get("gex_usd_per_pct"),
            "spot": finite(state.get("spot")) or 0.0, "zero_gamma": state.get("zero_gamma"),
            "flow_down_usd": down, "flow_up_usd": up, "move_pct": move_pct}


def headline(state: Mapping, move_pct: float = MOVE_PCT) -> str:
    """:func:`gamma_sentence` of a snapshot or published state (``gex_usd_per_pct``,
    ``spot``, ``zero_gamma``, ``scenarios``)."""
    return gamma_sentence(**_inputs(state, move_pct))


def headline_parts(state: Mapping, move_pct: float = MOVE_PCT) -> dict:
    """``headline_short`` (:func:`short_form`) and ``gamma_state`` (:func:`state_words`)
    of a snapshot or published state: the same reading as :func:`headline`."""
    r = gamma_reading(**_inputs(state, move_pct))
    return {"headline_short": short_form(r), "gamma_state": state_words(r)}
