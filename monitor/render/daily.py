"""The tables printed by ``monitor daily``: a terminal table within 100 columns (labels
wrapped onto continuation lines), or Markdown (``--markdown``, the README's per-day
table)."""

from __future__ import annotations

import textwrap


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
        labels = textwrap.wrap(", ".join(r["labels"]) or "-", room) or ["-"]
        out.append(left + labels[0])
        out.extend(" " * len(left) + more for more in labels[1:])
    return "\n".join(out)


def render_table(rows: list[dict]) -> str:
    """Markdown table (the README's per-day table)."""
    out = ["| session | spot | GEX model $bn/1% | GEX vendor $bn/1% | zero gamma | VIX | labels |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        zg = "none" if r["zero_gamma"] is None else f"{r['zero_gamma']:,.0f}"
        vix = "" if r["vix"] is None else f"{r['vix']:.2f}"
        out.append(f"| {r['date']} | {r['spot']:,.2f} | {r['gex_usd_per_pct'] / 1e9:+.1f} | "
                   f"{r['vendor_gex_usd_per_pct'] / 1e9:+.1f} | {zg} | {vix} | "
                   f"{', '.join(r['labels'])} |")
    return "\n".join(out)
