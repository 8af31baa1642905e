"""Loaders for the CBOE chain layouts and the project's canonical chain CSV.

Entry point: :func:`load_chain` sniffs the layout from the file's *content* (gzip or plain,
whatever the name says) and dispatches to:

``quotedata``  classic CBOE delayed-quotes ``quotedata.csv`` (one row = call + put of one
               expiry/strike), see :func:`load_quotedata`.
``eod``        the daily snapshot layout ``# spot,<S>,ts,<UTC>`` + ``strike,dte,cp,...``,
               see :func:`load_eod_snapshot`.
``long``       the reshaped long layout ``Expiration Date,...,Strike,Type,Index Spot``,
               see :func:`load_long`.
``canonical``  this project's own format, see :func:`load_canonical` / :func:`write_canonical`.

Error policy: a *row* that cannot be used never raises; it is dropped and counted in
``chain.rejected[reason]`` (reasons: ``bad_symbol``, ``bad_number``, ``bad_expiry``,
``bad_type``, ``negative_price``, ``negative_oi``, ``missing_field``, ``symbol_mismatch``,
``other_underlying``, ``bad_row``). For ``quotedata`` the counts are per *contract* (a row holds two). A *file*
that cannot be used raises :class:`~monitor.chain.model.ChainError` with a one-line message:
missing file, unknown layout, no spot, no usable rows ("empty chain").

Value conventions (all layouts): ``bid``/``ask`` as in the file (0 stays 0.0, the core
rejects zero asks itself; NaN only where the field is empty); vendor ``gamma``/``delta`` as
in the file (0 is a real value); vendor ``iv`` 0 -> NaN (CBOE writes 0 for "not computed").
Roots decide settlement: ``am_settled = is_am_settled(root, expiry)`` and
``settle_ns`` 09:30/16:00 America/New_York (see :mod:`monitor.chain.occ`).
"""

from __future__ import annotations

import csv
import gzip
import math
import re
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from monitor.chain.dates import normalise_text, parse_cboe_date
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    NY,
    _EPOCH_ORDINAL,
    am_pm_roots,
    format_occ,
    is_am_settled_array,
    is_monthly_expiry,
    local_to_utc_ns,
    parse_occ,
    settlement_ns_array,
    underlying_of_root,
)

__all__ = [
    "LAYOUTS",
    "load_chain",
    "load_quotedata",
    "load_eod_snapshot",
    "load_long",
    "load_canonical",
    "write_canonical",
    "sniff_layout",
    "format_as_of",
    "parse_as_of",
]

LAYOUTS = ("quotedata", "eod", "long", "canonical")
_LAYOUT_ALIASES = {
    "quotedata": "quotedata", "cboe": "quotedata", "cboe_quotedata": "quotedata",
    "eod": "eod", "eod_snapshot": "eod", "snapshot": "eod",
    "long": "long", "cboe_long": "long",
    "canonical": "canonical", "monitor": "canonical",
}

QUOTEDATA_PREFIX = "Expiration Date,Calls,Last Sale"
CANONICAL_MAGIC = "# monitor-chain v1"
CANONICAL_COLUMNS = ("symbol", "bid", "ask", "oi", "iv", "delta", "gamma")

_NAN = float("nan")


# --------------------------------------------------------------------------------------
# Reading and sniffing
# --------------------------------------------------------------------------------------


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _read_text(path) -> tuple[Path, str]:
    p = Path(path)
    if not p.exists():
        raise ChainError(f"chain file not found: {p}")
    if not p.is_file():
        raise ChainError(f"chain path is not a file: {p}")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ChainError(_one_line(f"cannot read chain file {p}: {e}")) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ChainError(_one_line(f"corrupt gzip chain file {p}: {e}")) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return p, text


