"""A mutation run by hand (slow; not in CI): cosmic-ray over the service's modules, each
against the tests that guard it, on a seeded sample of its mutants; the results table in
docs/mutation-results.md is written by this script.

    .venv/bin/pip install cosmic-ray
    MONITOR_DATA_DIR=../shared/data .venv/bin/python scripts/mutation.py [--sample 40]
        [--seed 1] [--only tape,regimes.engine] [--out docs/mutation-results.md]
    MONITOR_DATA_DIR=../shared/data .venv/bin/python scripts/mutation.py --recheck

cosmic-ray applies each mutation to the file on disk, runs the target's test command in a
new process and restores the file, so the run works on a copy: a git worktree of HEAD
made here (under the system's temporary folder) and removed afterwards. Mutants are
sampled uniformly (``--sample`` per target, ``random.Random(f"{seed}:{target}")``), so a kill rate is an
estimate with its sample size beside it. A survivor is a mutation no test noticed: the
table lists each with its line and operator for a person to kill with a test or explain
as equivalent. The databases stay in ``.mutation/``: ``--recheck`` runs the survivors again
against the tests as they are now (each on its module as it was mutated) and rewrites
the table.
(mutmut 3 was tried first: its forked workers report the service's mutants "suspicious"
and, with its fork server, let mutants its selected tests fail "survive".)
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import json
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
     "tests/regimes/test_engine.py tests/regimes/test_engine_edges.py tests/test_sentences.py"),
    ("regimes.sizing", "monitor/regimes/sizing.py", "tests/regimes/test_sizing.py"),
    ("sinks.redis_sink.sink", "monitor/sinks/redis_sink/sink.py",
     "tests/sinks/test_redis_sink.py tests/sinks/test_redis_sink_failures.py "
     "tests/service/test_commit_order.py"),
    ("sinks.redis_sink.buffer", "monitor/sinks/redis_sink/buffer.py",
     "tests/sinks/test_redis_sink.py tests/sinks/test_redis_sink_failures.py "
     "tests/service/test_commit_order.py"),
    ("sinks.redis_sink.stream_ids", "monitor/sinks/redis_sink/stream_ids.py",
     "tests/sinks/test_redis_sink.py tests/sinks/test_redis_sink_failures.py "
     "tests/service/test_commit_order.py"),
    ("sinks.metrics.service_metrics", "monitor/sinks/metrics/service_metrics.py",
     "tests/sinks/test_metrics.py tests/core/test_exposure_registry.py"),
    ("sinks.metrics.collector", "monitor/sinks/metrics/collector.py",
     "tests/sinks/test_metrics.py tests/core/test_exposure_registry.py"),
    ("sinks.metrics.names", "monitor/sinks/metrics/names.py",
     "tests/sinks/test_metrics.py tests/core/test_exposure_registry.py"),
    ("service.monitor", "monitor/service/monitor.py",
     "tests/service/test_service_rules.py tests/service/test_commit_order.py "
     "tests/service/test_restart_and_outage.py tests/service/test_history_continuity.py "
     "tests/service/test_shutdown_events.py tests/service/test_summary.py "
     "tests/service/test_health.py tests/sources/test_recording.py"),
    ("service.publish", "monitor/service/publish.py",
     "tests/service/test_service_rules.py tests/service/test_commit_order.py "
     "tests/service/test_restart_and_outage.py tests/service/test_history_continuity.py "
     "tests/service/test_shutdown_events.py tests/service/test_summary.py "
     "tests/service/test_health.py tests/sources/test_recording.py"),
    ("service.handover", "monitor/service/handover.py",
     "tests/service/test_service_rules.py tests/service/test_commit_order.py "
     "tests/service/test_restart_and_outage.py tests/service/test_history_continuity.py "
     "tests/service/test_shutdown_events.py tests/service/test_summary.py "
     "tests/service/test_health.py tests/sources/test_recording.py"),
    ("service.ingest_loop", "monitor/service/ingest_loop.py",
     "tests/service/test_service_rules.py tests/service/test_commit_order.py "
     "tests/service/test_restart_and_outage.py tests/service/test_history_continuity.py "
     "tests/service/test_shutdown_events.py tests/service/test_summary.py "
     "tests/service/test_health.py tests/sources/test_recording.py"),
    ("service.health", "monitor/service/health.py",
     "tests/service/test_service_rules.py tests/service/test_commit_order.py "
     "tests/service/test_restart_and_outage.py tests/service/test_history_continuity.py "
     "tests/service/test_shutdown_events.py tests/service/test_summary.py "
     "tests/service/test_health.py tests/sources/test_recording.py"),
    ("service.assembly", "monitor/service/assembly.py",
     "tests/service/test_service_rules.py tests/service/test_commit_order.py "
     "tests/service/test_restart_and_outage.py tests/service/test_history_continuity.py "
     "tests/service/test_shutdown_events.py tests/service/test_summary.py "
     "tests/service/test_health.py tests/sources/test_recording.py"),
    ("sources.databento", "monitor/sources/databento.py", "tests/sources/test_databento.py"),
    ("sources.recording", "monitor/sources/recording.py", "tests/sources/test_recording.py"),
]

#: survivors reviewed by hand: (target, the original line, stripped[, the mutated line, for
#: one mutation of the line only]) -> why no test kills it. "equivalent": no behaviour
#: changes; "timing": only a wall-clock duration, a pacing or timeout default or a log
#: field changes, which the tests do not pin (they never race the clock); "unreached": a
#: branch no test can reach without a race it cannot order (both count as survived). Annotation
#: mutants are not sampled at all (every module has ``from __future__ import
#: annotations``: annotations are never evaluated).
REVIEWED = {
    ("regimes.engine", "self.changed_ns: dict[str, int] = {f: -(2**62) for f in FAMILIES}"):
        "equivalent: the dwell check reads changed_ns only once a label is set, and "
        "setting one sets changed_ns",
    ("regimes.engine",
     'self.changed_ns = {f: int(d["changed_ns"].get(f, -(2**62))) for f in FAMILIES}'):
        "equivalent: any default far enough before every event time passes the dwell "
        "check (0 is 1970, decades before any tick)",
    ("regimes.engine", 'if cur == "long_gamma" and o.gex_usd_per_pct < -band:',
     'if cur >= "long_gamma" and o.gex_usd_per_pct < -band:'):
        "equivalent for >=: short_gamma (the only other label) returns itself either way",
    ("regimes.engine", 'if cur == "vanna_headwind" and d_iv >= thr * k and flow <= -flow_thr * k:',
     'if cur is "vanna_headwind" and d_iv >= thr * k and flow <= -flow_thr * k:'):
        "equivalent for is: labels are the module's own string constants (CPython)",
    ("tape", 'day = dt.datetime.fromtimestamp(book.now_ns / 1e9, tz=NY).date().isoformat()'):
        "equivalent for //: a time floored by under a second stays on its date",
    ("regimes.engine",
     'if iv is not None and (ep["iv_peak"] is None or iv > ep["iv_peak"]):'):
        "equivalent: on equality the peak is set to the value it already has",
    ("regimes.sizing", 'if rule == "long_gamma" and st_ == "against":  # the sentence '
                       'follows the table'):
        "equivalent for <=: no stance sorts before 'against' (mixed, none, with)",
    ("regimes.sizing", 'for name, sign in (("long", 1.0), ("short", -1.0)):'):
        "equivalent: only the sign of the probe delta selects the rule and stance",
    ("tape", "noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=NY)"):
        "equivalent: any instant of the session's New York day opens the same session",
    ("tape", "self._open(book, int(noon.timestamp() * 1e9))"):
        "equivalent: 1.8 s later is still the same New York day",
    ("sinks.redis_sink.stream_ids", "last_ms, last_seq = self._last_id.get(root, (0, -1))"):
        "equivalent: the default is read only when the clock's ms is not past it, never",
    ("sinks.redis_sink.stream_ids", "if top > self._last_id.get(root, (0, -1)):"):
        "equivalent: stream ids are never negative",
    ("sinks.redis_sink.sink", "pipe = self.client.pipeline(transaction=False)",
     "pipe = self.client.pipeline(transaction=True)"):
        "equivalent: independent commands; MULTI/EXEC answers each with the same reply",
    ("sinks.redis_sink.buffer", "self.dropped_events += 1", "self.dropped_events += 2"):
        "unreached: an xadd '*' refused after an explicit id was refused needs a second "
        "writer to exhaust the stream between the two round trips",
    ("sinks.redis_sink.sink", "if batch and self.metrics is not None:"):
        "equivalent: counting 0 dropped events adds nothing",
    ("sinks.redis_sink.sink", "reconnect_interval: float = 0.5, health_check_interval: int = 5,"):
        "timing: the reconnection period's default",
    ("sinks.redis_sink.sink", "retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), 1),"):
        "timing: the retry's back-off",
    ("sinks.redis_sink.sink", "self.op_timeout * 4)"): "timing: the blob write's time-out",
    ("sinks.metrics.names", "def __init__(self, known: Iterable[str] = (), cap: int = 64):"):
        "equivalent: every _BoundedLabel is made with an explicit cap",
    ("sinks.metrics.collector", "lags[str(part)] = max(v, lags.get(str(part), -math.inf))"):
        "equivalent: lags are never negative",
    ("service.handover", "taken = mine - kept"): "equivalent: kept is a subset of mine",
    ("service.publish", "pub_s = self.settings.intervals.publish_ms / 1000.0"):
        "timing: the publish period, by 0.1 %",
    ("service.monitor", "self._last_publish = (time.monotonic(), 0)"):
        "timing: the first cycle's ticks per second, by one tick",
    ("service.handover", "seconds = time.monotonic() - t0"): "timing: the take-over's duration",
    ("service.monitor", "if n > self._compiled_at_ready.get(k, 0))"):
        "equivalent: signature counts only grow, and a kernel is listed once compiled",
    ("service.monitor", "if late:  # a path the warm-up missed: say which, so it can be added there"):
        "timing: a log line (compiled_after_ready) of a normal stop",
    ("service.monitor", 'stale=sum(n for (_, _, outcome), n in ticks.items() if outcome == "stale"),'):
        "timing: a field of the closing log line",
    ("service.ingest_loop", "for task in settling:  # (an error above: the rest are not waited for)"):
        "timing: an ingest error's pending settles are left to the loop's shutdown",
    ("service.ingest_loop", "lat = (time.time_ns() - batch.received_ns) / 1e9"):
        "timing: a latency histogram's observation, by 1 ns in 1 s",
    ("sources.recording", "cols = any(type(t) is TickColumns for t in batch.ticks)"):
        "equivalent: type() == a class is identity for classes without a metaclass __eq__",
    ("sources.recording", "tmp.write_text(json.dumps(obj, indent=1) + \"\\n\")"):
        "equivalent: the manifest's whitespace (read as JSON, not hashed)",
    ("sources.recording", '"%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._created / 1e9)),'):
        "timing: the manifest's informational creation time, by 1.8 s",
    ("sources.databento",
     "else datetime.fromtimestamp(exp // 1_000_000_000, timezone.utc).date())"):
        "equivalent: t and t // 1e9 seconds fall on the same date",
    ("sources.databento", 'return float("nan") if raw == UNDEF_PRICE else raw / PRICE_SCALE'):
        "equivalent: the sentinel is the largest int64, no price is above it",
    ("sources.databento", "exp_date = (None if exp == UNDEF_TS"):
        "equivalent for >=: the sentinel is the largest uint64",
    ("sources.databento", "if rec.action == dbn.Action.TRADE:"):
        "equivalent: the decoder hands out the enum's own members (is holds where == does)",
    ("sources.databento", "and rec.action == dbn.Action.TRADE):"):
        "equivalent: the decoder hands out the enum's own members (is holds where == does)",
    ("sources.databento", 'if rec.msg != "Heartbeat" and rec.code != dbn.SystemCode.HEARTBEAT:',
     'if rec.msg != "Heartbeat" and rec.code is not dbn.SystemCode.HEARTBEAT:'):
        "equivalent: the decoder hands out the enum's own members",
    ("sources.databento", "if rec.rtype == dbn.RType.TCBBO or (isinstance(rec, dbn.CMBP1Msg)",
     "if rec.rtype is dbn.RType.TCBBO or (isinstance(rec, dbn.CMBP1Msg)"):
        "equivalent: the decoder hands out the enum's own members",
    ("sources.databento", "if not price >= 0 or rec.size <= 0:",
     "if not price >= 0 or rec.size == 0:"):
        "equivalent: a record's size is an unsigned integer",
    ("sources.databento", "if len(unds) > 1:", "if len(unds) != 1:"):
        "equivalent: no underlying at all is refused just before",
    ("sources.recording", '+ (f" (and {len(problems) - 1} more)" if len(problems) > 1',
     '+ (f" (and {len(problems) - 1} more)" if len(problems) != 1'):
        "equivalent: without problems nothing is raised, so the count is at least 1",
    ("sources.databento", "if rec.stat_type != dbn.StatType.OPEN_INTEREST:"):
        "equivalent: the decoder hands out the enum's own members",
    ("regimes.sizing", 'return "with" if a == b else "against"',
     'return "with" if a is b else "against"'):
        "equivalent: signs are the small ints -1, 0, 1, the same objects when equal (CPython)",
    ("regimes.sizing", "if w == a:"):
        "equivalent: vote counts are small ints, the same objects when equal (CPython)",
    ("regimes.sizing", 'if "short_gamma" in lab and stance_ == "against":'):
        "equivalent for <=: no stance sorts before 'against'",
    ("sources.databento", "or (strike == strike and abs(strike - occ.strike) > 1e-6)"):
        "equivalent: a NaN strike fails the difference test anyway",
}


def _config(module: str, tests: str, timeout_s: float) -> str:
    data = os.environ.get("MONITOR_DATA_DIR", "")
    # absolute: the tests run in a worktree elsewhere, where ../shared/data is not the data
    env = f"env MONITOR_DATA_DIR={Path(data).resolve()} " if data else ""
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout_s}\n'
            f'excluded-modules = []\n'
            f'test-command = "{env}{PY} -m pytest -x -q -p no:cacheprovider {tests}"\n\n'
            f'[cosmic-ray.distributor]\nname = "local"\n')


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) (row, col) of every annotation in ``source``."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        parts = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            parts = [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs
                     + [a.vararg, a.kwarg] if x is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            parts = [node.annotation]
        spans += [((x.lineno, x.col_offset), (x.end_lineno, x.end_col_offset))
                  for x in parts if x is not None]
    return spans


def _drop_annotations(db: Path, module: Path) -> int:
    """Remove the mutants inside annotations (never evaluated: ``from __future__ import
    annotations``); how many."""
    spans = _annotation_spans(module.read_text())
    con = sqlite3.connect(db)
    rows = con.execute("select job_id, start_pos_row, start_pos_col from mutation_specs")
    drop = [(j,) for j, r, c in rows if any(a <= (r, c) < b for a, b in spans)]
    con.executemany("delete from mutation_specs where job_id = ?", drop)
    con.executemany("delete from work_items where job_id = ?", drop)
    con.commit()
    con.close()
    return len(drop)


def _review(name: str, diff: str) -> str | None:
    """Why a survivor is left (REVIEWED, or a bare ``*`` made ``/`` in a signature)."""
    lines = [x for x in (diff or "").splitlines()
             if x.startswith(("+", "-")) and not x.startswith(("+++", "---"))]
    before = next((x[1:].strip() for x in lines if x.startswith("-")), "")
    after = next((x[1:].strip() for x in lines if x.startswith("+")), "")
    if "*, " in before and before.replace("*, ", "/, ", 1) == after:
        return "equivalent: a signature's bare * made /: every existing call is accepted"
    return REVIEWED.get((name, before, after)) or REVIEWED.get((name, before))


def _sample(db: Path, n: int, rng: random.Random) -> tuple[int, int]:
    con = sqlite3.connect(db)
    # in the order of the mutations themselves (job ids are random uuids, new at each init)
    ids = [r[0] for r in con.execute(
        "select s.job_id from mutation_specs s join work_items w on s.job_id = w.job_id "
        "order by s.operator_name, s.start_pos_row, s.start_pos_col, s.occurrence")]
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


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _worktree(tmp: Path) -> Path:
    work = tmp / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(work), "HEAD"], cwd=ROOT,
                   check=True)
    return work


def _baseline(name: str, tests: str, work: Path) -> None:
    """The target's tests must pass unmutated, or every mutant would count as killed."""
    cmd = _config("", tests, 0).split('test-command = "')[1].split('"')[0]
    r = subprocess.run(cmd, shell=True, cwd=work, capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-15:])
        raise SystemExit(f"{name}: its tests fail without any mutation, so no mutant can "
                         f"be judged:\n{tail}")


