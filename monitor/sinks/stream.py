"""``/stream``: the live state as server-sent events (what the wall page and a desk's own
tools read). Schema: ``docs/stream.md``.

Two objects, on two threads:

* :class:`StreamSink` (a :class:`~monitor.sinks.base.Sink`, on the service's event loop)
  turns each publish cycle into events: one ``state`` event per underlying (the Redis
  state's fields, the per-strike profile and the time it was published) and one
  ``regime`` event per regime change. It encodes each event once (msgspec JSON) and hands
  it to the hub; it never waits for a client.
* :class:`StreamHub` keeps the last ``history`` events in a ring, numbered 1, 2, ... in
  this process (ids carry a per-process ``boot`` tag, ``<boot>-<n>``), and serves them on
  the HTTP server's own loop (:meth:`handle`). A new client gets the ring (the session so
  far, for the page's charts), a client that reconnects with ``Last-Event-ID`` gets what
  followed that id; an id the ring no longer holds, or from an earlier process, gets the
  ring again (the client then knows from ``reset`` to start over).

Why a slow or vanished client cannot slow tick processing: the service thread only
appends to the ring under a lock and schedules a wake-up on the HTTP loop
(``call_soon_threadsafe``); each client is a coroutine on the HTTP loop that writes what
it has not sent yet, and a client that does not take an event within ``write_timeout_s``
is disconnected (its browser reconnects and resumes from its last id).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

import msgspec
import structlog
from aiohttp import web

from monitor.sinks.base import PublishCycle, Sink
from monitor.sinks.redis_sink import numpy_enc_hook

__all__ = ["StreamHub", "StreamSink", "StreamEvent", "wall_pages"]

_log = structlog.get_logger("monitor.sinks.stream")
_encode = msgspec.json.Encoder(enc_hook=numpy_enc_hook).encode

#: comment line sent when nothing else was for this long (keeps proxies from closing)
KEEPALIVE_S = 15.0
#: the most bytes of frames one write carries (a slow client holds at most about this)
SEND_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class StreamEvent:
    seq: int
    kind: str  # "state" | "regime"
    root: str
    data: bytes  # the JSON document

    def frame(self, boot: str) -> bytes:
        return (f"id: {boot}-{self.seq}\nevent: {self.kind}\n".encode()
                + b"data: " + self.data + b"\n\n")


class StreamHub:
    """The ring of recent events and the SSE endpoint (module docstring)."""

    def __init__(self, history: int = 600, *, retry_ms: int = 1000,
                 write_timeout_s: float = 10.0, stale_after_s: float = 10.0):
        if history < 1:
            raise ValueError("history must be >= 1")
        self.boot = f"{os.getpid():x}{time.time_ns() // 1_000_000:x}"
        self.retry_ms = int(retry_ms)
        self.write_timeout_s = float(write_timeout_s)
        self.stale_after_s = float(stale_after_s)
        self._ring: deque[StreamEvent] = deque(maxlen=history)
        self._seq = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.clients = 0
        self.writing = 0  # of them, waiting in a write (a client not reading, or slow)
        self.dropped_clients = 0  # disconnected for not taking events in time

    # -- the service's side ---------------------------------------------------------------
    def publish(self, kind: str, root: str, data: bytes) -> int:
        """Append one event (any thread); returns its number."""
        with self._lock:
            self._seq += 1
            self._ring.append(StreamEvent(self._seq, kind, root, data))
            seq, loop = self._seq, self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._notify)
            except RuntimeError:  # the HTTP loop has closed (shutdown)
                pass
        return seq

    @property
    def last_seq(self) -> int:
        return self._seq

    def since(self, last_event_id: str | None) -> tuple[list[StreamEvent], bool]:
        """(events after ``last_event_id``, reset): reset is True when the id is not one
        this ring can resume from (none, another process, or fallen out of the ring):
        then the whole ring."""
        with self._lock:
            ring = list(self._ring)
        n = _seq_of(last_event_id, self.boot)
        if n is not None and (not ring or ring[0].seq <= n + 1) and n <= self._seq:
            return [e for e in ring if e.seq > n], False
        return ring, True

    # -- the HTTP server's side -----------------------------------------------------------
    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /stream`` (optional ``?u=SPX,VIX``: only those underlyings)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
        roots = {r.strip().upper() for r in request.query.get("u", "").split(",") if r.strip()}
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})  # (nginx: do not buffer the stream)
        await resp.prepare(request)
        events, reset = self.since(request.headers.get("Last-Event-ID"))
        self.clients += 1
        try:
            hello = _encode({"boot": self.boot, "reset": reset, "last_seq": self.last_seq,
                             "stale_after_s": self.stale_after_s})
            await self._write(resp, f"retry: {self.retry_ms}\nevent: hello\n".encode()
                              + b"data: " + hello + b"\n\n")
            # the last event this client has: a resumed id, else nothing (0); never the
            # hub's newest number, which may have moved on since the look above
            sent = (events[-1].seq if events
                    else 0 if reset else _seq_of(request.headers.get("Last-Event-ID"), self.boot))
            await self._send(resp, events, roots)
            while True:
                # take the wake-up before looking: a publish after the look sets this one
                wake = self._wake
                events, reset = self.since(f"{self.boot}-{sent}")
                if reset:  # fell out of the ring while this client was slow
                    await self._write(resp, b"event: hello\ndata: "
                                      + _encode({"boot": self.boot, "reset": True,
                                                 "last_seq": self.last_seq,
                                                 "stale_after_s": self.stale_after_s})
                                      + b"\n\n")
                if events:
                    sent = events[-1].seq
                    await self._send(resp, events, roots)
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    await self._write(resp, b": keep-alive\n\n")
        except (ConnectionError, asyncio.CancelledError):
            pass
        except asyncio.TimeoutError:
            self.dropped_clients += 1
            _log.info("stream_client_dropped", peer=request.remote,
                      write_timeout_s=self.write_timeout_s)
        finally:
            self.clients -= 1
        return resp

    async def _send(self, resp, events, roots) -> None:
        """The events in writes of at most about :data:`SEND_CHUNK_BYTES`: each write waits
        for the client to take it (aiohttp drains past its buffer limit) within
        ``write_timeout_s``, so a client that does not read holds one chunk, not the whole
        ring (600 states of a large book are over 100 MB)."""
        chunk: list[bytes] = []
        size = 0
        for e in events:
            if roots and e.root not in roots:
                continue
            frame = e.frame(self.boot)
            chunk.append(frame)
            size += len(frame)
            if size >= SEND_CHUNK_BYTES:
                await self._write(resp, b"".join(chunk))
                chunk, size = [], 0
        if chunk:
            await self._write(resp, b"".join(chunk))

    async def _write(self, resp, body: bytes) -> None:
        self.writing += 1  # clients whose write waits for them to take it
        try:
            await asyncio.wait_for(resp.write(body), self.write_timeout_s)
        finally:
            self.writing -= 1


_WALL_FILES = {"/wall": ("wall.html", "text/html; charset=utf-8"),
               "/wall.js": ("wall.js", "text/javascript; charset=utf-8"),
               "/wall.css": ("wall.css", "text/css; charset=utf-8")}


def wall_pages() -> dict:
    """The wall page's files (package data, ``monitor/data/wall/``) as HTTP pages."""
    from importlib.resources import files
    base = files("monitor") / "data" / "wall"
    pages = {}
    for path, (name, ctype) in _WALL_FILES.items():
        body = (base / name).read_bytes()
        pages[path] = (lambda body=body, ctype=ctype: (200, ctype, body))
    return pages


def _seq_of(event_id: str | None, boot: str) -> int | None:
    if not event_id or "-" not in event_id:
        return None
    tag, _, n = event_id.rpartition("-")
    if tag != boot or not n.isdigit():
        return None
    return int(n)


class StreamSink(Sink):
    """Publish cycles into a :class:`StreamHub` as ``state`` and ``regime`` events."""

    def __init__(self, hub: StreamHub):
        self.hub = hub

    async def write(self, cycle: PublishCycle) -> bool:
        published_ns = time.time_ns()
        for u in cycle.underlyings:
            doc = {**u.state, "underlying": u.root, "published_ns": published_ns,
                   "profile": u.profile}
            self.hub.publish("state", u.root, _encode(doc))
            for ev in u.events:
                self.hub.publish("regime", u.root, _encode({**ev, "underlying": u.root}))
        return True
