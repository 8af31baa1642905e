"""The tables printed by ``monitor daily``: a terminal table within 100 columns (labels
wrapped onto continuation lines), or Markdown (``--markdown``, the README's per-day
table)."""

from __future__ import annotations

import textwrap

#: what "(held)" after a gamma label means, printed under every table that shows one
HELD_NOTE = ("(held): the gamma label's sign is not the GEX's: the regime engine keeps a "
             "label until its number passes the far side of the dead band "
             "(regimes.gamma_dead_band_frac x gross |GEX|, with exit_frac), so a GEX a little "
             "below zero can still read long_gamma")


def _labels(r: dict) -> list[str]:
    """The row's labels, the gamma label marked ``(held)`` when hysteresis keeps it."""
    held = r.get("gamma_label_held")
    return [f"{x} (held)" if held and x in ("long_gamma", "short_gamma") else x
            for x in r["labels"]]


def _note(rows: list[dict]) -> list[str]:
    return ["", HELD_NOTE] if any(r.get("gamma_label_held") for r in rows) else []


def render_text(rows: list[dict], width: int = 100) -> str:
    """Fixed-width columns; the labels column wraps so no line passes ``width``."""
    head = f"{'session':<10} {'spot':>9} {'GEX $bn':>8} {'vendor':>8} {'0-gamma':>7} {'VIX':>6}  "
    room = width - len(head)
    out = [head + "labels", "-" * (width - 1)]
    for r in rows:
        zg = "none" if r["zero_gamma"] is None else f"{r['zero_gamma']:,.0f}"
        vix = "" if r["vix"] is None else f"{r['vix']:.2f}"
        left = (f"{r['date']:<10} {r['spot']:>9,.2f} {r['gex_usd_per_pct'] / 1e9:>+8.1f} "
                f"{r['vendor_gex_usd_per_pct'] / 1e9:>+8.1f} {zg:>7} {vix:>6}  ")
        labels = textwrap.wrap(", ".join(_labels(r)) or "-", room) or ["-"]
        out.append(left + labels[0])
        out.extend(" " * len(left) + more for more in labels[1:])
    note = _note(rows)
    return "\n".join(out + note[:1] + textwrap.wrap(note[1], width - 1) if note else out)


def render_table(rows: list[dict]) -> str:
    """Markdown table (the README's per-day table)."""
    out = ["| session | spot | GEX model $bn/1% | GEX vendor $bn/1% | zero gamma | VIX | labels |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        zg = "none" if r["zero_gamma"] is None else f"{r['zero_gamma']:,.0f}"
        vix = "" if r["vix"] is None else f"{r['vix']:.2f}"
        out.append(f"| {r['date']} | {r['spot']:,.2f} | {r['gex_usd_per_pct'] / 1e9:+.1f} | "
                   f"{r['vendor_gex_usd_per_pct'] / 1e9:+.1f} | {zg} | {vix} | "
                   f"{', '.join(_labels(r))} |")
    return "\n".join(out + _note(rows))
