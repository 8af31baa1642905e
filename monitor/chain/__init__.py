"""Option chains: the struct-of-arrays :class:`Chain` and the loaders for the CBOE layouts
(quotedata.csv, end-of-day snapshot, long) and the canonical CSV."""

from monitor.chain.loaders import (
    LAYOUTS,
    load_canonical,
    load_chain,
    load_eod_snapshot,
    load_long,
    load_quotedata,
    write_canonical,
)
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import OccSymbol, format_occ, is_am_settled, parse_occ, settlement_ns

__all__ = [
    "LAYOUTS", "Chain", "ChainError", "OccSymbol", "format_occ", "is_am_settled", "load_canonical",
    "load_chain", "load_eod_snapshot", "load_long", "load_quotedata", "parse_occ", "settlement_ns",
    "write_canonical",
]
