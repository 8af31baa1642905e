"""The registry of dealer exposures: each one declared once, here.

An exposure is the dealers' position-weighted sum of one per-contract Greek, in dollars
(REFERENCE.md, Exposures)::

    contribution_i = n_i * M * greek_i * S**spot_power * scale

with ``n`` the dealers' signed contracts (+ = long), ``M`` the multiplier and ``S`` spot.
The kernels (:mod:`monitor.core.kernels`) compute every registered exposure per contract
and sum it into the totals, per settlement group and per strike (calls and puts apart);
the snapshot JSON, the Redis state, the Prometheus gauges, the terminal tables and the
alert text all read their keys, units, help and labels from :data:`EXPOSURES`.

Adding an exposure (e.g. vomma): compute its Greek in :func:`monitor.core.black76.greeks`
and store it in ``_eval_contract`` (:mod:`monitor.core.kernels`; the Greek's row comes
from :data:`GREEKS`), then append an :class:`Exposure` here. Nothing else changes: the
packed layout (:mod:`monitor.core.layout`), the aggregates and every output follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: per-contract Greeks, in the order :func:`monitor.core.black76.greeks` returns them
GREEKS = ("delta", "gamma", "vega", "vanna", "charm")

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Exposure:
    """One dealer exposure (see the module docstring for the contribution formula)."""

    key: str  # name everywhere: snapshot JSON, Redis state, ``dealerflow_<key>`` gauge
    field: str  # per-contract contribution row of the book (``book.c.<field>``)
    short: str  # column heading: DEX, GEX, ...
    greek: str  # the Greek it weights (one of GREEKS)
    spot_power: int  # power of spot in the contribution
    scale: float  # constant factor in the contribution
    unit: str  # what one unit of the number means ($ = US dollars)
    help: str  # one sentence for metrics and docs
    label: str  # terminal table row label
    per: str  # short unit for table headings ("/1%", "/vol pt", "/day", "")
    by_strike: str | None = None  # per-strike profile rows: "split" (calls/puts), "total", None

    def contribution(self, pos, greek, multiplier: float, spot: float):
        """Per-contract contribution in USD (numpy or scalars): the formula above."""
        return np.asarray(pos) * multiplier * np.asarray(greek) * (
            spot ** self.spot_power) * self.scale


EXPOSURES: tuple[Exposure, ...] = (
    Exposure("dex_usd", "dex", "DEX", "delta", 1, 1.0, "$",
             "Dealer delta exposure: the dealers' dollar delta", "delta", ""),
    Exposure("gex_usd_per_pct", "gex", "GEX", "gamma", 2, 0.01, "$ per 1% spot move",
             "Dealer gamma exposure: change of dealer dollar delta for a +1% spot move",
             "gamma  per 1% spot", "/1%", by_strike="split"),
    Exposure("vex_usd_per_vol_pt", "vex", "VEX", "vanna", 1, 0.01,
             "$ per vol point",
             "Dealer vanna exposure: change of dealer dollar delta per +1 IV point",
             "vanna  per vol pt", "/vol pt", by_strike="total"),
    Exposure("cex_usd_per_day", "cex", "CEX", "charm", 1, 1.0 / DAYS_PER_YEAR,
             "$ per day",
             "Dealer charm exposure: change of dealer dollar delta per calendar day",
             "charm  per day", "/day", by_strike="total"),
)

KEYS = tuple(e.key for e in EXPOSURES)
BY_KEY = {e.key: e for e in EXPOSURES}
#: column of each exposure in the aggregates (totals, by_group, by_strike's last axis)
DEX, GEX, VEX, CEX = (KEYS.index(k) for k in
                      ("dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day"))
N_EXPOSURES = len(EXPOSURES)


def totals_dict(row) -> dict[str, float]:
    """``{key: float}`` of one aggregate row (totals or one settlement group)."""
    return {e.key: float(row[k]) for k, e in enumerate(EXPOSURES)}
