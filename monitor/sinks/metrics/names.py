"""The metrics' names and label values, declared once: the namespace, tick outcomes,
rejection reasons (from the registry), regimes, histogram buckets, the gauges read from
each published state, and the profile's moneyness buckets."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping

from monitor.core.reasons import REJECTIONS
from monitor.regimes.engine import LABELS

NAMESPACE = "dealerflow"
TICK_OUTCOMES = ("applied", "stale", "duplicate", "rejected", "ignored")
#: known reasons (:data:`monitor.core.reasons.REJECTIONS`), exported at 0 from the start;
#: other names (a vendor file's, :data:`monitor.sources.databento.REASONS`) are accepted
#: while they stay few (see ``max_label_values``)
REJECT_REASONS = tuple(REJECTIONS)
DEFAULT_REGIMES = LABELS  # (the regime engine's registry)
UNKNOWN_REGIME = "unknown"
#: seconds: 20 us to 100 ms, plus 250 ms and 1 s to see outages (and +Inf)
LATENCY_BUCKETS = (20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
                   50e-3, 100e-3, 250e-3, 1.0)
BUCKET_RANGE_PCT = 10
#: the 23 bucket labels: ``<-10%``, ``-10%`` ... ``-1%``, ``0%``, ``+1%`` ... ``+10%``,
#: ``>+10%``
PROFILE_BUCKETS = (("<-10%",) + tuple(f"{k:+d}%" if k else "0%"
                                      for k in range(-BUCKET_RANGE_PCT, BUCKET_RANGE_PCT + 1))
                   + (">+10%",))
QUALITY_GAUGES = (
    ("oi_age_seconds", "Age of the open-interest data in use", "seconds"),
    ("iv_failed_ratio", "Share of quoted contracts whose IV could not be solved", "ratio"),
    ("iv_smile_ratio", "Share of contracts used whose IV comes from their expiry's smile "
     "(one-sided, zero-bid or wide quotes)", "ratio"),
    ("quote_staleness_seconds", "Age of the oldest quote still in use", "seconds"),
    ("ticks_per_second", "Ticks applied per second (recent rate)", ""),
    ("feed_lag_seconds", "How far the live feed's newest record (its capture time, "
     "Databento's ts_recv) is behind the wall clock (a live vendor feed only)", "seconds"),
)


#: ``dealerflow_forward_<key>{underlying,horizon}`` from each ``state["forward"]`` entry
FORWARD_GAUGES = (
    ("zero_gamma", "Zero gamma at the horizon (spot and IVs held), index points"),
    ("gex_usd_per_pct", "Dealer gamma exposure at the horizon (spot and IVs held), USD per "
     "1% move"),
    ("call_wall", "Call wall at the horizon (spot and IVs held), strike"),
    ("put_wall", "Put wall at the horizon (spot and IVs held), strike"),
)


def moneyness_bucket(strike: float, spot: float) -> str:
    """Bucket label of ``strike`` relative to ``spot``.

    ``m = 100 (strike / spot - 1)`` percent, rounded half-up to a whole percent ``k``:
    bucket ``k`` covers ``[k - 0.5 %, k + 0.5 %)``, ``0%`` is at the money; ``-10%`` ...
    ``+10%`` are labelled with the sign (``-3%``, ``0%``, ``+3%``); below -10.5 % is
    ``<-10%``, at or above +10.5 % is ``>+10%``. A 1e-9 % tolerance puts exact edges
    (5025 vs 5000 = +0.5 %) in the upper bucket despite float rounding.
    """
    m = 100.0 * (strike - spot) / spot
    k = math.floor(m + 0.5 + 1e-9)  # tolerance: 5025 vs 5000 is +0.5 %, bucket +1%
    if k < -BUCKET_RANGE_PCT:
        return "<-10%"
    if k > BUCKET_RANGE_PCT:
        return ">+10%"
    return f"{k:+d}%" if k else "0%"


def gex_profile(by_strike: Iterable[Mapping], spot: float) -> dict[str, float]:
    """Sum of ``gex_usd_per_pct_calls + gex_usd_per_pct_puts`` per moneyness bucket
    (every label of ``PROFILE_BUCKETS`` present)."""
    out = dict.fromkeys(PROFILE_BUCKETS, 0.0)
    for row in by_strike:
        gex = float(row.get("gex_usd_per_pct_calls") or 0.0) + float(
            row.get("gex_usd_per_pct_puts") or 0.0)
        out[moneyness_bucket(float(row["strike"]), spot)] += gex
    return out


LABEL_OK = re.compile(r"[^A-Za-z0-9_.:\-+%<>]")


class BoundedLabel:
    """Keeps a label's value set bounded: values are cleaned (``[A-Za-z0-9_.:-+%<>]``, at
    most 40 characters) and after ``cap`` distinct values new ones become ``other``."""

    def __init__(self, known: Iterable[str] = (), cap: int = 64):
        self._seen: set[str] = set(known)
        self._cap = max(cap, len(self._seen) + 1)
        self._lock = threading.Lock()

    def __call__(self, value) -> str:
        v = LABEL_OK.sub("_", str(value))[:40] or "none"
        if v in self._seen:
            return v
        with self._lock:
            if v in self._seen:
                return v
            if len(self._seen) >= self._cap:
                return "other"
            self._seen.add(v)
            return v
