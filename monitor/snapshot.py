"""One snapshot of a book as plain data: the object behind ``monitor snapshot --json``
(documented field by field in docs/analytics.md) and the source of the human table.

Units: dollars (``_usd``); GEX per 1 % spot move, VEX per 1 implied-vol point, CEX per
calendar day; levels in index points; scenario flows positive = dealers buy.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from monitor.chain.clock import horizon_clocks
from monitor.core import horizons, levels, scenarios
from monitor.core import status as st
from monitor.core.book import MIN_T_SECONDS, Book
from monitor.core.exposures import EXPOSURES, totals_dict
from monitor.core.layout import CALLS, PUTS
from monitor.core.smile import total_var
from monitor.fmt import iso_utc
from monitor.sentences import headline, headline_parts

SCHEMA_VERSION = 1


def _median_parity_rate(book: Book) -> float | None:
    """Median of the parity-implied rates over the groups that have one (None: none)."""
    r = book.implied_rates()[book.df_from_parity & (book.g.T > 0)]
    return float(np.median(r)) if len(r) else None


def dex_split(book: Book) -> tuple[float, float | None]:
    """(``dex_otm_usd``, ``dex_itm_share``): the dealers' dollar delta of the
    out-of-the-money contracts alone (calls struck above their group's forward, puts
    below: what hedging desks compare), and the share of gross |DEX| that sits in the
    in-the-money ones (deep ITM legs such as boxes and conversions are hedged by
    construction yet dominate the classic model's DEX); None when there is no DEX."""
    c = book.c
    fwd = book.g.fwd[c.group]
    otm = np.where(c.is_call, c.strike > fwd, c.strike < fwd)
    gross = np.abs(c.dex).sum()
    itm_share = None if gross <= 0 else float(np.abs(c.dex[~otm]).sum() / gross)
    return float(c.dex[otm].sum()), itm_share


def strike_rows(book: Book) -> list[dict]:
    """The per-strike profile: one row per strike with any exposure, ``strike`` then, per
    registered exposure with a ``by_strike`` entry, ``<key>_calls`` and ``<key>_puts``
    ("split") or ``<key>`` (calls and puts together, "total")."""
    bs = book.agg.by_strike
    shown = [col for col, e in enumerate(EXPOSURES) if e.by_strike is not None]
    rows = []
    for k in np.flatnonzero(np.any(bs[:, :, shown] != 0.0, axis=(1, 2))):
        row = {"strike": float(book.strikes[k])}
        for col, e in enumerate(EXPOSURES):
            if e.by_strike == "split":
                row[f"{e.key}_calls"] = float(bs[k, CALLS, col])
                row[f"{e.key}_puts"] = float(bs[k, PUTS, col])
            elif e.by_strike == "total":
                row[e.key] = float(bs[k, CALLS, col] + bs[k, PUTS, col])
        rows.append(row)
    return rows


def _smile_fields(fit) -> dict:
    """Per-expiry smile columns: ``smile`` (``fitted``, ``too_few_quotes``, ``arbitrage``;
    None with ``--greeks vendor`` or the smile off), ``atm_iv`` (the smile's IV at the
    forward, decimal), ``smile_points`` and ``smile_rmse_vol_pts`` (fitted minus mid IV of
    its points)."""
    if fit is None:
        return {"smile": None, "atm_iv": None, "smile_points": None, "smile_rmse_vol_pts": None}
    atm = None if fit.params is None else float(np.sqrt(total_var(fit.params, 0.0) / fit.T))
    return {"smile": fit.status, "atm_iv": atm, "smile_points": fit.n_points,
            "smile_rmse_vol_pts": None if fit.params is None else fit.rmse_vol_pts}


def _iv_source_fields(book: Book) -> dict:
    """``iv_source`` (contributing contracts by where their IV came from), ``iv_smile_share``
    (share of them on the smile) and ``iv_smile_cex_share`` (their share of gross |CEX|),
    ``smiles_fitted`` of ``smiles_tried`` (live expiries)."""
    c = book.c
    ok = c.status == st.OK
    on_smile = ok & np.isin(c.iv_source, st.IV_SMILE_SOURCES)
    gross = float(np.abs(c.cex[ok]).sum())
    live = [f for f in book.smile_fits if f.status != "expired"]
    return {
        "iv_source": book.iv_source_counts(),
        "iv_smile_share": float(on_smile.sum() / ok.sum()) if ok.any() else None,
        "iv_smile_cex_share": (float(np.abs(c.cex[on_smile]).sum() / gross)
                               if gross > 0 else None),
        "smiles_fitted": sum(f.params is not None for f in live),
        "smiles_tried": len(live),
    }


def forward_fields(book: Book) -> dict:
    """``forward`` (the structure at ``+1h``, ``close``, ``next_open`` and
    ``after_next_expiry``, in time order, spot and IVs held: :mod:`monitor.core.horizons`) and the charm
    to the close (``charm_to_close_usd``, ``charm_to_close_shares``, + = dealers buy, and
    the close it counts to, ``charm_to_close_ts``; None where the calendar has no close)."""
    clocks = horizon_clocks(book.now_ns, book.underlying, book.group_expiry,
                            book.group_settle_ns)
    close = dict(clocks).get("close")
    usd, units = horizons.charm_to(book, close) if close is not None else (None, None)
    rows = sorted(horizons.forward_levels(book, clocks), key=lambda f: f.ts_ns)  # time order
    return {"forward": [f.as_dict() for f in rows],
            "charm_to_close_usd": usd, "charm_to_close_shares": units,
            "charm_to_close_ts": None if close is None else iso_utc(close)}


def scale_fields(und) -> dict:
    """The scales a flow is given in beside dollars: the underlying's future (symbol and $
    per point) and its average daily volume with where that figure comes from; ``und``:
    its ``UnderlyingSettings`` (None: none)."""
    es = float(getattr(und, "es_multiplier", 0.0) or 0.0)
    adv = float(getattr(und, "adv_shares", 0.0) or 0.0)
    return {"futures_symbol": (getattr(und, "futures_symbol", None) or None) if es else None,
            "es_multiplier": es or None, "adv_shares": adv or None,
            "adv_source": (getattr(und, "adv_source", "") or None) if adv else None}


def build_snapshot(book: Book, top_strikes: int = 10, und=None) -> dict:
    """Every number of ``monitor snapshot --json`` for ``book`` (docs/analytics.md); ``und``:
    the underlying's settings, for the flows in futures contracts and % of ADV
    (:func:`scale_fields`)."""
    t0 = time.perf_counter()
    zg = levels.zero_gamma(book)
    zg_seconds = time.perf_counter() - t0
    call_wall, put_wall = levels.walls(book)
    call_any, put_any = levels.walls(book, any_strike=True)
    next_exp, exp_share = levels.expiring_share(book)
    by_strike = strike_rows(book)
    bg = book.agg.by_group
    rates = book.implied_rates()
    rate_sources = book.rate_sources()
    fits = {f.group: f for f in book.smile_fits}
    by_expiry = [
        {"expiry": str(book.group_expiry[j]),
         "settlement": "AM" if book.group_am[j] else "PM",
         "days_to_settlement": float(book.g.T[j] * 365.0),
         **totals_dict(bg[j]),
         "rate": float(rates[j]), "rate_from_parity": bool(book.df_from_parity[j]),
         "rate_source": rate_sources[j],
         **_smile_fields(fits.get(j))}
        for j in range(len(book.group_settle_ns)) if book.g.T[j] > 0.0
    ]
    rejected = Counter(book.chain.rejected)
    for name, count in book.status_counts().items():
        if name != "ok":
            rejected[name] += count
    spot = book.spot
    scale = scale_fields(und)
    top = sorted(by_strike, key=lambda r: -abs(r["gex_usd_per_pct_calls"]
                                               + r["gex_usd_per_pct_puts"]))[:top_strikes]
    out = {
        "schema": SCHEMA_VERSION,
        "underlying": book.underlying,
        "spot": spot,
        "as_of": iso_utc(book.now_ns),  # the evaluation clock
        "quotes_taken_at": iso_utc(book.chain.as_of_ns),  # as the file says (notes: why)
        "greeks": book.greeks,
        "model": book.model,
        "multiplier": book.multiplier,
        "rate": book.rate,
        "exercise": "european" if book.european else "american",
        "contracts_total": len(book.c.strike),
        "contracts_used": int(book.contributing().sum()),
        **book.totals,
        **dict(zip(("dex_otm_usd", "dex_itm_share"), dex_split(book))),
        "zero_gamma": zg,
        "zero_gamma_distance_pct": None if zg is None else 100.0 * (zg / spot - 1.0),
        "zero_gamma_seconds": zg_seconds,
        "call_wall": call_wall,
        "put_wall": put_wall,
        "call_wall_any_strike": call_any,
        "put_wall_any_strike": put_any,
        "next_expiry": next_exp,
        "expiring_share": exp_share,
        "expired_vendor_gamma_share": book.expired_vendor_gamma_share(),
        "forwards_from_parity": int(book.forward_from_parity[book.g.T > 0].sum()),
        "rates_from_parity": int(book.df_from_parity[book.g.T > 0].sum()),
        "parity_rate_median": _median_parity_rate(book),
        "expiries_live": int((book.g.T > 0).sum()),
        **_iv_source_fields(book),
        "min_t_seconds": MIN_T_SECONDS,
        "top_strikes": top,
        "by_strike": by_strike,
        "by_expiry": by_expiry,
        **scale,
        "scenarios": [{**f.as_dict(), **scenarios.flow_units(f.flow_usd, spot, scale["es_multiplier"],
                                                             scale["adv_shares"])}
                      for f in scenarios.standard_flows(book)],
        **forward_fields(book),
        "rejected": dict(sorted(rejected.items())),
        "notes": list(book.chain.notes),
        "source": book.chain.source,
        "layout": book.chain.layout,
    }
    out["headline"] = headline(out)  # what dealers do for -1 % / +1 %, full revaluation
    out.update(headline_parts(out))  # its short form and the state words, same reading
    return out
