"""Desk-chat alerts: regime events to Slack, Microsoft Teams and generic JSON webhooks.

Formatters (one event -> the target's native JSON payload; pure functions)::

    format_slack(event, note=None)    {"text": fallback one-liner, "blocks": [Block Kit]}
    format_teams(event, note=None)    {"type": "message", "attachments": [{"contentType":
                                       "application/vnd.microsoft.card.adaptive",
                                       "content": AdaptiveCard 1.4}]}
    format_generic(event, note=None)  {"text": Markdown (Mattermost-compatible),
                                       "event": the event, "alert_id": ...,
                                       "note": note (only when there is one)}

An event is a regime event as made by :mod:`monitor.regimes` (``kind``, ``ts_ns``,
``underlying``, ``regime``, ``from``, ``to``, ``gex_usd_per_pct``, ``spot``,
``zero_gamma``, ``message``); other numeric keys are shown as extra facts (labelled and
formatted from their names: ``*_usd*`` dollars, ``*_pct`` percent, ``*_share`` share),
``"mechanical": true`` adds the line "Mechanical and non-directional". Dollars read
``-$4.1bn`` (3 significant digits, ``k``/``mm``/``bn``/``tn``), levels ``5,812.25``.

Pure functions: no I/O, no state (delivery is :mod:`monitor.sinks.alerts.delivery`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import msgspec
from pydantic import SecretStr

from monitor.core.exposures import BY_KEY
from monitor.fmt import finite, level, money
from monitor.sinks.redis_sink import numpy_enc_hook

_ET = ZoneInfo("America/New_York")  # times a person reads (UTC beside it in the context line)

__all__ = ["FORMATTERS", "AlertView", "describe", "format_slack", "format_teams",
           "format_generic", "alert_id", "held_note", "usd", "level", "encode"]


def usd(x, *, signed: bool = True) -> str:
    """Dollars in the alerts' compact style: 3 significant digits, ``-$4.1bn``."""
    return money(x, signed=signed, sig=3)


# ---------------------------------------------------------------------------------------
# Event -> words (shared by the three formatters)

_STANDARD = frozenset({"kind", "ts_ns", "underlying", "regime", "from", "to",
                       "gex_usd_per_pct", "spot", "zero_gamma", "message", "mechanical"})
_ACRONYMS = {"gex": "GEX", "dex": "DEX", "vex": "VEX", "cex": "CEX", "iv": "IV",
             "oi": "OI", "atm": "ATM", "vix": "VIX", "es": "ES", "otm": "OTM", "itm": "ITM"}
_SUFFIXES = (  # key suffix -> (unit in the label, formatter); exposures: the registry
    ("_usd_per_pct", "$ per 1% spot move", lambda v: usd(v)),
    ("_usd_per_vol_pt", "$ per vol point", lambda v: usd(v)),
    ("_usd_per_day", "$ per day", lambda v: usd(v)),
    ("_usd", "$", lambda v: usd(v)),
    ("_pct", "%", lambda v: f"{v:+.2f}%"),
    ("_bps", "bp", lambda v: f"{v:+.1f} bp"),
    ("_vol_pts", "vol points", lambda v: f"{v:+.2f}"),
    ("_share", None, lambda v: f"{v:.1%}"),  # None: the label is the whole name
    ("_frac", None, lambda v: f"{v:.1%}"),
    ("_days", "days", lambda v: f"{v:g}"),
    ("_s", "seconds", lambda v: f"{v:g}"),
)
_MAX_FACTS = 10  # Slack: at most 10 fields in a section


def _exposure_label(key: str) -> str:
    e = BY_KEY[key]
    return f"{e.short} ({e.unit})"


def _words(name: str) -> str:
    parts = [_ACRONYMS.get(p, p) for p in str(name).split("_") if p]
    s = " ".join(parts)
    return s[:1].upper() + s[1:] if s else ""


def _state(x) -> str:
    return "none" if x is None else str(x).replace("_", " ")


