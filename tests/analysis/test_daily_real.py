"""The regime engine over the real 2026 daily SPX chains with the real VIX closes."""

import pytest

from monitor.analysis.daily import daily_regimes
from monitor.render.daily import render_text
from tests.data_paths import DATA_DIR


@pytest.fixture(scope="module")
def daily():
    return daily_regimes(DATA_DIR / "cboe_chain_eod_2026" / "SPX",
                         DATA_DIR / "market_daily" / "VIX_close_1990-2026-08.csv")


def test_sessions_and_skips(daily):
    rows, skipped = daily
    dates = [r["date"] for r in rows]
    assert dates == sorted(set(dates))  # one row per session, in order
    assert dates[0] == "2026-06-12" and dates[-1] == "2026-08-21"
    assert "2026-08-06" in dates  # the file labelled 08-07
    text = " ".join(skipped)
    assert "SPX_2026-06-19" in text and "SPX_2026-07-03" in text  # holiday relabels
    assert "SPX_2026-06-23" in text  # fetched before the open: repeats 06-22


def test_gamma_label_follows_the_gex_sign_with_hysteresis(daily):
    rows, _ = daily
    for r in rows:
        g, lab = r["gex_usd_per_pct"], r["labels"][0]
        if abs(g) > 10e9:  # far outside any dead band
            assert lab == ("long_gamma" if g > 0 else "short_gamma"), r["date"]
    # model and vendor GEX signs agree on most sessions
    agree = sum(r["vendor_sign_agrees"] for r in rows) / len(rows)
    assert agree >= 0.8


def test_terminal_table_fits_100_columns(daily):
    rows, _ = daily
    text = render_text(rows)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert sum(line[:4] == "2026" for line in text.splitlines()) == len(rows)  # one per session
    assert "feedback_selloff" in text  # wrapped labels still all there


def test_charm_window_before_the_june_quad_witching(daily):
    rows, _ = daily
    by_date = {r["date"]: r for r in rows}
    for d in ("2026-06-15", "2026-06-16", "2026-06-17"):
        assert "charm_window" in by_date[d]["labels"], d
    assert "charm_window" not in by_date["2026-07-07"]["labels"]  # 8 sessions before 07-17


def test_feedback_selloff_only_when_short_gamma_falling_and_vix_rising(daily):
    rows, _ = daily
    onsets = [r["date"] for prev, r in zip(rows, rows[1:])
              if "feedback_selloff" in r["labels"] and "feedback_selloff" not in prev["labels"]]
    assert "2026-06-24" in onsets  # the late-June sell-off (README's daily table)
    for prev, r in zip(rows, rows[1:]):
        if "feedback_selloff" in r["labels"] and "feedback_selloff" not in prev["labels"]:
            assert "short_gamma" in r["labels"]
            assert r["spot"] < prev["spot"] or r["spot"] < rows[max(0, rows.index(r) - 2)]["spot"]


def test_a_gamma_label_held_by_hysteresis_is_said(daily):
    """A session whose gamma label's sign is not its GEX's (the engine's dead band keeps
    the label): marked held in the row, '(held)' in both tables, and the note explaining it."""
    from monitor.render.daily import HELD_NOTE, render_table

    rows, _ = daily
    for r in rows:
        g, lab = r["gex_usd_per_pct"], r["labels"][0]
        disagree = (lab == "long_gamma" and g < 0) or (lab == "short_gamma" and g > 0)
        assert r["gamma_label_held"] == disagree, r["date"]
    held = [r for r in rows if r["gamma_label_held"]]
    assert held, "the 2026 sessions include a label held across a small GEX sign change"
    text, md = render_text(rows), render_table(rows)
    for r in held:
        line = next(x for x in text.splitlines() if x.startswith(r["date"]))
        assert f"{r['labels'][0]} (held)" in line
        assert f"| {r['date']} |" in md and f"{r['labels'][0]} (held)" in md
    assert text.count("(held)") == len(held) + 1  # each held row, and the note
    assert HELD_NOTE[:40] in text and HELD_NOTE in md
