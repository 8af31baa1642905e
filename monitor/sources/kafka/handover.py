"""The consumer group's hand-over: which partitions hold an underlying, what offsets a
checkpoint covers, where a take-over resumes, and the rebalance hooks the service sets."""

from __future__ import annotations

from typing import Awaitable, Callable

import structlog
from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    IllegalStateError,
    KafkaError,
)

from monitor.sources.kafka.topics import partition_of

log = structlog.get_logger("monitor.sources.kafka")


RebalanceHook = Callable[[set[TopicPartition]], Awaitable[None]]


def tp_name(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source):  # the KafkaSource
        self._source = source

    async def on_partitions_revoked(self, revoked):
        await self._source._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned):
        await self._source._on_assigned(set(assigned))


class KafkaHandOver:
    """Rebalances of :class:`monitor.sources.kafka.KafkaSource` (a part of it)."""

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
        return {tp_name(tp): position[tp] for tp in self.partitions_of(root)
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
            name = tp_name(tp)
            keys = {root.encode(): int(off[name]) for root, off in covered.items()
                    if name in off}
            if not keys:
                continue
            self._skip[tp] = keys
            sought[tp] = self._next[tp] = min(keys.values())
            consumer.seek(tp, sought[tp])
        return sought

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
                            partitions=sorted(tp_name(tp) for tp in offsets))
        for tp in revoked:
            self._next.pop(tp, None)
            self._applied.pop(tp, None)
            self._skip.pop(tp, None)
        self._assigned -= revoked
        if revoked:
            log.info("partitions_revoked", partitions=sorted(tp_name(tp) for tp in revoked))

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=sorted(tp_name(tp) for tp in assigned))
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
