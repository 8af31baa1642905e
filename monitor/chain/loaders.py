"""Loaders for the CBOE chain layouts and the project's canonical chain CSV.

One module per layout (:mod:`~monitor.chain.quotedata`, :mod:`~monitor.chain.eod`,
:mod:`~monitor.chain.long`, :mod:`~monitor.chain.canonical`) over the shared helpers of
:mod:`~monitor.chain.build`; this module reads files and dispatches.

Entry point: :func:`load_chain` sniffs the layout from the file's *content* (gzip or plain,
whatever the name says) and dispatches to:

``quotedata``  classic CBOE delayed-quotes ``quotedata.csv`` (one row = call + put of one
               expiry/strike), see :func:`load_quotedata`.
``eod``        the daily snapshot layout ``# spot,<S>,ts,<UTC>`` + ``strike,dte,cp,...``,
               see :func:`load_eod_snapshot`.
``long``       the reshaped long layout ``Expiration Date,...,Strike,Type,Index Spot``,
               see :func:`load_long`.
``canonical``  this project's own format, see :func:`load_canonical` / :func:`write_canonical`.

Error policy: a *row* that cannot be used never raises; it is dropped and counted in
``chain.rejected[reason]`` (reasons: ``bad_symbol``, ``bad_number``, ``bad_expiry``,
``bad_type``, ``negative_price``, ``negative_oi``, ``missing_field``, ``symbol_mismatch``,
``other_underlying``, ``bad_row``). For ``quotedata`` the counts are per *contract* (a row holds two). A *file*
that cannot be used raises :class:`~monitor.chain.model.ChainError` with a one-line message:
missing file, unknown layout, no spot, no usable rows ("empty chain").

Value conventions (all layouts): ``bid``/``ask`` as in the file (0 stays 0.0, the core
rejects zero asks itself; NaN only where the field is empty); vendor ``gamma``/``delta`` as
in the file (0 is a real value); vendor ``iv`` 0 -> NaN (CBOE writes 0 for "not computed").
Roots decide settlement: ``am_settled = is_am_settled(root, expiry)`` and
``settle_ns`` 09:30/16:00 America/New_York (see :mod:`monitor.chain.occ`).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from pathlib import Path

from monitor.chain.build import (
    CANONICAL_MAGIC,
    QUOTEDATA_PREFIX,
    _one_line,
    format_as_of,
    parse_as_of,
)
from monitor.chain.canonical import _canonical_from_text, write_canonical
from monitor.chain.eod import _eod_from_text
from monitor.chain.long import _long_from_text
from monitor.chain.mapped import PARQUET_MAGIC, ColumnMap, columns_of_text, load_mapped, match
from monitor.chain.model import Chain, ChainError
from monitor.chain.quotedata import _quotedata_from_text

__all__ = [
    "LAYOUTS",
    "load_chain",
    "load_quotedata",
    "load_eod_snapshot",
    "load_long",
    "load_canonical",
    "write_canonical",
    "sniff_layout",
    "format_as_of",
    "parse_as_of",
]

LAYOUTS = ("quotedata", "eod", "long", "canonical")
_LAYOUT_ALIASES = {
    "quotedata": "quotedata", "cboe": "quotedata", "cboe_quotedata": "quotedata",
    "eod": "eod", "eod_snapshot": "eod", "snapshot": "eod",
    "long": "long", "cboe_long": "long",
    "canonical": "canonical", "monitor": "canonical",
}


def _is_binary(raw: bytes) -> bool:
    """Bytes no text chain file holds: a NUL, or more than 5 % control characters other
    than tab, CR, LF and form feed, in the first 4 KB (a PNG, a zip, a DBN file ...)."""
    head = raw[:4096]
    if b"\x00" in head:
        return True
    ctrl = sum(1 for c in head if c < 32 and c not in (9, 10, 12, 13))
    return ctrl > 0.05 * max(len(head), 1)


def _cut_unterminated(text: str, p: Path) -> tuple[str, str | None]:
    """A last line without a line terminator may be cut mid-field (``...,0.15,0.``) and
    still have every field, so it would pass as a wrong number. When it has as many fields
    as the line before it, it is dropped, with a note naming ``FILE:LINE`` (returned);
    otherwise the text is kept whole, so the layout's own check refuses the cut row with
    its line. A complete download ends with a line terminator."""
    if not text or text.endswith(("\n", "\r")):
        return text, None
    head, sep, last = text.rpartition("\n")
    if not sep or not last.strip():
        return text, None
    before = head.rstrip("\r").rpartition("\n")[2]
    if last.count(",") != before.count(","):
        return text, None
    line = head.count("\n") + 2
    return head + "\n", (f"{p.name}:{line}: the last line has no line terminator, so it may "
                         f"be cut mid-field: dropped (unterminated_last_row)")


def _load(path, parse, underlying: str | None) -> Chain:
    """Read ``path`` (:func:`_read_text`), drop an unterminated last row
    (:func:`_cut_unterminated`, counted and noted), and parse it with ``parse``."""
    p, text = _read_text(path)
    text, note = _cut_unterminated(text, p)
    chain = parse(text, p, underlying)
    if note is not None:  # counted per contract, as every rejection (a quotedata row: 2)
        chain.notes.append(note)
        chain.rejected["unterminated_last_row"] += 2 if chain.layout == "quotedata" else 1
    return chain


def _read_text(path) -> tuple[Path, str]:
    p = Path(path)
    if not p.exists():
        raise ChainError(f"chain file not found: {p}")
    if not p.is_file():
        raise ChainError(f"chain path is not a file: {p}")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ChainError(_one_line(f"cannot read chain file {p}: {e}")) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ChainError(_one_line(f"corrupt gzip chain file {p}: {e}")) from None
    if _is_binary(raw):  # never echo a binary file's bytes
        raise ChainError(f"unknown chain layout in {p}: binary content, not a text chain "
                         f"file (accepted: {', '.join(LAYOUTS)}; see docs/conventions.md, chain "
                         f"layouts)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return p, text


def sniff_layout(text: str) -> str | None:
    """The layout of a chain file's text, or None when it is none of :data:`LAYOUTS`."""
    head = []
    for line in text.splitlines():
        s = line.strip().lstrip("\ufeff")
        if not s.strip(", \t"):
            continue
        head.append(s)
        if len(head) >= 12:
            break
    if not head:
        return None
    first = head[0]
    if first.startswith(CANONICAL_MAGIC):
        return "canonical"
    if first.startswith("#") and re.match(r"#\s*spot\s*,", first):
        return "eod"
    for s in head:
        if s.lstrip('"').startswith(QUOTEDATA_PREFIX):
            return "quotedata"
    cols = [c.strip().strip('"').lower() for c in first.split(",")]
    if "expiration date" in cols and "strike" in cols and "type" in cols:
        return "long"
    if cols[:3] == ["strike", "dte", "cp"]:
        return "eod"
    return None


