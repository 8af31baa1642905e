"""Shared numba compilation options for every kernel of the core.

``FASTMATH`` deliberately leaves out ``nnan``/``ninf``: with them LLVM may assume no
NaN exists and delete the ``x != x`` guards that reject bad quotes (measured here;
see shared/LIBRARIES.md). The remaining flags give most of the speed.
"""

from numba import njit

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def kernel(*args, parallel: bool = False, **kw):
    """``@njit`` with the project's defaults: cached, GIL released, safe fast-math."""
    opts = dict(cache=True, nogil=True, fastmath=FASTMATH, parallel=parallel)
    opts.update(kw)
    if args and callable(args[0]):
        return njit(**opts)(args[0])
    return njit(**opts)
