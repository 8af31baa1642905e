"""The book: one underlying's option chain as struct-of-arrays state, with its Greeks,
dealer positions and aggregated exposures kept current.

Two paths change it, and they agree (to rounding of the running sums):

* :meth:`Book.refresh` / :meth:`Book.evaluate`: the whole chain at once (new clock,
  parity forwards, every contract re-solved, aggregates re-summed);
* :meth:`Book.update_quotes` / :meth:`Book.update_positions`: one contract at a time,
  O(1) each (subtract old contribution, re-solve warm, add new).

Forwards are re-calibrated from put-call parity only on :meth:`refresh` (the service
does that on its re-evaluation timer); between refreshes a quote update keeps its
group's forward.

Contracts are stored sorted by (settlement instant, strike, put before call);
``order[i]`` is the chain row of book row ``i``.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np

from monitor.chain.model import Chain
from monitor.core import status as st
from monitor.core.exposures import N_EXPOSURES, totals_dict
from monitor.core.forwards import parity_forwards
from monitor.core.kernels import (
    Aggregates,
    ContractArrays,
    GroupArrays,
    apply_positions,
    apply_quote,
    apply_quotes,
    quote_deltas,
    resum,
    set_exposures,
    whole_chain,
)
from monitor.core.layout import (
    ASK,
    BID,
    DF_ROW,
    F_FIELDS,
    G_FIELDS,
    IV,
    IV_SOURCE,
    N_F,
    POS,
    STRIKE,
    SVI_A,
    SVI_B,
    SVI_M,
    SVI_RHO,
    SVI_S,
)
from monitor.core.positions import dealer_positions
from monitor.core.smile_fit import ExpiryFit, fit_book

NS_PER_YEAR = 365.0 * 86400.0 * 1e9
MIN_T_SECONDS = 60.0  # 0DTE floor (REFERENCE.md): Greeks stay finite up to settlement
MIN_T_YEARS = MIN_T_SECONDS * 1e9 / NS_PER_YEAR
VENDOR_IV_RANGE = (0.01, 2.0)  # same filter as the reference VEX computation (SOURCES.md §1)
GREEKS_SOURCES = ("model", "vendor")


def years_left(settle_ns: np.ndarray, now_ns: int) -> np.ndarray:
    """Years from ``now_ns`` to each settlement (UTC ns): at least the 0DTE floor
    :data:`MIN_T_YEARS` while it is ahead, 0 once it has passed (settled)."""
    left = (np.asarray(settle_ns) - int(now_ns)).astype(np.float64)
    return np.where(left > 0, np.maximum(left / NS_PER_YEAR, MIN_T_YEARS), 0.0)


def configured_rate(T, rate: float, rates=None) -> np.ndarray:
    """The configured rate at each tenor ``T`` (years): ``rates`` (``(days, rate)`` pairs)
    interpolated linearly in days, flat beyond its ends; ``rate`` everywhere when there is
    no term structure."""
    T = np.asarray(T, dtype=np.float64)
    if not rates:
        return np.full(T.shape, rate)
    days, r = zip(*rates)
    return np.interp(T * 365.0, days, r)


class Book:
    """Exposure state of one underlying. See the module docstring for the two update paths.

    Parameters: ``model`` position model (``classic``/``short_all``), ``multiplier``
    (shares per contract), ``rate`` (continuously compounded, decimal), ``div_yield``
    (used only where parity gives no forward), ``greeks`` (``model`` = solve IV from the
    mid; ``vendor`` = the file's delta/gamma, its IV for vanna/charm/levels), ``now_ns``
    (the evaluation clock, UTC ns; default the chain's ``eval_ns``: its session close when
    the file was saved after it), ``smile`` (fit a smile per expiry, :mod:`monitor.core.smile_fit`,
    and give one-sided, zero-bid and wide quotes its IV; off = every quote its own mid's
    IV), ``smile_refit_s`` (a refresh refits the smiles when this much event time has passed
    since the last fit; in between they move with the forward), ``european`` (exercise
    style: only a European-style book estimates its rates from put-call parity; an
    American-style one keeps the configured rates), ``rates`` (the configured term
    structure: ``((tenor_days, rate), ...)``, linear in tenor between its points and flat
    beyond them; None = ``rate`` at every tenor).
    """

    def __init__(self, chain: Chain, *, model: str = "classic", multiplier: float = 100.0,
                 rate: float = 0.04, div_yield: float = 0.0, greeks: str = "model",
                 now_ns: int | None = None, parity_pairs: int = 5, smile: bool = True,
                 smile_refit_s: float = 60.0, european: bool = True,
                 rates: tuple[tuple[float, float], ...] | None = None):
        if greeks not in GREEKS_SOURCES:
            raise ValueError(f"greeks must be one of {GREEKS_SOURCES}, not {greeks!r}")
        if not (chain.spot > 0.0 and math.isfinite(chain.spot)):
            raise ValueError(f"spot must be a positive number, got {chain.spot!r}")
        self.chain = chain
        self.underlying = chain.underlying
        self.model = model
        self.greeks = greeks
        self.multiplier = float(multiplier)
        self.rate = float(rate)
        self.european = bool(european)
        self.rates = tuple(sorted((float(d), float(r)) for d, r in rates)) if rates else None
        self.div_yield = float(div_yield)
        self.parity_pairs = int(parity_pairs)
        self.smile = bool(smile) and greeks == "model"
        self.smile_refit_ns = int(float(smile_refit_s) * 1e9)
        self.smile_fits: list[ExpiryFit] = []
        self.smile_fit_ns: int | None = None  # event time of the last fit
        self.spot = float(chain.spot)
        self.now_ns = int(chain.eval_ns if now_ns is None else now_ns)

        order = np.lexsort((chain.is_call, chain.strike, chain.settle_ns))
        self.order = order
        settle = np.asarray(chain.settle_ns, dtype=np.int64)[order]
        self.group_settle_ns, group = np.unique(settle, return_inverse=True)
        first = np.searchsorted(settle, self.group_settle_ns)
        self.group_expiry = np.asarray(chain.expiry)[order][first].astype("datetime64[D]")
        self.group_am = np.asarray(chain.am_settled, dtype=bool)[order][first]
        strike = np.asarray(chain.strike, dtype=np.float64)[order]
        self.strikes, strike_idx = np.unique(strike, return_inverse=True)
        is_call = np.asarray(chain.is_call, dtype=np.bool_)[order]
        n, m = len(strike), len(self.group_settle_ns)
        self.oi = np.nan_to_num(np.asarray(chain.oi, dtype=np.float64)[order], nan=0.0)
        vendor = lambda a: np.asarray(a, dtype=np.float64)[order]  # noqa: E731
        self.vendor_delta = vendor(chain.vendor_delta)
        self.vendor_gamma = vendor(chain.vendor_gamma)
        viv = vendor(chain.vendor_iv)
        lo, hi = VENDOR_IV_RANGE
        self.vendor_iv = np.where((viv >= lo) & (viv <= hi), viv, np.nan)
        # per-contract floats packed as rows of one array (see monitor.core.kernels)
        self.F = np.zeros((N_F, n))
        self.F[STRIKE] = strike
        self.F[BID] = np.asarray(chain.bid, dtype=np.float64)[order]
        self.F[ASK] = np.asarray(chain.ask, dtype=np.float64)[order]
        self.F[POS] = dealer_positions(model, is_call, self.oi)
        self.F[IV] = np.nan
        self.F[IV_SOURCE] = -1.0
        self.G = np.zeros((len(G_FIELDS), m))
        self.G[DF_ROW] = 1.0
        self.G[SVI_A:SVI_S + 1] = np.nan  # no smile until the first fit
        self._bind(is_call, group.astype(np.int32), strike_idx.astype(np.int32),
                   np.zeros(n, dtype=np.int8), np.zeros(N_EXPOSURES),
                   np.zeros((m, N_EXPOSURES)), np.zeros((len(self.strikes), 2, N_EXPOSURES)))
        self.forward_from_parity = np.zeros(m, dtype=np.bool_)
        self.df_from_parity = np.zeros(m, dtype=np.bool_)
        # per-group rate: the configured one until parity gives one at the first refresh;
        # rates do not move within a session, so later refreshes keep them (re-estimating
        # from each refresh's mids would make the discount factors, and so the IVs, jitter)
        self.group_rate = self.configured_rates(years_left(self.group_settle_ns, self.now_ns))
        self._rates_estimated = False
        self._mark = np.full(n, -1, dtype=np.int64)  # apply_quotes' scratch, all -1
        self._symbol_index: dict[str, int] | None = None
        self.last_eval_seconds = 0.0
        self.refresh()

    def _bind(self, is_call, group, strike_idx, status, totals, by_group, by_strike) -> None:
        """Named views (``c``, ``g``, ``agg``) over the packed state, and the kernels'
        argument tuple. The arrays are only ever updated in place, so both stay valid."""
        F, G = self.F, self.G
        views = {name: F[k] for k, name in enumerate(F_FIELDS)}
        self.c = ContractArrays(is_call=is_call, group=group, strike_idx=strike_idx,
                                status=status, **views)
        self.g = GroupArrays(*(G[k] for k in range(len(G_FIELDS))))
        self.agg = Aggregates(totals=totals, by_group=by_group, by_strike=by_strike)
        self._state = (is_call, group, strike_idx, F, status, G, totals, by_group, by_strike)

    # -- whole-chain path -------------------------------------------------------------
    def set_clock(self, now_ns: int) -> None:
        """Years to settlement per group from ``now_ns`` (UTC ns); 0 = expired."""
        self.now_ns = int(now_ns)
        T = years_left(self.group_settle_ns, self.now_ns)
        self.g.T[:] = T
        self.g.df[:] = np.exp(-self.group_rate * T)

    def configured_rates(self, T: np.ndarray) -> np.ndarray:
        """The configured rate at each tenor ``T`` (years): :func:`configured_rate`."""
        return configured_rate(T, self.rate, self.rates)

    def recalibrate_forwards(self) -> None:
        """Parity discount factors (European exercise only) and forwards per group
        (:mod:`monitor.core.forwards`; fallbacks the configured ``exp(-r T)`` and
        ``S exp((r-q)T)``)."""
        c = self.c
        estimate = self.european and not self._rates_estimated
        parity_forwards(c.strike, c.is_call, c.group, c.bid, c.ask, self.g.T, self.g.df,
                        self.spot, self.group_rate, self.div_yield, self.parity_pairs,
                        self.g.fwd, self.forward_from_parity, self.df_from_parity, estimate)
        if estimate:
            self._rates_estimated = True
            self.group_rate = np.where(self.df_from_parity, self.implied_rates(),
                                       self.group_rate)

    def rate_sources(self) -> list[str]:
        """Per group, where its rate came from: ``parity`` or ``configured``."""
        return ["parity" if p else "configured" for p in self.df_from_parity]

    def refresh(self, now_ns: int | None = None, spot: float | None = None,
                warm: bool = False, refit: bool = False) -> None:
        """Clock, spot, parity forwards and every contract from scratch (cold IV starts):
        the whole-chain computation. ``warm``: start each IV solve from the last solution
        instead (the same root to the solver's tolerance in about half the time: the live
        service's re-evaluations on spot moves). ``refit``: fit the smiles now, due or not
        (the result is then a function of the current quotes alone, not of when the last
        fit happened to run)."""
        if spot is not None:
            if not (spot > 0.0 and math.isfinite(spot)):
                raise ValueError(f"spot must be a positive number, got {spot!r}")
            self.spot = float(spot)
        self.set_clock(self.now_ns if now_ns is None else now_ns)
        self.recalibrate_forwards()
        self.evaluate(warm=warm)
        if self.smile and (refit or self.smile_fit_ns is None
                           or self.now_ns - self.smile_fit_ns >= self.smile_refit_ns):
            self.fit_smiles()

    def fit_smiles(self) -> None:
        """Fit every expiry's smile to the current two-sided quotes and re-evaluate with it
        (the quotes that take the smile's IV change; the fitted ones do not)."""
        self.smile_fits = fit_book(self)
        G = self.G
        G[SVI_A:SVI_S + 1] = np.nan
        for f in self.smile_fits:
            if f.params is not None:
                a, b, rho, m, s = f.params
                # stored as implied variance: the smile IV does not drift as T shrinks
                G[SVI_A, f.group], G[SVI_B, f.group] = a / f.T, b / f.T
                G[SVI_RHO, f.group], G[SVI_M, f.group], G[SVI_S, f.group] = rho, m, s
        self.smile_fit_ns = self.now_ns
        self.evaluate(warm=True)

    def evaluate(self, warm: bool = True) -> None:
        """Re-evaluate every contract with the current clock and forwards, re-sum aggregates."""
        t0 = time.perf_counter()
        if self.greeks == "vendor":
            self.c.iv[:] = self.vendor_iv
            whole_chain(*self._state, self.spot, self.multiplier, -1)
            self._apply_vendor_greeks()
        else:
            whole_chain(*self._state, self.spot, self.multiplier, 1 if warm else 0)
        self.last_eval_seconds = time.perf_counter() - t0

    def _apply_vendor_greeks(self) -> None:
        """--greeks vendor: the file's delta and gamma replace the model's on every row
        that has them (expired rows included, so published naive figures reproduce)."""
        c = self.c
        has = np.isfinite(self.vendor_gamma) & np.isfinite(self.vendor_delta)
        c.delta[has] = self.vendor_delta[has]
        c.gamma[has] = self.vendor_gamma[has]
        set_exposures(self.F, self.spot, self.multiplier, np.flatnonzero(has))
        resum(*self._state)

    # -- one contract at a time ---------------------------------------------------------
    def update_quotes(self, idx, bid, ask) -> None:
        """Apply quote updates to book rows ``idx`` in order, O(1) each (model Greeks only;
        a contract updated more than once counts with its last quote)."""
        if self.greeks != "model":
            raise ValueError("incremental quote updates need --greeks model")
        apply_quotes(*self._state, self.spot, self.multiplier,
                     np.asarray(idx, dtype=np.int64), np.asarray(bid, dtype=np.float64),
                     np.asarray(ask, dtype=np.float64), self._mark)

    def quote_deltas(self, rows, bid, ask) -> np.ndarray:
        """Per book row ``rows[k]``: its delta were it quoted ``bid[k]`` / ``ask[k]``, under
        this book's forwards, clock, smiles and spot as they stand (NaN: no IV from that
        quote); the book is not changed. ``--greeks vendor``: the file's deltas."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.greeks != "model":
            return self.c.delta[rows].copy()
        return quote_deltas(self.c.is_call, self.c.group, self.F, self.c.status, self.G,
                            self.spot, self.multiplier, rows,
                            np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64))

    def update_quote(self, i: int, bid: float, ask: float) -> None:
        """One quote update (book row ``i``); the scalar fast path of :meth:`update_quotes`."""
        if self.greeks != "model":
            raise ValueError("incremental quote updates need --greeks model")
        apply_quote(*self._state, self.spot, self.multiplier, i, bid, ask)

    def update_open_interest(self, idx, oi) -> None:
        """New open interest for rows ``idx``: positions re-weighted by the book's model."""
        idx = np.asarray(idx, dtype=np.int64)
        oi = np.nan_to_num(np.asarray(oi, dtype=np.float64), nan=0.0)
        self.oi[idx] = oi
        self.update_positions(idx, dealer_positions(self.model, self.c.is_call[idx], oi))

    def update_positions(self, idx, pos) -> None:
        """Set dealer positions (signed contracts) of rows ``idx``; O(1) each."""
        apply_positions(*self._state, self.spot, self.multiplier,
                        np.asarray(idx, dtype=np.int64), np.asarray(pos, dtype=np.float64))

    def copy(self, into: "Book | None" = None) -> "Book":
        """An independent copy of the state arrays (the chain and the arrays that never
        change after construction are shared). ``into``: an earlier copy of this book (or
        a book it adopted from) to overwrite in place, which avoids allocating, and
        page-faulting in, a few MB per copy on the service's tick thread."""
        c, a = self.c, self.agg
        if into is not None and into.F.shape == self.F.shape and into.chain is self.chain:
            for src, dst in ((self.F, into.F), (self.G, into.G), (c.status, into.c.status),
                             (a.totals, into.agg.totals), (a.by_group, into.agg.by_group),
                             (a.by_strike, into.agg.by_strike), (self.oi, into.oi),
                             (self.forward_from_parity, into.forward_from_parity),
                             (self.df_from_parity, into.df_from_parity)):
                np.copyto(dst, src)
            for name in ("spot", "now_ns", "last_eval_seconds", "smile_fits", "smile_fit_ns",
                         "group_rate", "_rates_estimated"):
                setattr(into, name, getattr(self, name))
            return into
        new = copy.copy(self)
        new.F = self.F.copy()
        new.G = self.G.copy()
        new._bind(c.is_call, c.group, c.strike_idx, c.status.copy(),
                  a.totals.copy(), a.by_group.copy(), a.by_strike.copy())
        new.oi = self.oi.copy()
        new.forward_from_parity = self.forward_from_parity.copy()
        new.df_from_parity = self.df_from_parity.copy()
        new._mark = np.full_like(self._mark, -1)
        return new

    def adopt(self, other: "Book") -> "Book":
        """Take over the whole state of ``other`` (a copy of this book that was refreshed
        elsewhere: see ``monitor.ingest.Refresh``). O(1): the arrays are taken, not
        copied, so ``other`` must not be used afterwards. Returns a book holding the state
        this one had (a buffer for the next :meth:`copy` ``into``)."""
        retired = Book.__new__(Book)
        retired.__dict__.update(self.__dict__)
        self.__dict__.update(other.__dict__)
        return retired

    def __deepcopy__(self, memo) -> "Book":
        # the views must stay views of the copied packed arrays
        return self.copy()

    # -- lookups and summaries ----------------------------------------------------------
    def index_of(self, symbol: str) -> int:
        """Book row of an OCC symbol (compact or padded); ``KeyError`` if unknown."""
        if self._symbol_index is None:
            syms = self.chain.symbols()
            self._symbol_index = {syms[r]: i for i, r in enumerate(self.order)}
        return self._symbol_index[symbol.replace(" ", "")]

    @property
    def totals(self) -> dict[str, float]:
        """``{exposure key: USD}`` of every registered exposure (monitor.core.exposures)."""
        return totals_dict(self.agg.totals)

    def status_counts(self) -> dict[str, int]:
        codes, counts = np.unique(self.c.status, return_counts=True)
        return {st.NAMES[int(k)]: int(v) for k, v in zip(codes, counts)}

    def iv_source_counts(self) -> dict[str, int]:
        """``{source name: contracts}`` over the contributing contracts (status ok)."""
        src = self.c.iv_source[self.c.status == st.OK].astype(np.int64)
        codes, counts = np.unique(src, return_counts=True)
        return {st.IV_SOURCE_NAMES[int(k)]: int(v) for k, v in zip(codes, counts)}

    def contributing(self) -> np.ndarray:
        """Mask of rows whose Greeks feed the exposures."""
        if self.greeks == "vendor":
            return np.isfinite(self.vendor_gamma) & np.isfinite(self.vendor_delta)
        return self.c.status == st.OK

    def implied_rates(self) -> np.ndarray:
        """Continuously compounded rate per group, ``-ln(df) / T`` (NaN where expired)."""
        T = self.g.T
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(T > 0, -np.log(self.g.df) / T, np.nan)

    def expired_vendor_gamma_share(self) -> float | None:
        """Share of gross vendor |GEX| that sits on contracts past settlement (None: no vendor gamma)."""
        vg = np.nan_to_num(self.vendor_gamma)
        gross = np.abs(self.oi * vg).sum()
        if gross <= 0:
            return None
        expired = self.g.T[self.c.group] <= 0.0
        return float(np.abs(self.oi * vg)[expired].sum() / gross)
