"""Ticks into the tick topic: the producer side of the scale-out path.

``monitor publish`` sends a simulated or recorded session, ``monitor bridge databento`` a
vendor's records translated into the wire format (:mod:`monitor.sources.databento`; a DBN
file with ``--replay``): the same ticks, in the same order, that ``monitor run --replay``
applies, so a consumer group fed by the bridge ends where the replay ends. Keyed by
underlying (:class:`~monitor.sources.kafka.KafkaTickProducer`), with the consumer's own TLS
/ SASL settings. Records that give no tick (an unknown instrument, a repeated open
interest, an undefined price...) are counted and logged here, by reason; they never reach
the topic.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import Settings
from monitor.wire.columns import objects

__all__ = ["Sent", "produce", "bridge_dbn", "bridge_live"]


@dataclass
class Sent:
    """What a producer run sent: ticks, messages, seconds, and the records it did not
    send, by reason."""

    ticks: int = 0
    messages: int = 0
    seconds: float = 0.0
    not_sent: Counter = field(default_factory=Counter)

    @property
    def ticks_per_s(self) -> float:
        return self.ticks / max(self.seconds, 1e-9)


async def produce(kafka: str, encoding: str, settings: Settings,
                  batches: Iterable[tuple[list, list]], *, batch: int,
                  rate: float = math.inf,
                  progress: Callable[[str], None] | None = None) -> Sent:
    """Send ``batches`` (``(ticks, errors)`` pairs; an error is ``(reason, context)``) at
    ``rate`` ticks/s (inf: as fast as the broker takes them), ``batch`` ticks per message;
    a progress line every ``200 * batch`` ticks."""
    from monitor.sources.kafka import KafkaTickProducer, client_options
    loop = asyncio.get_running_loop()
    # the same TLS / SASL settings as the consumer's (kafka.security_protocol, ...)
    security = client_options(settings.kafka.model_copy(update={"bootstrap": kafka}))
    del security["bootstrap_servers"]
    producer = KafkaTickProducer(kafka, encoding, settings.kafka.topics, **security)
    await producer.start()
    out, start = Sent(), loop.time()
    try:
        async for ticks, errors in _pairs(batches):
            out.not_sent.update(reason for reason, _ in errors)
            ticks = objects(ticks)  # (the wire's encoders take tick objects)
            if not ticks:
                continue
            await producer.send_ticks(ticks, batch_size=batch)
            out.ticks += len(ticks)
            ahead = out.ticks / rate - (loop.time() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
            if progress is not None and out.ticks % (batch * 200) < len(ticks):
                progress(f"sent {out.ticks:,} ticks "
                         f"({out.ticks / max(loop.time() - start, 1e-9):,.0f}/s)")
    finally:
        await producer.stop()
    out.messages, out.seconds = producer.messages, loop.time() - start
    return out


async def _pairs(batches):
    if hasattr(batches, "__aiter__"):
        async for pair in batches:
            yield pair
    else:
        for pair in batches:
            yield pair


def bridge_dbn(path: Path | list[Path], kafka: str, settings: Settings, roots: list[str], *,
               encoding: str, batch: int,
               progress: Callable[[str], None] | None = None) -> Sent:
    """A DBN file's records (or several files', merged by ``ts_recv``) for ``roots`` into
    the tick topic, as fast as the broker takes
    them (the ticks of :meth:`DbnReplaySource.chunks`, the implied spots included)."""
    from monitor.sources.databento_replay import DbnReplaySource
    source = DbnReplaySource(path, settings, roots)
    return asyncio.run(produce(kafka, encoding, settings, source.chunks(), batch=batch,
                               progress=progress))


def bridge_live(kafka: str, settings: Settings, roots: list[str], *, encoding: str,
                batch: int, duration: float | None = None,
                progress: Callable[[str], None] | None = None) -> Sent:
    """Databento's live records for ``roots`` (``settings.databento``) into the tick topic
    until SIGINT / SIGTERM or ``duration`` seconds; then the gateway is left cleanly."""
    import signal

    from monitor.sources.databento_live import DatabentoLiveSource

    async def go() -> Sent:
        source = DatabentoLiveSource(settings, roots)
        await source.start()
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)

        async def stopper():
            try:
                await asyncio.wait_for(done.wait(), duration)
            except asyncio.TimeoutError:
                pass
            await source.stop()

        async def pairs():
            async for b in source.batches():
                yield b.ticks, b.errors

        stopping = asyncio.create_task(stopper())
        try:
            return await produce(kafka, encoding, settings, pairs(), batch=batch,
                                 progress=progress)
        finally:
            done.set()
            await stopping
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    return asyncio.run(go())
