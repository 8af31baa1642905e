"""OPRA records to ticks, the file replay's and the live feed's one rule: each record
through :class:`~monitor.sources.databento.DbnTranslator`, and each underlying without a
price in the feed (OPRA has none) given its spot implied from put-call parity
(:class:`~monitor.sources.parity_spot.ParitySpot`) once per :data:`IMPLIED_EVERY_NS` of
event time, as underlying ticks whose ``source`` says so (the state's ``spot_source``:
``implied_parity``); an underlying given a feed of its own (``databento.underlying_feeds``)
takes its spot from that feed's quotes instead (a future's carried back to the spot)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from monitor.config import Settings
from monitor.core.book import configured_rate
from monitor.sources.databento import DbnTranslator
from monitor.sources.parity_spot import ParitySpot
from monitor.wire.schema import UnderlyingTick

__all__ = ["OpraTicks", "IMPLIED_EVERY_NS", "IMPLIED_SOURCE"]

#: event time between two implied spots of an underlying
IMPLIED_EVERY_NS = 1_000_000_000
#: what the state says of a spot implied here (``spot_source``)
IMPLIED_SOURCE = "implied_parity"


class OpraTicks:
    """The ticks of OPRA records for the underlyings ``roots`` (their settings: rates,
    dividend yields, parity pairs, from ``settings``)."""

    def __init__(self, settings: Settings, roots: Iterable[str]):
        roots = list(roots)
        p = settings.pricing
        rates = tuple(p.rates.items())

        def rate_at(T: float) -> float:
            return float(configured_rate(T, p.rate, rates))

        def carry(root: str, T: float) -> float:
            """exp(-(r - q) T): a future's price back to its underlying's spot."""
            return math.exp(-(rate_at(T) - settings.underlying(root).div_yield) * T)

        feeds = {s: r for s, r in settings.databento.feed_symbols().items() if r in roots}
        self.tr = DbnTranslator(roots, collect_errors=True, underlying_feeds=feeds,
                                carry=carry)
        # an underlying with a feed of its own takes its spot from it, never from parity
        self.implied = {
            root: ParitySpot(self.tr, root, rate_at=rate_at,
                             div_yield=settings.underlying(root).div_yield,
                             n_pairs=p.parity_pairs, every_ns=IMPLIED_EVERY_NS)
            for root in roots if root not in feeds.values()}

    def ticks(self, records) -> list:
        """The ticks of ``records``, in order (their errors: ``self.tr.take_errors()``)."""
        ticks: list = []
        tr, implied = self.tr, self.implied
        for rec in records:
            out = tr.translate(rec)
            if not out:
                continue
            ticks += out
            ts = out[-1].ts_ns if hasattr(out[-1], "ts_ns") else tr.last_ts_recv
            ins = tr.instruments.get(rec.instrument_id)
            ps = implied.get(ins.underlying) if ins is not None else None
            if ps is not None and ps.due(ts):
                spot = ps.at(ts)
                if spot is not None:
                    ticks.append(UnderlyingTick(ts, ps.underlying, spot, spot, spot,
                                                  IMPLIED_SOURCE))
        return ticks