def sniff_layout(text: str) -> str | None:
    """The layout of a chain file's text, or None when it is none of :data:`LAYOUTS`."""
    head = []
    for line in text.splitlines():
        s = line.strip().lstrip("\ufeff")
        if not s.strip(", \t"):
            continue
        head.append(s)
        if len(head) >= 12:
            break
    if not head:
        return None
    first = head[0]
    if first.startswith(CANONICAL_MAGIC):
        return "canonical"
    if first.startswith("#") and re.match(r"#\s*spot\s*,", first):
        return "eod"
    for s in head:
        if s.lstrip('"').startswith(QUOTEDATA_PREFIX):
            return "quotedata"
    cols = [c.strip().strip('"').lower() for c in first.split(",")]
    if "expiration date" in cols and "strike" in cols and "type" in cols:
        return "long"
    if cols[:3] == ["strike", "dte", "cp"]:
        return "eod"
    return None


def load_chain(path, *, layout: str | None = None, underlying: str | None = None) -> Chain:
    """Load any supported chain file (gzip or plain). ``layout`` forces one of
    :data:`LAYOUTS`; ``underlying`` overrides the name the loader would infer."""
    p, text = _read_text(path)
    if layout is None:
        lay = sniff_layout(text)
        if lay is None:
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            raise ChainError(_one_line(f"unknown chain layout in {p} (first line: {first[:60]!r})"))
    else:
        lay = _LAYOUT_ALIASES.get(layout.strip().lower())
        if lay is None:
            raise ChainError(f"unknown chain layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if lay == "quotedata":
        return _quotedata_from_text(text, p, underlying)
    if lay == "eod":
        return _eod_from_text(text, p, underlying)
    if lay == "long":
        return _long_from_text(text, p, underlying)
    return _canonical_from_text(text, p, underlying)


def load_quotedata(path, *, underlying: str | None = None) -> Chain:
    """Load a classic CBOE ``quotedata.csv`` download (SOURCES.md section 2).

    * The table is found by its ``Expiration Date,Calls,Last Sale`` prefix (no fixed line
      number); metadata lines may be padded with commas, preceded by a line of commas,
      CRLF-terminated, carry stray quotes or numbers written with (narrow) spaces.
    * Spot = the header ``Last:``; ``Last - Change`` (the prior close) goes into ``notes``.
    * Root, expiry, type and strike come from each OCC symbol (SPX vs SPXW, NDX vs NDXP ...
      are told apart there). Each table row yields two contracts (call, put); rejected
      counts are per contract. A symbol off its row's ``Strike``, or more than a day away
      from its ``Expiration Date``, is rejected as ``symbol_mismatch``. Contracts whose
      root belongs to another underlying than the majority (adjusted series such as
      ``AMD1`` after a corporate action, whose deliverable is not 100 shares) are dropped
      as ``other_underlying``.
    * Underlying: ``underlying`` if given, else the most common underlying of the roots
      (``SPXW`` -> ``SPX``, ``NDXP`` -> ``NDX``).
    * ``as_of_ns``: the ``Date:`` line (the *download* instant) converted to UTC, taking
      its UTC offset / zone abbreviation when present, else America/New_York; English,
      Spanish, Russian, French ... month names; a missing year (the malformed ``4 June 4``)
      is taken from the earliest expiry. If the line cannot be parsed at all, 16:00 ET on
      the earliest expiry date in the file is assumed and a note says so.
    """
    p, text = _read_text(path)
    return _quotedata_from_text(text, p, underlying)


def load_eod_snapshot(path, *, underlying: str | None = None) -> Chain:
    """Load the daily snapshot layout (SOURCES.md section 1)::

        # spot,7674.3701,ts,2026-08-21 22:18:44
        strike,dte,cp,oi,gamma,delta,iv,bid,ask

    * Underlying and label date from the file name (``SPX_2026-08-21.csv.gz``), or the
      ``underlying`` argument. Expiry = label date + ``dte`` calendar days.
    * ``as_of_ns`` = the header ``ts`` read as UTC.
    * Every row is kept (OI > 0 already); vendor gamma 0 stays 0.0, iv 0 -> NaN, bid/ask 0 stay 0.0.

    **Root rule (SPX, likewise NDX/RUT).** The layout drops the root, so an SPX (AM-settled
    monthly) and an SPXW (PM) contract on the same monthly expiry give duplicate
    ``(strike, dte, cp)`` rows. The file is two consecutive blocks, each sorted by
    ``(dte, strike, cp)``: first every SPX contract, then every SPXW contract (CBOE's JSON
    order, where ``SPX   `` sorts before ``SPXW``). The loader splits at the single place where
    ``dte`` decreases; the first block is root SPX, the rest SPXW. The split is accepted only
    if every first-block expiry is a monthly expiry (third Friday, or the session before a
    holiday Friday) and neither block repeats a ``(dte, strike, cp)`` key. Verified on all 44
    SPX files: exactly one decrease, all first-block expiries monthly (incl. LEAPS), no
    repeated key within a block; on the monthly expiry days (2026-06-18, 07-17, 08-21)
    every first-block ``dte = 0`` row has zero bid, ask, gamma and iv (the AM contracts
    settled that morning) while the second block's are quoted; and the first block holds
    the larger OI on most duplicate keys, as SPX monthlies do in the quotedata files.
    Otherwise (file re-sorted) the fallback is by occurrence: on a monthly expiry the first
    row of a key is SPX and later ones SPXW; non-monthly expiries are SPXW; a note says so.

    **VIX** files: root ``VIX`` for every row, AM-settled (09:30 ET on the expiry date).
    VIX options are priced off the VIX *future* of their expiry, not the index in the
    header; a note says so (the core's put-call-parity forward handles this).
    """
    p, text = _read_text(path)
    return _eod_from_text(text, p, underlying)


def load_long(path, *, underlying: str | None = None) -> Chain:
    """Load the long layout (SOURCES.md section 3)::

        Expiration Date,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Type,Index Spot

    * One row per contract; ``Type`` is Call/Put; expiries ISO (``Fri Sep 15 2023`` also read).
    * Spot = ``Index Spot`` (first valid value; a note if it varies).
    * Underlying from ``underlying`` or the file name prefix (``SPX_long_2025-01-22`` -> SPX).
    * ``as_of_ns``: 16:00 America/New_York on the date in the file name (these files are
      end-of-day reshapes of quotedata downloads); with no date in the name, 16:00 ET on the
      earliest expiry, with a note.
    * Root rule: the reshaped file is sorted by expiry and strike and keeps the quotedata
      order inside a key, where the SPX row precedes the SPXW row. So on a monthly expiry
      the first row of a ``(expiry, strike, type)`` key is SPX (AM), a second one SPXW (PM);
      a single row on a monthly expiry is SPX (in the quotedata files, strikes listed by one
      root only on a monthly expiry are always SPX); non-monthly expiries are SPXW.
      (Checked: the first row holds the larger OI on ~89 % of differing duplicate keys,
      vs 80 % SPX > SPXW in the quotedata files.)
    """
    p, text = _read_text(path)
    return _long_from_text(text, p, underlying)


def load_canonical(path, *, underlying: str | None = None) -> Chain:
    """Load the project's canonical CSV (written by :func:`write_canonical`; ``.gz`` too)::

        # monitor-chain v1,underlying=SPX,spot=7674.3701,as_of=2026-08-21T22:18:44Z
        symbol,bid,ask,oi,iv,delta,gamma
        SPXW260821C07600000,74.5,75.1,1234,0.1532,0.61,0.0041

    ``symbol`` is compact OCC; ``iv``/``delta``/``gamma`` are the vendor values (empty = NaN);
    empty ``bid``/``ask`` = NaN. ``as_of`` is ISO-8601 UTC with ``Z`` (up to 9 fractional
    digits). Settlement is derived from root + expiry exactly as in the other loaders.
    """
    p, text = _read_text(path)
    return _canonical_from_text(text, p, underlying)


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# quotedata
# --------------------------------------------------------------------------------------

_LAST_RE = re.compile(r"Last:[ \t]*([-+]?[\d., \t]+)")
_CHANGE_RE = re.compile(r"Change:[ \t]*([-+]?[\d. \t]+)")
_QD_FIELDS = ("Last Sale", "Net", "Bid", "Ask", "Volume", "IV", "Delta", "Gamma", "Open Interest")


def _meta_number(rx: re.Pattern, text: str) -> float | None:
    m = rx.search(text)
    if not m:
        return None
    t = m.group(1).strip().rstrip(",").replace(" ", "").replace(",", "")
    try:
        x = float(t)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _split_line(line: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line]))
    return line.split(",")


