"""The columns path: a batch's quotes, trades and plain underlying ticks screened and
recorded in one kernel pass (:func:`monitor.core.quotes.scan_ticks`), stopping for the
ticks the per-tick rules must take."""

from __future__ import annotations

import numpy as np

from monitor.core import layout as L
from monitor.core.quotes import (
    APPLY,
    DUPLICATE,
    REASONS,
    STALE,
    lookup_symbols,
    scan_ticks,
    trade_sums,
)
from monitor.ingest.pending import chunk, pending_of, tape_chunk
from monitor.ingest.rules import spot_price
from monitor.ingest.state import FEED
from monitor.wire.columns import QUOTE, TRADE, TickColumns
from monitor.wire.schema import UnderlyingTick


class ColumnsScan:
    """The columns path of :class:`monitor.ingest.Pipeline` (a part of it)."""

    def _columns(self, tc: TickColumns, pending: dict) -> int:
        """A batch as columns: its quotes and trades screened, classified and recorded in
        one kernel pass (:func:`monitor.core.quotes.scan_ticks`), exactly as the per-tick
        path would, and its plain underlying ticks applied (:meth:`_spots`). The scan stops
        at each tick that path must take (another kind or outcome, a vote for a clock
        jump, a trade that re-weights the book or opens a tape session): what
        came before it is recorded (quotes waiting in ``pending``, prints waiting for
        their tape, as the per-tick path leaves them), the tick goes to :meth:`_one`, and
        the scan goes on after it."""
        n = len(tc)
        if n == 0:
            return 0
        g = np.empty(n, dtype=np.int64)
        lookup_symbols(tc.symbol, tc.kind, self.index.table, g)
        # the quote in force at each trade where no quote of this batch replaced it: the
        # book's (a book changes during the batch only by the batch's own quotes, which
        # the scan marks as in force); the scan writes the one it classified against here
        book_bid = np.full(n, np.nan)
        book_ask = np.full(n, np.nan)
        tk = np.flatnonzero((tc.kind == TRADE) & (g >= 0))
        if len(tk):
            for s_id, m in self._by_state(g[tk]):
                b = self.state_list[s_id].book
                rows = self.g_row[g[tk[m]]]
                book_bid[tk[m]] = b.c.bid[rows]
                book_ask[tk[m]] = b.c.ask[rows]
        spot_of, spot_px = self._spots(tc)
        self._moved_pending()
        codes = np.zeros(n, dtype=np.int8)
        side = np.zeros(n, dtype=np.int8)
        applied = start = 0
        try:
            while True:
                self._sync_in()
                stop = scan_ticks(tc.kind, tc.ts_ns, tc.x0, tc.x1, g, codes, side, book_bid,
                                  book_ask, spot_of, spot_px, start, self.serial,
                                  self.ts_limit, self.reeval_frac, self.g_state, self.ui,
                                  self.uf, self.ci, self.cf)
                applied += self._sync_out(tc, spot_of, start, stop)
                applied += self._record(tc, g, codes, side, start, stop, pending,
                                        (book_bid, book_ask))
                if stop >= n:
                    return applied
                t = tc.tick(stop)
                self.counts.current = t
                try:
                    applied += self._one(t, pending)
                except Exception as err:  # noqa: BLE001 - as the per-tick loop
                    self._apply_error(t, err)
                self._moved_pending()
                start = stop + 1
        finally:
            self.serial += 1  # this batch's quotes in force are no longer marked

    def _init_scan(self) -> None:
        """The scan's packed state (:mod:`monitor.core.layout`): per contract the highest
        believable price and the quote in force of the batch being scanned (``cf``, ``ci``);
        per underlying ``ui`` and ``uf``: its bounds, whether its trades re-weight the book,
        and (synced around each scan, :meth:`_sync_in`) its event clock, its tape's session
        and what an underlying tick is judged by. The arrays the Python side reads are rows
        of these (views)."""
        st = self.state_list
        self.max_px, self.pend_bid, self.pend_ask = (self.cf[L.C_MAX_PX], self.cf[L.C_PEND_BID],
                                                     self.cf[L.C_PEND_ASK])
        self.max_px[:] = np.concatenate([s.max_px for s in st]) if st else 0.0
        self.pend_bid[:] = self.pend_ask[:] = 0.0
        self.pend_mark = self.ci[L.C_PEND_MARK]
        self.pend_mark[:] = 0
        self.ui = ui = np.zeros((len(L.UI_FIELDS), len(st)), dtype=np.int64)
        self.uf = uf = np.zeros((len(L.UF_FIELDS), len(st)))
        ui[L.U_SKEW] = [s.skew_ns for s in st]
        ui[L.U_PAST] = [s.past_ns for s in st]
        # without a tape every print is inside "its session" (synced per scan otherwise)
        ui[L.U_TAPE_LO], ui[L.U_TAPE_HI] = np.iinfo(np.int64).min, np.iinfo(np.int64).max
        ui[L.U_PY_TRADES] = [s.position_model == "flow" for s in st]
        uf[L.U_MAX_SIZE] = [s.bounds.max_trade_contracts for s in st]
        uf[L.U_SPOT_REF] = uf[L.U_EVAL_SPOT] = 1.0
        uf[L.U_BAND_PCT] = [s.bounds.spot_band_pct for s in st]
        uf[L.U_SPOT_LO] = [s.spot_range[0] for s in st]
        uf[L.U_SPOT_HI] = [s.spot_range[1] for s in st]
        self.clock_a, self.tape_lo, self.tape_hi = ui[L.U_CLOCK], ui[L.U_TAPE_LO], ui[L.U_TAPE_HI]
        self.spot_ts_a, self.due_a, self.spot_n_a = ui[L.U_SPOT_TS], ui[L.U_DUE], ui[L.U_SPOT_N]
        self.spot_ref_a, self.eval_spot_a = uf[L.U_SPOT_REF], uf[L.U_EVAL_SPOT]

    def _moved_pending(self) -> None:
        """Quotes the per-tick path left in force (``pending_quote``) as the scan's quotes
        in force, so a later trade of the batch meets them."""
        for st in self.state_list:
            if st.pending_quote:
                for row, (bid, ask) in st.pending_quote.items():
                    k = st.offset + row
                    self.pend_bid[k], self.pend_ask[k] = bid, ask
                    self.pend_mark[k] = self.serial
                st.pending_quote.clear()

    def _sync_in(self) -> None:
        """The per-underlying inputs of :func:`scan_ticks` that change from the states:
        event clocks, tape sessions and what an underlying tick is judged by."""
        for u, st in enumerate(self.state_list):
            self.clock_a[u] = st.clock_ns
            if self.tape:
                self.tape_lo[u], self.tape_hi[u] = st.tape.from_ns, st.tape.until_ns
            self.spot_ts_a[u] = st.spot_ts_ns
            self.spot_ref_a[u] = st.pending_spot or st.eval_spot
            self.eval_spot_a[u] = st.eval_spot
            self.due_a[u] = st.last_reeval_ns + self.reeval_ns
        self.spot_n_a[:] = 0

    def _sync_out(self, tc: TickColumns, spot_of: np.ndarray, start: int, stop: int) -> int:
        """The states after a scan of rows ``start``..``stop``: event clocks, and what the
        underlying ticks the scan applied changed, as :meth:`_underlying` changes it
        (every underlying row it passed it applied); returns how many it applied."""
        for u, st in enumerate(self.state_list):
            st.clock_ns = int(self.clock_a[u])
        applied = int(self.spot_n_a.sum())
        if applied:
            seg = spot_of[start:stop]
            for u in np.flatnonzero(self.spot_n_a).tolist():
                st = self.state_list[u]
                st.spot_votes.clear()  # (an accepted spot inside the band clears them)
                st.spot_ts_ns = int(self.spot_ts_a[u])
                last = start + int(np.flatnonzero(seg == u)[-1])
                st.spot_source = tc.tick(last).source or FEED
                st.pending_spot = float(self.spot_ref_a[u])
                self.counts.ticks[(st.root, "underlying", "applied")] += int(
                    self.spot_n_a[u])
        return applied

    def _spots(self, tc: TickColumns) -> tuple[np.ndarray, np.ndarray]:
        """Per row of a columns batch: the underlying (state id) of an underlying tick,
        else -1, and the price :meth:`_underlying` takes from it (last, else the
        midpoint), for the scan to apply the plain ones."""
        n = len(tc)
        spot_of = np.full(n, -1, dtype=np.int64)
        spot_px = np.zeros(n)
        for k in np.flatnonzero(tc.kind > TRADE).tolist():
            t = tc.tick(k)
            if type(t) is not UnderlyingTick:
                continue
            s = self._state_of_root(t.root)
            if s is not None:
                spot_of[k] = self.state_ids[s.root]
                spot_px[k] = spot_price(t)
        return spot_of, spot_px

    def _by_state(self, g: np.ndarray):
        """``(state id, positions)`` for each underlying among global contract indices
        ``g`` (positions in arrival order; a slice when they are all of one)."""
        sid = self.g_state[g]
        if len(self.state_list) == 1 or sid[0] == sid[-1] and (sid == sid[0]).all():
            yield int(sid[0]), slice(None)
            return
        # one stable sort instead of a comparison of every position per underlying
        order = np.argsort(sid, kind="stable")
        ranked = sid[order]
        cuts = (np.flatnonzero(ranked[1:] != ranked[:-1]) + 1).tolist()
        for a, b in zip([0, *cuts], [*cuts, len(sid)]):
            yield int(ranked[a]), order[a:b]

    def _record(self, tc: TickColumns, g, codes, side, a: int, b: int, pending,
                in_force: tuple) -> int:
        """Rows ``[a, b)`` of a scanned columns batch, recorded as the per-tick path
        records them: accepted quotes wait in ``pending`` (in order with the per-tick
        ones), classified prints wait for their tape, flow counts are updated, rejections
        counted. ``in_force``: (bids, asks) per row, the quote in force at each trade."""
        if b <= a:
            return 0
        kind, seg = tc.kind[a:b], codes[a:b]
        ok = seg == APPLY
        tk = a + np.flatnonzero(ok & (kind == TRADE))
        qk = a + np.flatnonzero(ok & (kind == QUOTE))
        if len(tk):
            self._record_trades(tc, g, side, tk, in_force)
        if len(qk):
            # gathered once for every underlying, then handed out as slices of one order
            gq = g[qk]
            rows, bid, ask = self.g_row[gq], tc.x0[qk], tc.x1[qk]
            for s_id, m in self._by_state(gq):
                p = pending_of(pending, self.state_list[s_id])
                chunk(p)
                p[4].append((rows[m], bid[m], ask[m]))
        if not ok.all():
            self._count_rejected(tc, g, codes, a + np.flatnonzero(~ok))
        return len(tk) + len(qk)

    def _record_trades(self, tc: TickColumns, g, side, tk: np.ndarray, in_force) -> None:
        """Accepted prints ``tk`` of a columns batch: counts per underlying (one pass over
        all of them, not one per underlying), flow positions, puts sold, tape chunks."""
        n_states = len(self.state_list)
        per, hits, last_ts, puts_bought = trade_sums(
            tk, g, self.g_state, self.g_is_call, side, tc.ts_ns, tc.x1, n_states)
        for u in np.flatnonzero(per).tolist():
            s = self.state_list[u]
            n, n_hit = int(per[u]), int(hits[u])
            s.trades += n
            s.last_trade_ts_ns = max(s.last_trade_ts_ns, int(last_ts[u]))
            s.dirty = True
            self.counts.ticks[(s.root, "trade", "applied")] += n
            s.unclassified += n - n_hit
            s.classified += n_hit
            s.customer_puts_sold -= float(puts_bought[u])
        th = tk[side[tk] != 0]  # the classified prints
        if not len(th):
            return
        gh = g[th]
        sid_h = self.g_state[gh]
        q = side[th] * tc.x1[th]  # customer contracts (+ bought, - sold)
        rows = self.g_row[gh]
        if self.tape:  # the scan kept every one inside the tape's session
            bid, ask = in_force  # (the scan wrote the quote in force at each trade)
            for u, m in self._by_state(gh):
                s = self.state_list[u]
                self._taped[s.root] = s
                tape_chunk(s)
                s.tape_chunks.append((rows[m], q[m], bid[th][m], ask[th][m]))
        flows = [s.flow_pos for s in self.state_list]
        for u, r, d in zip(sid_h.tolist(), rows.tolist(), (-q).tolist()):
            flow = flows[u]
            flow[r] = flow.get(r, 0.0) + d

    def _count_rejected(self, tc: TickColumns, g, codes, rk: np.ndarray) -> None:
        """Rejected rows of a columns batch, counted as the per-tick path counts them
        (stale quotes by underlying, stale and duplicate trades as :meth:`Counts.drop`;
        the rest one by one, with context)."""
        code, kind = codes[rk], tc.kind[rk]
        self._count_stale(g[rk[(code == STALE) & (kind == QUOTE)]])
        for c, outcome in ((STALE, "stale"), (DUPLICATE, "duplicate")):
            dk = rk[(code == c) & (kind == TRADE)]
            for s_id, m in (self._by_state(g[dk]) if len(dk) else ()):
                first = dk[m][0]
                self.counts.drop(self.state_list[s_id].root, "trade", outcome,
                                 f"{tc.name(first)} {tc.x0[first]}x{tc.x1[first]} "
                                 f"ts_ns={tc.ts_ns[first]}", len(dk[m]))
        for k in rk[(code != STALE) & (code != DUPLICATE)].tolist():
            t = tc.tick(k)
            self.counts.current = t
            name = t.symbol
            is_quote = tc.kind[k] == QUOTE
            what = "quote" if is_quote else "trade"
            code = int(codes[k])
            if g[k] < 0:
                self.counts.reject(self._und_of_symbol(name), what, "unknown_symbol", name)
                continue
            s = self.state_list[int(self.g_state[g[k]])]
            reason = REASONS[code]
            if reason in ("future_ts", "past_ts"):
                context = f"{name} ts_ns={t.ts_ns}"
            elif is_quote:
                context = f"{name} bid={t.bid} ask={t.ask}"
            else:
                context = f"{name} {t.price}x{t.size}"
            self.counts.reject(s.root, what, reason, context)
        self.counts.current = None

    def _count_stale(self, g: np.ndarray) -> None:
        """Stale quotes (global contract indices ``g``) counted by underlying, vectorized:
        a redelivered batch after a restart is all stale."""
        if len(g):
            per_state = np.bincount(self.g_state[g], minlength=len(self.state_list))
            for s_id in np.flatnonzero(per_state):
                self.counts.ticks[(self.state_list[s_id].root, "quote", "stale")] += int(
                    per_state[s_id])
