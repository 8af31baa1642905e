"""The load generator's ticks: a simulated session of every book's underlying, or a
recorded JSON-lines file, in batches (``monitor publish``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import Settings


def simulated_batches(settings: Settings, books, seconds: float, batch: int, seed: int | None):
    """A simulated session of every book's underlying, interleaved in event time (batches
    of about ``10 * batch`` ticks): one clock from the latest chain's instant, the
    embedded rate shared among them, seed ``seed + i`` for the i-th."""
    from monitor.sources.simulator import MarketSimulator, SimConfig, interleaved_session
    seed = settings.embedded.seed if seed is None else seed
    start = max(b.now_ns for b in books.values())
    rate = settings.embedded.rate_ticks_per_s / len(books)
    sims = [MarketSimulator(book, SimConfig(rate_ticks_per_s=rate, seed=seed + i,
                                            start_ns=start))
            for i, book in enumerate(books.values())]
    return interleaved_session(sims, seconds, batch=batch * 10)


def recorded_batches(path: Path, batch: int, warn=lambda line: None):
    """Ticks of a JSON-lines file, ``10 * batch`` at a time; a bad line skipped, and
    ``warn`` told it (``monitor: warning: FILE:LINE: why``)."""
    from monitor.wire.codec import decode
    if not path.exists():
        raise FileNotFoundError(f"ticks file not found: {path}")

    def gen():
        buf = []
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                res = decode(line, "json")
                if res.errors:
                    warn(f"monitor: warning: {path}:{n}: {res.errors[0][1]}")
                buf.extend(res.ticks)
                if len(buf) >= batch * 10:
                    yield buf
                    buf = []
        if buf:
            yield buf

    return gen()
