"""OCC option symbols, expiry calendar helpers and settlement instants.

OCC symbology (see REFERENCE.md, "Symbols"): root (1-6 characters), expiry ``YYMMDD``,
``C``/``P`` and the strike times 1000 in 8 digits. Two spellings are accepted:

* the 21-character padded form, root left-justified in 6 columns: ``SPXW  251219P05800000``;
* the compact form without padding: ``SPXW251219P05800000``.

Settlement (REFERENCE.md, "Pricing model"): PM-settled contracts settle at 16:00
America/New_York on the expiry date, AM-settled ones at 09:30 (the opening print / SOQ).
Which roots are AM-settled is the small table :data:`AM_MONTHLY_ROOTS` / :data:`AM_ALWAYS_ROOTS`
below; everything else (SPXW, NDXP, RUTW, XSP, SPY, single stocks, ...) is PM-settled.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

NY = ZoneInfo("America/New_York")

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NS_PER_S = 1_000_000_000

# --------------------------------------------------------------------------------------
# Settlement style per root
# --------------------------------------------------------------------------------------

#: Roots whose *monthly* expiries (third Friday, or the session before when that Friday is
#: an exchange holiday) are AM-settled (settlement value from the opening prints, 09:30 ET).
#: The PM-settled weekly/daily siblings have their own roots (right-hand side, for reference).
AM_MONTHLY_ROOTS: dict[str, str] = {
    "SPX": "SPXW",  # S&P 500: SPX = AM monthlies/LEAPS, SPXW = PM weeklies/dailies/EOM
    "NDX": "NDXP",  # Nasdaq-100: NDX = AM monthlies, NDXP = PM
    "RUT": "RUTW",  # Russell 2000: RUT = AM monthlies, RUTW = PM
    "DJX": "DJXW",  # Dow Jones /100: DJX monthlies AM
}

#: Roots that are AM-settled on every expiry. VIX options (and VIXW weeklies) settle on the
#: special opening quotation on the VIX settlement Wednesday (09:30 ET is used as the instant).
AM_ALWAYS_ROOTS: frozenset[str] = frozenset({"VIX", "VIXW"})

#: Root -> underlying for roots that differ from their underlying's ticker.
ROOT_UNDERLYING: dict[str, str] = {
    "SPXW": "SPX",
    "SPXQ": "SPX",
    "SPXPM": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
    "DJXW": "DJX",
}


def underlying_of_root(root: str) -> str:
    """The underlying a root trades on: ``SPXW`` -> ``SPX``, ``NDXP`` -> ``NDX``, ``SPY`` -> ``SPY``."""
    r = root.strip().upper()
    return ROOT_UNDERLYING.get(r, r)


def am_pm_roots(underlying: str) -> tuple[str, str] | None:
    """``(am_root, pm_root)`` for underlyings with both an AM monthly and a PM root, else None."""
    u = underlying.strip().upper()
    if u in AM_MONTHLY_ROOTS:
        return u, AM_MONTHLY_ROOTS[u]
    return None


# --------------------------------------------------------------------------------------
# Expiry calendar (no external data needed at run time)
# --------------------------------------------------------------------------------------


def third_friday(year: int, month: int) -> date:
    """The third Friday of ``year-month``."""
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return first + timedelta(days=offset + 14)


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _friday_holiday(d: date) -> bool:
    """NYSE holidays that can fall on a third Friday (days 15-21 of a month).

    Only Good Friday and Juneteenth (a NYSE holiday since 2022; observed on Friday the 18th
    when the 19th is a Saturday, as in 2027) can: New Year, Independence Day and Christmas
    fall outside days 15-21 and the Monday/Thursday holidays are not Fridays. Unscheduled
    closures are not modelled.
    """
    if d == easter_sunday(d.year) - timedelta(days=2):
        return True
    if d.month == 6 and d.year >= 2022 and (d.day == 19 or (d.day == 18 and d.weekday() == 4)):
        return True
    return False


@lru_cache(maxsize=4096)
def monthly_expiry(year: int, month: int) -> date:
    """Standard monthly expiry of ``year-month``: the third Friday, or the session before
    it when that Friday is an exchange holiday (Good Friday, Juneteenth), e.g. 2026-06-18.

    Matches ``monthly_opex_session`` of ``shared/data/calendar/us_opex_calendar_1990-2027.csv``
    for every month 1990-2027 (checked in the tests).
    """
    d = third_friday(year, month)
    while _friday_holiday(d) or d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def is_monthly_expiry(d: date) -> bool:
    """True when ``d`` is its month's standard (third-Friday, holiday-shifted) expiry."""
    d = _to_date(d)
    return monthly_expiry(d.year, d.month) == d


