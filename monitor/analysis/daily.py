"""The regime engine over daily end-of-day chains (real data): one observation per
session, with the VIX close as the put-premium measure.

Daily cadence changes the engine's clock, not its rules: the window is 3 calendar days
(about two sessions), the premium history is pre-seeded with a year of VIX closes before
the first chain (so "extreme" means extreme against that year), and there is no minimum
dwell (a session is the natural dwell). Files whose label date is not an NYSE session
(holiday relabels such as 2026-06-19 and 2026-07-03) and files repeating a session already
seen are skipped and listed. The session of a file is the last NYSE session closed by its
CBOE timestamp (``SPX_2026-08-07`` was fetched on the evening of 2026-08-06, so it is
2026-08-06; ``SPX_2026-06-23`` was fetched before the open, so it repeats 2026-06-22).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.books import book_for_chain
from monitor.chain import load_chain
from monitor.config import RegimeSettings, Settings
from monitor.core import levels
from monitor.core.positions import MODELS
from monitor.ingest import Pipeline
from monitor.regimes.calendar import xnys
from monitor.regimes.engine import NY, RegimeEngine
from monitor.state import build_state, observation

DAY = 86400.0


def daily_settings(base: RegimeSettings) -> RegimeSettings:
    return base.model_copy(update={"window_s": 3 * DAY, "min_dwell_s": 0.0,
                                   "sample_s": 3600.0, "exhaustion_lookback_s": 366 * DAY,
                                   "exhaustion_memory_s": 10 * DAY})


def session_of(as_of_ns: int) -> dt.date:
    """The last NYSE session whose 16:00 ET close is at or before ``as_of_ns``."""
    t = dt.datetime.fromtimestamp(as_of_ns / 1e9, tz=NY)
    d = t.date() if t.hour >= 16 else t.date() - dt.timedelta(days=1)
    return xnys().date_to_session(pd.Timestamp(d), direction="previous").date()


def read_vix(path: Path) -> dict[dt.date, float]:
    with open(path) as fh:
        return {dt.date.fromisoformat(r["date"]): float(r["value"]) for r in csv.DictReader(fh)}


def daily_regimes(chain_dir: Path, vix_csv: Path, settings: Settings | None = None,
                  progress: Callable[[str], None] | None = None) -> tuple[list[dict], list[str]]:
    """(rows, skipped): per session ``{date, file, spot, gex_usd_per_pct,
    vendor_gex_usd_per_pct, vendor_sign_agrees, zero_gamma, vix, labels, gamma_label_held,
    events}`` (``gamma_label_held``: the gamma label's sign is not the GEX's, the engine's
    hysteresis keeps it: :data:`monitor.render.daily.HELD_NOTE`)."""
    settings = settings or Settings()
    files = sorted(Path(chain_dir).glob("*.csv*"))
    if not files:
        raise FileNotFoundError(f"no chain files in {chain_dir}")
    vix = read_vix(vix_csv)
    cal = xnys()
    engine: RegimeEngine | None = None
    rows, skipped, seen = [], [], set()
    for path in files:
        label = path.name.split("_")[-1].split(".")[0]
        chain = load_chain(path)
        session = session_of(chain.as_of_ns)
        if not cal.is_session(label) or session in seen:
            why = "not a session" if not cal.is_session(label) else f"repeats {session}"
            skipped.append(f"{path.name}: {why}")
            continue
        seen.add(session)
        if progress:
            progress(path.name)
        und = settings.underlying(chain.underlying)
        # one book per file: the flow and positions models have no prints or file here
        model = und.position_model if und.position_model in MODELS else "classic"
        book = book_for_chain(chain, settings, model=model)
        vendor = book_for_chain(chain, settings, model="classic", greeks="vendor")
        if engine is None:
            engine = RegimeEngine(chain.underlying, daily_settings(settings.regimes))
            first = dt.datetime.fromtimestamp(chain.as_of_ns / 1e9, tz=NY)
            for d, v in sorted(vix.items()):  # a year of VIX closes as premium history
                if first.date() - dt.timedelta(days=365) <= d < first.date():
                    t = dt.datetime(d.year, d.month, d.day, 16, 15, tzinfo=NY)
                    engine.premium.append((int(t.timestamp() * 1e9), v))
        state_ = Pipeline({chain.underlying: book}).states[chain.underlying]
        state, _ = build_state(state_, engine.current)
        v = vix.get(session)
        events = engine.update(observation(state_, state, v))
        vg = vendor.totals["gex_usd_per_pct"]
        gex = state["gex_usd_per_pct"]
        gamma = engine.labels.get("gamma")
        # a gamma label whose sign the GEX no longer has: kept by the engine's hysteresis
        # (it exits only past the far side of the dead band), which the table must say
        held = (gamma == "long_gamma" and gex < 0) or (gamma == "short_gamma" and gex > 0)
        rows.append({"date": str(session), "file": path.name, "spot": book.spot,
                     "gex_usd_per_pct": state["gex_usd_per_pct"], "vendor_gex_usd_per_pct": vg,
                     "vendor_sign_agrees": bool(np.sign(vg) == np.sign(state["gex_usd_per_pct"])),
                     "zero_gamma": levels.zero_gamma(book), "vix": v,
                     "labels": list(engine.current), "gamma_label_held": bool(held),
                     "events": [f"{e['from'] or '-'}->{e['to'] or '-'}" for e in events]})
    return rows, skipped
