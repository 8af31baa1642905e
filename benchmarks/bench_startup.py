"""Start-up as a user meets it: ``monitor snapshot`` of the SPX chain on a cold numba cache
(right after install), after the one-time ``monitor warmup``, and warm; ``monitor run``
from launch to ``/readyz`` 200; beside a pandas script that sums the file's vendor gamma
times open interest (the quickest useful answer from the same file).

    .venv/bin/python benchmarks/bench_startup.py [--rounds 3]

Each measurement is a fresh process; a cold cache is a new ``NUMBA_CACHE_DIR``. Reported
(markdown): min / median / max seconds, ratios of the medians to the pandas script, the
machine's load. Targets (issue 16): first snapshot after install and warmup <= 10x the
pandas script, warm <= 1.5x; ``monitor run`` ready in <= 3 s warm, no compilation after.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MONITOR = [sys.executable, "-m", "monitor.cli"]
PEER = r"""
import gzip, sys, pandas as pd
df = pd.read_csv(sys.argv[1], comment="#")
sign = df["cp"].map({"C": 1.0, "P": -1.0})
with gzip.open(sys.argv[1], "rt") as f:
    spot = float(f.readline().split(",")[1])
gex = (sign * df["gamma"] * df["oi"] * 100 * spot * spot * 0.01).sum()
print(f"naive GEX {gex / 1e6:,.1f} $mm per 1%")
"""


def chain_file() -> Path:
    sys.path.insert(0, str(REPO))
    from monitor.paths import packaged_chain

    return packaged_chain()


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_ready(env: dict) -> tuple[float, bool]:
    """(seconds from launch to /readyz 200, whether the log says it compiled after)."""
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    env = {**env, "DEALERFLOW_LOG_FORMAT": "json",
           "DEALERFLOW_REDIS__PREFIX": f"bench{port}"}
    t = time.perf_counter()
    proc = subprocess.Popen(MONITOR + ["run", "--metrics-port", str(port), "--no-summary",
                                       "--duration", "12"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    ready = None
    while proc.poll() is None and ready is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    ready = time.perf_counter() - t
        except OSError:
            time.sleep(0.05)
    proc.wait(120)
    text = Path(log.name).read_text()
    os.unlink(log.name)
    if ready is None:
        raise RuntimeError(f"monitor run never became ready:\n{text[-2000:]}")
    return ready, "compiled_after_ready" in text


def row(name: str, xs: list[float], ref: float | None) -> str:
    med = statistics.median(xs)
    ratio = f"{med / ref:.1f}x" if ref else ""
    return f"| {name} | {min(xs):.2f} | {med:.2f} | {max(xs):.2f} | {ratio} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    chain = str(chain_file())
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    base["PYTHONPATH"] = str(REPO)
    load0 = os.getloadavg()
    peer = [timed([sys.executable, "-c", PEER, chain], base) for _ in range(args.rounds)]
    cold, after_warmup, warmup, warm, ready, late = [], [], [], [], [], False
    for _ in range(args.rounds):
        cache = tempfile.mkdtemp(prefix="numba-cold-")
        env = {**base, "NUMBA_CACHE_DIR": cache}
        cold.append(timed(MONITOR + ["snapshot", chain], env))  # right after install
        shutil.rmtree(cache)
        cache = tempfile.mkdtemp(prefix="numba-cold-")
        env = {**base, "NUMBA_CACHE_DIR": cache}
        warmup.append(timed(MONITOR + ["warmup"], env))  # the one-time step
        after_warmup.append(timed(MONITOR + ["snapshot", chain], env))
        warm.append(timed(MONITOR + ["snapshot", chain], env))
        r, compiled = time_to_ready(env)
        ready.append(r)
        late |= compiled
        shutil.rmtree(cache)
    load1 = os.getloadavg()
    ref = statistics.median(peer)
    print(f"## Start-up: `monitor snapshot` of the packaged SPX chain and `monitor run`, "
          f"{args.rounds} rounds, each a fresh process\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)\n")
    print("| what | s min | median | max | / pandas script |\n|---|---|---|---|---|")
    print(row("pandas script: vendor gamma x OI (the peer)", peer, None))
    print(row("`monitor snapshot`, cold cache (right after install)", cold, ref))
    print(row("`monitor warmup` (one-time, cold cache)", warmup, ref))
    print(row("`monitor snapshot`, first after warmup", after_warmup, ref))
    print(row("`monitor snapshot`, warm", warm, ref))
    print(row("`monitor run`: launch to /readyz 200, warm cache", ready, None))
    first = statistics.median(after_warmup) / ref
    hot = statistics.median(warm) / ref
    print(f"\nTargets: first snapshot after warmup <= 10x: {'PASS' if first <= 10 else 'MISS'} "
          f"({first:.1f}x); warm <= 1.5x: {'PASS' if hot <= 1.5 else 'MISS'} ({hot:.1f}x); "
          f"ready <= 3 s: {'PASS' if statistics.median(ready) <= 3 else 'MISS'} "
          f"({statistics.median(ready):.2f} s); compiled after ready: "
          f"{'YES (MISS)' if late else 'no (PASS)'}")
    return 0


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "startup", "Start-up as a user meets it, against a pandas script"))
