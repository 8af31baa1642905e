"""Start-up (issue 16): the warm-up reaches every kernel the service's paths call, so none
compiles after ``/readyz`` says ready; ``monitor warmup``; the cold-cache note."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.data_paths import DATA_DIR
from tests.data_paths import REPO_ROOT as REPO

VIX = DATA_DIR / "cboe_chain_eod_2026" / "VIX" / "VIX_2026-08-21.csv.gz"

# run in a fresh interpreter: numba's dispatchers start empty there, so the signature
# counts say exactly what the warm-up loaded and what the workload after it needed
WORKLOAD = textwrap.dedent("""
    import json, sys
    import numpy as np
    from monitor.books import build_books
    from monitor.config import Settings
    from monitor.core.levels import gex_curve
    from monitor.core.scenarios import hedge_flow
    from monitor.paths import packaged_chain
    from monitor.ingest import Pipeline
    from monitor.sources.simulator import MarketSimulator, SimConfig, interleaved_session
    from monitor.state import build_state
    from monitor.warmup import compiled_signatures, warm_up
    from monitor.wire.codec import decode, encode
    from monitor.wire.schema import OptionQuote

    books = build_books(Settings(), [packaged_chain(), sys.argv[1]])
    warm_up(books)
    before = compiled_signatures()
    # a different session: two underlyings, other seeds, every encoding, background
    # refreshes, the published state, what-if curves, checkpoints
    p = Pipeline(books, reeval_ms=0.0)
    start = max(s.clock_ns for s in p.states.values()) + 1
    sims = [MarketSimulator(b, SimConfig(seed=90 + i, trade_ratio=0.1, start_ns=start,
                                         rate_ticks_per_s=5000.0))
            for i, b in enumerate(books.values())]
    for k, batch in enumerate(interleaved_session(sims, 2.0, batch=700)):
        # the consumer's decode (straight into columns), the per-object one, both records
        # bodies (quotes only, every kind)
        enc, columns = (("json", True), ("binary", True), ("records", True), ("json", False),
                        ("binary", False), ("records", False))[k % 6]
        if enc == "records" and not columns:
            batch = [t for t in batch if isinstance(t, OptionQuote)]
        p.apply(decode(encode(batch, enc), enc, columns=columns).ticks)
        for job in [p.start_refresh(s) for s in p.states.values() if s.refreshing is None]:
            p.take_refreshes()
            job.run()
            p.finish_refresh(job)
    for s in p.states.values():
        build_state(s.frozen_copy(), [])
        hedge_flow(s.book, spot_pct=3.0, vol_pts=-2.0, days=1.0, surface="sticky_moneyness")
        gex_curve(s.book, s.book.spot * np.linspace(0.9, 1.1, 9))
        q = Pipeline({s.root: s.book.copy()})
        q.states[s.root].restore(s.checkpoint())
    after = compiled_signatures()
    print(json.dumps({"before": before, "after": after}))
""")


def test_nothing_compiles_after_the_warm_up():
    out = subprocess.run([sys.executable, "-c", WORKLOAD, str(VIX)], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    before, after = res["before"], res["after"]
    late = {k: (before.get(k, 0), n) for k, n in after.items() if n > before.get(k, 0)}
    assert not late, f"compiled after the warm-up: {late}"
    # the warm-up did reach the hot paths (loaded or compiled a signature for each)
    for k in ("monitor.core.kernels.apply_quotes", "monitor.core.kernels.whole_chain",
              "monitor.core.levels._scan_recurrence", "monitor.core.scenarios._share_delta_change",
              "monitor.core.quotes.scan_ticks", "monitor.wire.json_columns.parse_ticks",
              "monitor.wire.msgpack_columns.parse_ticks"):
        assert before.get(k, 0) >= 1, k


def run_monitor(*args, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("DEALERFLOW_")}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True,
                          text=True, timeout=900, env=e)


def test_monitor_warmup_then_already_cached():
    first = run_monitor("warmup")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "kernels ready:" in first.stdout
    again = run_monitor("warmup")
    assert again.returncode == 0 and "already cached" in again.stdout
    assert "compiling" not in again.stderr


FIRST_COMPILE = textwrap.dedent("""
    import sys
    from monitor.warmup import on_first_compile
    on_first_compile(lambda: print("COMPILING", flush=True))
    if sys.argv[1] == "price":
        from monitor.core.black76 import price
        price(100.0, 95.0, 0.25, 0.2, 1.0, True)
    else:
        from monitor.core.smile_fit import _box_lsq3
        import numpy as np
        k = np.linspace(-0.1, 0.1, 9)
        _box_lsq3(k, 0.04 + k * k, np.ones(9), 0.0, 0.1)
