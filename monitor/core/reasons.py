"""Every reason a tick or a message is rejected, declared once: the name (the label of
``dealerflow_ticks_rejected_total``, the dead-letter header ``reason``), what it means,
and whether the rejected tick is poison kept for the dead-letter topic (a value no market
produces) or ordinary feed noise that is only counted.

Read by the pipeline's rules (:mod:`monitor.ingest.rules`), the screening kernel's codes
(:data:`monitor.core.quotes.REASONS`), the decoder (:mod:`monitor.wire.codec`) and the
metrics (:mod:`monitor.sinks.metrics`); a test holds every reason the code names to this
table. (A vendor file's records that give no tick have their own reasons,
:data:`monitor.sources.databento.REASONS`, counted the same way.)
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Reason", "REJECTIONS", "DEAD_LETTER"]


class Reason(NamedTuple):
    meaning: str
    #: True: the tick is poison, kept for the dead-letter topic (not only counted)
    dead_letter: bool = False


REJECTIONS: dict[str, Reason] = {
    "malformed": Reason("a message or element that does not decode as the wire format "
                        "(its bytes are dead-lettered by the source)"),
    "wrong_encoding": Reason("a message in the other encoding than the one configured"),
    "nan": Reason("a price, size, open interest or level that is not a finite number"),
    "negative_price": Reason("a negative price or open interest, or a size not above 0"),
    "crossed": Reason("a quote whose bid is above its ask"),
    "unknown_symbol": Reason("a contract or underlying that no book of this process holds"),
    "absurd_price": Reason("a price beyond the bounds of the configuration", True),
    "absurd_size": Reason("a trade size beyond the bounds of the configuration", True),
    "absurd_oi": Reason("an open interest beyond the bounds of the configuration", True),
    "future_ts": Reason("an event time beyond the wall clock or the event clock's allowed "
                        "skew", True),
    "past_ts": Reason("an event time before the allowed past", True),
    "spot_unconfirmed": Reason("a spot far from the last good one, not (yet) confirmed",
                               True),
    "apply_error": Reason("a tick whose application raised (the backstop)", True),
}

#: the reasons whose ticks go to the dead-letter topic
DEAD_LETTER: frozenset[str] = frozenset(n for n, r in REJECTIONS.items() if r.dead_letter)
