"""The classic CBOE delayed-quotes ``quotedata.csv`` layout (one row = the call and the put
of one expiry and strike), with the quirks listed in SOURCES.md §2."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from monitor.chain.build import (
    _NAN,
    QUOTEDATA_PREFIX,
    _Builder,
    _date_from_days,
    _days,
    _num,
    _refuse_cut_last_row,
    _RowError,
    _split_line,
)
from monitor.chain.dates import normalise_text, parse_cboe_date
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    local_to_utc_ns,
    parse_occ,
    underlying_of_root,
)

_LAST_RE = re.compile(r"Last:[ \t]*([-+]?[\d., \t]+)")
_CHANGE_RE = re.compile(r"Change:[ \t]*([-+]?[\d. \t]+)")
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

    _refuse_cut_last_row(lines, hdr_idx + 1, ncol, source)
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
