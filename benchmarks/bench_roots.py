"""Many underlyings in one process against one (issue 16, item 5): ticks/s of a session
spread over seven real chains (SPX, NDX, SPY, VIX, NVDA, AMD, TSLA: about 50k contracts)
against a session of the same size on SPX alone.

    .venv/bin/python benchmarks/bench_roots.py [--ticks 200000] [--rounds 3]

Each underlying's session comes from its own ``MarketSimulator`` (random-walk spot, real
quotes, 5 % trades); the seven are interleaved in runs of ten ticks (their clocks are
their own: the chains are of different dates). Measured, in alternating rounds, fresh
books each time:

* ``Pipeline.apply`` alone, batches of 1,000 (the embedded source's batch);
* a ``Monitor`` with a ``MemorySource`` (the service in process: publish cycles, timers,
  background refreshes, per-underlying state), ticks/s from the first batch to the last
  apply (bench_service's probe).

Reported: min / median / max ticks/s of each, the ratio of the medians (target: the
seven-underlying rate at least 0.9x the single one) and the machine's load beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_service import TimedMemorySource, instrument, run_monitor  # noqa: E402

from monitor.books import build_books  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.ingest import Pipeline  # noqa: E402
from monitor.logs import configure_logging  # noqa: E402
from monitor.service import Monitor  # noqa: E402
from monitor.sources.simulator import MarketSimulator, SimConfig  # noqa: E402
from monitor.warmup import warm_up  # noqa: E402

DATA = REPO / ".." / "shared" / "data"
CHAINS = [DATA / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-21.csv.gz",
          DATA / "cboe_chain_eod_2026" / "VIX" / "VIX_2026-08-21.csv.gz",
          DATA / "cboe_quotedata" / "spy" / "SPY_quotedata_2025-04-30_2035.csv.gz",
          DATA / "cboe_quotedata" / "other" / "NDX_quotedata_2022-02-05_2026.csv.gz",
          DATA / "cboe_quotedata" / "other" / "NVDA_quotedata_2025-01-06_2130.csv.gz",
          DATA / "cboe_quotedata" / "other" / "TSLA_quotedata_2023-11-10_1855.csv.gz",
          DATA / "cboe_quotedata" / "other" / "AMD_quotedata_2023-08-20_2235.csv.gz"]
BATCH = 1000
TARGET = 0.9


def session(books: dict, n: int, seed: int = 5) -> list:
    """``n`` ticks, an equal share per underlying, interleaved in runs of ten."""
    per = [MarketSimulator(b, SimConfig(seed=seed + i, rate_ticks_per_s=50_000.0)).ticks(
        n // len(books)) for i, b in enumerate(books.values())]
    out = []
    for k in range(0, max(len(p) for p in per), 10):
        for p in per:
            out.extend(p[k:k + 10])
    return out[:n]


def apply_rate(books: dict, ticks: list) -> float:
    p = Pipeline({k: copy.deepcopy(b) for k, b in books.items()})
    gc.collect()
    t0 = time.perf_counter()
    for k in range(0, len(ticks), BATCH):
        p.apply(ticks[k:k + BATCH])
    return len(ticks) / (time.perf_counter() - t0)


async def service_rate(books: dict, ticks: list) -> float:
    batches = [ticks[k:k + BATCH] for k in range(0, len(ticks), BATCH)]
    src = TimedMemorySource(batches)
    mon = Monitor(Settings(), src, {k: copy.deepcopy(b) for k, b in books.items()})
    probe = instrument(mon, keep=False)
    gc.collect()
    rc = await run_monitor(mon, len(ticks), timeout=120.0 + len(ticks) / 10e3)
    if rc != 0 or probe.applied < len(ticks):
        raise RuntimeError(f"monitor: rc={rc}, applied {probe.applied}/{len(ticks)}")
    return len(ticks) / ((probe.last_ns - src.first_ns) / 1e9)


def spread(xs: list[float]) -> str:
    return f"{min(xs) / 1e3:,.0f} / {statistics.median(xs) / 1e3:,.0f} / {max(xs) / 1e3:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    configure_logging("console", "error", stream=sys.stderr)  # the report goes to stdout
    settings = Settings()
    many = build_books(settings, CHAINS)
    one = {"SPX": many["SPX"]}
    warm_up(many)
    sessions = {"one": session(one, args.ticks), "seven": session(many, args.ticks)}
    books = {"one": one, "seven": many}
    load0 = os.getloadavg()
    res = {(k, w): [] for k in books for w in ("apply", "service")}
    for _ in range(args.rounds):
        for k in ("one", "seven"):  # alternating: drift between rounds hits both
            res[(k, "apply")].append(apply_rate(books[k], sessions[k]))
            res[(k, "service")].append(asyncio.run(service_rate(books[k], sessions[k])))
    load1 = os.getloadavg()
    n_contracts = sum(len(b.c.strike) for b in many.values())
    print(f"## Seven underlyings in one process against one: {args.rounds} alternating rounds "
          f"of {args.ticks:,} ticks\n")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average before "
          f"{load0[0]:.2f}, after {load1[0]:.2f} (1 min). Seven: "
          f"{', '.join(f'{k} {len(b.c.strike):,}' for k, b in many.items())} = "
          f"{n_contracts:,} contracts; one: SPX {len(one['SPX'].c.strike):,}.\n")
    print("| measured | one underlying: ticks/s (k) min / median / max | seven underlyings "
          "| seven / one (medians) |")
    print("|---|---|---|---|")
    ratios = {}
    for w, label in (("apply", "`Pipeline.apply` alone, batches of 1,000"),
                     ("service", "Monitor + MemorySource (publish cycles, refreshes)")):
        one_r, seven_r = res[("one", w)], res[("seven", w)]
        ratios[w] = statistics.median(seven_r) / statistics.median(one_r)
        print(f"| {label} | {spread(one_r)} | {spread(seven_r)} | **{ratios[w]:.2f}x** |")
    print()
    for w, r in ratios.items():
        print(f"- {'PASS' if r >= TARGET else 'MISS'}: {w}, seven >= {TARGET}x one "
              f"(measured {r:.3f}x)")


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "roots", "Many underlyings in one process against one"))
