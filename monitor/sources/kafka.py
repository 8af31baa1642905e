"""Kafka source (consumer group, explicit at-least-once commits) and a tick producer.

Topic layout (``kafka.topics.layout``, docs/wire-format.md): ``single`` (wire v2, the
default) puts every tick in one topic keyed by underlying, so one partition holds all of an
underlying's ticks in the order they were produced and a consumer group never splits an
underlying; volatility-index levels, which every underlying's regimes read, are written to
every partition (header ``broadcast``). ``per_kind`` (wire v1) is one topic per tick kind,
still readable by one process.

:class:`KafkaSource` reads the configured tick topics in a consumer group with
``enable_auto_commit=False``. Each ``getmany()`` becomes one
:class:`~monitor.sources.base.Batch`; its token is ``{TopicPartition: last_offset + 1}``
and is committed only when the service calls :meth:`KafkaSource.commit` (after applying the
ticks and publishing the results). Records that do not decode are counted in the batch's
``errors`` and, with ``dead_letter=True``, each rejected unit (the whole message, or the one
bad element of an array) is produced to the dead-letter topic with headers ``reason``,
``topic``, ``partition``, ``offset``, ``element`` and ``context``; those sends are
acknowledged before the batch is handed out, so a committed offset never loses a
dead-letter record.

:class:`KafkaTickProducer` writes ticks the way the source expects them: keyed by
underlying (:func:`monitor.wire.kafka_key`, so one partition holds whole underlyings, in
order), routed by tick type to its topic, many ticks per message.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import AsyncIterator, Awaitable, Callable, Iterable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    ConsumerStoppedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import murmur2

from monitor.config import KafkaSettings, KafkaTopics
from monitor.sources.base import Batch, Source, SourceUnavailable
from monitor.sources.kafka_identity import PartitionIdentity
from monitor.wire.codec import MALFORMED, decode, encode, kafka_key
from monitor.wire.schema import TAGS, WIRE_VERSION, Tick, VolIndex

__all__ = ["KafkaSource", "KafkaTickProducer", "TOPIC_OF_TAG", "input_topics",
           "topic_for", "partition_of", "client_options", "WIRE_VERSION_HEADER",
           "BROADCAST_HEADER", "ORIGINAL_SIZE_HEADER", "tick_messages"]

log = structlog.get_logger(__name__)

#: Kafka header carrying the wire-format version (ASCII digits). Absent = version 1.
WIRE_VERSION_HEADER = "wire-version"
_VERSION_BYTES = str(WIRE_VERSION).encode()
#: versions this consumer reads: the message bodies of v1 and v2 are the same; v2 is the
#: single-topic layout
_READ_VERSIONS = {b"1", b"2"}
#: header of a message written to every partition (volatility-index levels): never
#: skipped on a take-over (a duplicate is stale by its timestamp)
BROADCAST_HEADER = "broadcast"
#: header of a dead-letter record whose value was cut to the broker's limit
ORIGINAL_SIZE_HEADER = "original-size"
#: room left for the key and headers when a dead-letter value is truncated
_DLQ_OVERHEAD = 4096

#: tick tag -> attribute of :class:`~monitor.config.KafkaTopics` naming its topic
TOPIC_OF_TAG: dict[str, str] = {
    "quote": "option_quotes",
    "trade": "option_trades",
    "underlying": "underlying",
    "oi": "open_interest",
    "vol_index": "vol_index",
}
_TAG_OF_TYPE = {cls: tag for tag, cls in TAGS.items()}

RebalanceHook = Callable[[set[TopicPartition]], Awaitable[None]]


def input_topics(topics: KafkaTopics) -> list[str]:
    """The tick topics of ``topics`` (not the dead-letter topic): the one ``ticks`` topic,
    or with ``layout: per_kind`` the five per-kind topics."""
    if topics.layout == "single":
        return [topics.ticks]
    return [getattr(topics, attr) for attr in TOPIC_OF_TAG.values()]


def topic_for(tick: Tick, topics: KafkaTopics) -> str:
    """The topic a tick is routed to: ``ticks``; with ``layout: per_kind`` by its kind
    (quote -> option_quotes, trade -> option_trades, ...)."""
    if topics.layout == "single":
        return topics.ticks
    return getattr(topics, TOPIC_OF_TAG[_TAG_OF_TYPE[type(tick)]])


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producers' default partitioner puts ``key`` in among
    ``partitions`` (murmur2, as Kafka's Java client and aiokafka): how a member knows which
    underlyings its assigned partitions hold."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def client_options(settings: KafkaSettings) -> dict:
    """aiokafka connection options of ``settings`` (consumer and producers alike):
    bootstrap, TLS (``SSL``, ``SASL_SSL``: CA bundle, client certificate) and SASL
    (``PLAIN``, ``SCRAM-SHA-256/512``; the password from the environment only)."""
    opts: dict = {"bootstrap_servers": settings.bootstrap,
                  "security_protocol": settings.security_protocol}
    if "SSL" in settings.security_protocol:
        opts["ssl_context"] = create_ssl_context(cafile=settings.ssl_cafile,
                                                 certfile=settings.ssl_certfile,
                                                 keyfile=settings.ssl_keyfile)
    if settings.security_protocol.startswith("SASL"):  # (complete: KafkaSettings checks)
        opts.update(sasl_mechanism=settings.sasl_mechanism,
                    sasl_plain_username=settings.sasl_username,
                    sasl_plain_password=settings.sasl_password.get_secret_value())
    return opts


def start_failure(err: BaseException, bootstrap: str, opts: dict) -> SourceUnavailable | None:
    """The one-line error for a client that could not start (None: not a connection or
    login failure, let it propagate). A broker that rejects a SCRAM login answers with an
    ``e=`` server-final message, which aiokafka (seen with 0.14) reads as ``KeyError('v')``;
    it and aiokafka's own SASL errors become "refused the SASL login", naming the
    mechanism and user, never the password."""
    mechanism = opts.get("sasl_mechanism")
    sasl = str(opts.get("security_protocol", "")).startswith("SASL")
    if sasl and (isinstance(err, KeyError) and err.args == ("v",)
                 or "Sasl" in type(err).__name__ or "Authentication" in type(err).__name__):
        return SourceUnavailable(
            f"Kafka at {bootstrap} refused the SASL login ({mechanism} as "
            f"{opts.get('sasl_plain_username')!r}): check kafka.sasl_username and "
            "DEALERFLOW_KAFKA__SASL_PASSWORD")
    if isinstance(err, KafkaError):
        plain = not (sasl or "SSL" in str(opts.get("security_protocol", "")))
        hint = (" (it accepts connections but closed the Kafka handshake, as a broker that "
                "requires TLS or SASL does: kafka.security_protocol)"
                if plain and _answers(bootstrap) else "")
        return SourceUnavailable(f"cannot reach Kafka at {bootstrap}: "
                                 f"{type(err).__name__}{hint}")
    return None


def _answers(bootstrap: str) -> bool:
    """Whether the first bootstrap address accepts a TCP connection (within 1 s)."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def _tp_name(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source: KafkaSource):
        self._source = source

    async def on_partitions_revoked(self, revoked):
        await self._source._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned):
        await self._source._on_assigned(set(assigned))


