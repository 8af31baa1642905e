"""DBN files for the tests, written with ``databento-dbn``'s own record classes (the
vendor's format, byte for byte as its encoder writes it) from a chain.

A chain written here is real where the chain is (a CBOE file: its contracts, quotes and
open interest); the record layout around it (instrument ids, publishers, one statistic
per exchange, ``ts_recv`` times) is synthetic, as the vendor would fill it. Sessions of
quotes and trades made here are synthetic and say so.
"""

from __future__ import annotations

from pathlib import Path

import databento_dbn as dbn
import numpy as np

from monitor.chain.model import Chain
from monitor.chain.occ import parse_occ

SCALE = dbn.FIXED_PRICE_SCALE
#: publishers that send each open interest (OPRA.PILLAR venues: MXOP, MPRL, EMLD)
OI_PUBLISHERS = (37, 31, 23)
CONSOLIDATED = 30  # OPRA.PILLAR's consolidated publisher id (as in the vendor's samples)


def _px(x: float) -> int:
    return dbn.UNDEF_PRICE if not np.isfinite(x) else int(round(float(x) * SCALE))


def osi(symbol: str) -> str:
    """The 21-character OSI form the vendor's ``raw_symbol`` holds."""
    occ = parse_occ(symbol)
    return f"{occ.root:<6}{symbol[len(occ.root):]}"


def metadata(schema=None, start: int = 0, dataset: str = "OPRA.PILLAR") -> bytes:
    return bytes(dbn.Metadata(dataset=dataset, start=start, stype_in=dbn.SType.PARENT,
                              stype_out=dbn.SType.INSTRUMENT_ID, schema=schema).encode())


def definition(iid: int, symbol: str, ts: int, action=dbn.SecurityUpdateAction.ADD,
               strike: float | None = None, is_call: bool | None = None,
               expiration: int | None = None):
    occ = parse_occ(symbol)
    exp = (int(np.datetime64(occ.expiry, "ns").astype(np.int64))  # 00:00 UTC, as the vendor
           if expiration is None else expiration)
    cls = occ.is_call if is_call is None else is_call
    return dbn.InstrumentDefMsg(
        publisher_id=CONSOLIDATED, instrument_id=iid, ts_event=ts, ts_recv=ts,
        min_price_increment=dbn.UNDEF_PRICE, display_factor=dbn.UNDEF_PRICE,
        raw_symbol=osi(symbol), asset=occ.root, security_type="OPT",
        instrument_class=dbn.InstrumentClass.CALL if cls else dbn.InstrumentClass.PUT,
        security_update_action=action, expiration=exp,
        strike_price=_px(occ.strike if strike is None else strike), exchange="OPRA",
        underlying=occ.root, currency="USD", strike_price_currency="USD")


def open_interest(iid: int, qty: int, ts: int, publisher: int):
    return dbn.StatMsg(publisher_id=publisher, instrument_id=iid, ts_event=ts, ts_recv=ts,
                       ts_ref=dbn.UNDEF_TIMESTAMP, price=dbn.UNDEF_PRICE, quantity=int(qty),
                       stat_type=dbn.StatType.OPEN_INTEREST)


def cmbp1(iid: int, ts: int, bid: float, ask: float, bid_sz: int = 10, ask_sz: int = 10):
    return dbn.CMBP1Msg(rtype=dbn.RType.CMBP_1, publisher_id=CONSOLIDATED, instrument_id=iid,
                        ts_event=ts, price=dbn.UNDEF_PRICE, size=0, action=dbn.Action.ADD,
                        side=dbn.Side.NONE, ts_recv=ts,
                        levels=dbn.ConsolidatedBidAskPair(bid_px=_px(bid), ask_px=_px(ask),
                                                          bid_sz=bid_sz, ask_sz=ask_sz))


def cbbo_1s(iid: int, ts: int, bid: float, ask: float):
    return dbn.CBBOMsg(rtype=dbn.RType.CBBO_1S, publisher_id=CONSOLIDATED, instrument_id=iid,
                       ts_event=ts, price=dbn.UNDEF_PRICE, size=0, side=dbn.Side.NONE,
                       ts_recv=ts, levels=dbn.ConsolidatedBidAskPair(
                           bid_px=_px(bid), ask_px=_px(ask), bid_sz=1, ask_sz=1))


def tcbbo(iid: int, ts: int, price: float, size: int, bid: float, ask: float):
    """A trade with the consolidated quote in force (the vendor's TCBBO records share the
    CMBP-1 layout: they decode as ``CMBP1Msg`` with rtype TCBBO and action T)."""
    return dbn.CMBP1Msg(rtype=dbn.RType.TCBBO, publisher_id=CONSOLIDATED, instrument_id=iid,
                        ts_event=ts, price=_px(price), size=size, action=dbn.Action.TRADE,
                        side=dbn.Side.NONE, ts_recv=ts,
                        levels=dbn.ConsolidatedBidAskPair(bid_px=_px(bid), ask_px=_px(ask),
                                                          bid_sz=5, ask_sz=5))


