"""The soak benchmark (benchmarks/bench_soak.py), shortened for CI: a few seconds through
a real broker into the full service (Redis and metrics sinks), five underlyings, the
producer in its own process. Judged on what must hold at any rate: nothing lost, nothing
rejected, a clean exit. (The 10-minute run at 200k ticks/s and its memory figures are in
the README; they are a measurement, not a test.)"""

import argparse
import asyncio
import sys

import pytest

from tests.data_paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import bench_soak  # noqa: E402


@pytest.mark.usefixtures("shared_redis")
def test_a_short_soak_loses_no_tick():
    args = argparse.Namespace(seconds=4.0, rate=20_000.0, encoding="records", warmup_s=1.0,
                              partitions=3, chain=bench_soak.DEFAULT_CHAINS, chunk=bench_soak.CHUNK)
    r = asyncio.run(bench_soak.soak(args))
    assert r["rc"] == 0
    assert r["sent"] >= 40_000 and r["received"] == r["sent"]
    assert r["rejected"] == 0
    assert len(r["roots"]) == 5
