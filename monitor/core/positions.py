"""Dealer position models: the dealers' signed position ``n`` in contracts (+ = long).

REFERENCE.md, Dealer position:

* ``classic`` (SqueezeMetrics convention, the default): dealers long calls, short puts:
  ``n = +OI`` for calls, ``n = -OI`` for puts.
* ``short_all``: customers net long everything: ``n = -OI``.
* ``flow`` and ``positions`` (trade-print classification, user-supplied positions) plug in
  here as further models; the book only ever sees the resulting ``n`` array, and
  ``Book.update_positions`` re-weights contracts one at a time.
"""

import numpy as np

MODELS = ("classic", "short_all")


def dealer_positions(model: str, is_call: np.ndarray, oi: np.ndarray) -> np.ndarray:
    """Signed dealer contracts per row for ``model``; NaN open interest counts as 0."""
    oi = np.nan_to_num(np.asarray(oi, dtype=np.float64), nan=0.0)
    if model == "classic":
        return np.where(is_call, oi, -oi)
    if model == "short_all":
        return -oi
    raise ValueError(f"unknown position model {model!r}; expected one of {', '.join(MODELS)}")

