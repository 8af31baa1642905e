"""Sources: KafkaSource / KafkaTickProducer against a real (Tansu) broker, and MemorySource."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.config import KafkaSettings, KafkaTopics
from monitor.sources.base import Batch, Source
from monitor.sources.kafka import (
    KafkaSource,
    KafkaTickProducer,
    input_topics,
    topic_for,
)
from monitor.sources.memory import MemorySource
from monitor.wire import (
    OpenInterest,
    OptionQuote,
    OptionTrade,
    UnderlyingTick,
    VolIndex,
    encode,
    underlying_of_tick,
)
from monitor.wire.columns import count, objects
from tests.broker import create_topics, unique

# Tansu holds a joining member for about half the session timeout (at least ~1 s):
# keep it short so each consumer start costs ~1 s.
FAST_GROUP = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 300}
TS = 1_787_342_400_000_000_000


def _topics(layout: str = "single") -> KafkaTopics:
    return KafkaTopics(layout=layout, **{name: unique(name) for name in KafkaTopics.model_fields
                                         if name != "layout"})


def _settings(bootstrap, topics, group=None, **kw) -> KafkaSettings:
    kw.setdefault("poll_timeout_ms", 50)
    return KafkaSettings(bootstrap=bootstrap, group_id=group or unique("g"), topics=topics, **kw)


def _source(settings, **kw) -> KafkaSource:
    kw.setdefault("consumer_options", FAST_GROUP)
    return KafkaSource(settings, **kw)


def _stream(n: int, t0: int = 0) -> list:
    """``n`` quotes per underlying (SPX via SPXW, SPY), plus underlying ticks and trades,
    interleaved; ``ts_ns`` increases along the list."""
    out = []
    for i in range(n):
        ts = TS + t0 + 10 * i
        out.append(OptionQuote(ts, f"SPXW260821C0{7000 + i % 50:04d}000", 1.0 + i, 1.2 + i))
        out.append(OptionQuote(ts + 1, f"SPY   260821P00{550 + i % 40:03d}000", 2.0, 2.1 + i))
        if i % 5 == 0:
            out.append(UnderlyingTick(ts + 2, "SPX", 7600.0 + i, 7600.5 + i, 7600.2 + i))
            out.append(UnderlyingTick(ts + 3, "SPY", 600.0 + i, 600.05 + i, 600.02 + i))
        if i % 7 == 0:
            out.append(OptionTrade(ts + 4, f"SPXW260821C0{7000 + i % 50:04d}000", 1.1, 2.0))
    return out


async def _take(source: KafkaSource, *, ticks: int | None = None, errors: int | None = None,
                timeout: float = 20.0) -> list[Batch]:
    """Batches until at least ``ticks`` ticks and ``errors`` errors have arrived."""
    got: list[Batch] = []

    def done():
        return ((ticks is None or sum(count(b.ticks) for b in got) >= ticks)
                and (errors is None or sum(len(b.errors) for b in got) >= errors))

    async def run():
        agen = source.batches()
        try:
            async for b in agen:
                got.append(b)
                if done():
                    return
        finally:
            await agen.aclose()

    await asyncio.wait_for(run(), timeout)
    return got


async def _nothing_more(source: KafkaSource, seconds: float = 1.0) -> list[Batch]:
    """Whatever arrives within ``seconds`` (expected: nothing)."""
    got: list[Batch] = []

    async def run():
        async for b in source.batches():
            got.append(b)

    try:
        await asyncio.wait_for(run(), seconds)
    except asyncio.TimeoutError:
        pass
    return got


async def _partitions_of(bootstrap: str, topic: str) -> set[TopicPartition]:
    """Partitions of ``topic`` that hold at least one record."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        if not tps:
            await c._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        ends = await c.end_offsets(tps)
        return {tp for tp, off in ends.items() if off > 0}
    finally:
        await c.stop()


def _ticks(batches: list[Batch]) -> list:
    """Every tick received, as objects (the source hands quotes and trades over as
    columns)."""
    return [t for b in batches for t in objects(b.ticks)]


def _merge_tokens(batches: list[Batch]) -> dict:
    token: dict = {}
    for b in batches:
        token.update(b.token)
    return token


