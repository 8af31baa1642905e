"""Databento DBN in: the replay and the bridge against the vendor's bare decoder and a bare
Kafka producer, in alternating rounds, on one synthetic session (the simulator's ticks
over the packaged real SPX chain, written as OPRA records by tests/dbn_files.py; labelled
synthetic: no vendor file of that size ships with the project).

    .venv/bin/python benchmarks/bench_dbn.py [--rounds 5] [--batches 150] [--out PATH]

Rows (min / median / max over the rounds, the machine's load beside them):

* **bare decode**: ``databento_dbn.DBNDecoder`` over the file's bytes, records/s.
* **replay**: what ``monitor run --replay FILE.dbn`` does to the records, as fast as
  possible: decode (``read_dbn``), translate and imply the spot (``DbnReplaySource.chunks``)
  and apply every tick to the book (``Pipeline.apply``), records/s. Target: at least half
  the bare decode rate.
* **of it, translate / apply alone**: the replay's two halves timed apart, records/s:
  the records decoded, translated and the spot implied, without the apply; and the same
  ticks, translated beforehand, applied to fresh books (what the replay could reach if
  translating cost nothing).
* **bare producer**: aiokafka sending the same ticks, grouped and encoded beforehand
  exactly as the bridge's producer groups and encodes them, ticks/s (the tests' broker,
  tests/broker.py: Apache Kafka where a JVM is present, else Tansu; on this machine).
* **bridge**: ``monitor bridge databento --replay``'s work (decode, translate, encode,
  send, wait for the broker), ticks/s. Target: at least half the bare producer's rate.

* **trading session**: a longer session's records after its opening snapshot (quotes and
  trades only, the snapshot taken first and untimed): the vendor's bare decode of those
  records, the replay's translation alone (runs of quote records read as arrays, no
  Python object per record) and translation with the apply. Target as for the replay.

The results are written by this script to ``--out`` (benchmarks/results/dbn.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import databento_dbn as dbn  # noqa: E402
import numpy as np  # noqa: E402

from monitor.books import build_books  # noqa: E402
from monitor.config import KafkaTopics, Settings  # noqa: E402
from monitor.ingest import Pipeline  # noqa: E402
from monitor.paths import packaged_chain  # noqa: E402
from monitor.sources.databento_replay import DbnReplaySource  # noqa: E402
from monitor.sources.dbn_columns import QUOTE_RTYPES  # noqa: E402
from monitor.sources.dbn_file import read_dbn  # noqa: E402
from monitor.sources.opra_ticks import OpraTicks  # noqa: E402
from monitor.wire.columns import count, objects  # noqa: E402
from tests import dbn_files as W  # noqa: E402
from tests.broker import create_topics, start_broker  # noqa: E402


def bare_decode(path: Path) -> float:
    data = path.read_bytes()
    t = time.perf_counter()
    dec = dbn.DBNDecoder()
    dec.write(data)
    n = len(dec.decode())
    return n / (time.perf_counter() - t)


def replay(path: Path, settings: Settings, books) -> tuple[float, int]:
    """records/s and ticks applied: decode, translate, imply, apply."""
    t = time.perf_counter()
    src = DbnReplaySource(path, settings, list(books))
    pipe = Pipeline(books)
    applied = 0
    for ticks, _ in src.chunks():
        pipe.apply(ticks)
        applied += count(ticks)
    return src.n_records / (time.perf_counter() - t), applied


def translate_only(path: Path, settings: Settings, roots) -> float:
    """records/s: decode, translate, imply (the replay without the apply)."""
    t = time.perf_counter()
    src = DbnReplaySource(path, settings, list(roots))
    for _ in src.chunks():
        pass
    return src.n_records / (time.perf_counter() - t)


def apply_only(chunks: list, n_records: int, books) -> float:
    """records/s the apply alone allows: the replay's ticks, translated beforehand,
    applied to fresh books (the ceiling of the replay whatever the translation costs)."""
    pipe = Pipeline(books)
    t = time.perf_counter()
    for ticks in chunks:
        pipe.apply(ticks)
    return n_records / (time.perf_counter() - t)


def trading(path: Path, settings: Settings, chains) -> tuple[float, float, float, int]:
    """The session after its opening snapshot (definitions, open interest, first quotes:
    taken first, untimed), records/s: the vendor's bare decode of those records, the
    replay's translation alone (``OpraTicks.file_ticks``, what ``DbnReplaySource.chunks``
    calls), and translation and apply together; and how many records."""
    f = read_dbn(path)
    first = int(np.flatnonzero(np.isin(f.rtypes, QUOTE_RTYPES))[0])
    first += int(np.flatnonzero(f.rtypes[first:] != f.rtypes[first])[0])  # (after the
    # snapshot's one quote per contract: the first trade or quote of the session proper)
    n = len(f) - first
    dec = dbn.DBNDecoder()
    dec.write(f.raw[:f.offs[0]])
    dec.decode()
    t = time.perf_counter()
    dec.write(f.raw[f.offs[first]:])
    assert len(dec.decode()) == n
    bare = n / (time.perf_counter() - t)
    rates = []
    for apply in (False, True):
        books = build_books(settings, chains)
        opra, pipe = OpraTicks(settings, list(books)), Pipeline(books)
        for a in range(0, first, 4096):
            pipe.apply(opra.file_ticks(f, a, min(a + 4096, first)))
        t = time.perf_counter()
        for a in range(first, len(f), 4096):
            ticks = opra.file_ticks(f, a, min(a + 4096, len(f)))
            if apply:
                pipe.apply(ticks)
        rates.append(n / (time.perf_counter() - t))
    return bare, rates[0], rates[1], n


def messages(chunks: list, topics: KafkaTopics, encoding: str, batch: int) -> list:
    """The bridge's messages for the replay's ticks, grouped and encoded as
    KafkaTickProducer.send_ticks does."""
    from monitor.sources.kafka import tick_messages
    return [(topic, key, value, n) for ticks in chunks
            for topic, key, _, value, n in tick_messages(ticks, topics, encoding, batch)]


async def bare_producer(kafka: str, msgs: list) -> float:
    from aiokafka import AIOKafkaProducer
    prod = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=5, max_batch_size=1 << 20,
                            max_request_size=2 << 20, acks="all")
    await prod.start()
    try:
        t = time.perf_counter()
        futs = [await prod.send(topic, value, key=key) for topic, key, value, _ in msgs]
        await asyncio.gather(*futs)
        return sum(m[3] for m in msgs) / (time.perf_counter() - t)
    finally:
        await prod.stop()


async def bridge(kafka: str, path: Path, settings: Settings, roots, batch: int) -> float:
    from monitor.bridge import produce
    t = time.perf_counter()
    sent = await produce(kafka, settings.kafka.encoding, settings,
                         DbnReplaySource(path, settings, roots).chunks(), batch=batch)
    return sent.ticks / (time.perf_counter() - t)


def stats(xs: list[float]) -> str:
    return f"{min(xs):,.0f} / {statistics.median(xs):,.0f} / {max(xs):,.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batches", type=int, default=150, help="400-tick simulator batches")
    ap.add_argument("--trading-batches", type=int, default=1000,
                    help="400-tick simulator batches of the trading session")
    ap.add_argument("--batch", type=int, default=500, help="ticks per Kafka message")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "dbn.md"))
    args = ap.parse_args()
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dbn-"))
    path, _ = W.simulated_session(tmp, args.batches)
    (tmp / "trading").mkdir()
    trading_path, _ = W.simulated_session(tmp / "trading", args.trading_batches)
    settings = Settings()
    settings.kafka.encoding = "binary"
    p = f"bench{uuid.uuid4().hex[:6]}"
    settings.kafka.topics = KafkaTopics(layout="single", ticks=f"{p}.ticks",
                                        dead_letter=f"{p}.dlq")
    chains = [packaged_chain()]
    roots = list(build_books(settings, chains))
    n_records = len(read_dbn(path))
    broker = start_broker()
    broker_name = broker.name
    try:
        asyncio.run(create_topics(broker.bootstrap, [settings.kafka.topics.ticks], 3))
        chunks = [ticks for ticks, _ in DbnReplaySource(path, settings, roots).chunks()]
        msgs = messages([objects(c) for c in chunks], settings.kafka.topics,
                        settings.kafka.encoding, args.batch)
        replay(path, settings, build_books(settings, chains))  # warm-up (kernels, caches)
        dec, rep, tra, app, bare, br = [], [], [], [], [], []
        t_dec, t_tra, t_rep = [], [], []
        n_trading = 0
        applied = 0
        for r in range(args.rounds):
            dec.append(bare_decode(path))
            rate, applied = replay(path, settings, build_books(settings, chains))
            rep.append(rate)
            tra.append(translate_only(path, settings, roots))
            app.append(apply_only(chunks, n_records, build_books(settings, chains)))
            bare.append(asyncio.run(bare_producer(broker.bootstrap, msgs)))
            br.append(asyncio.run(bridge(broker.bootstrap, path, settings, roots, args.batch)))
            d, tr_, rp, n_trading = trading(trading_path, settings, chains)
            t_dec.append(d)
            t_tra.append(tr_)
            t_rep.append(rp)
            print(f"round {r + 1}: decode {dec[-1]:,.0f} rec/s, replay {rep[-1]:,.0f} rec/s "
                  f"(translate alone {tra[-1]:,.0f}, apply alone {app[-1]:,.0f}), "
                  f"bare producer {bare[-1]:,.0f} ticks/s, bridge {br[-1]:,.0f} ticks/s; "
                  f"trading: decode {t_dec[-1]:,.0f}, translate {t_tra[-1]:,.0f}, replay "
                  f"{t_rep[-1]:,.0f} rec/s",
                  file=sys.stderr, flush=True)
    finally:
        broker.stop()
    load1 = os.getloadavg()
    ticks = sum(m[3] for m in msgs)
    r_rep = statistics.median(rep) / statistics.median(dec)
    r_br = statistics.median(br) / statistics.median(bare)
    r_trading = statistics.median(t_rep) / statistics.median(t_dec)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    lines = [
        "# DBN in: replay and bridge against the bare decoder and producer", "",
        f"Written by `benchmarks/bench_dbn.py` on {stamp} UTC: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, databento-dbn {version('databento-dbn')}; load "
        f"{load0[0]:.2f} at the start, {load1[0]:.2f} at the end; {args.rounds} rounds. "
        f"Session (synthetic ticks over the packaged real SPX chain): {n_records:,} OPRA "
        f"records, {applied:,} ticks applied, {ticks:,} ticks in {len(msgs):,} messages of up "
        f"to {args.batch} ({settings.kafka.encoding}); broker: {broker_name}, on the "
        f"same machine.", "",
        "| row | min / median / max | unit | target | median ratio | verdict |",
        "|---|---|---|---|---|---|",
        f"| bare decode (`DBNDecoder`) | {stats(dec)} | records/s | | | |",
        f"| replay: decode, translate, imply, apply | {stats(rep)} | records/s | >= 0.5 x bare "
        f"decode | {r_rep:.2f} | {'PASS' if r_rep >= 0.5 else 'MISS'} |",
        f"| of it: decode, translate, imply (no apply) | {stats(tra)} | records/s | | "
        f"{statistics.median(tra) / statistics.median(dec):.2f} | |",
        f"| of it: apply alone (the ticks translated beforehand) | {stats(app)} | records/s "
        f"| | {statistics.median(app) / statistics.median(dec):.2f} | |",
        f"| bare producer (aiokafka, pre-encoded) | {stats(bare)} | ticks/s | | | |",
        f"| bridge: decode, translate, encode, send | {stats(br)} | ticks/s | >= 0.5 x bare "
        f"producer | {r_br:.2f} | {'PASS' if r_br >= 0.5 else 'MISS'} |", "",
        f"The trading session (synthetic, as above, {args.trading_batches} simulator batches): "
        f"its {n_trading:,} records after the opening snapshot (quotes and trades, "
        f"2,500 ticks per second of event time, an implied spot each second), the snapshot "
        f"taken first, untimed.", "",
        "| row | min / median / max | unit | target | median ratio | verdict |",
        "|---|---|---|---|---|---|",
        f"| bare decode of those records | {stats(t_dec)} | records/s | | | |",
        f"| replay: translate, imply, apply | {stats(t_rep)} | records/s | >= 0.5 x bare "
        f"decode | {r_trading:.2f} | {'PASS' if r_trading >= 0.5 else 'MISS'} |",
        f"| of it: translate, imply (no apply) | {stats(t_tra)} | records/s | | "
        f"{statistics.median(t_tra) / statistics.median(t_dec):.2f} | |", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    from results import rebuild  # (benchmarks/results.py: RESULTS.md from every result)

    rc = main()
    if rc == 0:
        rebuild()
    sys.exit(rc)
