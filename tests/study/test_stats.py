"""Each statistic of monitor.study.stats on synthetic data with a known answer."""

import math

import numpy as np
import pytest
import scipy.stats as scipy_stats  # noqa: E402  (an oracle; a test extra, never skipped)

from monitor.study import stats as S

# -- Student t ---------------------------------------------------------------------------


@pytest.mark.parametrize("df", [1, 2, 3.5, 7, 30, 250, 5000])
@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995, 0.025])
def test_t_ppf_matches_scipy(df, p):
    assert S.t_ppf(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("df", [1, 4, 12.3, 100])
@pytest.mark.parametrize("t", [-5.0, -1.0, 0.0, 0.3, 2.0, 8.0])
def test_t_cdf_matches_scipy(df, t):
    assert S.t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), abs=1e-12)


# -- means -------------------------------------------------------------------------------


def test_mean_ci_matches_the_t_interval():
    x = np.random.default_rng(1).normal(3.0, 2.0, 25)
    e = S.mean_ci(x)
    lo, hi = scipy_stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=scipy_stats.sem(x))
    assert e.estimate == pytest.approx(x.mean())
    assert (e.lo, e.hi) == pytest.approx((lo, hi), rel=1e-9)
    assert e.n == 25


def test_mean_ci_ignores_nan_and_handles_tiny_samples():
    assert S.mean_ci([1.0, np.nan, 3.0]).estimate == 2.0
    assert math.isnan(S.mean_ci([5.0]).lo)
    assert S.mean_ci([]).n == 0


def test_welch_recovers_a_planted_difference():
    rng = np.random.default_rng(2)
    cover = 0
    for _ in range(400):
        a, b = rng.normal(1.0, 1.0, 60), rng.normal(0.5, 2.0, 40)
        e = S.welch_diff(a, b)
        cover += e.lo < 0.5 < e.hi
    assert 0.92 <= cover / 400 <= 0.98          # a 95 % interval covers ~95 % of the time
    a, b = rng.normal(1.0, 1.0, 4000), rng.normal(0.5, 2.0, 3000)
    e = S.welch_diff(a, b)
    assert e.estimate == pytest.approx(0.5, abs=0.15) and e.hi - e.lo < 0.2
    assert e.n == 3000 and e.extra["n_a"] == 4000


def test_welch_matches_scipy_interval():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.0, 1.0, 40), rng.normal(0.4, 3.0, 15)
    e = S.welch_diff(a, b)
    ci = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (e.lo, e.hi) == pytest.approx((ci.low, ci.high), rel=1e-8)


# -- proportions -------------------------------------------------------------------------


@pytest.mark.parametrize("k,n,lo,hi", [
    (5, 10, 0.2366, 0.7634),     # textbook values
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),
])
def test_wilson_hand_values(k, n, lo, hi):
    e = S.wilson(k, n)
    assert e.estimate == pytest.approx(k / n)
    assert e.lo == pytest.approx(lo, abs=1e-4)
    assert e.hi == pytest.approx(hi, abs=1e-4)


def test_wilson_of_a_constructed_hit_series():
    hits = np.array([1] * 70 + [0] * 30, dtype=bool)
    e = S.wilson(int(hits.sum()), len(hits))
    assert e.estimate == 0.7 and e.lo < 0.7 < e.hi
    assert e.lo > 0.5       # 70/100 is clearly above a coin flip


def test_newcombe_hand_values():
    # Newcombe (1998) example: 56/70 vs 48/80, hybrid score interval 0.0524 to 0.3339
    e = S.newcombe_diff(56, 70, 48, 80)
    assert e.estimate == pytest.approx(0.2)
    assert e.lo == pytest.approx(0.0524, abs=1e-4)
    assert e.hi == pytest.approx(0.3339, abs=1e-4)


# -- correlations ------------------------------------------------------------------------