""")


def test_the_compiling_note_follows_numba_s_per_function_cache(tmp_path):
    """One kernel cached by an earlier process (its .nbi files in the cache, as another
    install leaves them) does not make the cache warm: the note comes from numba's own
    compile event, so it is said when, and only when, a kernel is compiled here."""
    cache = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run(which):
        out = subprocess.run([sys.executable, "-c", FIRST_COMPILE, which], capture_output=True,
                             text=True, timeout=600, env={**os.environ, **cache})
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.count("COMPILING")

    assert run("price") == 1  # a fresh cache: compiled, said once
    assert list((tmp_path / "cache").rglob("*.nbi"))  # the cache now holds files
    assert run("price") == 0  # loaded from the cache: nothing said
    assert run("fit") == 1  # another kernel, not in the cache: said, files or not
    # a command that fails before computing anything compiles nothing and says nothing
    cold = run_monitor("snapshot", str(tmp_path / "missing.csv"),
                       NUMBA_CACHE_DIR=str(tmp_path / "empty-cache"))
    assert cold.returncode == 2 and "compiling numerical kernels" not in cold.stderr
    assert cold.stderr.strip().splitlines()[-1].startswith("monitor: error:")


COUNT_COMPILES = textwrap.dedent("""
    import numpy as np
    from monitor.core.symbol_index import SymbolIndex
    from monitor.warmup import compiled_here
    SymbolIndex(["SPXW260821C07600000"]).lookup(np.array([b"SPXW260821C07600000"]))
    print(compiled_here())
""")


def test_compiled_here_counts_what_the_cache_did_not_hold(tmp_path):
    """``kernels_ready`` reports the signatures compiled in this process: on an empty
    cache the symbol table's two kernels compile; in a second process they load."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    counts = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", COUNT_COMPILES], capture_output=True,
                             text=True, timeout=600, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        counts.append(int(out.stdout.strip().splitlines()[-1]))
    assert counts == [2, 0]


PROBE = textwrap.dedent("""
    from monitor.core.jit import kernel
    from monitor.core.smile import two_sided  # an inlined helper of another module

    @kernel
    def probe(b, a):
        return two_sided(b, a)

    print(probe(1.0, 1.5), sum(probe.stats.cache_misses.values()))
""")


def test_a_changed_inlined_helper_recompiles_even_under_numba_cache_dir(tmp_path):
    """numba keys a cached kernel on its own file only: the probe's file never changes,
    the helper it inlines (monitor/core/smile.py) does. With NUMBA_CACHE_DIR set (as the
    Dockerfile and the systemd unit set it), the cache folder is still keyed by the core's
    sources, so the next run compiles the new helper instead of loading the old code."""
    import shutil

    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "monitor", pkg / "monitor",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copytree(REPO / "monitor" / "data", pkg / "monitor" / "data")
    (pkg / "probe.py").write_text(PROBE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(pkg)}

    def run() -> tuple[str, int]:
        out = subprocess.run([sys.executable, "probe.py"], cwd=pkg, capture_output=True,
                             text=True, timeout=300, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        value, misses = out.stdout.split()
        return value, int(misses)

    # spread 0.5 <= WIDE_SPREAD 0.5 x mid 1.25: a sane two-sided quote
    assert run() == ("True", 1)   # compiled
    assert run() == ("True", 0)   # loaded from the cache
    smile = pkg / "monitor" / "core" / "smile.py"
    text = smile.read_text()
    assert "WIDE_SPREAD = 0.5\n" in text
    smile.write_text(text.replace("WIDE_SPREAD = 0.5\n", "WIDE_SPREAD = 0.05\n"))
    assert run() == ("False", 1)  # 0.5 > 0.05 x 1.25: the new rule, compiled anew
    folders = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(folders) == 2  # one per version of the core's sources, under NUMBA_CACHE_DIR
