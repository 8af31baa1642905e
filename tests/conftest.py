"""Session fixtures: a real Kafka broker (Apache Kafka where a JVM is present, else Tansu:
tests/broker.py) and a real Redis."""

import subprocess
import time

import pytest

from tests.broker import broker_kind, broker_name, kafka_bootstrap  # noqa: F401
from tests.redis_server import REDIS_SERVER, ping

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


def pytest_report_header(config):
    """Which Kafka broker the tests that need one run against."""
    return f"kafka broker: {broker_name(broker_kind())} (tests/broker.py)"


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    return REDIS_SERVER


@pytest.fixture(scope="session")
def shared_redis(redis_server_binary):
    """The Redis at 127.0.0.1:6379 (this machine's, or one started for the session when
    none answers). Tests use their own key prefix on it and clean up."""
    proc = None
    if not ping("127.0.0.1", 6379):
        proc = subprocess.Popen([redis_server_binary, "--port", "6379", "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if ping("127.0.0.1", 6379):
                break
            time.sleep(0.02)
    yield SHARED_REDIS_URL
    if proc is not None:
        proc.kill()
        proc.wait()
