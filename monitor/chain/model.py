"""The canonical in-memory option chain every loader produces.

A :class:`Chain` is a struct of arrays, one row per option contract, plus the
snapshot's metadata. Loaders (``monitor.chain.loaders``) build it from the CBOE
layouts and from the project's own canonical CSV; the numba core
(``monitor.core``) turns it into a :class:`~monitor.core.book.Book`.

Conventions
-----------
* ``spot``: underlying price in index points / dollars per share.
* ``as_of_ns``: the snapshot instant, integer nanoseconds since the Unix epoch, UTC.
* ``clock_ns``: the evaluation clock when it is not ``as_of_ns`` (a file saved after its
  session closed is evaluated at that close: :mod:`monitor.chain.clock`); None = as_of.
* ``settle_ns``: each contract's settlement instant, integer ns UTC
  (16:00 America/New_York on expiry for PM-settled, 09:30 for AM-settled).
* ``is_call``: ``True`` for calls, ``False`` for puts.
* ``bid``/``ask``: option prices per unit of underlying (not times the multiplier);
  ``NaN`` where the file has none.
* ``oi``: open interest in contracts (``>= 0``).
* ``vendor_iv`` (decimal), ``vendor_delta`` (per 1.00 of underlying) and
  ``vendor_gamma`` (per 1 point): the file's own Greeks, ``NaN`` where absent.
* ``rejected``: rows the loader refused, counted by reason (never silently dropped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from monitor.chain.occ import format_occ_many


@dataclass
class Chain:
    underlying: str
    spot: float
    as_of_ns: int
    root: np.ndarray  # str (object), e.g. "SPX" (AM-settled monthly) or "SPXW" (PM-settled)
    expiry: np.ndarray  # datetime64[D]
    settle_ns: np.ndarray  # int64, settlement instant UTC ns
    am_settled: np.ndarray  # bool
    strike: np.ndarray  # float64
    is_call: np.ndarray  # bool
    bid: np.ndarray  # float64
    ask: np.ndarray  # float64
    oi: np.ndarray  # float64
    vendor_iv: np.ndarray  # float64, NaN where absent
    vendor_delta: np.ndarray  # float64, NaN where absent
    vendor_gamma: np.ndarray  # float64, NaN where absent
    layout: str = "canonical"
    source: str = ""
    rejected: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    clock_ns: int | None = None
    # the rows' symbols, made once (the contract fields they come from never change)
    _symbols: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def eval_ns(self) -> int:
        """The instant the chain is evaluated at (UTC ns): ``clock_ns``, else ``as_of_ns``."""
        return int(self.as_of_ns if self.clock_ns is None else self.clock_ns)

    def __len__(self) -> int:
        return int(self.strike.shape[0])

    def __post_init__(self) -> None:
        n = len(self.strike)
        for name in ("root", "expiry", "settle_ns", "am_settled", "is_call", "bid", "ask", "oi",
                     "vendor_iv", "vendor_delta", "vendor_gamma"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Chain.{name} has {len(getattr(self, name))} rows, strike has {n}")

    def symbols(self) -> list[str]:
        """OCC symbols in compact form (``SPXW251219P05800000``), one per row (one list
        made on the first call and shared: do not change it)."""
        if self._symbols is None:
            self._symbols = format_occ_many(self.root, self.expiry, self.is_call, self.strike)
        return self._symbols

    def take(self, idx: np.ndarray) -> "Chain":
        """A new chain with only the rows ``idx`` (a boolean mask or integer index)."""
        kw = {name: getattr(self, name)[idx] for name in ARRAY_FIELDS}
        return Chain(underlying=self.underlying, spot=self.spot, as_of_ns=self.as_of_ns,
                     layout=self.layout, source=self.source, rejected=Counter(self.rejected),
                     notes=list(self.notes), **kw)


ARRAY_FIELDS = ("root", "expiry", "settle_ns", "am_settled", "strike", "is_call", "bid", "ask",
                "oi", "vendor_iv", "vendor_delta", "vendor_gamma")


class ChainError(Exception):
    """A chain file that cannot be used at all (missing, unknown layout, empty, no spot).

    The CLI prints ``str(err)`` as one line and exits non-zero.
    """
