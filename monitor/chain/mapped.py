"""Another vendor's chain, CSV or Parquet, read through a column mapping from the
configuration (``chain_layouts`` in ``config.yaml``; docs/chain-layouts.md), without code.

A mapping names, for each field the monitor needs, the vendor's column that holds it; a
file whose columns include every column a mapping names (the required fields' at least)
is read through that mapping. The columns are renamed to the long layout's and the rows
read as the long layout reads them (:mod:`monitor.chain.long`): the same expiry formats,
call / put spellings, rejection reasons and settlement rules, so a mapped file can never
be read by a rule of its own.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from monitor.chain.long import _long_from_text
from monitor.chain.model import Chain, ChainError

__all__ = ["ColumnMap", "PARQUET_MAGIC", "columns_of_text", "match", "load_mapped"]

PARQUET_MAGIC = b"PAR1"

#: a mapping's field -> the long layout's column (monitor.chain.long)
LONG_COLUMNS = {"expiration": "Expiration Date", "strike": "Strike", "type": "Type",
                "open_interest": "Open Interest", "spot": "Index Spot", "bid": "Bid",
                "ask": "Ask", "iv": "IV", "delta": "Delta", "gamma": "Gamma"}


@dataclass(config=ConfigDict(extra="forbid"))
class ColumnMap:
    """The vendor's column for each field (``None``: the file has none)."""

    expiration: str = Field(description="expiry date (YYYY-MM-DD, MM/DD/YYYY, ...)")
    strike: str = Field(description="strike, in the underlying's units")
    type: str = Field(description="call / put (C, P, call, put, any case)")
    open_interest: str = Field(description="open interest, contracts")
    spot: str = Field(description="the underlying's price (the most common value is used)")
    bid: str | None = None
    ask: str | None = None
    iv: str | None = Field(None, description="implied volatility")
    iv_scale: float = Field(1.0, gt=0, description="times the IV column gives a decimal "
                            "(0.01 for percent)")
    delta: str | None = None
    gamma: str | None = None
    underlying: str | None = Field(None, description="the root, when the file name does "
                                   "not say it (ROOT_YYYY-MM-DD.csv)")

    def columns(self) -> dict[str, str]:
        """vendor column -> long layout column, for the fields given."""
        return {getattr(self, f): long for f, long in LONG_COLUMNS.items()
                if getattr(self, f) is not None}


def columns_of_text(text: str) -> list[str]:
    """The header of a CSV text (its first non-empty line)."""
    first = next((ln for ln in text.splitlines() if ln.strip(" ,\t")), "")
    return [c.strip().strip('"') for c in first.lstrip("\ufeff").split(",")]


def match(mappings: Mapping[str, ColumnMap] | None, columns: list[str]) -> str | None:
    """The first mapping (in the configuration's order) whose columns the file has."""
    have = set(columns)
    for name, m in (mappings or {}).items():
        if set(m.columns()) <= have:
            return name
    return None


def load_mapped(source: Path, name: str, m: ColumnMap, underlying: str | None, *,
                text: str | None = None) -> Chain:
    """``source`` (a CSV's ``text``, else a Parquet file) read through mapping ``name``."""
    import pandas as pd
    cols = m.columns()
    try:
        if text is None:
            frame = pd.read_parquet(source, columns=list(cols))
        else:
            frame = pd.read_csv(io.StringIO(text), usecols=list(cols), dtype=str,
                                keep_default_na=False, skip_blank_lines=True)
    except (ValueError, KeyError, OSError) as err:  # (pyarrow's errors are ValueErrors)
        raise ChainError(f"cannot read {source} through the column mapping {name!r}: "
                         f"{str(err).splitlines()[0]}") from None
    frame = frame.rename(columns=cols)
    if m.iv is not None and m.iv_scale != 1.0:
        frame["IV"] = pd.to_numeric(frame["IV"], errors="coerce") * m.iv_scale
    chain = _long_from_text(frame.to_csv(index=False), source, underlying or m.underlying)
    chain.notes.append(f"read through the column mapping {name!r} (config.yaml "
                       f"chain_layouts)")
    return chain
