"""The body of ``monitor study`` (the typer command in :mod:`monitor.cli` calls
:func:`main`): progress lines on stderr, the headline table or ``--json`` on stdout, a
one-line ``monitor: error: ...`` and exit status 2 for errors the user can fix."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from monitor.fmt import clean_json
from monitor.study.data import StudyError
from monitor.study.runner import run_study

__all__ = ["main", "DEFAULT_OUT"]

DEFAULT_OUT = Path("study-report")


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}" if abs(x) < 10 else f"{x:.2f}"


def main(data: Path, out: Path = DEFAULT_OUT, *, own_gex: bool = True,
         as_json: bool = False, stdout: TextIO | None = None, stderr: TextIO | None = None,
         **kw) -> int:
    """Run the study; returns the exit status (0, or 2 for a user-fixable error)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def progress(msg: str) -> None:
        print(msg, file=stderr, flush=True)

    try:
        result = run_study(Path(data), Path(out), progress=progress, own_gex=own_gex, **kw)
    except StudyError as e:
        print(f"monitor: error: {' '.join(str(e).split())}", file=stderr)
        return 2
    if as_json:
        print(json.dumps(clean_json(result.to_dict()), indent=2), file=stdout)
        return 0
    for k, h in result.headline.items():
        lo, hi = h["ci"]
        line = (f"{k}. {h['title']}: {h['verdict'].upper()} - {h['statistic']} = "
                f"{_fmt(h['estimate'])} [{_fmt(lo)}, {_fmt(hi)}], {h['n_label']}")
        print("\n".join(textwrap.wrap(line, 100, subsequent_indent="   ")), file=stdout)
    for r in result.scorecard:
        e = r.estimate
        pub = "" if r.published is None else f" (SpotGamma {_fmt(r.published)})"
        print(f"levels: {r.statement}: {_fmt(e.estimate)} [{_fmt(e.lo)}, {_fmt(e.hi)}], "
              f"n={e.n}{pub}", file=stdout)
    print(f"report: {result.report_path} ({len(result.charts)} charts, "
          f"{result.elapsed_s:.0f} s)", file=stdout)
    return 0
