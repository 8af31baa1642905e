"""The published state of one underlying: the flat hash written to Redis
(``{prefix}:{root}:state``), the per-strike profile (``{prefix}:{root}:profile``) and the
dict the Prometheus collector reads. Built from a snapshot of the book (same numbers and
units as ``monitor snapshot --json``) plus the pipeline's data-quality figures.
"""

from __future__ import annotations

import time

from monitor.core import status as st
from monitor.pipeline import UnderlyingState
from monitor.snapshot import build_snapshot

STATE_FIELDS = ("underlying", "spot", "as_of", "as_of_ns", "dex_usd", "gex_usd_per_pct",
                "vex_usd_per_vol_pt", "cex_usd_per_day", "zero_gamma",
                "zero_gamma_distance_pct", "call_wall", "put_wall", "next_expiry",
                "expiring_share", "model", "contracts_used", "regime", "regimes")


def build_state(s: UnderlyingState, regimes: list[str], wall_ns: int | None = None) -> tuple[dict, list]:
    """(state, profile) for Redis and metrics; see the module docstring."""
    book = s.book
    snap = build_snapshot(book)
    wall_ns = time.time_ns() if wall_ns is None else wall_ns
    ok = int((book.c.status == st.OK).sum())
    quoted = int((book.g.T[book.c.group] > 0).sum())
    state = {k: snap.get(k) for k in STATE_FIELDS}
    state["as_of_ns"] = book.now_ns
    state["regime"] = regimes[0] if regimes else None
    state["regimes"] = ",".join(regimes)
    gross = sum(abs(r["gex_usd_per_pct_calls"]) + abs(r["gex_usd_per_pct_puts"])
                for r in snap["by_strike"])
    state["gross_gex_usd_per_pct"] = gross
    state["quality"] = {
        "iv_failed_ratio": 1.0 - ok / quoted if quoted else 0.0,
        "quote_staleness_seconds": max(0.0, (wall_ns - int(s.last_ts.max())) / 1e9)
        if s.last_ts.max() > 0 else None,
        "oi_age_seconds": None,
    }
    state["scenarios"] = snap["scenarios"]
    state["by_strike"] = snap["by_strike"]  # for the metrics collector; not written to the hash
    return state, snap["by_strike"]


def redis_state(state: dict) -> dict:
    """The hash fields (the profile goes to its own key)."""
    return {k: v for k, v in state.items() if k != "by_strike"}