def _exact_corr(r, n, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x = (x - x.mean()) / x.std()
    e = rng.normal(size=n)
    e -= e.mean()
    e -= (e @ x) / (x @ x) * x           # orthogonal to x
    e /= e.std()
    return x, r * x + math.sqrt(1 - r * r) * e


def test_pearson_of_a_constructed_series_and_fisher_hand_value():
    x, y = _exact_corr(0.5, 103)
    e = S.pearson_ci(x, y)
    assert e.estimate == pytest.approx(0.5, abs=1e-12)
    # Fisher: atanh(0.5) = 0.5493, se = 1/sqrt(100) -> tanh(0.5493 -/+ 0.196)
    assert e.lo == pytest.approx(math.tanh(math.atanh(0.5) - 1.959964 * 0.1), abs=1e-6)
    assert e.hi == pytest.approx(math.tanh(math.atanh(0.5) + 1.959964 * 0.1), abs=1e-6)
    assert (e.lo, e.hi) == pytest.approx((0.3393, 0.6323), abs=1e-4)


def test_pearson_covers_a_population_correlation():
    rng = np.random.default_rng(5)
    x = rng.normal(size=5000)
    y = 0.6 * x + 0.8 * rng.normal(size=5000)
    e = S.pearson_ci(x, y)
    assert e.lo < 0.6 < e.hi and e.hi - e.lo < 0.05


def test_spearman_matches_scipy_with_ties_and_is_one_for_monotone():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 20, 200).astype(float)
    y = x + rng.integers(0, 10, 200)
    assert S.spearman_ci(x, y).estimate == pytest.approx(scipy_stats.spearmanr(x, y)[0])
    z = rng.normal(size=50)
    assert S.spearman_ci(z, np.exp(z)).estimate == pytest.approx(1.0)


def test_corr_diff_is_antisymmetric_and_covers_the_truth():
    xa, ya = _exact_corr(0.6, 400, seed=7)
    xb, yb = _exact_corr(0.2, 400, seed=8)
    a, b = S.pearson_ci(xa, ya), S.pearson_ci(xb, yb)
    d, r = S.corr_diff(a, b), S.corr_diff(b, a)
    assert d.estimate == pytest.approx(0.4)
    assert (d.lo, d.hi) == pytest.approx((-r.hi, -r.lo))
    assert d.lo > 0 and d.lo < 0.4 < d.hi


# -- regression --------------------------------------------------------------------------


def test_ols_recovers_planted_coefficients():
    rng = np.random.default_rng(9)
    x1, x2 = rng.normal(size=3000), rng.normal(size=3000)
    y = 2.0 + 3.0 * x1 - 1.0 * x2 + rng.normal(size=3000)
    fit = S.ols(y, np.column_stack([x1, x2]), names=["a", "b"])
    c = fit["coef"]
    for nm, true in (("const", 2.0), ("a", 3.0), ("b", -1.0)):
        assert c[nm].lo < true < c[nm].hi
    # homoskedastic noise: HC1 standard error ~ the classical 1/sqrt(n)
    assert c["a"].extra["se"] == pytest.approx(1 / math.sqrt(3000), rel=0.1)
    assert fit["n"] == 3000


def test_slope_diff_recovers_a_planted_difference():
    rng = np.random.default_rng(10)
    cover = 0
    for _ in range(300):
        x = rng.normal(size=200)
        a = S.ols(1.0 * x + rng.normal(size=200) * (1 + np.abs(x)), x)["coef"]["x0"]
        b = S.ols(2.0 * x + rng.normal(size=200), x)["coef"]["x0"]
        d = S.slope_diff(a, b)
        cover += d.lo < -1.0 < d.hi
    assert 0.91 <= cover / 300 <= 0.985         # HC1 keeps coverage under heteroskedasticity
    assert d.hi < 0 and d.estimate == pytest.approx(-1.0, abs=0.4)


# -- bootstrap ---------------------------------------------------------------------------


def test_bootstrap_diff_recovers_a_planted_difference_and_is_seeded():
    rng = np.random.default_rng(11)
    a, b = rng.exponential(2.0, 300), rng.exponential(1.0, 200)
    e = S.bootstrap_diff(a, b, n_boot=2000, seed=3)
    assert e.lo < 1.0 < e.hi
    assert S.bootstrap_diff(a, b, n_boot=2000, seed=3).ci == e.ci
    w = S.welch_diff(a, b)
    assert e.lo == pytest.approx(w.lo, abs=0.15) and e.hi == pytest.approx(w.hi, abs=0.15)


def _clustered_events(T=6000, every=300, length=10):
    ev = np.zeros(T, dtype=bool)
    for s in range(150, T - 100, every):
        ev[s:s + length] = True
    return ev


