"""The spot implied from put-call parity (what a feed without the index, OPRA, leaves the
monitor) against each real SPX chain's own spot, over every 2026 CBOE end-of-day SPX chain
at hand (``../shared/data/cboe_chain_eod_2026/SPX``; real data, not shipped).

    MONITOR_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_implied_spot.py

Per chain: the implied spot (``monitor.books.implied_spot``: the nearest expiry settling at
least an hour out, its parity forward, ``S = F exp(-(r - q) T)``, iterated from the pairs
nearest the money), the expiry it came from, and its distance to the file's spot in basis
points; then the distribution (min, 5 %, median, 95 %, max; median of the absolute
distance). Those files quote the options at about 16:15 New York, a quarter hour after the
index's close that gives their spot, so part of each distance is the market's, not the
method's. Written by this script to ``--out`` (benchmarks/results/implied_spot.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.books import implied_spot  # noqa: E402
from monitor.chain import load_chain  # noqa: E402
from monitor.config import Settings  # noqa: E402


def data_dir() -> Path:
    env = os.environ.get("MONITOR_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "implied_spot.md"))
    args = ap.parse_args()
    folder = data_dir() / "cboe_chain_eod_2026" / "SPX"
    files = sorted(folder.glob("SPX_*.csv.gz"))
    if not files:
        print(f"bench_implied_spot: no SPX chains in {folder} (set MONITOR_DATA_DIR)",
              file=sys.stderr)
        return 2
    settings = Settings()
    rows, bps = [], []
    for f in files:
        chain = load_chain(f)
        spot = float(chain.spot)
        got = implied_spot(chain, settings)
        bp = 1e4 * (got.spot / spot - 1.0)
        bps.append(bp)
        rows.append(f"| {f.name} | {spot:,.2f} | {got.spot:,.2f} | {got.expiry} | {bp:+.1f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    a = np.array(bps)
    q = np.percentile(a, [0, 5, 50, 95, 100])
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    lines = ["# The spot implied from parity against each chain's own", "",
             f"Written by `benchmarks/bench_implied_spot.py` on {stamp} UTC ({platform.machine()}, "
             f"Python {platform.python_version()}): {len(files)} CBOE end-of-day SPX chains of "
             f"2026 (real), distance in basis points of the file's spot (+ = implied above).",
             "", "| min | 5 % | median | 95 % | max | median of abs | chains |",
             "|---|---|---|---|---|---|---|",
             "| " + " | ".join(f"{x:+.1f}" for x in q)
             + f" | {np.median(np.abs(a)):.1f} | {len(a)} |", "",
             "| chain | its spot | implied | from expiry | bp |", "|---|---|---|---|---|",
             *rows, ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines[:8]))
    return 0


if __name__ == "__main__":
    from results import rebuild  # (benchmarks/results.py: RESULTS.md from every result)

    rc = main()
    if rc == 0:
        rebuild()
    sys.exit(rc)
