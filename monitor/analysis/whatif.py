"""What-if: the dealers' hedge flow for any mix of spot move, vol change and time passing,
and the flow curve over a spot range (the object behind ``monitor whatif --json``,
documented field by field in docs/analytics.md).

Units and signs (REFERENCE.md, Hedge flow; :mod:`monitor.core.scenarios`):

* ``flow_usd``: full revaluation (``surface``: sticky strike by default, or sticky
  moneyness on the expiries' smiles), ``-sum n M (delta' - delta) * S`` with
  ``S`` today's spot; positive = dealers BUY the underlying. ``flow_usd_linear`` is
  ``-(GEX spot_pct + VEX vol_pts + CEX days)``.
* ``flow_shares = flow_usd / S`` (shares, or index units for an index).
* ``flow_es_contracts = flow_shares / es_multiplier`` = ``flow_usd / (es_multiplier S)``:
  the number of E-mini futures with the same delta (one ES contract carries
  ``es_multiplier`` index units of delta). ``None`` when the underlying's
  ``es_multiplier`` is 0 (only SPX has one by default).
* ``flow_pct_adv = 100 flow_shares / adv_shares`` (signed, percent of the configured
  average daily volume); ``None`` when ``adv_shares`` is 0 (unknown).

The curve: ``curve_points`` spot moves evenly spaced over ``curve_range`` (percent), plus
the scenario's own spot move when it lies inside the range and off the grid, each a full
revaluation with the scenario's vol change and days (so the curve passes through the
scenario), with the GEX at that spot (current IV and T, sticky strike).

The book comes from a chain file (:func:`monitor.books.book_from_chain`) or the live
service (:func:`monitor.analysis.live.load_live`).
"""

from __future__ import annotations

import math

import numpy as np

from monitor.config import UnderlyingSettings
from monitor.core import levels
from monitor.core.scenarios import flow_units, hedge_flow
from monitor.fmt import iso_utc
from monitor.snapshot import scale_fields

SCHEMA_VERSION = 1
DEFAULT_CURVE_RANGE = (-5.0, 5.0)
DEFAULT_CURVE_POINTS = 21
MAX_CURVE_POINTS = 1001


def _und(settings, root: str):
    """UnderlyingSettings from a Settings (``.underlying(root)``), an UnderlyingSettings,
    or None (defaults)."""
    if settings is None:
        return UnderlyingSettings()
    if hasattr(settings, "underlying") and callable(settings.underlying):
        return settings.underlying(root)
    return settings


def _grid(curve_range, curve_points: int, spot_pct: float) -> np.ndarray:
    lo, hi = (float(x) for x in curve_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and -100.0 < lo < hi):
        raise ValueError(f"curve range must be LO < HI with LO > -100 %, got {curve_range!r}")
    if not 2 <= int(curve_points) <= MAX_CURVE_POINTS:
        raise ValueError(f"curve points must be 2..{MAX_CURVE_POINTS}, got {curve_points!r}")
    pts = np.linspace(lo, hi, int(curve_points))
    pts = np.round(pts, 10)  # -5 + 0.5 k exactly, so the scenario lands on the grid
    if lo <= spot_pct <= hi and not np.any(np.isclose(pts, spot_pct, rtol=0, atol=1e-9)):
        pts = np.sort(np.append(pts, spot_pct))
    return pts


def whatif(book, spot_pct: float = 0.0, vol_pts: float = 0.0, days: float = 0.0, *,
           settings=None, curve_range=DEFAULT_CURVE_RANGE,
           curve_points: int = DEFAULT_CURVE_POINTS, source: dict | None = None,
           notes: list[str] | None = None, surface: str = "sticky_strike") -> dict:
    """Every number of ``monitor whatif --json`` for ``book`` (docs/analytics.md, ``monitor whatif``).

    ``settings``: a :class:`monitor.config.Settings` or the underlying's
    ``UnderlyingSettings`` (``es_multiplier``, ``adv_shares``); None = defaults (no ES,
    unknown ADV). ``source``: echoed as the ``source`` field (default: the chain's file);
    ``notes``: extra lines for the ``notes`` field (e.g. :attr:`LiveBook.notes`);
    ``surface``: ``sticky_strike`` or ``sticky_moneyness`` (:mod:`monitor.core.scenarios`).
    """
    for name, v in (("spot_pct", spot_pct), ("vol_pts", vol_pts), ("days", days)):
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if spot_pct <= -100.0:
        raise ValueError(f"spot_pct must be above -100, got {spot_pct!r}")
    if days < 0:
        raise ValueError(f"days must be 0 or more, got {days!r}")
    scale = scale_fields(_und(settings, book.underlying))
    spot = float(book.spot)
    f = hedge_flow(book, float(spot_pct), float(vol_pts), float(days), surface)
    grid = _grid(curve_range, curve_points, float(spot_pct))
    spots = spot * (1.0 + grid / 100.0)
    gex = levels.gex_curve(book, spots)
    curve = []
    for pct, s_, g in zip(grid.tolist(), spots.tolist(), gex.tolist()):
        p = hedge_flow(book, pct, float(vol_pts), float(days), surface)
        curve.append({"spot_pct": pct, "spot": s_, "flow_usd": p.flow_usd,
                      "flow_usd_linear": p.flow_usd_linear, "flow_shares": p.flow_shares,
                      "gex_usd_per_pct": g})
    zg = levels.zero_gamma(book)
    call_wall, put_wall = levels.walls(book)
    t = book.totals
    out = {
        "schema": SCHEMA_VERSION,
        "underlying": book.underlying,
        "as_of": iso_utc(book.now_ns),
        "source": source if source is not None else {"kind": "chain",
                                                     "chain_path": book.chain.source or None,
                                                     "checkpoint": None},
        "model": book.model,
        "multiplier": book.multiplier,
        "spot": spot,
        "spot_pct": float(spot_pct),
        "vol_pts": float(vol_pts),
        "days": float(days),
        "surface": surface,
        "spot_after": spot * (1.0 + spot_pct / 100.0),
        "flow_usd": f.flow_usd,
        "flow_usd_linear": f.flow_usd_linear,
        **flow_units(f.flow_usd, spot, scale["es_multiplier"], scale["adv_shares"]),
        "dealers": "buy" if f.flow_usd > 0 else "sell" if f.flow_usd < 0 else "none",
        **scale,
        **t,
        "zero_gamma": zg,
        "zero_gamma_distance_pct": None if zg is None else 100.0 * (zg / spot - 1.0),
        "call_wall": call_wall,
        "put_wall": put_wall,
        "curve_range": [float(grid[0]), float(grid[-1])],
        "curve": curve,
        "notes": list(book.chain.notes) + list(notes or []),
    }
    return out


