"""OCC symbols, the monthly-expiry calendar, AM/PM settlement and settlement instants."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.chain.occ import (
    OccSymbol,
    format_occ,
    format_occ_padded,
    is_am_settled,
    is_monthly_expiry,
    monthly_expiry,
    parse_occ,
    settlement_ns,
    settlement_ns_array,
    underlying_of_root,
)
from tests.chain._util import calendar_rows


def utc_ns(*args) -> int:
    """Hand-written UTC instant -> ns (no zoneinfo involved)."""
    return int(datetime(*args, tzinfo=timezone.utc).timestamp()) * 1_000_000_000


# ---------------------------------------------------------------- parse / format


@pytest.mark.parametrize(
    "symbol, expected",
    [
        ("SPXW  251219P05800000", OccSymbol("SPXW", date(2025, 12, 19), False, 5800.0)),
        ("SPXW251219P05800000", OccSymbol("SPXW", date(2025, 12, 19), False, 5800.0)),
        ("SPX   260821C07600000", OccSymbol("SPX", date(2026, 8, 21), True, 7600.0)),
        ("SPX260821C07600000", OccSymbol("SPX", date(2026, 8, 21), True, 7600.0)),
        ("SPY230914C00450500", OccSymbol("SPY", date(2023, 9, 14), True, 450.5)),
        ("VIX260916P00017500", OccSymbol("VIX", date(2026, 9, 16), False, 17.5)),
        ("NDXP220207C11000000", OccSymbol("NDXP", date(2022, 2, 7), True, 11000.0)),
        ("AMD1  230825C00025000", OccSymbol("AMD1", date(2023, 8, 25), True, 25.0)),
        ("A     240119C00001000", OccSymbol("A", date(2024, 1, 19), True, 1.0)),
        ("A240119C00001000", OccSymbol("A", date(2024, 1, 19), True, 1.0)),
        ("BRKB12240119P00300125", OccSymbol("BRKB12", date(2024, 1, 19), False, 300.125)),
    ],
)
def test_parse_occ(symbol, expected):
    got = parse_occ(symbol)
    assert got == expected
    assert isinstance(got.expiry, date)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "SPXW",
        "SPXW251219X05800000",  # type not C/P
        "SPXW251219p05800000",  # lower-case type
        "spxw251219P05800000",  # lower-case root
        "SPXW251319P05800000",  # month 13
        "SPXW250230P05800000",  # 30 February
        "SPXW2512l9P05800000",  # letter in the date
        "SPXW251219P0580000O",  # letter in the strike
        "SPXW251219P0580000",  # 7-digit strike
        "SPX 251219P05800000",  # single space: neither padded nor compact
        "SPXW 251219P05800000",  # 20 chars with a space
        "TOOLONGROOT251219P05800000",
        "SPXW  251219P05800000 X",
        "251219P05800000",  # no root
        "SP-X251219P05800000",
    ],
)
def test_parse_occ_rejects(bad):
    with pytest.raises(ValueError) as ei:
        parse_occ(bad)
    assert "OCC" in str(ei.value)


def test_parse_occ_rejects_non_string():
    with pytest.raises(ValueError):
        parse_occ(None)  # type: ignore[arg-type]


def test_format_occ_examples():
    assert format_occ("SPXW", date(2025, 12, 19), False, 5800.0) == "SPXW251219P05800000"
    assert format_occ("SPXW", np.datetime64("2025-12-19"), False, 5800) == "SPXW251219P05800000"
    assert format_occ("SPX", np.datetime64("2026-08-21", "D"), True, 7600.0) == "SPX260821C07600000"
    assert format_occ("SPY", date(2023, 9, 14), True, 450.5) == "SPY230914C00450500"
    assert format_occ_padded("SPXW", date(2025, 12, 19), False, 5800.0) == "SPXW  251219P05800000"
    assert format_occ_padded("SPX", date(2025, 12, 19), True, 5800.0) == "SPX   251219C05800000"


@pytest.mark.parametrize("bad", [("spx w", date(2025, 1, 17), True, 1.0),
                                 ("SPX", date(2025, 1, 17), True, -5.0),
                                 ("SPX", date(2025, 1, 17), True, 100_000.0),
                                 ("SPX", date(1999, 1, 15), True, 100.0)])
def test_format_occ_rejects(bad):
    with pytest.raises(ValueError):
        format_occ(*bad)


_roots = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6)
_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
_strikes = st.integers(min_value=0, max_value=99_999_999).map(lambda k: k / 1000.0)


@settings(max_examples=300, deadline=None)
@given(_roots, _dates, st.booleans(), _strikes)
def test_occ_round_trip(root, expiry, is_call, strike):
    compact = format_occ(root, expiry, is_call, strike)
    assert len(compact) == len(root) + 15
    assert parse_occ(compact) == (root, expiry, is_call, strike)
    padded = format_occ_padded(root, expiry, is_call, strike)
    assert len(padded) == 21
    assert parse_occ(padded) == (root, expiry, is_call, strike)
    # numpy datetime64 expiry gives the same text
    assert format_occ(root, np.datetime64(expiry.isoformat(), "D"), is_call, strike) == compact


def test_underlying_of_root():
    assert underlying_of_root("SPXW") == "SPX"
    assert underlying_of_root("SPX") == "SPX"
    assert underlying_of_root("NDXP") == "NDX"
    assert underlying_of_root("RUTW") == "RUT"
    assert underlying_of_root("VIXW") == "VIX"
    assert underlying_of_root("SPY") == "SPY"
    assert underlying_of_root("AMD1") == "AMD1"


# ---------------------------------------------------------------- calendar


def test_monthly_expiry_matches_shared_calendar():
    rows = calendar_rows()
    assert len(rows) == 456
    bad = []
    for r in rows:
        y, m = map(int, r["month"].split("-"))
        want = date.fromisoformat(r["monthly_opex_session"])
        if monthly_expiry(y, m) != want:
            bad.append((r["month"], monthly_expiry(y, m), want))
    assert bad == []


def test_monthly_expiry_holiday_shifts():
    assert monthly_expiry(2026, 6) == date(2026, 6, 18)  # Juneteenth Friday
    assert monthly_expiry(2027, 6) == date(2027, 6, 17)  # Juneteenth observed Fri 18th
    assert monthly_expiry(2025, 4) == date(2025, 4, 17)  # Good Friday
    assert monthly_expiry(2021, 6) == date(2021, 6, 18)  # before Juneteenth was a holiday
    assert is_monthly_expiry(date(2026, 8, 21))
    assert not is_monthly_expiry(date(2026, 8, 14))
    assert not is_monthly_expiry(date(2026, 6, 19))


@pytest.mark.parametrize(
    "root, expiry, am",
    [
        ("SPX", date(2026, 8, 21), True),
        ("SPXW", date(2026, 8, 21), False),
        ("SPX", date(2026, 6, 18), True),  # holiday-shifted monthly
        ("SPX", date(2026, 8, 14), False),  # not a monthly
        ("SPX", date(2028, 12, 15), True),  # LEAPS
        ("NDX", date(2022, 2, 18), True),
        ("NDXP", date(2022, 2, 18), False),
        ("RUT", date(2026, 7, 17), True),
        ("RUTW", date(2026, 7, 17), False),
        ("VIX", date(2026, 9, 16), True),
        ("VIXW", date(2026, 8, 26), True),
        ("SPY", date(2026, 8, 21), False),
        ("XSP", date(2026, 8, 21), False),
        ("AAPL", date(2026, 8, 21), False),
    ],
)
def test_is_am_settled(root, expiry, am):
    assert is_am_settled(root, expiry) is am


# ---------------------------------------------------------------- settlement instants


@pytest.mark.parametrize(
    "expiry, am, expected",
    [
        (date(2026, 6, 18), False, utc_ns(2026, 6, 18, 20, 0)),  # 16:00 EDT
        (date(2026, 12, 18), True, utc_ns(2026, 12, 18, 14, 30)),  # 09:30 EST
        (date(2026, 12, 18), False, utc_ns(2026, 12, 18, 21, 0)),  # 16:00 EST
        (date(2026, 6, 18), True, utc_ns(2026, 6, 18, 13, 30)),  # 09:30 EDT
        (date(2026, 3, 6), False, utc_ns(2026, 3, 6, 21, 0)),  # Friday before DST starts
        (date(2026, 3, 9), False, utc_ns(2026, 3, 9, 20, 0)),  # Monday after DST starts
        (date(2026, 3, 8), True, utc_ns(2026, 3, 8, 13, 30)),  # DST change day itself
        (date(2026, 11, 1), True, utc_ns(2026, 11, 1, 14, 30)),  # DST ends at 02:00
        (date(2026, 10, 30), True, utc_ns(2026, 10, 30, 13, 30)),
        (date(2025, 1, 17), False, utc_ns(2025, 1, 17, 21, 0)),
    ],
)
def test_settlement_ns_hand_computed(expiry, am, expected):
    assert settlement_ns(expiry, am) == expected
    assert settlement_ns(np.datetime64(expiry.isoformat()), am) == expected


def test_settlement_ns_array_matches_scalar():
    days = np.array(["2026-06-18", "2026-12-18", "2026-06-18", "2026-03-09", "2026-12-18"],
                    dtype="datetime64[D]")
    am = np.array([False, True, True, False, True])
    got = settlement_ns_array(days, am)
    assert got.dtype == np.int64
    assert got.tolist() == [
        utc_ns(2026, 6, 18, 20, 0), utc_ns(2026, 12, 18, 14, 30), utc_ns(2026, 6, 18, 13, 30),
        utc_ns(2026, 3, 9, 20, 0), utc_ns(2026, 12, 18, 14, 30),
    ]
    assert settlement_ns_array(days, False).tolist() == [settlement_ns(d, False) for d in days]
    assert settlement_ns_array(np.array([], dtype="datetime64[D]"), np.array([], bool)).shape == (0,)
