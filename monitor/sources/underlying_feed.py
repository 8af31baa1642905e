"""An underlying's own feed beside OPRA (``databento.underlying_feeds``; docs/databento.md):
the records of another dataset (an equity's, e.g. ``SPY`` in ``EQUS.MINI``; a futures
contract's, e.g. ``ESZ6`` in ``GLBX.MDP3``) as the underlying's spot.

The definition of a configured raw symbol maps its id: a ``STOCK``'s top of book
(``mbp-1``, ``bbo-1s``, ``cmbp-1``) is the spot, a ``FUTURE``'s is carried back over its time
to expiration, ``S = F exp(-(r - q) T)`` (``carry(root, T)``, the configured rate and
dividend yield). Each quote -> :class:`UnderlyingTick` whose ``source`` names it, its
``last`` the midpoint. Its ids are its dataset's own (another dataset's ids may be the
same numbers): a feed's records never pass through OPRA's instrument map. Everything that
gives no spot is counted by the OPRA translator's reasons
(:data:`monitor.sources.databento.REASONS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import databento_dbn as dbn

from monitor.core.book import NS_PER_YEAR
from monitor.sources.databento import UNDEF_TS, DbnTranslator, px
from monitor.wire.schema import UnderlyingTick

__all__ = ["FeedInstrument", "FeedTranslator"]


@dataclass(frozen=True)
class FeedInstrument:
    """An underlying's own instrument: ``expiry_ns`` a future's expiration (its quotes
    carried back to the spot), None for a stock."""

    root: str
    symbol: str
    expiry_ns: int | None

    @property
    def source(self) -> str:
        """What the state's ``spot_source`` says of its spots."""
        if self.expiry_ns is None:
            return f"equity {self.symbol}"
        return f"futures {self.symbol} less carry"


class FeedTranslator:
    """The records of the underlying feeds ``feeds`` (raw symbol -> underlying), counted
    with ``tr``'s counts; ``carry(root, years)``: ``exp(-(r - q) T)``."""

    def __init__(self, tr: DbnTranslator, feeds: dict[str, str],
                 carry: Callable[[str, float], float]):
        self.tr = tr
        self.feeds = {s.strip(): r.upper() for s, r in feeds.items()}
        self.carry = carry
        self.instruments: dict[int, FeedInstrument] = {}
        self.quotes: dict[int, tuple[float, float]] = {}  # the quote in force per id

    def translate(self, rec) -> list:
        """The ticks one record of a feed's dataset means (at most one spot)."""
        tr = self.tr
        ts = tr.seen(rec)
        if isinstance(rec, dbn.InstrumentDefMsg):
            self._definition(rec)
            return []
        if isinstance(rec, (dbn.ErrorMsg, dbn.SystemMsg, dbn.SymbolMappingMsg)):
            tr.vendor(rec)
            return []
        feed = self.instruments.get(rec.instrument_id)
        if feed is None:
            tr.count("unknown_instrument", f"{type(rec).__name__} for instrument id "
                                           f"{rec.instrument_id} at ts_recv {ts}")
            return []
        return self._quote(rec, feed, ts)

    def _definition(self, rec) -> None:
        iid, symbol = rec.instrument_id, rec.raw_symbol.strip()
        cls, exp = rec.instrument_class, rec.expiration
        if rec.security_update_action == dbn.SecurityUpdateAction.DELETE:
            self.instruments.pop(iid, None)
            self.quotes.pop(iid, None)
            return
        if symbol not in self.feeds:
            self.tr.count("not_an_option", f"{rec.raw_symbol!r}: {cls}")
            return
        if cls == dbn.InstrumentClass.STOCK:
            expiry = None
        elif cls == dbn.InstrumentClass.FUTURE and exp != UNDEF_TS:
            expiry = int(exp)
        else:
            self.tr.count("feed_unusable", f"{symbol}: class {cls}, expiration "
                                           f"{'undefined' if exp == UNDEF_TS else exp}")
            self.instruments.pop(iid, None)
            return
        self.instruments[iid] = FeedInstrument(self.feeds[symbol], symbol, expiry)

    def _quote(self, rec, feed: FeedInstrument, ts: int) -> list:
        count = self.tr.count
        if isinstance(rec, dbn.TradeMsg) or (
                isinstance(rec, (dbn.MBP1Msg, dbn.CMBP1Msg)) and rec.action == dbn.Action.TRADE):
            count("feed_trade", f"{feed.symbol} at ts_recv {ts}")
            return []
        if not isinstance(rec, (dbn.MBP1Msg, dbn.BBOMsg, dbn.CBBOMsg, dbn.CMBP1Msg)):
            count("other_record", f"{type(rec).__name__} for {feed.symbol}")
            return []
        level = rec.levels[0]
        bid, ask = px(level.bid_px), px(level.ask_px)
        if bid != bid or ask != ask:
            count("no_quote", f"{feed.symbol} at ts_recv {ts}")
            return []
        if bid < 0 or ask < 0:
            count("bad_price", f"{feed.symbol} bid {bid} ask {ask}")
            return []
        if self.quotes.get(rec.instrument_id) == (bid, ask):
            return []  # the quote in force already
        self.quotes[rec.instrument_id] = (bid, ask)
        if feed.expiry_ns is not None:
            years = (feed.expiry_ns - ts) / NS_PER_YEAR
            if years <= 0.0:
                count("feed_expired", f"{feed.symbol} at ts_recv {ts}")
                return []
            f = self.carry(feed.root, years)
            bid, ask = bid * f, ask * f
        mid = 0.5 * (bid + ask)  # (the tick's last: the spot the pipeline takes)
        return [UnderlyingTick(ts, feed.root, bid, ask, mid, feed.source)]
