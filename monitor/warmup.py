"""Warm-up: compile (or load from numba's cache) every kernel the service and the commands
can call, before anyone waits on them.

numba compiles a kernel on its first call for each new combination of argument types and
keeps the machine code in its on-disk cache (``monitor.core.jit``: one directory per
version of the core's sources). On a cold cache that is ~30 s of compiling, which used to
happen on the first ticks, after ``/readyz`` said ready. :func:`warm_up` instead drives a
copy of a real book through every path once: each tick kind through
:class:`~monitor.ingest.Pipeline` (single quotes, a block past the parallel threshold,
the three wire encodings decoded, open interest, trades, the vol index), the inline and
the background whole-chain refresh, the published state (levels, scenarios on both
surfaces, the horizons, settled vs live, sizing), a checkpoint and its restore. Nothing it
touches is the caller's: the books are copied first.

``monitor warmup`` runs it on the packaged chain (the Dockerfile does, at build time, so a
container starts warm); ``monitor run`` runs it on its own books before it says ready.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from numba.core.registry import CPUDispatcher

from monitor.core.book import Book
from monitor.core.kernels import PARALLEL_MIN_UPDATES

__all__ = ["WarmupReport", "warm_up", "on_first_compile", "compiled_signatures", "compiled_here"]

#: the modules whose kernels count (monitor.core and the wire records decoder)
KERNEL_MODULES = ("monitor.core", "monitor.wire")


@dataclass(frozen=True)
class WarmupReport:
    seconds: float
    kernels: int  # kernels with at least one compiled signature
    signatures: int  # compiled (or cache-loaded) signatures in all
    cache_dir: str
    compiled: int  # signatures this process compiled (not loaded from the cache), so far


def cache_dir() -> Path:
    """numba's cache directory for this version of the core's sources."""
    return Path(numba.config.CACHE_DIR)


def on_first_compile(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once, when this process first compiles a kernel of
    :data:`KERNEL_MODULES` because numba's per-function cache did not hold that signature:
    numba's own ``numba:compile`` event, which fires on a cache miss only (what
    ``kernels_ready`` counts as compiled). So the "compiling" line is said exactly when a
    compile happens, also when another install left some of the cache's files behind."""
    from numba.core import event

    class _First(event.Listener):
        done = False

        def on_start(self, ev) -> None:
            if self.done:
                return
            fn = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
            if str(getattr(fn, "__module__", "")).startswith(KERNEL_MODULES):
                self.done = True
                callback()

        def on_end(self, ev) -> None:
            pass

    event.register("numba:compile", _First())


def _kernels():
    """``(module.kernel, dispatcher)`` of every numba kernel of :data:`KERNEL_MODULES`
    imported so far."""
    for name, mod in list(sys.modules.items()):
        if mod is None or not name.startswith(KERNEL_MODULES):
            continue
        for attr, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == name:
                yield f"{name}.{attr}", obj


def compiled_signatures() -> dict[str, int]:
    """``{module.kernel: compiled signatures}`` of every numba kernel of
    :data:`KERNEL_MODULES` imported so far (what a test compares before and after)."""
    return {name: len(obj.signatures) for name, obj in _kernels()}


def compiled_here() -> int:
    """Signatures this process compiled because numba's cache did not hold them (its
    dispatchers count cache misses; a signature loaded from the cache is a hit)."""
    return sum(sum(obj.stats.cache_misses.values()) for _, obj in _kernels())


