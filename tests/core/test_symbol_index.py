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
