"""The house rules, checked the way CI checks them: the layering contract (import-linter,
imports inside functions included) holds on the code, and fails on a copy of the code with
one deliberate upward import; ruff passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data_paths import REPO_ROOT

BIN = Path(sys.executable).parent


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_layering_contract_holds():
    proc = lint_imports(REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "monitor layers KEPT" in proc.stdout
    assert "no import cycles between the modules of a package KEPT" in proc.stdout


def _lint_copy(tmp_path: Path, module: str, code: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the code with ``code`` appended to ``module``."""
    shutil.copytree(REPO_ROOT / "monitor", tmp_path / "monitor",
                    ignore=shutil.ignore_patterns("__pycache__", "*.csv.gz"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "monitor" / module
    path.write_text(path.read_text() + code)
    # the copy, not the installed package, is what lint-imports analyses: cwd comes first
    return subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
         "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("module, target, broken", [
    # the core importing the service, hidden inside a function where a reader would not
    # see it: the contract counts imports inside functions too
    ("core/levels.py", "monitor.service", "monitor.core.levels -> monitor.service"),
    # the ingest sits below the service
    ("ingest/rules.py", "monitor.service.publish", "monitor.ingest.rules -> monitor.service"),
    # a source reaching up into the service's assembly
    ("sources/kafka/decode.py", "monitor.service.assembly",
     "monitor.sources.kafka.decode -> monitor.service"),
])
def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path, module, target,
                                                                  broken):
    proc = _lint_copy(tmp_path, module,
                      f"\n\ndef _sneaky():\n    import {target}\n    return {target}\n")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "monitor layers BROKEN" in proc.stdout
    assert broken in proc.stdout


def test_a_cycle_between_the_modules_of_a_package_breaks_the_contract(tmp_path):
    """The ingest's state importing its refresh (which imports the state) is a cycle."""
    proc = _lint_copy(tmp_path, "ingest/state.py",
                      "\n\ndef _sneaky():\n    from monitor.ingest.refresh import Refresh\n"
                      "    return Refresh\n")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "no import cycles between the modules of a package BROKEN" in proc.stdout
    assert ".state -> .refresh" in proc.stdout


#: no module of the package is longer than this (one concept per file)
MAX_MODULE_LINES = 500


def test_no_module_is_over_500_lines():
    sizes = sorted(((len(p.read_text().splitlines()), p.relative_to(REPO_ROOT).as_posix())
                    for p in (REPO_ROOT / "monitor").rglob("*.py")), reverse=True)
    print("largest modules:", *(f"{n:5d} {name}" for n, name in sizes[:10]), sep="\n  ")
    assert len(sizes) > 100  # the walk found the package's modules
    over = [(n, name) for n, name in sizes if n > MAX_MODULE_LINES]
    assert over == [], f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_ruff_passes():
    proc = subprocess.run([str(BIN / "ruff"), "check", "monitor", "tests", "benchmarks", "scripts"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
