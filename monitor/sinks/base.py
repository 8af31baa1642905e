"""The sink interface: where a publish cycle's results go (Redis, Prometheus, desk chat,
and whatever comes next), and the store a restart resumes from.

A publish cycle (:class:`PublishCycle`) is everything the service computed at one instant
of the books: per underlying the published state, the per-strike profile, the regime
events, the regime history and a checkpoint of the book's inputs, plus the tick counts
since the previous cycle. The service hands each cycle to every sink in order
(:func:`monitor.service.deliver` is the one place that does it) and commits the source
offsets only afterwards.

Contract of a :class:`Sink` (as aiokafka's ``ConsumerRebalanceListener`` states its own):

* :meth:`Sink.setup` runs once before the first cycle; it must not raise because an
  external system is down (log, retry in the background, keep data meanwhile).
* :meth:`Sink.write` takes one cycle. It must not block the event loop on I/O for long
  and must not raise for an outage. Its return value is its durability verdict: a sink
  whose ``durable`` is True returns True only when everything a restart needs from this
  cycle (the checkpoints) is stored; the service then commits the offsets of every tick
  applied before the cycle's books were frozen. A False from any durable sink keeps them
  uncommitted (at-least-once: a restart restores the previous checkpoint and re-reads).
  Non-durable sinks' return values are ignored.
* :meth:`Sink.flush` writes what is kept (called at shutdown, after the last cycle);
  :meth:`Sink.close` releases resources; later writes are ignored.
* :meth:`Sink.ready`, :meth:`Sink.observe_batch` and :meth:`Sink.observe_handover` are
  optional hooks: the service became ready (or stops being ready), a batch of ticks
  reached the state after ``seconds``, underlyings were taken over in a rebalance.

A :class:`CheckpointStore` is where :meth:`load` finds what a sink stored (the book
checkpoint, the regime history) when the service restarts. The Redis sink is both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["UnderlyingCycle", "PublishCycle", "Sink", "CheckpointStore"]


@dataclass
class UnderlyingCycle:
    """One underlying's results of a publish cycle."""

    root: str
    #: the published state (the Redis hash fields; docs/service.md, Redis)
    state: dict
    #: per-strike rows (``monitor.snapshot.strike_rows``)
    profile: list[dict]
    #: regime events of this cycle, in order
    events: list[dict] = field(default_factory=list)
    #: the regime engine's history, JSON (restored after a restart)
    regime_history: bytes | None = None
    #: the book's inputs (``monitor.books.encode_checkpoint``), or None when not kept
    checkpoint: bytes | None = None


@dataclass
class PublishCycle:
    """A publish cycle: every changed underlying plus the counts since the last cycle."""

    underlyings: list[UnderlyingCycle]
    #: ``{(underlying, kind, outcome): n}`` ticks counted since the previous cycle
    ticks: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: ``{(underlying, reason): n}`` rejections since the previous cycle
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)


class Sink(ABC):
    """Takes publish cycles (contract: module docstring)."""

    #: True: :meth:`write`'s result gates the commit of the source offsets
    durable: bool = False

    async def setup(self) -> None:
        """Connect / start background work. Never raises for an unreachable system."""

    @abstractmethod
    async def write(self, cycle: PublishCycle) -> bool:
        """Take one cycle; return True when what it must keep durably is stored."""

    async def flush(self) -> None:
        """Write what is kept (at shutdown, after the last cycle)."""

    async def close(self) -> None:
        """Release resources; later writes are ignored."""

    def ready(self, ready: bool) -> None:
        """The service became ready (True) or is stopping (False)."""

    def observe_batch(self, roots: Iterable[str], seconds: float) -> None:
        """A batch of ticks reached the state ``seconds`` after it was received."""

    def observe_handover(self, roots: Iterable[str], seconds: float) -> None:
        """This process took over ``roots`` (a rebalance): from the revocation (or the
        assignment, on a first one) until their checkpoints were restored, ``seconds``."""


class CheckpointStore(ABC):
    """Where a restart finds what a sink stored for an underlying."""

    @abstractmethod
    async def load(self, root: str, name: str) -> bytes | None:
        """``name`` = ``"checkpoint"`` (the book's inputs) or ``"regime"`` (the regime
        history) of ``root``; None when there is none or the store is unreachable."""
