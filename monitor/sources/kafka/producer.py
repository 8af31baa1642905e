"""The tick producer: ticks written the way the source expects them, keyed by underlying,
routed by kind to their topic, many ticks per message."""

from __future__ import annotations

import asyncio
from typing import Iterable

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
)

from monitor.config import KafkaTopics
from monitor.sources.kafka.options import start_failure
from monitor.sources.kafka.topics import BROADCAST_HEADER, VERSION_BYTES, WIRE_VERSION_HEADER, topic_for
from monitor.wire.codec import encode, kafka_key
from monitor.wire.schema import Tick, VolIndex

log = structlog.get_logger("monitor.sources.kafka")


async def _start_producer(opts: dict) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**opts)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


def tick_messages(ticks: Iterable[Tick], topics: KafkaTopics, encoding: str,
                  batch_size: int = 500) -> list[tuple[str, bytes, bool, bytes, int]]:
    """The messages :meth:`KafkaTickProducer.send_ticks` sends for ``ticks``: ``(topic, key,
    to every partition, value, ticks in it)``, the ticks grouped by topic and underlying
    (their order kept within a group) and encoded ``batch_size`` at a time; a volatility
    index on the single-topic layout goes to every partition."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    groups: dict[tuple[str, bytes, bool], list[Tick]] = {}
    single = topics.layout == "single"
    for t in ticks:
        k = (topic_for(t, topics), kafka_key(t), single and type(t) is VolIndex)
        g = groups.get(k)
        if g is None:
            groups[k] = [t]
        else:
            g.append(t)
    return [(topic, key, everywhere, encode(group[i:i + batch_size], encoding),
             len(group[i:i + batch_size]))
            for (topic, key, everywhere), group in groups.items()
            for i in range(0, len(group), batch_size)]


class KafkaTickProducer:
    """Writes ticks in wire format v2 (``topics.layout: single``; v1 with ``per_kind``):
    per topic and key (the underlying), in order, up to ``batch_size`` ticks per message,
    header ``wire-version``; in the single layout volatility-index ticks go to every
    partition of the topic (header ``broadcast``), since every underlying's regimes read
    them. ``producer_options`` (e.g. :func:`client_options`' security settings) pass to
    aiokafka.

    Use as ``async with KafkaTickProducer(bootstrap, "json") as p: await p.send_ticks(ticks)``.
    """

    def __init__(self, bootstrap: str, encoding: str = "json",
                 topics: KafkaTopics | None = None, *, linger_ms: int = 5,
                 max_batch_size: int = 1 << 20, client_id: str = "dealerflow-producer",
                 enable_idempotence: bool = True, idempotence_fallback: bool = True,
                 **producer_options):
        self.bootstrap = bootstrap
        self.encoding = encoding
        self.topics = topics or KafkaTopics()
        self._opts = dict(bootstrap_servers=bootstrap, client_id=client_id,
                          linger_ms=linger_ms, max_batch_size=max_batch_size,
                          max_request_size=max(1 << 20, 2 * max_batch_size),
                          enable_idempotence=enable_idempotence, acks="all")
        self._opts.update(producer_options)
        self._idempotence_fallback = idempotence_fallback
        self._producer: AIOKafkaProducer | None = None
        self._version = (VERSION_BYTES if self.topics.layout == "single" else b"1")
        self.messages = 0
        self.ticks = 0

    async def start(self) -> None:
        """Connect. With ``enable_idempotence`` (the default) and ``idempotence_fallback``,
        a broker that refuses to hand out a producer id (InitProducerId; e.g. the Tansu test
        broker's memory storage) gets a plain ``acks="all"`` producer instead, with a
        warning: order per partition is still kept (aiokafka has one batch in flight per
        partition) but a retried send may be duplicated (the consumer is at-least-once)."""
        if self._producer is not None:
            return
        try:
            try:
                self._producer = await _start_producer(self._opts)
            except KafkaConnectionError:
                raise
            except KafkaError as e:
                if not (self._opts.get("enable_idempotence") and self._idempotence_fallback):
                    raise
                log.info("idempotent_producer_refused", error=type(e).__name__,
                         bootstrap=self.bootstrap, fallback="acks=all, not idempotent")
                self._opts["enable_idempotence"] = False
                self._producer = await _start_producer(self._opts)
        except (KafkaError, KeyError) as e:
            failure = start_failure(e, self.bootstrap, self._opts)
            if failure is None:
                raise
            raise failure from None

    @property
    def idempotent(self) -> bool:
        """Whether the running producer is idempotent (see :meth:`start`)."""
        return bool(self._opts.get("enable_idempotence"))

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> KafkaTickProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaTickProducer not started")
        return self._producer

    async def send_ticks(self, ticks: Iterable[Tick], batch_size: int = 500) -> int:
        """Send ``ticks`` and wait until the broker has them all; returns the number of
        messages. Ticks of one (topic, underlying) keep their order."""
        messages = tick_messages(ticks, self.topics, self.encoding, batch_size)
        producer = self.producer
        headers = [(WIRE_VERSION_HEADER, self._version)]
        broadcast = headers + [(BROADCAST_HEADER, b"1")]
        futures = []
        n_ticks = 0
        for topic, key, everywhere, value, n in messages:
            parts = sorted(await producer.partitions_for(topic)) if everywhere else [None]
            for part in parts:
                futures.append(await producer.send(
                    topic, value, key=key, partition=part,
                    headers=broadcast if everywhere else headers))
            n_ticks += n
        await producer.flush()
        await asyncio.gather(*futures)
        self.messages += len(futures)
        self.ticks += n_ticks
        return len(futures)

    async def send_raw(self, topic: str, value: bytes | None, key: bytes | None = None,
                       headers: list[tuple[str, bytes]] | None = None) -> None:
        """Send one message as is (tests, replaying a dead-letter record) and wait for it."""
        fut = await self.producer.send(topic, value=value, key=key, headers=headers or [])
        await fut
