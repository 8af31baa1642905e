"""Where the benchmarks put their results: each run's output in ``benchmarks/results/NAME.md``
under one header line (the script, the UTC date, the machine, the load average at the start
and the end, the command), and ``benchmarks/RESULTS.md`` rebuilt from all of them after
every run. Nothing in either file is written by hand: a figure there is what a benchmark
printed.

    if __name__ == "__main__":
        sys.exit(run_recorded(main, "core", "The numba core against its peers"))

(``main`` prints its tables; a run with ``--quick``, or one that fails, writes nothing.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"

#: the order of RESULTS.md (a results file not listed comes after these, by name)
ORDER = ("core", "forward", "tape", "copies", "roots", "startup", "service", "stream", "soak",
         "dbn", "implied_spot")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """The machine in one phrase: CPU model, cores, architecture, Python."""
    return (f"{cpu_model()}, {os.cpu_count()} CPUs ({platform.machine()}), "
            f"Python {platform.python_version()}")


def load() -> float:
    return os.getloadavg()[0]


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()


@contextlib.contextmanager
def recorded(name: str, title: str, *, write: bool = True, ok: list | None = None):
    """Print as usual; with ``write``, the run's output also goes to ``results/NAME.md``
    under ``title`` and its header line, and RESULTS.md is rebuilt. A run that raises, or
    whose ``ok`` list holds a False, writes nothing."""
    script = Path(sys.argv[0]).name
    load0, started = load(), dt.datetime.now(dt.timezone.utc)
    buf = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, buf)):
        yield
    if not write or (ok is not None and not all(ok)):
        return
    header = (f"# {title}\n\nWritten by `benchmarks/{script}` on "
              f"{started:%Y-%m-%d %H:%M} UTC: {machine()}; load average {load0:.2f} at the "
              f"start, {load():.2f} at the end; command `{' '.join([script, *sys.argv[1:]])}`."
              "\n\n")
    RESULTS_DIR.mkdir(exist_ok=True)
    # (the run's own headings one level under the title)
    (RESULTS_DIR / f"{name}.md").write_text(header + _demoted(buf.getvalue().strip()) + "\n")
    rebuild()


def run_recorded(main, name: str, title: str) -> int:
    """``main()`` under :func:`recorded`, written only when it returns 0 (or None) and the
    command is a full run (no ``--quick``, no ``--help``)."""
    full = not {"--quick", "-h", "--help"} & set(sys.argv[1:])
    out: list = []
    try:
        with recorded(name, title, write=full, ok=out):
            rc = main()
            out.append(rc in (0, None))
    except SystemExit as exit_:  # (argparse's --help, or a main that exits)
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0 if rc is None else rc


def rebuild() -> Path:
    """RESULTS.md from every results file, in :data:`ORDER`, each file's headings one level
    down under its own title."""
    files = {p.stem: p for p in RESULTS_DIR.glob("*.md")}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    parts = ["# Benchmark results\n\nWritten by the benchmarks themselves "
             "(`benchmarks/results.py`): each section is one benchmark's last full run, "
             "with its date, machine and load. What each one measures, and how: "
             "[README.md](README.md); what the figures mean for a deployment: "
             "[docs/speed.md](../docs/speed.md).\n"]
    parts += [f"- [{_title(files[n])}](#{_anchor(_title(files[n]))})" for n in names]
    for n in names:
        parts.append("\n" + _demoted(files[n].read_text()))
    RESULTS_MD.write_text("\n".join(parts).rstrip() + "\n")
    return RESULTS_MD


def _demoted(text: str) -> str:
    """Markdown headings one level down (not lines of a fenced code block)."""
    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        out.append("#" + line if line.startswith("#") and not fence else line)
    return "\n".join(out)


def _title(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    return first.lstrip("#").strip()


def _anchor(title: str) -> str:
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


if __name__ == "__main__":
    print(rebuild())
