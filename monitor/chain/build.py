"""Shared by the chain loaders: the row builder (one contract per row, arrays at the end),
number parsing with reasons for rejected rows, snapshot clock formats, file-name parts
and the AM/PM root split of layouts that drop the root."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from monitor.chain.clock import session_clock
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    _EPOCH_ORDINAL,
    is_am_settled_array,
    is_monthly_expiry,
    settlement_ns_array,
)

QUOTEDATA_PREFIX = "Expiration Date,Calls,Last Sale"
CANONICAL_MAGIC = "# monitor-chain v1"
CANONICAL_COLUMNS = ("symbol", "bid", "ask", "oi", "iv", "delta", "gamma")

_NAN = float("nan")


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())

def _quote_fields(f, i_b, i_a, i_oi, i_iv, i_de, i_g) -> tuple:
    """(bid, ask, oi, iv, delta, gamma) of one row of a one-contract-per-row layout; a
    column index of None = the layout has no such column (NaN)."""
    def opt(i, **kw):
        return _num(f[i], required=False, **kw) if i is not None else _NAN

    return (opt(i_b), opt(i_a), _num(f[i_oi], required=True), opt(i_iv, zero_nan=True),
            opt(i_de), opt(i_g))


class _RowError(Exception):
    def __init__(self, reason: str):
        self.reason = reason


_NUM_JUNK = str.maketrans("", "", " \u202f\u00a0\u2009,\"'")


def _num(s: str, *, required: bool, zero_nan: bool = False) -> float:
    """Parse a number field. Empty -> NaN (or ``missing_field`` when ``required``)."""
    try:
        x = float(s)
    except ValueError:
        t = s.translate(_NUM_JUNK).replace("\u2212", "-")
        if t == "":
            if required:
                raise _RowError("missing_field") from None
            return _NAN
        try:
            x = float(t)
        except ValueError:
            raise _RowError("bad_number") from None
    if x != x:  # NaN written as text
        if required:
            raise _RowError("missing_field")
        return _NAN
    if math.isinf(x):
        raise _RowError("bad_number")
    if zero_nan and x == 0.0:
        return _NAN
    return x


class _Builder:
    """Accumulates contracts as Python lists, then builds the :class:`Chain`."""

    __slots__ = ("root", "days", "strike", "is_call", "bid", "ask", "oi", "iv", "delta",
                 "gamma", "rejected")

    def __init__(self) -> None:
        self.root: list[str] = []
        self.days: list[int] = []
        self.strike: list[float] = []
        self.is_call: list[bool] = []
        self.bid: list[float] = []
        self.ask: list[float] = []
        self.oi: list[float] = []
        self.iv: list[float] = []
        self.delta: list[float] = []
        self.gamma: list[float] = []
        self.rejected: Counter = Counter()

    def add(self, root, days, strike, is_call, bid, ask, oi, iv, delta, gamma) -> None:
        if bid < 0 or ask < 0:
            raise _RowError("negative_price")
        if oi < 0:
            raise _RowError("negative_oi")
        if not strike > 0:
            raise _RowError("bad_number")
        self.root.append(root)
        self.days.append(days)
        self.strike.append(strike)
        self.is_call.append(is_call)
        self.bid.append(bid)
        self.ask.append(ask)
        self.oi.append(oi)
        self.iv.append(iv)
        self.delta.append(delta)
        self.gamma.append(gamma)

    def __len__(self) -> int:
        return len(self.strike)

    def keep(self, idx: list[int]) -> None:
        """Keep only the rows ``idx`` (in that order)."""
        for name in ("root", "days", "strike", "is_call", "bid", "ask", "oi", "iv", "delta", "gamma"):
            col = getattr(self, name)
            setattr(self, name, [col[i] for i in idx])

    def build(self, *, underlying: str, spot: float, as_of_ns: int, layout: str, source: Path,
              notes: list[str]) -> Chain:
        n = len(self.strike)
        if n == 0:
            rej = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items())) or "none"
            raise ChainError(f"empty chain: no usable rows in {source} (rejected: {rej})")
        root = np.empty(n, dtype=object)
        root[:] = self.root
        expiry = np.array(self.days, dtype=np.int64).astype("datetime64[D]")
        am = is_am_settled_array(root, expiry)
        f64 = lambda xs: np.array(xs, dtype=np.float64)  # noqa: E731
        clock_ns, clock_note = session_clock(int(as_of_ns), underlying)
        if clock_note:
            notes = list(notes) + [clock_note]
        return Chain(
            underlying=underlying,
            spot=float(spot),
            as_of_ns=int(as_of_ns),
            root=root,
            expiry=expiry,
            settle_ns=settlement_ns_array(expiry, am),
            am_settled=am,
            strike=f64(self.strike),
            is_call=np.array(self.is_call, dtype=bool),
            bid=f64(self.bid),
            ask=f64(self.ask),
            oi=f64(self.oi),
            vendor_iv=f64(self.iv),
            vendor_delta=f64(self.delta),
            vendor_gamma=f64(self.gamma),
            layout=layout,
            source=str(source),
            rejected=self.rejected,
            notes=notes,
            clock_ns=None if clock_ns == int(as_of_ns) else clock_ns,
        )


def _days(d: date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


def _date_from_days(days: int) -> date:
    return date.fromordinal(days + _EPOCH_ORDINAL)


def _ns_to_iso(ns: int) -> str:
    sec, frac = divmod(int(ns), 1_000_000_000)
    dt = datetime.fromtimestamp(sec, tz=timezone.utc)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        s += f".{frac:09d}".rstrip("0")
    return s + "Z"


def format_as_of(ns: int) -> str:
    """ISO-8601 UTC with ``Z`` for integer ns (fraction only when non-zero)."""
    return _ns_to_iso(ns)


_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?"
)


def parse_as_of(text: str) -> int:
    """ISO-8601 timestamp -> integer ns UTC. No zone means UTC. Raises ValueError."""
    m = _ISO_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"bad timestamp {text!r}")
    y, mo, d, hh, mi = (int(m.group(i)) for i in range(1, 6))
    ss = int(m.group(6) or 0)
    frac = int((m.group(7) or "").ljust(9, "0") or 0)
    day = date(y, mo, d)  # validates
    if not (0 <= hh <= 23 and 0 <= mi <= 59 and 0 <= ss <= 60):
        raise ValueError(f"bad time in {text!r}")
    off = 0
    z = m.group(8)
    if z and z not in ("Z", "UTC"):
        sign = -1 if z[0] == "-" else 1
        digits = z[1:].replace(":", "")
        off = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    secs = _days(day) * 86_400 + hh * 3600 + mi * 60 + ss - off
    return secs * 1_000_000_000 + frac


_FILE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,5})[_\-.]")
_FILE_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _name_parts(p: Path) -> tuple[str | None, date | None]:
    """(underlying, date) from a file name like ``SPX_2026-08-21.csv.gz``."""
    name = p.name
    m = _FILE_RE.match(name)
    und = m.group(1).upper() if m else None
    dm = _FILE_DATE_RE.search(name)
    d = None
    if dm:
        try:
            d = date(int(dm.group(1)), int(dm.group(2)), int(dm.group(3)))
        except ValueError:
            d = None
    return und, d


def _assign_am_pm_roots(days: list[int], strike: list[float], is_call: list[bool],
                        am_root: str, pm_root: str, *, try_blocks: bool) -> tuple[list[str], str]:
    """Root per row for a layout that dropped it (see load_eod_snapshot / load_long)."""
    n = len(days)
    monthly_cache: dict[int, bool] = {}

    def monthly(dd: int) -> bool:
        v = monthly_cache.get(dd)
        if v is None:
            v = is_monthly_expiry(_date_from_days(dd))
            monthly_cache[dd] = v
        return v

    if try_blocks and n:
        dec = [i + 1 for i in range(n - 1) if days[i + 1] < days[i]]
        if len(dec) == 1:
            b = dec[0]
            ok = all(monthly(d) for d in set(days[:b]))
            if ok:
                keys0 = set(zip(days[:b], strike[:b], is_call[:b]))
                keys1 = set(zip(days[b:], strike[b:], is_call[b:]))
                ok = len(keys0) == b and len(keys1) == n - b
            if ok:
                return [am_root] * b + [pm_root] * (n - b), "block"
    roots: list[str] = []
    seen: set = set()
    for d, k, c in zip(days, strike, is_call):
        if monthly(d):
            key = (d, k, c)
            if key in seen:
                roots.append(pm_root)
            else:
                seen.add(key)
                roots.append(am_root)
        else:
            roots.append(pm_root)
    return roots, "occurrence"


def _refuse_cut_last_row(lines: list[str], first: int, ncol: int, source: Path,
                         blank: str = " ,\t\r\ufeff") -> None:
    """A file whose last row has fewer fields than its header was cut mid-row (a download
    or copy that stopped): refuse it, naming the line, rather than load a partial chain
    that would print different numbers with exit status 0."""
    for n in range(len(lines) - 1, first - 1, -1):
        line = lines[n]
        if not line.strip(blank) or line.lstrip().startswith("#"):
            continue
        k = len(_split_line(line))
        if k < ncol:
            raise ChainError(f"{source}:{n + 1}: the last row has {k} of {ncol} fields: the file "
                             f"is cut mid-row (truncated?); refusing a partial chain")
        return


def _split_line(line: str) -> list[str]:
    """One CSV line's cells (the csv module only when the line has quotes: faster)."""
    if '"' in line:
        return next(csv.reader([line]))
    return line.split(",")
