"""/stream clients against tick processing: tick-to-state with 50 connected clients against
none, in the same run.

    .venv/bin/python benchmarks/bench_stream.py [--runs 3] [--seconds 20] [--rate 20000]
        [--clients 50]

The monitor (``monitor.service.Monitor``) runs in this process on the packaged SPX chain
(the embedded default's chain), fed by a ``MemorySource`` at ``--rate`` ticks/s from the
simulator, publishing every 200 ms into a ``StreamSink``; its ``/stream`` is served by the
monitor's own HTTP server (one asyncio thread), as in ``monitor run``. The clients live in
a separate process (as remote browsers would): half of them read every event, half connect
and never read (a vanished wall display; the server drops them after
``stream.write_timeout_s``, 10 s, and they connect again). Runs alternate: none, clients,
none, clients, ...

Reported (markdown on stdout): per configuration the min / median / max over runs of the
per-batch tick-to-state p50 and p99 (the service's ``observe_batch`` hook: batch received
-> applied to the book), the ticks/s applied, the state events delivered to the reading
clients, and the machine's load beside them. Exit 0 unless the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import socket
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_service import LatencySink, quiet_logs  # noqa: E402

from monitor.books import build_books  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.paths import packaged_chain  # noqa: E402
from monitor.service import Monitor  # noqa: E402
from monitor.sinks.http_server import HttpServer  # noqa: E402
from monitor.sinks.stream import StreamHub, StreamSink  # noqa: E402
from monitor.sources.memory import MemorySource  # noqa: E402
from monitor.sources.simulator import MarketSimulator, SimConfig  # noqa: E402


def clients_main(port: int, n: int, stop, counts) -> None:
    """Child: ``n // 2`` readers (count state events) and the rest stuck (never read)."""

    async def reader(i):
        while not stop.is_set():
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
                while not stop.is_set():
                    chunk = await asyncio.wait_for(r.read(1 << 16), 1.0)
                    if not chunk:
                        break
                    counts[i] += chunk.count(b"event: state")
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)

    def stuck():
        socks = []
        while not stop.is_set():
            socks = [s for s in socks if s.fileno() != -1]
            while len(socks) < n - n // 2:
                s = socket.create_connection(("127.0.0.1", port))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            time.sleep(0.5)
        for s in socks:
            s.close()

    async def main():
        loop = asyncio.get_running_loop()
        t = loop.run_in_executor(None, stuck)
        await asyncio.gather(*(reader(i) for i in range(n // 2)))
        await t

    asyncio.run(main())


async def one_run(settings, batches, clients: int, rate: float, seconds: float) -> dict:
    books = build_books(settings, [packaged_chain()])
    hub = StreamHub(settings.stream.history, write_timeout_s=settings.stream.write_timeout_s)
    srv = HttpServer({}, handlers={"/stream": hub.handle})
    srv.start()
    lat = LatencySink()
    src = MemorySource(batches, hold_open=True, rate_ticks_per_s=rate, record_commits=False)
    mon = Monitor(settings, src, books, sinks=[StreamSink(hub), lat], checkpoints=False)
    ctx = mp.get_context("spawn")
    stop, counts = ctx.Event(), ctx.Array("q", max(clients // 2, 1))
    proc = None
    if clients:
        proc = ctx.Process(target=clients_main, args=(srv.port, clients, stop, counts),
                           daemon=True)
        proc.start()
        while hub.clients < clients:  # everyone connected before the clock starts
            await asyncio.sleep(0.05)
    run = asyncio.create_task(mon.run(seconds))
    t0 = time.monotonic()
    rc = await run
    elapsed = time.monotonic() - t0
    if proc is not None:
        stop.set()
        proc.join(10)
    srv.stop()
    steady = np.array(lat.lat[len(lat.lat) // 10:]) * 1e3
    return {"rc": rc, "p50": float(np.percentile(steady, 50)),
            "p99": float(np.percentile(steady, 99)), "ticks_s": mon.ticks_received / elapsed,
            "events": int(sum(counts[:])) if clients else 0, "cycles": mon.cycles,
            "dropped": hub.dropped_clients}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=20_000.0)
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()
    quiet_logs()
    settings = Settings()
    settings.intervals.publish_ms = 200.0
    book = next(iter(build_books(settings, [packaged_chain()]).values()))
    ticks = MarketSimulator(book, SimConfig(rate_ticks_per_s=args.rate, seed=7)).ticks(
        int(args.rate * args.seconds * 1.2))
    batches = [ticks[i:i + 500] for i in range(0, len(ticks), 500)]
    load0 = os.getloadavg()
    results: dict[int, list[dict]] = {0: [], args.clients: []}
    for _ in range(args.runs):
        for n in (0, args.clients):
            results[n].append(asyncio.run(one_run(settings, batches, n, args.rate,
                                                  args.seconds)))
    load1 = os.getloadavg()
    print(f"## /stream clients against tick processing: {args.runs} runs of {args.seconds:g} s "
          f"at {args.rate:,.0f} ticks/s, SPX ({len(book.c.strike):,} contracts), publish every "
          f"200 ms\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)\n")
    print("| clients | tick-to-state p50 ms (min / median / max) | p99 ms (min / median / max) "
          "| ticks/s applied (median) | state events delivered to readers (median) | "
          "stuck clients dropped (median) |\n|---|---|---|---|---|---|")

    def mmm(rows, key, f="{:.2f}"):
        xs = sorted(r[key] for r in rows)
        return " / ".join(f.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))

    for n, rows in results.items():
        label = "none" if n == 0 else f"{n} ({n // 2} reading, {n - n // 2} never reading)"
        print(f"| {label} | {mmm(rows, 'p50')} | {mmm(rows, 'p99')} | "
              f"{statistics.median(r['ticks_s'] for r in rows):,.0f} | "
              f"{statistics.median(r['events'] for r in rows):,.0f} | "
              f"{statistics.median(r['dropped'] for r in rows):,.0f} |")
    ratio = (statistics.median(r["p99"] for r in results[args.clients])
             / statistics.median(r["p99"] for r in results[0]))
    print(f"\np99 with {args.clients} clients / p99 with none (medians): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "stream", "/stream clients against tick processing"))
