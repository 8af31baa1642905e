"""Gamma regime: ``long_gamma`` / ``short_gamma`` from the sign of total GEX, with a dead
band so a GEX hovering around zero does not flap (REFERENCE.md, Regimes).

The label switches only when GEX crosses the far side of the band: from ``long_gamma`` to
``short_gamma`` when ``GEX < -band``, back when ``GEX > +band``, where ``band`` is
``dead_band_frac`` of the gross |GEX| (sum of |calls| and |puts| by strike). Each switch is
an event with the numbers behind it and one sentence a trader reads in two seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.render import money

LONG, SHORT = "long_gamma", "short_gamma"


def gamma_sentence(gex_usd_per_pct: float) -> str:
    amount = money(abs(gex_usd_per_pct)).lstrip("+-")
    if gex_usd_per_pct < 0:
        return (f"Dealers short {amount} gamma per 1%: a 1% fall forces about {amount} of "
                f"selling (and a 1% rise about {amount} of buying); feedback risk")
    return (f"Dealers long {amount} gamma per 1%: they buy about {amount} into a 1% fall and "
            f"sell it into a 1% rise; moves are damped, price tends to pin")


@dataclass
class GammaRegime:
    dead_band_frac: float = 0.02
    label: str | None = None

    def update(self, ts_ns: int, root: str, gex: float, gross: float, spot: float,
               zero_gamma: float | None) -> dict | None:
        """The new label's event if it changed, else None."""
        band = self.dead_band_frac * gross
        new = self.label
        if self.label is None:
            new = LONG if gex >= 0 else SHORT
        elif self.label == LONG and gex < -band:
            new = SHORT
        elif self.label == SHORT and gex > band:
            new = LONG
        if new == self.label:
            return None
        old, self.label = self.label, new
        return {"kind": "regime_change", "ts_ns": int(ts_ns), "underlying": root,
                "regime": "gamma", "from": old, "to": new, "gex_usd_per_pct": gex,
                "spot": spot, "zero_gamma": zero_gamma, "message": gamma_sentence(gex)}