def _exec(cfg: Path, db: Path, work: Path) -> None:
    """cosmic-ray runs every work item of ``db`` that has no result yet."""
    subprocess.run([PY, "-m", "cosmic_ray.cli", "exec", str(cfg), str(db)], cwd=work,
                   check=True)


def _tally(name: str, db: Path) -> tuple[dict, list]:
    res = _results(db)
    surv = [r for r in res if r["test"] == "survived"]
    t = dict(killed=sum(r["test"] == "killed" for r in res), survived=len(surv),
             incompetent=sum(r["test"] == "incompetent" for r in res),
             timeouts=sum(r["worker"] == "timeout" for r in res),
             equivalent=sum((_review(name, r["diff"]) or "").startswith("equivalent")
                            for r in surv))
    t["judged"] = t["killed"] + t["survived"] - t["equivalent"]
    return t, [(name, r) for r in surv]


def run(args) -> int:
    """The full run: every target's sampled mutants; the databases stay in ``--workdir``
    (``--recheck`` runs their survivors again)."""
    targets = [t for t in TARGETS if not args.only or t[0] in args.only.split(",")]
    keep = Path(args.workdir)
    keep.mkdir(parents=True, exist_ok=True)
    old = json.loads((keep / "run.json").read_text()) if (keep / "run.json").exists() else {}
    same = all(old.get(k) == getattr(args, k) for k in ("sample", "seed", "timeout"))
    meta = {"head": _head(), "date": str(dt.date.today()), "sample": args.sample,
            "seed": args.seed, "timeout": args.timeout, "load0": os.getloadavg()[0],
            # an --only run keeps the other targets' results of a run with the same sample
            "targets": {n: t for n, t in old.get("targets", {}).items()
                        if same and args.only and n not in args.only.split(",")}}
    tmp = Path(tempfile.mkdtemp(prefix="mutation-"))
    work = _worktree(tmp)
    try:
        for name, module, tests in targets:
            cfg, db = keep / f"{name}.toml", keep / f"{name}.sqlite"
            db.unlink(missing_ok=True)
            cfg.write_text(_config(module, tests, args.timeout))
            subprocess.run([PY, "-m", "cosmic_ray.cli", "init", str(cfg), str(db)], cwd=work,
                           check=True)
            annotations = _drop_annotations(db, work / module)
            # each target its own seeded draw over its mutations in a fixed order: an --only
            # run of an unchanged module samples what the full run does
            total, sampled = _sample(db, args.sample, random.Random(f"{args.seed}:{name}"))
            meta["targets"][name] = dict(module=module, sha256=_sha(work / module),
                                         head=meta["head"], seconds=0.0,
                                         total=total, sampled=sampled,
                                         annotations=annotations)
            t0 = time.time()
            print(f"{name}: {sampled} of {total} mutants ({annotations} in annotations left "
                  f"out), tests: {tests}", flush=True)
            _baseline(name, tests, work)
            _exec(cfg, db, work)
            meta["targets"][name]["seconds"] = time.time() - t0
            t, _ = _tally(name, db)
            print(f"  killed {t['killed']}, survived {t['survived']}, timeouts "
                  f"{t['timeouts']}, incompetent {t['incompetent']} ({time.time() - t0:.0f} s)",
                  flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=ROOT)
        shutil.rmtree(tmp, ignore_errors=True)
    meta.update(load1=os.getloadavg()[0])
    (keep / "run.json").write_text(json.dumps(meta, indent=1) + "\n")
    _write(Path(args.out), keep, meta)
    return 0