# --------------------------------------------------------------------------------------
# KafkaSource + KafkaTickProducer
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding,layout", [("json", "single"), ("binary", "single"),
                                             ("json", "per_kind")])
async def test_all_ticks_arrive_in_order_per_underlying(kafka_bootstrap, encoding, layout):
    topics = _topics(layout)
    await create_topics(kafka_bootstrap, input_topics(topics), partitions=3)
    sent = _stream(400)
    sent.append(OpenInterest("2026-08-20", "SPXW260821C07000000", 1234.0))
    sent.append(VolIndex(TS, "VIX", 15.5))
    async with KafkaTickProducer(kafka_bootstrap, encoding, topics) as prod:
        n_msgs = await prod.send_ticks(sent, batch_size=40)
    assert prod.ticks == len(sent)
    assert n_msgs < len(sent) / 10  # ticks travel in batches

    src = _source(_settings(kafka_bootstrap, topics, encoding=encoding))
    await src.start()
    try:
        batches = await _take(src, ticks=len(sent) + (2 if layout == "single" else 0))
        got = _ticks(batches)
        assert sum(len(b.errors) for b in batches) == 0
        if layout == "single":  # the vol index reaches every partition, the rest once
            assert [t for t in got if isinstance(t, VolIndex)] == [sent[-1]] * 3
            got = [t for t in got if not isinstance(t, VolIndex)] + [sent[-1]]
        assert Counter(got) == Counter(sent)
        # order is kept per (topic, underlying): ts_ns increases along each key's stream;
        # in the single layout every kind of an underlying is one stream
        streams = defaultdict(list)
        for t in got:
            if hasattr(t, "ts_ns"):  # (open interest has a date, no timestamp)
                streams[(topic_for(t, topics), underlying_of_tick(t))].append(t.ts_ns)
        assert len(streams) >= (5 if layout == "per_kind" else 3)
        for key, ts in streams.items():
            assert ts == sorted(ts), key
        b0 = batches[0]
        assert b0.received_ns > 0 and b0.token and "lag" in b0.partition_info
        assert all(isinstance(tp, TopicPartition) for tp in b0.token)
        assert src.records == n_msgs
    finally:
        await src.stop()


async def test_malformed_records_are_counted_and_dead_lettered(kafka_bootstrap):
    topics = _topics("per_kind")
    await create_topics(kafka_bootstrap, [topics.option_quotes, topics.dead_letter], 1)
    good = [OptionQuote(TS, "SPXW260821C07600000", 1.0, 1.2),
            OptionQuote(TS + 1, "SPXW260821C07600000", 1.05, 1.25)]
    bad_element = b'{"type":"quote","ts_ns":5,"symbol":"SPXW260821C07600000","bid":"x","ask":1}'
    mixed = b"[" + encode([good[0]], "json")[1:-1] + b"," + bad_element + b"]"
    async with KafkaTickProducer(kafka_bootstrap, "json", topics) as prod:
        await prod.send_ticks(good)                                              # offset 0
        await prod.send_raw(topics.option_quotes, b'{"type":"quote"', key=b"SPX")  # 1
        await prod.send_raw(topics.option_quotes, mixed, key=b"SPX")              # 2
        await prod.send_raw(topics.option_quotes, encode(good, "json"), key=b"SPX",
                            headers=[("wire-version", b"3")])                      # 3

    src = _source(_settings(kafka_bootstrap, topics), topics=[topics.option_quotes])
    await src.start()
    try:
        batches = await _take(src, ticks=3, errors=3)
        # stop() ends a batches() iteration that is waiting in another task
        idle = asyncio.create_task(_nothing_more(src, 30.0))
        await asyncio.sleep(0.2)
    finally:
        await src.stop()
    assert await asyncio.wait_for(idle, 5.0) == []
    await src.commit(batches[0].token)  # a late commit after stop is ignored, not an error
    assert _ticks(batches) == good + [good[0]]
    errors = [e for b in batches for e in b.errors]
    assert [r for r, _ in errors] == ["malformed"] * 3
    assert f"{topics.option_quotes}:0@1" in errors[0][1]
    assert "`$[1].bid`" in errors[1][1] and "@2" in errors[1][1]
    assert "unsupported wire version" in errors[2][1]
    assert src.dead_lettered == 3 and src.dead_letter_failures == 0

    dl = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                          auto_offset_reset="earliest")
    await dl.start()
    try:
        tp = TopicPartition(topics.dead_letter, 0)
        dl.assign([tp])
        recs = []
        deadline = time.monotonic() + 10
        while len(recs) < 3 and time.monotonic() < deadline:
            recs += (await dl.getmany(tp, timeout_ms=200)).get(tp, [])
    finally:
        await dl.stop()
    assert len(recs) == 3
    heads = [dict(r.headers) for r in recs]
    assert [h["reason"] for h in heads] == [b"malformed"] * 3
    assert [h["topic"] for h in heads] == [topics.option_quotes.encode()] * 3
    assert [h["partition"] for h in heads] == [b"0"] * 3
    assert [h["offset"] for h in heads] == [b"1", b"2", b"3"]
    assert b"bid" in heads[1]["context"]
    assert [r.value for r in recs] == [b'{"type":"quote"', bad_element, encode(good, "json")]
    assert all(r.key == b"SPX" for r in recs)


