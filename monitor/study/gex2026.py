"""The project's own GEX from the daily end-of-day SPX chains (``cboe_chain_eod*/SPX``).

Each file is dated by its *content*, not its label: the session whose SPX close equals the
file's header spot (to 0.005 index points, searched over the label date and the five
calendar days before it). That one rule handles every mislabelled or repeated file of the
2026 set: ``06-19`` and ``07-03`` (holidays repeating 06-18 / 07-02), ``06-23`` (fetched
before the open with 06-22's quotes) and ``08-07`` (really 08-06). When two files land on
the same session the one whose label equals that session is kept (else the later fetch);
a file whose spot matches no close keeps its label (rolled back to the previous session
when the label is not one) and is flagged.

Per kept file: ``Book(chain)`` (model Greeks: IV from the mid, expired contracts carry no
gamma), ``Book(chain, greeks="vendor")`` (the file's gamma as is) and
``levels.zero_gamma`` of the model book.
"""

from __future__ import annotations

import gzip
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pandas as pd

from monitor.chain import ChainError, load_chain
from monitor.core.book import Book
from monitor.core.levels import walls, zero_gamma
from monitor.fmt import finite
from monitor.study.data import find_files

__all__ = ["SPOT_TOLERANCE", "date_chain_files", "daily_gex_table", "vix_chain_closes"]

SPOT_TOLERANCE = 0.005  # index points
NY = ZoneInfo("America/New_York")


def _label_of(path: Path) -> pd.Timestamp | None:
    """The label date: the first ``YYYY-MM-DD`` in the file name."""
    m = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
    if not m:
        return None
    try:
        return pd.Timestamp(m.group(1))
    except ValueError:
        return None


