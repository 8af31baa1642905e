"""The ``monitor`` command line (one module per family of commands; :mod:`.common` what they
share): each command parses its options, calls one computation
(:mod:`monitor.analysis`, :mod:`monitor.service`, :mod:`monitor.study`) and renders its
result (:mod:`monitor.render`, or ``--json``). Every command documents its options in
``--help``.

Errors the user can fix (missing file, unknown layout, empty chain, bad option) print
one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

# each module registers its commands on the one app, in the order `monitor --help` lists them
from monitor.cli import analysis, book, feeds, live, service  # noqa: E402,F401,I001
from monitor.cli.common import app  # noqa: E402


def main() -> None:  # pragma: no cover
    app()
