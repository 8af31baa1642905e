"""Market simulator: starts from a real chain and moves spot and the volatility surface,
producing quote, trade and underlying ticks (synthetic by construction; only the
starting chain is real).

* Spot follows a scripted path (``spot_path``: ``[(seconds, spot_pct), ...]`` relative to
  the start, linearly interpolated) or, without one, a random walk with the chain's
  at-the-money vol.
* Every implied vol shifts by the scripted ``vol_path`` (``[(seconds, vol_pts), ...]``) or a
  small random walk, on top of the surface rule: ``sticky_strike`` (a strike keeps its
  IV) or ``sticky_moneyness`` (IV is a function of K/S: a strike takes the starting IV of
  the strike at the same moneyness in its expiry).
* Quotes: each option tick picks a contract (weighted toward the money), prices it with
  Black-76 at the current spot, vol and clock, and quotes it with the chain's own spread.
* Trades (``trade_ratio`` of option ticks): at the ask or the bid of the quote in force;
  ``put_selling`` (or a scripted ``put_selling_path``) > 0 tilts put prints to the bid
  (customers selling puts).

The clock is simulated: tick ``k`` has ``ts_ns = start_ns + k / rate`` seconds, so a
session is reproducible for a seed whatever the machine's speed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from monitor.core import status as st
from monitor.core.black76 import price_many
from monitor.core.book import Book
from monitor.wire.schema import OptionQuote, OptionTrade, Tick, UnderlyingTick


@dataclass
class SimConfig:
    rate_ticks_per_s: float = 20000.0
    underlying_every: int = 200  # one underlying tick per this many option ticks
    surface: str = "sticky_strike"  # or sticky_moneyness
    spot_path: list[tuple[float, float]] | None = None  # (seconds, spot %) from the start
    vol_path: list[tuple[float, float]] | None = None  # (seconds, vol points)
    walk_vol_pts_per_sqrt_s: float = 0.02
    trade_ratio: float = 0.05
    put_selling: float = 0.0  # 0..1: share of put prints forced to the bid
    put_selling_path: list[tuple[float, float]] | None = None  # (seconds, put_selling)
    seed: int = 7
    start_ns: int | None = None
    extra: dict = field(default_factory=dict)


def _interp(path, t):
    xs = [p[0] for p in path]
    ys = [p[1] for p in path]
    return float(np.interp(t, xs, ys))


class MarketSimulator:
    """Ticks for one underlying, from ``book``'s chain (see the module docstring)."""

    def __init__(self, book: Book, cfg: SimConfig | None = None):
        self.cfg = cfg or SimConfig()
        self.book = book
        self.rng = np.random.default_rng(self.cfg.seed)
        c, g = book.c, book.g
        live = (c.status == st.OK) & (book.oi > 0)
        self.idx = np.flatnonzero(live)
        if len(self.idx) == 0:
            raise ValueError("the chain has no contract with a usable quote to simulate")
        self.spot0 = book.spot
        self.start_ns = int(self.cfg.start_ns if self.cfg.start_ns is not None else book.now_ns)
        self.symbols = np.array(book.chain.symbols(), dtype=object)[book.order][self.idx]
        self.K = c.strike[self.idx].copy()
        self.is_call = c.is_call[self.idx].copy()
        self.group = c.group[self.idx].copy()
        self.iv0 = c.iv[self.idx].copy()
        self.half_spread = np.maximum(0.5 * (c.ask[self.idx] - c.bid[self.idx]), 0.025)
        self.fwd_ratio = g.fwd[self.group] / book.spot
        self.T0 = g.T[self.group].copy()
        self.rate = book.rate
        # choose contracts near the money more often
        k = np.abs(np.log(self.K / book.spot)) / np.maximum(self.iv0 * np.sqrt(self.T0), 1e-3)
        w = np.exp(-0.5 * np.minimum(k, 30.0) ** 2) + 1e-3
        self.cum_w = np.cumsum(w / w.sum())
        atm = np.argmin(np.abs(self.K / book.spot - 1.0) + 10 * (self.T0 < 7 / 365))
        self.atm_vol = float(self.iv0[atm])
        # sticky-moneyness lookup: per group, strikes and starting IVs sorted by strike
        self._smile = {}
        for j in np.unique(self.group):
            m = self.group == j
            order = np.argsort(self.K[m])
            self._smile[int(j)] = (np.flatnonzero(m), self.K[m][order], self.iv0[m][order])
        self.k = 0
        self.spot = book.spot
        self.vol_shift = 0.0
        self._prices = np.empty(len(self.idx))
        self._sigma = self.iv0.copy()
        self._dirty = True

    @property
    def seconds(self) -> float:
        return self.k / self.cfg.rate_ticks_per_s

    @property
    def ts_ns(self) -> int:
        return self.start_ns + int(round(self.seconds * 1e9))

    def _advance_market(self) -> None:
        t = self.seconds
        cfg = self.cfg
        dt = cfg.underlying_every / cfg.rate_ticks_per_s
        if cfg.spot_path:
            self.spot = self.spot0 * (1.0 + _interp(cfg.spot_path, t) / 100.0)
        else:
            self.spot *= math.exp(self.atm_vol * math.sqrt(dt / (365 * 86400))
                                  * self.rng.standard_normal())
        if cfg.vol_path:
            self.vol_shift = _interp(cfg.vol_path, t) / 100.0
        else:
            self.vol_shift += cfg.walk_vol_pts_per_sqrt_s / 100.0 * math.sqrt(dt) \
                * self.rng.standard_normal()
        self._dirty = True

    def _reprice(self) -> None:
        if cfg_surface_is_moneyness(self.cfg):
            ratio = self.spot0 / self.spot
            for rows, ks, ivs in self._smile.values():
                self._sigma[rows] = np.interp(self.K[rows] * ratio, ks, ivs)
        else:
            self._sigma[:] = self.iv0
        sigma = np.maximum(self._sigma + self.vol_shift, 0.01)
        elapsed = self.seconds / (365 * 86400)
        T = np.maximum(self.T0 - elapsed, 60.0 / (365 * 86400))
        df = np.exp(-self.rate * T)
        price_many(self.spot, self.fwd_ratio, self.K, T, sigma, df, self.is_call, self._prices)
        self._dirty = False

    def _quote(self, j: int) -> tuple[float, float]:
        mid = float(self._prices[j])
        h = float(self.half_spread[j])
        return max(mid - h, 0.0), mid + h

    def ticks(self, n: int) -> list[Tick]:
        """The next ``n`` ticks of the session."""
        out: list[Tick] = []
        cfg = self.cfg
        picks = np.searchsorted(self.cum_w, self.rng.random(n))
        picks = np.minimum(picks, len(self.idx) - 1)
        trades = self.rng.random(n) < cfg.trade_ratio
        sides = self.rng.random(n)
        for m in range(n):
            if self.k % cfg.underlying_every == 0:
                self._advance_market()
                s = float(self.spot)
                out.append(UnderlyingTick(ts_ns=self.ts_ns, root=self.book.underlying,
                                          bid=s - 0.05, ask=s + 0.05, last=s))
            if self._dirty:
                self._reprice()
            j = int(picks[m])
            bid, ask = self._quote(j)
            sym = self.symbols[j]
            if trades[m]:
                selling = (_interp(cfg.put_selling_path, self.seconds)
                           if cfg.put_selling_path else cfg.put_selling)
                p_bid = 0.5 if self.is_call[j] else 0.5 + 0.5 * selling
                at_bid = sides[m] < p_bid
                out.append(OptionTrade(ts_ns=self.ts_ns, symbol=str(sym),
                                       price=bid if at_bid else ask,
                                       size=float(1 + self.rng.integers(0, 50))))
            else:
                out.append(OptionQuote(ts_ns=self.ts_ns, symbol=str(sym), bid=bid, ask=ask,
                                       bid_size=10.0, ask_size=10.0))
            self.k += 1
        return out

    def session(self, seconds: float, batch: int = 1000) -> Iterator[list[Tick]]:
        """Batches of ticks until ``seconds`` of simulated time have passed."""
        total = int(seconds * self.cfg.rate_ticks_per_s)
        while self.k < total:
            yield self.ticks(min(batch, total - self.k))


def interleaved_session(sims: list[MarketSimulator], seconds: float,
                        batch: int = 1000) -> Iterator[list[Tick]]:
    """One session of several underlyings: batches of about ``batch`` ticks, each the
    simulators' next ticks merged in event time (give them one ``start_ns`` and rate, so
    their clocks run together, as one market's would)."""
    per = max(1, batch // max(1, len(sims)))
    gens = [sim.session(seconds, batch=per) for sim in sims]
    while gens:
        parts, alive = [], []
        for g in gens:
            part = next(g, None)
            if part is not None:
                parts.append(part)
                alive.append(g)
        gens = alive
        if parts:
            yield list(heapq.merge(*parts, key=lambda t: t.ts_ns))


def cfg_surface_is_moneyness(cfg: SimConfig) -> bool:
    if cfg.surface not in ("sticky_strike", "sticky_moneyness"):
        raise ValueError(f"surface must be sticky_strike or sticky_moneyness, not {cfg.surface!r}")
    return cfg.surface == "sticky_moneyness"
