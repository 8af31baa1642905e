"""The whole study on the real data in ../shared/data: it builds, and its headline numbers
are sane (sample sizes, plausible ranges, every claim has a verdict)."""

import json
import math
import time

import pandas as pd
import pytest

from monitor.study import run_study
from monitor.study.stats import VERDICTS
from tests.data_paths import DATA_DIR

# the real data is required (tests may use ../shared): missing data fails, never skips
assert (DATA_DIR / "market_daily").is_dir(), f"shared data not found at {DATA_DIR}"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    out = tmp_path_factory.mktemp("study-report")
    lines = []
    t0 = time.perf_counter()
    res = run_study(DATA_DIR, out, progress=lines.append)
    return res, out, lines, time.perf_counter() - t0


def test_files_and_progress(real):
    res, out, lines, elapsed = real
    md = (out / "report.md").read_text()
    assert res.report_path == out / "report.md"
    assert len(res.charts) >= 6
    for p in res.charts:
        assert p.exists() and p.read_bytes()[:4] == b"\x89PNG" and p.stat().st_size > 10_000
        assert f"]({p.name})" in md
    assert sum(line.startswith("[") for line in lines) == 8
    assert any("own GEX: chain" in line for line in lines)
    assert elapsed < 180
    for heading in ("## Verdicts at a glance", "## 1. Gamma regime", "## 2. Vanna",
                    "## 3. Extreme VIX", "## 4. Expirations", "## 5. Intraday momentum",
                    "## The 2026 chain window", "## Data", "**Verdict rule.**"):
        assert heading in md


#: the verdicts on the real data (the study is seeded, the data fixed): each claim's, and
#: each finding's with its sample size. A change to a statistic, the verdict rule or the
#: data loading that moves one shows here (and must be explained in the report's notes)
PINNED = {
    "1": ("supported", {"1.absret_sign": ("supported", 36), "1.range_sign": ("supported", 36),
                        "1.absret_quintile": ("supported", 13),
                        "1.absret_spearman": ("supported", 3849),
                        "1.absret_sign_vixctl": ("supported", 347),
                        "1.own_model_absret": ("too thin", 8),
                        "1.own_model_range": ("too thin", 8),
                        "1.own_vendor_absret": ("too thin", 10),
                        "1.own_vs_squeeze_sign": ("supported", 41)}),
    "2": ("supported", {"2.rally_vix_down": ("supported", 136),
                        "2.rally_vs_other": ("supported", 136),
                        "2.slope_points": ("too thin", 347),
                        "2.slope_log": ("contradicted", 347)}),
    "3": ("too thin", {**{f"3.{h}_{t}": ("too thin", 27) for h in ("fwd5", "fwd21", "fwd63",
                                                                    "edge")
                          for t in ("p95", "jump")},
                       **{f"3.{h}_p99": ("too thin", 4) for h in ("fwd5", "fwd21", "fwd63",
                                                                  "edge")},
                       "3.selloff_end": ("too thin", 27)}),
    "4": ("supported", {"4.next_week_corr": ("supported", 439),
                        "4.next_week_hit": ("supported", 439),
                        "4.opex_mean_ret": ("supported", 440),
                        "4.opex_range": ("supported", 440),
                        "4.opex_absret": ("supported", 440),
                        "4.quad_range": ("too thin", 146)}),
    "5": ("too thin", {"5.momentum": ("too thin", 33), "5.momentum_hit": ("too thin", 32),
                       "5.momentum_neg_gex": ("too thin", 1),
                       "5.momentum_gex_diff": ("too thin", 1)}),
}


def test_the_verdicts_on_the_real_data_are_pinned(real):
    res = real[0]
    for k, (verdict, findings) in PINNED.items():
        c = res.claims[k]
        assert c.verdict == verdict, k
        assert {f.key: (f.verdict, f.n) for f in c.findings} == findings, k


def test_every_claim_has_a_verdict_and_a_sane_interval(real):
    res = real[0]
    assert sorted(res.claims) == ["1", "2", "3", "4", "5"]
    for k in res:
        h = res[k]
        assert h["verdict"] in VERDICTS
        assert h["n"] > 0 and h["statistic"]
        for f in res.claims[k].findings:
            assert f.verdict in VERDICTS
            if math.isfinite(f.lo):
                assert f.lo <= f.estimate <= f.hi, f.key
    d = json.loads(json.dumps(res.to_dict(), allow_nan=True))
    assert set(d["claims"]) == {"1", "2", "3", "4", "5"}


