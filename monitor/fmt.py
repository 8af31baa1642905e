"""Numbers for people and for JSON: one finite-number policy and one money formatter,
shared by every output (terminal tables, regime sentences, alerts, metrics, reports).

* :func:`finite`: a value as a finite ``float``, else ``None``. ``None``, booleans,
  strings and bytes are not numbers here; NaN and infinities are "no value".
* :func:`clean_json`: the same policy over a JSON-bound structure (NaN/inf -> ``null``),
  so every ``--json`` output is strict JSON.
* :func:`money`: signed dollars with a magnitude suffix (``k``, ``mm``, ``bn``, ``tn``):
  two decimals by default (``-$4.10bn``, tables and sentences), or ``sig`` significant
  digits (``-$4.1bn``, the compact style of chat alerts).
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from zoneinfo import ZoneInfo

_UNITS = ((1e12, "tn"), (1e9, "bn"), (1e6, "mm"), (1e3, "k"), (1.0, ""))


def finite(x) -> float | None:
    """``x`` as a finite float, else None (see the module docstring)."""
    if x is None or isinstance(x, (bool, str, bytes)):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def clean_json(obj):
    """NaN/inf floats become None, recursively (dict keys as str), for strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    return obj


def _sig(v: float, digits: int) -> str:
    """``v >= 0`` with ``digits`` significant digits, trailing zeros dropped."""
    decimals = max(0, digits - 1 - (int(math.floor(math.log10(v))) if v >= 1 else 0))
    s = f"{v:,.{decimals}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def money(x, *, signed: bool = True, sig: int | None = None) -> str:
    """Dollars with a magnitude suffix: ``+$512.30mm``, ``-$4.10bn`` (``sig=3``:
    ``+$512mm``, ``-$4.1bn``, and ``999.7mm`` rounds up to ``+$1bn``); ``n/a`` when ``x``
    is not a finite number. ``signed=False`` drops the ``+`` (never the ``-``)."""
    v = finite(x)
    if v is None:
        return "n/a"
    a = abs(v)
    sign = "-" if v < 0 else ("+" if signed and (v > 0 or sig is None) else "")
    for i, (div, suf) in enumerate(_UNITS):
        if a < div and div != 1.0:
            continue
        if sig is None:
            return f"{sign}${a / div:,.2f}{suf}" if suf else f"{sign}${a:,.0f}"
        s = _sig(a / div, sig)
        if i > 0 and float(s.replace(",", "")) >= 1000:  # 999.7mm -> 1bn
            div, suf = _UNITS[i - 1]
            s = _sig(a / div, sig)
        return f"{sign}${s}{suf}"
    return f"{sign}${a:,.0f}"  # pragma: no cover - the loop always returns


def level(x) -> str:
    """A price level with two decimals: ``5,812.25``; ``n/a`` for no value."""
    v = finite(x)
    return "n/a" if v is None else f"{v:,.2f}"


def points(x) -> str:
    """A level rounded to whole index points: ``7,661``; ``n/a`` for no value."""
    v = finite(x)
    return "n/a" if v is None else f"{v:,.0f}"


def shares(x: float) -> str:
    """An unsigned count with a magnitude suffix: ``1.25M``, ``12.3k``, ``512``."""
    a = abs(x)
    if a >= 1e6:
        return f"{a / 1e6:,.2f}M"
    if a >= 1e3:
        return f"{a / 1e3:,.1f}k"
    return f"{a:,.0f}"


def qty(x: float) -> str:
    """A signed count: thousands separators when large, 2 decimals when small."""
    return f"{x:+,.0f}" if abs(x) >= 1000 else f"{x:+.2f}"


def adv_words(r: dict) -> str:
    """What ``% ADV`` is a share of (``adv_shares``, ``adv_source`` of a snapshot or whatif
    result), or why there is none."""
    adv = finite(r.get("adv_shares"))
    if not adv:
        return (f"% ADV n/a: no average daily volume for {r.get('underlying')} "
                f"(underlyings.{r.get('underlying')}.adv_shares)")
    src = r.get("adv_source")
    return f"% ADV of {shares(adv)} units a day" + (f", {src}" if src else "")


def flow_words(usd: float) -> str:
    """What the dealers do for a hedge flow (positive = they buy)."""
    if usd > 0:
        return "BUY"
    if usd < 0:
        return "SELL"
    return "none"


def scenario_label(s: dict) -> str:
    """``spot -2%, vol +3 pts, +1 day`` for a scenario dict (``spot_pct``, ``vol_pts``,
    ``days``)."""
    parts = []
    if s["spot_pct"]:
        parts.append(f"spot {s['spot_pct']:+g}%")
    if s["vol_pts"]:
        parts.append(f"vol {s['vol_pts']:+g} pts")
    if s["days"]:
        parts.append(f"+{s['days']:g} day" + ("s" if s["days"] != 1 else ""))
    return ", ".join(parts) or "no change"


def note_lines(notes, width: int = 100) -> list[str]:
    """``note: ...`` lines, each note wrapped to ``width`` columns (continuations
    indented), for the human output's footers."""
    out = []
    for note in notes:
        out.extend(textwrap.wrap(str(note), width, initial_indent="note: ",
                                 subsequent_indent="      ") or ["note:"])
    return out


NY = ZoneInfo("America/New_York")


def ny_time(ts, seconds: bool = False) -> str:
    """``2026-08-21 16:15 EDT``: a time a person reads, in America/New_York with its zone,
    from UTC nanoseconds or an ISO-8601 string (``Z`` or an offset); ``n/a`` for none;
    ``seconds``: ``16:15:04.020``. Machine outputs (JSON, Redis) stay in UTC
    (:func:`iso_utc`)."""
    if ts is None:
        return "n/a"
    if isinstance(ts, str):
        t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    else:
        t = dt.datetime.fromtimestamp(int(ts) / 1e9, tz=dt.timezone.utc)
    t = t.astimezone(NY)
    if seconds:
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d} " + t.strftime("%Z")
    return t.strftime("%Y-%m-%d %H:%M %Z")


def iso_utc(ts_ns: int) -> str:
    """``2026-08-21T22:18:44Z`` for UTC nanoseconds."""
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.timezone.utc).isoformat().replace(
        "+00:00", "Z")
