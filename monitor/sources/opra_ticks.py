"""OPRA records to ticks, the file replay's and the live feed's one rule: each record
through :class:`~monitor.sources.databento.DbnTranslator` (a run of consolidated quote
records at a time), and each underlying without a price in the feed (OPRA has none) given
its spot implied from put-call parity (:class:`~monitor.sources.parity_spot.ParitySpot`)
once per :data:`IMPLIED_EVERY_NS` of event time, as underlying ticks whose ``source`` says
so (the state's ``spot_source``: ``implied_parity``); an underlying given a feed of its own
(``databento.underlying_feeds``) takes its spot from that feed's quotes instead
(:mod:`monitor.sources.underlying_feed`, a future's carried back to the spot).

The ticks come as a list in record order: each run of quote records' rows as one
:class:`~monitor.wire.columns.TickColumns`, every other tick as its object."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from monitor.config import Settings
from monitor.core.book import configured_rate
from monitor.sources.databento import DbnTranslator, as_quotes, quote_runs
from monitor.sources.dbn_file import DbnFile
from monitor.sources.parity_spot import ParitySpot
from monitor.sources.underlying_feed import FeedTranslator
from monitor.wire.schema import UnderlyingTick

__all__ = ["OpraTicks", "IMPLIED_EVERY_NS", "IMPLIED_SOURCE"]

#: event time between two implied spots of an underlying
IMPLIED_EVERY_NS = 1_000_000_000
#: what the state says of a spot implied here (``spot_source``)
IMPLIED_SOURCE = "implied_parity"
NEVER, NOW = np.iinfo(np.int64).max, np.iinfo(np.int64).min


class OpraTicks:
    """The ticks of OPRA records (and of the underlying feeds' records) for the
    underlyings ``roots`` (their settings: rates, dividend yields, parity pairs, feeds,
    from ``settings``)."""

    def __init__(self, settings: Settings, roots: Iterable[str]):
        roots = list(roots)
        p = settings.pricing
        rates = tuple(p.rates.items())

        def rate_at(T: float) -> float:
            return float(configured_rate(T, p.rate, rates))

        def carry(root: str, T: float) -> float:
            """exp(-(r - q) T): a future's price back to its underlying's spot."""
            return math.exp(-(rate_at(T) - settings.underlying(root).div_yield) * T)

        self.tr = DbnTranslator(roots, collect_errors=True)
        feeds = {s: r for s, r in settings.databento.feed_symbols().items() if r in roots}
        self.feed = FeedTranslator(self.tr, feeds, carry)
        #: the datasets whose records are an underlying feed's, not OPRA's
        self.feed_datasets = {f.dataset for r, f in settings.databento.underlying_feeds.items()
                              if r.upper() in roots}
        # an underlying with a feed of its own takes its spot from it, never from parity
        self.implied = {
            root: ParitySpot(self.tr, root, rate_at=rate_at,
                             div_yield=settings.underlying(root).div_yield,
                             n_pairs=p.parity_pairs, every_ns=IMPLIED_EVERY_NS)
            for root in roots if root not in feeds.values()}

    # -- the three ways records come in ---------------------------------------------------
    def ticks(self, records) -> list:
        """The ticks of OPRA ``records`` (the vendor's objects), in order (their errors:
        ``self.tr.take_errors()``)."""
        out: list = []
        for is_quotes, run in quote_runs(records):
            if is_quotes:
                self._quotes(as_quotes(run), out)
            else:
                self._other(run[0], out)
        return out

    def file_ticks(self, f: DbnFile, a: int, b: int) -> list:
        """The ticks of OPRA file ``f``'s records ``a``..``b``: each run of quote records
        read as an array over the file's bytes, the others as the vendor's objects."""
        out: list = []
        for is_quotes, x, y in f.runs(a, b):
            if is_quotes:
                self._quotes(f.quotes(x, y), out)
            else:
                for rec in f.decode(x, y):
                    self._other(rec, out)
        return out

    def feed_ticks(self, records) -> list:
        """The ticks of an underlying feed's ``records`` (its dataset's objects)."""
        return [t for rec in records for t in self.feed.translate(rec)]

    # -- the rule ---------------------------------------------------------------------------
    def _quotes(self, arr: np.ndarray, out: list) -> None:
        tr = self.tr
        start = 0
        while start < len(arr):
            start, cols, due = tr.quote_run(arr, start, self._due_at())
            if cols is not None:
                out.append(cols)
            if due is not None:
                self._imply(due, int(cols.ts_ns[-1]), out)

    def _other(self, rec, out: list) -> None:
        ticks = self.tr.translate(rec)
        if not ticks:
            return
        out += ticks
        ins = self.tr.instruments.get(rec.instrument_id)
        if ins is not None:
            ts = ticks[-1].ts_ns if hasattr(ticks[-1], "ts_ns") else self.tr.last_ts_recv
            self._imply(ins.underlying, ts, out)

    def _imply(self, underlying: str, ts: int, out: list) -> None:
        ps = self.implied.get(underlying)
        if ps is not None and ps.due(ts):
            spot = ps.at(ts)
            if spot is not None:
                out.append(UnderlyingTick(ts, ps.underlying, spot, spot, spot, IMPLIED_SOURCE))

    def _due_at(self) -> np.ndarray:
        """Per underlying of the translator's quote slots, the ``ts_recv`` from which its
        implied spot is due (never for one without parity)."""
        names = self.tr.quotes.und_names
        due = np.full(max(len(names), 1), NEVER)
        for i, name in enumerate(names):
            ps = self.implied.get(name)
            if ps is not None:
                due[i] = NOW if ps.last_ns is None else ps.last_ns + ps.every_ns
        return due
