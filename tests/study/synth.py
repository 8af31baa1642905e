"""A synthetic data directory in the shared/data layouts, with planted effects whose
answers are known:

* next-day SPX volatility is 1.5 % after a negative-GEX close and 0.5 % after a positive
  one, so the mean next-day |return| differs by (1.5 - 0.5) * sqrt(2/pi) = 0.798 pp;
* the VIX moves against SPX (-2 points per 1 % SPX) plus noise, so rallies come with a
  falling VIX;
* returns are independent, so an expiration day says nothing about the next week.

Only ``market_daily/`` is written (no calendar: OPEX dates come from exchange_calendars;
no chains, no minute bars) unless asked.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

PLANTED_ABSRET_DIFF = (1.5 - 0.5) * math.sqrt(2.0 / math.pi)


def sessions(start="2004-01-02", end="2019-12-31") -> pd.DatetimeIndex:
    from monitor.study.data import _xnys

    s = _xnys(start, end).sessions
    return pd.DatetimeIndex(s.tz_localize(None) if s.tz is not None else s)


def make_data_dir(root: Path, *, seed: int = 42, start="2004-01-02", end="2019-12-31",
                  squeeze: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    days = sessions(start, end)
    n = len(days)
    # persistent GEX regime: negative ~12 % of the time, in runs
    neg = np.zeros(n, dtype=bool)
    state = False
    for i in range(n):
        if state:
            state = rng.random() > 0.15
        else:
            state = rng.random() < 0.02
        neg[i] = state
    gex = np.where(neg, -rng.uniform(0.2e9, 2e9, n), rng.uniform(0.5e9, 6e9, n))
    sigma = np.empty(n)
    sigma[0] = 0.5
    sigma[1:] = np.where(neg[:-1], 1.5, 0.5)          # set by the previous close's GEX
    ret = rng.normal(0.0, sigma) / 100.0
    close = 1000.0 * np.cumprod(1.0 + ret)
    prev = np.concatenate([[1000.0], close[:-1]])
    rng_pct = np.abs(ret) + sigma / 100.0 * rng.uniform(0.3, 1.0, n)
    high = np.maximum(prev, close) * (1 + rng_pct * 0.3)
    low = np.minimum(prev, close) * (1 - rng_pct * 0.3)
    vix = np.empty(n)
    vix[0] = 16.0
    for i in range(1, n):
        step = -2.0 * ret[i] * 100.0 + rng.normal(0, 0.6) + 0.02 * (16.0 - vix[i - 1])
        vix[i] = max(9.0, vix[i - 1] + step)
    md = root / "market_daily"
    md.mkdir(parents=True, exist_ok=True)
    iso = days.strftime("%Y-%m-%d")
    pd.DataFrame({"date": iso, "o": prev, "h": high, "l": low, "c": close}).to_csv(
        md / "SPX_ohlc_synth.csv", index=False, float_format="%.4f")
    pd.DataFrame({"date": iso, "value": vix}).to_csv(md / "VIX_close_synth.csv", index=False,
                                                       float_format="%.2f")
    if squeeze:
        pd.DataFrame({"date": iso, "price": close, "dix": 0.4, "gex": gex}).to_csv(
            md / "squeezemetrics_DIX_GEX_synth.csv", index=False)
    return root
