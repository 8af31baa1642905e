"""The regime engine: labels that hold for an underlying, and an event each time one
changes (REFERENCE.md, Regimes). Pure: observations in, events out; the service feeds it
once per publish cycle and stores its state (``to_dict``) in Redis so a restart does not
forget the lookback history.

Families, each with at most one label at a time (several families can hold at once):

* ``gamma``: ``long_gamma`` / ``short_gamma``: sign of total GEX with a dead band of
  ``gamma_dead_band_frac`` x gross |GEX| (the label flips only past the far side).
* ``vanna``: with ``d_iv`` the ATM IV change over ``window_s`` (vol points) and the vanna
  hedge flow it implies, ``flow = -VEX x d_iv`` (USD, + = dealers buy):
  ``vanna_tailwind`` when IV fell by ``vanna_iv_change_pts`` and that flow is dealer
  buying of at least ``vanna_min_flow_usd``; ``vanna_headwind`` when IV rose as much and
  the flow is dealer selling of at least that much.
* ``feedback``: ``feedback_selloff`` when dealers are short gamma, spot changed by
  ``feedback_spot_pct`` or less and ATM IV rose by ``feedback_iv_pts`` or more over the
  window. Opens a sell-off episode (start, IV peak, GEX trough).
* ``exhaustion``: within ``exhaustion_memory_s`` of a sell-off: put premium at an extreme
  (the episode's peak of the premium measure -- the VIX-like index when fed, else ATM IV --
  at or above the ``exhaustion_percentile`` of its history before the episode; with fewer
  than ``exhaustion_min_history`` such samples: at least 2 x ``feedback_iv_pts`` above its
  level at the episode start) AND rolling over (``exhaustion_rollover_pts`` off the peak)
  AND sellers arriving (customers net sold ``exhaustion_put_selling_contracts`` puts over
  the window under the flow model, or GEX recovered ``exhaustion_gamma_recovery_frac`` of
  the way from its trough toward zero).
* ``charm``: ``charm_window`` within ``charm_sessions`` NYSE sessions of a monthly
  expiration (quarterly = quad witching) holding ``charm_min_expiring_share`` of gross
  |GEX|. Mechanical and non-directional, and the event says so.

Hysteresis: a label exits only when its driving number is back past ``exit_frac`` of its
entry threshold; and no family changes label within ``min_dwell_s`` of its last change.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from monitor.config import RegimeSettings
from monitor.fmt import money
from monitor.regimes.calendar import is_quarterly, next_expiration, sessions_until
from monitor.sentences import gamma_sentence

NY = ZoneInfo("America/New_York")
FAMILIES = ("gamma", "vanna", "feedback", "exhaustion", "charm")
LABELS = ("long_gamma", "short_gamma", "vanna_tailwind", "vanna_headwind", "feedback_selloff",
          "exhaustion", "charm_window")


@dataclass
class Observation:
    """One look at an underlying (units in the names; IVs in vol points)."""

    ts_ns: int
    spot: float
    gex_usd_per_pct: float
    gross_gex_usd_per_pct: float
    vex_usd_per_vol_pt: float
    cex_usd_per_day: float
    atm_iv_pts: float | None
    skew_pts: float | None = None
    vol_index: float | None = None  # VIX-like level, when fed
    customer_puts_sold: float = 0.0  # cumulative, contracts (flow model); - = bought
    expiration_share: float | None = None  # share of gross |GEX| at the next monthly OPEX
    zero_gamma: float | None = None
    #: dealers' hedge flow (USD, + = buy) for spot -1 % / +1 %, full revaluation
    flow_down_usd: float | None = None
    flow_up_usd: float | None = None
    #: the settled-vs-live label and the two books' GEX (monitor.core.positions)
    settled_vs_live: str | None = None
    settled_gex_usd_per_pct: float | None = None
    live_gex_usd_per_pct: float | None = None


class RegimeEngine:
    def __init__(self, root: str, cfg: RegimeSettings | None = None):
        self.root = root
        self.cfg = cfg or RegimeSettings()
        self.labels: dict[str, str | None] = {f: None for f in FAMILIES}
        self.changed_ns: dict[str, int] = {f: -(2**62) for f in FAMILIES}
        self.window: deque = deque()  # (ts_ns, spot, atm_iv_pts, puts_sold, premium)
        self.premium: deque = deque()  # (ts_ns, premium) sampled every sample_s
        self.episode: dict | None = None  # the current / last sell-off

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"root": self.root, "labels": self.labels, "changed_ns": self.changed_ns,
                "window": list(self.window), "premium": list(self.premium),
                "episode": self.episode}

    def restore(self, d: dict) -> None:
        self.labels = {f: d["labels"].get(f) for f in FAMILIES}
        self.changed_ns = {f: int(d["changed_ns"].get(f, -(2**62))) for f in FAMILIES}
        self.window = deque(tuple(x) for x in d["window"])
        self.premium = deque(tuple(x) for x in d["premium"])
        self.episode = d.get("episode")

    @property
    def current(self) -> list[str]:
        """Labels in force, gamma first."""
        return [lab for f in FAMILIES if (lab := self.labels[f])]

    # -- the update ---------------------------------------------------------------------
    def update(self, o: Observation) -> list[dict]:
        cfg = self.cfg
        ns_window = int(cfg.window_s * 1e9)
        iv = o.atm_iv_pts
        premium = o.vol_index if o.vol_index is not None else iv
        self.window.append((o.ts_ns, o.spot, iv, o.customer_puts_sold, premium))
        while len(self.window) > 1 and self.window[1][0] <= o.ts_ns - ns_window:
            self.window.popleft()
        t0, spot0, iv0, sold0, premium0 = self.window[0]
        spot_ret_pct = 100.0 * (o.spot / spot0 - 1.0)
        d_iv = (iv - iv0) if iv is not None and iv0 is not None else 0.0
        puts_sold = o.customer_puts_sold - sold0
        if premium is not None and (not self.premium
                                    or o.ts_ns - self.premium[-1][0] >= cfg.sample_s * 1e9):
            self.premium.append((o.ts_ns, premium))
        lookback = int(cfg.exhaustion_lookback_s * 1e9)
        while self.premium and self.premium[0][0] < o.ts_ns - lookback:
            self.premium.popleft()

        ctx = dict(o=o, spot_ret_pct=spot_ret_pct, d_iv=d_iv, puts_sold=puts_sold,
                   premium=premium, premium0=premium0, vanna_flow_usd=-o.vex_usd_per_vol_pt * d_iv)
        wanted = {
            "gamma": self._gamma(o),
            "vanna": self._vanna(ctx),
            "feedback": None,
            "exhaustion": None,
            "charm": self._charm(o),
        }
        # feedback needs the gamma label as it will be after this update
        wanted["feedback"] = self._feedback(ctx, wanted["gamma"])
        self._track_episode(ctx, wanted["feedback"])
        wanted["exhaustion"] = self._exhaustion(ctx)
        events = []
        for fam in FAMILIES:
            new = wanted[fam]
            old = self.labels[fam]
            if new == old:
                continue
            if o.ts_ns - self.changed_ns[fam] < cfg.min_dwell_s * 1e9 and old is not None:
                continue  # minimum dwell: let the label hold a little longer
            self.labels[fam] = new
            self.changed_ns[fam] = o.ts_ns
            events.append(self._event(fam, old, new, ctx))
        return events

    # -- families -----------------------------------------------------------------------
    def _gamma(self, o: Observation) -> str:
        band = self.cfg.gamma_dead_band_frac * o.gross_gex_usd_per_pct
        cur = self.labels["gamma"]
        if cur is None:
            return "long_gamma" if o.gex_usd_per_pct >= 0 else "short_gamma"
        if cur == "long_gamma" and o.gex_usd_per_pct < -band:
            return "short_gamma"
        if cur == "short_gamma" and o.gex_usd_per_pct > band:
            return "long_gamma"
        return cur

    def _vanna(self, c: dict) -> str | None:
        cfg = self.cfg
        thr, flow_thr, k = cfg.vanna_iv_change_pts, cfg.vanna_min_flow_usd, cfg.exit_frac
        d_iv, flow = c["d_iv"], c["vanna_flow_usd"]
        cur = self.labels["vanna"]
        if cur == "vanna_tailwind" and d_iv <= -thr * k and flow >= flow_thr * k:
            return cur
        if cur == "vanna_headwind" and d_iv >= thr * k and flow <= -flow_thr * k:
            return cur
        if d_iv <= -thr and flow >= flow_thr:
            return "vanna_tailwind"
        if d_iv >= thr and flow <= -flow_thr:
            return "vanna_headwind"
        return None

    def _feedback(self, c: dict, gamma: str) -> str | None:
        cfg = self.cfg
        k = cfg.exit_frac
        if gamma != "short_gamma":
            return None
        if self.labels["feedback"] == "feedback_selloff":
            hold = (c["spot_ret_pct"] <= cfg.feedback_spot_pct * k
                    and c["d_iv"] >= cfg.feedback_iv_pts * k)
            return "feedback_selloff" if hold else None
        enter = c["spot_ret_pct"] <= cfg.feedback_spot_pct and c["d_iv"] >= cfg.feedback_iv_pts
        return "feedback_selloff" if enter else None

    def _track_episode(self, c: dict, feedback: str | None) -> None:
        """Open a sell-off episode when feedback_selloff starts; track its IV and premium
        peaks and GEX trough; note when the feedback label ends."""
        o = c["o"]
        iv, prem = o.atm_iv_pts, c["premium"]
        ep = self.episode
        if feedback and self.labels["feedback"] is None and (ep is None or ep["ended_ns"]):
            cutoff = self.window[0][0]
            self.episode = ep = {
                "start_ns": o.ts_ns, "ended_ns": None, "iv_peak": iv, "premium_peak": prem,
                "premium_start": c["premium0"], "gex_trough": o.gex_usd_per_pct,
                "history": [p for t, p in self.premium if t < cutoff]}
        if ep is None:
            return
        if iv is not None and (ep["iv_peak"] is None or iv > ep["iv_peak"]):
            ep["iv_peak"] = iv
        if prem is not None and (ep["premium_peak"] is None or prem > ep["premium_peak"]):
            ep["premium_peak"] = prem
        ep["gex_trough"] = min(ep["gex_trough"], o.gex_usd_per_pct)
        if not feedback and self.labels["feedback"] and ep["ended_ns"] is None:
            ep["ended_ns"] = o.ts_ns

    def _exhaustion(self, c: dict) -> str | None:
        cfg = self.cfg
        ep, o = self.episode, c["o"]
        if ep is None or o.ts_ns - ep["start_ns"] > cfg.exhaustion_memory_s * 1e9:
            return None
        if self.labels["exhaustion"] == "exhaustion":
            return "exhaustion"  # holds until the episode's memory runs out
        hist = ep["history"]
        peak = ep["premium_peak"]
        if peak is None:
            return None
        if len(hist) >= cfg.exhaustion_min_history:
            threshold = float(np.percentile(hist, cfg.exhaustion_percentile))
        else:
            threshold = ep["premium_start"] + 2.0 * cfg.feedback_iv_pts
        extreme = peak >= threshold
        iv = o.atm_iv_pts
        rolled = iv is not None and ep["iv_peak"] is not None and \
            ep["iv_peak"] - iv >= cfg.exhaustion_rollover_pts
        trough = ep["gex_trough"]
        recovered = trough < 0 and (o.gex_usd_per_pct - trough) >= \
            cfg.exhaustion_gamma_recovery_frac * abs(trough)
        selling = c["puts_sold"] >= cfg.exhaustion_put_selling_contracts > 0
        c["exhaustion"] = {"premium_peak": peak, "premium_threshold": threshold,
                           "iv_off_peak_pts": (ep["iv_peak"] - iv) if rolled else None,
                           "puts_sold": c["puts_sold"], "gex_recovered": recovered}
        return "exhaustion" if extreme and rolled and (selling or recovered) else None

    def _charm(self, o: Observation) -> str | None:
        cfg = self.cfg
        day = dt.datetime.fromtimestamp(o.ts_ns / 1e9, tz=NY).date()
        exp = next_expiration(day)
        n = sessions_until(day, exp)
        share = o.expiration_share or 0.0
        cur = self.labels["charm"]
        need = cfg.charm_min_expiring_share * (cfg.exit_frac if cur else 1.0)
        if n <= cfg.charm_sessions and share >= need:
            return "charm_window"
        return None

    # -- events -------------------------------------------------------------------------
    def _event(self, fam: str, old: str | None, new: str | None, c: dict) -> dict:
        o = c["o"]
        ev = {"kind": "regime_change", "ts_ns": int(o.ts_ns), "underlying": self.root,
              "regime": fam, "from": old, "to": new, "labels": self.current,
              "spot": o.spot, "gex_usd_per_pct": o.gex_usd_per_pct,
              "vex_usd_per_vol_pt": o.vex_usd_per_vol_pt, "cex_usd_per_day": o.cex_usd_per_day,
              "zero_gamma": o.zero_gamma,
              "zero_gamma_distance_pct": (None if o.zero_gamma is None or not o.spot
                                          else 100.0 * (o.zero_gamma / o.spot - 1.0)),
              "flow_spot_down_1pct_usd": o.flow_down_usd, "flow_spot_up_1pct_usd": o.flow_up_usd,
              "atm_iv_pts": o.atm_iv_pts,
              "spot_change_pct": c["spot_ret_pct"], "iv_change_pts": c["d_iv"],
              "window_s": self.cfg.window_s, "mechanical": fam == "charm",
              "settled_vs_live": o.settled_vs_live,
              "settled_gex_usd_per_pct": o.settled_gex_usd_per_pct,
              "live_gex_usd_per_pct": o.live_gex_usd_per_pct}
        ev["message"] = self._sentence(fam, new, old, c, ev)
        if "exhaustion" in c and fam == "exhaustion":
            ev.update({k: v for k, v in c["exhaustion"].items()})
        return ev

    def _sentence(self, fam, new, old, c, ev) -> str:
        o = c["o"]
        g = money(abs(o.gex_usd_per_pct)).lstrip("+-")
        win = _duration(self.cfg.window_s)
        if new is None:
            return f"{old.replace('_', ' ')} no longer holds for {self.root}"
        if new in ("short_gamma", "long_gamma"):
            return gamma_sentence(gex_usd_per_pct=o.gex_usd_per_pct, spot=o.spot,
                                  zero_gamma=o.zero_gamma, flow_down_usd=o.flow_down_usd,
                                  flow_up_usd=o.flow_up_usd)
        flow = money(abs(c["vanna_flow_usd"])).lstrip("+-")
        if new == "vanna_tailwind":
            return (f"IV down {abs(c['d_iv']):.1f} pts over {win}: dealers' vanna hedge is "
                    f"buying about {flow} (linear: VEX x the IV change); a slow grind higher "
                    f"can be this flow, not fundamental buying")
        if new == "vanna_headwind":
            return (f"IV up {c['d_iv']:.1f} pts over {win}: dealers' vanna hedge is selling "
                    f"about {flow} (linear: VEX x the IV change)")
        if new == "feedback_selloff":
            fall = (f"a further 1% fall has them {'sell' if o.flow_down_usd < 0 else 'buy'} "
                    f"{money(abs(o.flow_down_usd), signed=False)} (full revaluation)"
                    if o.flow_down_usd is not None else
                    f"each further 1% fall forces about {g} of selling (linear estimate)")
            return (f"Feedback sell-off: dealers short {g} gamma per 1% locally, spot "
                    f"{c['spot_ret_pct']:+.1f}% and IV {c['d_iv']:+.1f} pts over {win}; {fall}")
        if new == "exhaustion":
            ex = c.get("exhaustion", {})
            why = "customers selling puts" if ex.get("puts_sold", 0) >= \
                self.cfg.exhaustion_put_selling_contracts > 0 else "dealer gamma back toward zero"
            return (f"Exhaustion: put premium at an extreme (peak {ex.get('premium_peak', 0):.1f}) "
                    f"and rolling over ({ex.get('iv_off_peak_pts') or 0:.1f} pts off the peak), "
                    f"{why}: the mechanical selling is fading; high IV is the put seller's "
                    f"opportunity")
        if new == "charm_window":
            day = dt.datetime.fromtimestamp(o.ts_ns / 1e9, tz=NY).date()
            exp = next_expiration(day)
            kind = "quarterly (quad witching)" if is_quarterly(exp) else "monthly"
            return (f"Charm window: {sessions_until(day, exp)} sessions to the {exp} {kind} "
                    f"expiration holding {100 * (o.expiration_share or 0):.0f}% of gross gamma; "
                    f"charm {money(o.cex_usd_per_day)}/day. The hedge unwind is mechanical and "
                    f"says nothing about direction")
        return f"{new} for {self.root}"


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