async def test_commit_resume_and_redelivery(kafka_bootstrap):
    topics = _topics("per_kind")
    await create_topics(kafka_bootstrap, [topics.option_quotes], partitions=3)
    a = [t for t in _stream(150) if isinstance(t, OptionQuote)]
    b = [t for t in _stream(150, t0=10**9) if isinstance(t, OptionQuote)]
    group = unique("g")
    settings = _settings(kafka_bootstrap, topics, group=group, max_records=5)

    async with KafkaTickProducer(kafka_bootstrap, "json", topics) as prod:
        await prod.send_ticks(a, batch_size=10)
        src1 = _source(settings, topics=[topics.option_quotes])
        await src1.start()
        try:
            got_a = await _take(src1, ticks=len(a))
            assert Counter(_ticks(got_a)) == Counter(a)
            assert sum(got_a[0].partition_info["lag"].values()) > 0  # 5 of 30 records read
            for batch in got_a:  # applied and published: commit
                await src1.commit(batch.token)
            assert src1.lag() and all(v == 0 for v in src1.lag().values())
            await prod.send_ticks(b, batch_size=10)
            got_b = await _take(src1, ticks=len(b))  # read but never committed
            assert Counter(_ticks(got_b)) == Counter(b)
        finally:
            await src1.stop()  # must not commit B

    src2 = _source(settings, topics=[topics.option_quotes])
    await src2.start()
    try:
        again = await _take(src2, ticks=len(b))
        assert Counter(_ticks(again)) == Counter(b)  # B re-delivered, A not
        assert await _nothing_more(src2, 0.5) == []
        await src2.commit(_merge_tokens(again))
    finally:
        await src2.stop()

    src3 = _source(settings, topics=[topics.option_quotes])
    await src3.start()
    try:
        assert await _nothing_more(src3, 1.0) == []  # everything committed
    finally:
        await src3.stop()


async def test_rebalance_commits_applied_offsets_of_revoked_partitions(kafka_bootstrap):
    topics = _topics("per_kind")
    await create_topics(kafka_bootstrap, [topics.option_quotes], partitions=4)
    roots = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "TSLA", "GOOG", "AMD", "NFLX", "IWM",
             "QQQ", "SPY"]  # enough keys that every partition holds some
    a = [OptionQuote(TS + i, f"{roots[i % len(roots)]:<6}260821C00100000", 1.0, 1.1)
         for i in range(240)]
    group = unique("g")
    settings = _settings(kafka_bootstrap, topics, group=group)
    async with KafkaTickProducer(kafka_bootstrap, "json", topics) as prod:
        await prod.send_ticks(a, batch_size=5)
    assert len(await _partitions_of(kafka_bootstrap, topics.option_quotes)) == 4

    revoked_calls: list[set] = []
    pending: dict = {}

    async def on_revoked(parts):  # the service publishes, then commits what it applied
        revoked_calls.append(parts)
        if pending:
            await src1.commit(dict(pending))

    src1 = _source(settings, topics=[topics.option_quotes], on_revoked=on_revoked)
    await src1.start()
    src2 = _source(settings, topics=[topics.option_quotes])
    try:
        got = await _take(src1, ticks=len(a))
        assert Counter(_ticks(got)) == Counter(a)
        pending.update(_merge_tokens(got))  # applied, not committed yet

        keep_polling = asyncio.create_task(_nothing_more(src1, 8.0))
        await src2.start()  # joins the group: src1's partitions are revoked and rebalanced
        deadline = time.monotonic() + 10
        while not src2.consumer.assignment() and time.monotonic() < deadline:
            await _nothing_more(src2, 0.2)
        assert src2.consumer.assignment(), "second consumer got no partitions"
        assert any(revoked_calls), "on_revoked not called with the old assignment"
        assert await _nothing_more(src2, 1.0) == []  # src1 committed on revoke: no re-delivery
        keep_polling.cancel()
        (kept,) = await asyncio.gather(keep_polling, return_exceptions=True)
        # src1 polled through the rebalance without an error and, nothing new being
        # published, received nothing more (cancelled while polling, or its window ran out)
        assert isinstance(kept, asyncio.CancelledError) or kept == [], kept
    finally:
        await src2.stop()
        await src1.stop()


