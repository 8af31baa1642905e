"""The published state of one underlying: the flat hash written to Redis
(``{prefix}:{root}:state``, also what the Prometheus gauges read) and the per-strike
profile (``{prefix}:{root}:profile``). Built from a snapshot of the book (same numbers and
units as ``monitor snapshot --json``) plus the pipeline's data-quality figures.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np

from monitor.core import status as st
from monitor.core.exposures import KEYS as EXPOSURE_KEYS
from monitor.core.positions import confidence, model_gex, settled_vs_live
from monitor.core.surface import surface_point
from monitor.fmt import iso_utc
from monitor.ingest import UnderlyingState
from monitor.regimes.calendar import next_expiration
from monitor.regimes.engine import NY, Observation
from monitor.sentences import spot_flows
from monitor.snapshot import build_snapshot

STATE_FIELDS = ("underlying", "spot", "as_of", "as_of_ns") + EXPOSURE_KEYS + (
    "zero_gamma", "zero_gamma_distance_pct", "call_wall", "put_wall", "next_expiry",
    "expiring_share", "model", "contracts_used", "regime", "regimes", "headline",
    "headline_short", "gamma_state",
    "dex_otm_usd", "dex_itm_share", "forward", "charm_to_close_usd", "charm_to_close_shares",
    "charm_to_close_ts")


def build_state(s: UnderlyingState, regimes: list[str], wall_ns: int | None = None,
                und=None, same_below_frac: float = 0.02) -> tuple[dict, list]:
    """(state, profile) for Redis and metrics; see the module docstring. ``und``: the
    underlying's settings (its average daily volume: the tape's ``pct_adv`` and the
    scenarios' ``flow_pct_adv``; its future: ``flow_es_contracts``);
    ``same_below_frac``: the settled-vs-live ``same`` threshold
    (:func:`monitor.core.positions.settled_vs_live`)."""
    book = s.book
    snap = build_snapshot(book, und=und)
    adv_shares = snap["adv_shares"] or 0.0
    wall_ns = time.time_ns() if wall_ns is None else wall_ns
    ok = int((book.c.status == st.OK).sum())
    quoted = int((book.g.T[book.c.group] > 0).sum())
    state = {k: snap.get(k) for k in STATE_FIELDS}
    # the latest event applied: the state holds every tick up to it (the Greeks' clock is
    # that of the last whole-chain refresh, at most reeval_ms of event time earlier while
    # underlying ticks come; refreshes start at event times, never on a timer)
    state["as_of_ns"] = max(book.now_ns, s.clock_ns)
    state["as_of"] = iso_utc(state["as_of_ns"])
    state["spot_source"] = s.spot_source
    src = Path(book.chain.source) if book.chain.source else None
    # the universe this state was built on (monitor whatif --from-redis rebuilds it)
    state["chain_path"] = str(src.resolve()) if src is not None and src.exists() else None
    state["regime"] = regimes[0] if regimes else None
    state["regimes"] = ",".join(regimes)
    gross = sum(abs(r["gex_usd_per_pct_calls"]) + abs(r["gex_usd_per_pct_puts"])
                for r in snap["by_strike"])
    state["gross_gex_usd_per_pct"] = gross
    newest_quote = int(s.last_ts.max())
    oi_ns = _oi_time_ns(s)
    state["quality"] = {
        "iv_failed_ratio": 1.0 - ok / quoted if quoted else 0.0,
        # event time: the newest applied quote against the latest event of any kind, so a
        # replay is judged on its own clock and a dead quote feed shows while spot ticks
        "quote_staleness_seconds": max(0.0, (s.clock_ns - newest_quote) / 1e9)
        if newest_quote > 0 else None,
        "oi_age_seconds": max(0.0, (s.clock_ns - oi_ns) / 1e9),
        # one-sided, zero-bid and wide quotes priced off their expiry's smile
        "iv_smile_ratio": snap["iv_smile_share"] or 0.0,
    }
    sp = surface_point(book)
    state["atm_iv_pts"] = None if sp is None else 100.0 * sp.atm_iv
    state["skew_pts"] = None if sp is None else sp.skew_pts
    state["customer_puts_sold"] = s.customer_puts_sold
    state["trades_classified"] = s.classified
    state["trades_unclassified"] = s.unclassified
    # the dealers' hedges of today's classified prints (monitor.tape), + = dealers buy
    state["hedge_pressure_usd"] = s.tape.summary(adv_shares)
    state["position_model"] = s.position_model
    by_model = model_gex(book, s.flow_pos, base_model=s.base_model)
    state["model_gex_usd_per_pct"] = by_model
    state.update(confidence(state["gex_usd_per_pct"], by_model))
    state["opex_share"] = opex_share(book)
    state["scenarios"] = snap["scenarios"]
    svl = settled_vs_live(book, s.tape.session_contracts(book),
                          base_model=s.base_model, same_below_frac=same_below_frac)
    by_settled, by_live = svl.pop("by_strike")
    state["settled_vs_live"] = svl
    profile = snap["by_strike"]
    for row in profile:  # the profile's rows are the strikes with any exposure
        k = int(np.searchsorted(book.strikes, row["strike"]))
        row["gex_settled_usd_per_pct"] = float(by_settled[k])
        row["gex_live_usd_per_pct"] = float(by_live[k])
    return state, profile


def opex_share(book) -> float | None:
    """Share of gross |GEX| expiring at the next monthly expiration (AM and PM)."""
    day = dt.datetime.fromtimestamp(book.now_ns / 1e9, tz=NY).date()
    exp = np.datetime64(next_expiration(day))
    gross = np.abs(book.c.gex)
    total = gross.sum()
    if total <= 0:
        return None
    return float(gross[book.group_expiry[book.c.group] == exp].sum() / total)


def observation(s: UnderlyingState, state: dict, vol_index: float | None) -> Observation:
    down, up = spot_flows(state["scenarios"])
    return Observation(flow_down_usd=down, flow_up_usd=up,ts_ns=s.book.now_ns, spot=state["spot"],
                       gex_usd_per_pct=state["gex_usd_per_pct"],
                       gross_gex_usd_per_pct=state["gross_gex_usd_per_pct"],
                       vex_usd_per_vol_pt=state["vex_usd_per_vol_pt"],
                       cex_usd_per_day=state["cex_usd_per_day"],
                       atm_iv_pts=state["atm_iv_pts"], skew_pts=state["skew_pts"],
                       vol_index=vol_index, customer_puts_sold=s.customer_puts_sold,
                       expiration_share=state["opex_share"], zero_gamma=state["zero_gamma"],
                       **_settled_vs_live_fields(state))


def _settled_vs_live_fields(state: dict) -> dict:
    svl = state.get("settled_vs_live") or {}
    return {"settled_vs_live": svl.get("label"),
            "settled_gex_usd_per_pct": svl.get("settled_gex_usd_per_pct"),
            "live_gex_usd_per_pct": svl.get("live_gex_usd_per_pct")}


def _oi_time_ns(s: UnderlyingState) -> int:
    """When the open interest in use was published: the latest OI tick's date (end of that
    day, New York), else the chain's snapshot time."""
    if s.oi_date:
        d = dt.date.fromisoformat(s.oi_date)
        return int(dt.datetime(d.year, d.month, d.day, 23, 59, tzinfo=NY).timestamp() * 1e9)
    return int(s.book.chain.as_of_ns)


def data_quality(state: dict, max_staleness_s: float, max_oi_age_days: float) -> tuple[bool, str]:
    """(ok, reason) for holding alerts back while the data are poor."""
    q = state.get("quality") or {}
    reasons = []
    st_s = q.get("quote_staleness_seconds")
    if st_s is not None and st_s > max_staleness_s:
        reasons.append(f"newest quote {st_s:.0f} s old")
    oi = q.get("oi_age_seconds")
    if oi is not None and oi > max_oi_age_days * 86400:
        reasons.append(f"open interest {oi / 86400:.1f} days old")
    return (not reasons), "; ".join(reasons)
