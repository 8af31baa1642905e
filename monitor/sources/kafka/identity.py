"""Is a partition still the one we read? A topic deleted and created again (or a broker
that lost its log) starts its offsets over; when more messages arrive at once than our
old position, the new high watermark is already past it and the consumer would go on from
there, silently skipping the new topic's first messages. aiokafka's metadata requests
predate topic ids (Metadata v10), so the identity checked here is the partition's content:
the last record this consumer applied is fetched again at its offset now and then; if
that offset is out of the log's range, or another record is there (offset, timestamp or
CRC-32 of the value differ), the partition was replaced and is read from its
beginning (:meth:`monitor.sources.kafka.KafkaSource.batches`).
"""

from __future__ import annotations

import asyncio
import time
import zlib

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

#: seconds between two checks of the partitions (each: one fetch per assigned partition)
CHECK_S = 2.0


def _fingerprint(rec) -> tuple[int, int, int]:
    return rec.offset, rec.timestamp, zlib.crc32(rec.value or b"")


class PartitionIdentity:
    """The last applied record of each partition (:meth:`note`), checked against the
    broker with a consumer of its own, outside the group (:meth:`replaced`)."""

    def __init__(self, client_options: dict, check_s: float = CHECK_S):
        self._options = client_options
        self.check_s = check_s
        self._last: dict[TopicPartition, tuple[int, int, int]] = {}
        self._probe: AIOKafkaConsumer | None = None
        self._due = time.monotonic() + check_s
        self.checks = 0  # checks made (of one partition or more)

    def note(self, tp: TopicPartition, rec) -> None:
        """``rec``: the last record of a batch read from ``tp``."""
        self._last[tp] = _fingerprint(rec)

    def forget(self, tp: TopicPartition) -> None:
        self._last.pop(tp, None)

    def due(self) -> bool:
        return time.monotonic() >= self._due

    async def replaced(self, assigned) -> list[tuple[TopicPartition, str]]:
        """The assigned partitions whose last applied record is no longer there, with why
        (a partition that cannot be checked now is checked next time)."""
        self._due = time.monotonic() + self.check_s
        tps = [tp for tp in assigned if tp in self._last]
        if not tps:
            return []
        self.checks += 1
        try:
            out = await self._check(tps)
        except Exception:  # noqa: BLE001 - the broker is away or the topic is being made:
            await self.close()  # the next check, on a new connection, will tell
            return []
        for tp, _ in out:
            self.forget(tp)
        return out

    async def _check(self, tps: list) -> list[tuple[TopicPartition, str]]:
        if self._probe is None:
            self._probe = AIOKafkaConsumer(**self._options, group_id=None,
                                           enable_auto_commit=False,
                                           auto_offset_reset="none", request_timeout_ms=5000)
            await self._probe.start()
        probe = self._probe
        probe.assign(tps)
        for tp in tps:
            probe.seek(tp, self._last[tp][0])
        # one fetch for every partition, not one after the other (this runs in the
        # consumer's loop): the first record each returns is the one at our offset
        first: dict[TopicPartition, object] = {}
        gone: set[TopicPartition] = set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while len(first) + len(gone) < len(tps) and loop.time() < deadline:
            try:
                got = await probe.getmany(
                    *(tp for tp in tps if tp not in first and tp not in gone),
                    timeout_ms=max(1, int(1000 * (deadline - loop.time()))))
            except OffsetOutOfRangeError as err:
                gone.update(err.args[0] if err.args and isinstance(err.args[0], dict)
                            else ())
                continue
            for tp, recs in got.items():
                if recs:
                    first.setdefault(tp, recs[0])
        out = []
        for tp in tps:  # (one not fetched in time is checked next time)
            offset = self._last[tp][0]
            if tp in gone:
                out.append((tp, f"offset {offset} is no longer in the log"))
            elif tp in first and _fingerprint(first[tp]) != self._last[tp]:
                out.append((tp, f"the record at offset {offset} is not the one applied"))
        return out

    async def close(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            await probe.stop()
