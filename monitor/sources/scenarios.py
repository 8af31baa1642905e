"""Scripted demo scenarios for the embedded simulator (``embedded.scenario``), so the
embedded default shows regime changes and alerts within a minute instead of waiting for a
market to move. Synthetic paths (the starting chain is real); the regime windows are
compressed to seconds to match (:data:`DEMO_REGIMES`, applied only with a scenario).

* ``melt_up``: spot +1.5 % over 20 s while implied vols fall 3 points, then flat: the
  dealers' vanna hedge buys (``vanna_tailwind``).
* ``selloff``: 4 s flat, then spot -3 % over 12 s with vols +6 points (dealers flip short
  gamma, ``feedback_selloff``), then vols roll over 3 points with customers selling puts
  (``exhaustion``).
"""

from __future__ import annotations

SCENARIOS: dict[str, dict] = {
    "melt_up": {"spot_path": [(0, 0.0), (20, 1.5), (40, 1.5)],
                "vol_path": [(0, 0.0), (20, -3.0), (40, -3.0)]},
    "selloff": {"spot_path": [(0, 0.0), (4, 0.0), (16, -3.0), (24, -3.0)],
                "vol_path": [(0, 0.0), (4, 0.0), (16, 6.0), (24, 3.0)],
                "put_selling_path": [(0, 0.0), (16, 0.0), (17, 1.0), (24, 1.0)]},
}

#: regime settings for the demos: windows of seconds instead of half an hour
DEMO_REGIMES = {"window_s": 4.0, "min_dwell_s": 1.0, "sample_s": 0.2,
                "vanna_iv_change_pts": 1.0, "vanna_min_flow_usd": 1e9,
                "feedback_spot_pct": -1.0, "feedback_iv_pts": 1.0,
                "exhaustion_min_history": 5, "exhaustion_rollover_pts": 1.0,
                "exhaustion_put_selling_contracts": 500.0}