def _quotedata_from_text(text: str, source: Path, underlying: str | None) -> Chain:
    lines = text.splitlines()
    hdr_idx = None
    for i, line in enumerate(lines):
        if line.lstrip('\ufeff" ').startswith(QUOTEDATA_PREFIX):
            hdr_idx = i
            break
    if hdr_idx is None:
        raise ChainError(f"unknown chain layout in {source}: no '{QUOTEDATA_PREFIX}' table header")
    meta_lines = [normalise_text(ln) for ln in lines[:hdr_idx]]
    meta = "\n".join(meta_lines)
    notes: list[str] = []

    spot = _meta_number(_LAST_RE, meta)
    if spot is None or not spot > 0:
        raise ChainError(f"no spot in {source}: the metadata has no usable 'Last:' value")
    change = _meta_number(_CHANGE_RE, meta)
    name_line = next((ln for ln in meta_lines if "Last:" in ln), "")
    name = name_line.split("Last:")[0].strip(' ,"')
    if name:
        notes.append(f"name: {name}")
    if change is not None:
        notes.append(f"prior_close={round(spot - change, 6)!r} (Last {spot!r} - Change {change!r})")
    date_text = None
    for ln in meta_lines:
        k = ln.find("Date:")
        if k >= 0:
            rest = ln[k + len("Date:"):]
            j = rest.find("Bid:")
            if j >= 0:
                rest = rest[:j]
            date_text = rest.strip(' ,"\t')
            break

    header = [h.strip().strip('"') for h in _split_line(lines[hdr_idx].lstrip("\ufeff"))]
    while header and header[-1] == "":
        header.pop()
    try:
        i_calls = header.index("Calls")
        i_strike = header.index("Strike")
        i_puts = header.index("Puts")
    except ValueError:
        raise ChainError(f"unknown chain layout in {source}: quotedata header lacks Calls/Strike/Puts") from None
    i_exp = header.index("Expiration Date") if "Expiration Date" in header else None
    call_cols = {h: i_calls + 1 + j for j, h in enumerate(header[i_calls + 1:i_strike])}
    put_cols = {h: i_puts + 1 + j for j, h in enumerate(header[i_puts + 1:])}
    for cols, side in ((call_cols, "call"), (put_cols, "put")):
        for need in ("Bid", "Ask", "Open Interest"):
            if need not in cols:
                raise ChainError(f"unknown chain layout in {source}: quotedata {side} columns lack {need!r}")
    ncol = len(header)
    sides = []
    for sym_i, cols in ((i_calls, call_cols), (i_puts, put_cols)):
        sides.append((sym_i, cols["Bid"], cols["Ask"], cols["Open Interest"], cols.get("IV"),
                      cols.get("Delta"), cols.get("Gamma")))

    b = _Builder()
    rej = b.rejected
    exp_cache: dict[str, date | None] = {}

    def exp_col(s: str) -> date | None:
        v = exp_cache.get(s, False)
        if v is False:
            v = None
            for fmt in ("%a %b %d %Y", "%Y-%m-%d", "%m/%d/%Y"):
                try:
                    v = datetime.strptime(s.strip(), fmt).date()
                    break
                except ValueError:
                    continue
            exp_cache[s] = v
        return v

    for line in lines[hdr_idx + 1:]:
        if not line.strip(" ,\t\r\ufeff"):
            continue
        try:
            f = _split_line(line)
        except Exception:
            rej["bad_row"] += 2
            continue
        if len(f) > ncol and not any(x.strip() for x in f[ncol:]):
            f = f[:ncol]
        if len(f) < ncol:
            rej["missing_field"] += 2
            continue
        try:
            strike_col = _num(f[i_strike], required=True)
        except _RowError:
            strike_col = None
        exp_c = exp_col(f[i_exp]) if i_exp is not None else None
        for sym_i, i_bid, i_ask, i_oi, i_iv, i_delta, i_gamma in sides:
            try:
                sym = f[sym_i].strip().strip('"')
                if not sym:
                    raise _RowError("missing_field")
                try:
                    occ = parse_occ(sym)
                except ValueError:
                    raise _RowError("bad_symbol") from None
                if strike_col is not None and abs(strike_col - occ.strike) > 1e-6 * max(1.0, occ.strike):
                    raise _RowError("symbol_mismatch")
                if exp_c is not None and abs((exp_c - occ.expiry).days) > 1:
                    # (1 day of slack: legacy AM symbols carried the Saturday after expiry)
                    raise _RowError("symbol_mismatch")
                b.add(
                    occ.root, _days(occ.expiry), occ.strike, occ.is_call,
                    _num(f[i_bid], required=False),
                    _num(f[i_ask], required=False),
                    _num(f[i_oi], required=True),
                    _num(f[i_iv], required=False, zero_nan=True) if i_iv is not None else _NAN,
                    _num(f[i_delta], required=False) if i_delta is not None else _NAN,
                    _num(f[i_gamma], required=False) if i_gamma is not None else _NAN,
                )
            except _RowError as e:
                rej[e.reason] += 1
            except Exception:
                rej["bad_row"] += 1

    und = underlying.strip().upper() if underlying else "?"
    if len(b):
        cnt = Counter(underlying_of_root(r) for r in b.root)
        main = cnt.most_common(1)[0][0]
        if not underlying:
            und = main
        if len(cnt) > 1:
            # e.g. AMD1: an adjusted series after a corporate action, whose deliverable is
            # not 100 shares of the underlying; mixing it in would misstate every exposure.
            keep = [i for i, r in enumerate(b.root) if underlying_of_root(r) == main]
            dropped = {k: v for k, v in cnt.items() if k != main}
            b.keep(keep)
            rej["other_underlying"] += sum(dropped.values())
            notes.append(f"dropped contracts of other roots (adjusted/non-standard series): {dropped}")

    min_days = min(b.days) if len(b) else None
    hint = _date_from_days(min_days) if min_days is not None else None
    as_of_ns = None
    if date_text:
        dt, dnotes = parse_cboe_date(date_text, year_hint=hint)
        if dt is not None:
            as_of_ns = _aware_to_ns(dt)
            notes.extend(f"as_of: {n}" for n in dnotes)
        else:
            notes.append(f"as_of: Date line unparseable ({'; '.join(dnotes)})")
    else:
        notes.append("as_of: no Date line")
    if as_of_ns is None and hint is not None:
        as_of_ns = local_to_utc_ns(hint, 16, 0)
        notes.append(f"as_of: assumed 16:00 America/New_York on the earliest expiry {hint.isoformat()}")
    notes.append("spot is the header Last: print (may be after-hours or pre-market)")
    return b.build(underlying=und, spot=spot, as_of_ns=as_of_ns or 0, layout="quotedata",
                   source=source, notes=notes)


