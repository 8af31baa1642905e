"""Tick outcomes since start: applied, dropped (duplicates, stale) and rejected by reason,
a few samples of each for the logs, and the poison kept for the dead-letter topic."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from monitor.core.reasons import DEAD_LETTER

SAMPLES_PER_REASON = 3

#: rejections of well-formed ticks that are kept for the dead-letter topic: poison (a
#: value no market produces), not the ordinary noise of a feed (stale, unknown symbol,
#: NaN or crossed quotes, which are only counted): :data:`monitor.core.reasons.DEAD_LETTER`
DEAD_LETTER_REASONS = DEAD_LETTER

#: at most this many are kept between two takes (the rest are counted only)
DEAD_LETTER_MAX = 10_000


@dataclass
class Counts:
    """Tick outcomes since start: ``ticks[(underlying, kind, outcome)]``,
    ``rejected[(underlying, reason)]``, a few samples per reason for the logs, and the
    rejected ticks of :data:`DEAD_LETTER_REASONS` (``(reason, context, tick)``) for the
    dead-letter topic; ``current`` is the tick being judged (set by the pipeline)."""

    ticks: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    samples: list = field(default_factory=list)
    dropped: list = field(default_factory=list)  # a few samples per :meth:`drop` outcome
    dead: list = field(default_factory=list)
    current: object = None
    _sampled: Counter = field(default_factory=Counter)

    def reject(self, und: str, kind: str, reason: str, context: str) -> None:
        self.ticks[(und, kind, "rejected")] += 1
        self.rejected[(und, reason)] += 1
        if self._sampled[reason] < SAMPLES_PER_REASON:
            self._sampled[reason] += 1
            self.samples.append({"underlying": und, "kind": kind, "reason": reason,
                                 "context": context[:200]})
        if (reason in DEAD_LETTER_REASONS and self.current is not None
                and len(self.dead) < DEAD_LETTER_MAX):
            self.dead.append((reason, context[:1000], self.current))

    def drop(self, und: str, kind: str, outcome: str, context: str, n: int = 1) -> None:
        """``n`` well-formed ticks not applied because the book already holds them or
        newer ones (``outcome``: ``duplicate`` or ``stale``): counted, and the first few of
        each outcome kept with their context for the log (not rejections: a redelivery
        is the at-least-once contract at work)."""
        self.ticks[(und, kind, outcome)] += n
        key = "drop:" + outcome
        if self._sampled[key] < SAMPLES_PER_REASON:
            self._sampled[key] += 1
            self.dropped.append({"underlying": und, "kind": kind, "outcome": outcome,
                                 "n": n, "context": context[:200]})

    def take_dropped(self) -> list[dict]:
        out, self.dropped = self.dropped, []
        return out

    def take_dead(self) -> list[tuple[str, str, object]]:
        out, self.dead = self.dead, []
        return out

    def take_samples(self) -> list[dict]:
        out, self.samples = self.samples, []
        return out