def _extra_fact(key: str, value) -> tuple[str, str] | None:
    if isinstance(value, str):
        return (_words(key), value[:200])
    v = finite(value)
    if v is None:
        return None
    if key in BY_KEY:
        return (_exposure_label(key), usd(v))
    for suffix, unit, fmt in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            if unit is None:
                return (_words(key), fmt(v))
            return (f"{_words(key[: -len(suffix)])} ({unit})", fmt(v))
    if isinstance(value, int) or (v.is_integer() and abs(v) < 1e15):
        return (_words(key), f"{int(v):,}")
    return (_words(key), f"{v:,.4g}")


def _times(ts_ns) -> str:
    v = finite(ts_ns)
    if v is None:
        return ""
    try:
        t = datetime.fromtimestamp(v / 1e9, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return ""
    return t.astimezone(_ET).strftime("%Y-%m-%d %H:%M:%S %Z") + t.strftime(" (%H:%M:%S UTC)")


@dataclass(frozen=True)
class AlertView:
    """What every target shows: a title, the sentence, facts, a context line."""

    title: str
    message: str
    facts: list[tuple[str, str]]
    context: str
    note: str | None = None
    mechanical: bool = False

    @property
    def fallback(self) -> str:
        """One line for notifications: the title and the key numbers."""
        nums = "; ".join(f"{k} {v}" for k, v in self.facts[:3])
        line = f"{self.title} — {nums}" if nums else self.title
        if self.note:
            line += f" [{self.note}]"
        return line


def describe(event: Mapping, note: str | None = None) -> AlertView:
    """The words and numbers of ``event`` (see the module docstring)."""
    u = str(event.get("underlying") or "?")
    kind = event.get("kind") or "event"
    regime = event.get("regime")
    frm, to = event.get("from"), event.get("to")
    name = _state(regime) if regime else _state(kind)
    if "regime" not in name:
        name += " regime"
    if to is not None or frm is not None:
        change = f"{_state(frm)} → {_state(to)}" if frm is not None else f"{_state(to)}"
        title = f"{u} {name}: {change}"
    else:
        title = f"{u} {name}"
    facts: list[tuple[str, str]] = []
    gex = finite(event.get("gex_usd_per_pct"))
    if "gex_usd_per_pct" in event:
        side = "" if gex is None else (" (dealers long gamma)" if gex >= 0
                                       else " (dealers short gamma)")
        facts.append((_exposure_label("gex_usd_per_pct"), usd(gex) + side))
    spot = finite(event.get("spot"))
    if "spot" in event:
        facts.append(("Spot", level(spot)))
    if "zero_gamma" in event:
        zg = finite(event.get("zero_gamma"))
        if zg is None:
            text = "none near spot (GEX keeps its sign)"
        elif spot:
            text = f"{level(zg)} ({(zg / spot - 1) * 100:+.2f}% vs spot)"
        else:
            text = level(zg)
        facts.append(("Zero gamma", text))
    for key, value in event.items():
        if key in _STANDARD or str(key).startswith("_") or len(facts) >= _MAX_FACTS:
            continue
        fact = _extra_fact(str(key), value)
        if fact is not None:
            facts.append(fact)
    context = " · ".join(p for p in (u, name, _times(event.get("ts_ns"))) if p)
    message = str(event.get("message") or "")
    return AlertView(title=title, message=message, facts=facts[:_MAX_FACTS], context=context,
                     note=note, mechanical=event.get("mechanical") is True)


_MECHANICAL = "Mechanical and non-directional (hedging flows from the expiry calendar)."


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _slack_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_slack(event: Mapping, note: str | None = None) -> dict:
    """Slack incoming-webhook payload (Block Kit) with a top-level ``text`` fallback."""
    v = describe(event, note)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(v.title, 150),
                                    "emoji": True}},
    ]
    lines = [_slack_escape(v.message)] if v.message else []
    if v.mechanical:
        lines.append(f"_{_MECHANICAL}_")
    if lines:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), 3000)}})
    if v.facts:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{_slack_escape(k)}*\n{_slack_escape(val)}", 2000)}
            for k, val in v.facts]})
    if v.note:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": f":warning: _{_slack_escape(v.note)}_"}})
    if v.context:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _cut(_slack_escape(v.context), 3000)}]})
    return {"text": _cut(v.fallback, 3000), "blocks": blocks}