def test_claim1_gamma_regime(real):
    c = real[0].claims["1"]
    f = c.finding("1.absret_sign")
    assert f.detail["n_a"] >= 300 and f.detail["n_b"] >= 3000     # 347 negative-GEX days
    assert 0.8 < f.detail["mean_a"] < 3.0                          # % next-day |return|
    assert 0.3 < f.detail["mean_b"] < 1.2
    # the sign the claim is about, and an interval that excludes zero (real data: about
    # +0.9 pp on 347 negative-GEX days)
    assert 0.3 < f.estimate < 2.0 and f.lo > 0
    assert f.estimate == pytest.approx(f.detail["mean_a"] - f.detail["mean_b"], rel=1e-12)
    own = c.finding("1.own_model_absret")
    assert own.verdict == "too thin"                               # ~40 sessions
    assert own.detail["n_a"] + own.detail["n_b"] == 40
    agree = c.finding("1.own_vs_squeeze_sign")
    assert agree.n == 41 and 0.5 < agree.estimate <= 1.0


def test_daily_2026_table(real):
    rows = real[0].daily_2026
    assert len(rows) == 41                         # 44 files - 3 repeats
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates) and len(set(dates)) == 41
    for bad in ("2026-06-19", "2026-07-03", "2026-06-23", "2026-08-07"):
        assert bad not in dates
    aug6 = next(r for r in rows if r["date"] == "2026-08-06")
    assert aug6["label"] == "2026-08-07"
    for r in rows:
        assert {"date", "spot", "gex_model_usd_per_pct", "gex_vendor_sign", "zero_gamma",
                "vix_close"} <= set(r)
        assert 7300 < r["spot"] < 7800
        assert r["gex_vendor_sign"] in (-1, 1)
        assert abs(r["gex_model_usd_per_pct"]) < 5e11
        assert r["zero_gamma"] is None or 0.8 * r["spot"] < r["zero_gamma"] < 1.2 * r["spot"]
        assert r["vix_close"] is not None and 10 < r["vix_close"] < 40
    last = next(r for r in rows if r["date"] == "2026-08-21")
    # SOURCES.md golden value: naive GEX of SPX_2026-08-21 = 20520.2 $mm per 1 %
    assert last["gex_vendor_usd_per_pct"] / 1e6 == pytest.approx(20520.2, abs=0.2)
    vix_file = pd.read_csv(DATA_DIR / "market_daily" / "VIX_close_1990-2026-08.csv",
                           index_col="date")["value"]
    assert rows[0]["vix_close"] == pytest.approx(vix_file["2026-06-12"])


def test_claim2_to_5_sample_sizes_and_ranges(real):
    res = real[0]
    c2 = res.claims["2"].headline
    # 313 rally windows; n = rally episodes (runs a month apart) for the block bootstrap
    assert c2.detail["n_event_days"] >= 300 and c2.n >= 100 and 0.5 < c2.estimate <= 1.0
    assert c2.lo > 0.5  # more often than not, with the interval clear of a coin flip
    c3 = res.claims["3"]
    p95 = c3.finding("3.fwd21_p95")
    assert p95.n >= 15 and p95.detail["n_event_days"] >= 300
    assert 0 < p95.estimate < 5  # after extreme VIX the month ahead beat the average day
    assert 25 < c3.plot["p95"] < 40 and 35 < c3.plot["p99"] < 60
    c4 = res.claims["4"]
    assert c4.headline.n >= 400 and abs(c4.headline.estimate) < 0.1  # no relation
    assert c4.finding("4.quad_range").detail["n_a"] >= 140
    assert c4.plot["case"] is not None and c4.plot["case"]["day"] == "2023-03-17"
    c5 = res.claims["5"]
    assert c5.headline.n == 33                    # 12 SPX + 21 SPY sessions
    assert c5.headline.verdict == "too thin"      # far too few sessions


def test_levels_scorecard_table_with_n_and_intervals(real):
    res, out, _, _ = real
    md = (out / "report.md").read_text()
    section = md[md.index("## Levels scorecard"):md.index("## Data")]
    assert "| statistic | monitor | 95% CI | n | SpotGamma (published) |" in section
    score = {r.key: r for r in res.scorecard}
    # 41 sessions of levels, the last (2026-08-21) has no next session in the OHLC file
    for key in ("high_at_or_below_call_wall", "close_below_call_wall",
                "low_at_or_above_put_wall", "close_above_put_wall"):
        e = score[key].estimate
        assert e.n == 40 and 0.0 <= e.lo <= e.estimate <= e.hi <= 1.0
        assert f"{e.extra['k']} of 40" in section
        assert f"{100 * score[key].published:.0f}%" in section
    above, below = (score[k].estimate for k in ("rv5_open_above_zero_gamma",
                                                "rv5_open_below_zero_gamma"))
    assert above.n + below.n >= 30  # sessions with zero gamma and 5 sessions after them
    assert 3.0 < above.estimate < 40.0 and 3.0 < below.estimate < 40.0
    assert "What this can and cannot show" in section and "median" in section
    assert json.loads(json.dumps(res.to_dict()))["scorecard"][0]["n"] == 40
