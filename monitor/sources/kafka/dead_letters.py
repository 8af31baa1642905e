"""The dead-letter topic: a record that does not decode, or a tick the pipeline rejects as
poison, produced with headers that say where it came from and why (acknowledged before the
batch's offsets can be committed)."""

from __future__ import annotations

import asyncio

import structlog

from monitor.sources.kafka.topics import DLQ_OVERHEAD, ORIGINAL_SIZE_HEADER
from monitor.wire.codec import encode, kafka_key

log = structlog.get_logger("monitor.sources.kafka")


class KafkaDeadLetters:
    """Dead letters of :class:`monitor.sources.kafka.KafkaSource` (a part of it)."""

    async def _dead_letter(self, rec, reason: str, ctx: str, raw: bytes, element: int):
        limit = self.settings.max_message_bytes - DLQ_OVERHEAD
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
