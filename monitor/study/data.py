"""Loaders of the daily and intraday files ``monitor study`` reads, in the layouts of
``shared/data`` (see its SOURCES.md). A user's own files work when they keep the layout
and a file name that matches the same pattern (``FILES`` below).

Data quirks handled here (each is also listed in the report's data section):

* ``SPX_History``: rows with O=H=L=C (every row before mid-1983) carry no range, so their
  open/high/low become NaN; the file's last row is an intraday partial and is dropped;
  where ``SPX_ohlc`` covers a date it wins (it also extends past the History file).
* ``VIX_close`` is the primary VIX series; ``VIX_History`` closes only fill dates it lacks.
* ``VVIX_History``: values before 2007 are sparse garbage and are dropped.
* the OPEX calendar: the session column (``monthly_opex_session``) is used, never the
  third Friday itself (holidays move OPEX to the session before); without the file the
  dates are computed from ``exchange_calendars`` (XNYS) with the same rule.
* minute bars: only regular-session bars are kept (``exchange_calendars`` XNYS hours, so
  early closes such as 2025-07-03 13:00 are respected; the SPX 16:00-16:04 settlement
  prints and SPY's extended hours are dropped).
* SPY daily closes are dividend-adjusted: the study does not use them (SPY enters only
  through its raw minute bars).
"""

from __future__ import annotations

import functools
import gzip
import io
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd

__all__ = [
    "StudyError", "FILES", "find_file", "find_files", "read_csv_any", "parse_dates",
    "load_spx_daily", "load_vix_close", "load_vvix", "load_squeeze_gex",
    "load_opex_calendar", "opex_calendar_from_exchange", "load_minute_bars",
    "regular_sessions", "DailyData", "load_daily",
]


class StudyError(Exception):
    """A problem the user can fix (missing directory or file, unreadable layout); the
    message is one line."""


# role -> glob patterns relative to the data directory, first match wins
FILES: dict[str, tuple[str, ...]] = {
    "spx_ohlc": ("market_daily/SPX_ohlc*.csv*",),
    "spx_history": ("market_daily/SPX_History*.csv*",),
    "vix_close": ("market_daily/VIX_close*.csv*",),
    "vix_history": ("market_daily/VIX_History*.csv*",),
    "vvix": ("market_daily/VVIX_History*.csv*",),
    "squeeze": ("market_daily/*squeezemetrics*GEX*.csv*", "market_daily/*DIX*GEX*.csv*",
                "market_daily/*squeezemetrics*.csv*"),
    "calendar": ("calendar/*opex*calendar*.csv*", "calendar/*opex*.csv*"),
    "spx_1min": ("intraday/SPX_1min*.csv*", "intraday/SPX_1min*"),
    "spy_1min": ("intraday/SPY_1min*.csv*", "intraday/SPY_1min*"),
    "spx_chains": ("cboe_chain_eod*/SPX/*.csv*",),
    "vix_chains": ("cboe_chain_eod*/VIX/*.csv*",),
}

_ISO = "%Y-%m-%d"


def find_files(data_dir: Path, role: str) -> list[Path]:
    for pat in FILES[role]:
        hits = sorted(p for p in Path(data_dir).glob(pat) if p.is_file())
        if hits:
            return hits
    return []


def find_file(data_dir: Path, role: str, *, required: bool = True,
              why: str = "") -> Path | None:
    hits = find_files(data_dir, role)
    if hits:
        return hits[0]
    if required:
        raise StudyError(f"missing data file: no {FILES[role][0]} under {data_dir}"
                         + (f" (needed for {why})" if why else ""))
    return None


