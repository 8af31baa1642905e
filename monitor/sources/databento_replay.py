"""A Databento DBN file as a finite source (``monitor run --replay FILE.dbn``): its records
through :class:`~monitor.sources.databento.DbnTranslator`, in file order, in batches, as
fast as the service takes them or at ``speed`` times the pace of their ``ts_recv``.

The books are those of the run's configuration (the chains of the day: the universe and
the open interest at the start); the file's records move them. Each underlying without a
price in the feed (OPRA has none) gets its spot implied from put-call parity
(:class:`~monitor.sources.parity_spot.ParitySpot`) once per :data:`IMPLIED_EVERY_NS` of
event time, as ordinary underlying ticks. Every record that yields no tick is a batch
error under its reason (:data:`monitor.sources.databento.REASONS`): counted by the service
with the rejections, its first contexts in the log.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import AsyncIterator, Iterator

import structlog

from monitor.config import Settings
from monitor.sources.base import Batch, Source
from monitor.sources.dbn_file import read_dbn
from monitor.sources.opra_ticks import IMPLIED_EVERY_NS, IMPLIED_SOURCE, OpraTicks
from monitor.wire.columns import first_ts

__all__ = ["DbnReplaySource", "IMPLIED_EVERY_NS", "IMPLIED_SOURCE"]


def _ts_recv(rec) -> int:
    return getattr(rec, "ts_recv", 0)

log = structlog.get_logger("monitor.databento")


class DbnReplaySource(Source):
    """The records of ``path`` (a DBN file, or several: an OPRA file and the underlying
    feeds' files of ``databento.underlying_feeds``, merged in ``ts_recv`` order, a tie in
    the order given) for the underlyings of ``settings`` whose books are ``roots``."""

    def __init__(self, path, settings: Settings, roots, *, speed: float | None = None,
                 batch_records: int = 4096):
        if speed is not None and not speed > 0:
            raise ValueError(f"--speed must be > 0, got {speed}")
        self.files = [read_dbn(p) for p in (path if isinstance(path, (list, tuple))
                                            else [path])]
        self.n_records = sum(len(f) for f in self.files)
        self.speed = speed
        self.batch_records = int(batch_records)
        self.opra = OpraTicks(settings, roots)
        self.tr = self.opra.tr
        self._stopped = asyncio.Event()
        self.delivered = 0
        self._identity = " + ".join(
            f"databento {getattr(f.metadata, 'dataset', '?')} file {f.path.name} sha256 "
            f"{f.sha256[:16]}" for f in self.files)

    restorable = False  # a file replay starts from the file alone

    def identity(self) -> str:
        return self._identity

    async def stop(self) -> None:
        self._stopped.set()

    async def commit(self, token) -> None:
        pass

    def _is_feed(self, f) -> bool:
        return getattr(f.metadata, "dataset", None) in self.opra.feed_datasets

    def chunks(self) -> Iterator[tuple[list, list]]:
        """(ticks, errors) of each ``batch_records`` records, in file order (the same for
        a replay and for the bridge); the counts logged at the end. One OPRA file is read
        over its bytes (:meth:`OpraTicks.file_ticks`); several files are decoded and
        merged by ``ts_recv``, each record through its dataset's rule."""
        step = self.batch_records
        if len(self.files) == 1 and not self._is_feed(self.files[0]):
            f = self.files[0]
            parts = ((a, min(a + step, len(f))) for a in range(0, len(f), step))
            chunks = (self.opra.file_ticks(f, a, b) for a, b in parts)
        else:
            tagged = [[(_ts_recv(r), self._is_feed(f), r) for r in f.records]
                      for f in self.files]
            merged = list(heapq.merge(*tagged, key=lambda x: x[0]))
            chunks = (self._merged_ticks(merged[a:a + step])
                      for a in range(0, len(merged), step))
        done = 0
        for ticks in chunks:
            done += 1
            if done * step >= self.n_records:
                for f in self.files:
                    if f.cut_bytes:
                        self.tr.count_cut(f.path.name, f.cut_bytes)
            yield ticks, self.tr.take_errors()
        # every reason once, with its count and first context (the counts are also the
        # service's rejections by reason)
        log.info("dbn_replay_done", files=[f.path.name for f in self.files],
                 records=self.tr.records,
                 counts=dict(self.tr.counts), samples=self.tr.samples)
        for kind, text in self.tr.vendor_messages[:20]:
            log.warning(kind, message=text)

    def _merged_ticks(self, part: list) -> list:
        out: list = []
        for is_feed, run in itertools.groupby(part, key=lambda x: x[1]):
            recs = [r for _, _, r in run]
            out += self.opra.feed_ticks(recs) if is_feed else self.opra.ticks(recs)
        return out

    async def batches(self) -> AsyncIterator[Batch]:
        t0_wall = t0_rec = None
        for ticks, errors in self.chunks():
            if self._stopped.is_set():
                return
            if self.speed is not None and ticks:
                ts = first_ts(ticks)
                if ts is not None:
                    if t0_wall is None:
                        t0_wall, t0_rec = time.monotonic(), ts
                    wait = t0_wall + (ts - t0_rec) / 1e9 / self.speed - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
            self.delivered += 1
            yield Batch(ticks, errors, self.delivered, time.time_ns())
            await asyncio.sleep(0)
