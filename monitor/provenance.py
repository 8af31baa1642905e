"""Where a stored checkpoint or regime history comes from, and whether it belongs to this run.

A run is named by its **source** (:meth:`monitor.sources.base.Source.identity`: the
embedded simulator, or a Kafka cluster's bootstrap and topics) and its **universe** (a
fingerprint of the chain each book was built from: the underlying, every contract's OCC
symbol and the instant the chain was taken). The service writes both beside every
checkpoint and regime history (``provenance``) and restores one only when

* it was written by a run of the same source (a demo's state never enters a live run,
  nor a run on one cluster another's),
* of the same universe (the same chain: a checkpoint of another day's chain has rows that
  mean other contracts, a history other sessions), and
* its event clock is not before the chain was taken (a clock that would run backwards).

Anything else is set aside with one line saying why (:func:`mismatch`); state from another
run is never restored into this one. A checkpoint or history without provenance (written
by an older monitor) is set aside too.
"""

from __future__ import annotations

import hashlib

from monitor.core.book import Book
from monitor.fmt import iso_utc

__all__ = ["provenance", "mismatch", "universe_id"]


def universe_id(book: Book) -> str:
    """A fingerprint of the chain ``book`` was built from (16 hex digits)."""
    chain = book.chain
    h = hashlib.sha256(f"{chain.underlying}|{chain.as_of_ns}|".encode())
    h.update("\n".join(chain.symbols()).encode())
    return h.hexdigest()[:16]


def provenance(source: str, book: Book) -> dict:
    """What this run writes beside a checkpoint or regime history of ``book``."""
    return {"source": source, "universe": universe_id(book), "start_ns": int(book.chain.eval_ns)}


def mismatch(stored: dict | None, current: dict, clock_ns: int | None = None) -> str | None:
    """Why a checkpoint or history with provenance ``stored`` (and event clock
    ``clock_ns``) does not belong to the run of ``current`` (None: it does)."""
    if not isinstance(stored, dict):
        return "it carries no provenance (written by an older monitor)"
    if stored.get("source") != current["source"]:
        return f"it was written by a run of {stored.get('source')}, this run reads {current['source']}"
    if stored.get("universe") != current["universe"]:
        return (f"it belongs to another chain (universe {stored.get('universe')}, this run's "
                f"{current['universe']})")
    if clock_ns is not None and clock_ns < current["start_ns"]:
        return (f"its clock ({iso_utc(clock_ns)}) is before this run's chain was taken "
                f"({iso_utc(current['start_ns'])})")
    return None
