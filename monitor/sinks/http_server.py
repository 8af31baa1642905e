"""The monitor's HTTP endpoints (``/metrics``, ``/healthz``, ``/readyz``): one aiohttp
server on an event loop of its own, in one daemon thread.

Why a loop of its own: a scrape renders the whole registry (CPU, tens of ms with many
underlyings) and must not hold up the service's event loop, which carries Kafka heartbeats
and tick latency; and tests (and any synchronous caller) can query it from the service's
loop thread without dead-locking it. Why asyncio, not a thread per connection: idle or slow
clients cost a socket each, not a thread, and concurrent connections are capped
(``max_connections``; a request over the cap is answered 503 and its connection closed).
The probes (:data:`PROBES`: ``/healthz``, ``/readyz``) are answered whatever the count: an
orchestrator restarts a pod whose liveness probe fails, so anyone holding idle sockets
could otherwise get a healthy monitor restarted.

A malformed request (not HTTP, a bad header) is answered 400 by aiohttp and logged here
once per kind at WARNING without a traceback (``http_bad_request``), then only counted
(:attr:`HttpServer.bad_requests`): unauthenticated clients must not flood the logs.

``token``: when set, the ``protected`` paths (``/metrics``, ``/stream``, ``/wall``)
require ``Authorization: Bearer <token>`` or, for a browser's page and its EventSource,
which cannot send that header, ``?token=<token>`` (401 otherwise; compared in constant
time); the probes stay open, since an orchestrator's liveness and readiness checks carry
no credentials. The token is never logged (no access log is kept).

The pages themselves come from ``routes``: ``{path: () -> (status, content_type, body)}``
called on the server's thread (:meth:`monitor.sinks.metrics.Metrics.pages` gives them);
``handlers`` are aiohttp handlers run on the server's loop (``/stream``, a long response).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Callable, Mapping

import structlog
from aiohttp import web

__all__ = ["HttpServer", "Page"]

_log = structlog.get_logger("monitor.sinks.http_server")

#: ``() -> (HTTP status, content type, body)``
Page = Callable[[], tuple[int, str, bytes]]

#: a keep-alive connection idle this long is closed (it holds a connection slot)
KEEPALIVE_S = 15.0
#: answered whatever the number of open connections (module docstring)
PROBES = ("/healthz", "/readyz")


class _BadRequests(logging.Filter):
    """On the server's own logger (:meth:`HttpServer._server_logger`): a request error (a
    malformed request) becomes one ``http_bad_request`` warning per kind, without its
    traceback, then a count; anything else goes on to aiohttp's usual logger."""

    def __init__(self, server: "HttpServer"):
        super().__init__()
        self.server = server

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not record.getMessage().startswith("Error handling request"):
            logging.getLogger("aiohttp.server").handle(record)
            return False
        kind = type(exc).__name__
        counts = self.server.bad_requests
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] == 1:
            _log.warning("http_bad_request", kind=kind,
                         detail=" ".join(str(exc).split())[:160],
                         note="further ones of this kind are counted, not logged")
        return False


class HttpServer:
    """Serves ``routes`` on ``host:port`` (``port=0``: a free one, see :attr:`port`)."""

    def __init__(self, routes: Mapping[str, Page], host: str = "127.0.0.1", port: int = 0,
                 *, token: str | None = None, max_connections: int = 64,
                 protected: tuple[str, ...] = ("/metrics",),
                 handlers: Mapping[str, Callable] | None = None):
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.routes = dict(routes)
        self.handlers = dict(handlers or {})
        self.host, self.requested_port = host, port
        self._token = token.encode() if token else None
        self.max_connections = max_connections
        self.protected = protected
        self.port: int | None = None
        self.refused = 0  # requests answered 503 over the connection cap
        self.bad_requests: dict[str, int] = {}  # malformed requests by kind (_BadRequests)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> int:
        """Bind and serve from a daemon thread; returns the port. Raises ``OSError`` when
        the address cannot be bound (in the caller's thread)."""
        if self._thread is not None:
            raise RuntimeError("HTTP server already running")
        started: dict = {}
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                started["port"] = loop.run_until_complete(self._start())
            except BaseException as err:  # noqa: BLE001 - handed to the caller
                started["error"] = err
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._runner.cleanup())
                loop.close()

        self._thread = threading.Thread(target=run, name="http", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in started:
            self._thread.join()
            self._thread = None
            raise started["error"]
        self.port = started["port"]
        return self.port

    async def _start(self) -> int:
        app = web.Application(middlewares=[self._guard])
        for path in self.routes:
            app.router.add_get(path, self._handler(path))
        for path, handler in self.handlers.items():
            app.router.add_get(path, handler)
        # a logger of this server's own, outside logging's registry (a later dictConfig
        # cannot disable it), whose filter handles every record aiohttp's server logs
        errors = logging.Logger("monitor.http_server.aiohttp", logging.DEBUG)
        errors.propagate = False
        errors.addFilter(_BadRequests(self))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     keepalive_timeout=KEEPALIVE_S, logger=errors)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port,
                           reuse_address=True)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # (port 0: the one picked)

    def stop(self) -> None:
        """Stop serving and join the thread (no-op when not running)."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)

    # -- requests -------------------------------------------------------------------------
    def _open_connections(self) -> int:
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if request.path not in PROBES and self._open_connections() > self.max_connections:
            self.refused += 1
            return web.Response(status=503, text="too many connections\n",
                                headers={"Connection": "close", "Retry-After": "1"})
        if self._token is not None and request.path in self.protected:
            got = request.headers.get("Authorization", "").encode()
            query = request.query.get("token", "").encode()
            if not (hmac.compare_digest(got, b"Bearer " + self._token)
                    or hmac.compare_digest(query, self._token)):
                return web.Response(status=401, text="unauthorized\n",
                                    headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    def _handler(self, path: str):
        page = self.routes[path]

        async def handle(request: web.Request) -> web.Response:
            status, content_type, body = page()
            return web.Response(status=status, body=body,
                                headers={"Content-Type": content_type})

        return handle
