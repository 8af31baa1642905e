"""Fault injection on the at-least-once path, against the real broker and Redis: each row
of the table in ``Monitor._publish_cycle`` (the commit order), made to happen in a real
``monitor run`` process by a fail point (``monitor.failpoints``): a crash (exit 137, as
SIGKILL) between each pair of steps, a checkpoint write that is not stored or that
raises, a commit the broker refuses.

For every row: at the crash, the group's committed offset is not past the offset the
stored checkpoint covers; after a restart (a new process, same group and Redis prefix)
the final state equals an uninterrupted run's, flow counts and tape prints included
(nothing applied twice, nothing lost); every poison tick reaches the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid

import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.books import build_books, decode_checkpoint
from monitor.config import KafkaTopics, load_settings
from monitor.sources.kafka import KafkaTickProducer
from monitor.sources.simulator import MarketSimulator, SimConfig
from monitor.wire.schema import OptionQuote, OptionTrade, UnderlyingTick
from tests.broker import create_topics
from tests.data_paths import DATA_DIR
from tests.service.helpers import close
from tests.service.test_scale_out import Member, _cleanup, _wait

pytestmark = pytest.mark.usefixtures("shared_redis")

CHAIN = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-06-12.csv.gz"
FIELDS = ("spot", "dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day",
          "zero_gamma", "as_of_ns", "customer_puts_sold", "trades_classified",
          "trades_unclassified")
POISON = 4  # ticks no market produces, spread over the session: dead letters

#: (name, MONITOR_FAILPOINTS, whether the process dies there). Each member publishes its
#: first state before any tick is sent (the first Redis write), then one cycle per batch
#: of ticks applied: ``state_stored`` and ``checkpoint_write`` count that first state,
#: the other points only cycles with batches. The fail-and-crash rows fail the second
#: batch cycle's checkpoint and crash at the second commit: on correct code that is the
#: third batch cycle's, after its checkpoint was stored; a commit made for the failed
#: cycle would be that one, ahead of the checkpoint.
ROWS = [
    ("crash after the state", "state_stored=exit@4", True),
    ("crash after the checkpoint", "checkpoint_stored=exit@3", True),
    ("crash after the dead letters", "dead_letters_sent=exit@3", True),
    ("crash after the commit", "committed=exit@3", True),
    ("checkpoint not stored", "checkpoint_write=fail@3,committed=exit@2", True),
    ("checkpoint write raises", "checkpoint_write=raise@3,committed=exit@2", True),
    ("commit refused", "commit=raise@3", False),
]


def _config(tmp_path, name: str, topics: dict):
    lines = ["chains:", f"  - {CHAIN}", "underlyings:",
             "  SPX: {multiplier: 100, settlement: am_monthly, position_model: flow}",
             "kafka:", "  session_timeout_ms: 3000", "  heartbeat_interval_ms: 300",
             "  checkpoint_s: 600", "  topics:"] + [f"    {k}: {v}" for k, v in topics.items()]
    lines += ["intervals:", "  publish_ms: 150"]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _session(config) -> list:
    settings = load_settings(config)
    book = build_books(settings, [CHAIN], settings.base)["SPX"]
    ticks = MarketSimulator(book, SimConfig(rate_ticks_per_s=2000.0, seed=23,
                                            trade_ratio=0.2)).ticks(9000)
    assert {OptionQuote, OptionTrade, UnderlyingTick} <= {type(t) for t in ticks}
    for k in range(POISON):  # an ask no option can be worth
        at = (k + 1) * len(ticks) // (POISON + 1)
        q = next(t for t in ticks[at:] if isinstance(t, OptionQuote))
        ticks.insert(at, OptionQuote(ts_ns=q.ts_ns, symbol=q.symbol, bid=1.0, ask=1e9))
    return ticks


def _state(prefix: str) -> dict:
    raw = redis.Redis().hgetall(f"{prefix}:SPX:state")
    return {k.decode(): json.loads(v) for k, v in raw.items()
            if k.decode() in FIELDS + ("hedge_pressure_usd",)}


async def _committed(kafka: str, group: str, topic: str) -> int:
    c = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        return await c.committed(TopicPartition(topic, 0)) or 0
    finally:
        await c.stop()


def _covered(prefix: str, topic: str) -> int:
    raw = redis.Redis().get(f"{prefix}:SPX:checkpoint")
    if raw is None:
        return 0
    return int(decode_checkpoint(base64.b64decode(raw))["offsets"].get(f"{topic}:0", 0))


async def _count(kafka: str, topic: str) -> int:
    c = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest",
                         enable_auto_commit=False)
    await c.start()
    try:
        tp = TopicPartition(topic, 0)
        end = (await c.end_offsets([tp]))[tp]
        n = 0
        while n < end:
            batch = await c.getmany(timeout_ms=1000)
            n += sum(len(v) for v in batch.values())
        return n
    finally:
        await c.stop()


async def _trickle(kafka: str, topics: KafkaTopics, ticks: list) -> None:
    """The session a message of 150 ticks at a time, about every 60 ms, so each publish
    cycle of the members has batches to commit (a fail point counts those cycles)."""
    async with KafkaTickProducer(kafka, "json", topics) as prod:
        for k in range(0, len(ticks), 150):
            await prod.send_ticks(ticks[k:k + 150], batch_size=150)
            await asyncio.sleep(0.06)


# (each wait below is on a condition, up to 300 s; beside a busy core the whole test, a
# dozen processes on 2 cores, may take more than the suite's default 300 s)
@pytest.mark.timeout(900)
def test_every_crash_point_and_failed_step_ends_as_an_uninterrupted_run(kafka_bootstrap,
                                                                       tmp_path):
    p = f"fi{uuid.uuid4().hex[:6]}"
    topic = f"{p}.ticks"
    asyncio.run(create_topics(kafka_bootstrap, [topic], 1))
    runs = {"reference": ("", False)} | {name: (fp, dies) for name, fp, dies in ROWS}
    cfg, dlq, prefix, group = {}, {}, {}, {}
    for k, name in enumerate(runs):
        dlq[name] = f"{p}.dlq{k}"
        cfg[name] = _config(tmp_path, f"run{k}", {"layout": "single", "ticks": topic,
                                                 "dead_letter": dlq[name]})
        prefix[name], group[name] = f"dealerflow_test_{p}_{k}", f"g-{p}-{k}"
    asyncio.run(create_topics(kafka_bootstrap, list(dlq.values()), 1))
    ticks = _session(cfg["reference"])
    final_clock = max(t.ts_ns for t in ticks if not isinstance(t, OptionTrade))
    members: dict[str, Member] = {}

    def start(name, failpoints=""):
        os.environ["MONITOR_FAILPOINTS"] = failpoints  # (Member copies the environment)
        try:
            members[name] = Member(cfg[name], kafka_bootstrap, group[name], prefix[name],
                                   tmp_path, f"{name.replace(' ', '_')}{len(members)}")
        finally:
            os.environ.pop("MONITOR_FAILPOINTS", None)

    try:
        for name, (fp, _) in runs.items():
            start(name, fp)
        # every member owns SPX and has published its first state: no tick sent yet
        _wait(lambda: all(m.owned() == {"SPX"} and _state(prefix[n]).get("as_of_ns")
                          for n, m in members.items()), "every member's first state",
              timeout=300, members=members.values())
        asyncio.run(_trickle(kafka_bootstrap, KafkaTopics(layout="single", ticks=topic),
                             ticks))
        crashed = {name for name, (_, dies) in runs.items() if dies}
        _wait(lambda: all(members[n].proc.poll() is not None for n in crashed),
              "every fail point's crash", timeout=300)
        for name in crashed:
            m = members[name]
            assert m.proc.returncode == 137, (name, m.logs()[-5:])
            # the guarantee at the crash: no offset committed past the stored checkpoint
            committed = asyncio.run(_committed(kafka_bootstrap, group[name], topic))
            covered = _covered(prefix[name], topic)
            assert committed <= covered, (name, committed, covered)
            assert committed > 0, name  # (the crash came after batches were committed)
            start(name)  # the restart: no fail point
        _wait(lambda: all(_state(prefix[n]).get("as_of_ns") == final_clock
                          and _state(prefix[n]).get("trades_classified")
                          == _state(prefix["reference"]).get("trades_classified")
                          for n in runs), "every run at the session's end", timeout=300)
        # stopped, each publishes its final state: refitted from its inputs alone (a
        # running state depends on when its last timed refresh ran)
        for name, m in members.items():
            assert m.stop() == 0, (name, m.logs()[-5:])
        ref = _state(prefix["reference"])
        assert ref["trades_classified"] > 100
        for name in runs:
            got = _state(prefix[name])
            for f in FIELDS:
                assert close(got[f], ref[f]), (name, f, got[f], ref[f])
            # the tape too: each print valued under the refresh in force at it (event
            # time) and the restored book the crashed run had, not a new refresh
            hp, hp_ref = got["hedge_pressure_usd"], ref["hedge_pressure_usd"]
            assert hp["prints"] == hp_ref["prints"] and hp["no_delta"] == hp_ref["no_delta"]
            for k in ("total", "calls", "puts"):
                assert hp[k] == pytest.approx(hp_ref[k], rel=1e-9), (name, k)
        # every poison tick dead-lettered, at least once, whatever crashed
        for name in runs:
            assert asyncio.run(_count(kafka_bootstrap, dlq[name])) >= POISON, name
        assert asyncio.run(_count(kafka_bootstrap, dlq["reference"])) == POISON
        refused = [x for x in members["commit refused"].logs()
                   if x.get("event") == "timer_cycle_failed"]
        assert len(refused) == 1  # the refused commit was said, once; its offsets went later
    finally:
        for m in members.values():
            m.stop()
        _cleanup(*prefix.values())
