"""Values typed on the command line: spot moves, vol changes, days, ranges and dollar
amounts. Each parser accepts the forms a desk types (``-2%``, ``+3``, ``1d``, ``-1mm``)
and raises ``ValueError`` with the option's name and an example on anything else.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def _number(text: str, what: str, example: str, suffixes: tuple[str, ...] = ()) -> float:
    s = str(text).strip().replace(" ", "")
    low = s.lower()
    for suf in sorted(suffixes, key=len, reverse=True):
        if low.endswith(suf):
            s = s[: -len(suf)]
            break
    if not re.fullmatch(_NUMBER, s):
        raise ValueError(f"cannot read {what} {text!r}: expected a number like {example}")
    value = float(s)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {text!r}")
    return value


def parse_spot_pct(text: str) -> float:
    """``--spot``: a spot move in percent, e.g. ``-2%``, ``+1.5%`` (the ``%`` is optional:
    ``-2`` means -2 %). Must be above -100 %."""
    value = _number(text, "--spot", "-2% or +1.5%", ("%",))
    if value <= -100.0:
        raise ValueError(f"--spot {text!r}: a move of -100 % or less leaves no spot")
    return value


def parse_vol_pts(text: str) -> float:
    """``--vol``: implied-vol change in vol points, every contract alike, e.g. ``+3``
    (20 % -> 23 %) or ``-2pts``. A ``%`` is refused: points, not a relative change."""
    s = str(text).strip()
    if s.endswith("%"):
        raise ValueError(f"--vol {text!r}: give implied-vol points without '%', e.g. +3 "
                         f"(20% -> 23%)")
    return _number(s, "--vol", "+3 (vol points)", ("pts", "pt"))


def parse_days(text: str) -> float:
    """``--days``: calendar days passing, e.g. ``1`` or ``0.5`` (``1d`` accepted); >= 0."""
    value = _number(text, "--days", "1 or 0.5", ("days", "day", "d"))
    if value < 0:
        raise ValueError(f"--days {text!r}: days passing must be 0 or more")
    return value


def parse_curve_range(text: str) -> tuple[float, float]:
    """``--range``: the curve's spot range in percent, ``LO:HI`` (or ``LO..HI``), e.g.
    ``-5:5`` or ``-10%:+3%``; LO < HI, LO > -100."""
    parts = re.split(r"\.\.|:", str(text).strip())
    if len(parts) != 2:
        raise ValueError(f"cannot read --range {text!r}: expected LO:HI in percent, "
                         f"e.g. -5:5")
    lo, hi = (parse_spot_pct(p) for p in parts)
    if not lo < hi:
        raise ValueError(f"--range {text!r}: LO must be below HI")
    return lo, hi


SURFACE_RULES = ("sticky-strike", "sticky-moneyness")


def parse_surface(text: str) -> str:
    """``--surface``: ``sticky-strike`` or ``sticky-moneyness`` (underscores accepted);
    returned in the core's spelling (``sticky_strike``)."""
    rule = str(text).strip().lower().replace("_", "-")
    if rule not in SURFACE_RULES:
        raise ValueError(f"--surface must be {' or '.join(SURFACE_RULES)}, not {text!r}")
    return rule.replace("-", "_")


_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}


def parse_usd(text: str) -> float:
    """A dollar amount: ``2.5e6``, ``-1mm``, ``+250k``, ``$-1.2m``, ``1,000,000``, ``-3bn``."""
    s = str(text).strip().lower().replace(",", "").replace("_", "").replace(" ", "")
    sign = 1.0
    if s[:1] in "+-":
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    s = s.lstrip("$")
    if s[:1] in "+-":
        sign, s = sign * (-1.0 if s[0] == "-" else 1.0), s[1:]
    m = re.fullmatch(r"((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)([a-z]*)", s)
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError(f"cannot read dollar delta {text!r}: expected e.g. 2.5e6, -1mm, "
                         f"+250k")
    value = sign * float(m.group(1)) * _SUFFIX[m.group(2)]
    if not math.isfinite(value):
        raise ValueError(f"dollar delta must be finite, got {text!r}")
    return value