def _accepted(mappings) -> str:
    """The layouts accepted, and how to add one (for the unknown-layout errors)."""
    names = list(LAYOUTS) + [f"mapped {n!r}" for n in (mappings or {})]
    return (f"accepted: {', '.join(names)}; another vendor's CSV or Parquet: map its columns "
            f"under chain_layouts in config.yaml, docs/chain-layouts.md")


def load_chain(path, *, layout: str | None = None, underlying: str | None = None,
               mappings: Mapping[str, ColumnMap] | None = None) -> Chain:
    """Load any supported chain file (gzip or plain). ``layout`` forces one of
    :data:`LAYOUTS`; ``underlying`` overrides the name the loader would infer;
    ``mappings`` (``chain_layouts`` of the configuration) read other vendors' CSV and
    Parquet files (:mod:`monitor.chain.mapped`)."""
    pq = Path(path)
    if layout is None and pq.is_file():
        with pq.open("rb") as fh:
            parquet = fh.read(4) == PARQUET_MAGIC
        if parquet:
            import pyarrow.parquet as papq
            try:
                cols = papq.read_schema(pq).names
            except Exception as err:  # noqa: BLE001 - pyarrow's own error types
                raise ChainError(_one_line(f"unreadable Parquet chain {pq}: {err}")) from None
            name = match(mappings, cols)
            if name is None:
                raise ChainError(_one_line(
                    f"unknown chain layout in {pq}: Parquet columns {cols[:8]} match no "
                    f"column mapping ({_accepted(mappings)})"))
            return load_mapped(pq, name, mappings[name], underlying)
    forced = None
    if layout is not None:
        forced = _LAYOUT_ALIASES.get(layout.strip().lower())
        if forced is None:
            raise ChainError(f"unknown chain layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    parsers = {"quotedata": _quotedata_from_text, "eod": _eod_from_text,
               "long": _long_from_text, "canonical": _canonical_from_text}

    def parse(text: str, p: Path, und: str | None) -> Chain:
        lay = forced or sniff_layout(text)
        name = match(mappings, columns_of_text(text)) if lay is None else None
        if name is not None:
            return load_mapped(p, name, mappings[name], und, text=text)
        if lay is None:
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            if not first[:200].isprintable():  # never echo a binary file's bytes
                raise ChainError(f"unknown chain layout in {p}: binary content, not a text "
                                 f"chain file")
            raise ChainError(_one_line(f"unknown chain layout in {p} (first line: "
                                       f"{first[:60]!r}; {_accepted(mappings)})"))
        return parsers[lay](text, p, und)

    return _load(path, parse, underlying)


