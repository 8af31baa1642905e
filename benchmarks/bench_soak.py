"""Soak: the live service through a real broker at a sustained rate for a set time.

    .venv/bin/python benchmarks/bench_soak.py [--seconds 600] [--rate 200000]
        [--encoding records] [--warmup-s 60] [--partitions 6] [--chain PATH ...]

Starts its own broker (tests/broker.py: Apache Kafka where a JVM is present, else Tansu) and uses the Redis at ``redis.url``
(127.0.0.1:6379, a key prefix of its own, deleted after). Several underlyings (default:
CBOE's end-of-day SPX and VIX chains of 2026-06-12, CBOE quotedata chains of SPY, NDX and
TSLA), one session each from the simulator (random-walk spot), merged in event time. A
producer in a separate process (multiprocessing spawn: its own GIL) sends that session
round and round at ``--rate`` ticks/s, each tick re-stamped just before sending with the
wall clock shifted to its own chain's date (so every underlying's event clock runs forward
from its chain at wall speed; ``records``: the quotes' timestamp column is set in place,
no Python object per quote); the monitor
(``monitor.service.Monitor`` with its Kafka source, the Redis sink and the metrics sink,
as ``monitor run`` wires them) consumes concurrently.

Reported (markdown on stdout): sent and received ticks (lost = sent - received, must be
0), ticks/s over the run, tick-to-state p50/p99/max (per batch: batch received from
aiokafka -> applied to the books, what ``dealerflow_tick_to_state_seconds`` measures),
resident memory (RSS) at start, after the warm-up and at the end, with the growth after
warm-up against the 5 % target, and the machine's load beside it. Exit 0 unless the
benchmark itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_service as bs  # noqa: E402
import msgspec  # noqa: E402

from monitor.books import build_books  # noqa: E402
from monitor.config import KafkaSettings, KafkaTopics, Settings  # noqa: E402
from monitor.service import Monitor  # noqa: E402
from monitor.sinks.metrics import Metrics, MetricsSink  # noqa: E402
from monitor.sinks.redis_sink import RedisSink  # noqa: E402
from monitor.sources.kafka import KafkaSource  # noqa: E402
from monitor.sources.simulator import MarketSimulator, SimConfig, interleaved_session  # noqa: E402
from monitor.wire.schema import Tick  # noqa: E402
from tests.broker import create_topics, start_broker  # noqa: E402
from tests.data_paths import EOD_DIR as EOD  # noqa: E402
from tests.data_paths import QUOTEDATA_DIR as QD  # noqa: E402

DEFAULT_CHAINS = [EOD / "SPX" / "SPX_2026-06-12.csv.gz", EOD / "VIX" / "VIX_2026-06-12.csv.gz",
                  QD / "spy" / "SPY_quotedata_2023-04-14_1915.csv.gz",
                  QD / "other" / "NDX_quotedata_2022-02-05_2026.csv.gz",
                  QD / "other" / "TSLA_quotedata_2023-11-10_1855.csv.gz"]
SESSION_TICKS = 600_000  # the loop the producer sends round and round
CHUNK = 500  # ticks per message (default of --chunk)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process now (Linux /proc), MB."""
    with open(f"/proc/{pid}/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def producer_main(conn, bootstrap: str, topics: dict, encoding: str, rate: float,
                  seconds: float, offsets: dict, chunk: int = CHUNK) -> None:
    """Child: the session (msgpack) round and round at ``rate`` for ``seconds``."""
    bs.quiet_logs()
    ticks = msgspec.msgpack.Decoder(list[Tick]).decode(conn.recv_bytes())
    asyncio.run(_send(conn, bootstrap, KafkaTopics(**topics), encoding, ticks, rate, seconds,
                      offsets, chunk))


def _messages(ticks: list, encoding: str, per_message: int = CHUNK) -> list[list]:
    """The session cut into chunks of ``per_message`` ticks, each as ``(root, quotes, others)`` per
    underlying: with ``records``, the quotes as a structured array whose ``ts_ns`` column
    is restamped in place before each send (no Python object per quote, so one producer
    process keeps up with the consumer)."""
    from monitor.wire import records
    from monitor.wire.codec import underlying_of_tick
    from monitor.wire.schema import OptionQuote
    out = []
    for k in range(0, len(ticks), per_message):
        per: dict = {}
        for t in ticks[k:k + per_message]:
            q, o = per.setdefault(underlying_of_tick(t), ([], []))
            (q if encoding == "records" and type(t) is OptionQuote else o).append(t)
        chunk = []
        for root, (q, o) in per.items():
            arr = (np.frombuffer(records.encode_quotes(q)[records.HEADER_SIZE:],
                                 dtype=records.QUOTE_DTYPE).copy() if q else None)
            chunk.append((root, arr, o))
        out.append(chunk)
    return out


