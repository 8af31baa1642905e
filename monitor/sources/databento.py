"""Databento's OPRA records (``OPRA.PILLAR``) as the monitor's ticks: the vendor's own
record classes from ``databento-dbn``, read as the vendor really fills them
(docs/databento.md).

:class:`DbnTranslator` turns records into wire ticks, one record at a time, and counts
everything it does not turn into a tick under a reason of :data:`REASONS` (never a guess,
never a silent drop). :func:`read_dbn` reads a DBN file (``.dbn`` or ``.dbn.zst``), a cut
last record counted, not raised. :func:`chain_at_end` is the book at the end of a file as a
:class:`~monitor.chain.model.Chain` (``monitor snapshot FILE.dbn``).

How the vendor fills its records, and what is made of them:

* ``definition`` (:class:`InstrumentDefMsg`): the instrument map, instrument id -> OCC
  symbol. The symbol is parsed from ``raw_symbol`` (21-character OSI) as the chain loaders
  parse it; ``instrument_class``, ``strike_price`` and ``expiration`` are only checked
  against it (a disagreement is ``definition_mismatch``, the OSI symbol wins). The
  ``expiration`` field is the expiry *date* at 00:00 UTC and ``contract_multiplier`` is
  undefined: the settlement instant and the multiplier come from the root's rules and the
  configuration, as for chain files. ``MODIFY`` re-maps the id, ``DELETE`` unmaps it
  (later records for it are ``unknown_instrument``).
* ``cmbp-1`` (:class:`CMBP1Msg`), ``cbbo-1s`` / ``cbbo-1m`` (:class:`CBBOMsg`): the
  consolidated top of book -> :class:`OptionQuote`. A one-second record with no quote in
  its second (undefined bid or ask) is ``no_quote``.
* ``tcbbo`` (rtype TCBBO; decoded as :class:`CMBP1Msg`) and ``cmbp-1`` trades: a trade with the
  consolidated quote in force -> that quote, then :class:`OptionTrade`, so the print is
  classified against the quote it met.
* ``trades`` (:class:`TradeMsg`) and trades in ``mbp-1`` / ``tbbo``: -> :class:`OptionTrade`
  alone (their book is one venue's, not the consolidated quote); other ``mbp-1`` records
  (one venue's book) are ``venue_quote``.
* ``statistics`` (:class:`StatMsg`): open interest (``stat_type`` 9) arrives once per
  exchange with the same quantity: taken once per contract and New York date
  (:class:`OpenInterest`), the repeats counted as ``open_interest_repeat`` (a different
  quantity the same day: ``open_interest_conflict``, the first kept). Other statistics are
  ``other_statistic``.
* an **underlying feed** (``underlying_feeds``: a raw symbol of another dataset -> the
  underlying it prices): the definition of that symbol (a ``STOCK``, e.g. ``SPY`` in an
  equity dataset, or a ``FUTURE``, e.g. ``ESZ6`` in ``GLBX.MDP3``) maps its id; its top of
  book (``mbp-1``, ``bbo-1s``, ``cmbp-1``) -> :class:`UnderlyingTick` whose ``source``
  names it, its ``last`` the midpoint. A stock's quote is the spot; a future's is carried back to the spot over its
  time to expiration, ``S = F exp(-(r - q) T)`` (``carry``: the configured rate and
  dividend yield). Its trades are ``feed_trade`` (the spot is the quote's midpoint).
* ``error`` / ``system`` / ``symbol_mapping`` records: counted (``vendor_error``,
  ``vendor_system``, ``symbol_mapping``) and kept in :attr:`DbnTranslator.vendor_messages`
  for the adapter's log lines; heartbeats are counted only.

Tick times are the vendor's ``ts_recv`` (its capture clock: defined on every record and in
order within a file, where ``ts_event`` may be undefined). Prices are fixed-point 1e-9.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

import databento_dbn as dbn
import numpy as np

from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    is_am_settled,
    parse_occ,
    settlement_ns,
    underlying_of_root,
)
from monitor.core.book import NS_PER_YEAR
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick

__all__ = ["REASONS", "DbnTranslator", "read_dbn", "chain_at_end", "DbnFile", "is_dbn"]

NY = ZoneInfo("America/New_York")
PRICE_SCALE = float(dbn.FIXED_PRICE_SCALE)
UNDEF_PRICE = dbn.UNDEF_PRICE
UNDEF_TS = dbn.UNDEF_TIMESTAMP

#: every reason a record yields no tick, declared once (the counts, the log lines and
#: docs/databento.md read it)
REASONS: dict[str, str] = {
    "unknown_instrument": "a record for an instrument id without a definition",
    "other_underlying": "a contract of an underlying not asked for",
    "not_an_option": "a definition of something other than a call or a put (and not an "
                     "underlying feed's instrument)",
    "feed_unusable": "a definition of an underlying feed's symbol that cannot give a spot "
                     "(neither a stock nor a future, or a future without its expiration)",
    "feed_expired": "an underlying feed's futures quote at or after its expiration",
    "feed_trade": "a trade of an underlying feed's instrument (its quote gives the spot)",
    "bad_symbol": "a definition whose raw_symbol is not an OSI option symbol",
    "definition_mismatch": "a definition whose class, strike or expiry disagree with its "
                           "OSI symbol (the symbol is used)",
    "definition_update": "a definition that re-maps an instrument id (MODIFY)",
    "delisted": "a definition that removes an instrument id (DELETE)",
    "no_quote": "a consolidated quote record with no bid or no ask (an empty second)",
    "bad_price": "a price that is negative or not finite",
    "venue_quote": "one venue's book (mbp-1), not the consolidated quote",
    "open_interest_repeat": "open interest already taken for that contract and day "
                            "(sent once per exchange)",
    "open_interest_conflict": "open interest for a contract and day already taken with "
                              "another quantity (the first is kept)",
    "other_statistic": "a statistic other than open interest",
    "vendor_error": "the vendor's error record",
    "vendor_system": "the vendor's system record (heartbeat, acknowledgement, warning)",
    "symbol_mapping": "the vendor's symbol-mapping record",
    "other_record": "a record type the monitor does not read",
    "cut_record": "a file that ends inside a record (the bytes left over)",
}


def _px(raw: int) -> float:
    return float("nan") if raw == UNDEF_PRICE else raw / PRICE_SCALE


def _no_carry_given(root: str, years: float) -> float:
    raise ValueError(f"a futures feed for {root} needs its carry (the translator's carry=)")


def _ny_date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, NY).date().isoformat()


@dataclass
class Instrument:
    symbol: str  # compact OCC
    root: str
    underlying: str
    expiry: date
    is_call: bool
    strike: float


@dataclass(frozen=True)
class FeedInstrument:
    """An underlying's own instrument in another dataset: ``expiry_ns`` a future's
    expiration (its quotes carried back to the spot), None for a stock."""

    root: str
    symbol: str
    expiry_ns: int | None

    @property
    def source(self) -> str:
        """What the state's ``spot_source`` says of its spots."""
        if self.expiry_ns is None:
            return f"equity {self.symbol}"
        return f"futures {self.symbol} less carry"