def write(path: Path, records, schema=None, dataset: str = "OPRA.PILLAR") -> Path:
    """``records`` after the metadata, as the vendor's encoder writes them."""
    path = Path(path)
    path.write_bytes(metadata(schema, dataset=dataset) + b"".join(bytes(r) for r in records))
    return path


#: a publisher of an equity or futures dataset (any id: the translator does not read it)
FEED_PUBLISHER = 1


def feed_definition(iid: int, symbol: str, ts: int, cls, expiration: int = dbn.UNDEF_TIMESTAMP,
                    action=dbn.SecurityUpdateAction.ADD):
    """The definition of an underlying's own instrument: a stock (``cls`` STOCK) or a
    futures contract (FUTURE, with its ``expiration``)."""
    return dbn.InstrumentDefMsg(
        publisher_id=FEED_PUBLISHER, instrument_id=iid, ts_event=ts, ts_recv=ts,
        min_price_increment=dbn.UNDEF_PRICE, display_factor=dbn.UNDEF_PRICE,
        raw_symbol=symbol, asset=symbol[:2], instrument_class=cls,
        security_type="FUT" if cls == dbn.InstrumentClass.FUTURE else "STK",
        security_update_action=action, expiration=expiration,
        strike_price=dbn.UNDEF_PRICE, currency="USD")


def mbp1(iid: int, ts: int, bid: float, ask: float, action=dbn.Action.ADD,
         price: float = float("nan"), size: int = 0):
    """One venue's top of book (an equity's or a future's quote; ``action`` T a trade)."""
    return dbn.MBP1Msg(publisher_id=FEED_PUBLISHER, instrument_id=iid, ts_event=ts,
                       price=_px(price), size=size, action=action, side=dbn.Side.NONE,
                       depth=0, ts_recv=ts, levels=dbn.BidAskPair(
                           bid_px=_px(bid), ask_px=_px(ask), bid_sz=1, ask_sz=1))


def chain_records(chain: Chain, ts_ns: int | None = None, first_id: int = 1000) -> list:
    """Definitions, open interest (once per venue of :data:`OI_PUBLISHERS`, the same
    quantity) and one consolidated quote per contract of ``chain`` (a quote only where
    both sides are finite), all at ``ts_ns`` (default: the chain's evaluation clock)."""
    ts = chain.eval_ns if ts_ns is None else ts_ns
    syms = chain.symbols()
    defs, stats, quotes = [], [], []
    for i, sym in enumerate(syms):
        iid = first_id + i
        defs.append(definition(iid, sym, ts - 3_000_000_000))
        for pub in OI_PUBLISHERS:
            stats.append(open_interest(iid, int(chain.oi[i]), ts - 2_000_000_000, pub))
        if np.isfinite(chain.bid[i]) and np.isfinite(chain.ask[i]):
            quotes.append(cmbp1(iid, ts, chain.bid[i], chain.ask[i]))
    return defs + stats + quotes


def session_records(chain: Chain, ticks, first_id: int = 1000) -> list:
    """A synthetic session as OPRA would send it: ``chain_records`` at the session's
    start, then each simulated option tick as its record (a quote as ``cmbp-1``, a trade as
    ``tcbbo`` with the quote in force at it); underlying ticks are left out (OPRA has
    none). Returns the records and nothing else."""
    from monitor.wire.schema import OptionQuote, OptionTrade
    first = min(t.ts_ns for t in ticks)
    recs = chain_records(chain, first - 1, first_id)
    ids = {sym: first_id + i for i, sym in enumerate(chain.symbols())}
    last = {}
    for t in ticks:
        if isinstance(t, OptionQuote):
            iid = ids[t.symbol]
            last[iid] = (t.bid, t.ask)
            recs.append(cmbp1(iid, t.ts_ns, t.bid, t.ask, int(t.bid_size), int(t.ask_size)))
        elif isinstance(t, OptionTrade):
            iid = ids[t.symbol]
            bid, ask = last.get(iid, (float("nan"), float("nan")))
            recs.append(tcbbo(iid, t.ts_ns, t.price, max(1, int(t.size)), bid, ask))
    return recs


def simulated_session(folder: Path, seconds_x400: int = 50) -> tuple[Path, list]:
    """A synthetic session over the packaged real SPX chain (2026-08-21): the simulator's
    ticks (``seconds_x400`` batches of 400, about 0.16 s each at 2,500 ticks/s, trades 10 %)
    written as OPRA records to ``folder/session.dbn``; (the file, the ticks)."""
    from monitor.books import build_books
    from monitor.config import load_settings
    from monitor.sources.simulator import MarketSimulator, SimConfig
    packaged = Path(__file__).parents[1] / "monitor" / "data" / "SPX_2026-08-21.csv.gz"
    book = build_books(load_settings(None), [packaged])["SPX"]
    sim = MarketSimulator(book.copy(), SimConfig(rate_ticks_per_s=2500.0, seed=5,
                                                 trade_ratio=0.1))
    ticks = [t for _ in range(seconds_x400) for t in sim.ticks(400)]
    return write(folder / "session.dbn", session_records(book.chain, ticks)), ticks
