"""A local HTTP server (127.0.0.1, free port, its own threads) that records every request
and answers as scripted, for tests of webhook clients.

    with RecordingServer() as srv:
        url = srv.url("/slack/T0/B0/SECRET")     # http://127.0.0.1:<port>/slack/T0/B0/SECRET
        srv.script(Reply(500), Reply(500))       # the next two requests: 500, then the default
        srv.script(Hang(1.0), path="/teams")     # for paths starting with /teams only
        srv.default = Slow(2.0)                  # every unscripted request (default: 200 "ok")
        srv.requests                             # [Recorded(...)], in arrival order
        srv.delivered()                          # the requests answered 2xx
        await srv.wait_for(lambda s: len(s.delivered()) == 1)

Actions: ``Reply(status, body, headers, delay)`` answers after ``delay`` seconds;
``Slow(delay)`` = a 200 after ``delay``; ``TooMany(retry_after)`` = 429 with
``Retry-After``; ``Hang(seconds)`` reads the request, waits, and closes the connection
without answering (a client with a shorter timeout times out). Per-path scripts (by path
prefix) are used before the global script, the global script before ``default``.

The server runs in threads, so a slow answer never blocks the test's event loop. It never
writes request lines to stderr (paths hold webhook secrets).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def Slow(delay: float, status: int = 200) -> Reply:  # noqa: N802 - reads as an action
    return Reply(status=status, delay=delay)


def TooMany(retry_after: str | float) -> Reply:  # noqa: N802
    return Reply(status=429, body=b"rate_limited", headers={"Retry-After": str(retry_after)})


@dataclass(frozen=True)
class Hang:
    seconds: float


@dataclass
class Recorded:
    t: float  # time.monotonic() when the body was read
    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes
    status: int | None = None  # None: not answered (Hang)
    t_done: float | None = None

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class RecordingServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.requests: list[Recorded] = []
        self.default: Reply | Hang = Reply()
        self._script: deque = deque()
        self._paths: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------
    def script(self, *actions, path: str | None = None) -> None:
        with self._lock:
            q = self._script if path is None else self._paths.setdefault(path, deque())
            q.extend(actions)

    def clear_script(self) -> None:
        """Forget the scripted actions not yet used (``default`` answers from now on)."""
        with self._lock:
            self._script.clear()
            self._paths.clear()

    def _next_action(self, path: str):
        with self._lock:
            for prefix, q in self._paths.items():
                if path.startswith(prefix) and q:
                    return q.popleft()
            if self._script:
                return self._script.popleft()
            return self.default

    # -- results --------------------------------------------------------------------------
    def delivered(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.status is not None and 200 <= r.status < 300
                    and (path is None or r.path.startswith(path))]

    def received(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path.startswith(path)]

    async def wait_for(self, cond, timeout: float = 5.0, interval: float = 0.01) -> None:
        deadline = time.monotonic() + timeout
        while not cond(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; "
                                     f"requests: {[(r.path, r.status) for r in self.requests]}")
            await asyncio.sleep(interval)

    # -- life cycle -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> RecordingServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format, *args):  # noqa: A002 - never print paths
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                rec = Recorded(time.monotonic(), self.command, self.path,
                               {k.lower(): v for k, v in self.headers.items()}, body)
                with owner._lock:
                    owner.requests.append(rec)
                action = owner._next_action(self.path)
                if isinstance(action, Hang):
                    time.sleep(action.seconds)
                    self.close_connection = True
                    return
                if action.delay:
                    time.sleep(action.delay)
                rec.status = action.status  # before the client can see the answer
                rec.t_done = time.monotonic()
                try:
                    self.send_response(action.status)
                    for k, v in action.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(action.body)))
                    self.end_headers()
                    self.wfile.write(action.body)
                    self.wfile.flush()
                except OSError:  # the client went away: not answered
                    rec.status = None

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):  # a client that went away
                pass

        self._server = Server((self.host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True,
                                        name="recording-http-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
