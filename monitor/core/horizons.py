"""Structure forward in time: the book as it stands, revalued at later clocks.

At a horizon clock ``t`` every contract keeps its IV and spot is held (sticky strike);
only time passes. A settlement group then has ``T' = (settle - t)`` years left (the 0DTE
floor of :mod:`monitor.core.book` applies; ``T' <= 0``: it has settled and drops out of
the gamma), its forward keeps its carry per year and its discount factor its rate::

    F' = S (F / S) ** (T' / T),    df' = df ** (T' / T)

From those, per horizon: total GEX (USD per 1 % spot move), the per-strike GEX of calls
and of puts, the walls (their largest ``|GEX|`` strikes, as :func:`levels.walls`) and
zero gamma (the same scan and bisection as :func:`levels.zero_gamma`, on the terms at
``t``). At ``t = now`` every figure equals the book's own.

Charm to the close: the dealers' hedge trade forced by time passing alone from now to
``t``, full revaluation (REFERENCE.md's ``-(D' - D)`` at a fixed spot)::

    charm_shares = -sum_i n_i M (delta_i(t) - delta_i(now)),   charm_usd = charm_shares * S

with every contract that settles by ``t`` at its exercise delta (1/0 for a call, -1/0
for a put, at today's spot). + = dealers buy.

Pure: numpy and the numba kernels of :mod:`monitor.core.levels` and
:mod:`monitor.core.scenarios`; the clocks themselves come from the caller
(:func:`monitor.chain.clock.horizon_clocks`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitor.core.book import years_left
from monitor.core.exposures import BY_KEY
from monitor.core.layout import CALLS, PUTS
from monitor.core.levels import gamma_rows, walls_of, zero_gamma_of
from monitor.core.scenarios import share_delta_change
from monitor.fmt import iso_utc

_GEX_SCALE = BY_KEY["gex_usd_per_pct"].scale
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Forward:
    """The book's structure at one horizon (see the module docstring)."""

    horizon: str  # "+1h", "close", "next_open", "after_next_expiry"
    ts_ns: int  # the horizon clock, UTC ns
    zero_gamma: float | None  # index points; None: no sign change within spot -20..+20 %
    gex_usd_per_pct: float
    call_wall: float | None
    put_wall: float | None
    contracts_live: int  # contracts still contributing at the horizon
    by_strike: np.ndarray  # [n_strikes, 2] GEX of calls / puts, USD per 1 %

    def as_dict(self) -> dict:
        """The JSON form (without the per-strike array)."""
        return {"horizon": self.horizon, "ts": iso_utc(self.ts_ns), "ts_ns": self.ts_ns,
                "zero_gamma": self.zero_gamma, "gex_usd_per_pct": self.gex_usd_per_pct,
                "call_wall": self.call_wall, "put_wall": self.put_wall,
                "contracts_live": self.contracts_live}


def groups_at(book, ts_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T', F', df') per settlement group at clock ``ts_ns`` (see the module docstring;
    ``ts_ns`` before the book's clock counts as now)."""
    T1 = years_left(book.group_settle_ns, max(int(ts_ns), book.now_ns))
    T0 = book.g.T
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(T0 > 0, T1 / T0, 0.0)
    fwd = book.spot * (book.g.fwd / book.spot) ** ratio
    df = book.g.df ** ratio
    return T1, fwd, df


def forward_at(book, horizon: str, ts_ns: int) -> Forward:
    """The structure of ``book`` at clock ``ts_ns`` (UTC ns), spot and IVs held."""
    groups = groups_at(book, ts_ns)
    rows, w, d1, inv_s = gamma_rows(book, groups)
    # GEX_i = 0.01 S w_i phi(d1_i) (monitor.core.levels): no extra Greek evaluation needed
    gex = _GEX_SCALE * book.spot * w * np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
    c = book.c
    slot = c.strike_idx[rows].astype(np.int64) * 2 + np.where(c.is_call[rows], CALLS, PUTS)
    by_strike = np.bincount(slot, weights=gex, minlength=2 * len(book.strikes)).reshape(-1, 2)
    call_wall, put_wall = walls_of(by_strike, book.strikes, book.spot)
    return Forward(horizon, int(ts_ns), zero_gamma_of(book.spot, w, d1, inv_s),
                   float(gex.sum()), call_wall, put_wall, int(len(rows)), by_strike)


def forward_levels(book, clocks: list[tuple[str, int]]) -> list[Forward]:
    """:func:`forward_at` for each ``(horizon, ts_ns)`` of ``clocks``."""
    return [forward_at(book, name, ts) for name, ts in clocks]


def charm_to(book, ts_ns: int) -> tuple[float, float]:
    """(USD, shares): the dealers' hedge trade from time passing alone until ``ts_ns``
    (see the module docstring; + = dealers buy)."""
    # a group still alive keeps at least the 0DTE floor, as the book's own clock does
    T1 = years_left(book.group_settle_ns, max(int(ts_ns), book.now_ns))
    shares = -share_delta_change(book, T1)
    return float(shares * book.spot), float(shares)