def read_csv_any(path: Path, **kw) -> pd.DataFrame:
    """``pd.read_csv`` on a plain or gzip file (sniffed from the bytes, not the name)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return pd.read_csv(io.BytesIO(raw), **kw)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as e:
        raise StudyError(" ".join(f"cannot read {p}: {e}".split())) from None


def parse_dates(s: pd.Series) -> pd.DatetimeIndex:
    """ISO (2011-05-02) or US (05/02/2011, 4/6/2015) dates, decided per file."""
    s = s.astype(str).str.strip()
    first = s.iloc[0] if len(s) else ""
    fmt = "%m/%d/%Y" if "/" in first else _ISO
    return pd.DatetimeIndex(pd.to_datetime(s, format=fmt, errors="coerce")).normalize()


def _cols(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    return df


def _indexed(df: pd.DataFrame, date_col: str, path: Path) -> pd.DataFrame:
    if date_col not in df.columns:
        raise StudyError(f"unexpected layout in {path}: no {date_col!r} column")
    idx = parse_dates(df[date_col])
    out = df.drop(columns=[date_col]).set_index(idx)
    out = out[out.index.notna()]
    out = out[~out.index.duplicated(keep="last")].sort_index()
    out.index.name = "date"
    return out


def _numeric(df: pd.DataFrame, cols) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


# ---------------------------------------------------------------------------------------
# Daily series
# ---------------------------------------------------------------------------------------


def load_spx_daily(ohlc_path: Path | None, history_path: Path | None,
                   notes: list[str] | None = None) -> pd.DataFrame:
    """SPX daily OHLC (columns open, high, low, close), History + ohlc combined."""
    notes = notes if notes is not None else []
    parts = []
    if history_path is not None:
        h = _numeric(_indexed(_cols(read_csv_any(history_path)), "date", history_path),
                     ["open", "high", "low", "close"])
        if len(h):
            notes.append(f"{history_path.name}: last row {h.index[-1].date()} dropped "
                         "(intraday partial)")
            h = h.iloc[:-1]
        deg = (h["open"] == h["high"]) & (h["high"] == h["low"]) & (h["low"] == h["close"])
        if deg.any():
            notes.append(f"{history_path.name}: {int(deg.sum())} rows with O=H=L=C "
                         f"(last {h.index[deg].max().date()}) have no range (set to NaN)")
        h.loc[deg, ["open", "high", "low"]] = np.nan
        parts.append(h[["open", "high", "low", "close"]])
    if ohlc_path is not None:
        o = _indexed(_cols(read_csv_any(ohlc_path)), "date", ohlc_path)
        o = o.rename(columns={"o": "open", "h": "high", "l": "low", "c": "close"})
        o = _numeric(o, ["open", "high", "low", "close"])[["open", "high", "low", "close"]]
        if parts:
            h = parts[0]
            common = h.index.intersection(o.index)
            if len(common):
                diff = (h.loc[common, "close"] / o.loc[common, "close"] - 1).abs().max()
                notes.append(f"{ohlc_path.name} replaces {len(common)} overlapping History "
                             f"rows (max close difference {diff:.1e})")
            parts = [h[h.index < o.index.min()]]
        parts.append(o)
    if not parts:
        raise StudyError("missing data file: no SPX daily history (market_daily/SPX_ohlc*.csv "
                         "or market_daily/SPX_History*.csv)")
    spx = pd.concat(parts).sort_index()
    spx = spx[~spx.index.duplicated(keep="last")]
    spx = spx[spx["close"] > 0]
    bad = ~((spx["high"] >= spx["low"]) | spx["high"].isna() | spx["low"].isna())
    if bad.any():
        spx.loc[bad, ["open", "high", "low"]] = np.nan
        notes.append(f"SPX: {int(bad.sum())} rows with high < low: range dropped")
    return spx


def load_vix_close(close_path: Path | None, history_path: Path | None,
                   notes: list[str] | None = None) -> pd.Series:
    """VIX daily close: ``VIX_close`` first, ``VIX_History`` filling missing dates."""
    notes = notes if notes is not None else []
    series = []
    if close_path is not None:
        v = _cols(read_csv_any(close_path))
        v = _indexed(v, "date", close_path)
        col = "value" if "value" in v.columns else "close"
        series.append(pd.to_numeric(v[col], errors="coerce"))
    if history_path is not None:
        vh = _indexed(_cols(read_csv_any(history_path)), "date", history_path)
        vh = pd.to_numeric(vh["close"], errors="coerce")
        if series:
            extra = vh.index.difference(series[0].index)
            if len(extra):
                notes.append(f"{history_path.name} fills {len(extra)} VIX dates")
        series.append(vh)
    if not series:
        raise StudyError("missing data file: no VIX history (market_daily/VIX_close*.csv or "
                         "market_daily/VIX_History*.csv)")
    out = series[0]
    for s in series[1:]:
        out = out.combine_first(s)
    out = out[out > 0].dropna().sort_index()
    out.name = "vix"
    return out


def load_vvix(path: Path, notes: list[str] | None = None) -> pd.Series:
    """VVIX from 2007 (the 2006 values are sparse garbage)."""
    v = _indexed(_cols(read_csv_any(path)), "date", path)
    s = pd.to_numeric(v["vvix"], errors="coerce").dropna()
    dropped = int((s.index < "2007-01-01").sum())
    if notes is not None and dropped:
        notes.append(f"{path.name}: {dropped} rows before 2007 dropped (garbage values)")
    s = s[s.index >= "2007-01-01"]
    s.name = "vvix"
    return s


def load_squeeze_gex(path: Path) -> pd.DataFrame:
    """SqueezeMetrics ``date,price,dix,gex`` (GEX in their own units; use sign / rank)."""
    g = _indexed(_cols(read_csv_any(path)), "date", path)
    if "gex" not in g.columns:
        raise StudyError(f"unexpected layout in {path}: no 'gex' column")
    g = _numeric(g, [c for c in ("price", "dix", "gex") if c in g.columns])
    return g.dropna(subset=["gex"])


def _bool(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))


def load_opex_calendar(path: Path) -> pd.DataFrame:
    """Monthly OPEX sessions: index = session date, column ``quad`` (bool)."""
    c = _cols(read_csv_any(path))
    col = "monthly_opex_session" if "monthly_opex_session" in c.columns else None
    if col is None:
        raise StudyError(f"unexpected layout in {path}: no 'monthly_opex_session' column")
    out = pd.DataFrame({"quad": _bool(c["quarterly_quad_witching"])
                        if "quarterly_quad_witching" in c.columns else False})
    out.index = parse_dates(c[col])
    out = out[out.index.notna()].sort_index()
    out.index.name = "date"
    return out


@functools.lru_cache(maxsize=8)
def _xnys(start: str, end: str):
    with warnings.catch_warnings():     # pandas deprecation noise inside exchange_calendars
        warnings.simplefilter("ignore")
        return xc.get_calendar("XNYS", start=start, end=end)


def opex_calendar_from_exchange(start: int = 1990, end: int = 2027) -> pd.DataFrame:
    """The same calendar computed from ``exchange_calendars``: the last XNYS session on or
    before each month's third Friday; quad witching in Mar/Jun/Sep/Dec."""
    cal = _xnys(f"{start}-01-01", f"{end}-12-31")
    sessions = cal.sessions
    rows = []
    for y in range(start, end + 1):
        for m in range(1, 13):
            first = date(y, m, 1)
            fri = 1 + (4 - first.weekday()) % 7 + 14
            tf = pd.Timestamp(y, m, fri)
            k = sessions.searchsorted(tf, side="right") - 1
            if k >= 0:
                rows.append((sessions[k].tz_localize(None) if sessions[k].tzinfo else
                             sessions[k], m in (3, 6, 9, 12)))
    out = pd.DataFrame({"quad": [q for _, q in rows]},
                       index=pd.DatetimeIndex([d for d, _ in rows], name="date"))
    return out


