"""Where the tests' real market data lives: ``tests/data`` (the subset of the shared
market-data folder the tests read, with its sources and terms in ``tests/data/README.md``),
so the suite needs nothing beside the clone.

Importable from any test: ``from tests.data_paths import DATA_DIR``. The
``MONITOR_DATA_DIR`` environment variable points the tests at another copy of the same
layout (e.g. the full ``shared/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR: Path = Path(os.environ.get("MONITOR_DATA_DIR") or REPO_ROOT / "tests" / "data")
QUOTEDATA_DIR = DATA_DIR / "cboe_quotedata"
EOD_DIR = DATA_DIR / "cboe_chain_eod_2026"
LONG_DIR = DATA_DIR / "cboe_long"
CALENDAR_CSV = DATA_DIR / "calendar" / "us_opex_calendar_1990-2027.csv"
MARKET_DAILY_DIR = DATA_DIR / "market_daily"
