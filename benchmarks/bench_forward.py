"""The structure forward in time: zero gamma, GEX and the walls at all four horizons plus
the charm to the close, for the packaged real SPX chain (about 22,000 contracts), against a
vectorised numpy/scipy peer computing the same figures from the same IVs.

    .venv/bin/python benchmarks/bench_forward.py [--rounds 9]

The monitor: ``monitor.snapshot.forward_fields`` (the calendar clocks, the four horizons
of ``monitor.core.horizons`` and the charm to the close), what every publish cycle runs on
the levels thread, off the tick path. The peer, written as a competent numpy user would:
per horizon, Black-Scholes gamma of every live contract at ``T'`` with ``scipy.special``'s
``ndtr``, per-strike sums with ``np.bincount``, zero gamma by evaluating GEX on the same
401-point grid (one ``exp`` per contract per point, in blocks) and ``scipy.optimize.brentq``
on the crossing nearest spot; the charm from ``ndtr`` deltas at both clocks. Both must
agree (zero gamma to 0.01 % of spot, GEX to 1e-9) before a time is reported.

Reported (markdown): min / median / max milliseconds of each over the rounds, the ratio of
the medians, the machine's load beside them. Target (issue 15): at most 50 ms for all four
horizons together.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.chain.clock import horizon_clocks  # noqa: E402
from monitor.chain.loaders import load_chain  # noqa: E402
from monitor.core import horizons  # noqa: E402
from monitor.core import status as st  # noqa: E402
from monitor.core.book import MIN_T_YEARS, NS_PER_YEAR, Book  # noqa: E402
from monitor.paths import packaged_chain  # noqa: E402
from monitor.snapshot import forward_fields  # noqa: E402

PARK_S = 0.3
GRID = np.exp(np.linspace(math.log(0.8), math.log(1.2), 401))


def peer(book: Book, clocks) -> dict:
    """The same figures, vectorised numpy/scipy (module docstring)."""
    c, g = book.c, book.g
    ok = (c.status == st.OK) & (c.pos != 0)
    K, sig, n = c.strike[ok], c.iv[ok], c.pos[ok] * book.multiplier
    grp, sidx, call = c.group[ok], c.strike_idx[ok], c.is_call[ok]
    S, T0, F0, df0 = book.spot, g.T[grp], g.fwd[grp], g.df[grp]
    settle = book.group_settle_ns[grp]

    def at(ts):
        left = (settle - ts) / NS_PER_YEAR
        T = np.where(left > 0, np.maximum(left, MIN_T_YEARS), 0.0)
        ratio = T / T0
        return T, S * (F0 / S) ** ratio, df0 ** ratio

    out = {}
    for name, ts in clocks:
        T, F, df = at(ts)
        live = T > 0
        s = sig[live] * np.sqrt(T[live])
        a = F[live] * df[live] / S
        w = n[live] * a / s
        d1 = (np.log(F[live] / K[live]) + 0.5 * s * s) / s

        def gex(spot_mult, w=w, d1=d1, s=s):
            z = d1[None, :] + np.log(np.atleast_1d(spot_mult))[:, None] / s[None, :]
            return 0.01 * S * np.atleast_1d(spot_mult) * (
                np.exp(-0.5 * z * z) @ w) / math.sqrt(2 * math.pi)

        total = float(gex(1.0)[0])
        h = np.concatenate([gex(GRID[k:k + 50]) for k in range(0, len(GRID), 50)])
        flips = np.flatnonzero(np.sign(h[:-1]) != np.sign(h[1:]))
        zg = None
        if len(flips):
            k = flips[np.argmin(np.minimum(abs(GRID[flips] - 1), abs(GRID[flips + 1] - 1)))]
            zg = S * brentq(lambda u: gex(u)[0], GRID[k], GRID[k + 1], xtol=1e-6)
        per = 0.01 * S * w * np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
        slot = sidx[live] * 2 + (~call[live])
        by = np.bincount(slot, weights=per, minlength=2 * len(book.strikes)).reshape(-1, 2)
        # the call wall at or above spot, the put wall at or below (monitor.core.levels.walls)
        side = np.stack([book.strikes >= S, book.strikes <= S], axis=1)
        walls = [float(book.strikes[np.argmax(np.where(side[:, j], np.abs(by[:, j]), 0.0))])
                 for j in (0, 1)]
        out[name] = (zg, total, walls)
    close = dict(clocks)["close"]
    T, F, df = at(close)

    def delta(T, F, df):
        s = sig * np.sqrt(np.where(T > 0, T, 1.0))
        d1 = (np.log(F / K) + 0.5 * s * s) / s
        d = F * df / S * np.where(call, ndtr(d1), ndtr(d1) - 1.0)
        settled = np.where(call, (S > K) * 1.0, -1.0 * (S < K))
        return np.where(T > 0, d, settled)

    out["charm"] = float(-(n * (delta(T, F, df) - delta(T0, F0, df0))).sum() * S)
    return out


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(1e3 * (time.perf_counter() - t))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    book = Book(load_chain(packaged_chain()))
    clocks = horizon_clocks(book.now_ns, book.underlying, book.group_expiry,
                            book.group_settle_ns)
    mine = forward_fields(book)  # also compiles everything once
    theirs = peer(book, clocks)
    for f in mine["forward"]:  # agree before timing
        zg, total, walls = theirs[f["horizon"]]
        assert math.isclose(f["gex_usd_per_pct"], total, rel_tol=1e-9), f
        assert (zg is None) == (f["zero_gamma"] is None), f
        if zg is not None:
            assert abs(zg - f["zero_gamma"]) <= 1e-4 * book.spot, (zg, f)
        assert [f["call_wall"], f["put_wall"]] == walls, (f, walls)
    assert math.isclose(mine["charm_to_close_usd"], theirs["charm"], rel_tol=1e-9)
    load0 = os.getloadavg()
    a, b = [], []
    for _ in range(args.rounds):  # alternate, so a load change hits both
        a += timed(lambda: forward_fields(book), 1)
        b += timed(lambda: peer(book, clocks), 1)
        # the peer's matrix products wake OpenBLAS threads that spin on the cores for a
        # while after; the service runs no BLAS, so let them park before the next round
        time.sleep(PARK_S)
    four = timed(lambda: horizons.forward_levels(book, clocks), args.rounds)
    load1 = os.getloadavg()
    n_live = int((book.c.status == st.OK).sum())
    print(f"## Structure forward in time: four horizons and the charm to the close, SPX "
          f"{book.chain.source.split('/')[-1]} ({len(book.c.strike):,} contracts, {n_live:,} "
          f"with an IV), {args.rounds} alternating rounds\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)\n")
    print("| computation | ms min | median | max |\n|---|---|---|---|")
    for name, xs in (("monitor: forward_fields (clocks, 4 horizons, charm to close)", a),
                     ("monitor: the 4 horizons alone (forward_levels)", four),
                     ("peer: vectorised numpy/scipy, same figures", b)):
        print(f"| {name} | {min(xs):.1f} | {statistics.median(xs):.1f} | {max(xs):.1f} |")
    med = statistics.median(a)
    print(f"\nPeer / monitor (medians): {statistics.median(b) / med:.1f}x. Target: all four "
          f"horizons <= 50 ms: {'PASS' if statistics.median(four) <= 50 else 'MISS'} "
          f"(median {statistics.median(four):.1f} ms; with clocks and charm {med:.1f} ms)")
    return 0


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "forward", "The structure forward in time against a numpy/scipy peer"))
