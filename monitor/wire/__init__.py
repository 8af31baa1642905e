"""Wire format v1 of the ticks the monitor consumes: schema (:mod:`.schema`) and codec
(:mod:`.codec`). Documented for producers in ``docs/wire-format.md``."""

from monitor.wire.codec import (
    ENCODINGS,
    MALFORMED,
    DecodeResult,
    decode,
    encode,
    kafka_key,
    underlying_of_tick,
)
from monitor.wire.schema import (
    TICK_TYPES,
    WIRE_VERSION,
    OpenInterest,
    OptionQuote,
    OptionTrade,
    Tick,
    UnderlyingTick,
    VolIndex,
)

__all__ = [
    "WIRE_VERSION", "Tick", "TICK_TYPES", "OptionQuote", "OptionTrade", "UnderlyingTick",
    "OpenInterest", "VolIndex", "DecodeResult", "encode", "decode", "kafka_key",
    "underlying_of_tick", "ENCODINGS", "MALFORMED",
]
