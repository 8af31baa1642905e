"""What the per-expiry smiles change, chain by chain (``monitor smiles``; the README's
table): the smile IVs against the file's own (CBOE) IV column, and CEX and the +1 day
hedge flow with the smile against every quote at its own mid.

Per chain, two books from the same file and settings: ``smile`` on (the default) and off.
Columns (IV differences in vol points, medians of absolute values, over contracts with a
CBOE IV inside the vendor filter ``Book.vendor_iv``):

* ``two_sided_vs_cboe``: sane two-sided quotes, median ``|own mid IV - CBOE IV|``;
* ``one_sided``: contracts whose IV the smile gives (one-sided, zero-bid, wide quotes);
* ``smile_vs_cboe`` / ``own_mid_vs_cboe``: those contracts, median of ``smile IV - CBOE IV``
  and of ``own mid IV - CBOE IV`` (smile off; where it solves), signed;
* ``cex_usd_per_day`` and ``flow_1d_usd`` with the smile, and their change from smile off
  (percent of the smile-off value).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from monitor.books import book_for_chain
from monitor.chain import load_chain
from monitor.core import status as st
from monitor.core.scenarios import hedge_flow


def _median(x, absolute: bool = False) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.median(np.abs(x) if absolute else x)) if len(x) else None


def compare_chain(path: str | Path, settings, underlying: str | None = None) -> dict:
    """The comparison row of one chain file (see the module docstring)."""
    chain = load_chain(path, underlying=underlying)
    on = book_for_chain(chain, settings)
    if not on.smile:
        raise ValueError("pricing.smile is off in the configuration: nothing to compare")
    off_settings = settings.model_copy(
        update={"pricing": settings.pricing.model_copy(update={"smile": False})})
    off = book_for_chain(chain, off_settings)
    c, v = on.c, on.vendor_iv
    ok = c.status == st.OK
    two = ok & (c.iv_source == st.IV_QUOTE)
    smile = ok & np.isin(c.iv_source, st.IV_SMILE_SOURCES)
    off_ok = off.c.status == st.OK
    f_on = hedge_flow(on, days=1.0).flow_usd
    f_off = hedge_flow(off, days=1.0).flow_usd
    cex_on = on.totals["cex_usd_per_day"]
    cex_off = off.totals["cex_usd_per_day"]
    pct = lambda a, b: 100.0 * (a / b - 1.0) if b else None  # noqa: E731
    return {
        "file": Path(path).name.removesuffix(".gz").removesuffix(".csv"),
        "underlying": on.underlying,
        "as_of": str(np.datetime64(on.now_ns, "ns").astype("datetime64[m]")),
        "contracts_used": int(ok.sum()),
        "one_sided": int(smile.sum()),
        "smiles_fitted": sum(f.params is not None for f in on.smile_fits),
        "smiles_tried": sum(f.status != "expired" for f in on.smile_fits),
        "two_sided_vs_cboe": _median(100.0 * (c.iv[two] - v[two]), absolute=True),
        "smile_vs_cboe": _median(100.0 * (c.iv[smile] - v[smile])),
        "own_mid_vs_cboe": _median(np.where(off_ok[smile], 100.0 * (off.c.iv[smile] - v[smile]),
                                            np.nan)),
        "cex_usd_per_day": cex_on,
        "cex_change_pct": pct(cex_on, cex_off),
        "flow_1d_usd": f_on,
        "flow_1d_change_pct": pct(f_on, f_off),
    }


COLUMNS = (  # (key, heading, format): within 100 columns with quotedata file names
    ("file", "file", "{}"),
    ("one_sided", "on smile", "{:,}"),
    ("smiles", "smiles", "{}"),
    ("two_sided_vs_cboe", "2-side/CBOE", "{:.2f}"),
    ("smile_vs_cboe", "smile-CBOE", "{:+.2f}"),
    ("own_mid_vs_cboe", "mid-CBOE", "{:+.2f}"),
    ("cex_change_pct", "CEX %", "{:+.1f}"),
    ("flow_1d_change_pct", "+1d %", "{:+.1f}"),
)


LEGEND = ("on smile: contracts whose IV the smile gives (one-sided, zero-bid, wide quotes); "
          "2-side/CBOE: median |IV - CBOE IV| of the two-sided quotes, vol points; "
          "smile-CBOE, mid-CBOE: median IV - CBOE IV of the smile contracts, with the smile "
          "and at their own mids; "
          "CEX %, +1d %: change of CEX and of the +1 day hedge flow from every quote at "
          "its own mid to the smile")


def render_rows(rows: list[dict], markdown: bool = False) -> str:
    """The comparison table (vol points; changes in percent of the smile-off value)."""
    def cell(r, key, fmt):
        if key == "smiles":
            return f"{r['smiles_fitted']}/{r['smiles_tried']}"
        return "-" if r[key] is None else fmt.format(r[key])

    head = [h for _, h, _ in COLUMNS]
    body = [[cell(r, k, f) for k, _, f in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines + ["", LEGEND])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    fmt_row = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt_row(head)] + [fmt_row(b) for b in body] + [""]
                     + textwrap.wrap(LEGEND, 96))
