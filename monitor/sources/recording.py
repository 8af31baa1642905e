"""Capture and replay with provenance: a recording is what a source delivered, batch by
batch, in the wire format's binary encoding, with a manifest that says where it came from
and what it holds (docs/recording.md).

A recording is a folder::

    manifest.json          format, version, source, created_utc, monitor version, the
                           segments (file, batches, ticks, errors, bytes, sha256, first and
                           last received_ns and tick ts_ns), batches_applied, books
    segment-000001.ticks   frames: 4-byte big-endian length, then one msgpack array
                           [received_ns, columns (bool), errors [[reason, context]...],
                            ticks (the wire format's binary encoding of the batch)]
    segment-000002.ticks   ... a new segment every ``segment_bytes``

:class:`RecordingSource` wraps any source: every batch it delivers is written before the
service applies it; every commit marks the batches it covers as applied
(``batches_applied``: a batch delivered but not applied at shutdown is recorded yet not
replayed, as Kafka would deliver it again). At the end of the run the service hands it
each underlying's final book (:func:`monitor.books.book_fingerprint`: the sha256 of what
the ticks set exactly, and the solved numbers), kept in the manifest.

:class:`ReplaySource` reads a verified recording back: the same batches, the same
boundaries and the same shapes (objects or columns), as fast as the service takes them or
at ``speed`` times the recorded pace; the run's final books are then compared with the
manifest's (:func:`compare_books`). :func:`verify` checks a recording: every segment
present, its bytes hashing to the manifest's sha256, its frames decoding to the counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import msgspec

from monitor.books import fingerprints_differ
from monitor.sources.base import Batch, Source, SourceUnavailable
from monitor.wire.codec import decode, encode
from monitor.wire.columns import TickColumns, objects

__all__ = ["RecordingSource", "ReplaySource", "verify", "read_manifest", "compare_books",
           "FORMAT", "VERSION"]

FORMAT = "dealerflow-recording"
VERSION = 1
MANIFEST = "manifest.json"
_LEN = struct.Struct(">I")
_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder()


def _segment_name(i: int) -> str:
    return f"segment-{i:06d}.ticks"


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def _covers(committed, token) -> bool:
    """Whether a commit of ``committed`` covers the batch of ``token``: sequence numbers
    (memory sources) or ``{partition: next_offset}`` (Kafka)."""
    if isinstance(committed, dict) and isinstance(token, dict):
        return all(committed.get(k, -1) >= v for k, v in token.items())
    try:
        return committed >= token
    except TypeError:
        return False


@dataclass
class _Segment:
    file: str
    batches: int = 0
    ticks: int = 0
    errors: int = 0
    bytes: int = 0
    first_received_ns: int | None = None
    last_received_ns: int | None = None
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    _sha: object = field(default_factory=hashlib.sha256, repr=False)

    def public(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        out["sha256"] = self._sha.hexdigest()
        return out


class RecordingSource(Source):
    """``inner``'s batches, each written to ``folder`` before it is handed on."""

    def __init__(self, inner: Source, folder: Path, *, segment_bytes: int = 64 << 20):
        if segment_bytes <= 0:
            raise ValueError(f"segment_bytes must be > 0, got {segment_bytes}")
        self.inner = inner
        self.folder = Path(folder)
        self.segment_bytes = segment_bytes
        self.partitioned = inner.partitioned
        self.restorable = inner.restorable
        try:
            self._version = version("dealerflow-monitor")
        except PackageNotFoundError:  # a bare source tree
            self._version = "unknown"
        self._segments: list[_Segment] = []
        self._fh = None
        self._pending: list[tuple[int, object]] = []  # (batch number, token) not yet applied
        self.batches_written = 0
        self.batches_applied = 0
        self._books: dict[str, dict] = {}
        self._created = time.time_ns()

    # the wrapped source's contract, passed through
    def identity(self) -> str:
        return self.inner.identity()

    def lag(self):
        return self.inner.lag()

    def owns(self, root):
        return self.inner.owns(root)

    def covered_by(self, root, position):
        return self.inner.covered_by(root, position)

    def resume_from(self, covered):
        return self.inner.resume_from(covered)

    def set_rebalance_hooks(self, on_revoked=None, on_assigned=None):
        self.inner.set_rebalance_hooks(on_revoked, on_assigned)

    def merge_tokens(self, older, newer):
        return self.inner.merge_tokens(older, newer)

    async def dead_letter_ticks(self, rejected, where):
        await self.inner.dead_letter_ticks(rejected, where)

    async def start(self) -> None:
        if self.folder.exists() and any(self.folder.iterdir()):
            raise SourceUnavailable(f"--record {self.folder}: the folder is not empty (a "
                                    f"recording is never appended to another)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._open_segment()
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()
        self._close()

    async def commit(self, token) -> None:
        await self.inner.commit(token)
        if token is None:
            return
        keep = []
        for n, tok in self._pending:
            if _covers(token, tok):
                self.batches_applied = max(self.batches_applied, n)
            else:
                keep.append((n, tok))
        self._pending = keep

    def end_of_run(self, books: dict[str, dict]) -> None:
        self._books = dict(books)
        self._write_manifest(complete=self._fh is None)

    async def batches(self) -> AsyncIterator[Batch]:
        async for batch in self.inner.batches():
            self._write(batch)
            yield batch

    # -- writing -------------------------------------------------------------------------
    def _open_segment(self) -> None:
        seg = _Segment(_segment_name(len(self._segments) + 1))
        self._segments.append(seg)
        self._fh = open(self.folder / seg.file, "wb")
        self._write_manifest(complete=False)

    def _write(self, batch: Batch) -> None:
        cols = any(type(t) is TickColumns for t in batch.ticks)
        ticks = objects(batch.ticks)
        body = _ENC.encode([batch.received_ns, cols, [list(e) for e in batch.errors],
                            encode(ticks, "binary") if ticks else b""])
        frame = _LEN.pack(len(body)) + body
        seg = self._segments[-1]
        if seg.bytes and seg.bytes + len(frame) > self.segment_bytes:
            self._fh.close()
            self._open_segment()
            seg = self._segments[-1]
        self._fh.write(frame)
        self._fh.flush()
        seg._sha.update(frame)
        seg.bytes += len(frame)
        seg.batches += 1
        seg.ticks += len(ticks)
        seg.errors += len(batch.errors)
        seg.first_received_ns = seg.first_received_ns or batch.received_ns
        seg.last_received_ns = batch.received_ns
        if ticks:
            ts = [t.ts_ns for t in ticks if hasattr(t, "ts_ns")]
            if ts:
                seg.first_ts_ns = min(ts) if seg.first_ts_ns is None else seg.first_ts_ns
                seg.last_ts_ns = max(ts)
        self.batches_written += 1
        if batch.token is not None:
            self._pending.append((self.batches_written, batch.token))

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._write_manifest(complete=True)

    def _write_manifest(self, complete: bool) -> None:
        _write_json_atomic(self.folder / MANIFEST, {
            "format": FORMAT, "version": VERSION, "source": self.inner.identity(),
            "encoding": "binary", "created_utc": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._created / 1e9)),
            "monitor_version": self._version, "complete": complete,
            "batches_written": self.batches_written, "batches_applied": self.batches_applied,
            "books": self._books,
            "segments": [s.public() for s in self._segments]})


