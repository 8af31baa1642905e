"""The localized quotedata ``Date:`` line parser."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from monitor.chain.dates import parse_cboe_date


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, utc",
    [
        ("September 14, 2023 at 4:31 PM EDT", _utc(2023, 9, 14, 20, 31)),
        ("February 5 2022, 8:09 PM EST", _utc(2022, 2, 6, 1, 9)),
        ("January 9, 2022, 3:11 AM EST", _utc(2022, 1, 9, 8, 11)),
        ("14 April 2023, 19:12 UTC\u22124", _utc(2023, 4, 14, 23, 12)),  # Unicode minus
        ("8 June 2023 7:56 PM EDT", _utc(2023, 6, 8, 23, 56)),
        ("20 May 2023, 11:46 AM EDT\"", _utc(2023, 5, 20, 15, 46)),  # stray quote
        ("23 de marzo de 2022, 10:11 GMT-4", _utc(2022, 3, 23, 14, 11)),  # Spanish
        ("9 \u0434\u0435\u043a\u0430\u0431\u0440\u044f 2023 \u0433. \u0432 13:49 GMT-5",
         _utc(2023, 12, 9, 18, 49)),  # Russian
        ("10 novembre 2023 \u00e0 18:55 UTC\u22125", _utc(2023, 11, 10, 23, 55)),  # French
        ("12:00 PM EST, March 3, 2024", _utc(2024, 3, 3, 17, 0)),
        ("June 1, 2024 at 12:05 AM EDT", _utc(2024, 6, 1, 4, 5)),
        ("2 janvier 2024 09:45 UTC+1", _utc(2024, 1, 2, 8, 45)),
    ],
)
def test_parse_cboe_date(text, utc):
    dt, notes = parse_cboe_date(text)
    assert dt is not None, notes
    assert dt.astimezone(timezone.utc) == utc


def test_no_zone_means_new_york():
    dt, notes = parse_cboe_date("July 12, 2022, 11:55 AM")
    assert dt.astimezone(timezone.utc) == _utc(2022, 7, 12, 15, 55)  # EDT
    dt, notes = parse_cboe_date("December 12, 2022, 11:55 AM")
    assert dt.astimezone(timezone.utc) == _utc(2022, 12, 12, 16, 55)  # EST
    assert any("New_York" in n for n in notes)


def test_missing_year_inferred_from_hint():
    dt, notes = parse_cboe_date("4 June 4, 3:15 PM EDT", year_hint=date(2023, 6, 5))
    assert dt.astimezone(timezone.utc) == _utc(2023, 6, 4, 19, 15)
    assert any("no year" in n for n in notes)
    # across a year end the nearest year wins
    dt, _ = parse_cboe_date("30 December, 4:00 PM EST", year_hint=date(2024, 1, 2))
    assert dt.date() == date(2023, 12, 30)
    assert dt.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize("text", ["", "garbage", "4 June 4, 3:15 PM EDT", "Smarch 4 2023"])
def test_unparseable_gives_none(text):
    dt, notes = parse_cboe_date(text)  # no hint: the year cannot be inferred
    assert dt is None
    assert notes
