"""The clock of a snapshot: when its quotes were taken (REFERENCE.md, The clock of a
snapshot). A file saved during a session is evaluated when it was saved; a file saved
after its session closed (an evening download, a weekend one, one fetched before the next
open) holds that session's closing quotes and is evaluated at that session's close:
16:15 America/New_York for index options (SPX, SPXW, VIX, NDX, RUT, XSP, ...), which trade
15 minutes past the stock market, 16:00 for equity and ETF options (SPY), and 13:15 / 13:00
on early-close days. Sessions come from the exchange calendar (``exchange_calendars``,
XNYS). Evaluating at the download instant instead would let up to a weekend of time decay
into the Greeks (on the weekend quotedata files: CEX 21-32 % and the +1 day flow 13-19 %
off)."""

from __future__ import annotations

from functools import lru_cache

import exchange_calendars as xc
import pandas as pd

from monitor.chain.occ import NY, underlying_of_root

#: underlyings whose options trade until 15 minutes after the stock market's close
INDEX_UNDERLYINGS = frozenset({"SPX", "VIX", "NDX", "RUT", "XSP", "DJX", "OEX", "XEO", "MXEF",
                               "MXEA"})
INDEX_EXTRA = pd.Timedelta(minutes=15)


@lru_cache(maxsize=1)
def xnys():
    """The NYSE calendar (sessions, closes, early closes), built once per process."""
    return xc.get_calendar("XNYS")


def session_clock(as_of_ns: int, underlying: str) -> tuple[int, str | None]:
    """(evaluation clock in UTC ns, a note saying why when it is not ``as_of_ns``)."""
    cal = xnys()
    t = pd.Timestamp(int(as_of_ns), unit="ns", tz="UTC")
    if t < cal.first_minute or t > cal.last_minute:
        return int(as_of_ns), None  # beyond the calendar's range: take the file's word
    extra = INDEX_EXTRA if underlying_of_root(underlying) in INDEX_UNDERLYINGS else pd.Timedelta(0)
    if cal.is_open_on_minute(t):
        return int(as_of_ns), None
    session = cal.minute_to_past_session(t)
    close = cal.session_close(session) + extra
    if t <= close:  # index options' last 15 minutes
        return int(as_of_ns), None
    et = lambda x: x.tz_convert(NY).strftime("%Y-%m-%d %H:%M ET")  # noqa: E731
    note = (f"clock: quotes taken {et(t)}, after the {session.date()} session closed: "
            f"evaluated at that close, {et(close)} ({close.strftime('%Y-%m-%dT%H:%M:%SZ')})")
    return int(close.value), note
