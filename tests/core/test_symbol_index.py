"""The numba symbol table (``monitor.core.symbol_index``) finds every contract of a real
chain by its compact and its padded OCC symbol, and nothing else."""

import numpy as np

from monitor.chain.loaders import load_chain
from monitor.core.symbol_index import SymbolIndex
from tests.data_paths import DATA_DIR

CHAIN = DATA_DIR / "cboe_chain_eod_2026" / "SPX" / "SPX_2026-08-21.csv.gz"


def padded(sym: str) -> str:
    """21-character OCC form: root left-justified in 6 characters."""
    return sym[:-15].ljust(6) + sym[-15:]


def test_every_symbol_of_a_real_chain_finds_its_own_index():
    syms = list(load_chain(CHAIN).symbols())
    assert len(syms) > 20_000 and len(set(syms)) == len(syms)
    index = SymbolIndex(syms)
    expected = np.arange(len(syms))
    assert np.array_equal(index.lookup(np.array(syms, dtype="S21")), expected)
    assert np.array_equal(index.lookup(np.array([padded(s) for s in syms], dtype="S21")),
                          expected)


def test_unknown_symbols_are_minus_one():
    index = SymbolIndex(["SPXW260821C07600000", "SPX260918P05000000"])
    probes = ["SPXW260821C07600000",   # known
              "SPXW260821C07600001",   # last digit differs
              "SPXW260821P07600000",   # put, not call
              "SPX260821C07600000",    # other root, same rest
              "SPXWW260821C07600000",  # longer root
              "",                      # empty
              "SPX  260918P05000000"]  # padded form of the second
    assert list(index.lookup(np.array(probes, dtype="S21"))) == [0, -1, -1, -1, -1, -1, 1]


def test_duplicate_symbols_keep_the_first_index_and_empty_index_finds_nothing():
    index = SymbolIndex(["A260821C00001000", "B260821C00001000", "A260821C00001000"])
    assert list(index.lookup(np.array(["A260821C00001000", "B260821C00001000"],
                                      dtype="S21"))) == [0, 1]
    assert list(SymbolIndex([]).lookup(np.array(["A260821C00001000"], dtype="S21"))) == [-1]


def test_lookup_agrees_with_a_python_dict_of_canonical_symbols():
    """Spaces and NULs anywhere in a probe (not only the padded form's), probes one byte
    away from a key and symbols that differ only in their last word: the table answers
    what a dict keyed on ``symbol.replace(" ", "")`` answers."""
    rng = np.random.default_rng(7)
    keys = [f"R{r:02d}{d:06d}{cp}{k:08d}"[:21] for r in range(3) for d in (260821, 261218)
            for cp in "CP" for k in range(0, 4_000_000, 25_000)]
    keys += [k[:-1] + "9" for k in keys[:50]]  # differ only in the last byte (third word)
    keys = list(dict.fromkeys(keys))
    expected = {k: i for i, k in enumerate(keys)}
    index = SymbolIndex(keys)
    probes = []
    for _ in range(3000):
        s = list(keys[rng.integers(len(keys))])
        if rng.random() < 0.3:  # a byte changed: usually unknown
            j = rng.integers(len(s))
            s[j] = chr(48 + rng.integers(10))
        while len(s) < 21 and rng.random() < 0.5:  # spaces or NULs inserted anywhere
            s.insert(rng.integers(len(s) + 1), " " if rng.random() < 0.5 else "\0")
        probes.append("".join(s))
    got = index.lookup(np.array([p.encode() for p in probes], dtype="S21"))
    want = [expected.get(p.replace(" ", "").replace("\0", ""), -1) for p in probes]
    assert list(got) == want
    assert 0 < sum(w >= 0 for w in want) < len(want)  # both outcomes were probed
