"""Position models side by side: the GEX each would give, and how far they disagree.

Every model is an array of dealer contracts per contract (REFERENCE.md, Dealer position);
with the book's per-contract gamma, ``GEX_model = sum n_model M gamma S^2 0.01``. The
confidence figure is the share of models whose GEX has the same sign as the active model's
(1.0 = all agree; 0.5 = half of them say the dealers are positioned the other way), with
the spread (max - min) in USD per 1 % beside it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from monitor.core import status as st
from monitor.core.positions import dealer_positions


def load_positions_file(path: str | Path, book) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows, dealer contracts, unknown symbols) from a CSV ``symbol,dealer_contracts``
    (OCC symbols; + = dealers long). Rows of the book not in the file hold 0."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"positions file not found: {path}")
    rows, pos, unknown = [], [], 0
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            try:
                rows.append(book.index_of(rec["symbol"].strip()))
                pos.append(float(rec["dealer_contracts"]))
            except (KeyError, ValueError):
                unknown += 1
    return np.array(rows, dtype=np.int64), np.array(pos, dtype=np.float64), unknown


def model_gex(book, flow_pos: dict | None = None, user: np.ndarray | None = None,
              base_model: str = "classic") -> dict[str, float]:
    """GEX (USD per 1 %) of the book under each available position model."""
    c = book.c
    unit = np.where(c.status == st.OK, c.gamma, 0.0) * book.multiplier * book.spot ** 2 * 0.01
    out = {}
    for m in ("classic", "short_all"):
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
    vals = list(by_model.values())
    if not vals:
        return {"confidence": None, "disagreement_usd_per_pct": None}
    agree = sum(1 for v in vals if (v >= 0) == (active_gex >= 0))
    return {"confidence": agree / len(vals),
            "disagreement_usd_per_pct": max(vals) - min(vals)}
