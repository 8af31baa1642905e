"""The underlying's level where the feed has none: implied by put-call parity of the
nearest expiry, from the consolidated quotes a :class:`~monitor.sources.databento.
DbnTranslator` holds (OPRA carries no value for cash indexes: SPX, NDX, RUT, VIX).

The spot is :func:`monitor.books.spot_from_pairs` (the core's parity forward, ``S = F
exp(-(r - q) T)``, as ``monitor snapshot`` implies it from a chain) for the nearest expiry
settling at least :data:`monitor.books.IMPLIED_MIN_YEARS` out with enough two-sided pairs,
at the configured rate for that tenor (:func:`monitor.core.book.configured_rate`) and the
underlying's dividend yield.

It is computed in the record loop, at most once per ``every_ns`` of event time (the
records' ``ts_recv``), from the quotes in force at that record: a function of the records
alone, never of how they are batched. The ticks it makes are ordinary underlying ticks,
so every rule of the service (refreshes by move and by time, staleness) applies to them.
"""

from __future__ import annotations

import numpy as np

from monitor.books import IMPLIED_MIN_YEARS, spot_from_pairs
from monitor.chain.occ import is_am_settled, settlement_ns
from monitor.core.book import years_left

__all__ = ["ParitySpot"]


class ParitySpot:
    """``underlying``'s implied spot from ``translator``'s quotes. ``rate_at(T)``: the
    configured rate at tenor ``T`` (years); ``div_yield``; ``n_pairs``: the pairs the
    forward's median takes (``pricing.parity_pairs``); ``every_ns``: the event time between
    two computations."""

    def __init__(self, translator, underlying: str, *, rate_at, div_yield: float,
                 n_pairs: int, every_ns: int):
        self.tr = translator
        self.underlying = underlying
        self.rate_at = rate_at
        self.q = float(div_yield)
        self.n_pairs = int(n_pairs)
        self.every_ns = int(every_ns)
        self.last_ns: int | None = None
        self.spot: float | None = None
        self._settle: dict[int, int] = {}
        #: the underlying's contracts by settlement instant, (strike, is_call, id) sorted
        #: (puts first); rebuilt when the translator's instrument map changes
        self._groups: dict[int, list[tuple[float, bool, int]]] = {}
        self._map_version = -1  # the translator's map_version the groups were built at

    def _settle_ns(self, iid: int, ins) -> int:
        s = self._settle.get(iid)
        if s is None:
            s = self._settle[iid] = settlement_ns(ins.expiry, is_am_settled(ins.root, ins.expiry))
        return s

    def _expiries(self) -> dict[int, list[tuple[float, bool, int]]]:
        tr = self.tr
        if tr.map_version != self._map_version:
            groups: dict[int, list] = {}
            for iid, ins in tr.instruments.items():
                if ins.underlying == self.underlying:
                    groups.setdefault(self._settle_ns(iid, ins), []).append(
                        (ins.strike, ins.is_call, iid))
            self._groups = {s: sorted(groups[s]) for s in sorted(groups)}
            self._map_version = tr.map_version
        return self._groups

    def due(self, ts_ns: int) -> bool:
        return self.last_ns is None or ts_ns - self.last_ns >= self.every_ns

    def at(self, ts_ns: int) -> float | None:
        """The implied spot at ``ts_ns`` (None: no expiry has the pairs yet)."""
        self.last_ns = ts_ns
        quotes = self.tr.quotes
        for settle, members in self._expiries().items():
            T = float(years_left(np.array([settle]), ts_ns)[0])
            if T < IMPLIED_MIN_YEARS:
                continue
            rows = [(k, c, q) for k, c, iid in members
                    if (q := quotes.get(iid)) is not None and q[1] > 0.0]
            spot = self._from_rows(rows, T) if rows else None
            if spot is not None:
                self.spot = spot
                return spot
        return None

    def _from_rows(self, rows: list, T: float) -> float | None:
        r = float(self.rate_at(T))
        return spot_from_pairs([x[0] for x in rows], [x[1] for x in rows],
                               [x[2][1] for x in rows], [x[2][2] for x in rows], T, r,
                               self.q, self.n_pairs, ref=self.spot)
