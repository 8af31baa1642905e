"""The reshaped CBOE long layout: ``Expiration Date,...,Strike,Type,Index Spot``
(SOURCES.md §3)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from monitor.chain.build import (
    _assign_am_pm_roots,
    _Builder,
    _date_from_days,
    _days,
    _name_parts,
    _num,
    _quote_fields,
    _refuse_cut_last_row,
    _RowError,
    _split_line,
)
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    am_pm_roots,
    local_to_utc_ns,
)


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
    _refuse_cut_last_row(lines, i + 1, ncol, source)
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