class KafkaSource(Source):
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

    partitioned = True

    def set_rebalance_hooks(self, on_revoked=None, on_assigned=None) -> None:
        self._on_revoked_hook = on_revoked
        self._on_assigned_hook = on_assigned

    def partitions_of(self, root: str) -> set[TopicPartition]:
        """The partitions (one per input topic) that hold ``root``'s ticks."""
        key = root.encode()
        return {TopicPartition(t, partition_of(key, n)) for t, n in self._partitions.items()}

    def owns(self, root: str) -> bool:
        return bool(self.partitions_of(root) & self._assigned)

    def covered_by(self, root: str, position: dict) -> dict[str, int]:
        return {_tp_name(tp): position[tp] for tp in self.partitions_of(root)
                if tp in position}

    def resume_from(self, covered: dict[str, dict[str, int]]) -> dict:
        """After an assignment (inside ``on_assigned``): ``covered[root]`` = the offsets a
        restored checkpoint of ``root`` covers (``{"topic:partition": offset}``). Each
        assigned partition that holds such a root is read again from the lowest of them,
        and each root's messages below its own offset are skipped. Returns ``{tp: offset}``
        sought."""
        consumer = self._consumer or self._joining
        sought = {}
        for tp in self._assigned:
            if tp in self._replaced:  # offsets of the partition it replaced mean nothing
                sought[tp] = self._next.get(tp, 0)
                consumer.seek(tp, sought[tp])
                continue
            name = _tp_name(tp)
            keys = {root.encode(): int(off[name]) for root, off in covered.items()
                    if name in off}
            if not keys:
                continue
            self._skip[tp] = keys
            sought[tp] = self._next[tp] = min(keys.values())
            consumer.seek(tp, sought[tp])
        return sought

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

    # -- lifecycle ---------------------------------------------------------------------

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

    # -- rebalance ---------------------------------------------------------------------

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            self.rebalances += 1
        if self._on_revoked_hook is not None and not self._stopping:
            try:
                await self._on_revoked_hook(revoked)
            except Exception:  # noqa: BLE001 - a hook must not break the rebalance
                log.exception("on_revoked_hook_failed")
        offsets = {tp: off for tp, off in self._applied.items() if tp in revoked}
        if offsets and not self._stopping and self._consumer is not None:
            try:
                await self._consumer.commit(offsets)
            except (KafkaError, IllegalStateError) as e:
                self.commit_failures += 1
                log.warning("commit_on_revoke_failed", error=str(e),
                            partitions=sorted(_tp_name(tp) for tp in offsets))
        for tp in revoked:
            self._next.pop(tp, None)
            self._applied.pop(tp, None)
            self._skip.pop(tp, None)
        self._assigned -= revoked
        if revoked:
            log.info("partitions_revoked", partitions=sorted(_tp_name(tp) for tp in revoked))

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=sorted(_tp_name(tp) for tp in assigned))
        self._assigned = set(assigned)
        consumer = self._consumer or self._joining  # the first assignment comes in start()
        if consumer is None:
            return
        for t in self.topics:
            parts = consumer.partitions_for_topic(t)
            if parts:
                self._partitions[t] = len(parts)
        # aiokafka's fetcher starts on new partitions (from the committed offsets) while
        # this listener still runs: paused until the hook has restored the checkpoints and
        # sought, a record fetched meanwhile would be applied and then, after the seek,
        # fetched and applied again
        consumer.pause(*assigned)
        try:
            if self._on_assigned_hook is not None:
                try:
                    await self._on_assigned_hook(assigned)
                except Exception:  # noqa: BLE001
                    log.exception("on_assigned_hook_failed")
        finally:
            consumer.resume(*(tp for tp in assigned if tp in consumer.assignment()))

    # -- reading -----------------------------------------------------------------------

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

    def _check_positions(self, consumer: AIOKafkaConsumer, data) -> None:
        """A partition (that returned nothing) whose high watermark is below our position
        was emptied (the broker lost or re-created the topic): nothing would ever be
        fetched again, silently. Read it from the beginning (its offsets start over) and
        say so. (Our position is the next offset after what we applied, or where a
        take-over sought.)"""
        for tp in list(self._assigned):
            if tp in data:
                continue
            try:
                hw = consumer.highwater(tp)
            except AssertionError:
                continue
            nxt = self._next.get(tp)
            if hw is None or nxt is None or hw >= nxt:
                continue
            self._reset(consumer, tp, f"high watermark {hw} below our position {nxt}")

    def _reset(self, consumer: AIOKafkaConsumer, tp: TopicPartition, why: str) -> None:
        """A partition replaced under us (a topic re-created): read from its beginning."""
        self.resets += 1
        log.warning("partition_reset_detected", partition=_tp_name(tp), why=why,
                    action="reading it from the beginning")
        self._identity.forget(tp)
        self._replaced[tp] = set()
        self._next[tp] = 0
        self._applied.pop(tp, None)
        self._skip.pop(tp, None)
        consumer.seek(tp, 0)  # (seek_to_beginning is a coroutine; offsets start at 0)

    async def _make_batch(self, data) -> Batch:
        received_ns = time.time_ns()
        encoding = self.settings.encoding
        ticks: list[Tick] = []
        errors: list[tuple[str, str]] = []
        token: dict[TopicPartition, int] = {}
        dlq: list[asyncio.Future] = []
        n = 0
        for tp, records in data.items():
            if not records:
                continue
            skip = self._skip.get(tp)
            for rec in records:
                n += 1
                if (skip and rec.key in skip and rec.offset < skip[rec.key]
                        and _header(rec.headers, BROADCAST_HEADER) is None):
                    self.skipped += 1  # in the checkpoint restored for its underlying
                    continue
                version = _header(rec.headers, WIRE_VERSION_HEADER)
                if version is not None and version not in _READ_VERSIONS:
                    res_errors = [(MALFORMED, f"unsupported wire version {version!r} "
                                              f"(this consumer reads 1 and {WIRE_VERSION})")]
                    rejected = [rec.value or b""]
                else:
                    res = decode(rec.value, encoding, columns=True)
                    if res.ticks:
                        ticks.extend(res.ticks)
                    res_errors, rejected = res.errors, res.rejected
                if res_errors:
                    where = f"{tp.topic}:{tp.partition}@{rec.offset}"
                    for i, ((reason, ctx), raw) in enumerate(zip(res_errors, rejected)):
                        errors.append((reason, f"{where}: {ctx}"))
                        if self._producer is not None:
                            dlq.append(await self._dead_letter(rec, reason, ctx, raw, i))
            token[tp] = records[-1].offset + 1
            self._next[tp] = token[tp]
            if tp in self._replaced:
                self._replaced[tp].add(token[tp])
            self._identity.note(tp, records[-1])
        self.records += n
        if dlq:
            results = await asyncio.gather(*dlq, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    self.dead_letter_failures += 1
                    log.error("dead_letter_failed", error=str(r))
                else:
                    self.dead_lettered += 1
        return Batch(ticks, errors, token, received_ns,
                     {"lag": self.lag(), "records": n})

    async def _dead_letter(self, rec, reason: str, ctx: str, raw: bytes, element: int):
        limit = self.settings.max_message_bytes - _DLQ_OVERHEAD
        size = len(raw)
        if size > limit:  # as much as the broker takes; the size says it was cut
            raw = raw[:limit]
        headers = [
            ("reason", reason.encode()),
            ("topic", rec.topic.encode()),
            ("partition", str(rec.partition).encode()),
            ("offset", str(rec.offset).encode()),
            ("element", str(element).encode()),
            ("context", ctx.encode("utf-8", "replace")[:1000]),
            ("encoding", self.settings.encoding.encode()),
            (ORIGINAL_SIZE_HEADER, str(size).encode()),
        ]
        assert self._producer is not None
        try:
            return await self._producer.send(self.dead_letter_topic, value=raw, key=rec.key,
                                             headers=headers)
        except Exception as e:  # noqa: BLE001 - report through the gathered result
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(e)
            return fut

    async def dead_letter_ticks(self, rejected: list, where: str) -> None:
        """Each rejected tick to the dead-letter topic as one JSON tick (whatever the
        encoding), key its underlying, headers ``reason``, ``context``, ``source`` (the
        batch's partitions and offsets) and ``encoding: json``; acknowledged before the
        batch's offsets can be committed (the caller awaits this before handing on)."""
        if self._producer is None or not rejected:
            return
        futs = []
        for reason, ctx, tick in rejected:
            try:
                key = kafka_key(tick)
            except (TypeError, ValueError):
                key = None
            headers = [("reason", reason.encode()), ("context", ctx.encode("utf-8", "replace")),
                       ("source", where.encode()[:1000]), ("encoding", b"json")]
            try:
                futs.append(await self._producer.send(self.dead_letter_topic,
                                                      value=encode([tick], "json"), key=key,
                                                      headers=headers))
            except Exception as e:  # noqa: BLE001 - counted, logged below
                self.dead_letter_failures += 1
                log.error("dead_letter_failed", reason=reason, error=str(e))
        for r in await asyncio.gather(*futs, return_exceptions=True):
            if isinstance(r, BaseException):
                self.dead_letter_failures += 1
                log.error("dead_letter_failed", error=str(r))
            else:
                self.dead_lettered += 1

    # -- committing --------------------------------------------------------------------

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
                        partitions=sorted(_tp_name(tp) for tp in offsets))

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
            out[_tp_name(tp)] = max(0, hw - nxt)
        return out


def _header(headers, name: str) -> bytes | None:
    if not headers:
        return None
    for k, v in headers:
        if k == name:
            return v
    return None


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
        self._version = (_VERSION_BYTES if self.topics.layout == "single" else b"1")
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
