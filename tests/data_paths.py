"""Where the shared market-data fixtures live (``<repo>/../shared/data``).

Importable from any test: ``from tests.data_paths import DATA_DIR``. Override with the
``MONITOR_DATA_DIR`` environment variable. A checkout that carries ``shared/`` inside the
repository (``<repo>/shared/data``) is found too.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_data_dir() -> Path:
    env = os.environ.get("MONITOR_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[2] / "shared" / "data",  # /work/main/../shared/data
        REPO_ROOT / "shared" / "data",
    ]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


DATA_DIR: Path = _find_data_dir()
QUOTEDATA_DIR = DATA_DIR / "cboe_quotedata"
EOD_DIR = DATA_DIR / "cboe_chain_eod_2026"
LONG_DIR = DATA_DIR / "cboe_long"
CALENDAR_CSV = DATA_DIR / "calendar" / "us_opex_calendar_1990-2027.csv"
MARKET_DAILY_DIR = DATA_DIR / "market_daily"
