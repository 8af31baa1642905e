"""The hedge-pressure tape's cost on the trade path: trades/s through ``Pipeline.apply``
with the tape against the same pipeline built with ``tape=False`` (nothing recorded,
nothing added), in alternating rounds, on the packaged SPX chain (a real book; prints at the bid or the ask,
so every one is classified and reaches the tape).

    .venv/bin/python benchmarks/bench_tape.py [--rounds 7] [--trades 200000]

Reported (markdown): min / median / max trades/s of each over the rounds, the ratio of the
medians and the median of the per-round ratios (each round runs both back to back, so
drift between rounds cancels; target: the tape adds at most 10 % to the cost of a trade),
the machine's load beside it. Each round's pipeline has seen one print before the clock
starts (its tape session is open, as all day in production); the once-a-day cost of
opening a session is printed apart.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.books import build_books  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.ingest import Pipeline  # noqa: E402
from monitor.paths import packaged_chain  # noqa: E402
from monitor.wire.schema import OptionTrade  # noqa: E402


def prints(book, n: int, seed: int = 3) -> list:
    rng = np.random.default_rng(seed)
    ok = np.flatnonzero((book.c.status == 0) & (book.c.bid > 0) & (book.c.ask > book.c.bid))
    rows = rng.choice(ok, n)
    buy = rng.random(n) < 0.5
    syms = book.chain.symbols()
    t0 = book.now_ns + 1
    return [OptionTrade(ts_ns=t0 + i, symbol=syms[book.order[r]],
                        price=float(book.c.ask[r] if b else book.c.bid[r]), size=1.0 + i % 7)
            for i, (r, b) in enumerate(zip(rows, buy))]


def rate(book, trades, tape: bool) -> float:
    """Trades/s of ``trades[1:]``: the first print is applied before the clock starts, so
    the tape's session is open as it is all day in production (opening one, once a day,
    buckets every contract's expiry: a few ms, reported apart)."""
    p = Pipeline({"SPX": copy.deepcopy(book)}, tape=tape)
    p.apply(trades[:1])
    t = time.perf_counter()
    for k in range(1, len(trades), 1000):
        p.apply(trades[k:k + 1000])
    el = time.perf_counter() - t
    s = p.states["SPX"]
    assert s.classified == len(trades), (s.classified, len(trades))
    assert (s.tape.prints == len(trades)) == tape
    return (len(trades) - 1) / el


def session_open_ms(book, trade, reps: int = 9) -> float:
    """Median ms of a session's first print (the tape opens its session on it)."""
    out = []
    for _ in range(reps):
        p = Pipeline({"SPX": copy.deepcopy(book)})
        t = time.perf_counter()
        p.apply([trade])
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--trades", type=int, default=200_000)
    args = ap.parse_args()
    book = next(iter(build_books(Settings(), [packaged_chain()]).values()))
    trades = prints(book, args.trades)
    rate(book, trades[:2000], True)  # warm-up (imports, first session)
    gc.collect()
    gc.freeze()  # as the service does after start-up (monitor.service.Monitor.run)
    load0 = os.getloadavg()
    with_, without = [], []
    for _ in range(args.rounds):
        without.append(rate(book, trades, False))
        with_.append(rate(book, trades, True))
    load1 = os.getloadavg()
    print(f"## The tape's cost on the trade path: {args.rounds} alternating rounds of "
          f"{args.trades:,} classified prints, SPX ({len(book.c.strike):,} contracts)\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)\n")
    print("| path | trades/s min | median | max |\n|---|---|---|---|")
    for name, xs in (("without the tape", without), ("with the tape", with_)):
        print(f"| {name} | {min(xs):,.0f} | {statistics.median(xs):,.0f} | {max(xs):,.0f} |")
    extra = statistics.median(without) / statistics.median(with_) - 1
    # each round's pair ran back to back: their ratio cancels the drift between rounds
    # (the rounds of one path alone spread by more than the 10 % being judged)
    pairs = sorted(a / b - 1 for a, b in zip(without, with_))
    paired = statistics.median(pairs)
    print(f"\nOpening a session (its first print, once a day): "
          f"{session_open_ms(book, trades[0]):.1f} ms, not in the rates above.")
    print(f"\nCost of a trade with the tape / without: medians {1 + extra:.3f} "
          f"({100 * extra:+.1f} %); per round, paired: median {100 * paired:+.1f} % "
          f"(min {100 * pairs[0]:+.1f} %, max {100 * pairs[-1]:+.1f} %). Target <= +10 % "
          f"(paired median): {'PASS' if paired <= 0.10 else 'MISS'}")
    return 0


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "tape", "The hedge-pressure tape's cost on the trade path"))
