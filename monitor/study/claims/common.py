"""What every claim shares: the verdict thresholds, the event definitions and block
lengths (each printed in the report), the daily frame, and the estimators over it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from monitor.study import stats as S
from monitor.study.data import DailyData

# -- verdict thresholds ("too thin" below these) -------------------------------------------
MIN_N_GROUP = 30     # each group of a two-group comparison

MIN_N_CORR = 30      # pairs in a correlation / each regime of a slope


MIN_N_SHARE = 30     # trials of a hit rate / share

MIN_EPISODES = 10    # independent episodes of an event study


# "no relation" claims are supported only if the interval lies within null ± margin
NULL_MARGIN_R = 0.2      # correlation

NULL_MARGIN_HIT = 0.1    # hit rate around 0.5


NULL_MARGIN_RET = 0.2    # mean daily return difference, pp


# -- bootstrap -----------------------------------------------------------------------------
N_BOOT = 2000

SEED = 20260821


# -- claim parameters ----------------------------------------------------------------------
RALLY_DAYS = 5       # claim 2: non-overlapping windows of this many sessions ...

RALLY_PCT = 2.0      # ... with an SPX gain above this (percent) are "multi-day rallies"


JUMP_DAYS = 5        # claim 3: VIX up by at least JUMP_POINTS within JUMP_DAYS sessions

JUMP_POINTS = 10.0


HORIZONS = (5, 21, 63)

EPISODE_GAP = 21     # sessions without an event that separate two episodes


SELLOFF_DAYS = 63    # claim 3: "end of the sell-off" = no further fall of more than

SELLOFF_DD_PCT = 5.0  # SELLOFF_DD_PCT percent below the event close within SELLOFF_DAYS


NEXT_WEEK = 5        # claim 4: sessions after the expiration


def daily_frame(daily: DailyData) -> pd.DataFrame:
    """SPX sessions with close, ret (%), absret, range ((H-L)/previous close, %), the VIX
    close and the SqueezeMetrics GEX of the same date (NaN where absent)."""
    spx = daily.spx
    d = pd.DataFrame(index=spx.index)
    d["close"] = spx["close"]
    d["ret"] = spx["close"].pct_change() * 100.0
    d["absret"] = d["ret"].abs()
    d["range"] = (spx["high"] - spx["low"]) / spx["close"].shift(1) * 100.0
    d["vix"] = daily.vix.reindex(spx.index)
    d["gex"] = daily.gex["gex"].reindex(spx.index)
    return d


def fmt(x, nd=2):
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def ci(lo, hi, nd=2):
    return f"[{fmt(lo, nd)}, {fmt(hi, nd)}]"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def mean_row(y: pd.Series, mask, nd=3, block: int = None):
    """(days, "mean [CI]", Estimate) of ``y`` on the days of ``mask``: the mean with a
    circular block bootstrap interval over the whole daily series (blocks of
    ``block`` days, default DAILY_BLOCK), so the clustering of the days is kept."""
    e = S.block_bootstrap_event_diff(y.to_numpy(), np.asarray(mask, dtype=bool),
                                     block=block or DAILY_BLOCK, n_boot=N_BOOT, seed=SEED,
                                     versus="none", episode_gap=1)
    return e.extra["n_event_days"], f"{fmt(e.estimate, nd)} {ci(e.lo, e.hi, nd)}", e


def trailing_rank(x: pd.Series, window: int = 252) -> pd.Series:
    """Share of the previous ``window - 1`` values below today's (no look-ahead)."""
    def f(w):
        return float((w[-1] > w[:-1]).mean())

    return x.rolling(window).apply(f, raw=True)


#: days per block of the block bootstrap over daily series (a trading month: regimes such
#: as negative GEX cluster for weeks)
DAILY_BLOCK = 21

#: blocks of the 5-session windows of claim 2 (4 windows = about a month)
WINDOW_BLOCK = 4

#: blocks for the 2026 own-GEX sample (about 40 sessions: a month-long block would leave
#: too few blocks to resample)
SHORT_BLOCK = 5

#: Newey-West lags for regressions on daily series (a trading month, as DAILY_BLOCK)
HAC_LAGS = 21

MIN_N_EPISODES = 10


def short_diff(y: pd.Series, event: np.ndarray, n_boot: int, seed: int) -> S.Estimate:
    """:func:`daily_diff` for the 2026 own-GEX sample: blocks of SHORT_BLOCK days, and n =
    the smaller group in days (the verdict's "too thin" rule for a two-group comparison)."""
    e = S.block_bootstrap_event_diff(y.to_numpy(), event, block=SHORT_BLOCK, n_boot=n_boot,
                                     seed=seed, versus="rest", episode_gap=0)
    e.n = min(e.extra["n_a"], e.extra["n_b"])
    return e


def spearman_block(x: pd.Series, y: pd.Series) -> S.Estimate:
    """Spearman rho of two daily series with a circular block bootstrap interval (ranks
    over the whole sample, blocks of DAILY_BLOCK days; Fisher z would assume independent
    days, and GEX is persistent for months)."""
    ok = x.notna() & y.notna()
    rx, ry = x[ok].rank().to_numpy(), y[ok].rank().to_numpy()
    every = np.ones(len(rx), dtype=bool)
    r = S.block_bootstrap_slopes(ry, rx, every, every, block=DAILY_BLOCK, n_boot=N_BOOT,
                                 seed=SEED)["r_a"]
    r.method = f"Spearman rho, {r.method}"
    return r


def daily_diff(y: pd.Series, event: np.ndarray, n_boot: int, seed: int) -> S.Estimate:
    """mean(y on event days) - mean(y on the other days) of a daily series, with a
    circular block bootstrap interval (blocks of DAILY_BLOCK days; n = episodes)."""
    return S.block_bootstrap_event_diff(y.to_numpy(), event, block=DAILY_BLOCK, n_boot=n_boot,
                                        seed=seed, versus="rest")
