"""Option chains: the struct-of-arrays :class:`Chain` and the loaders for the CBOE layouts
(quotedata.csv, end-of-day snapshot, long) and the canonical CSV.

The loaders (pandas, the exchange calendar) are imported on first use, so code that only
needs :class:`Chain` or :class:`ChainError` (the command line's error handling) stays
light."""

from monitor.chain.model import Chain, ChainError

_LOADERS = ("LAYOUTS", "load_canonical", "load_chain", "load_eod_snapshot", "load_long",
            "load_quotedata", "write_canonical")
_OCC = ("OccSymbol", "format_occ", "is_am_settled", "parse_occ", "settlement_ns")

__all__ = ["Chain", "ChainError", *_LOADERS, *_OCC]


def __getattr__(name: str):
    if name in _LOADERS:
        from monitor.chain import loaders

        return getattr(loaders, name)
    if name in _OCC:
        from monitor.chain import occ

        return getattr(occ, name)
    raise AttributeError(f"module 'monitor.chain' has no attribute {name!r}")