def load_quotedata(path, *, underlying: str | None = None) -> Chain:
    """Load a classic CBOE ``quotedata.csv`` download (SOURCES.md section 2).

    * The table is found by its ``Expiration Date,Calls,Last Sale`` prefix (no fixed line
      number); metadata lines may be padded with commas, preceded by a line of commas,
      CRLF-terminated, carry stray quotes or numbers written with (narrow) spaces.
    * Spot = the header ``Last:``; ``Last - Change`` (the prior close) goes into ``notes``.
    * Root, expiry, type and strike come from each OCC symbol (SPX vs SPXW, NDX vs NDXP ...
      are told apart there). Each table row yields two contracts (call, put); rejected
      counts are per contract. A symbol off its row's ``Strike``, or more than a day away
      from its ``Expiration Date``, is rejected as ``symbol_mismatch``. Contracts whose
      root belongs to another underlying than the majority (adjusted series such as
      ``AMD1`` after a corporate action, whose deliverable is not 100 shares) are dropped
      as ``other_underlying``.
    * Underlying: ``underlying`` if given, else the most common underlying of the roots
      (``SPXW`` -> ``SPX``, ``NDXP`` -> ``NDX``).
    * ``as_of_ns``: the ``Date:`` line (the *download* instant) converted to UTC, taking
      its UTC offset / zone abbreviation when present, else America/New_York; English,
      Spanish, Russian, French ... month names; a missing year (the malformed ``4 June 4``)
      is taken from the earliest expiry. If the line cannot be parsed at all, 16:00 ET on
      the earliest expiry date in the file is assumed and a note says so.
    """
    return _load(path, _quotedata_from_text, underlying)


