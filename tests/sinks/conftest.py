"""Fixtures of the Redis sink's tests: an own key prefix per test on the shared Redis at
127.0.0.1:6379 (tests/conftest.py's, cleaned up), a raw client on it, and a started sink."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from monitor.config import RedisSettings
from monitor.sinks.redis_sink import RedisSink
from tests.conftest import SHARED_REDIS_URL as SHARED_URL


@pytest.fixture
def prefix():
    return f"dealerflow_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def shared(prefix, shared_redis):
    """A raw client on the shared Redis (started for the session when none answers)."""
    raw = Redis.from_url(SHARED_URL, decode_responses=True)
    yield raw
    keys = [k async for k in raw.scan_iter(match=f"{prefix}:*")]
    if keys:
        await raw.delete(*keys)
    await raw.aclose()


@pytest.fixture
async def sink(prefix, shared):
    s = RedisSink(RedisSettings(url=SHARED_URL, prefix=prefix, stream_maxlen=10))
    assert await s.start()
    yield s
    await s.close()
