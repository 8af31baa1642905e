"""The CBOE end-of-day snapshot layout: ``# spot,<S>,ts,<UTC>`` then
``strike,dte,cp,oi,gamma,delta,iv,bid,ask`` (SOURCES.md §1)."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.chain.build import (
    _assign_am_pm_roots,
    _Builder,
    _days,
    _num,
    _quote_fields,
    _refuse_cut_last_row,
    _RowError,
    parse_as_of,
)
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    NY,
    am_pm_roots,
    local_to_utc_ns,
)

_EOD_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,5})_(\d{4})-(\d{2})-(\d{2})\.csv(?:\.gz)?$")


def _eod_name(p: Path) -> tuple[str | None, date | None]:
    """(root, label date) from a name of the documented form ``ROOT_YYYY-MM-DD.csv[.gz]``,
    else (None, None): this layout drops the root, and any other name (``full.csv``) would
    make a root up."""
    m = _EOD_NAME.match(p.name)
    if m is None:
        return None, None
    try:
        return m.group(1).upper(), date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
    except ValueError:
        return None, None


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

    _refuse_cut_last_row(lines, i + 1, ncol, source)
    name_und, label = _eod_name(source)
    und = (underlying or name_und or "").strip().upper()
    if not und:
        raise ChainError(f"cannot tell the underlying of {source}: this layout has no root "
                         f"column; name the file ROOT_YYYY-MM-DD.csv[.gz] (e.g. "
                         f"SPX_2026-08-21.csv.gz) or pass --underlying ROOT")
    if underlying and name_und and underlying.strip().upper() != name_und:
        notes.append(f"underlying {und} as given (the file name says {name_und})")

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

    b = _Builder()
    days = _clean_table(lines[i + 1:], ncol, col, label_days, b)
    if days is None:
        days = _rows(lines[i + 1:], ncol, col, label_days, b)

    pair = am_pm_roots(und)
    if und == "VIX":
        b.root = ["VIX"] * len(b)
        notes.append("VIX options are priced off the VIX future of their expiry, not the spot index "
                     "in the header; use a parity forward per expiry")
        notes.append("root VIX for all rows (weeklies are VIXW on the exchange; both AM-settled)")
    elif pair is not None:
        if days and not any(days[k + 1] < days[k] for k in range(len(days) - 1)):
            # the documented order is one AM block, then the PM block starting again at
            # the shortest expiry: rows that never start again stop inside the first block
            raise ChainError(f"{source}: the rows stop inside the {pair[0]} (AM) block: no "
                             f"{pair[1]} (PM) block follows (truncated?); refusing a "
                             f"partial chain")
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


_OPTIONAL = ("bid", "ask", "iv", "delta", "gamma")
#: pandas' C reader gives the correctly rounded double of every decimal (as ``float``)
#: by default from pandas 3; before, only with its round-trip converter
_EXACT = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def _rows(lines: list[str], ncol: int, col: dict[str, int], label_days: int,
          b: _Builder) -> list[int]:
    """Every table row into ``b``, one at a time, each refused row counted by reason;
    the expiry days of the rows kept."""
    i_k, i_d, i_cp, i_oi = col["strike"], col["dte"], col["cp"], col["oi"]
    i_b, i_a, i_iv, i_de, i_g = (col.get(x) for x in _OPTIONAL)
    days: list[int] = []
    rej = b.rejected
    for line in lines:
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
    return days


def _clean_table(lines: list[str], ncol: int, col: dict[str, int], label_days: int,
                 b: _Builder) -> list[int] | None:
    """The table's rows into ``b`` in one pass of pandas' C reader when every row is clean
    (its fields all there, numbers finite, ``cp`` a call or put, no negative price or open
    interest, whole ``dte``, positive strike; quote characters are kept as they are, as
    the row reader keeps them): what :func:`_rows` gives such a table (pandas reads
    decimals to the same doubles as ``float``), some twenty times faster. None (nothing
    added) for anything else: :func:`_rows` then says row by row what it refuses."""
    body = lines
    while body and not body[-1].strip(" ,\t"):
        body = body[:-1]
    if not body or any(line.count(",") != ncol - 1 for line in body):
        return None  # blank, comment, short or long rows: one by one
    numeric = {name: j for name, j in col.items() if name in ("strike", "dte", "oi") + _OPTIONAL}
    try:  # (a field that is empty or not a number fails the whole read)
        df = pd.read_csv(io.StringIO("\n".join(body)), header=None,
                         names=list(range(ncol)), usecols=[*numeric.values(), col["cp"]],
                         dtype={j: (np.float64 if j in numeric.values() else str)
                                for j in [*numeric.values(), col["cp"]]},
                         na_filter=False, skip_blank_lines=False, engine="c",
                         quoting=csv.QUOTE_NONE, **_EXACT)
        num = {name: df[j].to_numpy(dtype=np.float64) for name, j in numeric.items()}
    except (ValueError, TypeError, pd.errors.ParserError):
        return None
    if len(df) != len(body) or not all(np.isfinite(v).all() for v in num.values()):
        return None
    cp = np.char.upper(np.char.strip(df[col["cp"]].to_numpy(dtype=str)))
    is_call = np.isin(cp, ("C", "CALL"))
    dte = num["dte"]
    if (not (is_call | np.isin(cp, ("P", "PUT"))).all() or (dte != np.trunc(dte)).any()
            or (np.abs(dte) > 1e6).any()
            or not (num["strike"] > 0).all() or (num["oi"] < 0).any()
            or any((num[x] < 0).any() for x in ("bid", "ask") if x in num)):
        return None
    n = len(body)
    nan = np.full(n, np.nan)
    iv = num.get("iv", nan)
    b.root = [""] * n
    b.days = days = (label_days + dte.astype(np.int64)).tolist()
    b.strike, b.is_call = num["strike"].tolist(), is_call.tolist()
    b.bid, b.ask = num.get("bid", nan).tolist(), num.get("ask", nan).tolist()
    b.oi = num["oi"].tolist()
    b.iv = np.where(iv == 0.0, np.nan, iv).tolist()  # a zero IV is none (as _quote_fields)
    b.delta, b.gamma = num.get("delta", nan).tolist(), num.get("gamma", nan).tolist()
    return days