async def _send(conn, bootstrap, topics, encoding, ticks, rate, seconds, offsets, chunk=CHUNK):
    from msgspec.structs import replace

    from monitor.sources.kafka import WIRE_VERSION_HEADER, KafkaTickProducer
    from monitor.wire import records
    from monitor.wire.codec import encode
    from monitor.wire.schema import WIRE_VERSION
    chunks = _messages(ticks, encoding, chunk)
    prod = KafkaTickProducer(bootstrap, encoding, topics, linger_ms=5, **bs.PRODUCER_OPTIONS)
    await prod.start()
    headers = [(WIRE_VERSION_HEADER, str(WIRE_VERSION).encode())]
    qhead = records.header(records.KIND_QUOTES)
    try:
        producer = prod.producer
        conn.send(("ready",))
        loop = asyncio.get_running_loop()
        if await loop.run_in_executor(None, conn.recv) != "go":
            return
        sent, k, start = 0, 0, time.perf_counter()
        late_max = 0.0
        futs = []
        while time.perf_counter() - start < seconds:
            delay = start + sent / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late_max = max(late_max, -delay)
            now = time.time_ns()
            for root, arr, others in chunks[k]:
                ts = now + offsets[root]
                key = root.encode()
                if arr is not None:
                    arr["ts_ns"] = ts
                    futs.append(await producer.send(topics.ticks, qhead + arr.tobytes(),
                                                    key=key, headers=headers))
                    sent += len(arr)
                if others:
                    futs.append(await producer.send(
                        topics.ticks, encode([replace(t, ts_ns=ts) if hasattr(t, "ts_ns")
                                              else t for t in others], encoding),
                        key=key, headers=headers))
                    sent += len(others)
            k = (k + 1) % len(chunks)
            if len(futs) > 2000:
                await asyncio.gather(*futs)
                futs = []
        await producer.flush()
        await asyncio.gather(*futs)
        conn.send(("done", sent, time.perf_counter() - start, late_max))
    finally:
        await prod.stop()