def load_eod_snapshot(path, *, underlying: str | None = None) -> Chain:
    """Load the daily snapshot layout (SOURCES.md section 1)::

        # spot,7674.3701,ts,2026-08-21 22:18:44
        strike,dte,cp,oi,gamma,delta,iv,bid,ask

    * Underlying and label date from the file name (``SPX_2026-08-21.csv.gz``), or the
      ``underlying`` argument. Expiry = label date + ``dte`` calendar days.
    * ``as_of_ns`` = the header ``ts`` read as UTC.
    * Every row is kept (OI > 0 already); vendor gamma 0 stays 0.0, iv 0 -> NaN, bid/ask 0 stay 0.0.

    **Root rule (SPX, likewise NDX/RUT).** The layout drops the root, so an SPX (AM-settled
    monthly) and an SPXW (PM) contract on the same monthly expiry give duplicate
    ``(strike, dte, cp)`` rows. The file is two consecutive blocks, each sorted by
    ``(dte, strike, cp)``: first every SPX contract, then every SPXW contract (CBOE's JSON
    order, where ``SPX   `` sorts before ``SPXW``). The loader splits at the single place where
    ``dte`` decreases; the first block is root SPX, the rest SPXW. The split is accepted only
    if every first-block expiry is a monthly expiry (third Friday, or the session before a
    holiday Friday) and neither block repeats a ``(dte, strike, cp)`` key. Verified on all 44
    SPX files: exactly one decrease, all first-block expiries monthly (incl. LEAPS), no
    repeated key within a block; on the monthly expiry days (2026-06-18, 07-17, 08-21)
    every first-block ``dte = 0`` row has zero bid, ask, gamma and iv (the AM contracts
    settled that morning) while the second block's are quoted; and the first block holds
    the larger OI on most duplicate keys, as SPX monthlies do in the quotedata files.
    Otherwise (file re-sorted) the fallback is by occurrence: on a monthly expiry the first
    row of a key is SPX and later ones SPXW; non-monthly expiries are SPXW; a note says so.

    **VIX** files: root ``VIX`` for every row, AM-settled (09:30 ET on the expiry date).
    VIX options are priced off the VIX *future* of their expiry, not the index in the
    header; a note says so (the core's put-call-parity forward handles this).
    """
    return _load(path, _eod_from_text, underlying)


def load_long(path, *, underlying: str | None = None) -> Chain:
    """Load the long layout (SOURCES.md section 3)::

        Expiration Date,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Type,Index Spot

    * One row per contract; ``Type`` is Call/Put; expiries ISO (``Fri Sep 15 2023`` also read).
    * Spot = ``Index Spot`` (first valid value; a note if it varies).
    * Underlying from ``underlying`` or the file name prefix (``SPX_long_2025-01-22`` -> SPX).
    * ``as_of_ns``: 16:00 America/New_York on the date in the file name (these files are
      end-of-day reshapes of quotedata downloads); with no date in the name, 16:00 ET on the
      earliest expiry, with a note.
    * Root rule: the reshaped file is sorted by expiry and strike and keeps the quotedata
      order inside a key, where the SPX row precedes the SPXW row. So on a monthly expiry
      the first row of a ``(expiry, strike, type)`` key is SPX (AM), a second one SPXW (PM);
      a single row on a monthly expiry is SPX (in the quotedata files, strikes listed by one
      root only on a monthly expiry are always SPX); non-monthly expiries are SPXW.
      (Checked: the first row holds the larger OI on ~89 % of differing duplicate keys,
      vs 80 % SPX > SPXW in the quotedata files.)
    """
    return _load(path, _long_from_text, underlying)


def load_canonical(path, *, underlying: str | None = None) -> Chain:
    """Load the project's canonical CSV (written by :func:`write_canonical`; ``.gz`` too)::

        # monitor-chain v1,underlying=SPX,spot=7674.3701,as_of=2026-08-21T22:18:44Z
        symbol,bid,ask,oi,iv,delta,gamma
        SPXW260821C07600000,74.5,75.1,1234,0.1532,0.61,0.0041

    ``symbol`` is compact OCC; ``iv``/``delta``/``gamma`` are the vendor values (empty = NaN);
    empty ``bid``/``ask`` = NaN. ``as_of`` is ISO-8601 UTC with ``Z`` (up to 9 fractional
    digits). Settlement is derived from root + expiry exactly as in the other loaders.
    """
    return _load(path, _canonical_from_text, underlying)