def _aware_to_ns(dt: datetime) -> int:
    off = dt.utcoffset()
    assert off is not None
    secs = (_days(dt.date()) * 86_400 + dt.hour * 3600 + dt.minute * 60 + dt.second
            - int(off.total_seconds()))
    return secs * 1_000_000_000 + dt.microsecond * 1000


# --------------------------------------------------------------------------------------
# eod snapshot
# --------------------------------------------------------------------------------------


def _eod_from_text(text: str, source: Path, underlying: str | None) -> Chain:
    lines = text.splitlines()
    notes: list[str] = []
    i = 0
    meta: dict[str, str] = {}
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        s = lines[i].strip().lstrip("#").strip()
        parts = [x.strip() for x in s.split(",")]
        for k in range(0, len(parts) - 1, 2):
            meta[parts[k].lower()] = parts[k + 1]
        i += 1
    if i >= len(lines):
        raise ChainError(f"empty chain: no table in {source}")
    spot = None
    if "spot" in meta:
        try:
            spot = float(meta["spot"])
        except ValueError:
            spot = None
    if spot is None or not math.isfinite(spot) or not spot > 0:
        raise ChainError(f"no spot in {source}: the '# spot,<S>,ts,<T>' header has no usable spot")

    header = [h.strip().lower() for h in lines[i].split(",")]
    col = {h: j for j, h in enumerate(header)}
    for need in ("strike", "dte", "cp", "oi"):
        if need not in col:
            raise ChainError(f"unknown chain layout in {source}: eod header lacks {need!r}")
    ncol = len(header)
    i_k, i_d, i_cp, i_oi = col["strike"], col["dte"], col["cp"], col["oi"]
    i_g, i_de, i_iv, i_b, i_a = (col.get(x) for x in ("gamma", "delta", "iv", "bid", "ask"))

    name_und, label = _name_parts(source)
    und = (underlying or name_und or "").strip().upper()
    if not und:
        raise ChainError(f"cannot tell the underlying of {source}; pass underlying=")

    as_of_ns = None
    if "ts" in meta:
        try:
            as_of_ns = parse_as_of(meta["ts"])
        except ValueError:
            as_of_ns = None
    if label is None:
        if as_of_ns is None:
            raise ChainError(f"{source}: no date in the file name and no header ts; cannot place dte")
        label = datetime.fromtimestamp(as_of_ns // 1_000_000_000, tz=NY).date()
        notes.append(f"label date {label.isoformat()} taken from the header ts (New York date)")
    if as_of_ns is None:
        as_of_ns = local_to_utc_ns(label, 16, 0)
        notes.append(f"as_of: no usable header ts; assumed 16:00 America/New_York on {label.isoformat()}")
    label_days = _days(label)

    days: list[int] = []
    b = _Builder()
    rej = b.rejected
    for line in lines[i + 1:]:
        if not line.strip(" ,\t"):
            continue
        if line.lstrip().startswith("#"):
            continue
        f = line.split(",")
        try:
            if len(f) < ncol:
                raise _RowError("missing_field")
            strike = _num(f[i_k], required=True)
            dte_f = _num(f[i_d], required=True)
            if dte_f != int(dte_f):
                raise _RowError("bad_expiry")
            cp = f[i_cp].strip().upper()
            if cp in ("C", "CALL"):
                is_call = True
            elif cp in ("P", "PUT"):
                is_call = False
            else:
                raise _RowError("bad_type")
            d = label_days + int(dte_f)
            b.add("", d, strike, is_call, *_quote_fields(f, i_b, i_a, i_oi, i_iv, i_de, i_g))
            days.append(d)
        except _RowError as e:
            rej[e.reason] += 1
        except Exception:
            rej["bad_row"] += 1

    pair = am_pm_roots(und)
    if und == "VIX":
        b.root = ["VIX"] * len(b)
        notes.append("VIX options are priced off the VIX future of their expiry, not the spot index "
                     "in the header; use a parity forward per expiry")
        notes.append("root VIX for all rows (weeklies are VIXW on the exchange; both AM-settled)")
    elif pair is not None:
        roots, rule = _assign_am_pm_roots(days, b.strike, b.is_call, pair[0], pair[1], try_blocks=True)
        b.root = roots
        if rule == "block":
            n_am = roots.count(pair[0])
            notes.append(f"root: first block ({n_am} rows, monthly expiries only) {pair[0]} (AM), "
                         f"the rest {pair[1]} (PM)")
        else:
            notes.append(f"root: {pair[0]}/{pair[1]} by occurrence (file not in the two-block order)")
    else:
        b.root = [und] * len(b)
    return b.build(underlying=und, spot=spot, as_of_ns=as_of_ns, layout="eod", source=source,
                   notes=notes)


# --------------------------------------------------------------------------------------
# long
# --------------------------------------------------------------------------------------


def _long_from_text(text: str, source: Path, underlying: str | None) -> Chain:
    lines = text.splitlines()
    notes: list[str] = []
    i = 0
    while i < len(lines) and not lines[i].strip(" ,\t"):
        i += 1
    if i >= len(lines):
        raise ChainError(f"empty chain: {source} is empty")
    header = [h.strip().strip('"').lower() for h in _split_line(lines[i].lstrip("\ufeff"))]
    col = {h: j for j, h in enumerate(header)}
    for need in ("expiration date", "strike", "type"):
        if need not in col:
            raise ChainError(f"unknown chain layout in {source}: long header lacks {need!r}")
    ncol = len(header)
    i_e, i_k, i_t = col["expiration date"], col["strike"], col["type"]
    i_b, i_a, i_oi = col.get("bid"), col.get("ask"), col.get("open interest")
    i_iv, i_de, i_g = col.get("iv"), col.get("delta"), col.get("gamma")
    i_s = col.get("index spot", col.get("spot", col.get("underlying price")))
    if i_oi is None:
        raise ChainError(f"unknown chain layout in {source}: long header lacks 'open interest'")

    name_und, name_date = _name_parts(source)
    und = (underlying or name_und or "").strip().upper()
    if not und:
        raise ChainError(f"cannot tell the underlying of {source}; pass underlying=")

    exp_cache: dict[str, int | None] = {}

    def exp_days(s: str) -> int | None:
        v = exp_cache.get(s, -1)
        if v == -1:
            v = None
            t = s.strip().strip('"')
            try:
                v = _days(date.fromisoformat(t[:10]))
            except ValueError:
                for fmt in ("%a %b %d %Y", "%m/%d/%Y"):
                    try:
                        v = _days(datetime.strptime(t, fmt).date())
                        break
                    except ValueError:
                        continue
            exp_cache[s] = v
        return v

    spots: Counter = Counter()
    b = _Builder()
    rej = b.rejected
    days: list[int] = []
    for line in lines[i + 1:]:
        if not line.strip(" ,\t"):
            continue
        try:
            f = _split_line(line)
            if len(f) < ncol:
                raise _RowError("missing_field")
            d = exp_days(f[i_e])
            if d is None:
                raise _RowError("bad_expiry")
            t = f[i_t].strip().strip('"').upper()
            if t in ("CALL", "C"):
                is_call = True
            elif t in ("PUT", "P"):
                is_call = False
            else:
                raise _RowError("bad_type")
            if i_s is not None:
                try:
                    sv = float(f[i_s])
                    if math.isfinite(sv) and sv > 0:
                        spots[sv] += 1
                except ValueError:
                    pass
            b.add("", d, _num(f[i_k], required=True), is_call,
                  *_quote_fields(f, i_b, i_a, i_oi, i_iv, i_de, i_g))
            days.append(d)
        except _RowError as e:
            rej[e.reason] += 1
        except Exception:
            rej["bad_row"] += 1

    if not spots:
        raise ChainError(f"no spot in {source}: no usable 'Index Spot' value")
    spot = spots.most_common(1)[0][0]
    if len(spots) > 1:
        notes.append(f"Index Spot varies across rows ({len(spots)} values); using the most common {spot!r}")

    pair = am_pm_roots(und)
    if pair is not None:
        b.root, _ = _assign_am_pm_roots(days, b.strike, b.is_call, pair[0], pair[1], try_blocks=False)
    else:
        b.root = [und] * len(b)

    if name_date is not None:
        as_of_ns = local_to_utc_ns(name_date, 16, 0)
        notes.append(f"as_of: 16:00 America/New_York on the file-name date {name_date.isoformat()}")
    elif days:
        first = _date_from_days(min(days))
        as_of_ns = local_to_utc_ns(first, 16, 0)
        notes.append(f"as_of: no date in the file name; assumed 16:00 America/New_York on the "
                     f"earliest expiry {first.isoformat()}")
    else:
        as_of_ns = 0
    return b.build(underlying=und, spot=spot, as_of_ns=as_of_ns, layout="long", source=source,
                   notes=notes)


# --------------------------------------------------------------------------------------
# canonical
# --------------------------------------------------------------------------------------


def _canonical_from_text(text: str, source: Path, underlying: str | None) -> Chain:
    lines = text.splitlines()
    if not lines or not lines[0].startswith(CANONICAL_MAGIC):
        raise ChainError(f"unknown chain layout in {source}: missing '{CANONICAL_MAGIC}' line")
    meta: dict[str, str] = {}
    for part in lines[0][len(CANONICAL_MAGIC):].split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            meta[k.strip()] = v.strip()
    try:
        spot = float(meta["spot"])
    except (KeyError, ValueError):
        spot = None
    if spot is None or not math.isfinite(spot) or not spot > 0:
        raise ChainError(f"no spot in {source}: canonical header has no usable spot=")
    try:
        as_of_ns = parse_as_of(meta["as_of"])
    except (KeyError, ValueError):
        raise ChainError(f"{source}: canonical header has no usable as_of=") from None
    und = (underlying or meta.get("underlying") or "").strip().upper()
    if len(lines) < 2 or [h.strip() for h in lines[1].split(",")] != list(CANONICAL_COLUMNS):
        raise ChainError(f"unknown chain layout in {source}: canonical header must be "
                         f"{','.join(CANONICAL_COLUMNS)}")
    b = _Builder()
    rej = b.rejected
    for line in lines[2:]:
        if not line.strip(" ,\t"):
            continue
        f = line.split(",")
        try:
            if len(f) < 7:
                raise _RowError("missing_field")
            try:
                occ = parse_occ(f[0].strip())
            except ValueError:
                raise _RowError("bad_symbol") from None
            b.add(occ.root, _days(occ.expiry), occ.strike, occ.is_call,
                  _num(f[1], required=False), _num(f[2], required=False),
                  _num(f[3], required=True), _num(f[4], required=False),
                  _num(f[5], required=False), _num(f[6], required=False))
        except _RowError as e:
            rej[e.reason] += 1
        except Exception:
            rej["bad_row"] += 1
    if not und and len(b):
        und = Counter(underlying_of_root(r) for r in b.root).most_common(1)[0][0]
    return b.build(underlying=und, spot=spot, as_of_ns=as_of_ns, layout="canonical",
                   source=source, notes=[])


def _symbols(chain: Chain) -> list[str]:
    """Same as ``chain.symbols()`` (compact OCC), with the root+date prefix cached."""
    prefix: dict[tuple[str, int], str] = {}
    out = []
    days = chain.expiry.astype("datetime64[D]").astype(np.int64).tolist()
    for r, d, c, k in zip(chain.root.tolist(), days, chain.is_call.tolist(), chain.strike.tolist()):
        pre = prefix.get((r, d))
        if pre is None:
            pre = format_occ(r, _date_from_days(d), True, 0.0)[:-9]
            prefix[(r, d)] = pre
        m = int(round(k * 1000.0))
        if not 0 <= m <= 99_999_999:
            raise ValueError(f"strike {k!r} outside the OCC range")
        out.append(f"{pre}{'C' if c else 'P'}{m:08d}")
    return out


def _fmt(x: float) -> str:
    return "" if x != x else repr(x)


def write_canonical(chain: Chain, path) -> Path:
    """Write ``chain`` in the canonical format (gzip when ``path`` ends in ``.gz``).

    Floats are written with ``repr`` so :func:`load_canonical` gives back the same arrays
    bit for bit (NaN as an empty field). Metadata kept: underlying, spot, as_of (ns).
    Not kept: ``notes``, ``rejected``, ``layout``, ``source``. Settlement is re-derived from
    root + expiry on load, as every loader does.
    """
    p = Path(path)
    und = str(chain.underlying)
    if "," in und or "\n" in und:
        raise ValueError(f"underlying {und!r} cannot be written")
    out = [f"{CANONICAL_MAGIC},underlying={und},spot={float(chain.spot)!r},"
           f"as_of={_ns_to_iso(int(chain.as_of_ns))}",
           ",".join(CANONICAL_COLUMNS)]
    for sym, bid, ask, oi, iv, de, g in zip(
        _symbols(chain), chain.bid.tolist(), chain.ask.tolist(), chain.oi.tolist(),
        chain.vendor_iv.tolist(), chain.vendor_delta.tolist(), chain.vendor_gamma.tolist(),
    ):
        oi_s = str(int(oi)) if oi == oi and float(oi).is_integer() and abs(oi) < 2**53 else _fmt(oi)
        out.append(f"{sym},{_fmt(bid)},{_fmt(ask)},{oi_s},{_fmt(iv)},{_fmt(de)},{_fmt(g)}")
    data = ("\n".join(out) + "\n").encode("utf-8")
    if p.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    p.write_bytes(data)
    return p

