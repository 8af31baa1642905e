"""The source interface: where ticks come from (Kafka, or memory for tests and demos).

Contract (at-least-once): the service iterates :meth:`Source.batches`, applies each batch's
ticks, publishes the results, and only then passes the batch's ``token`` to
:meth:`Source.commit`. A source never commits by itself (not on :meth:`Source.stop`
either), so whatever was not committed is delivered again after a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import AsyncIterator

from monitor.wire.columns import TickColumns
from monitor.wire.schema import Tick

#: one element of a batch: a tick, or a run of quotes and trades decoded straight into
#: columns (:class:`monitor.wire.columns.TickColumns`, its other ticks as objects); the
#: pipeline applies either in arrival order
BatchItem = Tick | TickColumns

__all__ = ["Batch", "BatchItem", "Source", "SourceUnavailable"]


class SourceUnavailable(RuntimeError):
    """:meth:`Source.start` could not reach what it reads (one line, no secrets)."""


@dataclass
class Batch:
    """Ticks received together, in arrival order (order is preserved per underlying)."""

    ticks: list[BatchItem]
    #: ``(reason, context)`` per rejected unit, from decoding (reason ``"malformed"``)
    errors: list[tuple[str, str]]
    #: opaque; pass back to :meth:`Source.commit` after applying and publishing
    token: object | None
    #: ``time.time_ns()`` when the batch was received
    received_ns: int
    #: e.g. ``{"lag": {"topic:partition": lag}, "records": n}`` for metrics; may be empty
    partition_info: dict = field(default_factory=dict)


class Source(ABC):
    """A stream of :class:`Batch` es with explicit, caller-driven commits."""

    async def start(self) -> None:
        """Connect / prepare. Idempotent."""

    async def stop(self) -> None:
        """Stop and release resources; ends :meth:`batches`. Commits nothing by itself."""

    @abstractmethod
    def batches(self) -> AsyncIterator[Batch]:
        """Async iterator of batches; ends after :meth:`stop` (or when a finite source is
        exhausted)."""

    @abstractmethod
    async def commit(self, token: object) -> None:
        """Record that everything up to and including the batch of ``token`` has been
        applied and published (``None`` is ignored)."""

    def merge_tokens(self, older: object | None, newer: object | None) -> object | None:
        """One token covering both batches (the service commits only every publish cycle,
        so the tokens of the batches applied in between are merged). Default: tokens are
        ``{partition: next_offset}`` dicts, merged key by key; anything else: the newer."""
        if isinstance(older, dict) and isinstance(newer, dict):
            return {**older, **newer}
        return newer if newer is not None else older

    def identity(self) -> str:
        """Where this source's ticks come from, as a checkpoint's provenance names it
        (:mod:`monitor.provenance`: a checkpoint or regime history is restored only into a
        run of the same source). Default: the class name."""
        return type(self).__name__

    def lag(self) -> dict[str, int]:
        """Consumer lag per ``"topic:partition"`` (messages not yet received); ``{}`` when
        not applicable."""
        return {}

    async def dead_letter_ticks(self, rejected: list, where: str) -> None:
        """Keep well-formed ticks the pipeline rejected as poison (``(reason, context,
        tick)``; ``where``: which batch) where an operator can find them. Default: nowhere
        (they are counted and logged)."""

    def feed_lag_s(self) -> float | None:
        """How far the newest record's capture time (a vendor feed's ``ts_recv``) is
        behind the wall clock, seconds, for the state's quality and ``/metrics``; default:
        None (not a live vendor feed)."""
        return None

    def problem(self) -> str | None:
        """Why the source cannot deliver now (e.g. its feed's connection is down), for
        ``/readyz``; default: None (it can, or it cannot tell)."""
        return None

    def end_of_run(self, books: dict[str, dict]) -> None:
        """At the run's end, after the final publish cycle: each owned underlying's final
        book (:func:`monitor.books.book_fingerprint`). A recording keeps them, a replay's
        caller compares them; default: nothing."""

    #: False for a source whose run must start from nothing but its own ticks (a replay):
    #: the service then restores no checkpoint and no regime history
    restorable: bool = True

    #: True when the source hands this process only part of the underlyings (a consumer
    #: group): the service then publishes and checkpoints only what :meth:`owns` says, and
    #: restores an underlying's checkpoint when it is handed over (``on_assigned``)
    partitioned: bool = False

    def owns(self, root: str) -> bool:
        """Whether this process currently receives ``root``'s ticks. Default: all."""
        return True

    def covered_by(self, root: str, position: dict) -> dict[str, int]:
        """The part of ``position`` (merged tokens) that holds ``root``'s ticks, as
        ``{"topic:partition": next_offset}`` for its checkpoint. Default: nothing."""
        return {}

    def resume_from(self, covered: dict[str, dict[str, int]]) -> dict:
        """After a hand-over: ``covered[root]`` = what ``root``'s restored checkpoint
        covers (:meth:`covered_by`); read on from there. Default: nothing to do."""
        return {}

    def set_rebalance_hooks(self, on_revoked=None, on_assigned=None) -> None:
        """Async callbacks ``(partitions) -> None`` for a partitioned source's rebalances;
        ignored by a source that is not partitioned."""

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
