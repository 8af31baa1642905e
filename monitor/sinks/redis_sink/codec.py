"""The state hash's field codec: ``str`` as is; ``None`` (and NaN/inf) -> ``null``; ``bool``
-> ``true``/``false``; numbers -> their JSON/shortest-repr text; ``dict``, ``list`` and
anything else -> JSON. :func:`decode_field` reverses it (a string that looks like a number
comes back as a number). Also the hedge-pressure stream's sample of a state."""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from monitor.tape import EXPIRY_BUCKETS


def numpy_enc_hook(obj):
    """msgspec ``enc_hook`` for numpy scalars and arrays (shared by the sinks)."""
    item = getattr(obj, "item", None)  # numpy scalar
    if callable(item) and getattr(obj, "shape", None) == ():
        return item()
    tolist = getattr(obj, "tolist", None)  # numpy array
    if callable(tolist):
        return tolist()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


ENCODER = msgspec.json.Encoder(enc_hook=numpy_enc_hook)
DECODER = msgspec.json.Decoder()


def to_json(obj) -> str:
    """Strict JSON text (NaN/inf -> null; numpy scalars and arrays accepted)."""
    return ENCODER.encode(obj).decode()


def encode_field(value) -> str:
    """One state hash field value (see the module docstring)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return to_json(value)


def decode_field(text: str):
    """Inverse of :func:`encode_field` (JSON scalars/containers decoded, else the string)."""
    if not text:
        return text
    c = text[0]
    if c in "-0123456789tfn[{":
        try:
            value = DECODER.decode(text)
        except msgspec.DecodeError:
            return text
        return value
    return text


def encode_state(state: Mapping) -> dict[str, str]:
    return {str(k): encode_field(v) for k, v in state.items()}


def tape_sample(state: Mapping) -> dict[str, str] | None:
    """The ``P:R:hedge_pressure`` stream entry of a state (None without a tape)."""
    hp = state.get("hedge_pressure_usd")
    if not isinstance(hp, Mapping):
        return None
    by = hp.get("by_expiry") or {}
    return {"ts_ns": encode_field(state.get("as_of_ns")), "spot": encode_field(state.get("spot")),
            "total": encode_field(hp.get("total")),
            **{k: encode_field(by.get(k)) for k in EXPIRY_BUCKETS}}
