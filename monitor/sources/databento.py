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
* an underlying's own feed (another dataset's records: an equity's, a future's) is read by
  :mod:`monitor.sources.underlying_feed`, counted under these reasons (``feed_*``).
* ``error`` / ``system`` / ``symbol_mapping`` records: counted (``vendor_error``,
  ``vendor_system``, ``symbol_mapping``) and kept in :attr:`DbnTranslator.vendor_messages`
  for the adapter's log lines; heartbeats are counted only.

Tick times are the vendor's ``ts_recv`` (its capture clock: defined on every record and in
order within a file, where ``ts_event`` may be undefined). Prices are fixed-point 1e-9.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable, Iterator
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
from monitor.sources.dbn_columns import (
    BAD_QUOTE,
    CMBP_1,
    COUNTED,
    NO_QUOTE,
    OTHER_UNDERLYING,
    QUOTE_DTYPE,
    QUOTE_RTYPES,
    RECORD_SIZE,
    STOP_DUE,
    TCBBO,
    UNKNOWN,
    QuoteSlots,
)
from monitor.sources.dbn_file import DbnFile, read_dbn
from monitor.wire.columns import TickColumns, objects
from monitor.wire.schema import OpenInterest, OptionTrade

__all__ = ["REASONS", "DbnTranslator", "chain_at_end", "iter_ticks", "quote_runs", "as_quotes",
           "px"]

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


def px(raw: int) -> float:
    """A fixed-point price (1e-9) as a float, NaN for the vendor's undefined price."""
    return float("nan") if raw == UNDEF_PRICE else raw / PRICE_SCALE


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


