"""Shared numba compilation options for every kernel of the core.

``FASTMATH`` deliberately leaves out ``nnan``/``ninf``: with them LLVM may assume no
NaN exists and delete the ``x != x`` guards that reject bad quotes (measured here;
see shared/LIBRARIES.md). The remaining flags give most of the speed.

Caching: numba keys a cached kernel on its own file only, so editing an inlined helper in
another module (``black76.py``, ``iv.py``) would leave stale machine code in use. The
cache therefore always lives in a directory named after a hash of every core source file
and numba's version: under ``NUMBA_CACHE_DIR`` when it is set (a persistent folder of the
Dockerfile or the systemd unit: an upgrade then compiles into a new subfolder instead of
running the old Greeks with the new code), else under ``$XDG_CACHE_HOME/dealerflow/numba``.
"""

import hashlib
import os
from pathlib import Path

import numba
from numba import njit

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _source_hash() -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# The service runs parallel kernels from two threads (ticks on one, publish cycles on
# another); numba's default "workqueue" layer is not safe for that, OpenMP and TBB are.
if not os.environ.get("NUMBA_THREADING_LAYER"):
    numba.config.THREADING_LAYER = "threadsafe"

_parent = os.environ.get("NUMBA_CACHE_DIR") or (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dealerflow" / "numba")
numba.config.CACHE_DIR = str(Path(_parent) / _source_hash())


def kernel(*args, parallel: bool = False, **kw):
    """``@njit`` with the project's defaults: cached, GIL released, safe fast-math."""
    opts = dict(cache=True, nogil=True, fastmath=FASTMATH, parallel=parallel)
    opts.update(kw)
    if args and callable(args[0]):
        return njit(**opts)(args[0])
    return njit(**opts)
