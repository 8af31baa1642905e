"""Topic layout and headers: which topic a tick goes to, which partition an underlying's
key lands in, and the headers a message carries (wire version, broadcast, original size)."""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from monitor.config import KafkaTopics
from monitor.wire.schema import TAGS, WIRE_VERSION, Tick

#: Kafka header carrying the wire-format version (ASCII digits). Absent = version 1.
WIRE_VERSION_HEADER = "wire-version"
VERSION_BYTES = str(WIRE_VERSION).encode()

#: versions this consumer reads: the message bodies of v1 and v2 are the same; v2 is the
#: single-topic layout
READ_VERSIONS = {b"1", b"2"}

#: header of a message written to every partition (volatility-index levels): never
#: skipped on a take-over (a duplicate is stale by its timestamp)
BROADCAST_HEADER = "broadcast"

#: header of a dead-letter record whose value was cut to the broker's limit
ORIGINAL_SIZE_HEADER = "original-size"

#: room left for the key and headers when a dead-letter value is truncated
DLQ_OVERHEAD = 4096

#: tick tag -> attribute of :class:`~monitor.config.KafkaTopics` naming its topic
TOPIC_OF_TAG: dict[str, str] = {
    "quote": "option_quotes",
    "trade": "option_trades",
    "underlying": "underlying",
    "oi": "open_interest",
    "vol_index": "vol_index",
}


_TAG_OF_TYPE = {cls: tag for tag, cls in TAGS.items()}


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


def header_value(headers, name: str) -> bytes | None:
    if not headers:
        return None
    for k, v in headers:
        if k == name:
            return v
    return None