def test_block_bootstrap_recovers_a_planted_event_effect():
    rng = np.random.default_rng(12)
    T = 6000
    ev = _clustered_events(T)
    # AR(1) "forward return" with a planted +1.0 on event days
    e = rng.normal(size=T)
    y = np.empty(T)
    y[0] = e[0]
    for t in range(1, T):
        y[t] = 0.9 * y[t - 1] + e[t]
    y = y * 0.5 + 1.0 * ev
    y[-21:] = np.nan                     # forward windows that run past the data
    est = S.block_bootstrap_event_diff(y, ev, block=21, n_boot=2000, seed=1)
    p = ev[np.isfinite(y)].mean()
    true = 1.0 * (1 - p) + 0.0           # event mean minus all-day mean
    assert est.lo < true < est.hi
    assert est.estimate == pytest.approx(
        np.nanmean(y[ev]) - np.nanmean(y), abs=1e-12)
    assert est.n == 20                   # episodes, not event days
    assert est.extra["n_event_days"] == 200
    again = S.block_bootstrap_event_diff(y, ev, block=21, n_boot=2000, seed=1)
    assert again.ci == est.ci


def test_block_bootstrap_is_wider_than_iid_for_autocorrelated_data():
    rng = np.random.default_rng(13)
    T = 5000
    ev = _clustered_events(T)
    e = rng.normal(size=T)
    y = np.convolve(e, np.ones(40) / 40, mode="same")   # overlapping-window style
    wide = S.block_bootstrap_event_diff(y, ev, block=40, n_boot=1000, seed=2)
    narrow = S.block_bootstrap_event_diff(y, ev, block=1, n_boot=1000, seed=2)
    assert (wide.hi - wide.lo) > 2 * (narrow.hi - narrow.lo)


def test_episodes():
    ev = np.zeros(100, dtype=bool)
    ev[[3, 4, 5, 30, 31, 60, 95]] = True
    assert S.episodes(ev, 21).tolist() == [3, 30, 60, 95]
    assert S.episodes(ev, 30).tolist() == [3, 95]
    assert S.episodes(np.zeros(5, bool), 3).tolist() == []


# -- verdict rule ------------------------------------------------------------------------


@pytest.mark.parametrize("lo,hi,n,direction,kw,expected", [
    (0.1, 0.5, 100, "+", {}, S.SUPPORTED),
    (-0.5, -0.1, 100, "+", {}, S.CONTRADICTED),
    (-0.1, 0.5, 100, "+", {}, S.TOO_THIN),
    (-0.5, -0.1, 100, "-", {}, S.SUPPORTED),
    (0.1, 0.5, 100, "-", {}, S.CONTRADICTED),
    (0.1, 0.5, 5, "+", {}, S.TOO_THIN),                 # n below the minimum
    (math.nan, 0.5, 100, "+", {}, S.TOO_THIN),
    (0.55, 0.7, 100, "+", {"null": 0.5}, S.SUPPORTED),  # a share above one half
    (0.4, 0.55, 100, "+", {"null": 0.5}, S.TOO_THIN),
    (-0.05, 0.08, 100, "0", {"margin": 0.2}, S.SUPPORTED),
    (-0.3, 0.25, 100, "0", {"margin": 0.2}, S.TOO_THIN),   # null not excluded, CI too wide
    (0.02, 0.1, 100, "0", {"margin": 0.2}, S.CONTRADICTED),
    (0.45, 0.55, 100, "0", {"null": 0.5, "margin": 0.1}, S.SUPPORTED),
    (0.52, 0.6, 100, "0", {"null": 0.5, "margin": 0.1}, S.CONTRADICTED),
    # the boundaries: an interval that touches the null does not lie on either side of it
    (0.0, 0.5, 100, "+", {}, S.TOO_THIN),
    (-0.5, 0.0, 100, "-", {}, S.TOO_THIN),
    (-0.5, 0.0, 100, "+", {}, S.TOO_THIN),
    (0.5, 0.6, 100, "0", {"null": 0.5, "margin": 0.1}, S.SUPPORTED),  # contains it
    (0.4, 0.6, 100, "0", {"null": 0.5, "margin": 0.1}, S.SUPPORTED),  # at the margins
    (0.1, 0.2, 30, "+", {}, S.SUPPORTED),  # n at the minimum counts
    (0.1, 0.2, 29, "+", {}, S.TOO_THIN),
])
def test_verdict_rule(lo, hi, n, direction, kw, expected):
    assert S.verdict(lo, hi, n=n, min_n=30, direction=direction, **kw) == expected


