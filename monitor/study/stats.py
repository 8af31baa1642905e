"""Statistics for ``monitor study``: point estimates with confidence intervals and the
verdict rule. Pure numpy (no scipy at run time); every function ignores NaN inputs.

Intervals (all two-sided, ``level`` = 0.95 unless given):

* :func:`mean_ci`            Student t interval of a mean.
* :func:`welch_diff`         difference of two means, Welch t with Satterthwaite df.
* :func:`wilson`             Wilson score interval of a proportion.
* :func:`newcombe_diff`      difference of two independent proportions (Newcombe's hybrid
                             score interval, built from the two Wilson intervals).
* :func:`pearson_ci`         Pearson r with the Fisher z interval;
  :func:`spearman_ci`        Spearman rho with the Fisher z interval and the Fieller et al.
                             variance 1.06/(n-3).
* :func:`corr_diff`          difference of two independent correlations (Zou 2007).
* :func:`ols`                least squares with heteroskedasticity-robust (HC1) standard
                             errors, normal interval; :func:`slope_diff` two independent slopes.
* :func:`bootstrap_diff`     iid percentile bootstrap of a difference of means (seeded).
* :func:`block_bootstrap_event_diff`  circular block bootstrap (seeded) of
                             mean(y | event) - mean(y), for overlapping forward returns.
* :func:`block_bootstrap_slopes`  the same bootstrap for OLS slopes and correlations of
                             y on x within two groups of days, and their difference.
* :func:`verdict`            the documented supported / contradicted / too thin rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from monitor.study.student_t import t_cdf, t_ppf

__all__ = [
    "Estimate", "SUPPORTED", "CONTRADICTED", "TOO_THIN", "VERDICTS",
    "norm_ppf", "t_cdf", "t_ppf", "mean_ci", "welch_diff", "wilson", "newcombe_diff",
    "pearson_ci", "spearman_ci", "corr_diff", "ols", "slope_diff", "bootstrap_diff",
    "block_bootstrap_event_diff", "block_bootstrap_slopes", "circular_block_indices",
    "episodes", "verdict", "describe_verdict_rule",
]

SUPPORTED, CONTRADICTED, TOO_THIN = "supported", "contradicted", "too thin"
VERDICTS = (SUPPORTED, CONTRADICTED, TOO_THIN)
_N = NormalDist()


@dataclass
class Estimate:
    """A point estimate with its interval. ``n`` is the sample size that governs the
    verdict's "too thin" rule (the smaller group for two-group comparisons, the number of
    independent episodes for event studies); ``extra`` carries the numbers behind it."""

    estimate: float
    lo: float
    hi: float
    n: int
    method: str
    extra: dict = field(default_factory=dict)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)


def _clean(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same length")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def _z(level: float) -> float:
    return _N.inv_cdf(0.5 + level / 2.0)


def norm_ppf(p: float) -> float:
    return _N.inv_cdf(p)


# ---------------------------------------------------------------------------------------
# Means and proportions
# ---------------------------------------------------------------------------------------


def mean_ci(x, level: float = 0.95) -> Estimate:
    """Mean with the Student t interval (NaN interval when n < 2)."""
    a = _clean(x)
    n = len(a)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, "t interval")
    m = float(a.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, n, "t interval")
    se = float(a.std(ddof=1)) / math.sqrt(n)
    h = t_ppf(0.5 + level / 2.0, n - 1) * se
    return Estimate(m, m - h, m + h, n, "t interval", {"se": se, "sd": float(a.std(ddof=1))})


def welch_diff(a, b, level: float = 0.95) -> Estimate:
    """mean(a) - mean(b) with the Welch interval; ``n`` = the smaller group."""
    x, y = _clean(a), _clean(b)
    na, nb = len(x), len(y)
    extra = {"n_a": na, "n_b": nb,
             "mean_a": float(x.mean()) if na else math.nan,
             "mean_b": float(y.mean()) if nb else math.nan}
    if na < 2 or nb < 2:
        d = extra["mean_a"] - extra["mean_b"]
        return Estimate(d, math.nan, math.nan, min(na, nb), "Welch t", extra)
    va, vb = x.var(ddof=1) / na, y.var(ddof=1) / nb
    se = math.sqrt(va + vb)
    d = extra["mean_a"] - extra["mean_b"]
    if se == 0.0:
        return Estimate(d, d, d, min(na, nb), "Welch t", extra)
    df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    h = t_ppf(0.5 + level / 2.0, df) * se
    extra.update(se=se, df=df)
    return Estimate(d, d - h, d + h, min(na, nb), "Welch t", extra)


def wilson(k: int, n: int, level: float = 0.95) -> Estimate:
    """Share k/n with the Wilson score interval."""
    k, n = int(k), int(n)
    if n <= 0:
        return Estimate(math.nan, math.nan, math.nan, 0, "Wilson", {"k": k})
    z = _z(level)
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n, "Wilson",
                    {"k": k})


def newcombe_diff(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> Estimate:
    """p1 - p2 for independent proportions (Newcombe 1998, method 10)."""
    a, b = wilson(k1, n1, level), wilson(k2, n2, level)
    if not (n1 and n2):
        return Estimate(math.nan, math.nan, math.nan, min(n1, n2), "Newcombe")
    d = a.estimate - b.estimate
    lo = d - math.sqrt((a.estimate - a.lo) ** 2 + (b.hi - b.estimate) ** 2)
    hi = d + math.sqrt((a.hi - a.estimate) ** 2 + (b.estimate - b.lo) ** 2)
    return Estimate(d, lo, hi, min(n1, n2), "Newcombe (Wilson)",
                    {"p1": a.estimate, "p2": b.estimate, "n1": n1, "n2": n2})


# ---------------------------------------------------------------------------------------
# Correlations and slopes
# ---------------------------------------------------------------------------------------


def _fisher(r: float, n: int, level: float, var: float) -> tuple[float, float]:
    if n < 4 or not math.isfinite(r):
        return math.nan, math.nan
    r = min(max(r, -0.9999999), 0.9999999)
    z, h = math.atanh(r), _z(level) * math.sqrt(var / (n - 3))
    return math.tanh(z - h), math.tanh(z + h)


def pearson_ci(x, y, level: float = 0.95) -> Estimate:
    """Pearson correlation with the Fisher z interval."""
    x, y = _pairs(x, y)
    n = len(x)
    if n < 3 or x.std() == 0 or y.std() == 0:
        return Estimate(math.nan, math.nan, math.nan, n, "Pearson, Fisher z")
    r = float(np.corrcoef(x, y)[0, 1])
    lo, hi = _fisher(r, n, level, 1.0)
    return Estimate(r, lo, hi, n, "Pearson, Fisher z")


def _ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    ranks = np.empty(len(a))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman_ci(x, y, level: float = 0.95) -> Estimate:
    """Spearman rank correlation, Fisher z interval with variance 1.06/(n-3)."""
    x, y = _pairs(x, y)
    n = len(x)
    if n < 3:
        return Estimate(math.nan, math.nan, math.nan, n, "Spearman, Fisher z")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return Estimate(math.nan, math.nan, math.nan, n, "Spearman, Fisher z")
    r = float(np.corrcoef(rx, ry)[0, 1])
    lo, hi = _fisher(r, n, level, 1.06)
    return Estimate(r, lo, hi, n, "Spearman, Fisher z (var 1.06/(n-3))")


def corr_diff(a: Estimate, b: Estimate) -> Estimate:
    """r_a - r_b for independent samples from their own intervals (Zou 2007)."""
    d = a.estimate - b.estimate
    if not all(math.isfinite(v) for v in (a.lo, a.hi, b.lo, b.hi)):
        return Estimate(d, math.nan, math.nan, min(a.n, b.n), "Zou (Fisher z)")
    lo = d - math.sqrt((a.estimate - a.lo) ** 2 + (b.hi - b.estimate) ** 2)
    hi = d + math.sqrt((a.hi - a.estimate) ** 2 + (b.estimate - b.lo) ** 2)
    return Estimate(d, lo, hi, min(a.n, b.n), "Zou (Fisher z)",
                    {"r_a": a.estimate, "r_b": b.estimate, "n_a": a.n, "n_b": b.n})


def ols(y, X, level: float = 0.95, names: list[str] | None = None,
        hac_lags: int | None = None) -> dict:
    """Least squares of ``y`` on the columns of ``X`` plus an intercept, HC1 standard
    errors and normal intervals; with ``hac_lags`` (rows consecutive in time), Newey-West
    standard errors with a Bartlett kernel over that many lags instead (robust to serial
    correlation as well). Returns {"n", "coef": {name: Estimate}}; the intercept is named
    ``const``."""
    y = np.asarray(y, dtype=np.float64).ravel()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    ok = np.isfinite(y) & np.all(np.isfinite(X), axis=1)
    y, X = y[ok], X[ok]
    n, k = X.shape
    names = list(names) if names else [f"x{i}" for i in range(k)]
    A = np.column_stack([np.ones(n), X])
    out = {"n": n, "coef": {}}
    method = "OLS, HC1 normal" if hac_lags is None else \
        f"OLS, Newey-West ({hac_lags} lags) normal"
    if n <= k + 1:
        for nm in ["const", *names]:
            out["coef"][nm] = Estimate(math.nan, math.nan, math.nan, n, method)
        return out
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ beta
    bread = np.linalg.pinv(A.T @ A)
    u = A * resid[:, None]  # score contributions
    meat = u.T @ u
    for lag in range(1, (hac_lags or 0) + 1):
        gamma = u[lag:].T @ u[:-lag]
        meat += (1.0 - lag / (hac_lags + 1.0)) * (gamma + gamma.T)
    cov = bread @ meat @ bread * n / (n - k - 1)
    z = _z(level)
    for j, nm in enumerate(["const", *names]):
        se = math.sqrt(max(cov[j, j], 0.0))
        b = float(beta[j])
        out["coef"][nm] = Estimate(b, b - z * se, b + z * se, n, method, {"se": se})
    return out


def slope_diff(a: Estimate, b: Estimate, level: float = 0.95) -> Estimate:
    """a - b for two slopes from independent samples: normal interval, se added in quadrature."""
    d = a.estimate - b.estimate
    se = math.hypot(a.extra.get("se", math.nan), b.extra.get("se", math.nan))
    h = _z(level) * se
    return Estimate(d, d - h, d + h, min(a.n, b.n), "difference of OLS slopes (HC1, normal)",
                    {"slope_a": a.estimate, "slope_b": b.estimate, "n_a": a.n, "n_b": b.n,
                     "se": se})


# ---------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------


def bootstrap_diff(a, b, n_boot: int = 2000, seed: int = 7, level: float = 0.95) -> Estimate:
    """mean(a) - mean(b), percentile interval from an iid bootstrap of each group."""
    x, y = _clean(a), _clean(b)
    na, nb = len(x), len(y)
    d = (x.mean() if na else math.nan) - (y.mean() if nb else math.nan)
    extra = {"n_a": na, "n_b": nb, "mean_a": float(x.mean()) if na else math.nan,
             "mean_b": float(y.mean()) if nb else math.nan, "n_boot": n_boot}
    if na < 2 or nb < 2:
        return Estimate(float(d), math.nan, math.nan, min(na, nb), "bootstrap", extra)
    rng = np.random.default_rng(seed)
    ma = x[rng.integers(0, na, size=(n_boot, na))].mean(axis=1)
    mb = y[rng.integers(0, nb, size=(n_boot, nb))].mean(axis=1)
    q = np.quantile(ma - mb, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return Estimate(float(d), float(q[0]), float(q[1]), min(na, nb),
                    f"iid percentile bootstrap ({n_boot}, seeded)", extra)


def episodes(event, gap: int) -> np.ndarray:
    """Indices of episode onsets: event days with no event in the ``gap`` days before."""
    e = np.asarray(event, dtype=bool)
    idx = np.flatnonzero(e)
    if len(idx) == 0:
        return idx
    keep = np.concatenate([[True], np.diff(idx) > gap])
    return idx[keep]


def circular_block_indices(T: int, block: int, m: int, rng) -> np.ndarray:
    """``m`` circular block bootstrap resamples of ``range(T)``: ``[m, T]`` indices made of
    runs of ``block`` consecutive days (wrapping at the end) from random starts."""
    nblocks = -(-T // block)
    starts = rng.integers(0, T, size=(m, nblocks))
    return ((starts[:, :, None] + np.arange(block)) % T).reshape(m, -1)[:, :T]


def _weighted_line(x, y, w):
    """Row-wise (slope, correlation) of y on x with 0/1 weights ``w`` (arrays ``[m, T]``)."""
    sw = w.sum(axis=1)
    mx = (w * x).sum(axis=1) / sw
    my = (w * y).sum(axis=1) / sw
    dx, dy = x - mx[:, None], y - my[:, None]
    sxx = (w * dx * dx).sum(axis=1)
    syy = (w * dy * dy).sum(axis=1)
    sxy = (w * dx * dy).sum(axis=1)
    return sxy / sxx, sxy / np.sqrt(sxx * syy)


def block_bootstrap_slopes(y, x, group_a, group_b, *, block: int, n_boot: int = 2000,
                           seed: int = 11, level: float = 0.95, chunk: int = 200) -> dict:
    """OLS slope (with intercept) and Pearson r of ``y`` on ``x`` within the days of
    ``group_a`` and of ``group_b`` (boolean masks over one daily series), and the slope
    difference a - b, each with a circular block bootstrap interval (blocks of ``block``
    consecutive days of the whole series, so the clustering of the groups and the serial
    dependence of the days are kept; seeded). Returns ``{"slope_a", "slope_b", "r_a",
    "r_b", "diff"}`` of :class:`Estimate` (``n`` = days in the group; the smaller for
    ``diff``)."""
    yv = np.asarray(y, dtype=np.float64).ravel()
    xv = np.asarray(x, dtype=np.float64).ravel()
    ok = np.isfinite(yv) & np.isfinite(xv)
    wa = (np.asarray(group_a, dtype=bool) & ok).astype(np.float64)
    wb = (np.asarray(group_b, dtype=bool) & ok).astype(np.float64)
    y0, x0 = np.where(ok, yv, 0.0), np.where(ok, xv, 0.0)
    one = lambda w: _weighted_line(x0[None, :], y0[None, :], w[None, :])  # noqa: E731
    (sa,), (ra,) = one(wa)
    (sb,), (rb,) = one(wb)
    na, nb = int(wa.sum()), int(wb.sum())
    method = f"circular block bootstrap (block {block}, {n_boot}, seeded)"
    T = len(yv)
    reps = {k: [] for k in ("slope_a", "slope_b", "r_a", "r_b", "diff")}
    if min(na, nb) >= 3 and T >= 2 * block:
        rng = np.random.default_rng(seed)
        for start in range(0, n_boot, chunk):
            idx = circular_block_indices(T, block, min(chunk, n_boot - start), rng)
            with np.errstate(invalid="ignore", divide="ignore"):
                a_s, a_r = _weighted_line(x0[idx], y0[idx], wa[idx])
                b_s, b_r = _weighted_line(x0[idx], y0[idx], wb[idx])
            for k, v in (("slope_a", a_s), ("slope_b", b_s), ("r_a", a_r), ("r_b", b_r),
                         ("diff", a_s - b_s)):
                reps[k].append(v)
    qs = (0.5 - level / 2.0, 0.5 + level / 2.0)

    def est(k, value, n):
        if not reps[k]:
            return Estimate(float(value), math.nan, math.nan, n, method, {"block": block})
        r = np.concatenate(reps[k])
        lo, hi = np.quantile(r[np.isfinite(r)], qs)
        return Estimate(float(value), float(lo), float(hi), n, method,
                        {"block": block, "n_boot": n_boot})

    out = {"slope_a": est("slope_a", sa, na), "slope_b": est("slope_b", sb, nb),
           "r_a": est("r_a", ra, na), "r_b": est("r_b", rb, nb)}
    d = est("diff", sa - sb, min(na, nb))
    d.extra.update({"slope_a": float(sa), "slope_b": float(sb), "n_a": na, "n_b": nb})
    out["diff"] = d
    return out


def block_bootstrap_event_diff(y, event, *, block: int, n_boot: int = 2000, seed: int = 11,
                               level: float = 0.95, episode_gap: int | None = None,
                               chunk: int = 200, versus: str = "all") -> Estimate:
    """mean(y on event days) - mean(y on all days) (``versus="rest"``: minus the mean on
    the other days; ``versus="none"``: the mean on event days itself, e.g. a share when y
    is 0/1), y a time series of (possibly overlapping) forward quantities. The
    interval comes from a circular block bootstrap of the (y, event) pairs with blocks of
    ``block`` consecutive days, which keeps both the overlap of forward windows and the
    clustering of events (negative-GEX days come in crises: an interval that assumes
    independent days overstates the precision). ``n`` = the number of episodes (onsets
    ``episode_gap`` days apart; default = ``block``) because clustered event days are not
    independent observations."""
    if versus not in ("all", "rest", "none"):
        raise ValueError(f"versus must be 'all', 'rest' or 'none', not {versus!r}")
    yv = np.asarray(y, dtype=np.float64).ravel()
    ev = np.asarray(event, dtype=bool).ravel()
    if yv.shape != ev.shape:
        raise ValueError("y and event must have the same length")
    valid = np.isfinite(yv)
    ev_v = ev & valid
    n_ev, n_all = int(ev_v.sum()), int(valid.sum())
    n_epi = len(episodes(ev_v, block if episode_gap is None else episode_gap))
    m_ev = float(yv[ev_v].mean()) if n_ev else math.nan
    base = valid & ~ev_v if versus == "rest" else valid
    m_all = float(yv[base].mean()) if base.any() else math.nan
    if versus == "none":
        m_all = 0.0
    extra = {"n_event_days": n_ev, "n_all": n_all, "n_episodes": n_epi, "mean_event": m_ev,
             "mean_all": m_all, "block": block, "n_boot": n_boot}
    method = f"circular block bootstrap (block {block}, {n_boot}, seeded)"
    if versus == "none":
        del extra["mean_all"]
    if versus == "rest":  # the two-group names the other two-sample estimators use
        extra = {"n_a": n_ev, "n_b": int(base.sum()), "mean_a": m_ev, "mean_b": m_all,
                 "n_episodes": n_epi, "block": block, "n_boot": n_boot}
    if n_ev < 2 or n_all < 2 * block:
        return Estimate(m_ev - m_all, math.nan, math.nan, n_epi, method, extra)
    T = len(yv)
    y0 = np.where(valid, yv, 0.0)
    w_all = base.astype(np.float64)
    w_ev = ev_v.astype(np.float64)
    rng = np.random.default_rng(seed)
    stats = []
    for start in range(0, n_boot, chunk):
        idx = circular_block_indices(T, block, min(chunk, n_boot - start), rng)
        ys, wa, we = y0[idx], w_all[idx], w_ev[idx]
        se = we.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (ys * we).sum(axis=1) / se
            if versus != "none":
                d = d - (ys * wa).sum(axis=1) / wa.sum(axis=1)
        stats.append(d[se > 0])
    s = np.concatenate(stats)
    q = np.quantile(s, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return Estimate(m_ev - m_all, float(q[0]), float(q[1]), n_epi, method, extra)


# ---------------------------------------------------------------------------------------
# Verdict
# ---------------------------------------------------------------------------------------


def verdict(lo: float, hi: float, *, n: int, min_n: int, direction: str,
            null: float = 0.0, margin: float | None = None) -> str:
    """The verdict rule (also printed in the report):

    * ``n < min_n`` or no interval: **too thin**.
    * directional claim (``direction`` "+" = the statistic exceeds ``null``, "-" = below):
      **supported** when the whole interval lies on the claimed side of ``null``,
      **contradicted** when it lies wholly on the other side, otherwise **too thin**.
    * "no relation" claim (``direction`` "0"): **contradicted** when the interval excludes
      ``null``; **supported** when it contains ``null`` and lies within ``null ± margin``
      (the data rule out any effect larger than the margin), otherwise **too thin**.
    """
    if direction not in ("+", "-", "0"):
        raise ValueError("direction must be '+', '-' or '0'")
    if n < min_n or not (math.isfinite(lo) and math.isfinite(hi)):
        return TOO_THIN
    if direction == "0":
        if lo > null or hi < null:
            return CONTRADICTED
        if margin is None or (lo >= null - margin and hi <= null + margin):
            return SUPPORTED
        return TOO_THIN
    above, below = lo > null, hi < null
    if direction == "+":
        return SUPPORTED if above else CONTRADICTED if below else TOO_THIN
    return SUPPORTED if below else CONTRADICTED if above else TOO_THIN


VERDICT_RULE_MD = """\
- *Too thin* when the sample is below the finding's minimum n, or no interval exists.
- Directional claim (the statistic is claimed above, or below, a null value, usually 0):
  **supported** when the whole 95 % interval lies on the claimed side of the null,
  **contradicted** when it lies wholly on the other side, otherwise *too thin* (the data
  cannot tell the claim from no effect).
- "No relation" claim: **contradicted** when the interval excludes the null; **supported**
  when it contains the null *and* lies within null ± a stated margin (the data rule out any
  effect larger than the margin); otherwise *too thin*."""


def describe_verdict_rule() -> str:
    """The verdict rule as Markdown bullets (printed in the report)."""
    return VERDICT_RULE_MD