def recheck(args) -> int:
    """Run the last full run's survivors again against today's tests, each on its module as
    it was mutated (a module changed since is put back in the worktree as it was)."""
    keep = Path(args.workdir)
    if not (keep / "run.json").exists():
        print(f"no earlier run in {keep}: run without --recheck first", file=sys.stderr)
        return 2
    meta = json.loads((keep / "run.json").read_text())
    changed = [n for n, t in meta["targets"].items() if _sha(ROOT / t["module"]) != t["sha256"]]
    tmp = Path(tempfile.mkdtemp(prefix="mutation-"))
    work = _worktree(tmp)
    t_start = time.time()
    try:
        for name in meta["targets"]:
            if args.only and name not in args.only.split(","):
                continue
            db = keep / f"{name}.sqlite"
            con = sqlite3.connect(db)
            n = con.execute("delete from work_results where test_outcome = 'SURVIVED'").rowcount
            con.commit()
            con.close()
            t = meta["targets"][name]
            if name in changed:  # its mutants apply to the module as it was mutated
                src = subprocess.run(["git", "show", f"{t['head']}:{t['module']}"], cwd=ROOT,
                                     capture_output=True, check=True).stdout
                (work / t["module"]).write_bytes(src)
            print(f"{name}: {n} survivors run again"
                  + (f" (on the module of {t['head']}: changed since)" if name in changed
                     else ""), flush=True)
            tests = {n: tl for n, _, tl in TARGETS}[name]  # today's list of its tests
            cfg = keep / f"{name}.toml"
            cfg.write_text(_config(t["module"], tests, meta["timeout"]))
            _baseline(name, tests, work)
            _exec(cfg, db, work)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=ROOT)
        shutil.rmtree(tmp, ignore_errors=True)
    meta["recheck"] = {"head": _head(), "date": str(dt.date.today()),
                       "seconds": time.time() - t_start, "changed": changed}
    (keep / "run.json").write_text(json.dumps(meta, indent=1) + "\n")
    _write(Path(args.out), keep, meta)
    return 0


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def _write(out: Path, keep: Path, meta: dict) -> None:
    rows, survivors = [], []
    for name, t in meta["targets"].items():
        tally, surv = _tally(name, keep / f"{name}.sqlite")
        rows.append((name, t, tally))
        survivors += surv
    recheck = meta.get("recheck")
    lines = ["# Mutation run: results", "",
             f"Written by `scripts/mutation.py` on {meta['date']} at commit {meta['head']}: "
             f"cosmic-ray, {meta['sample']} mutants sampled per module (seed {meta['seed']}), "
             f"timeout {meta['timeout']:g} s per mutant; {os.cpu_count()} CPUs, load "
             f"{meta['load0']:.2f} at the start and {meta['load1']:.2f} at the end; "
             f"{sum(t['seconds'] for t in meta['targets'].values()) / 60:.0f} min in all (the "
             f"commit each module was mutated at is in the table). A timeout counts as killed (the tests "
             f"did not pass); incompetent mutants (not valid Python for the module) are not "
             f"judged. Mutants inside annotations are left out before sampling (never "
             f"evaluated); survivors reviewed as equivalent (`REVIEWED` in the script) are "
             f"not judged either; survivors reviewed as timing-only or unreached count as survived."]
    if recheck:
        lines += ["", f"The run's survivors were run again (`--recheck`) on {recheck['date']} "
                  f"at commit {recheck['head']}, against the tests of that commit, each "
                  f"on its module as it was mutated"
                  + (f" ({', '.join(recheck['changed'])} changed since: the old module "
                     f"with today's code around it)" if recheck.get("changed") else "")
                  + f", in {recheck['seconds'] / 60:.0f} min; the table counts a survivor "
                  f"the new tests kill as killed."]
    lines += ["", "| module | commit | mutants | in annotations (left out) | sampled | killed | survived "
              "| of them equivalent | timeouts | incompetent | kill rate (judged) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, t, c in rows:
        rate = f"{c['killed'] / c['judged']:.0%} of {c['judged']}" if c["judged"] else "n/a"
        lines.append(f"| `{name}` | {t['head']} | {t['total'] + t['annotations']} | {t['annotations']} | "
                     f"{t['sampled']} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
                     f"{c['timeouts']} | {c['incompetent']} | {rate} |")
    groups: dict[str, list[str]] = {"to kill": [], "reviewed": []}
    for name, r in survivors:
        diff = [x for x in (r["diff"] or "").splitlines()
                if x.startswith(("+", "-")) and not x.startswith(("+++", "---"))]
        why = _review(name, r["diff"])
        groups["reviewed" if why else "to kill"].append(
            f"- `{name}` line {r['line']} (`{r['function']}`), "
            f"{r['operator'].split('/')[-1]}: `{' / '.join(d.strip() for d in diff)[:160]}`"
            + (f": {why}" if why else ""))
    for title, key in (("Survivors to kill", "to kill"),
                       ("Survivors reviewed (equivalent, timing-only or unreached)", "reviewed")):
        lines += ["", f"## {title}", ""] + (groups[key] or ["None."])
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=40, help="mutants per module")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    ap.add_argument("--only", default="", help="comma-separated target names")
    ap.add_argument("--out", default=str(ROOT / "docs" / "mutation-results.md"))
    ap.add_argument("--workdir", default=str(ROOT / ".mutation"),
                    help="where the run keeps its cosmic-ray databases (for --recheck)")
    ap.add_argument("--recheck", action="store_true",
                    help="run the last run's survivors again against today's tests")
    args = ap.parse_args()
    return recheck(args) if args.recheck else run(args)


if __name__ == "__main__":
    sys.exit(main())
