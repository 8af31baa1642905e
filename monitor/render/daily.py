"""The Markdown table printed by ``monitor daily`` (the README's per-day table)."""

from __future__ import annotations


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