def small_book(book: Book, expiries: int = 4, greeks: str | None = None,
               smile: bool = True) -> Book:
    """A book of the first ``expiries`` live expiries of ``book``'s chain (and the first
    a week or more out), same settings:
    the kernels specialise on argument types, not sizes, so a few hundred contracts warm
    what the whole chain needs, in a fraction of the time."""
    live = np.flatnonzero(book.g.T > 0)
    # the first few, and the first a week or more out (the surface point's reference expiry)
    keep = np.union1d(live[:expiries], live[book.g.T[live] * 365.0 >= 7.0][:1])
    rows = np.flatnonzero(np.isin(book.c.group, keep))
    if len(rows) < 2 * PARALLEL_MIN_UPDATES:  # the parallel quote path needs a block
        rows = np.arange(len(book.c.strike))
    return Book(book.chain.take(np.sort(book.order[rows])), model=book.model,
                multiplier=book.multiplier, rate=book.rate, div_yield=book.div_yield,
                greeks=greeks or book.greeks, now_ns=book.now_ns,
                smile=book.smile and smile)


def warm_up(books: dict[str, Book] | None = None) -> WarmupReport:
    """Drive copies of ``books`` (default: the packaged SPX chain) through every path (see
    the module docstring). One book per distinct chain is enough: kernels specialise on
    argument types, which every book shares."""
    # imported here: the service, the snapshot and the wire formats are what is warmed
    from monitor.books import build_books
    from monitor.config import Settings
    from monitor.core.levels import gex_curve, zero_gamma
    from monitor.core.scenarios import hedge_flow
    from monitor.ingest import Pipeline
    from monitor.paths import packaged_chain
    from monitor.regimes.sizing import advice_for_state
    from monitor.sources.simulator import MarketSimulator, SimConfig
    from monitor.state import build_state
    from monitor.wire.codec import decode, encode
    from monitor.wire.schema import OpenInterest, OptionQuote, VolIndex

    t0 = time.perf_counter()
    settings = Settings()
    if not books:
        books = build_books(settings, [packaged_chain()])
    root, full = next(iter(books.items()))
    book = small_book(full)
    p = Pipeline({root: book}, reeval_ms=0.0)
    s = p.states[root]
    sim = MarketSimulator(book, SimConfig(seed=11, trade_ratio=0.2,
                                          start_ns=max(book.now_ns, s.clock_ns) + 1))
    for t in sim.ticks(50):  # one by one (the per-tick path): quotes, trades, spot moves
        p.apply([t])
    block = sim.ticks(2000)
    quotes = [t for t in block if isinstance(t, OptionQuote)]
    p.apply(block)  # a batch as columns, past the parallel threshold
    for enc, columns in (("json", False), ("json", True), ("binary", False),
                         ("binary", True), ("records", False)):
        payload = encode(sim.ticks(300), enc)  # (records: tick records)
        p.apply(decode(payload, enc, columns=columns).ticks * 2)  # (two: joined)
    p.apply(decode(encode(quotes[:600], "records"), "records").ticks)  # quote records
    sym = book.chain.symbols()[book.order[0]]
    ts = sim.ts_ns
    p.apply([OpenInterest(symbol=sym, oi=12.0, date="2026-01-02"),
             VolIndex(ts_ns=ts, symbol="VIX", value=17.5)])
    p.reevaluate(s)  # (the smile fitted with the book: once is enough to compile it)
    job = p.start_refresh(s)  # the service's background refresh
    p.take_refreshes()
    job.run()
    p.apply(sim.ticks(20))
    p.finish_refresh(job)
    p.final_refresh()
    state, _ = build_state(s.frozen_copy(), [])
    advice_for_state(state, settings, book=s.book)
    hedge_flow(s.book, spot_pct=-2.0, surface="sticky_moneyness")
    zero_gamma(s.book)
    gex_curve(s.book, s.book.spot * np.linspace(0.95, 1.05, 5))  # monitor whatif
    restored = Pipeline({root: small_book(full, smile=False)})
    restored.states[root].restore(s.checkpoint())
    small_book(full, greeks="vendor", smile=False)  # monitor snapshot --greeks vendor
    counts = compiled_signatures()
    return WarmupReport(seconds=time.perf_counter() - t0,
                        kernels=sum(1 for n in counts.values() if n),
                        signatures=sum(counts.values()), cache_dir=str(cache_dir()),
                        compiled=compiled_here())
