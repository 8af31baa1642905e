"""The human-readable snapshot printed by ``monitor snapshot`` (fits a 100-column
terminal); exposures rows and columns come from the registry
(:mod:`monitor.core.exposures`)."""

from __future__ import annotations

import textwrap

from monitor.core.exposures import EXPOSURES
from monitor.fmt import (
    adv_words,
    flow_words,
    money,
    note_lines,
    ny_time,
    points,
    qty,
    scenario_label,
    shares,
)

#: per-expiry rows shown before the rest are folded into one line (the JSON has them all)
EXPIRY_ROWS = 12


def iv_source_line(s: dict) -> str:
    """Where the IVs came from: own mids, the expiry smiles, wide quotes left at their mids."""
    src = s["iv_source"]
    parts = [f"IVs: {src.get('quote_mid', 0):,} from two-sided mids"]
    if s.get("smiles_tried"):
        n = src.get("smile", 0) + src.get("smile_at_bound", 0)
        cex = s.get("iv_smile_cex_share")
        parts.append(f"{n:,} ({s['iv_smile_share']:.1%}) from the expiry smiles"
                     + (f" ({cex:.1%} of gross |CEX|)" if cex is not None else ""))
        if src.get("smile_at_bound"):
            parts.append(f"{src['smile_at_bound']:,} of them held at their own bid or ask "
                         f"(the smile priced them outside it)")
        if src.get("wide_quote_mid"):
            parts.append(f"{src['wide_quote_mid']:,} one-sided/wide at their own mids (no smile)")
        parts.append(f"smiles fitted for {s['smiles_fitted']} of {s['smiles_tried']} expiries")
    elif src.get("wide_quote_mid"):
        parts.append(f"{src['wide_quote_mid']:,} one-sided/wide at their own mids (smile off)")
    return "\n  ".join(textwrap.wrap("; ".join(parts), 96))


def forward_lines(s: dict) -> list[str]:
    """The forward structure table and the charm to the close (spot and IVs held)."""
    out = ["", "Structure forward in time (spot and every IV held; only the clock moves)",
           f"  {'horizon':<18} {'at (New York)':<20} {'zero gamma':>11} {'GEX /1%':>13} "
           f"{'call wall':>10} {'put wall':>10}"]
    for r in s.get("forward") or []:
        zg = f"{r['zero_gamma']:,.2f}" if r["zero_gamma"] is not None else "none"
        out.append(f"  {r['horizon']:<18} {ny_time(r['ts']):<20} {zg:>11} "
                   f"{money(r['gex_usd_per_pct']):>13} {points(r['call_wall']):>10} "
                   f"{points(r['put_wall']):>10}")
    if s.get("charm_to_close_usd") is not None:
        usd = s["charm_to_close_usd"]
        text = (f"charm to the close ({ny_time(s['charm_to_close_ts'])}): "
                f"dealers {flow_words(usd)} {money(abs(usd), signed=False)} "
                f"({shares(abs(s['charm_to_close_shares']))} units) from time passing alone, "
                "full revaluation; contracts settling before then at their exercise delta")
        out.extend("  " + line for line in textwrap.wrap(text, 96))
    return out


