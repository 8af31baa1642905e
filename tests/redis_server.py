"""A private, memory-only ``redis-server`` on a free port, for tests that stop and
restart Redis (the shared server at 127.0.0.1:6379 must not be touched).

    with RedisServer() as srv:      # started
        srv.url                     # redis://127.0.0.1:<port>/0
        srv.stop(); srv.start()     # same port, empty data
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

REDIS_SERVER = shutil.which("redis-server")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ping(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(16)
            return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")  # up
    except OSError:
        return False


class RedisServer:
    """``persist=True``: append-only file with ``appendfsync always`` in a private
    directory, so data survives :meth:`stop` (a kill) and :meth:`start` on the same
    port; default memory-only (``--save "" --appendonly no``): a restart is empty."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", *,
                 persist: bool = False, extra_args: tuple[str, ...] = ()):
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server not installed")
        self.host = host
        self.port = port or free_port(host)
        self.persist = persist
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self._dir = tempfile.mkdtemp(prefix="redis-test-")

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.running:
            return self
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", self.host,
             "--save", "", "--dir", self._dir, "--daemonize", "no", "--logfile", "",
             *(["--appendonly", "yes", "--appendfsync", "always"] if self.persist
               else ["--appendonly", "no"]),
             *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} "
                                   f"(port {self.port})")
            if ping(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()  # memory-only: nothing to save; also drops client connections
            proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and ping(self.host, self.port, 0.05):
            time.sleep(0.02)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # best effort: never leave a server behind
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
            if os.path.isdir(self._dir):
                shutil.rmtree(self._dir, ignore_errors=True)
        except Exception:
            pass
