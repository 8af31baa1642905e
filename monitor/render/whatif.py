"""The table printed by ``monitor whatif`` (fits 100 columns)."""

from __future__ import annotations

import textwrap

from monitor.fmt import adv_words, money, note_lines, ny_time, points, qty, scenario_label, shares


def render_whatif(r: dict) -> str:
    """The table printed by ``monitor whatif`` (fits 100 columns)."""
    out: list[str] = []
    w = out.append
    src = r["source"]
    if src["kind"] == "redis":
        origin = "live: Redis checkpoint" if src.get("checkpoint") else "live: Redis, no checkpoint"
    else:
        origin = "chain file"
    w(f"{r['underlying']}  spot {r['spot']:,.2f}  as of {ny_time(r['as_of'])}  model={r['model']}  "
      f"({origin})")
    w(f"scenario: {scenario_label(r)}  -> spot {r['spot_after']:,.2f}  "
      f"({r['surface'].replace('_', ' ')})")
    w("")
    words = {"buy": "BUY", "sell": "SELL", "none": "nothing to trade"}[r["dealers"]]
    w(f"Dealer hedge flow: dealers {words}  (positive = dealers buy)")
    w(f"  full revaluation  {money(r['flow_usd']):>14}")
    w(f"  linear estimate   {money(r['flow_usd_linear']):>14}")
    w(f"  units             {qty(r['flow_shares']):>14}  ({shares(r['flow_shares'])} of "
      f"{r['underlying']})")
    if r["flow_es_contracts"] is not None:
        fut = r.get("futures_symbol") or "future"
        w(f"  {fut + ' equivalents':<18}{qty(r['flow_es_contracts']):>14}  contracts "
          f"(${r['es_multiplier']:g} x index)")
    w("  % of ADV          " + (f"{r['flow_pct_adv']:>+13.2f}%" if r["flow_pct_adv"] is not None
                                else f"{'n/a':>14}"))
    out.extend(textwrap.wrap(adv_words(r), 96, initial_indent="    (",
                             subsequent_indent="     "))
    out[-1] += ")"
    w("")
    zg = r["zero_gamma"]
    w(f"zero gamma {points(zg)}" + ("" if zg is None else
                                       f" ({r['zero_gamma_distance_pct']:+.2f}%)")
      + f"   call wall {points(r['call_wall'])}   put wall {points(r['put_wall'])}"
      + f"   GEX {money(r['gex_usd_per_pct'])}/1%")
    w("")
    extra = []
    if r["vol_pts"]:
        extra.append(f"vol {r['vol_pts']:+g} pts")
    if r["days"]:
        extra.append(f"+{r['days']:g} day" + ("s" if r["days"] != 1 else ""))
    w("Flow curve" + (f" (with {', '.join(extra)})" if extra else ""))
    w(f"  {'spot %':>7} {'spot':>11} {'dealers':<7} {'flow $':>13} {'linear $':>13} "
      f"{'units':>12} {'GEX /1%':>13}")
    for p in r["curve"]:
        mark = " <" if abs(p["spot_pct"] - r["spot_pct"]) < 1e-9 else ""
        w(f"  {p['spot_pct']:>+7.2f} {p['spot']:>11,.2f} "
          f"{('BUY' if p['flow_usd'] > 0 else 'SELL' if p['flow_usd'] < 0 else '-'):<7} "
          f"{money(p['flow_usd']):>13} {money(p['flow_usd_linear']):>13} "
          f"{qty(p['flow_shares']):>12} {money(p['gex_usd_per_pct']):>13}{mark}")
    out.extend(note_lines(r["notes"]))
    return "\n".join(out)
