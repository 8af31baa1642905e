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

from monitor.sources.kafka.options import client_options, start_failure
from monitor.sources.kafka.producer import KafkaTickProducer, tick_messages
from monitor.sources.kafka.source import KafkaSource
from monitor.sources.kafka.topics import (
    BROADCAST_HEADER,
    ORIGINAL_SIZE_HEADER,
    TOPIC_OF_TAG,
    WIRE_VERSION_HEADER,
    input_topics,
    partition_of,
    topic_for,
)

__all__ = ["KafkaSource", "KafkaTickProducer", "TOPIC_OF_TAG", "input_topics",
           "topic_for", "partition_of", "client_options", "start_failure",
           "WIRE_VERSION_HEADER", "BROADCAST_HEADER", "ORIGINAL_SIZE_HEADER", "tick_messages"]
