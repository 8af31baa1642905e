"""Expiration calendar from the exchange calendar (XNYS), holidays included.

Monthly OPEX = the last NYSE session on or before the third Friday (2026-06-19 was
Juneteenth, so June 2026 expired on Thursday 2026-06-18). Quarterly ("quad witching") =
the March, June, September and December ones.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

from monitor.chain.clock import xnys  # one calendar object for the whole process


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


@lru_cache(maxsize=512)
def monthly_expiration(year: int, month: int) -> dt.date:
    """The monthly expiration session of ``year``-``month``."""
    tf = pd.Timestamp(third_friday(year, month))
    return xnys().date_to_session(tf, direction="previous").date()


def is_quarterly(d: dt.date) -> bool:
    return d.month in (3, 6, 9, 12)


def next_expiration(day: dt.date) -> dt.date:
    """The first monthly expiration on or after ``day``."""
    e = monthly_expiration(day.year, day.month)
    if e >= day:
        return e
    y, m = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return monthly_expiration(y, m)


def sessions_until(day: dt.date, expiry: dt.date) -> int:
    """NYSE sessions from ``day`` (exclusive) to ``expiry`` (inclusive); 0 on the day."""
    if expiry <= day:
        return 0
    return len(xnys().sessions_in_range(pd.Timestamp(day) + pd.Timedelta(days=1),
                                         pd.Timestamp(expiry)))
