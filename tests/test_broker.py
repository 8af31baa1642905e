"""The test broker itself (tests/broker.py): each kind starts, takes ticks and gives them
back through the monitor's own Kafka source, and says its name; Apache Kafka where it
cannot run (no java or mvn) says so in one line. The session's broker is the default kind;
this runs the other one too, lightly."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from monitor.config import KafkaSettings, KafkaTopics
from monitor.sources.kafka import KafkaSource, KafkaTickProducer
from monitor.wire.columns import objects
from monitor.wire.schema import OptionQuote
from tests.broker import create_topics, start_broker, unique

TICKS = [OptionQuote(ts_ns=1_787_342_400_000_000_000 + i, symbol="SPXW260821C06000000",
                     bid=10.0 + i, ask=10.5 + i) for i in range(3)]


async def _round_trip(bootstrap: str) -> list:
    topics = KafkaTopics(layout="single", ticks=unique("ticks"), dead_letter=unique("dlq"))
    await create_topics(bootstrap, [topics.ticks, topics.dead_letter], 1)
    src = KafkaSource(KafkaSettings(bootstrap=bootstrap, group_id=unique("g"), topics=topics,
                                    poll_timeout_ms=50),
                      consumer_options={"session_timeout_ms": 2000,
                                        "heartbeat_interval_ms": 300})
    await src.start()  # (a new group reads from the end: the ticks are sent after it joins)
    async with KafkaTickProducer(bootstrap, "json", topics) as prod:
        await prod.send_ticks(TICKS)
    got: list = []
    try:
        async def take():
            async for batch in src.batches():
                got.extend(objects(batch.ticks))  # (a run of quotes comes as columns)
                if len(got) >= len(TICKS):
                    return
        await asyncio.wait_for(take(), 60)  # (a hang guard)
    finally:
        await src.stop()
    return got


@pytest.mark.parametrize("kind", ["kafka", "tansu"])
def test_each_broker_kind_takes_ticks_and_gives_them_back(kind):
    if kind == "kafka" and not (shutil.which("java") and shutil.which("mvn")):
        with pytest.raises(RuntimeError, match="Apache Kafka cannot run here: it needs java "
                                               "and mvn on PATH"):
            start_broker(kind=kind)
        return
    broker = start_broker(kind=kind)
    try:
        assert broker.name == {"kafka": "Apache Kafka 4.1.1 (KRaft)",
                               "tansu": "Tansu (memory storage)"}[kind]
        got = asyncio.run(_round_trip(broker.bootstrap))
    finally:
        broker.stop()
    assert [(t.symbol, t.ts_ns, t.bid) for t in got] == [(t.symbol, t.ts_ns, t.bid)
                                                           for t in TICKS]