def format_teams(event: Mapping, note: str | None = None) -> dict:
    """Microsoft Teams Workflows-webhook payload: a message with one AdaptiveCard 1.4."""
    v = describe(event, note)
    body: list[dict] = [
        {"type": "TextBlock", "text": v.title, "weight": "Bolder", "size": "Medium",
         "wrap": True},
    ]
    if v.message:
        body.append({"type": "TextBlock", "text": v.message, "wrap": True})
    if v.mechanical:
        body.append({"type": "TextBlock", "text": _MECHANICAL, "wrap": True,
                     "isSubtle": True})
    if v.facts:
        body.append({"type": "FactSet",
                     "facts": [{"title": k, "value": val} for k, val in v.facts]})
    if v.note:
        body.append({"type": "TextBlock", "text": v.note, "wrap": True, "color": "Warning"})
    if v.context:
        body.append({"type": "TextBlock", "text": v.context, "wrap": True, "isSubtle": True,
                     "size": "Small", "spacing": "Small"})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "msteams": {"width": "Full"},
            "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


def alert_id(event: Mapping) -> str:
    """A stable id of the alert (the same on every retry): 16 hex digits."""
    key = "|".join(str(event.get(k)) for k in ("underlying", "regime", "from", "to", "ts_ns"))
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _jsonable(obj):
    """``obj`` as plain JSON types (numpy scalars/arrays converted, NaN/inf -> None)."""
    return msgspec.json.decode(encode(obj))


def format_generic(event: Mapping, note: str | None = None) -> dict:
    """Generic JSON webhook (Mattermost-compatible): Markdown ``text`` plus the event."""
    v = describe(event, note)
    lines = [f"**{v.title}**"]
    if v.message:
        lines.append(v.message)
    if v.mechanical:
        lines.append(f"_{_MECHANICAL}_")
    lines.extend(f"- {k}: {val}" for k, val in v.facts)
    if v.note:
        lines.append(f"_{v.note}_")
    if v.context:
        lines.append(v.context)
    out = {"text": "\n".join(lines), "event": _jsonable(dict(event)),
           "alert_id": alert_id(event)}
    if note:
        out["note"] = note
    return out


FORMATTERS: dict[str, Callable[[Mapping, str | None], dict]] = {
    "slack": format_slack, "teams": format_teams, "generic": format_generic}


def _enc_hook(obj):
    if isinstance(obj, SecretStr):
        return "**********"
    try:
        return numpy_enc_hook(obj)
    except NotImplementedError:
        return str(obj)


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode(obj) -> bytes:
    """Strict JSON (NaN/inf -> null; secrets masked; numpy converted)."""
    return _encoder.encode(obj)


def _clock_text(wall: float, now_wall: float) -> str:
    """``HH:MM EDT`` in New York (``YYYY-MM-DD HH:MM EDT`` when not today there)."""
    t = datetime.fromtimestamp(wall, tz=_ET)
    now = datetime.fromtimestamp(now_wall, tz=_ET)
    return t.strftime("%H:%M %Z") if t.date() == now.date() else t.strftime("%Y-%m-%d %H:%M %Z")


def held_note(since_wall: float, reasons, now_wall: float | None = None) -> str:
    """``Held back from HH:MM EDT while data quality was poor (<reason>); resumed``."""
    now_wall = time.time() if now_wall is None else now_wall
    why = "; ".join(r for r in reasons if r) or "reason not given"
    return (f"Held back from {_clock_text(since_wall, now_wall)} while data quality was "
            f"poor ({why}); resumed")