async def soak(args) -> dict:
    broker = start_broker()
    prefix = f"soak{uuid.uuid4().hex[:6]}"
    try:
        settings = Settings()
        settings.redis.prefix = f"dealerflow_bench_{prefix}"
        topics = KafkaTopics(ticks=f"{prefix}.ticks", dead_letter=f"{prefix}.dlq")
        settings.kafka = KafkaSettings(bootstrap=broker.bootstrap, group_id=f"g-{prefix}",
                                       topics=topics, encoding=args.encoding,
                                       session_timeout_ms=6000, heartbeat_interval_ms=1000)
        await create_topics(broker.bootstrap, [topics.ticks, topics.dead_letter],
                            args.partitions)
        books = build_books(settings, args.chain)
        # each underlying's clock runs from its own chain's instant at wall speed (the
        # chains are of different dates; the producer restamps by underlying)
        sims = [MarketSimulator(b, SimConfig(rate_ticks_per_s=args.rate / len(books),
                                             seed=31 + i, start_ns=0))
                for i, b in enumerate(build_books(settings, args.chain).values())]
        session = [t for batch in interleaved_session(sims, SESSION_TICKS / args.rate,
                                                       batch=20_000) for t in batch]
        wall = time.time_ns()
        offsets = {root: b.now_ns + 1_000_000_000 - wall for root, b in books.items()}
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=producer_main, daemon=True,
                           args=(child, broker.bootstrap, topics.model_dump(), args.encoding,
                                 args.rate, args.seconds, offsets, args.chunk))
        proc.start()
        parent.send_bytes(msgspec.msgpack.encode(session))
        del session, sims
        metrics = Metrics()
        redis = RedisSink(settings.redis, metrics=metrics)
        await redis.start()
        lat = bs.LatencySink()
        mon = Monitor(settings, KafkaSource.from_settings(settings.kafka), books,
                      sinks=[redis, MetricsSink(metrics), lat], checkpoints=True)
        run = asyncio.create_task(mon.run())
        if (await bs.recv_from(proc, parent, 120.0))[0] != "ready":
            raise RuntimeError("producer did not start")
        while not mon.owned:
            await asyncio.sleep(0.05)
        rss0 = rss_mb()
        parent.send("go")
        t0 = time.monotonic()
        samples, warm_rss = [], None
        while not parent.poll():
            await asyncio.sleep(1.0)
            el = time.monotonic() - t0
            samples.append((el, rss_mb(), mon.ticks_received, rss_mb(broker.process.pid)))
            if warm_rss is None and el >= args.warmup_s:
                warm_rss, warm_n, warm_t = rss_mb(), mon.ticks_received, el
            if not proc.is_alive() and not parent.poll():
                raise RuntimeError(f"producer exited with {proc.exitcode}")
        _, sent, elapsed, late_max = parent.recv()
        deadline = time.monotonic() + 120
        while mon.ticks_received < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        t_end = time.monotonic() - t0
        rss_end = rss_mb()
        received = mon.ticks_received
        mon.stop()
        rc = await run
        keys = await redis.client.keys(f"{settings.redis.prefix}:*")
        if keys:
            await redis.client.delete(*keys)
        await redis.close()
        proc.join(timeout=10)
        steady = np.array(lat.lat[len(lat.lat) // 10:]) * 1e3  # after the first tenth
        return {"rc": rc, "broker": broker.name, "sent": sent, "received": received,
                "elapsed": elapsed,
                "late_max": late_max, "t_end": t_end, "rss0": rss0, "rss_warm": warm_rss,
                "rss_end": rss_end, "warm_t": warm_t, "warm_n": warm_n,
                "rate_after_warm": (received - warm_n) / max(t_end - warm_t, 1e-9),
                "p50": float(np.percentile(steady, 50)), "p99": float(np.percentile(steady, 99)),
                "max": float(steady.max()), "batches": len(lat.lat),
                "rss_max": max(s[1] for s in samples), "samples": samples,
                "peak_rss_os": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
                "rejected": sum(mon.pipeline.counts.rejected.values()),
                "roots": sorted(books), "contracts": sum(len(b.c.strike) for b in books.values())}
    finally:
        broker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--rate", type=float, default=200_000.0)
    ap.add_argument("--encoding", default="records", choices=("json", "binary", "records"))
    ap.add_argument("--warmup-s", type=float, default=60.0)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--chain", type=Path, action="append", default=None)
    ap.add_argument("--chunk", type=int, default=CHUNK,
                    help="ticks per Kafka message (fewer, larger messages: fewer record "
                         "batches for the broker to keep and search)")
    args = ap.parse_args()
    args.chain = args.chain or DEFAULT_CHAINS
    args.warmup_s = min(args.warmup_s, args.seconds / 3)
    bs.quiet_logs()
    load0 = os.getloadavg()
    r = asyncio.run(soak(args))
    load1 = os.getloadavg()
    growth = (r["rss_end"] / r["rss_warm"] - 1) * 100
    print(f"## Soak: {args.seconds:.0f} s at {args.rate:,.0f} ticks/s ({args.encoding}), "
          f"{len(r['roots'])} underlyings ({', '.join(r['roots'])}, {r['contracts']:,} "
          f"contracts), {args.partitions} partitions, {args.chunk} ticks per message; broker: "
          f"{r['broker']}\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)\n")
    print("| measure | value |\n|---|---|")
    rows = [
        ("ticks sent / received / not received within the drain",
         f"{r['sent']:,} / {r['received']:,} / {r['sent'] - r['received']:,}"),
        ("ticks/s sent (producer schedule late at most)",
         f"{r['sent'] / r['elapsed']:,.0f} ({r['late_max'] * 1e3:,.0f} ms)"),
        ("ticks/s received after warm-up", f"{r['rate_after_warm']:,.0f}"),
        ("tick-to-state p50 / p99 / max (per batch, after the first tenth)",
         f"{r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} ms ({r['batches']:,} batches)"),
        ("RSS at start / after warm-up / at the end", f"{r['rss0']:,.0f} / "
         f"{r['rss_warm']:,.0f} (at {r['warm_t']:.0f} s) / {r['rss_end']:,.0f} MB"),
        ("RSS growth after warm-up (target <= 5 %)",
         f"{growth:+.1f} % ({'PASS' if growth <= 5 and r['sent'] == r['received'] else 'MISS'})"),
        ("ticks rejected (by the checks)", f"{r['rejected']:,}"),
        ("exit code", str(r["rc"])),
    ]
    for k, v in rows:
        print(f"| {k} | {v} |")
    print("\nPer minute (received ticks/s, the monitor's and the broker's RSS):\n")
    print("| minute | received ticks/s | monitor RSS MB | broker RSS MB |\n|---|---|---|---|")
    last_t, last_n = 0.0, 0
    for t, rss, n, brss in r["samples"]:
        if t - last_t >= 60 or (t, rss, n, brss) == r["samples"][-1]:
            print(f"| {t / 60:.1f} | {(n - last_n) / max(t - last_t, 1e-9):,.0f} | {rss:,.0f} | "
                  f"{brss:,.0f} |")
            last_t, last_n = t, n
    if r["sent"] > r["received"]:
        print("\nTicks not received within the drain (120 s after the producer ended) were "
              "not fetched in time: the rate received fell while the broker's memory grew "
              "(with Tansu, whose memory storage keeps every record; see the per-minute rates), the "
              "monitor rejected none and its own memory stayed flat.")
    return 0


if __name__ == "__main__":
    from results import run_recorded  # (benchmarks/results.py, beside this script)

    sys.exit(run_recorded(main, "soak", "Soak: the live service at a sustained rate"))
