"""Shared helpers for the chain tests: cached loads and the INDEX.csv / calendar tables."""

from __future__ import annotations

import csv
import functools
from datetime import date, timedelta
from pathlib import Path

from monitor.chain.loaders import load_chain
from tests.data_paths import CALENDAR_CSV, DATA_DIR, EOD_DIR, QUOTEDATA_DIR


@functools.cache
def load(path: str):
    """load_chain, cached per path (the tests never mutate a chain)."""
    return load_chain(path)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@functools.cache
def quotedata_index() -> list[dict[str, str]]:
    return _read_csv(QUOTEDATA_DIR / "INDEX.csv")


@functools.cache
def eod_index() -> list[dict[str, str]]:
    return _read_csv(EOD_DIR / "INDEX.csv")


@functools.cache
def calendar_rows() -> list[dict[str, str]]:
    return _read_csv(CALENDAR_CSV)


@functools.cache
def calendar_monthly_sessions() -> frozenset[date]:
    return frozenset(date.fromisoformat(r["monthly_opex_session"]) for r in calendar_rows())


def is_listed_monthly(d: date) -> bool:
    """Monthly expiry per the shared calendar CSV (1990-2027); after 2027 (LEAPS) a plain
    third-Friday test, written independently of monitor.chain.occ."""
    if d.year <= 2027:
        return d in calendar_monthly_sessions()
    return d.weekday() == 4 and 15 <= d.day <= 21


def data_path(rel: str) -> str:
    return str(DATA_DIR / rel)


def days_to_date(x) -> date:
    return date(1970, 1, 1) + timedelta(days=int(x.astype("datetime64[D]").astype("int64")))
