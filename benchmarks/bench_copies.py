"""The publish cycle's copy on the tick thread (issue 16, item 6): ``frozen_copy()`` (a new
book and arrays each cycle) against ``frozen_copy(reuse=True)`` (the service's: written
into the previous cycle's arrays), on the real SPX chain and on synthetic books of
500,000 and 2,000,000 contracts (labelled synthetic: many expiries of a flat-vol chain,
built with ``tests/synth.py``).

    .venv/bin/python benchmarks/bench_copies.py [--reps 7] [--sizes 500000,2000000]

Reported: min / median / max ms per copy of each, the ratio of the medians, the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.books import build_books  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.core.book import Book  # noqa: E402
from monitor.ingest import Pipeline  # noqa: E402
from monitor.paths import packaged_chain  # noqa: E402
from tests.synth import make_chain  # noqa: E402


def synthetic(n: int) -> Book:
    """About ``n`` contracts: 1,000 strikes x calls and puts per expiry, as many expiries as
    it takes, a business day apart (synthetic)."""
    per = 2000
    rows = [(50.0 + 0.1 * k, 0.02 + 0.004 * e, c, 0.2, 100.0)
            for e in range(max(1, n // per)) for k in range(1000) for c in (True, False)]
    return Book(make_chain(rows, spot=100.0, r=0.03, spread=0.05, underlying="SPX"))


def timed(state, reuse: bool) -> float:
    """ms for one frozen copy of ``state``."""
    t0 = time.perf_counter()
    state.frozen_copy(reuse=reuse)
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--sizes", default="500000,2000000")
    args = ap.parse_args()
    books = {"SPX (real, packaged)": build_books(Settings(), [packaged_chain()])["SPX"]}
    for n in (int(x) for x in args.sizes.split(",") if x):
        books[f"synthetic {n:,}"] = synthetic(n)
    load0 = os.getloadavg()
    print(f"## The publish cycle's copy: fresh against reused arrays, {args.reps} reps\n")
    rows = []
    for name, book in books.items():
        s = Pipeline({"SPX": book}).states["SPX"]
        s.frozen_copy(reuse=True)  # the first reused copy allocates
        fresh, reused = [], []
        for _ in range(args.reps):  # interleaved
            fresh.append(timed(s, False))
            reused.append(timed(s, True))
        rows.append((name, len(book.c.strike), fresh, reused))
    load1 = os.getloadavg()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average before "
          f"{load0[0]:.2f}, after {load1[0]:.2f} (1 min).\n")
    print("| book | contracts | fresh copy ms min / median / max | reused ms min / median / "
          "max | fresh / reused (medians) |")
    print("|---|---:|---|---|---:|")
    for name, n, fresh, reused in rows:
        f3 = " / ".join(f"{x:.2f}" for x in (min(fresh), statistics.median(fresh), max(fresh)))
        r3 = " / ".join(f"{x:.2f}" for x in (min(reused), statistics.median(reused),
                                               max(reused)))
        print(f"| {name} | {n:,} | {f3} | {r3} | "
              f"{statistics.median(fresh) / statistics.median(reused):.1f}x |")


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "copies", "The publish cycle's copy of a book"))
