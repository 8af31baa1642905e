"""A bare install runs the main job: the package is built as a wheel, installed into a
fresh virtual environment, and `monitor run` runs from an empty directory with nothing
beside it (the embedded chain and the default configuration come from the package)."""

from __future__ import annotations

import filecmp
import os
import re
import subprocess
import sys
import uuid
import venv
import zipfile
from pathlib import Path

import pytest

from monitor.paths import packaged_chain, packaged_config
from tests.data_paths import DATA_DIR, REPO_ROOT
from tests.redis_server import ping


def test_packaged_default_config_is_the_repositorys():
    assert filecmp.cmp(packaged_config(), REPO_ROOT / "config.yaml", shallow=False), (
        "monitor/data/config.yaml must be a copy of config.yaml: cp config.yaml monitor/data/")


def test_packaged_chain_is_the_shared_file():
    """The embedded chain is real data: byte-identical to the shared file it was copied from."""
    shared = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-21.csv.gz"
    assert filecmp.cmp(packaged_chain(), shared, shallow=False)
    assert packaged_chain().stat().st_size < 1_000_000


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # a copy of the tracked files only, as a fresh clone has them (no build/ or egg-info)
    src = tmp_path_factory.mktemp("src") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO_ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((REPO_ROOT / name).read_bytes())
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = out.glob("dealerflow_monitor-*.whl")
    return whl


def test_wheel_carries_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("monitor/data/config.yaml", "monitor/data/SPX_2026-08-21.csv.gz",
                 "monitor/data/README.md"):
        assert name in names


def test_bare_install_runs_the_main_job_from_an_empty_directory(wheel, tmp_path,
                                                                shared_redis):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    prefix = f"dealerflow_test_wheel_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEALERFLOW_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({"DEALERFLOW_REDIS__PREFIX": prefix, "HOME": str(tmp_path),
                "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")})
    proc = subprocess.run([str(env_dir / "bin" / "monitor"), "run", "--duration", "5",
                           "--metrics-port", "0", "--log-format", "json"],
                          cwd=empty, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^SPX spot [\d,.]+  GEX [+-]\$[\d.,]+(tn|bn|mm|k)?/1%", proc.stdout, re.M), \
        proc.stdout[-2000:]
    assert list(empty.iterdir()) == []  # it wrote nothing where it ran
    first, second = proc.stderr.splitlines()[:2]
    assert '"config_loaded"' in first and '"packaged default"' in first, first
    assert '"kernels_compiling"' in second, second  # a fresh install: numba's cache is cold
    if ping("127.0.0.1", 6379):
        import redis

        r = redis.Redis(host="127.0.0.1", port=6379)
        keys = r.keys(f"{prefix}-demo:*")  # the embedded run writes under its own prefix
        assert f"{prefix}-demo:SPX:state".encode() in keys
        r.delete(*keys)
