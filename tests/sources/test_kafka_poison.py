"""Poison messages on the wire, against the real broker (issue 13): a 1.5 MB message that
does not decode is dead-lettered, cut to the broker's limit with its original size in a
header, and its offset committed; the same poison message 1,000 times is dead-lettered
1,000 times and committed, and a consumer started afterwards finds nothing left (no crash
loop is possible: nothing is ever re-read)."""

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.sources.kafka import ORIGINAL_SIZE_HEADER, KafkaTickProducer
from tests.broker import create_topics
from tests.sources.test_kafka_source import (
    _merge_tokens,
    _nothing_more,
    _settings,
    _source,
    _take,
    _topics,
)


async def _dead_letters(bootstrap, topic, n, timeout=30.0):
    dl = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                          auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20,
                          fetch_max_bytes=8 << 20)
    await dl.start()
    try:
        tp = TopicPartition(topic, 0)
        dl.assign([tp])
        recs = []
        deadline = time.monotonic() + timeout
        while len(recs) < n and time.monotonic() < deadline:
            recs += (await dl.getmany(tp, timeout_ms=200)).get(tp, [])
        return recs
    finally:
        await dl.stop()


async def _nothing_left(settings):
    again = _source(settings)
    await again.start()
    try:
        assert await _nothing_more(again, 1.0) == []
    finally:
        await again.stop()


async def test_oversized_poison_is_dead_lettered_cut_with_its_size(kafka_bootstrap):
    topics = _topics()
    await create_topics(kafka_bootstrap, [topics.ticks, topics.dead_letter], 1)
    big = b"[" + b"x" * 1_500_000 + b"]"  # 1.5 MB that is not JSON
    async with KafkaTickProducer(kafka_bootstrap, "json", topics,
                                 max_request_size=4 << 20) as prod:
        await prod.send_raw(topics.ticks, big, key=b"SPX")
    settings = _settings(kafka_bootstrap, topics, max_message_bytes=1_000_000)
    src = _source(settings, consumer_options={"session_timeout_ms": 2000,
                                              "heartbeat_interval_ms": 300,
                                              "max_partition_fetch_bytes": 4 << 20})
    await src.start()
    try:
        batches = await _take(src, errors=1)
        await src.commit(_merge_tokens(batches))
    finally:
        await src.stop()
    assert [r for b in batches for r, _ in b.errors] == ["malformed"]
    assert src.dead_lettered == 1 and src.dead_letter_failures == 0
    (rec,) = await _dead_letters(kafka_bootstrap, topics.dead_letter, 1)
    heads = dict(rec.headers)
    assert heads[ORIGINAL_SIZE_HEADER] == str(len(big)).encode()
    assert len(rec.value) == 1_000_000 - 4096 and big.startswith(rec.value)
    await _nothing_left(settings)  # committed: a new consumer of the group finds nothing


async def test_one_poison_message_a_thousand_times_never_loops(kafka_bootstrap):
    topics = _topics()
    await create_topics(kafka_bootstrap, [topics.ticks, topics.dead_letter], 1)
    poison = b'{"type":"quote","ts_ns":18446744073709551616,"symbol":"SPXW260821C07600000"}'
    async with KafkaTickProducer(kafka_bootstrap, "json", topics) as prod:
        for _ in range(1000):
            await prod.producer.send(topics.ticks, poison, key=b"SPX")
        await prod.producer.flush()
    settings = _settings(kafka_bootstrap, topics)
    src = _source(settings)
    await src.start()
    try:
        batches = await _take(src, errors=1000)
        await src.commit(_merge_tokens(batches))
    finally:
        await src.stop()
    assert sum(len(b.errors) for b in batches) == 1000 and not any(b.ticks for b in batches)
    assert src.dead_lettered == 1000
    assert len(await _dead_letters(kafka_bootstrap, topics.dead_letter, 1000)) == 1000
    await _nothing_left(settings)


async def test_poison_the_checks_reject_is_dead_lettered_as_json_ticks(kafka_bootstrap,
                                                                        shared_redis):
    """Well-formed but unbelievable ticks (an ask of 1e9, a quote a day ahead of the
    underlying's clock) are rejected by the pipeline and land in the dead-letter topic as
    JSON ticks with their reason, before the batch is committed."""
    from monitor.service import Monitor
    from monitor.wire.codec import decode
    from monitor.wire.schema import OptionQuote
    from tests.service.helpers import books, make_settings, run_until, session_ticks
    from tests.service.test_kafka_end_to_end import kafka_source

    settings = make_settings(kafka_bootstrap)
    t = settings.kafka.topics
    await create_topics(kafka_bootstrap, [t.ticks, t.dead_letter], 1)
    good = session_ticks(2000, seed=4)
    q = next(x for x in good if isinstance(x, OptionQuote))
    poison = [OptionQuote(q.ts_ns + 1, q.symbol, 1.0, 1e9),
              OptionQuote(q.ts_ns + 86400 * 10**9, q.symbol, q.bid, q.ask)]
    async with KafkaTickProducer(kafka_bootstrap, "json", t) as prod:
        await prod.send_ticks(good + poison)
    mon = Monitor(settings, kafka_source(settings), books(settings))
    assert await run_until(mon, len(good) + 2) == 0
    recs = await _dead_letters(kafka_bootstrap, t.dead_letter, 2)
    assert sorted(dict(r.headers)["reason"] for r in recs) == [b"absurd_price", b"future_ts"]
    assert sorted((x for r in recs for x in decode(r.value, "json").ticks),
                  key=lambda x: x.ts_ns) == poison
    assert all(r.key == b"SPX" and dict(r.headers)["source"].startswith(t.ticks.encode())
               for r in recs)
