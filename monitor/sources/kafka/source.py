"""The Kafka source: a consumer group with explicit at-least-once commits (package
docstring)."""

from __future__ import annotations

from typing import AsyncIterator

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    ConsumerStoppedError,
    IllegalStateError,
    KafkaError,
)

from monitor.config import KafkaSettings
from monitor.sources.base import Batch, Source
from monitor.sources.kafka.dead_letters import KafkaDeadLetters
from monitor.sources.kafka.decode import KafkaDecode
from monitor.sources.kafka.handover import KafkaHandOver, RebalanceHook, _Listener, tp_name
from monitor.sources.kafka.identity import PartitionIdentity
from monitor.sources.kafka.options import client_options, start_failure
from monitor.sources.kafka.topics import input_topics

log = structlog.get_logger("monitor.sources.kafka")


class KafkaSource(KafkaHandOver, KafkaDecode, KafkaDeadLetters, Source):
    """Tick batches from Kafka (see the module docstring).

    A member of a consumer group owns the underlyings whose key its assigned partitions
    hold (:meth:`owns`, :func:`partition_of`). On a hand-over the service restores the
    underlyings' checkpoints and calls :meth:`resume_from` with the source offsets they
    cover: the partition is read again from the lowest, and each underlying's messages
    below its own checkpoint's offset are skipped (nothing lost, nothing applied twice).

    ``topics``: topic names to read; default the five tick topics of ``settings.topics``.
    ``dead_letter``: produce rejected units to ``settings.topics.dead_letter``.
    ``on_revoked`` / ``on_assigned``: optional async hooks called from the rebalance
    listener with the partitions concerned. ``on_revoked`` runs *before* the source
    commits the last applied offsets of the revoked partitions, so a service may publish
    what it has applied and call :meth:`commit` there.
    ``consumer_options`` / ``producer_options``: extra keyword arguments for aiokafka.
    """

    partitioned = True  # a consumer group hands this process some underlyings

    def __init__(self, settings: KafkaSettings, topics: list[str] | None = None,
                 dead_letter: bool = True, *, on_revoked: RebalanceHook | None = None,
                 on_assigned: RebalanceHook | None = None, client_id: str = "dealerflow-monitor",
                 consumer_options: dict | None = None, producer_options: dict | None = None):
        if not settings.bootstrap:
            raise ValueError("KafkaSource needs settings.bootstrap (HOST:PORT)")
        self.settings = settings
        self.topics = list(topics) if topics else input_topics(settings.topics)
        self.dead_letter = dead_letter
        self.dead_letter_topic = settings.topics.dead_letter
        self._on_revoked_hook = on_revoked
        self._on_assigned_hook = on_assigned
        self._client_id = client_id
        self._consumer_options = dict(consumer_options or {})
        self._producer_options = dict(producer_options or {})
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stopping = False
        #: next offset after the last record handed out, per partition (for lag)
        self._next: dict[TopicPartition, int] = {}
        #: offsets passed to commit() (the last applied), per partition
        self._applied: dict[TopicPartition, int] = {}
        # counters, for metrics
        self.records = 0
        self.dead_lettered = 0
        self.dead_letter_failures = 0
        self.commit_failures = 0
        self.rebalances = 0
        self.skipped = 0  # messages below their underlying's checkpoint after a hand-over
        self.resets = 0  # partitions found behind our position (topic re-created)
        self._assigned: set[TopicPartition] = set()
        self._partitions: dict[str, int] = {}  # topic -> partition count
        #: per partition, key -> first offset not covered by that key's checkpoint
        self._skip: dict[TopicPartition, dict[bytes, int]] = {}
        #: partitions found replaced (_reset) -> the ends of the batches read from them
        #: since: until one of those is committed, no offset of theirs is (a token merged
        #: from batches before the reset names the partition it replaced)
        self._replaced: dict[TopicPartition, set[int]] = {}
        self._joining: AIOKafkaConsumer | None = None

    @classmethod
    def from_settings(cls, settings: KafkaSettings, **kw) -> KafkaSource:
        """The service's consumer: ``settings`` with its group and fetch options mapped to
        aiokafka's (``session_timeout_ms``, ``heartbeat_interval_ms``,
        ``fetch_max_wait_ms``); ``kw`` as for the constructor."""
        options = {"session_timeout_ms": settings.session_timeout_ms,
                   "heartbeat_interval_ms": settings.heartbeat_interval_ms,
                   "fetch_max_wait_ms": settings.fetch_max_wait_ms}
        options.update(kw.pop("consumer_options", None) or {})
        return cls(settings, consumer_options=options, **kw)

    def identity(self) -> str:
        """``kafka topic T``: the topics this run reads. Not the bootstrap address: the
        members of one group may spell the same cluster differently, and a hand-over must
        restore the leaving member's checkpoint (aiokafka does not expose the cluster id)."""
        return f"kafka topic {','.join(self.topics)}"

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("KafkaSource not started")
        return self._consumer

    async def start(self) -> None:
        if self._consumer is not None:
            return
        self._stopping = False
        s = self.settings
        conn = client_options(s)
        opts = dict(conn, group_id=s.group_id, client_id=self._client_id,
                    enable_auto_commit=False, auto_offset_reset="earliest")
        opts.update(self._consumer_options)
        consumer = AIOKafkaConsumer(**opts)
        self._identity = PartitionIdentity(conn)
        consumer.subscribe(topics=self.topics, listener=_Listener(self))
        self._joining = consumer
        producer = None
        try:
            if self.dead_letter:
                popts = dict(conn, client_id=f"{self._client_id}-dlq", acks="all",
                             linger_ms=5, max_request_size=s.max_message_bytes)
                popts.update(self._producer_options)
                producer = AIOKafkaProducer(**popts)
                await producer.start()
            await consumer.start()
        except BaseException as err:
            for client in (producer, consumer):  # close what was opened, quietly
                if client is not None:
                    try:
                        await client.stop()
                    except Exception:  # noqa: BLE001 - already failing
                        pass
            failure = start_failure(err, s.bootstrap, conn)
            if failure is not None:
                raise failure from None
            raise
        finally:
            self._joining = None
        self._producer = producer
        self._consumer = consumer
        log.info("kafka_source_started", bootstrap=s.bootstrap, group_id=s.group_id,
                 topics=self.topics, encoding=s.encoding)

    async def stop(self) -> None:
        """Leave the group and close; commits nothing (uncommitted batches are delivered
        again to whoever owns their partitions next)."""
        self._stopping = True
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            await consumer.stop()
            await self._identity.close()
        if producer is not None:
            await producer.stop()

    async def batches(self) -> AsyncIterator[Batch]:  # type: ignore[override]
        s = self.settings
        if self._consumer is None and not self._stopping:
            raise RuntimeError("KafkaSource not started")
        while not self._stopping:
            consumer = self._consumer
            if consumer is None:
                return
            try:
                data = await consumer.getmany(timeout_ms=s.poll_timeout_ms,
                                              max_records=s.max_records)
            except ConsumerStoppedError:
                return
            self._check_positions(consumer, data)
            if self._identity.due():
                for tp, why in await self._identity.replaced(self._assigned):
                    self._reset(consumer, tp, why)
                    data.pop(tp, None)  # (read from the partition it replaced)
            if not data:
                continue
            yield await self._make_batch(data)

    async def commit(self, token: object) -> None:
        """Commit ``token`` (``{TopicPartition: next_offset}`` from a :class:`Batch`).

        Partitions no longer assigned to this consumer are skipped (their records will be
        delivered again to the new owner: at-least-once). A failed commit is logged and
        counted, not raised; the offsets are retried when the partitions are revoked.
        After :meth:`stop` a commit is ignored (logged).
        """
        if not token:
            return
        consumer = self._consumer
        if consumer is None:
            if self._stopping:  # a late commit during shutdown: the next owner re-reads
                log.warning("commit_after_stop_ignored")
                return
            raise RuntimeError("KafkaSource not started")
        assigned = consumer.assignment()
        offsets: dict[TopicPartition, int] = {}
        for tp, off in token.items():  # type: ignore[attr-defined]
            if tp in self._replaced:
                if off not in self._replaced[tp]:
                    continue
                del self._replaced[tp]
            if tp in assigned and off > self._applied.get(tp, -1):
                offsets[tp] = off
        if not offsets:
            return
        self._applied.update(offsets)
        try:
            await consumer.commit(offsets)
        except (KafkaError, IllegalStateError) as e:
            self.commit_failures += 1
            log.warning("commit_failed", error=str(e),
                        partitions=sorted(tp_name(tp) for tp in offsets))

    def lag(self) -> dict[str, int]:
        """``highwater - next offset`` per assigned ``"topic:partition"`` (from the last
        fetch; partitions not fetched yet are left out)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        out: dict[str, int] = {}
        for tp in consumer.assignment():
            try:
                hw = consumer.highwater(tp)
            except AssertionError:  # revoked in the meantime
                continue
            if hw is None:
                continue
            nxt = self._next.get(tp)
            if nxt is None:
                continue
            out[tp_name(tp)] = max(0, hw - nxt)
        return out