def is_am_settled(root: str, expiry: date) -> bool:
    """Whether contracts of ``root`` expiring on ``expiry`` are AM-settled.

    * SPX, NDX, RUT, DJX roots on a monthly expiry (:func:`monthly_expiry`): AM.
    * VIX and VIXW: always AM (VIX settlement Wednesday, special opening quotation).
    * Everything else (SPXW, NDXP, RUTW, XSP, SPY, equities, ETFs, and the AM roots on a
      non-monthly date, which only old PM-settled series used): PM.
    """
    r = root.strip().upper()
    if r in AM_ALWAYS_ROOTS:
        return True
    if r in AM_MONTHLY_ROOTS:
        return is_monthly_expiry(expiry)
    return False


# --------------------------------------------------------------------------------------
# Settlement instants
# --------------------------------------------------------------------------------------


def _to_date(x) -> date:
    if isinstance(x, datetime):
        return x.date()
    if isinstance(x, date):
        return x
    if isinstance(x, np.datetime64):
        return date.fromordinal(_EPOCH_ORDINAL + int(x.astype("datetime64[D]").astype(np.int64)))
    if isinstance(x, str):
        return date.fromisoformat(x)
    raise TypeError(f"cannot interpret {x!r} as a date")


def local_to_utc_ns(d: date, hour: int, minute: int, tz: ZoneInfo = NY) -> int:
    """``d hour:minute`` wall-clock time in ``tz``, as integer ns since the epoch (UTC)."""
    local = datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz)
    off = local.utcoffset()
    assert off is not None
    secs = (d.toordinal() - _EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60
    return (secs - int(off.total_seconds())) * _NS_PER_S


@lru_cache(maxsize=65536)
def _settlement_ns_days(days: int, am: bool) -> int:
    d = date.fromordinal(_EPOCH_ORDINAL + days)
    return local_to_utc_ns(d, 9, 30) if am else local_to_utc_ns(d, 16, 0)


def settlement_ns(expiry, am: bool) -> int:
    """Settlement instant of an expiry, integer ns UTC: 09:30 (``am``) or 16:00
    America/New_York on the expiry date (DST-correct via zoneinfo).

    ``expiry`` may be a ``date``, ``datetime`` (its date is used), ``numpy.datetime64`` or ISO string.
    """
    d = _to_date(expiry)
    return _settlement_ns_days(d.toordinal() - _EPOCH_ORDINAL, bool(am))


def settlement_ns_array(expiry: np.ndarray, am: np.ndarray) -> np.ndarray:
    """Vectorised :func:`settlement_ns`: ``expiry`` datetime64[D] array, ``am`` bool array
    (or a scalar bool); returns int64 ns UTC. Each distinct (date, am) is computed once."""
    days = np.asarray(expiry).astype("datetime64[D]").astype(np.int64)
    am_arr = np.broadcast_to(np.asarray(am, dtype=bool), days.shape)
    out = np.empty(days.shape, dtype=np.int64)
    if days.size == 0:
        return out
    key = days * 2 + am_arr.astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    vals = np.array([_settlement_ns_days(int(k) >> 1, bool(k & 1)) for k in uniq], dtype=np.int64)
    out[...] = vals[inv.reshape(days.shape)]
    return out


def is_am_settled_array(root: np.ndarray, expiry: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_am_settled` over parallel arrays (cached per distinct pair)."""
    root = np.asarray(root, dtype=object)
    days = np.asarray(expiry).astype("datetime64[D]").astype(np.int64)
    out = np.zeros(days.shape, dtype=bool)
    cache: dict[tuple[str, int], bool] = {}
    for i in range(days.shape[0]):
        k = (root[i], int(days[i]))
        v = cache.get(k)
        if v is None:
            v = is_am_settled(k[0], date.fromordinal(_EPOCH_ORDINAL + k[1]))
            cache[k] = v
        out[i] = v
    return out


# --------------------------------------------------------------------------------------
# OCC symbols
# --------------------------------------------------------------------------------------


class OccSymbol(NamedTuple):
    root: str
    expiry: date
    is_call: bool
    strike: float


_ROOT_RE = re.compile(r"[A-Z0-9]{1,6}")
_TAIL_RE = re.compile(r"(\d{2})(\d{2})(\d{2})([CP])(\d{8})")


def parse_occ(symbol: str) -> OccSymbol:
    """Parse an OCC option symbol (21-char padded or compact form).

    Raises ``ValueError`` with the reason for anything else: wrong length, a root that is
    not 1-6 upper-case letters/digits, a type other than ``C``/``P``, non-digit date or
    strike, or an impossible date. Years are 20YY.
    """
    if not isinstance(symbol, str):
        raise ValueError(f"OCC symbol must be a string, got {type(symbol).__name__}")
    s = symbol
    n = len(s)
    if n < 16 or n > 21:
        raise ValueError(f"bad OCC symbol {symbol!r}: length {n}, expected 16-21 characters")
    head, tail = s[:-15], s[-15:]
    if n == 21 and " " in head:
        root = head.rstrip(" ")
    else:
        root = head
    if not _ROOT_RE.fullmatch(root):
        raise ValueError(f"bad OCC symbol {symbol!r}: root {root!r} is not 1-6 characters A-Z/0-9")
    cp = tail[6]
    if cp not in "CP":
        raise ValueError(f"bad OCC symbol {symbol!r}: type {cp!r} is not C or P")
    m = _TAIL_RE.fullmatch(tail)
    if m is None:
        raise ValueError(f"bad OCC symbol {symbol!r}: expected YYMMDD[C|P]8-digit strike after the root")
    yy, mm, dd = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        exp = date(2000 + yy, mm, dd)
    except ValueError:
        raise ValueError(f"bad OCC symbol {symbol!r}: invalid expiry date "
                         f"{m.group(1)}{m.group(2)}{m.group(3)}") from None
    return OccSymbol(root, exp, cp == "C", int(m.group(5)) / 1000.0)


def format_occ(root: str, expiry, is_call: bool, strike: float) -> str:
    """Compact OCC symbol, e.g. ``format_occ("SPXW", date(2025,12,19), False, 5800.0)`` ->
    ``SPXW251219P05800000``. ``expiry`` may be a date or numpy datetime64."""
    r = str(root).strip()
    if not _ROOT_RE.fullmatch(r):
        raise ValueError(f"bad OCC root {root!r}")
    d = _to_date(expiry)
    if not 2000 <= d.year <= 2099:
        raise ValueError(f"expiry {d} outside the OCC 20YY range")
    k = int(round(float(strike) * 1000.0))
    if not 0 <= k <= 99_999_999:
        raise ValueError(f"strike {strike!r} outside the OCC range")
    return f"{r}{d.year % 100:02d}{d.month:02d}{d.day:02d}{'C' if is_call else 'P'}{k:08d}"


def format_occ_many(root, expiry, is_call, strike) -> list[str]:
    """:func:`format_occ` of each row of the arrays (a chain's symbols): the checks and
    text of the root and date are made once per (root, expiry), not per contract."""
    prefix: dict[tuple[str, int], str] = {}
    out = []
    days = np.asarray(expiry).astype("datetime64[D]").astype(np.int64).tolist()
    for r, d, c, k in zip(np.asarray(root).tolist(), days, np.asarray(is_call).tolist(),
                          np.asarray(strike, dtype=np.float64).tolist()):
        pre = prefix.get((r, d))
        if pre is None:
            pre = prefix[(r, d)] = format_occ(r, np.datetime64(d, "D"), True, 0.0)[:-9]
        m = int(round(k * 1000.0))
        if not 0 <= m <= 99_999_999:
            raise ValueError(f"strike {k!r} outside the OCC range")
        out.append(f"{pre}{'C' if c else 'P'}{m:08d}")
    return out


def format_occ_padded(root: str, expiry, is_call: bool, strike: float) -> str:
    """The 21-character padded OCC form (``SPXW  251219P05800000``)."""
    compact = format_occ(root, expiry, is_call, strike)
    r = compact[:-15]
    return f"{r:<6}{compact[-15:]}"


def first_expiry_after(expiries, day) -> np.datetime64 | None:
    """The earliest of ``expiries`` (dates) strictly after ``day``: the "next" expiration
    of the tape's buckets and of the ``after_next_expiry`` horizon; None if there is none."""
    exp = np.asarray(expiries).astype("datetime64[D]")
    after = exp[exp > np.datetime64(day, "D")]
    return after.min() if after.size else None
