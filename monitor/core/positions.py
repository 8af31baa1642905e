"""Dealer position models: the dealers' signed position ``n`` in contracts (+ = long).

REFERENCE.md, Dealer position:

* ``classic`` (SqueezeMetrics convention, the default): dealers long calls, short puts:
  ``n = +OI`` for calls, ``n = -OI`` for puts.
* ``short_all``: customers net long everything: ``n = -OI``.
* ``flow`` and ``positions`` (trade-print classification, user-supplied positions) plug in
  here as further models; the book only ever sees the resulting ``n`` array, and
  ``Book.update_positions`` re-weights contracts one at a time.

:func:`model_gex` sets the models side by side: the GEX each would give on the same
Greeks, and :func:`confidence` how far they agree (the share of models whose GEX has the
active model's sign, 1.0 = all agree, with the spread max - min in USD per 1 % beside it).
"""

import numpy as np

from monitor.core import status as st
from monitor.core.exposures import BY_KEY

MODELS = ("classic", "short_all")


def dealer_positions(model: str, is_call: np.ndarray, oi: np.ndarray) -> np.ndarray:
    """Signed dealer contracts per row for ``model``; NaN open interest counts as 0."""
    oi = np.nan_to_num(np.asarray(oi, dtype=np.float64), nan=0.0)
    if model == "classic":
        return np.where(is_call, oi, -oi)
    if model == "short_all":
        return -oi
    raise ValueError(f"unknown position model {model!r}; expected one of {', '.join(MODELS)}")



def gex_per_contract(book) -> np.ndarray:
    """GEX (USD per 1 %) of one contract long, per book row, on the book's Greeks (0 for a
    row whose Greeks do not count): what each model's positions weight."""
    gamma = np.where(book.c.status == st.OK, book.c.gamma, 0.0)
    return BY_KEY["gex_usd_per_pct"].contribution(1.0, gamma, book.multiplier, book.spot)


def model_gex(book, flow_pos: dict | None = None, user: np.ndarray | None = None,
              base_model: str = "classic") -> dict[str, float]:
    """GEX (USD per 1 %) of ``book`` under each available position model: ``classic``,
    ``short_all``, ``flow`` (``base_model`` plus the classified prints ``flow_pos``,
    ``{row: dealer contracts}``) and ``positions`` (``user``, dealer contracts per row)."""
    c = book.c
    unit = gex_per_contract(book)
    out = {}
    for m in MODELS:
        out[m] = float(dealer_positions(m, c.is_call, book.oi) @ unit)
    if flow_pos:
        base = dealer_positions(base_model, c.is_call, book.oi)
        rows = np.fromiter(flow_pos.keys(), dtype=np.int64)
        base[rows] += np.fromiter(flow_pos.values(), dtype=np.float64)
        out["flow"] = float(base @ unit)
    if user is not None:
        out["positions"] = float(user @ unit)
    return out


def confidence(active_gex: float, by_model: dict[str, float]) -> dict:
    """``{"confidence", "disagreement_usd_per_pct"}`` of the models in ``by_model``."""
    vals = list(by_model.values())
    if not vals:
        return {"confidence": None, "disagreement_usd_per_pct": None}
    agree = sum(1 for v in vals if (v >= 0) == (active_gex >= 0))
    return {"confidence": agree / len(vals),
            "disagreement_usd_per_pct": max(vals) - min(vals)}


#: settled_vs_live labels (see :func:`settled_vs_live`)
SETTLED_VS_LIVE = ("amplifying", "dampening", "flip", "same")


def settled_vs_live(book, customer_contracts: np.ndarray, base_model: str = "classic",
                    same_below_frac: float = 0.02) -> dict:
    """The settled book (``base_model`` on the open interest) and the live book (the same
    plus today's classified prints: a customer buying ``q`` contracts leaves the dealers
    ``-q``) on the same Greeks. Returns ``settled_gex_usd_per_pct``,
    ``live_gex_usd_per_pct``, ``flow_gex_usd_per_pct`` (live - settled: what today's prints
    added), ``by_strike`` (``settled``, ``live`` per strike index, calls and puts together,
    USD per 1 %) and ``label``:

    * ``same``: ``|flow| < same_below_frac`` x the settled book's gross ``|GEX|``;
    * ``flip``: live and settled GEX have opposite signs;
    * ``amplifying``: today's flow has the settled sign (the book's gamma grows);
    * ``dampening``: it has the opposite sign (shrinks, without flipping).
    """
    c = book.c
    unit = gex_per_contract(book)
    settled_pos = dealer_positions(base_model, c.is_call, book.oi)
    settled = settled_pos * unit
    flow = -np.asarray(customer_contracts, dtype=np.float64) * unit
    s, f = float(settled.sum()), float(flow.sum())
    live = s + f
    gross = float(np.abs(settled).sum())
    if abs(f) < same_below_frac * gross or f == 0.0:
        label = "same"
    elif s != 0.0 and live != 0.0 and (live > 0) != (s > 0):
        label = "flip"
    elif s == 0.0 or (f > 0) == (s > 0):  # no settled gamma: the flow alone makes it
        label = "amplifying"
    else:
        label = "dampening"
    n_strikes = len(book.strikes)
    by_settled = np.bincount(c.strike_idx, weights=settled, minlength=n_strikes)
    by_live = by_settled + np.bincount(c.strike_idx, weights=flow, minlength=n_strikes)
    return {"label": label, "base_model": base_model, "settled_gex_usd_per_pct": s,
            "live_gex_usd_per_pct": live, "flow_gex_usd_per_pct": f,
            "same_below_usd_per_pct": same_below_frac * gross,
            "by_strike": (by_settled, by_live)}
