"""Sizing: the dealer flow a user's position would face, whether the position stands
with or against that mechanical flow, and a suggested size multiplier from a fixed rule
table (the object behind ``monitor size --json`` and the ``sizing`` field of the
published state; both documented in docs/analytics.md).

Definitions
-----------
* ``user_delta_usd``: the user's dollar delta, ``sum contracts x M x delta x S`` over
  option lines (model delta of the book, ``M`` its multiplier, ``S`` spot) plus
  ``units x S`` for lines in the underlying itself; + = long. A +1 % move makes the user
  about ``user_delta_usd x 0.01``.
* Dealer flow per scenario: :data:`monitor.core.scenarios.STANDARD` (spot -5/-2/-1/+1/+2/+5 %,
  vol -5/-2/+2/+5 pts, +1 day), full revaluation, positive = dealers BUY (their buying
  pushes price up, their selling pushes it down).
* ``alignment`` of a scenario: ``with`` when the dealers' trade pushes price the way that
  makes the user money (``sign(flow_usd) == sign(user_delta_usd)``), ``against`` when it
  pushes the other way, ``none`` when either is zero. One rule for spot, vol and time
  scenarios.
* ``adverse`` scenarios: the spot moves that lose the user money
  (``spot_pct x user_delta_usd < 0``: the down moves for a long, the up moves for a short).
* ``stance``: the majority alignment over the adverse scenarios. ``against`` = in the moves
  that hurt you the dealers' hedging adds to the move (the feedback of short gamma);
  ``with`` = it cushions the move (long gamma); ``mixed`` on a tie; ``none`` when flat.

Rule table (first match wins; multipliers configurable as ``sizing.multipliers``)::

    rule                  condition                                        multiplier
    flat                  no delta and no short puts                       1.0
    exhaustion_long       exhaustion, and long delta or short puts         1.5
    exhaustion_short      exhaustion, short delta                          0.5
    feedback_long         feedback_selloff, long delta                     0.25
    feedback_short        feedback_selloff, short delta                    1.0
    short_gamma_against   short_gamma and stance against                   0.5
    vanna_headwind_long   vanna_headwind, long delta                       0.75
    vanna_tailwind_short  vanna_tailwind, short delta                      0.75
    long_gamma            long_gamma                                       1.0
    charm_window          charm_window                                     1.0
    default               anything else                                    1.0

``charm_window`` also adds a flag to whatever rule fires: the flow is mechanical and
non-directional, don't read direction into it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from monitor.books import Position, position_rows, read_positions, resolve
from monitor.core import status as st
from monitor.core.scenarios import flow_units
from monitor.fmt import money, scenario_label
from monitor.regimes.engine import LABELS

SCHEMA_VERSION = 1

DEFAULT_MULTIPLIERS: dict[str, float] = {
    "flat": 1.0,
    "exhaustion_long": 1.5,
    "exhaustion_short": 0.5,
    "feedback_long": 0.25,
    "feedback_short": 1.0,
    "short_gamma_against": 0.5,
    "vanna_headwind_long": 0.75,
    "vanna_tailwind_short": 0.75,
    "long_gamma": 1.0,
    "charm_window": 1.0,
    "default": 1.0,
}

EXPLANATIONS: dict[str, str] = {
    "flat": "No directional exposure: there is nothing to size against the dealers' flow.",
    "exhaustion_long": "The sell-off is exhausting (put premium extreme and rolling over, "
                       "sellers arriving): selling puts or buying is paid for the risk, so "
                       "size up.",
    "exhaustion_short": "The sell-off is exhausting: the dealers' unwind of their short-gamma "
                        "hedges turns into buying, so cut short exposure.",
    "feedback_long": "Dealers are short gamma in a sell-off with IV rising: their hedging "
                     "sells into every further fall, against your long delta, so cut size "
                     "to a quarter.",
    "feedback_short": "You are short with the sell-off feedback, but it ends abruptly when "
                      "it exhausts: keep size, don't add.",
    "short_gamma_against": "Dealers are short gamma: in the moves that hurt you their "
                           "hedging adds to the move, so halve size.",
    "vanna_headwind_long": "IV is rising and the dealers' vanna hedging sells, against your "
                           "long delta: trim size.",
    "vanna_tailwind_short": "IV is falling and the dealers' vanna hedging buys, against your "
                            "short delta: trim size.",
    "long_gamma": "Dealers are long gamma: their hedging damps moves either way, no size "
                  "change.",
    "charm_window": "Charm window before a large expiration: the flow is mechanical and "
                    "non-directional, no size change.",
    "default": "No regime rule applies: no size change.",
}

#: the long-gamma rule when the full revaluation of the adverse moves is against you (zero
#: gamma within them): the rule table keeps the size, the words must not promise damping
LONG_GAMMA_AGAINST = ("Dealers are long gamma at spot, but in the moves that hurt you the full "
                      "revaluation has their hedging add to the move (zero gamma lies within "
                      "them, see the table): no size change by the rule table, but do not "
                      "count on the damping.")
CHARM_FLAG = "charm_window: mechanical, non-directional flow: don't read direction into it"

#: what a rule's explanation says the dealers' hedging does, as the alignment (with or
#: against the user) it promises in some scenarios of the table: rule -> (which rows, the
#: alignment promised). A forced or stale label can select a rule whose story this book's
#: full revaluation does not show; the explanation then says so instead (:func:`_explain`)
FLOW_CLAIMS = {
    "feedback_long": (lambda r: r["adverse"], "against"),
    "short_gamma_against": (lambda r: r["adverse"], "against"),
    "vanna_headwind_long": (lambda r: r["vol_pts"] > 0 and not r["spot_pct"] and not r["days"],
                            "against"),
    "vanna_tailwind_short": (lambda r: r["vol_pts"] < 0 and not r["spot_pct"] and not r["days"],
                             "against"),
}


def _explain(rule: str, rows: list[dict], labels: list[str], multiplier: float) -> str:
    """The rule's explanation, unless the table contradicts what it says the dealers do
    (:data:`FLOW_CLAIMS`): then what the table shows, and that the size comes from the
    labels alone."""
    claim = FLOW_CLAIMS.get(rule)
    if claim is None:
        return EXPLANATIONS[rule]
    which, promised = claim
    broken = [r for r in rows if which(r) and r["alignment"] != promised]
    if not broken:
        return EXPLANATIONS[rule]
    shown = "; ".join(f"{scenario_label(r)} they {r['dealers']} "
                      f"{money(abs(r['flow_usd']), signed=False)}" for r in broken)
    return (f"The labels in force ({', '.join(labels)}) select the {rule} rule (size "
            f"x{multiplier:g}), but this book's full revaluation does not show the flow it "
            f"describes: {shown} (see the table), which cushions your position there. The "
            f"multiplier follows the labels; the table is what the dealers' hedging does.")


# -- inputs ---------------------------------------------------------------------------------
def user_delta_from_positions(book, positions: Iterable) -> dict:
    """``{"user_delta_usd", "short_put_contracts", "positions": [...]}`` of the user's
    positions on ``book`` (:class:`monitor.books.Position` or ``(symbol, contracts)``;
    model delta at the book's spot; see the module docstring). ``short_put_contracts``:
    net puts sold (>= 0). A symbol that is neither in the chain nor the underlying's own,
    or a contract without a usable delta, raises ``ValueError`` (naming its file and line
    for positions read from a file)."""
    rows = []
    total = puts_net = 0.0
    underlying_names = {book.underlying.upper()}
    for pos in positions:
        pos = Position(*pos)
        key, qty = str(pos.symbol).strip(), pos.contracts
        if key.upper() in underlying_names:
            usd = float(qty) * book.spot
            rows.append({"symbol": key, "contracts": float(qty), "kind": "underlying",
                         "delta": 1.0, "delta_usd": usd})
            total += usd
            continue
        i = int(position_rows(book, [pos._replace(symbol=key)])[0])
        code = int(book.c.status[i])
        if code != st.OK and not (book.greeks == "vendor" and math.isfinite(book.c.delta[i])):
            where = f"{pos.where}: " if pos.where else ""
            raise ValueError(f"{where}{key}: no usable delta ({st.NAMES[code]})")
        delta = float(book.c.delta[i])
        usd = float(qty) * book.multiplier * delta * book.spot
        is_call = bool(book.c.is_call[i])
        rows.append({"symbol": key, "contracts": float(qty), "kind": "call" if is_call else "put",
                     "delta": delta, "delta_usd": usd})
        total += usd
        if not is_call:
            puts_net += float(qty)
    return {"user_delta_usd": total, "short_put_contracts": max(0.0, -puts_net),
            "positions": rows}


def parse_labels(labels) -> list[str]:
    """Regime labels from a list and/or comma-separated strings; unknown labels raise."""
    if labels is None:
        return []
    if isinstance(labels, str):
        labels = [labels]
    out: list[str] = []
    for item in labels:
        for lab in str(item).split(","):
            lab = lab.strip().lower()
            if not lab:
                continue
            if lab not in LABELS:
                raise ValueError(f"unknown regime label {lab!r}; expected one of "
                                 f"{', '.join(LABELS)}")
            if lab not in out:
                out.append(lab)
    return out


def rule_multipliers(settings=None) -> dict[str, float]:
    """The rule table's multipliers: defaults overridden by ``settings.sizing.multipliers``
    (when the settings have that section)."""
    sizing = getattr(settings, "sizing", None)
    custom = getattr(sizing, "multipliers", None) or {}
    bad = sorted(set(custom) - set(DEFAULT_MULTIPLIERS))
    if bad:
        raise ValueError(f"unknown sizing rule(s) {', '.join(bad)}; expected "
                         f"{', '.join(DEFAULT_MULTIPLIERS)}")
    out = dict(DEFAULT_MULTIPLIERS)
    for k, v in custom.items():
        if not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"sizing multiplier {k} must be a number >= 0, got {v!r}")
        out[k] = float(v)
    return out


# -- the rule -------------------------------------------------------------------------------
def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def alignment(flow_usd: float, user_delta_usd: float) -> str:
    """``with`` / ``against`` / ``none`` (module docstring)."""
    a, b = _sign(flow_usd), _sign(user_delta_usd)
    if a == 0 or b == 0:
        return "none"
    return "with" if a == b else "against"


def _is_spot(s: Mapping) -> bool:
    return bool(s["spot_pct"]) and not s["vol_pts"] and not s["days"]


def stance(scenarios: list[dict], user_delta_usd: float) -> str:
    """Majority alignment over the adverse spot scenarios (module docstring)."""
    if _sign(user_delta_usd) == 0:
        return "none"
    votes = [s["alignment"] for s in scenarios if s["adverse"] and s["alignment"] != "none"]
    w, a = votes.count("with"), votes.count("against")
    if w == a:
        return "mixed" if votes else "none"
    return "with" if w > a else "against"


def choose_rule(labels: list[str], user_delta_usd: float, short_put_contracts: float,
                stance_: str) -> str:
    """The first rule of the table whose condition holds."""
    lab = set(labels)
    long_, short_ = user_delta_usd > 0, user_delta_usd < 0
    short_puts = short_put_contracts > 0
    if not long_ and not short_ and not short_puts:
        return "flat"
    if "exhaustion" in lab and (long_ or short_puts):
        return "exhaustion_long"
    if "exhaustion" in lab and short_:
        return "exhaustion_short"
    if "feedback_selloff" in lab and long_:
        return "feedback_long"
    if "feedback_selloff" in lab and short_:
        return "feedback_short"
    if "short_gamma" in lab and stance_ == "against":
        return "short_gamma_against"
    if "vanna_headwind" in lab and long_:
        return "vanna_headwind_long"
    if "vanna_tailwind" in lab and short_:
        return "vanna_tailwind_short"
    if "long_gamma" in lab:
        return "long_gamma"
    if "charm_window" in lab:
        return "charm_window"
    return "default"


def advise(*, underlying: str, spot: float, scenarios: Iterable[Mapping], labels,
           user_delta_usd: float, short_put_contracts: float = 0.0, multipliers=None,
           und_settings=None) -> dict:
    """The sizing advice from plain inputs (pure): ``scenarios`` are flow dicts
    (``spot_pct``, ``vol_pts``, ``days``, ``flow_usd``, ``flow_usd_linear``,
    ``flow_shares``) as in ``snapshot --json`` and the published state."""
    if not (isinstance(user_delta_usd, (int, float)) and math.isfinite(user_delta_usd)):
        raise ValueError(f"user dollar delta must be a finite number, got {user_delta_usd!r}")
    if not (spot and spot > 0):
        raise ValueError(f"spot must be positive, got {spot!r}")
    labels = parse_labels(labels)
    mult = dict(DEFAULT_MULTIPLIERS if multipliers is None else multipliers)
    es = float(getattr(und_settings, "es_multiplier", 0.0) or 0.0)
    adv = float(getattr(und_settings, "adv_shares", 0.0) or 0.0)
    rows = []
    for s in scenarios:
        flow = float(s["flow_usd"])
        spot_move = _is_spot(s)
        pnl = user_delta_usd * float(s["spot_pct"]) / 100.0 if spot_move else None
        rows.append({
            "spot_pct": float(s["spot_pct"]), "vol_pts": float(s["vol_pts"]),
            "days": float(s["days"]), "flow_usd": flow,
            "flow_usd_linear": float(s.get("flow_usd_linear", float("nan"))),
            **flow_units(flow, spot, es, adv),
            "dealers": "buy" if flow > 0 else "sell" if flow < 0 else "none",
            "user_delta_pnl_usd": pnl,
            "adverse": bool(spot_move and pnl is not None and pnl < 0),
            "alignment": alignment(flow, user_delta_usd),
        })
    st_ = stance(rows, user_delta_usd)
    rule = choose_rule(labels, user_delta_usd, short_put_contracts, st_)
    flags = [CHARM_FLAG] if "charm_window" in labels else []
    adverse_2 = next((r for r in rows if r["adverse"] and abs(r["spot_pct"]) == 2.0), None)
    explanation = _explain(rule, rows, labels, mult[rule])
    if rule == "long_gamma" and st_ == "against":  # the sentence follows the table
        explanation = LONG_GAMMA_AGAINST
    if flags and rule != "charm_window":
        explanation += " (Charm window: that part of the flow is mechanical and non-directional.)"
    return {
        "schema": SCHEMA_VERSION,
        "underlying": underlying,
        "spot": float(spot),
        "user_delta_usd": float(user_delta_usd),
        "user_delta_usd_per_pct": 0.01 * float(user_delta_usd),
        "direction": "long" if user_delta_usd > 0 else "short" if user_delta_usd < 0 else "flat",
        "short_put_contracts": float(short_put_contracts),
        "labels": labels,
        "scenarios": rows,
        "adverse_flow_usd": None if adverse_2 is None else adverse_2["flow_usd"],
        "stance": st_,
        "rule": rule,
        "multiplier": mult[rule],
        "explanation": explanation,
        "flags": flags,
    }


# -- from a published state -----------------------------------------------------------------
def state_labels(state: Mapping) -> list[str]:
    """The regime labels in force in a published state (``regimes``, else ``regime``)."""
    labels = state.get("regimes")
    if labels is None or labels == "":
        labels = [state["regime"]] if state.get("regime") else []
    return parse_labels_lenient(labels)


def parse_labels_lenient(labels) -> list[str]:
    """Like :func:`parse_labels` but drops unknown labels (published states)."""
    if isinstance(labels, str):
        labels = labels.split(",")
    return [lab for lab in (str(x).strip() for x in labels or []) if lab in LABELS]


def size_from_state(state: Mapping, user_delta_usd: float, labels=None, *, settings=None,
                    short_put_contracts: float = 0.0) -> dict:
    """Sizing advice from a published state (its ``scenarios``, ``spot`` and ``regimes``):
    no book needed. ``labels`` overrides the state's."""
    root = state.get("underlying") or ""
    scen = state.get("scenarios")
    if not scen:
        raise ValueError(f"the state of {root or '?'} has no scenarios")
    spot = state.get("spot")
    if not isinstance(spot, (int, float)) or not spot > 0:
        raise ValueError(f"the state of {root or '?'} has no spot (got {spot!r})")
    und = settings.underlying(root) if hasattr(settings, "underlying") and root else None
    out = advise(underlying=root, spot=float(spot), scenarios=scen,
                 labels=state_labels(state) if labels is None else labels,
                 user_delta_usd=float(user_delta_usd), short_put_contracts=short_put_contracts,
                 multipliers=rule_multipliers(settings), und_settings=und)
    out["as_of"] = state.get("as_of")
    out["labels_source"] = "state" if labels is None else "given"
    out["positions"] = None
    out["gex_usd_per_pct"] = state.get("gex_usd_per_pct")
    out["source"] = {"kind": "state", "chain_path": state.get("chain_path"), "checkpoint": None}
    out["notes"] = []
    return out


def advice_for_state(state: dict, settings, book=None, base: Path | None = None) -> dict:
    """The ``sizing`` field of the published state: cheap (no revaluation: the state's
    own ``scenarios`` and ``regimes``), called once per publish cycle.

    ``long`` / ``short``: the advice for any long / short delta position (multiplier,
    rule, stance); ``position``: the advice for the user's configured position
    (``user_delta_usd``, or ``user_positions_file`` -- relative to ``base``, the config
    file's folder -- when ``book`` is given), else None. Never raises: a state it cannot
    use gives ``{"error": ...}`` beside null advice."""
    root = state.get("underlying") or ""
    out: dict = {"labels": None, "flags": [], "long": None, "short": None, "position": None,
                 "user_delta_usd": None, "error": None}
    try:
        und = settings.underlying(root)
        out["labels"] = state_labels(state)
        out["flags"] = [CHARM_FLAG] if "charm_window" in out["labels"] else []
        for name, sign in (("long", 1.0), ("short", -1.0)):
            a = size_from_state(state, sign, settings=settings)
            out[name] = {"multiplier": a["multiplier"], "rule": a["rule"],
                         "stance": a["stance"], "explanation": a["explanation"]}
        delta = getattr(und, "user_delta_usd", None)
        puts = 0.0
        pfile = getattr(und, "user_positions_file", None)
        if pfile and book is not None:
            info = user_delta_from_positions(book, read_positions(resolve(pfile, base)))
            delta, puts = info["user_delta_usd"], info["short_put_contracts"]
        if delta is not None:
            a = size_from_state(state, float(delta), settings=settings,
                                short_put_contracts=puts)
            out["user_delta_usd"] = a["user_delta_usd"]
            out["position"] = {k: a[k] for k in ("direction", "stance", "rule", "multiplier",
                                                 "explanation", "flags", "adverse_flow_usd")}
    except Exception as err:  # noqa: BLE001 - the publish cycle must not fail on advice
        out["error"] = f"{type(err).__name__}: {err}"
    return out
