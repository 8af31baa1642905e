"""The per-tick rules, one kind at a time: what makes a quote, a trade, an underlying tick,
an open interest or a volatility index good, and what applying it changes."""

from __future__ import annotations

import math

import numpy as np

from monitor.chain.occ import underlying_of_root
from monitor.core.quotes import classify
from monitor.ingest.pending import pending_of
from monitor.ingest.state import FEED, OTHER, UnderlyingState
from monitor.wire.schema import OpenInterest, OptionQuote, OptionTrade, UnderlyingTick, VolIndex


class TickRules:
    """The per-tick path of :class:`monitor.ingest.Pipeline` (a part of it)."""

    def _one(self, t, pending: dict) -> int:
        """One tick object (1 if applied); good quotes wait in ``pending`` for _flush."""
        cls = type(t)
        if cls is OptionQuote:
            return self._quote(t, pending)
        if cls is UnderlyingTick:
            return self._underlying(t, pending)
        if cls is OpenInterest:
            return self._open_interest(t, pending)
        if cls is OptionTrade:
            return self._trade(t, pending)
        if cls is VolIndex:
            return self._vol_index(t)
        self.counts.reject(OTHER, "unknown", "malformed", repr(t)[:100])
        return 0

    def _quote(self, t: OptionQuote, pending: dict) -> int:
        counts = self.counts
        hit = self._lookup(t.symbol)
        if hit is None:
            counts.reject(self._und_of_symbol(t.symbol), "quote", "unknown_symbol", t.symbol)
            return 0
        s, row = hit
        bid, ask = t.bid, t.ask
        if not (math.isfinite(bid) and math.isfinite(ask)):
            counts.reject(s.root, "quote", "nan", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if bid < 0.0 or ask < 0.0:
            counts.reject(s.root, "quote", "negative_price", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if bid > ask:
            counts.reject(s.root, "quote", "crossed", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if ask > s.max_px[row]:
            counts.reject(s.root, "quote", "absurd_price", f"{t.symbol} bid={bid} ask={ask}")
            return 0
        if not self._ts_ok(s, t.ts_ns, "quote", t.symbol):
            return 0
        if t.ts_ns < s.last_ts[row]:
            counts.ticks[(s.root, "quote", "stale")] += 1
            return 0
        s.last_ts[row] = t.ts_ns
        if t.ts_ns > s.clock_ns:
            s.clock_ns = t.ts_ns
        p = pending_of(pending, s)
        p[1].append(row)
        p[2].append(bid)
        p[3].append(ask)
        s.pending_quote[row] = (bid, ask)
        return 1

    def _underlying(self, t: UnderlyingTick, pending: dict) -> int:
        s = self._state_of_root(t.root)
        if s is None:
            self.counts.reject(OTHER, "underlying", "unknown_symbol", t.root)
            return 0
        price = spot_price(t)
        if not math.isfinite(price):
            self.counts.reject(s.root, "underlying", "nan", f"{t.root} last={t.last}")
            return 0
        if price <= 0.0:
            self.counts.reject(s.root, "underlying", "negative_price", f"{t.root} {price}")
            return 0
        lo, hi = s.spot_range
        if not lo <= price <= hi:  # never believed, however often repeated
            self.counts.reject(s.root, "underlying", "absurd_price",
                               f"{t.root} {price} (believable {lo:g}..{hi:g})")
            return 0
        if not self._ts_ok(s, t.ts_ns, "underlying", t.root):
            return 0
        if t.ts_ns < s.spot_ts_ns:
            self.counts.ticks[(s.root, "underlying", "stale")] += 1
            return 0
        last = s.pending_spot or s.eval_spot
        if abs(price / last - 1.0) * 100.0 > s.bounds.spot_band_pct:
            # one absurd print must not move the book; a real gap is confirmed by the ticks
            # after it agreeing with each other
            votes = s.spot_votes
            if votes and abs(price / votes[-1] - 1.0) * 100.0 > s.bounds.spot_band_pct:
                votes.clear()
            votes.append(price)
            if len(votes) < s.bounds.spot_confirm_ticks:
                self.counts.reject(s.root, "underlying", "spot_unconfirmed",
                                   f"{t.root} {price} (last {last})")
                return 0
        s.spot_votes.clear()
        s.spot_ts_ns = t.ts_ns
        s.spot_source = t.source or FEED
        s.clock_ns = max(s.clock_ns, t.ts_ns)
        s.pending_spot = price
        self.counts.ticks[(s.root, "underlying", "applied")] += 1
        if (abs(price / s.eval_spot - 1.0) >= self.reeval_frac
                or s.clock_ns - s.last_reeval_ns >= self.reeval_ns):
            # the refresh starts from the book as it is now: the quotes before this tick
            # go in first (otherwise they wait for the end of the batch, as the book's
            # spot moves only with a refresh)
            self._flush(pending, s.root)
            self._refresh_due(s)
        return 1

    def _open_interest(self, t: OpenInterest, pending: dict) -> int:
        hit = self._lookup(t.symbol)
        if hit is None:
            self.counts.reject(self._und_of_symbol(t.symbol), "oi", "unknown_symbol", t.symbol)
            return 0
        s, row = hit
        if not math.isfinite(t.oi):
            self.counts.reject(s.root, "oi", "nan", f"{t.symbol} oi={t.oi}")
            return 0
        if t.oi < 0:
            self.counts.reject(s.root, "oi", "negative_price", f"{t.symbol} oi={t.oi}")
            return 0
        if t.oi > s.bounds.max_oi_contracts:
            self.counts.reject(s.root, "oi", "absurd_oi", f"{t.symbol} oi={t.oi}")
            return 0
        s.book.oi[row] = t.oi
        if s.position_model != "positions":  # user positions do not follow open interest
            pending_of(pending, s)[5].append(row)  # re-weighted at the next _flush
        s.oi_date = max(s.oi_date or "", t.date)
        s.dirty = s.stale_eval = True
        self.counts.ticks[(s.root, "oi", "applied")] += 1
        return 1

    def _trade(self, t: OptionTrade, pending: dict) -> int:
        hit = self._lookup(t.symbol)
        if hit is None:
            self.counts.reject(self._und_of_symbol(t.symbol), "trade", "unknown_symbol",
                               t.symbol)
            return 0
        s, row = hit
        if not (math.isfinite(t.price) and math.isfinite(t.size)):
            self.counts.reject(s.root, "trade", "nan", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if t.price < 0 or t.size <= 0:
            self.counts.reject(s.root, "trade", "negative_price", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if t.size > s.bounds.max_trade_contracts:
            self.counts.reject(s.root, "trade", "absurd_size", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if t.price > s.max_px[row]:
            self.counts.reject(s.root, "trade", "absurd_price", f"{t.symbol} {t.price}x{t.size}")
            return 0
        if not self._ts_ok(s, t.ts_ns, "trade", t.symbol):
            return 0
        last_print = s.last_print_ts[row]
        if t.ts_ns <= last_print:  # printed before, or older than the last print
            self.counts.drop(s.root, "trade", "duplicate" if t.ts_ns == last_print
                             else "stale", f"{t.symbol} {t.price}x{t.size} ts_ns={t.ts_ns}")
            return 0
        s.last_print_ts[row] = t.ts_ns
        s.trades += 1
        s.last_trade_ts_ns = max(s.last_trade_ts_ns, t.ts_ns)
        q = s.pending_quote.get(row)
        if q is None and self.pend_mark[s.offset + row] == self.serial:  # a columns batch's
            q = (self.pend_bid[s.offset + row], self.pend_ask[s.offset + row])
        bid, ask = q if q is not None else (s.book.c.bid[row], s.book.c.ask[row])
        last = s.last_trade_px[row]
        side = classify_print(t.price, bid, ask, last if last == last else None)
        s.last_trade_px[row] = t.price
        s.dirty = True  # the flow counts are part of the published state and checkpoint
        self.counts.ticks[(s.root, "trade", "applied")] += 1
        if side == 0:
            s.unclassified += 1
            return 1
        s.classified += 1
        if self.tape:  # (two appends: a tuple per print costs more to unpack later)
            tape = s.tape
            if tape.from_ns <= t.ts_ns < tape.until_ns:  # the session in hand: batched
                if not s.tape_rows:
                    self._taped[s.root] = s
                s.tape_rows.append(row)  # (no chunk yet: a columns batch makes it)
                s.tape_q.append(side * t.size)
                s.tape_bid.append(bid)
                s.tape_ask.append(ask)
            else:  # a new session (or the first print, or a stale one): at once, in order
                self._drain_tapes(s.root)
                if s.refreshing is not None:  # (once a session: wait for it)
                    self._complete(s.refreshing)
                tape.add(s.book, row, side * t.size, t.ts_ns, bid, ask)
        dealer = -side * t.size
        s.flow_pos[row] = s.flow_pos.get(row, 0.0) + dealer
        if not s.book.c.is_call[row]:
            s.customer_puts_sold += dealer  # dealer buys what customers sell
        if s.position_model == "flow":
            self._flush(pending, s.root)
            s.reweight(np.array([row]))
            s.dirty = s.stale_eval = True
        return 1

    def _vol_index(self, t: VolIndex) -> int:
        und = underlying_of_root(t.symbol)
        if not math.isfinite(t.value):
            self.counts.reject(OTHER, "vol_index", "nan", f"{t.symbol}={t.value}")
            return 0
        if t.value <= 0:
            self.counts.reject(OTHER, "vol_index", "negative_price", f"{t.symbol}={t.value}")
            return 0
        if t.value > self.max_vol_index:
            self.counts.reject(OTHER, "vol_index", "absurd_price", f"{t.symbol}={t.value}")
            return 0
        if t.ts_ns > self.ts_limit:
            self.counts.reject(OTHER, "vol_index", "future_ts", f"{t.symbol} ts_ns={t.ts_ns}")
            return 0
        last = self.vol_index.get(t.symbol)
        if last is not None and t.ts_ns < last[0]:
            self.counts.ticks[(OTHER, "vol_index", "stale")] += 1
            return 0
        self.vol_index[t.symbol] = (t.ts_ns, t.value)
        self.counts.ticks[(und if und in self.states else OTHER, "vol_index", "applied")] += 1
        return 1

    def _ts_ok(self, s: UnderlyingState, ts: int, kind: str, what: str) -> bool:
        """``ts`` within the wall-clock limit and within the bounds' skew of ``s``'s event
        clock; a tick beyond the skew (but not beyond the wall clock) votes for a jump of
        the clock (a session opening after a gap), believed once ``clock_jump_confirm``
        such ticks lie within the skew of each other. Rejections counted by reason."""
        if ts > self.ts_limit:
            self.counts.reject(s.root, kind, "future_ts", f"{what} ts_ns={ts}")
            return False
        # confirmed, the clock moves with this tick
        if s.skew_ns and ts > s.clock_ns + s.skew_ns and s.vote_clock_jump(ts) is None:
            self.counts.reject(s.root, kind, "future_ts",
                               f"{what} ts_ns={ts}, {(ts - s.clock_ns) / 1e9:,.0f} s after "
                               f"the event clock")
            return False
        if s.past_ns and ts < s.clock_ns - s.past_ns:
            self.counts.reject(s.root, kind, "past_ts",
                               f"{what} ts_ns={ts}, {(s.clock_ns - ts) / 1e9:,.0f} s before "
                               f"the event clock")
            return False
        return True


def spot_price(t: UnderlyingTick) -> float:
    """The spot an underlying tick gives: its last trade, else its bid/ask midpoint."""
    return t.last if math.isfinite(t.last) and t.last > 0 else 0.5 * (t.bid + t.ask)


def classify_print(price: float, bid: float, ask: float, last_price: float | None) -> int:
    """+1 customer buy, -1 customer sell, 0 unclassified (REFERENCE.md, ``flow`` model):
    at/above the ask buy, at/below the bid sell, inside by the midpoint, at the midpoint
    by the tick rule against the contract's previous print (None: no print yet). The one
    rule is the scan's kernel, :func:`monitor.core.quotes.classify`."""
    return int(classify(float(price), float(bid), float(ask),
                        math.nan if last_price is None else float(last_price)))
