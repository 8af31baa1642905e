"""The house rules, checked the way CI checks them: the layering contract (import-linter,
imports inside functions included) holds on the code, and fails on a copy of the code with
one deliberate upward import; ruff passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    """The core importing the service (hidden inside a function, where a reader would not
    see it) is caught: the contract counts imports inside functions too."""
    shutil.copytree(REPO_ROOT / "monitor", tmp_path / "monitor",
                    ignore=shutil.ignore_patterns("__pycache__", "*.csv.gz"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    levels = tmp_path / "monitor" / "core" / "levels.py"
    levels.write_text(levels.read_text() + "\n\ndef _sneaky():\n"
                      "    from monitor.service import Monitor\n    return Monitor\n")
    # the copy, not the installed package, is what lint-imports analyses: cwd comes first
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
         "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "monitor layers BROKEN" in proc.stdout
    assert "monitor.core.levels -> monitor.service" in proc.stdout


def test_ruff_passes():
    proc = subprocess.run([str(BIN / "ruff"), "check", "monitor", "tests", "benchmarks", "scripts"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