class DbnTranslator:
    """Records -> ticks, with the instrument map and the counts (:data:`REASONS`).

    ``underlyings``: the underlyings asked for (``None``: all); a definition of another is
    ``other_underlying`` and so are its later records. The consolidated quote records
    (``cmbp-1``, ``tcbbo``, ``cbbo``) take the one rule of
    :mod:`monitor.sources.dbn_columns`, a run at a time (:meth:`quote_run`) or one record
    (:meth:`translate`)."""

    def __init__(self, underlyings: Iterable[str] | None = None, *,
                 collect_errors: bool = False):
        self.wanted = None if underlyings is None else {u.upper() for u in underlyings}
        #: with ``collect_errors``, ``(reason, context)`` of every record counted, until
        #: :meth:`take_errors` (a source's batch errors)
        self._errors: list[tuple[str, str]] | None = [] if collect_errors else None
        self.instruments: dict[int, Instrument] = {}
        #: changes whenever the instrument map (or the set of ignored ids) does (a reader
        #: keeps what it derives from the map until then: monitor.sources.parity_spot)
        self.map_version = 0
        self.ignored: set[int] = set()  # ids of other underlyings' contracts
        self.counts: Counter = Counter()
        self.samples: dict[str, str] = {}  # first context per reason (one log line each)
        self.vendor_messages: list[tuple[str, str]] = []  # (reason, text), for the log
        self.records = 0
        self.last_ts_recv = 0
        self._oi: dict[tuple[int, str], int] = {}
        self.quotes = QuoteSlots()  # the quote in force per id: .get(iid) -> (ts, bid, ask)
        self.open_interest: dict[int, int] = {}  # latest OI per id

    def count(self, reason: str, context: str) -> None:
        """One record that gave no tick, under ``reason`` (:data:`REASONS`)."""
        self.counts[reason] += 1
        self.samples.setdefault(reason, context)
        if self._errors is not None:
            self._errors.append((reason, context))

    def take_errors(self) -> list[tuple[str, str]]:
        out, self._errors = self._errors or [], ([] if self._errors is not None else None)
        return out

    def count_cut(self, name: str, cut_bytes: int) -> None:
        """A file cut inside a record: the bytes left over, counted once."""
        self.count("cut_record", f"{name}: {cut_bytes} bytes after the last whole record")

    # -- records ---------------------------------------------------------------------------
    def translate(self, rec) -> list:
        """The ticks one record means (often none)."""
        if int(rec.rtype) in QUOTE_RTYPES:
            _, cols, _ = self.quote_run(as_quotes([rec]), 0, None)
            return [] if cols is None else objects([cols])
        ts = self.seen(rec)
        if isinstance(rec, dbn.InstrumentDefMsg):
            self._definition(rec)
            return []
        if isinstance(rec, (dbn.ErrorMsg, dbn.SystemMsg, dbn.SymbolMappingMsg)):
            self.vendor(rec)
            return []
        ins = self._instrument(rec)
        if ins is None:
            return []
        if isinstance(rec, dbn.MBP1Msg):
            if rec.action == dbn.Action.TRADE:
                return self._trade(rec, ins, ts)
            self.count("venue_quote", f"{ins.symbol} publisher {rec.publisher_id}")
            return []
        if isinstance(rec, dbn.TradeMsg):
            return self._trade(rec, ins, ts)
        if isinstance(rec, dbn.StatMsg):
            return self._statistic(rec, ins)
        self.count("other_record", f"{type(rec).__name__} for {ins.symbol}")
        return []

    def seen(self, rec) -> int:
        """One more record read; its ``ts_recv`` (the newest kept), returned."""
        self.records += 1
        ts = getattr(rec, "ts_recv", UNDEF_TS)
        if ts != UNDEF_TS:
            self.last_ts_recv = max(self.last_ts_recv, ts)
        return ts

    def translate_all(self, records: Iterable) -> list:
        """The ticks of ``records`` (the vendor's objects), in order; each run of
        consolidated quote records in one :meth:`quote_run`."""
        out: list = []
        for is_quotes, run in quote_runs(records):
            if is_quotes:
                _, cols, _ = self.quote_run(as_quotes(run), 0, None)
                if cols is not None:
                    out += objects([cols])
            else:
                out += self.translate(run[0])
        return out

    def quote_run(self, rec: np.ndarray, start: int, due_at: np.ndarray | None
                  ) -> tuple[int, TickColumns | None, str | None]:
        """The consolidated quote records ``rec[start:]`` (a :data:`QUOTE_DTYPE` array)
        through the rule of :func:`~monitor.sources.dbn_columns.quote_run`, until their end
        or, after a record that gave a row, its underlying's implied spot due
        (``due_at[quotes.und_index[underlying]]`` <= its ``ts_recv``; None: never).
        Returns ``(next record, the rows as columns or None, the underlying whose spot is
        due after the last row, or None)``."""
        q = self.quotes
        if q.lookup_key != self.map_version:
            q.lookup(self.map_version, self.instruments, self.ignored)
        if due_at is None:
            due_at = np.full(max(len(q.und_index), 1), np.iinfo(np.int64).max)
        (nxt, why, kind, ts, slot, x0, x1, x2, x3, counted, reason,
         last) = q.run(rec, start, due_at)
        self.records += nxt - start
        self.last_ts_recv = max(self.last_ts_recv, last)
        for k, code in zip(counted.tolist(), reason.tolist()):
            self.count(COUNTED[code], self._context(rec[k], code))
        due = q.und_names[int(q.und[slot[-1]])] if why == STOP_DUE else None
        if not len(kind):
            return nxt, None, due
        return nxt, TickColumns(kind, ts, q.sym[slot], x0, x1, x2, x3), due

    def _context(self, r, code: int) -> str:
        """What a counted quote record is, as :meth:`count` keeps it."""
        iid, ts = int(r["instrument_id"]), int(r["ts_recv"])
        if code == UNKNOWN:
            name = "CMBP1Msg" if int(r["rtype"]) in (CMBP_1, TCBBO) else "CBBOMsg"
            return f"{name} for instrument id {iid} at ts_recv {ts}"
        if code == OTHER_UNDERLYING:
            return f"instrument id {iid}"
        symbol = self.instruments[iid].symbol
        if code == NO_QUOTE:
            return f"{symbol} at ts_recv {ts}"
        if code == BAD_QUOTE:
            return f"{symbol} bid {px(int(r['bid_px_00']))} ask {px(int(r['ask_px_00']))}"
        return f"{symbol} trade {px(int(r['price']))} x {int(r['size'])}"

    def _instrument(self, rec) -> Instrument | None:
        iid = rec.instrument_id
        ins = self.instruments.get(iid)
        if ins is None:
            if iid in self.ignored:
                self.count("other_underlying", f"instrument id {iid}")
            else:
                self.count("unknown_instrument",
                           f"{type(rec).__name__} for instrument id {iid} at ts_recv "
                           f"{getattr(rec, 'ts_recv', '?')}")
        return ins

    def _definition(self, rec) -> None:
        iid = rec.instrument_id
        action = rec.security_update_action
        if action == dbn.SecurityUpdateAction.DELETE:
            if self.instruments.pop(iid, None) is not None:
                self.count("delisted", f"{rec.raw_symbol.strip()} (id {iid})")
            self.ignored.discard(iid)
            self.map_version += 1
            return
        if rec.instrument_class not in (dbn.InstrumentClass.CALL, dbn.InstrumentClass.PUT):
            self.count("not_an_option", f"{rec.raw_symbol!r}: {rec.instrument_class}")
            return
        try:
            occ = parse_occ(rec.raw_symbol)
        except ValueError as err:
            self.count("bad_symbol", str(err))
            return
        und = underlying_of_root(occ.root)
        if self.wanted is not None and und not in self.wanted:
            if iid not in self.ignored or iid in self.instruments:
                self.ignored.add(iid)
                self.instruments.pop(iid, None)
                self.map_version += 1
            return
        if iid in self.ignored:  # (an id re-defined as a wanted contract)
            self.ignored.discard(iid)
            self.map_version += 1
        strike = px(rec.strike_price)
        exp = rec.expiration
        exp_date = (None if exp == UNDEF_TS
                    else datetime.fromtimestamp(exp // 1_000_000_000, timezone.utc).date())
        if ((rec.instrument_class == dbn.InstrumentClass.CALL) != occ.is_call
                or (strike == strike and abs(strike - occ.strike) > 1e-6)
                or (exp_date is not None and exp_date != occ.expiry)):
            self.count("definition_mismatch",
                       f"{rec.raw_symbol.strip()}: class {rec.instrument_class}, strike "
                       f"{strike}, expiration {exp_date}")
        symbol = rec.raw_symbol.replace(" ", "")
        old = self.instruments.get(iid)
        if old is not None and old.symbol != symbol:
            self.count("definition_update", f"id {iid}: {old.symbol} -> {symbol}")
            self.quotes.forget(iid)
            self.open_interest.pop(iid, None)
        new = Instrument(symbol, occ.root, und, occ.expiry, occ.is_call, occ.strike)
        if new != old:
            self.instruments[iid] = new
            self.quotes.assign(iid, symbol, und)
            self.map_version += 1

    def _trade(self, rec, ins: Instrument, ts: int) -> list:
        price = px(rec.price)
        if not price >= 0 or rec.size <= 0:
            self.count("bad_price", f"{ins.symbol} trade {price} x {rec.size}")
            return []
        return [OptionTrade(ts, ins.symbol, price, float(rec.size))]

    def _statistic(self, rec, ins: Instrument) -> list:
        if rec.stat_type != dbn.StatType.OPEN_INTEREST:
            self.count("other_statistic", f"{ins.symbol}: {rec.stat_type}")
            return []
        ts = rec.ts_ref if rec.ts_ref != UNDEF_TS else rec.ts_recv
        day = _ny_date(ts)
        key = (rec.instrument_id, day)
        seen = self._oi.get(key)
        if seen is not None:
            self.count("open_interest_repeat" if seen == rec.quantity
                        else "open_interest_conflict",
                        f"{ins.symbol} {day}: {rec.quantity} (taken: {seen}, publisher "
                        f"{rec.publisher_id})")
            return []
        self._oi[key] = rec.quantity
        self.open_interest[rec.instrument_id] = rec.quantity
        return [OpenInterest(day, ins.symbol, float(rec.quantity))]

    def vendor(self, rec) -> None:
        """An error, system or symbol-mapping record: counted, kept for the log."""
        if isinstance(rec, dbn.ErrorMsg):
            self.count("vendor_error", rec.err)
            self.vendor_messages.append(("vendor_error", f"{rec.err} (code {rec.code})"))
        elif isinstance(rec, dbn.SystemMsg):
            self.count("vendor_system", rec.msg)
            if rec.msg != "Heartbeat" and rec.code != dbn.SystemCode.HEARTBEAT:
                self.vendor_messages.append(("vendor_system", f"{rec.msg} (code {rec.code})"))
        else:
            self.count("symbol_mapping", f"{rec.stype_in_symbol} -> {rec.stype_out_symbol}")


def quote_runs(records) -> Iterator[tuple[bool, list]]:
    """``records`` (the vendor's objects) in order as ``(True, a run of consecutive
    consolidated quote records)`` and ``(False, [one other record])``."""
    run: list = []
    for rec in records:
        if int(rec.rtype) in QUOTE_RTYPES:
            run.append(rec)
            continue
        if run:
            yield True, run
            run = []
        yield False, [rec]
    if run:
        yield True, run


def as_quotes(records: list) -> np.ndarray:
    """Consolidated quote record objects as a :data:`QUOTE_DTYPE` array (their bytes)."""
    return np.frombuffer(b"".join(bytes(r)[:RECORD_SIZE] for r in records), dtype=QUOTE_DTYPE)


def iter_ticks(f: DbnFile, translator: DbnTranslator) -> Iterator[list]:
    """The ticks of ``f``'s records, in file order, a run at a time (a cut record counted
    at the end)."""
    for is_quotes, a, b in f.runs(0, len(f)):
        if is_quotes:
            _, cols, _ = translator.quote_run(f.quotes(a, b), 0, None)
            if cols is not None:
                yield objects([cols])
        else:
            for rec in f.decode(a, b):
                ticks = translator.translate(rec)
                if ticks:
                    yield ticks
    if f.cut_bytes:
        translator.count_cut(f.path.name, f.cut_bytes)


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
