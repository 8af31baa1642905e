"""A mutation run by hand (slow; not in CI): cosmic-ray over the service's modules, each
against the tests that guard it, on a seeded sample of its mutants; the results table in
docs/mutation-results.md is written by this script.

    .venv/bin/pip install cosmic-ray
    MONITOR_DATA_DIR=../shared/data .venv/bin/python scripts/mutation.py [--sample 40]
        [--seed 1] [--only tape,regimes.engine] [--out docs/mutation-results.md]

cosmic-ray applies each mutation to the file on disk, runs the target's test command in a
new process and restores the file, so the run works on a copy: a git worktree of HEAD
made here (under the system's temporary folder) and removed afterwards. Mutants are
sampled uniformly (``--sample`` per target, ``random.Random(seed)``), so a kill rate is an
estimate with its sample size beside it. A survivor is a mutation no test noticed: the
table lists each with its line and operator for a person to kill with a test or explain
as equivalent. (mutmut 3 was tried first: its forked workers report the service's mutants
"suspicious" and, with its fork server, let mutants its selected tests fail "survive".)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

#: (name, module, tests): each module against the tests that guard it
TARGETS = [
    ("tape", "monitor/tape.py",
     "tests/service/test_tape.py tests/service/test_tape_reproducible.py "
     "tests/service/test_duplicate_trades.py"),
    ("regimes.engine", "monitor/regimes/engine.py",
     "tests/regimes/test_engine.py tests/test_sentences.py"),
    ("regimes.sizing", "monitor/regimes/sizing.py", "tests/regimes/test_sizing.py"),
    ("sinks.redis_sink", "monitor/sinks/redis_sink.py",
     "tests/sinks/test_redis_sink.py tests/service/test_commit_order.py"),
    ("sinks.metrics", "monitor/sinks/metrics.py",
     "tests/sinks/test_metrics.py tests/core/test_exposure_registry.py"),
    ("service", "monitor/service.py",
     "tests/service/test_commit_order.py tests/service/test_restart_and_outage.py "
     "tests/service/test_history_continuity.py tests/service/test_shutdown_events.py "
     "tests/service/test_summary.py"),
    ("sources.databento", "monitor/sources/databento.py", "tests/sources/test_databento.py"),
    ("sources.recording", "monitor/sources/recording.py", "tests/sources/test_recording.py"),
]


def _config(module: str, tests: str, timeout_s: float) -> str:
    data = os.environ.get("MONITOR_DATA_DIR", "")
    env = f"env MONITOR_DATA_DIR={data} " if data else ""
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout_s}\n'
            f'excluded-modules = []\n'
            f'test-command = "{env}{PY} -m pytest -x -q -p no:cacheprovider {tests}"\n\n'
            f'[cosmic-ray.distributor]\nname = "local"\n')


def _sample(db: Path, n: int, rng: random.Random) -> tuple[int, int]:
    con = sqlite3.connect(db)
    ids = sorted(r[0] for r in con.execute("select job_id from work_items"))
    keep = set(rng.sample(ids, min(n, len(ids))))
    drop = [(i,) for i in ids if i not in keep]
    con.executemany("delete from mutation_specs where job_id = ?", drop)
    con.executemany("delete from work_items where job_id = ?", drop)
    con.commit()
    con.close()
    return len(ids), len(keep)


def _results(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "select s.module_path, s.operator_name, s.start_pos_row, s.definition_name, "
        "r.worker_outcome, r.test_outcome, r.diff from mutation_specs s join work_results r "
        "on s.job_id = r.job_id order by s.start_pos_row").fetchall()
    con.close()
    out = [dict(zip(("module", "operator", "line", "function", "worker", "test", "diff"), r))
           for r in rows]
    for r in out:  # cosmic-ray stores its enums' names (KILLED, SURVIVED, TIMEOUT)
        r["worker"], r["test"] = (r["worker"] or "").lower(), (r["test"] or "").lower()
    return out


def run(args) -> int:
    rng = random.Random(args.seed)
    targets = [t for t in TARGETS if not args.only or t[0] in args.only.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="mutation-"))
    work = tmp / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(work), "HEAD"], cwd=ROOT,
                   check=True)
    rows, survivors = [], []
    load0 = os.getloadavg()
    t_start = time.time()
    try:
        for name, module, tests in targets:
            cfg, db = tmp / f"{name}.toml", tmp / f"{name}.sqlite"
            cfg.write_text(_config(module, tests, args.timeout))
            subprocess.run([PY, "-m", "cosmic_ray.cli", "init", str(cfg), str(db)], cwd=work,
                           check=True)
            total, sampled = _sample(db, args.sample, rng)
            t0 = time.time()
            print(f"{name}: {sampled} of {total} mutants, tests: {tests}", flush=True)
            subprocess.run([PY, "-m", "cosmic_ray.cli", "exec", str(cfg), str(db)], cwd=work,
                           check=True)
            res = _results(db)
            killed = sum(r["test"] == "killed" for r in res)
            surv = [r for r in res if r["test"] == "survived"]
            incompetent = sum(r["test"] == "incompetent" for r in res)
            timeouts = sum(r["worker"] == "timeout" for r in res)
            judged = killed + len(surv)
            rows.append((name, total, sampled, killed, len(surv), timeouts, incompetent,
                         judged, time.time() - t0))
            survivors += [(name, r) for r in surv]
            print(f"  killed {killed}, survived {len(surv)}, timeouts {timeouts}, "
                  f"incompetent {incompetent} ({time.time() - t0:.0f} s)", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=ROOT)
        shutil.rmtree(tmp, ignore_errors=True)
    _write(Path(args.out), rows, survivors, args, load0, time.time() - t_start)
    return 0


def _write(out: Path, rows, survivors, args, load0, seconds: float) -> None:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    lines = ["# Mutation run: results", "",
             f"Written by `scripts/mutation.py` on {dt.date.today()} at commit {head}: "
             f"cosmic-ray, {args.sample} mutants sampled per module (seed {args.seed}), "
             f"timeout {args.timeout:g} s per mutant; {os.cpu_count()} CPUs, load "
             f"{load0[0]:.2f} at the start and {os.getloadavg()[0]:.2f} at the end; "
             f"{seconds / 60:.0f} min in all. A timeout counts as killed (the tests did "
             f"not pass); incompetent mutants (not valid Python for the module) are not "
             f"judged.", "",
             "| module | mutants | sampled | killed | survived | of them timeouts | "
             "incompetent | kill rate (judged) |", "|---|---|---|---|---|---|---|---|"]
    for name, total, sampled, killed, surv, timeouts, inc, judged, _ in rows:
        rate = f"{killed / judged:.0%} of {judged}" if judged else "n/a"
        lines.append(f"| `{name}` | {total} | {sampled} | {killed} | {surv} | {timeouts} | "
                     f"{inc} | {rate} |")
    lines += ["", "## Survivors", ""]
    if not survivors:
        lines.append("None.")
    for name, r in survivors:
        diff = [x for x in (r["diff"] or "").splitlines()
                if x.startswith(("+", "-")) and not x.startswith(("+++", "---"))]
        lines.append(f"- `{name}` line {r['line']} (`{r['function']}`), "
                     f"{r['operator'].split('/')[-1]}: `{' / '.join(d.strip() for d in diff)[:160]}`")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=40, help="mutants per module")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    ap.add_argument("--only", default="", help="comma-separated target names")
    ap.add_argument("--out", default=str(ROOT / "docs" / "mutation-results.md"))
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
