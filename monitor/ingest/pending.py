"""What a batch leaves waiting: its good quotes (per underlying, in arrival order) for one
``Book.update_quotes`` call, the rows whose open interest changed, and the classified
prints for the hedge tape."""

from __future__ import annotations

import numpy as np

from monitor.ingest.state import UnderlyingState


class Pending:
    """Waiting quotes and prints of :class:`monitor.ingest.Pipeline` (a part of it)."""

    def _drain_tapes(self, root: str | None = None) -> None:
        """Add the recorded prints of ``root`` (None: of every underlying) to their tapes,
        each at the quote in force at the print, under the refresh in force: called
        before a refresh starts and at the end of a batch, so every print meets the
        forwards, clock and spot in force when it arrived, as one call per print would (at
        a tenth of the cost). While a background refresh is in flight the prints came
        after it started: they wait for its result (``deferred``)."""
        for r in ([root] if root is not None else list(self._taped)):
            s = self._taped.pop(r, None)
            if s is None:
                continue
            tape_chunk(s)
            if not s.tape_chunks:
                continue
            prints = joined(s.tape_chunks)
            s.tape_chunks.clear()
            if s.refreshing is not None:
                s.deferred.append(prints)
            else:
                s.tape.add_many(s.book, *prints)

    def _flush(self, pending: dict, root: str) -> None:
        """Apply ``root``'s waiting quotes, in arrival order (each print recorded the quote
        in force at it, so the prints may wait for the end of the batch), then re-weight
        the rows whose open interest changed (positions and Greeks are independent
        factors of every exposure: the order of the two updates does not change a sum),
        in one kernel call instead of one per tick (a feed's session opens with an open
        interest for every contract)."""
        p = pending.get(root)
        if p is None or not (p[1] or p[4] or p[5]):
            return
        s, rows, bids, asks, chunks, oi_rows = p
        if oi_rows and not (rows or chunks):
            reweight_oi(s, oi_rows)
            return
        if chunks:  # a columns batch's quotes, maybe with per-tick ones between them
            chunk(p)
            idx, bid, ask = joined(chunks)
            chunks.clear()
        else:
            idx, bid, ask = np.array(rows, dtype=np.int64), np.array(bids), np.array(asks)
            rows.clear()
            bids.clear()
            asks.clear()
        s.pending_quote.clear()
        s.book.update_quotes(idx, bid, ask)
        s.touch(idx)
        self.counts.ticks[(root, "quote", "applied")] += len(idx)
        s.dirty = s.stale_eval = True
        if oi_rows:
            reweight_oi(s, oi_rows)


def tape_chunk(s: UnderlyingState) -> None:
    """Move a state's per-tick prints into its tape chunks (keeping arrival order)."""
    if s.tape_rows:
        s.tape_chunks.append((np.array(s.tape_rows, dtype=np.int64), np.array(s.tape_q),
                              np.array(s.tape_bid), np.array(s.tape_ask)))
        s.tape_rows, s.tape_q, s.tape_bid, s.tape_ask = [], [], [], []


def pending_of(pending: dict, s: UnderlyingState) -> list:
    """``s``'s entry of a batch's waiting quotes: ``[state, rows, bids, asks, chunks,
    oi_rows]`` (per-tick quotes in the lists, a columns batch's as array chunks, the rows
    whose new open interest waits to re-weight their positions; :meth:`_flush`)."""
    p = pending.get(s.root)
    if p is None:
        p = pending[s.root] = [s, [], [], [], [], []]
    return p


def chunk(p: list) -> None:
    """Move a pending entry's per-tick quotes into its chunks (keeping arrival order)."""
    s, rows, bids, asks, chunks, _ = p
    if rows:
        chunks.append((np.array(rows, dtype=np.int64), np.array(bids), np.array(asks)))
        rows.clear()
        bids.clear()
        asks.clear()


def reweight_oi(s: UnderlyingState, oi_rows: list) -> None:
    """Re-weight the rows whose open interest changed (each once), and forget them."""
    s.reweight(np.unique(np.array(oi_rows, dtype=np.int64)))
    oi_rows.clear()


def joined(chunks: list) -> tuple:
    """The columns of ``chunks`` (tuples of arrays, in arrival order) joined; a single
    chunk as it is (the usual case: no copy; its arrays are the batch's own gathers)."""
    if len(chunks) == 1:
        return chunks[0]
    return tuple(np.concatenate(col) for col in zip(*chunks))