def _header(path: Path) -> tuple[float, str] | None:
    """(spot, ts) from the ``# spot,<S>,ts,<UTC>`` first line (None if absent)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                line = f.readline()
        else:
            line = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    except OSError:
        return None
    parts = [p.strip() for p in line.lstrip("#").split(",")]
    try:
        i = parts.index("spot")
        spot = float(parts[i + 1])
    except (ValueError, IndexError):
        return None
    ts = parts[parts.index("ts") + 1] if "ts" in parts[:-1] else ""
    return spot, ts


def date_chain_files(paths: list[Path], closes: pd.Series) -> tuple[list[dict], list[dict]]:
    """Assign each chain file its session. Returns (kept, dropped); each item is a dict
    with ``path``, ``label``, ``date``, ``spot``, ``how`` (matched / relabelled /
    unmatched) and for dropped files ``reason``."""
    closes = closes.dropna().sort_index()
    items = []
    for p in paths:
        label = _label_of(p)
        hdr = _header(p)
        if label is None or hdr is None:
            items.append({"path": p, "label": label, "date": None, "spot": None,
                          "how": "unreadable", "ts": ""})
            continue
        spot, ts = hdr
        win = closes[(closes.index <= label) & (closes.index >= label - pd.Timedelta(days=5))]
        if len(win):
            diffs = (win - spot).abs()
            best = diffs.idxmin()
            if diffs[best] <= SPOT_TOLERANCE:
                how = "matched" if best == label else "relabelled"
                items.append({"path": p, "label": label, "date": best, "spot": spot,
                              "how": how, "ts": ts})
                continue
        prior = closes.index[closes.index <= label]
        d = label if label in closes.index else (prior[-1] if len(prior) else label)
        items.append({"path": p, "label": label, "date": d, "spot": spot, "how": "unmatched",
                      "ts": ts})
    kept, dropped = {}, []
    for it in items:
        if it["date"] is None:
            dropped.append({**it, "reason": "no label date or no '# spot' header"})
            continue
        cur = kept.get(it["date"])
        if cur is None:
            kept[it["date"]] = it
            continue
        # prefer the file labelled with the session itself, else the later fetch
        def rank(x):
            return (x["label"] == x["date"], x["ts"])

        win, lose = (it, cur) if rank(it) > rank(cur) else (cur, it)
        kept[it["date"]] = win
        dropped.append({**lose, "reason": f"same session as {win['path'].name} "
                                          f"(spot {lose['spot']:.2f} = close of "
                                          f"{win['date'].date()})"})
    return [kept[k] for k in sorted(kept)], dropped


def vix_chain_closes(data_dir: Path) -> dict[pd.Timestamp, float]:
    """VIX close from the VIX chain headers, only where the fetch time is on the label
    date after 16:00 New York (used only for dates the VIX close file lacks)."""
    out = {}
    for p in find_files(data_dir, "vix_chains"):
        label, hdr = _label_of(p), _header(p)
        if label is None or hdr is None or not hdr[1]:
            continue
        try:
            ts = datetime.fromisoformat(hdr[1]).replace(tzinfo=timezone.utc).astimezone(NY)
        except ValueError:
            continue
        if ts.date() == label.date() and ts.hour >= 16:
            out[label] = hdr[0]
    return out


def daily_gex_table(data_dir: Path, closes: pd.Series, vix: pd.Series, *,
                    progress: Callable[[str], None] | None = None) -> dict:
    """Own GEX per session of the 2026 chains. Returns {"rows": [...], "dropped": [...],
    "files": n}; each row: date, label, file, spot, gex_model_usd_per_pct,
    gex_vendor_usd_per_pct, gex_model_sign, gex_vendor_sign, zero_gamma, call_wall,
    put_wall (on their side of spot), call_wall_any_strike, put_wall_any_strike,
    expired_vendor_share, vix_close, vix_source, how."""
    paths = find_files(data_dir, "spx_chains")
    kept, dropped = date_chain_files(paths, closes)
    vix_fallback = None
    rows = []
    for i, it in enumerate(kept, 1):
        if progress is not None and (i == 1 or i % 5 == 0 or i == len(kept)):
            progress(f"  own GEX: chain {i}/{len(kept)} ({it['path'].name})")
        try:
            chain = load_chain(it["path"])
            model = Book(chain)
            vendor = Book(chain, greeks="vendor")
        except (ChainError, ValueError) as e:
            dropped.append({**it, "reason": " ".join(f"unusable chain: {e}".split())})
            continue
        gm = model.totals["gex_usd_per_pct"]
        gv = vendor.totals["gex_usd_per_pct"]
        zg = zero_gamma(model)
        call_wall, put_wall = walls(model)
        call_any, put_any = walls(model, any_strike=True)
        d = it["date"]
        vc, src = (finite(vix.get(d)) if d in vix.index else None), "VIX close file"
        if vc is None:
            if vix_fallback is None:
                vix_fallback = vix_chain_closes(data_dir)
            vc = finite(vix_fallback.get(d))
            src = "VIX chain header" if vc is not None else "missing"
        rows.append({
            "date": str(d.date()), "label": str(it["label"].date()), "file": it["path"].name,
            "spot": float(chain.spot),
            "gex_model_usd_per_pct": float(gm), "gex_vendor_usd_per_pct": float(gv),
            "gex_model_sign": int(math.copysign(1, gm)) if gm else 0,
            "gex_vendor_sign": int(math.copysign(1, gv)) if gv else 0,
            "zero_gamma": finite(zg), "call_wall": call_wall, "put_wall": put_wall,
            "call_wall_any_strike": call_any, "put_wall_any_strike": put_any,
            "expired_vendor_share":
                finite(model.expired_vendor_gamma_share()),
            "vix_close": vc, "vix_source": src, "how": it["how"],
        })
    dropped_out = [{"file": x["path"].name, "label": str(x["label"].date()) if x["label"]
                    is not None else None, "reason": x["reason"]} for x in dropped]
    return {"rows": rows, "dropped": dropped_out, "files": len(paths)}
