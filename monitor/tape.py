"""The hedge-pressure tape: the dealers' hedge trades implied by classified customer option
prints, summed since the session opened (REFERENCE.md, "Hedge pressure").

A customer print of ``q`` contracts (``+q`` customer buy, ``-q`` customer sell, as the flow
model classifies it against the quote in force) changes the dealers' position by ``-q``;
to stay hedged they trade ``+q * M * delta`` units of the underlying at once (``* spot`` in
dollars; + = dealers buy). ``delta`` is the contract's at the quote in force at the print,
under the book's last whole-chain refresh (forwards, clock, smiles, spot) before the print
(``Book.quote_deltas``): refreshes start at event times (``monitor.ingest``), so every
print's value is a function of the ticks alone, the same on every run, after a restart
and after a take-over, however the ticks were batched. Customers buy calls: dealers buy; sell calls: dealers sell; buy
puts (delta < 0): dealers sell; sell puts: dealers buy.

Sums per expiry bucket (``0dte``: expiring on the session's date; ``next``: the first
expiration after it; ``later``) and per calls / puts, in units and dollars (each print at
the spot of its instant). A session is a New York calendar date: the first print of a new
date starts new sums; a print dated before the current session is not added (counted as
``stale``). A classified print whose contract has no delta (its IV did not solve, or it
has settled) is counted as ``no_delta``, not guessed. Unclassified prints stay in the flow
model's own count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

import numpy as np

from monitor.chain.occ import first_expiry_after
from monitor.core.hedges import add_prints

__all__ = ["HedgeTape", "EXPIRY_BUCKETS"]

NY = ZoneInfo("America/New_York")
EXPIRY_BUCKETS = ("0dte", "next", "later")
_SIDES = ("calls", "puts")


@dataclass
class HedgeTape:
    """One underlying's tape (module docstring). :attr:`usd` and :attr:`units` are
    ``[expiry bucket, calls|puts]`` running sums."""

    session: str = ""  # the New York date summed, ISO; "" before the first print
    prints: int = 0  # classified prints in the sums
    no_delta: int = 0  # classified prints of contracts without a delta
    stale: int = 0  # prints dated before the session summed
    # the sums as flat Python lists, slot = bucket * 2 + (0 calls, 1 puts); prints from
    # the trade path arrive in batches (add_many), one numpy pass each
    _usd: list = field(default_factory=lambda: [0.0] * 6)
    _units: list = field(default_factory=lambda: [0.0] * 6)
    from_ns: int = 0  # the session summed: [from_ns, until_ns), UTC ns (New York midnights)
    until_ns: int = 0
    _slot: np.ndarray | None = None  # per book row: its slot this session
    # per book row: the session's classified customer contracts (+ bought), whether or not
    # the contract had a delta: today's prints for the settled-vs-live books
    _contracts: np.ndarray | None = None

    @property
    def usd(self) -> np.ndarray:
        return np.array(self._usd).reshape(len(EXPIRY_BUCKETS), len(_SIDES))

    @property
    def units(self) -> np.ndarray:
        return np.array(self._units).reshape(len(EXPIRY_BUCKETS), len(_SIDES))

    def add(self, book, row: int, customer_contracts: float, ts_ns: int, bid: float,
            ask: float) -> float:
        """Add one classified print of ``customer_contracts`` (+ bought, - sold by the
        customer) on ``book`` row ``row`` at ``ts_ns``, the quote in force ``bid`` /
        ``ask``; returns the dealers' hedge in units of the underlying (0.0 when not
        added)."""
        if ts_ns >= self.until_ns or self._slot is None:
            self._open(book, ts_ns)
        elif ts_ns < self.from_ns:
            self.stale += 1
            return 0.0
        self._contracts[row] += customer_contracts
        delta = float(book.quote_deltas([row], [bid], [ask])[0])
        if not math.isfinite(delta):
            self.no_delta += 1
            return 0.0
        units = customer_contracts * book.multiplier * delta
        k = int(self._slot[row])
        self._units[k] += units
        self._usd[k] += units * book.spot
        self.prints += 1
        return units

    def add_many(self, book, rows, contracts, bid, ask) -> None:
        """:meth:`add` for prints of the current session recorded on the trade path
        (the caller checked each one's time against :attr:`from_ns` / :attr:`until_ns`),
        in one numpy pass, with the refresh of the book in force when they arrived (the
        caller adds them before the book adopts another refresh)."""
        if len(rows) == 0:
            return
        rows = np.asarray(rows, dtype=np.int64)
        by_slot, hedged, no_delta = add_prints(
            rows, np.asarray(contracts, dtype=np.float64), self._contracts,
            book.quote_deltas(rows, bid, ask), self._slot, float(book.multiplier))
        spot = book.spot
        for k, u in enumerate(by_slot.tolist()):
            if u:
                self._units[k] += u
                self._usd[k] += u * spot
        self.prints += hedged
        self.no_delta += no_delta

    def _open(self, book, ts_ns: int) -> None:
        """Start the session of ``ts_ns``'s New York date: zero sums, bucket the expiries."""
        day = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=NY).date()
        start = dt.datetime(day.year, day.month, day.day, tzinfo=NY)
        self.from_ns = int(start.timestamp() * 1e9)
        nxt = start.date() + dt.timedelta(days=1)
        self.until_ns = int(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=NY).timestamp()
                             * 1e9)
        bucket = self.buckets(book.group_expiry, day)[book.c.group]
        self._slot = bucket.astype(np.int64) * 2 + (~book.c.is_call).astype(np.int64)
        if self.session != day.isoformat() or self._contracts is None:
            self._contracts = np.zeros(len(book.c.strike))
        if self.session != day.isoformat():
            self.session = day.isoformat()
            self._usd, self._units = [0.0] * 6, [0.0] * 6
            self.prints = self.no_delta = self.stale = 0

    @staticmethod
    def buckets(group_expiry: np.ndarray, day: dt.date) -> np.ndarray:
        """Per settlement group: 0 = expires on ``day``, 1 = the first expiration after it,
        2 = later (or already expired: such contracts have no delta)."""
        exp = np.asarray(group_expiry).astype("datetime64[D]")
        today = np.datetime64(day, "D")
        nxt = first_expiry_after(exp, today)
        out = np.full(exp.shape, 2, dtype=np.int8)
        if nxt is not None:
            out[exp == nxt] = 1
        out[exp == today] = 0
        return out

    def copy(self) -> HedgeTape:
        """An independent copy (the publish cycle's frozen state)."""
        return replace(self, _usd=list(self._usd), _units=list(self._units),
                       _contracts=None if self._contracts is None else self._contracts.copy())

    def session_contracts(self, book) -> np.ndarray:
        """Customer contracts (+ bought) per book row classified in the session of the
        book's clock (its New York date; zeros before that session's first print)."""
        day = dt.datetime.fromtimestamp(book.now_ns / 1e9, tz=NY).date().isoformat()
        if self._contracts is None or self.session != day:
            return np.zeros(len(book.c.strike))
        return self._contracts

    # -- published ------------------------------------------------------------------------
    def summary(self, adv_shares: float = 0.0) -> dict:
        """The state's ``hedge_pressure_usd``: totals and splits in dollars, the same in
        ``units`` of the underlying, ``pct_adv`` (total units as % of the configured
        average daily volume; None when not configured) and the counts."""
        def split(a: np.ndarray) -> dict:
            return {"total": float(a.sum()),
                    "by_expiry": {e: float(a[i].sum()) for i, e in enumerate(EXPIRY_BUCKETS)},
                    "calls": float(a[:, 0].sum()), "puts": float(a[:, 1].sum())}
        out = split(self.usd)
        out["units"] = split(self.units)
        out["pct_adv"] = (100.0 * float(self.units.sum()) / adv_shares) if adv_shares > 0 else None
        out.update(session=self.session or None, prints=self.prints, no_delta=self.no_delta,
                   stale=self.stale)
        return out

    # -- checkpoint -----------------------------------------------------------------------
    def checkpoint(self) -> dict:
        rows = [] if self._contracts is None else np.flatnonzero(self._contracts)
        return {"session": self.session, "usd": list(self._usd),
                "units": list(self._units), "prints": self.prints,
                "no_delta": self.no_delta, "stale": self.stale,
                "contracts": {str(int(r)): float(self._contracts[r]) for r in rows}}

    def restore(self, cp: dict | None, book) -> None:
        """Continue the sums of a checkpoint (None: start empty)."""
        if not cp:
            return
        self.session = cp.get("session", "")
        self._usd = [float(x) for x in cp["usd"]]
        self._units = [float(x) for x in cp["units"]]
        self.prints, self.no_delta = int(cp["prints"]), int(cp["no_delta"])
        self.stale = int(cp.get("stale", 0))
        if self.session:  # the session's window, without zeroing the sums
            d = dt.date.fromisoformat(self.session)
            noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=NY)
            self._open(book, int(noon.timestamp() * 1e9))
            for r, q in (cp.get("contracts") or {}).items():
                self._contracts[int(r)] = float(q)