# -- reading ---------------------------------------------------------------------------------
class RecordingError(ValueError):
    """A recording that cannot be used or does not verify (one line naming what)."""


def read_manifest(folder) -> dict:
    p = Path(folder) / MANIFEST
    if not p.is_file():
        raise RecordingError(f"{folder}: not a recording (no {MANIFEST})")
    try:
        m = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise RecordingError(f"{p}: unreadable ({err})") from None
    if m.get("format") != FORMAT:
        raise RecordingError(f"{p}: format {m.get('format')!r}, expected {FORMAT!r}")
    if m.get("version") != VERSION:
        raise RecordingError(f"{p}: version {m.get('version')!r}; this monitor reads "
                             f"version {VERSION}")
    return m


def _frames(data: bytes, name: str):
    i = 0
    while i < len(data):
        if i + 4 > len(data):
            raise RecordingError(f"{name}: ends inside a frame header at byte {i}")
        (n,) = _LEN.unpack_from(data, i)
        if i + 4 + n > len(data):
            raise RecordingError(f"{name}: ends inside a frame at byte {i} ({n} bytes "
                                 f"announced, {len(data) - i - 4} there)")
        yield _DEC.decode(data[i + 4:i + 4 + n])
        i += 4 + n


def verify(folder, ticks: bool = True) -> tuple[dict, list[str]]:
    """(manifest, problems): each segment's presence, sha256, batch and (``ticks``: every
    batch decoded) tick counts; a segment file the manifest does not list. No problems:
    the recording is as written."""
    folder = Path(folder)
    m = read_manifest(folder)
    problems = []
    listed = set()
    for seg in m.get("segments", []):
        name = seg["file"]
        listed.add(name)
        p = folder / name
        if not p.is_file():
            problems.append(f"{name}: missing")
            continue
        data = p.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != seg["sha256"]:
            problems.append(f"{name}: sha256 {digest[:16]}... differs from the manifest's "
                            f"{seg['sha256'][:16]}... (the file was changed)")
            continue
        try:
            frames = list(_frames(data, name))
            n = (sum(len(objects(decode(f[3], "binary").ticks)) for f in frames if f[3])
                 if ticks else seg["ticks"])
        except (RecordingError, msgspec.DecodeError, IndexError, TypeError) as err:
            # (a RecordingError of _frames names the file already)
            problems.append(str(err) if isinstance(err, RecordingError) else f"{name}: {err}")
            continue
        if len(frames) != seg["batches"] or n != seg["ticks"]:
            problems.append(f"{name}: {len(frames)} batches and {n} ticks, the manifest "
                            f"says {seg['batches']} and {seg['ticks']}")
    for extra in sorted(p.name for p in folder.glob("segment-*.ticks")):
        if extra not in listed:
            problems.append(f"{extra}: not in the manifest")
    return m, problems


