"""``run_study``: load the data, test the five claims, write ``report.md`` and the charts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from monitor.study import claims as C
from monitor.study.claims import common
from monitor.study.data import StudyError, find_files, load_daily
from monitor.study.gex2026 import daily_gex_table
from monitor.study.model import StudyResult
from monitor.study.report import render_markdown, write_charts
from monitor.study.scorecard import levels_scorecard

__all__ = ["run_study"]


def run_study(data_dir: Path, out_dir: Path, *, progress: Callable[[str], None] | None = None,
              own_gex: bool = True, n_boot: int = common.N_BOOT,
              seed: int = common.SEED) -> StudyResult:
    """Run the study on ``data_dir`` (the ``shared/data`` layout) and write
    ``out_dir/report.md`` plus PNG charts. ``progress`` receives one line per step.
    ``own_gex=False`` skips the 2026 chains (claim 1's second half and the per-session
    table). Raises :class:`StudyError` (one-line message) for a missing directory or file."""
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    steps = 8
    say(f"[1/{steps}] loading daily files from {data_dir}")
    daily = load_daily(data_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StudyError(" ".join(f"cannot create output directory {out_dir}: {e}".split())
                         ) from None
    D = C.daily_frame(daily)
    notes = list(daily.notes)
    own = {"rows": [], "dropped": [], "files": 0}
    if own_gex:
        if find_files(data_dir, "spx_chains"):
            say(f"[2/{steps}] own GEX from the daily SPX chains")
            own = daily_gex_table(data_dir, D["close"], daily.vix, progress=say)
        else:
            say(f"[2/{steps}] no cboe_chain_eod*/SPX files: own GEX skipped")
            notes.append("No cboe_chain_eod*/SPX chain files: own GEX skipped.")
    else:
        say(f"[2/{steps}] own GEX skipped (--no-own-gex)")
    claims = {}
    say(f"[3/{steps}] claim 1: gamma regime and volatility")
    claims["1"] = C.gamma_regime(D, own["rows"] or None, n_boot=n_boot, seed=seed)
    say(f"[4/{steps}] claim 2: vanna melt-ups")
    claims["2"] = C.vanna_meltups(D)
    say(f"[5/{steps}] claim 3: extreme VIX and put selling")
    claims["3"] = C.vix_extremes(D, n_boot=n_boot, seed=seed, progress=say)
    say(f"[6/{steps}] claim 4: expirations")
    claims["4"] = C.expirations(D, daily.opex, daily.files.get("spx_1min"))
    say(f"[7/{steps}] claim 5: intraday momentum")
    claims["5"] = C.intraday_momentum(daily.files, D)
    score = levels_scorecard(own["rows"], daily.spx) if own["rows"] else []
    say(f"[8/{steps}] writing charts and report to {out_dir}")
    charts = write_charts(claims, out_dir)
    inventory = daily.inventory()
    sess = claims["5"].plot["sessions"]
    for inst in ("SPX", "SPY"):
        p = daily.files.get(f"{inst.lower()}_1min")
        if p is not None:
            sub = sess[sess["instrument"] == inst] if len(sess) else sess
            inventory.append({
                "series": f"{inst} 1-minute bars", "file": p.name,
                "first": str(sub["date"].min().date()) if len(sub) else "",
                "last": str(sub["date"].max().date()) if len(sub) else "",
                "rows": f"{len(sub)} sessions"})
    if own["files"]:
        inventory.append({"series": "SPX daily chains (own GEX)", "file": "cboe_chain_eod*/SPX",
                          "first": own["rows"][0]["date"] if own["rows"] else "",
                          "last": own["rows"][-1]["date"] if own["rows"] else "",
                          "rows": f"{own['files']} files, {len(own['rows'])} sessions"})
    elapsed = time.perf_counter() - t0
    md = render_markdown(claims=claims, daily_rows=own["rows"], dropped=own["dropped"],
                         inventory=inventory, notes=notes, data_dir=data_dir,
                         elapsed_s=elapsed, own_gex=own_gex, scorecard=score)
    report = out_dir / "report.md"
    report.write_text(md, encoding="utf-8")
    elapsed = time.perf_counter() - t0
    say(f"done in {elapsed:.1f} s: {report}")
    return StudyResult(claims=claims, daily_2026=own["rows"], report_path=report,
                       charts=charts, elapsed_s=elapsed, data_dir=data_dir,
                       inventory=inventory, notes=notes, dropped_chains=own["dropped"],
                       scorecard=score)
