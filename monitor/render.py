"""Human-readable rendering of a snapshot (fits a 100-column terminal)."""

from __future__ import annotations


def money(x: float | None) -> str:
    """Signed dollars with a magnitude suffix: ``-$4.10bn``, ``+$512.3mm``."""
    if x is None:
        return "n/a"
    sign = "-" if x < 0 else "+"
    a = abs(x)
    for div, suf in ((1e12, "tn"), (1e9, "bn"), (1e6, "mm"), (1e3, "k")):
        if a >= div:
            return f"{sign}${a / div:,.2f}{suf}"
    return f"{sign}${a:,.0f}"


def shares(x: float) -> str:
    a = abs(x)
    if a >= 1e6:
        return f"{a / 1e6:,.2f}M"
    if a >= 1e3:
        return f"{a / 1e3:,.1f}k"
    return f"{a:,.0f}"


def flow_words(usd: float) -> str:
    if usd > 0:
        return "BUY"
    if usd < 0:
        return "SELL"
    return "none"


def scenario_label(s: dict) -> str:
    parts = []
    if s["spot_pct"]:
        parts.append(f"spot {s['spot_pct']:+g}%")
    if s["vol_pts"]:
        parts.append(f"vol {s['vol_pts']:+g} pts")
    if s["days"]:
        parts.append(f"+{s['days']:g} day" + ("s" if s["days"] != 1 else ""))
    return ", ".join(parts) or "no change"


def render_snapshot(s: dict) -> str:
    out: list[str] = []
    w = out.append
    gex = s["gex_usd_per_pct"]
    w(f"{s['underlying']}  spot {s['spot']:,.2f}  as of {s['as_of']}  "
      f"greeks={s['greeks']} model={s['model']}")
    w(f"contracts used {s['contracts_used']:,} of {s['contracts_total']:,}  "
      f"(multiplier {s['multiplier']:g}, r={s['rate']:.2%}; 0DTE T floored at "
      f"{s['min_t_seconds']:g} s)")
    w("")
    w("Dealer exposures (positive = dealers long; sign from each contract's Greeks x position)")
    w(f"  DEX  delta              {money(s['dex_usd']):>14}")
    w(f"  GEX  gamma  per 1% spot {money(gex):>14}   dealers "
      f"{'LONG' if gex >= 0 else 'SHORT'} gamma: they "
      f"{'sell rallies / buy dips' if gex >= 0 else 'sell into falls / buy into rises'}")
    w(f"  VEX  vanna  per vol pt  {money(s['vex_usd_per_vol_pt']):>14}")
    w(f"  CEX  charm  per day     {money(s['cex_usd_per_day']):>14}")
    w("")
    zg = s["zero_gamma"]
    if zg is None:
        w("  zero gamma: none within spot -20%..+20% (GEX keeps its sign)")
    else:
        w(f"  zero gamma: {zg:,.2f}  ({s['zero_gamma_distance_pct']:+.2f}% from spot)")
    w(f"  call wall: {fmt_level(s['call_wall'])}   put wall: {fmt_level(s['put_wall'])}")
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
    w("By expiry")
    w(f"  {'expiry':<10} {'set':<3} {'days':>6} {'DEX':>13} {'GEX /1%':>13} "
      f"{'VEX /vol pt':>13} {'CEX /day':>13}")
    for r in s["by_expiry"]:
        w(f"  {r['expiry']:<10} {r['settlement']:<3} {r['days_to_settlement']:>6.1f} "
          f"{money(r['dex_usd']):>13} {money(r['gex_usd_per_pct']):>13} "
          f"{money(r['vex_usd_per_vol_pt']):>13} {money(r['cex_usd_per_day']):>13}")
    w("")
    w("Dealer hedge flow (full revaluation; linear estimate beside it)")
    w(f"  {'scenario':<18} {'dealers':<5} {'flow $':>13} {'shares':>10} {'linear $':>13}")
    for r in s["scenarios"]:
        w(f"  {scenario_label(r):<18} {flow_words(r['flow_usd']):<5} {money(r['flow_usd']):>13} "
          f"{shares(r['flow_shares']):>10} {money(r['flow_usd_linear']):>13}")
    if s["rejected"]:
        w("")
        w("Not used: " + ", ".join(f"{k} {v:,}" for k, v in s["rejected"].items()))
    for note in s["notes"]:
        w(f"note: {note}")
    return "\n".join(out)


def fmt_level(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"