class DbnTranslator:
    """Records -> ticks, with the instrument map and the counts (:data:`REASONS`).

    ``underlyings``: the underlyings asked for (``None``: all); a definition of another is
    ``other_underlying`` and so are its later records. ``underlying_feeds``: raw symbol ->
    the underlying its quotes price (a stock, or a future carried back with
    ``carry(root, years)``, the factor ``exp(-(r - q) T)``)."""

    def __init__(self, underlyings: Iterable[str] | None = None, *,
                 collect_errors: bool = False,
                 underlying_feeds: dict[str, str] | None = None,
                 carry: Callable[[str, float], float] | None = None):
        self.wanted = None if underlyings is None else {u.upper() for u in underlyings}
        self.feeds = {s.strip(): r.upper() for s, r in (underlying_feeds or {}).items()}
        if self.feeds and carry is None:
            carry = _no_carry_given
        self.carry = carry
        self.feed_instruments: dict[int, FeedInstrument] = {}
        #: with ``collect_errors``, ``(reason, context)`` of every record counted, until
        #: :meth:`take_errors` (a source's batch errors)
        self._errors: list[tuple[str, str]] | None = [] if collect_errors else None
        self.instruments: dict[int, Instrument] = {}
        #: changes whenever the instrument map does (a reader keeps what it derives from the
        #: map until then: monitor.sources.parity_spot)
        self.map_version = 0
        self.ignored: set[int] = set()  # ids of other underlyings' contracts
        self.counts: Counter = Counter()
        self.samples: dict[str, str] = {}  # first context per reason (one log line each)
        self.vendor_messages: list[tuple[str, str]] = []  # (reason, text), for the log
        self.records = 0
        self.last_ts_recv = 0
        self._oi: dict[tuple[int, str], int] = {}
        self.quotes: dict[int, tuple[int, float, float]] = {}  # last quote per id
        self.open_interest: dict[int, int] = {}  # latest OI per id

    def _count(self, reason: str, context: str) -> None:
        self.counts[reason] += 1
        self.samples.setdefault(reason, context)
        if self._errors is not None:
            self._errors.append((reason, context))

    def take_errors(self) -> list[tuple[str, str]]:
        out, self._errors = self._errors or [], ([] if self._errors is not None else None)
        return out

    def count_cut(self, f: "DbnFile") -> None:
        """A file cut inside a record: the bytes left over, counted once."""
        self._count("cut_record", f"{f.path.name}: {f.cut_bytes} bytes after the last "
                                  f"whole record")

    # -- records ---------------------------------------------------------------------------
    def translate(self, rec) -> list:
        """The ticks one record means (often none)."""
        self.records += 1
        ts = getattr(rec, "ts_recv", UNDEF_TS)
        if ts != UNDEF_TS:
            self.last_ts_recv = max(self.last_ts_recv, ts)
        if isinstance(rec, dbn.InstrumentDefMsg):
            self._definition(rec)
            return []
        if isinstance(rec, (dbn.ErrorMsg, dbn.SystemMsg, dbn.SymbolMappingMsg)):
            self._vendor(rec)
            return []
        feed = self.feed_instruments.get(rec.instrument_id)
        if feed is not None:
            return self._feed(rec, feed, ts)
        ins = self._instrument(rec)
        if ins is None:
            return []
        if isinstance(rec, (dbn.CBBOMsg, dbn.CMBP1Msg)):
            # tcbbo records decode as CMBP1Msg with rtype TCBBO; a cmbp-1 trade is action T
            # (the one-second records' price and size are the last trade, not a new one)
            if rec.rtype == dbn.RType.TCBBO or (isinstance(rec, dbn.CMBP1Msg)
                                                and rec.action == dbn.Action.TRADE):
                return self._quote(rec, ins, ts) + self._trade(rec, ins, ts)
            return self._quote(rec, ins, ts)
        if isinstance(rec, dbn.MBP1Msg):
            if rec.action == dbn.Action.TRADE:
                return self._trade(rec, ins, ts)
            self._count("venue_quote", f"{ins.symbol} publisher {rec.publisher_id}")
            return []
        if isinstance(rec, dbn.TradeMsg):
            return self._trade(rec, ins, ts)
        if isinstance(rec, dbn.StatMsg):
            return self._statistic(rec, ins)
        self._count("other_record", f"{type(rec).__name__} for {ins.symbol}")
        return []

    def translate_all(self, records: Iterable) -> list:
        out: list = []
        for rec in records:
            out += self.translate(rec)
        return out

    def _instrument(self, rec) -> Instrument | None:
        iid = rec.instrument_id
        ins = self.instruments.get(iid)
        if ins is None:
            if iid in self.ignored:
                self._count("other_underlying", f"instrument id {iid}")
            else:
                self._count("unknown_instrument",
                            f"{type(rec).__name__} for instrument id {iid} at ts_recv "
                            f"{getattr(rec, 'ts_recv', '?')}")
        return ins

    def _definition(self, rec) -> None:
        iid = rec.instrument_id
        action = rec.security_update_action
        if action == dbn.SecurityUpdateAction.DELETE:
            self.feed_instruments.pop(iid, None)
            if self.instruments.pop(iid, None) is not None:
                self.map_version += 1
                self._count("delisted", f"{rec.raw_symbol.strip()} (id {iid})")
            self.ignored.discard(iid)
            return
        if rec.instrument_class not in (dbn.InstrumentClass.CALL, dbn.InstrumentClass.PUT):
            if rec.raw_symbol.strip() in self.feeds:
                self._feed_definition(rec)
            else:
                self._count("not_an_option", f"{rec.raw_symbol!r}: {rec.instrument_class}")
            return
        try:
            occ = parse_occ(rec.raw_symbol)
        except ValueError as err:
            self._count("bad_symbol", str(err))
            return
        und = underlying_of_root(occ.root)
        if self.wanted is not None and und not in self.wanted:
            self.ignored.add(iid)
            if self.instruments.pop(iid, None) is not None:
                self.map_version += 1
            return
        strike = _px(rec.strike_price)
        exp = rec.expiration
        exp_date = (None if exp == UNDEF_TS
                    else datetime.fromtimestamp(exp // 1_000_000_000, timezone.utc).date())
        if ((rec.instrument_class == dbn.InstrumentClass.CALL) != occ.is_call
                or (strike == strike and abs(strike - occ.strike) > 1e-6)
                or (exp_date is not None and exp_date != occ.expiry)):
            self._count("definition_mismatch",
                        f"{rec.raw_symbol.strip()}: class {rec.instrument_class}, strike "
                        f"{strike}, expiration {exp_date}")
        symbol = rec.raw_symbol.replace(" ", "")
        old = self.instruments.get(iid)
        if old is not None and old.symbol != symbol:
            self._count("definition_update", f"id {iid}: {old.symbol} -> {symbol}")
            self.quotes.pop(iid, None)
            self.open_interest.pop(iid, None)
        new = Instrument(symbol, occ.root, und, occ.expiry, occ.is_call, occ.strike)
        if new != old:
            self.instruments[iid] = new
            self.map_version += 1

    def _feed_definition(self, rec) -> None:
        symbol = rec.raw_symbol.strip()
        cls, exp = rec.instrument_class, rec.expiration
        if cls == dbn.InstrumentClass.STOCK:
            expiry = None
        elif cls == dbn.InstrumentClass.FUTURE and exp != UNDEF_TS:
            expiry = int(exp)
        else:
            self._count("feed_unusable", f"{symbol}: class {cls}, expiration "
                                         f"{'undefined' if exp == UNDEF_TS else exp}")
            self.feed_instruments.pop(rec.instrument_id, None)
            return
        self.feed_instruments[rec.instrument_id] = FeedInstrument(self.feeds[symbol], symbol,
                                                                  expiry)

    def _feed(self, rec, feed: FeedInstrument, ts: int) -> list:
        """An underlying feed's record: its top of book as the underlying's spot."""
        if isinstance(rec, (dbn.TradeMsg,)) or (
                isinstance(rec, (dbn.MBP1Msg, dbn.CMBP1Msg)) and rec.action == dbn.Action.TRADE):
            self._count("feed_trade", f"{feed.symbol} at ts_recv {ts}")
            return []
        if not isinstance(rec, (dbn.MBP1Msg, dbn.BBOMsg, dbn.CBBOMsg, dbn.CMBP1Msg)):
            self._count("other_record", f"{type(rec).__name__} for {feed.symbol}")
            return []
        level = rec.levels[0]
        bid, ask = _px(level.bid_px), _px(level.ask_px)
        if bid != bid or ask != ask:
            self._count("no_quote", f"{feed.symbol} at ts_recv {ts}")
            return []
        if bid < 0 or ask < 0:
            self._count("bad_price", f"{feed.symbol} bid {bid} ask {ask}")
            return []
        if self.quotes.get(rec.instrument_id, (0, None, None))[1:] == (bid, ask):
            return []  # the quote in force already
        self.quotes[rec.instrument_id] = (ts, bid, ask)
        if feed.expiry_ns is not None:
            years = (feed.expiry_ns - ts) / NS_PER_YEAR
            if years <= 0.0:
                self._count("feed_expired", f"{feed.symbol} at ts_recv {ts}")
                return []
            f = self.carry(feed.root, years)
            bid, ask = bid * f, ask * f
        mid = 0.5 * (bid + ask)  # (the tick's last: the spot the pipeline takes)
        return [UnderlyingTick(ts, feed.root, bid, ask, mid, feed.source)]

    def _quote(self, rec, ins: Instrument, ts: int) -> list:
        level = rec.levels[0]
        bid, ask = _px(level.bid_px), _px(level.ask_px)
        if bid != bid or ask != ask:
            self._count("no_quote", f"{ins.symbol} at ts_recv {ts}")
            return []
        if bid < 0 or ask < 0:  # (fixed-point prices: finite unless the sentinel)
            self._count("bad_price", f"{ins.symbol} bid {bid} ask {ask}")
            return []
        if self.quotes.get(rec.instrument_id, (0, None, None))[1:] == (bid, ask):
            return []  # the quote in force already (a trade's, or a repeated second)
        self.quotes[rec.instrument_id] = (ts, bid, ask)
        return [OptionQuote(ts, ins.symbol, bid, ask, float(level.bid_sz), float(level.ask_sz))]

    def _trade(self, rec, ins: Instrument, ts: int) -> list:
        price = _px(rec.price)
        if not price >= 0 or rec.size <= 0:
            self._count("bad_price", f"{ins.symbol} trade {price} x {rec.size}")
            return []
        return [OptionTrade(ts, ins.symbol, price, float(rec.size))]

    def _statistic(self, rec, ins: Instrument) -> list:
        if rec.stat_type != dbn.StatType.OPEN_INTEREST:
            self._count("other_statistic", f"{ins.symbol}: {rec.stat_type}")
            return []
        ts = rec.ts_ref if rec.ts_ref != UNDEF_TS else rec.ts_recv
        day = _ny_date(ts)
        key = (rec.instrument_id, day)
        seen = self._oi.get(key)
        if seen is not None:
            self._count("open_interest_repeat" if seen == rec.quantity
                        else "open_interest_conflict",
                        f"{ins.symbol} {day}: {rec.quantity} (taken: {seen}, publisher "
                        f"{rec.publisher_id})")
            return []
        self._oi[key] = rec.quantity
        self.open_interest[rec.instrument_id] = rec.quantity
        return [OpenInterest(day, ins.symbol, float(rec.quantity))]

    def _vendor(self, rec) -> None:
        if isinstance(rec, dbn.ErrorMsg):
            self._count("vendor_error", rec.err)
            self.vendor_messages.append(("vendor_error", f"{rec.err} (code {rec.code})"))
        elif isinstance(rec, dbn.SystemMsg):
            self._count("vendor_system", rec.msg)
            if rec.msg != "Heartbeat" and rec.code != dbn.SystemCode.HEARTBEAT:
                self.vendor_messages.append(("vendor_system", f"{rec.msg} (code {rec.code})"))
        else:
            self._count("symbol_mapping", f"{rec.stype_in_symbol} -> {rec.stype_out_symbol}")


# -- files -------------------------------------------------------------------------------------
@dataclass
class DbnFile:
    """A decoded DBN file: its metadata, its records, the bytes a cut record left, and the
    sha256 of the file as stored (compressed or not)."""

    path: Path
    metadata: object
    records: list
    cut_bytes: int
    sha256: str


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def is_dbn(path) -> bool:
    """Whether ``path`` is a DBN file by its name (``.dbn``, ``.dbn.zst``) or, for another
    name, by its first bytes (DBN, or a zstd frame beginning with DBN)."""
    p = Path(path)
    if p.name.endswith((".dbn", ".dbn.zst")):
        return True
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
            if head == ZSTD_MAGIC:
                import zstandard

                fh.seek(0)
                head = zstandard.ZstdDecompressor().stream_reader(fh).read(3)
    except (OSError, ValueError):  # (zstandard's errors are ValueErrors)
        return False
    return head[:3] == b"DBN"


def _decompressed(data: bytes, path: Path) -> bytes:
    if data[:4] == ZSTD_MAGIC:
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as r:
            try:
                return r.read()
            except zstandard.ZstdError as err:
                raise ChainError(f"{path}: the zstd stream is damaged ({err})") from None
    return data


def read_dbn(path) -> DbnFile:
    """Decode a whole DBN file (``.dbn`` or zstd-compressed). A file that is not DBN is a
    :class:`ChainError`; a file cut inside a record keeps every whole record before it and
    says how many bytes were left (``cut_bytes``)."""
    p = Path(path)
    if not p.is_file():
        raise ChainError(f"{p}: no such file")
    data = p.read_bytes()
    raw = _decompressed(data, p)
    if raw[:3] != b"DBN":
        raise ChainError(f"{p}: not a DBN file (it does not begin with 'DBN')")
    dec = dbn.DBNDecoder()
    dec.write(raw)
    try:
        out = dec.decode()
    except ValueError as err:
        raise ChainError(f"{p}: not readable as DBN ({err})") from None
    if not out or not isinstance(out[0], dbn.Metadata):
        raise ChainError(f"{p}: a DBN file without its metadata")
    return DbnFile(p, out[0], out[1:], len(dec.buffer()), hashlib.sha256(data).hexdigest())


def iter_ticks(f: DbnFile, translator: DbnTranslator) -> Iterator[list]:
    """The ticks of each record of ``f``, in file order (a cut record counted at the end)."""
    for rec in f.records:
        ticks = translator.translate(rec)
        if ticks:
            yield ticks
    if f.cut_bytes:
        translator.count_cut(f)


def chain_at_end(path, *, underlying: str | None = None, spot: float | None = None
                 ) -> tuple[Chain, DbnTranslator]:
    """The chain at the end of a DBN file: every defined contract of ``underlying`` (or of
    the file's only underlying) with its last consolidated quote and its open interest.
    ``spot``: the underlying's level (OPRA carries none); None leaves it NaN for the caller
    to imply (:func:`monitor.books.implied_spot`)."""
    f = read_dbn(path)
    tr = DbnTranslator(None if underlying is None else [underlying])
    for _ in iter_ticks(f, tr):
        pass
    unds = sorted({i.underlying for i in tr.instruments.values()})
    if not unds:
        raise ChainError(f"{f.path}: no option definitions"
                         + (f" of {underlying}" if underlying else "")
                         + " (a chain needs the 'definition' schema in the file)")
    if len(unds) > 1:
        raise ChainError(f"{f.path}: definitions of {len(unds)} underlyings "
                         f"({', '.join(unds[:8])}); name one with --underlying")
    ids = sorted(tr.instruments, key=lambda i: (tr.instruments[i].expiry,
                                                 tr.instruments[i].strike,
                                                 tr.instruments[i].is_call))
    ins = [tr.instruments[i] for i in ids]
    n = len(ins)
    expiry = np.array([np.datetime64(i.expiry, "D") for i in ins], dtype="datetime64[D]")
    am = np.array([is_am_settled(i.root, i.expiry) for i in ins], dtype=bool)
    nan = np.full(n, np.nan)
    q = [tr.quotes.get(i) for i in ids]
    chain = Chain(
        underlying=unds[0], spot=float("nan") if spot is None else float(spot),
        as_of_ns=int(tr.last_ts_recv),
        root=np.array([i.root for i in ins], dtype=object), expiry=expiry,
        settle_ns=np.array([settlement_ns(i.expiry, a) for i, a in zip(ins, am)],
                           dtype=np.int64),
        am_settled=am, strike=np.array([i.strike for i in ins]),
        is_call=np.array([i.is_call for i in ins], dtype=bool),
        bid=np.array([np.nan if x is None else x[1] for x in q]),
        ask=np.array([np.nan if x is None else x[2] for x in q]),
        oi=np.array([float(tr.open_interest.get(i, 0)) for i in ids]),
        vendor_iv=nan.copy(), vendor_delta=nan.copy(), vendor_gamma=nan.copy(),
        layout="dbn", source=str(f.path))
    chain.rejected.update(tr.counts)
    return chain, tr
