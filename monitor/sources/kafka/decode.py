"""A fetch made a batch: records decoded (wire version checked, take-over skips applied),
partition resets detected, bad records counted and dead-lettered."""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.sources.base import Batch
from monitor.sources.kafka.handover import tp_name
from monitor.sources.kafka.topics import (
    BROADCAST_HEADER,
    READ_VERSIONS,
    WIRE_VERSION_HEADER,
    header_value,
)
from monitor.wire.codec import MALFORMED, decode
from monitor.wire.schema import WIRE_VERSION, Tick

log = structlog.get_logger("monitor.sources.kafka")


class KafkaDecode:
    """Decoding of :class:`monitor.sources.kafka.KafkaSource` (a part of it)."""

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
        log.warning("partition_reset_detected", partition=tp_name(tp), why=why,
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
                        and header_value(rec.headers, BROADCAST_HEADER) is None):
                    self.skipped += 1  # in the checkpoint restored for its underlying
                    continue
                version = header_value(rec.headers, WIRE_VERSION_HEADER)
                if version is not None and version not in READ_VERSIONS:
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