def compare_books(recorded: dict[str, dict], replayed: dict[str, dict]) -> dict[str, str]:
    """Per underlying whose replayed book is not the recorded one, why
    (:func:`monitor.books.fingerprints_differ`)."""
    out = {}
    for r in sorted(set(recorded) | set(replayed)):
        if r not in replayed or r not in recorded:
            out[r] = "not in the " + ("replay" if r not in replayed else "recording")
            continue
        why = fingerprints_differ(recorded[r], replayed[r])
        if why is not None:
            out[r] = why
    return out


class ReplaySource(Source):
    """A verified recording's applied batches, in order (a finite source: it ends after
    the last). ``speed``: None = as fast as the service takes them, else that many times
    the recorded pace (by the batches' ``received_ns``), read from ``clock`` (seconds) and
    waited for with ``sleep`` (both replaceable, for a test's own clock)."""

    def __init__(self, folder, *, speed: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable] = asyncio.sleep):
        if speed is not None and not speed > 0:
            raise ValueError(f"--speed must be > 0, got {speed}")
        self.folder = Path(folder)
        self.speed = speed
        self._clock, self._sleep = clock, sleep
        # the hashes and frames here; the ticks are decoded once, as they are replayed
        self.manifest, problems = verify(self.folder, ticks=False)
        if problems:
            raise RecordingError(f"{self.folder}: does not verify: {problems[0]}"
                                 + (f" (and {len(problems) - 1} more)" if len(problems) > 1
                                    else ""))
        self._stopped = asyncio.Event()
        self.delivered = 0

    restorable = False  # a replay starts from the recording alone

    def identity(self) -> str:
        return f"replay of {self.manifest['source']}"

    async def stop(self) -> None:
        self._stopped.set()

    async def commit(self, token) -> None:
        pass

    async def batches(self) -> AsyncIterator[Batch]:
        limit = int(self.manifest.get("batches_applied", 0))
        t0_wall = t0_rec = None
        for seg in self.manifest["segments"]:
            data = (self.folder / seg["file"]).read_bytes()
            for received_ns, cols, errors, body in _frames(data, seg["file"]):
                if self.delivered >= limit or self._stopped.is_set():
                    return
                if self.speed is not None:
                    if t0_wall is None:
                        t0_wall, t0_rec = self._clock(), received_ns
                    due = t0_wall + (received_ns - t0_rec) / 1e9 / self.speed
                    wait = due - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                ticks = decode(body, "binary", columns=cols).ticks if body else []
                self.delivered += 1
                yield Batch(ticks, [tuple(e) for e in errors], self.delivered, received_ns)
                await asyncio.sleep(0)
