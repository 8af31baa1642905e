"""The table printed by ``monitor size``."""

from __future__ import annotations

import textwrap

from monitor.fmt import money, note_lines, ny_time, scenario_label


def render_size(r: dict) -> str:
    """The table printed by ``monitor size``."""
    out: list[str] = []
    w = out.append
    src = r.get("source") or {}
    origin = {"redis": "live: Redis" + ("" if src.get("checkpoint") else ", no checkpoint"),
              "chain": "chain file", "state": "published state"}.get(src.get("kind"), "")
    w(f"{r['underlying']}  spot {r['spot']:,.2f}  as of {ny_time(r.get('as_of'))}"
      + (f"  ({origin})" if origin else ""))
    w(f"your delta {money(r['user_delta_usd'])} ({r['direction']}; "
      f"{money(r['user_delta_usd_per_pct'])} per 1%)"
      + (f", {r['short_put_contracts']:g} puts sold" if r["short_put_contracts"] else ""))
    w(f"regime labels: {', '.join(r['labels']) or 'none'}"
      + ("  (from the GEX sign only: pass --regime or use --from-redis for the others)"
         if r.get("labels_source") == "gex_sign" else ""))
    w("")
    w(f"  {'scenario':<18} {'dealers':<7} {'flow $':>13} {'your delta P&L':>15} "
      f"{'':<7} {'vs you':<8}")
    for s in r["scenarios"]:
        pnl = s["user_delta_pnl_usd"]
        w(f"  {scenario_label(s):<18} {s['dealers'].upper():<7} {money(s['flow_usd']):>13} "
          f"{money(pnl) if pnl is not None else '':>15} "
          f"{'adverse' if s['adverse'] else '':<7} {s['alignment']:<8}")
    w("")
    w(f"stance in the moves against you: {r['stance']}")
    w(f"size multiplier: x{r['multiplier']:g}  (rule {r['rule']})")
    out.extend(textwrap.wrap(r["explanation"], 100))
    for flag in r["flags"]:
        w(f"flag: {flag}")
    out.extend(note_lines(r.get("notes") or []))
    return "\n".join(out)