async def test_kafka_source_requires_bootstrap_and_start():
    with pytest.raises(ValueError):
        KafkaSource(KafkaSettings())
    src = KafkaSource(KafkaSettings(bootstrap="127.0.0.1:1"))
    with pytest.raises(RuntimeError):
        async for _ in src.batches():
            pass


# --------------------------------------------------------------------------------------
# MemorySource
# --------------------------------------------------------------------------------------


async def test_memory_source_lists_bytes_batches_and_commits():
    q = OptionQuote(TS, "SPXW260821C07600000", 1.0, 1.2)
    u = UnderlyingTick(TS, "SPX", 7600.0, 7600.5, 7600.2)
    pre = Batch([u], [("malformed", "x")], token="ignored", received_ns=5, partition_info={})
    src = MemorySource([[q], encode([q, u], "binary") + b"", pre], encoding="binary")
    assert isinstance(src, Source)
    async with src:
        got = [b async for b in src.batches()]
        assert [b.ticks for b in got] == [[q], [q, u], [u]]
        assert [b.token for b in got] == [0, 1, 2]
        assert got[2].errors == [("malformed", "x")] and got[0].received_ns > 0
        for b in got:
            await src.commit(b.token)
        await src.commit(None)
    assert src.committed == [0, 1, 2] and src.last_committed == 2
    assert src.lag() == {}


async def test_memory_source_bad_bytes_become_errors():
    src = MemorySource([b'[{"type":"quote"}]'])
    got = [b async for b in src.batches()]
    assert got[0].ticks == [] and got[0].errors[0][0] == "malformed"


async def test_memory_source_async_iterable_and_hold_open():
    q = OptionQuote(TS, "SPXW260821C07600000", 1.0, 1.2)

    async def gen():
        for _ in range(3):
            yield [q]

    src = MemorySource(gen(), hold_open=True)
    await src.start()
    seen = []

    async def consume():
        async for b in src.batches():
            seen.append(b.token)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    assert seen == [0, 1, 2] and not task.done()  # held open after the last item
    await src.stop()
    await asyncio.wait_for(task, 1.0)


async def test_a_session_timeout_the_broker_refuses_is_one_line_naming_the_setting(
        kafka_bootstrap):
    """Apache Kafka refuses a group member whose session timeout lies outside its bounds
    (the test broker's minimum is 1 s): the start fails with one line naming the setting,
    not a connection problem. (Tansu, the fallback broker, has no such bound.)"""
    from monitor.sources.base import SourceUnavailable
    from tests.broker import broker_kind

    topics = _topics()
    await create_topics(kafka_bootstrap, [topics.ticks], 1)
    src = _source(_settings(kafka_bootstrap, topics),
                  consumer_options={"session_timeout_ms": 100, "heartbeat_interval_ms": 30})
    if broker_kind() != "kafka":
        await src.start()
        await src.stop()
        return
    try:
        with pytest.raises(SourceUnavailable) as err:
            await src.start()
    finally:
        await src.stop()
    assert str(err.value) == (
        f"Kafka at {kafka_bootstrap} refused the consumer group's session timeout "
        "(kafka.session_timeout_ms): it must lie within the broker's "
        "group.min.session.timeout.ms and group.max.session.timeout.ms (6 s and 30 min by "
        "default)")