# ---------------------------------------------------------------------------------------
# Minute bars
# ---------------------------------------------------------------------------------------


def load_minute_bars(path: Path) -> pd.DataFrame:
    """Minute bars ``ts, open, high, low, close`` (ts = bar start, naive US/Eastern), with or
    without a header row."""
    raw = read_csv_any(path, header=None)
    first = str(raw.iloc[0, 0]) if len(raw) else ""
    if pd.isna(pd.to_datetime(first, errors="coerce")):
        raw = raw.iloc[1:]
    raw = raw.iloc[:, :5].copy()
    raw.columns = ["ts", "open", "high", "low", "close"]
    raw["ts"] = pd.to_datetime(raw["ts"].astype(str).str.strip(), errors="coerce")
    raw = _numeric(raw, ["open", "high", "low", "close"]).dropna()
    if raw.empty:
        raise StudyError(f"no usable minute bars in {path}")
    return raw.sort_values("ts").drop_duplicates("ts", keep="last").reset_index(drop=True)


def regular_sessions(bars: pd.DataFrame) -> dict[pd.Timestamp, pd.DataFrame]:
    """Split minute bars into XNYS regular sessions: {session date: bars with
    open <= ts < close}, using the exchange's hours (early closes included)."""
    days = pd.DatetimeIndex(bars["ts"].dt.normalize().unique())
    if len(days) == 0:
        return {}
    cal = _xnys(f"{days.min().year - 1}-01-01", f"{days.max().year + 1}-12-31")
    sched = cal.schedule
    out = {}
    for d in days:
        key = d.tz_localize(None)
        if key not in sched.index:
            continue
        o = sched.loc[key, "open"].tz_convert("America/New_York").tz_localize(None)
        c = sched.loc[key, "close"].tz_convert("America/New_York").tz_localize(None)
        sel = bars[(bars["ts"] >= o) & (bars["ts"] < c)]
        if len(sel):
            s = sel.reset_index(drop=True)
            s.attrs["open_ts"], s.attrs["close_ts"] = o, c
            out[key] = s
    return out


