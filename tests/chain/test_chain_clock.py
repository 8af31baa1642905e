"""The quotes' clock: a snapshot saved after its session closed is evaluated at that
session's close (16:15 ET for index options, 16:00 for equity options, early closes
included), found with the exchange calendar; the notes say so."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.chain import load_chain
from monitor.chain.clock import session_clock
from monitor.chain.occ import NY
from monitor.core.book import Book
from tests.data_paths import QUOTEDATA_DIR


def ns(y, mo, d, h, mi):
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=NY).timestamp() * 1e9)


@pytest.mark.parametrize("taken,root,expected,moved", [
    (ns(2022, 1, 9, 3, 11), "SPX", ns(2022, 1, 7, 16, 15), True),     # Sunday -> Friday
    (ns(2026, 8, 21, 18, 18), "SPX", ns(2026, 8, 21, 16, 15), True),  # evening, same day
    (ns(2026, 8, 21, 16, 10), "SPXW", ns(2026, 8, 21, 16, 10), False),  # index options trade
    (ns(2026, 8, 21, 16, 10), "SPY", ns(2026, 8, 21, 16, 0), True),   # equity options closed
    (ns(2026, 6, 23, 8, 50), "SPX", ns(2026, 6, 22, 16, 15), True),   # before the open
    (ns(2026, 6, 19, 12, 0), "SPX", ns(2026, 6, 18, 16, 15), True),   # Juneteenth holiday
    (ns(2026, 11, 27, 15, 0), "SPX", ns(2026, 11, 27, 13, 15), True),  # early close
    (ns(2026, 8, 20, 11, 30), "SPX", ns(2026, 8, 20, 11, 30), False),  # during the session
])
def test_session_clock_by_hand(taken, root, expected, moved):
    clock, note = session_clock(taken, root)
    assert clock == expected
    assert (note is not None) == moved


def weekend_files():
    out = []
    for p in sorted(QUOTEDATA_DIR.rglob("*quotedata*")):
        chain = load_chain(p)
        if dt.datetime.fromtimestamp(chain.as_of_ns / 1e9, tz=NY).weekday() >= 5:
            out.append((p, chain))
    return out


def test_weekend_quotedata_files_are_evaluated_at_the_fridays_close():
    files = weekend_files()
    assert len(files) >= 3, "the quotedata sample has weekend downloads"
    for p, chain in files:
        taken = dt.datetime.fromtimestamp(chain.as_of_ns / 1e9, tz=NY)
        clock = dt.datetime.fromtimestamp(chain.eval_ns / 1e9, tz=NY)
        assert clock.weekday() <= 4 and clock < taken, p.name
        assert (taken.date() - clock.date()).days <= 3 + 1, p.name  # that weekend's session
        index = chain.underlying in ("SPX", "VIX", "NDX", "RUT", "XSP")
        assert (clock.hour, clock.minute) in ((16, 15), (13, 15)) if index else \
            (clock.hour, clock.minute) in ((16, 0), (13, 0)), p.name
        assert any(n.startswith("clock: quotes taken") for n in chain.notes), p.name
        book = Book(chain)
        assert book.now_ns == chain.eval_ns  # the Greeks are evaluated there
