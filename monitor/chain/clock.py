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
import numpy as np
import pandas as pd

from monitor.chain.occ import NY, first_expiry_after, underlying_of_root

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


def _session_close(cal, session, underlying: str) -> pd.Timestamp:
    extra = INDEX_EXTRA if underlying_of_root(underlying) in INDEX_UNDERLYINGS else pd.Timedelta(0)
    return cal.session_close(session) + extra


def close_after(now_ns: int, underlying: str) -> int:
    """The options session's close (UTC ns) that ``now_ns`` counts down to: today's while
    the session (index options: its last 15 minutes too) has not closed, else the next
    session's. Early closes come from the exchange calendar."""
    cal = xnys()
    t = pd.Timestamp(int(now_ns), unit="ns", tz="UTC")
    session = cal.date_to_session(t.tz_convert(NY).date(), direction="next")
    close = _session_close(cal, session, underlying)
    if t >= close:
        close = _session_close(cal, cal.next_session(session), underlying)
    return int(close.value)


def open_after(now_ns: int) -> int:
    """The next session's open (UTC ns) strictly after ``now_ns`` (09:30 New York)."""
    return int(xnys().next_open(pd.Timestamp(int(now_ns), unit="ns", tz="UTC")).value)


#: the horizons of ``monitor.core.horizons``, in this order
HORIZONS = ("+1h", "close", "next_open", "after_next_expiry")


def horizon_clocks(now_ns: int, underlying: str, group_expiry, group_settle_ns
                   ) -> list[tuple[str, int]]:
    """``[(horizon, UTC ns)]`` for :data:`HORIZONS` from the evaluation clock ``now_ns``:
    ``+1h``; ``close`` (:func:`close_after`); ``next_open`` (:func:`open_after`);
    ``after_next_expiry``: the last settlement instant of the first expiration date after
    today's (New York) date, the tape's ``next`` bucket (today's 0DTE is already gone at
    ``close``; with no later expiration, the first settlement still ahead). A horizon the
    exchange calendar does not cover, or with no expiration ahead, is left out."""
    now_ns = int(now_ns)
    out = [("+1h", now_ns + 3_600_000_000_000)]
    try:
        out += [("close", close_after(now_ns, underlying)), ("next_open", open_after(now_ns))]
    except (ValueError, IndexError):  # DateOutOfBounds is a ValueError
        pass  # beyond the calendar's range: the clock-only horizons stay
    settle = np.asarray(group_settle_ns, dtype=np.int64)
    exp = np.asarray(group_expiry).astype("datetime64[D]")
    today = np.datetime64(pd.Timestamp(now_ns, unit="ns", tz="UTC").tz_convert(NY).date(), "D")
    ahead = settle > now_ns
    nxt = first_expiry_after(exp[ahead], today)
    if nxt is None and ahead.any():  # nothing after today: the first settlement ahead
        nxt = exp[ahead].min()
    if nxt is not None:
        out.append(("after_next_expiry", int(settle[ahead & (exp == nxt)].max())))
    return out