def render_snapshot(s: dict) -> str:
    out: list[str] = []
    w = out.append
    gex = s["gex_usd_per_pct"]
    w(f"{s['underlying']}  spot {s['spot']:,.2f}  as of {ny_time(s['as_of'])}  "
      f"greeks={s['greeks']} model={s['model']}")
    w(f"contracts used {s['contracts_used']:,} of {s['contracts_total']:,}  "
      f"(multiplier {s['multiplier']:g}, r={s['rate']:.2%}; 0DTE T floored at "
      f"{s['min_t_seconds']:g} s)")
    if s.get("spot_source", "chain file") != "chain file":
        w(f"spot: {s['spot_source']}")
    if s.get("iv_source"):
        w(iv_source_line(s))
    w("")
    w("Dealer exposures (positive = dealers long; sign from each contract's Greeks x position)")
    for e in EXPOSURES:
        line = f"  {e.short:<4} {e.label:<19}{money(s[e.key]):>14}"
        if e.key == "gex_usd_per_pct":
            line += f"   dealers {'LONG' if gex >= 0 else 'SHORT'} gamma at spot"
        w(line)
    if s.get("dex_itm_share") is not None:
        w(f"       DEX of out-of-the-money contracts alone {money(s['dex_otm_usd'])}; "
          f"{s['dex_itm_share']:.0%} of gross |DEX| is in-the-money legs")
        w("       (deep ITM: boxes, conversions, hedged by construction)")
    if s.get("adv_shares"):  # the scale of a dollar delta: days of the underlying's volume
        per_day = s["adv_shares"] * s["spot"]
        w(f"       DEX = {s['dex_usd'] / per_day:+,.1f} days of average daily volume "
          f"(out-of-the-money alone {s['dex_otm_usd'] / per_day:+,.1f});")
        w(f"       GEX per 1% = {100 * s['gex_usd_per_pct'] / per_day:+.1f}% of a day's volume")
    w("")
    for text in textwrap.wrap(s["headline"], 96):
        w(f"  {text}")
    w("")
    zg = s["zero_gamma"]
    if zg is None:
        w("  zero gamma: none within spot -20%..+20% (GEX keeps its sign)")
    else:
        w(f"  zero gamma: {zg:,.2f}  ({s['zero_gamma_distance_pct']:+.2f}% from spot)")
    w(f"  call wall: {points(s['call_wall'])}   put wall: {points(s['put_wall'])}")
    if s["expiring_share"] is not None:
        w(f"  next expiry {s['next_expiry']}: {s['expiring_share']:.1%} of gross |GEX|")
    if s.get("expired_vendor_gamma_share"):
        w(f"  vendor gamma past settlement: {s['expired_vendor_gamma_share']:.1%} of gross "
          f"vendor |GEX| ({'included' if s['greeks'] == 'vendor' else 'excluded'})")
    w("")
    w("Top strikes by |GEX|")
    w(f"  {'strike':>9} {'GEX calls':>14} {'GEX puts':>14} {'VEX /vol pt':>14} {'CEX /day':>14}")
    for r in s["top_strikes"]:
        w(f"  {r['strike']:>9,.0f} {money(r['gex_usd_per_pct_calls']):>14} "
          f"{money(r['gex_usd_per_pct_puts']):>14} {money(r['vex_usd_per_vol_pt']):>14} "
          f"{money(r['cex_usd_per_day']):>14}")
    w("")
    rows = s["by_expiry"]
    w("By expiry" + (f" (the first {EXPIRY_ROWS} of {len(rows)}; all in --json)"
                     if len(rows) > EXPIRY_ROWS else ""))
    w(f"  {'expiry':<10} {'set':<3} {'days':>6} {'ATM IV':>6} "
      + " ".join(f"{(e.short + ' ' + e.per).strip():>13}" for e in EXPOSURES))
    for r in rows[:EXPIRY_ROWS]:
        atm = f"{100 * r['atm_iv']:>5.1f}%" if r.get("atm_iv") is not None else f"{'-':>6}"
        w(f"  {r['expiry']:<10} {r['settlement']:<3} {r['days_to_settlement']:>6.1f} {atm} "
          + " ".join(f"{money(r[e.key]):>13}" for e in EXPOSURES))
    if len(rows) > EXPIRY_ROWS:
        rest = rows[EXPIRY_ROWS:]
        w(f"  {f'+{len(rest)} more':<28} "
          + " ".join(f"{money(sum(r[e.key] for r in rest)):>13}" for e in EXPOSURES))
    w(f"  {'total':<28} " + " ".join(f"{money(s[e.key]):>13}" for e in EXPOSURES))
    w("  (ATM IV: the expiry's fitted smile at its forward; - = no smile)")
    w("")
    w("Dealer hedge flow (full revaluation; linear estimate beside it)")
    fut = s.get("futures_symbol")
    w(f"  {'scenario':<18} {'dealers':<5} {'flow $':>13} {'units':>10} "
      f"{(fut or 'future'):>10} {'% ADV':>7} {'linear $':>13}")
    for r in s["scenarios"]:
        es, adv = r.get("flow_es_contracts"), r.get("flow_pct_adv")
        w(f"  {scenario_label(r):<18} {flow_words(r['flow_usd']):<5} {money(r['flow_usd']):>13} "
          f"{shares(r['flow_shares']):>10} {('n/a' if es is None else qty(es)):>10} "
          f"{('n/a' if adv is None else f'{adv:+.1f}%'):>7} {money(r['flow_usd_linear']):>13}")
    legend = (f"(units: of {s['underlying']}; {adv_words(s)}"
              + (f"; {fut}: ${s['es_multiplier']:g} x index, same delta" if fut else "") + ")")
    out.extend("  " + line for line in textwrap.wrap(legend, 96))
    out.extend(forward_lines(s))
    if s["rejected"]:
        w("")
        w("Not used: " + ", ".join(f"{k} {v:,}" for k, v in s["rejected"].items()))
    out.extend(note_lines(s["notes"]))
    return "\n".join(out)