# ---------------------------------------------------------------------------------------
# Everything daily at once
# ---------------------------------------------------------------------------------------


@dataclass
class DailyData:
    spx: pd.DataFrame                 # open, high, low, close
    vix: pd.Series
    gex: pd.DataFrame                 # SqueezeMetrics: price, dix, gex
    opex: pd.DataFrame                # index OPEX sessions, column quad
    vvix: pd.Series | None
    files: dict[str, Path | None]
    notes: list[str] = field(default_factory=list)

    def inventory(self) -> list[dict]:
        """One row per series: what was read, its span and size."""
        rows = []

        def add(name, role, obj):
            if obj is None or len(obj) == 0:
                return
            p = self.files.get(role)
            rows.append({"series": name, "file": p.name if p else "(computed)",
                         "first": str(obj.index.min().date()),
                         "last": str(obj.index.max().date()), "rows": int(len(obj))})

        add("SPX daily OHLC", "spx_ohlc" if self.files.get("spx_ohlc") else "spx_history",
            self.spx)
        add("VIX close", "vix_close" if self.files.get("vix_close") else "vix_history",
            self.vix)
        add("SqueezeMetrics GEX", "squeeze", self.gex)
        add("monthly OPEX sessions", "calendar", self.opex)
        add("VVIX (context only)", "vvix", self.vvix)
        return rows


def load_daily(data_dir: Path) -> DailyData:
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise StudyError(f"data directory not found: {data_dir}")
    if not data_dir.is_dir():
        raise StudyError(f"data path is not a directory: {data_dir}")
    files = {r: find_file(data_dir, r, required=False) for r in FILES
             if r not in ("spx_chains", "vix_chains")}
    notes: list[str] = []
    if files["spx_ohlc"] is None and files["spx_history"] is None:
        raise StudyError(f"missing data file: no market_daily/SPX_ohlc*.csv or "
                         f"market_daily/SPX_History*.csv under {data_dir}")
    if files["vix_close"] is None and files["vix_history"] is None:
        raise StudyError(f"missing data file: no market_daily/VIX_close*.csv or "
                         f"market_daily/VIX_History*.csv under {data_dir}")
    find_file(data_dir, "squeeze", why="claims 1, 2 and 5 (SqueezeMetrics GEX)")
    spx = load_spx_daily(files["spx_ohlc"], files["spx_history"], notes)
    vix = load_vix_close(files["vix_close"], files["vix_history"], notes)
    gex = load_squeeze_gex(files["squeeze"])
    if files["calendar"] is not None:
        opex = load_opex_calendar(files["calendar"])
    else:
        opex = opex_calendar_from_exchange()
        notes.append("no calendar/*opex*.csv: OPEX sessions computed with exchange_calendars")
    vvix = load_vvix(files["vvix"], notes) if files["vvix"] is not None else None
    for name, obj in (("SPX", spx), ("VIX", vix), ("SqueezeMetrics GEX", gex)):
        if len(obj) < 30:
            raise StudyError(f"too few rows in the {name} file ({len(obj)})")
    return DailyData(spx=spx, vix=vix, gex=gex, opex=opex, vvix=vvix, files=files,
                     notes=notes)
