"""The underlying's level where the feed has none: implied by put-call parity of the
nearest expiry, from the consolidated quotes a :class:`~monitor.sources.databento.
DbnTranslator` holds (OPRA carries no value for cash indexes: SPX, NDX, RUT, VIX).

The forward is the core's own (:func:`monitor.core.forwards.parity_forwards`, the median of
``K + (C - P) / df`` over the pairs nearest the money) for the nearest expiry settling at
least :data:`MIN_YEARS` out with at least :data:`MIN_PAIRS` two-sided pairs; the spot is
``S = F exp(-(r - q) T)`` with the configured rate at that tenor
(:func:`monitor.core.book.configured_rate`) and the underlying's dividend yield.

It is computed in the record loop, at most once per ``every_ns`` of event time (the
records' ``ts_recv``), from the quotes in force at that record: a function of the records
alone, never of how they are batched. The ticks it makes are ordinary underlying ticks,
so every rule of the service (refreshes by move and by time, staleness) applies to them.
"""

from __future__ import annotations

import math

import numpy as np

from monitor.chain.occ import is_am_settled, settlement_ns
from monitor.core.book import years_left
from monitor.core.forwards import parity_forwards

__all__ = ["ParitySpot", "MIN_YEARS", "MIN_PAIRS"]

MIN_YEARS = 1.0 / (365.0 * 24.0)  # an expiry settling within the hour: its forward is noise
MIN_PAIRS = 3


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
        self.expiry = None  # the expiry the last spot came from
        self._settle: dict[int, int] = {}

    def _settle_ns(self, iid: int, ins) -> int:
        s = self._settle.get(iid)
        if s is None:
            s = self._settle[iid] = settlement_ns(ins.expiry, is_am_settled(ins.root, ins.expiry))
        return s

    def due(self, ts_ns: int) -> bool:
        return self.last_ns is None or ts_ns - self.last_ns >= self.every_ns

    def at(self, ts_ns: int) -> float | None:
        """The implied spot at ``ts_ns`` (None: no expiry has the pairs yet)."""
        self.last_ns = ts_ns
        by_settle: dict[int, list] = {}
        for iid, ins in self.tr.instruments.items():
            if ins.underlying != self.underlying:
                continue
            q = self.tr.quotes.get(iid)
            if q is None or not q[1] > 0.0:
                continue
            by_settle.setdefault(self._settle_ns(iid, ins), []).append((ins.strike,
                                                                       ins.is_call, q))
        for settle in sorted(by_settle):
            T = float(years_left(np.array([settle]), ts_ns)[0])
            if T < MIN_YEARS:
                continue
            rows = sorted(by_settle[settle], key=lambda r: (r[0], r[1]))  # puts first
            spot = self._from_rows(rows, T)
            if spot is not None:
                self.spot = spot
                return spot
        return None

    def _from_rows(self, rows: list, T: float) -> float | None:
        strike = np.array([r[0] for r in rows])
        is_call = np.array([r[1] for r in rows], dtype=np.bool_)
        bid = np.array([r[2][1] for r in rows])
        ask = np.array([r[2][2] for r in rows])
        pairs = [(abs((bid[i + 1] + ask[i + 1]) / 2 - (bid[i] + ask[i]) / 2), i)
                 for i in range(len(rows) - 1)
                 if not is_call[i] and is_call[i + 1] and strike[i] == strike[i + 1]]
        if len(pairs) < MIN_PAIRS:
            return None
        ref = self.spot
        if ref is None:  # the pair nearest the money: K + C - P
            i = min(pairs)[1]
            ref = strike[i] + (bid[i + 1] + ask[i + 1] - bid[i] - ask[i]) / 2
        r = float(self.rate_at(T))
        df = np.array([math.exp(-r * T)])
        fwd = np.zeros(1)
        parity_forwards(strike, is_call, np.zeros(len(rows), dtype=np.int64), bid, ask,
                        np.array([T]), df, float(ref), np.array([r]), self.q, self.n_pairs,
                        fwd, np.zeros(1, dtype=np.bool_), np.zeros(1, dtype=np.bool_), False)
        spot = float(fwd[0] * math.exp(-(r - self.q) * T))
        return spot if spot > 0 and math.isfinite(spot) else None
