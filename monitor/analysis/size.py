"""``monitor size``: the sizing advice for a user's position on one book (a chain file
or the live book), by the rule table of :mod:`monitor.regimes.sizing`.
"""

from __future__ import annotations

from pathlib import Path

from monitor.books import read_positions
from monitor.core.scenarios import standard_flows
from monitor.fmt import iso_utc
from monitor.regimes.sizing import advise, parse_labels, rule_multipliers, user_delta_from_positions


def size_position(book, user_delta_usd: float | None = None, positions=None,
                  labels=None, *, settings=None, labels_source: str | None = None,
                  source: dict | None = None, notes: list[str] | None = None) -> dict:
    """Sizing advice for the user's position on ``book``: a dollar delta, or positions
    (a list of ``(symbol, contracts)`` or a CSV path, read by
    :func:`monitor.books.read_positions`).
    ``labels``: regime labels in force; None = the gamma label from the sign of the book's
    GEX (the only label a single book can tell without history). ``labels_source``
    (default ``given`` / ``gex_sign``), ``source`` and ``notes`` are echoed."""
    if (user_delta_usd is None) == (positions is None):
        raise ValueError("give either a dollar delta or a positions file (exactly one)")
    pos_info = None
    short_puts = 0.0
    if positions is not None:
        if isinstance(positions, (str, Path)):
            positions = read_positions(positions)
        pos_info = user_delta_from_positions(book, positions)
        user_delta_usd = pos_info["user_delta_usd"]
        short_puts = pos_info["short_put_contracts"]
    if labels is None:
        labels_ = ["long_gamma" if book.totals["gex_usd_per_pct"] >= 0 else "short_gamma"]
        lab_source = "gex_sign"
    else:
        labels_, lab_source = parse_labels(labels), "given"
    und = settings.underlying(book.underlying) if hasattr(settings, "underlying") else None
    out = advise(underlying=book.underlying, spot=book.spot,
                 scenarios=[f.as_dict() for f in standard_flows(book)], labels=labels_,
                 user_delta_usd=float(user_delta_usd), short_put_contracts=short_puts,
                 multipliers=rule_multipliers(settings), und_settings=und)
    out["as_of"] = iso_utc(book.now_ns)
    out["labels_source"] = labels_source or lab_source
    out["positions"] = None if pos_info is None else pos_info["positions"]
    out["gex_usd_per_pct"] = book.totals["gex_usd_per_pct"]
    out["source"] = source if source is not None else {
        "kind": "chain", "chain_path": book.chain.source or None, "checkpoint": None}
    out["notes"] = list(notes or [])
    return out
