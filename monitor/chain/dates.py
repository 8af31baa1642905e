"""Parsing the localized ``Date:`` line of CBOE ``quotedata.csv`` downloads.

Seen in the wild (``shared/data/cboe_quotedata``)::

    September 14, 2023 at 4:31 PM EDT      February 5 2022, 8:09 PM EST
    14 April 2023, 19:12 UTC−4  (Unicode minus)   8 June 2023 7:56 PM EDT
    23 de marzo de 2022, 10:11 GMT-4       (Spanish)
    9 декабря 2023 г. в 13:49 GMT-5         (Russian)
    10 novembre 2023 à 18:55 UTC−5          (French)
    20 May 2023, 11:46 AM EDT"              (stray quote)
    4 June 4, 3:15 PM EDT                   (malformed: no year)

Strategy: normalise (Unicode minus, no-break spaces, quotes), pull out the UTC offset or
zone abbreviation, then the clock time, then a month name (English, Spanish, French,
Russian, German, Italian, Portuguese; full names before abbreviations), a day (1-2
digits) and a 4-digit year. A missing year is inferred from a hint date (the earliest
expiry in the file). No offset/abbreviation means America/New_York.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo

from monitor.chain.occ import NY

_MONTHS_FULL: dict[str, int] = {}
_MONTHS_ABBR: dict[str, int] = {}


def _add(table: dict[str, int], month: int, *names: str) -> None:
    for n in names:
        table[n] = month


for _m, _names in enumerate(
    [
        # English, Spanish, French, German, Italian, Portuguese, Russian (nominative + genitive)
        ("january", "enero", "janvier", "januar", "jänner", "gennaio", "janeiro", "январь", "января"),
        ("february", "febrero", "février", "fevrier", "februar", "febbraio", "fevereiro", "февраль", "февраля"),
        ("march", "marzo", "mars", "märz", "marz", "março", "marco", "март", "марта"),
        ("april", "abril", "avril", "aprile", "апрель", "апреля"),
        ("may", "mayo", "mai", "maggio", "maio", "май", "мая"),
        ("june", "junio", "juin", "juni", "giugno", "junho", "июнь", "июня"),
        ("july", "julio", "juillet", "juli", "luglio", "julho", "июль", "июля"),
        ("august", "agosto", "août", "aout", "август", "августа"),
        ("september", "septiembre", "setiembre", "septembre", "settembre", "setembro", "сентябрь", "сентября"),
        ("october", "octubre", "octobre", "oktober", "ottobre", "outubro", "октябрь", "октября"),
        ("november", "noviembre", "novembre", "novembro", "ноябрь", "ноября"),
        ("december", "diciembre", "décembre", "decembre", "dezember", "dicembre", "dezembro", "декабрь", "декабря"),
    ],
    start=1,
):
    _add(_MONTHS_FULL, _m, *_names)

for _m, _names in enumerate(
    [
        ("jan", "ene", "janv", "янв"),
        ("feb", "févr", "fevr", "fév", "fev", "фев"),
        ("mar", "мар"),
        ("apr", "abr", "avr", "апр"),
        (),
        ("jun", "июн"),
        ("jul", "juil", "июл"),
        ("aug", "ago", "авг"),
        ("sep", "sept", "set", "сен", "сент"),
        ("oct", "okt", "ott", "out", "окт"),
        ("nov", "ноя", "нояб"),
        ("dec", "dic", "déc", "dez", "дек"),
    ],
    start=1,
):
    _add(_MONTHS_ABBR, _m, *_names)

_ZONE_ABBR: dict[str, int] = {  # offset from UTC in minutes
    "EDT": -240, "EST": -300, "CDT": -300, "CST": -360, "MDT": -360, "MST": -420,
    "PDT": -420, "PST": -480, "UTC": 0, "GMT": 0, "Z": 0, "BST": 60, "CET": 60, "CEST": 120,
}

_OFFSET_RE = re.compile(r"\b(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b", re.IGNORECASE)
_ABBR_RE = re.compile(r"\b(EDT|EST|CDT|CST|MDT|MST|PDT|PST|UTC|GMT|BST|CEST|CET|ET)\b")
_TIME_RE = re.compile(
    r"(?<!\d)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?\s*[Mm]\b\.?)?"
)
_TOKEN_RE = re.compile(r"[^\W\d_]+|\d+")


def normalise_text(s: str) -> str:
    """Replace Unicode minus/dashes and exotic spaces, drop quotes."""
    return (
        s.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-")
        .replace("\u202f", " ").replace("\u00a0", " ").replace("\u2009", " ")
        .replace('"', " ").replace("\ufeff", "")
    )


def parse_cboe_date(text: str, year_hint: date | None = None) -> tuple[datetime | None, list[str]]:
    """Parse a CBOE ``Date:`` text into an aware datetime.

    Returns ``(datetime or None, notes)``. ``notes`` explains any assumption (year inferred,
    no time given, no zone given). ``None`` means the date itself could not be recovered.
    """
    notes: list[str] = []
    s = normalise_text(text)
    s = re.sub(r"^\s*Date:\s*", "", s, flags=re.IGNORECASE).strip(" ,\t")

    tz: tzinfo = NY
    zone_given = False
    m = _OFFSET_RE.search(s)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        tz = timezone(timedelta(minutes=sign * minutes))
        zone_given = True
        s = s[: m.start()] + " " + s[m.end():]
    else:
        m = _ABBR_RE.search(s)
        if m:
            abbr = m.group(1)
            if abbr != "ET":
                tz = timezone(timedelta(minutes=_ZONE_ABBR[abbr]))
            zone_given = True
            s = s[: m.start()] + " " + s[m.end():]

    hour = minute = second = None
    m = _TIME_RE.search(s)
    if m:
        hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        ampm = (m.group(4) or "").lower()
        if ampm == "p" and hour < 12:
            hour += 12
        elif ampm == "a" and hour == 12:
            hour = 0
        if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
            hour = minute = second = None
        s = s[: m.start()] + " " + s[m.end():]

    tokens = _TOKEN_RE.findall(s.lower())
    month = None
    for t in tokens:
        if t in _MONTHS_FULL:
            month = _MONTHS_FULL[t]
            break
    if month is None:
        for t in tokens:
            if t in _MONTHS_ABBR:
                month = _MONTHS_ABBR[t]
                break
    numbers = [t for t in tokens if t.isdigit()]
    years = [int(t) for t in numbers if len(t) == 4]
    days = [int(t) for t in numbers if len(t) <= 2 and 1 <= int(t) <= 31]
    if month is None or not days:
        return None, [f"cannot find day and month in {text.strip()!r}"]
    day = days[0]
    if years:
        year = years[0]
    elif year_hint is not None:
        best = None
        for y in (year_hint.year - 1, year_hint.year, year_hint.year + 1):
            try:
                cand = date(y, month, day)
            except ValueError:
                continue
            if best is None or abs((cand - year_hint).days) < abs((best - year_hint).days):
                best = cand
        if best is None:
            return None, [f"no valid date for {text.strip()!r}"]
        year = best.year
        notes.append(f"Date line {text.strip()!r} has no year; {year} inferred from the earliest expiry")
    else:
        return None, [f"no year in {text.strip()!r}"]
    try:
        date(year, month, day)
    except ValueError:
        return None, [f"invalid date in {text.strip()!r}"]
    if hour is None:
        hour, minute, second = 16, 0, 0
        notes.append(f"Date line {text.strip()!r} has no time; 16:00 assumed")
    if not zone_given:
        notes.append(f"Date line {text.strip()!r} has no zone; America/New_York assumed")
    return datetime(year, month, day, hour, minute, second, tzinfo=tz), notes