def test_verdict_rejects_unknown_direction():
    with pytest.raises(ValueError):
        S.verdict(0, 1, n=100, min_n=1, direction="up")


def test_block_bootstrap_versus_rest_planted_and_wider_than_welch_on_clustered_days():
    """Synthetic: regime days come in 40-day spells (clustered, as negative GEX in crises)
    and y carries a slow common factor; the planted difference is +1.0. The block
    bootstrap recovers it and its interval is wider than Welch's, which assumes
    independent days."""
    rng = np.random.default_rng(5)
    T = 4000
    event = np.zeros(T, dtype=bool)
    for start in range(100, T - 40, 400):
        event[start:start + 40] = True
    slow = np.repeat(rng.normal(0, 1.0, T // 40), 40)  # a factor that moves every 40 days
    y = 1.0 * event + slow + rng.normal(0, 0.5, T)
    est = S.block_bootstrap_event_diff(y, event, block=21, n_boot=1000, seed=3,
                                       versus="rest")
    assert est.estimate == pytest.approx(y[event].mean() - y[~event].mean())
    assert est.lo < 1.0 < est.hi
    assert est.extra["n_a"] == event.sum() and est.extra["n_b"] == (~event).sum()
    assert est.n == 10  # ten spells, ten episodes
    welch = S.welch_diff(y[event], y[~event])
    assert (est.hi - est.lo) > 1.5 * (welch.hi - welch.lo)
    with pytest.raises(ValueError, match="versus"):
        S.block_bootstrap_event_diff(y, event, block=21, versus="other")


def test_block_bootstrap_slopes_recover_planted_slopes_by_regime():
    rng = np.random.default_rng(21)
    T = 6000
    regime = np.repeat(rng.random(T // 60) < 0.5, 60)  # regimes in runs of 60 days
    x = rng.normal(size=T)
    # AR(1) noise: days within a run are not independent
    e = rng.normal(size=T)
    u = np.empty(T)
    u[0] = e[0]
    for t in range(1, T):
        u[t] = 0.6 * u[t - 1] + e[t]
    y = np.where(regime, -2.0 * x, -0.5 * x) + 0.8 * u
    out = S.block_bootstrap_slopes(y, x, regime, ~regime, block=21, n_boot=1000, seed=3)
    assert out["slope_a"].lo < -2.0 < out["slope_a"].hi
    assert out["slope_b"].lo < -0.5 < out["slope_b"].hi
    assert out["diff"].lo < -1.5 < out["diff"].hi and out["diff"].hi < 0
    # point estimates are the plain OLS slopes of each group
    assert out["slope_a"].estimate == pytest.approx(np.polyfit(x[regime], y[regime], 1)[0],
                                                    rel=1e-10)
    assert out["diff"].n == min(regime.sum(), (~regime).sum())
    assert out["r_a"].estimate == pytest.approx(np.corrcoef(x[regime], y[regime])[0, 1],
                                                rel=1e-10)


def test_newey_west_by_hand_and_wider_under_autocorrelation():
    # hand case: y = [1, 3, 2, 5] on x = [0, 1, 2, 3]; residuals e, scores u_t = e_t (1, x_t)
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 3.0, 2.0, 5.0])
    A = np.column_stack([np.ones(4), x])
    beta = np.linalg.solve(A.T @ A, A.T @ y)
    e = y - A @ beta
    u = A * e[:, None]
    S0 = u.T @ u
    G1 = u[1:].T @ u[:-1]
    meat = S0 + 0.5 * (G1 + G1.T)  # Bartlett weight 1 - 1/2 for lag 1
    bread = np.linalg.inv(A.T @ A)
    cov = bread @ meat @ bread * 4 / (4 - 2)
    fit = S.ols(y, x, hac_lags=1)
    assert fit["coef"]["x0"].extra["se"] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-12)
    assert "Newey-West" in fit["coef"]["x0"].method
    # positively autocorrelated regressor and errors: HAC errors exceed HC1's
    rng = np.random.default_rng(5)
    T = 4000
    xs = np.convolve(rng.normal(size=T), np.ones(20) / 20, mode="same")
    es = np.convolve(rng.normal(size=T), np.ones(20) / 20, mode="same")
    ys = 0.3 * xs + es
    hac = S.ols(ys, xs, hac_lags=21)["coef"]["x0"].extra["se"]
    hc1 = S.ols(ys, xs)["coef"]["x0"].extra["se"]
    assert hac > 2.5 * hc1
