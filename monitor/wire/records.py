"""The ``records`` encoding: option quotes and trades as fixed-width binary records,
decoded straight into arrays (no Python object per tick) for throughput.

A message is an 8-byte header then a body:

* header: ``b"DFR"``, the layout version (``1``), the body kind, and three reserved zero
  bytes. Body kinds: ``KIND_QUOTES`` = 1: quote records only; ``KIND_MSGPACK`` = 2: ticks
  in the ``binary`` encoding (read, no longer written); ``KIND_TICKS`` = 3: every tick kind
  in arrival order (below);
* quote records, little-endian, packed (53 bytes each, :data:`QUOTE_DTYPE`):
  ``ts_ns`` int64, ``symbol`` 21 ASCII bytes (OCC, compact or padded; NUL-filled),
  ``bid`` float64, ``ask`` float64, ``bid_size`` float32, ``ask_size`` float32; decoded
  into a :class:`monitor.wire.columns.TickColumns` of quotes;
* a ``KIND_TICKS`` body: ``n`` (uint32, little-endian), ``n`` tick records (54 bytes each,
  :data:`TICK_DTYPE`: ``kind`` uint8 (0 quote, 1 trade, 2 other) then the quote record's
  fields; a trade's ``price`` and ``size`` in ``bid`` and ``ask``), then the ``binary``
  (msgpack) encoding of the ``other`` ticks (underlying, open interest, volatility index,
  and quotes or trades that need their object: a symbol longer than 21 bytes or not
  ASCII, a trade with sale conditions), whose record's ``bid`` is its index there. Decoded
  into a :class:`monitor.wire.columns.TickColumns`.

NaN is a normal float here; the pipeline's screening kernel rejects it. A body whose length
is not a whole number of records is malformed as a whole.
"""

from __future__ import annotations

import numpy as np

MAGIC = b"DFR"
LAYOUT_VERSION = 1
KIND_QUOTES = 1
KIND_MSGPACK = 2
KIND_TICKS = 3
HEADER_SIZE = 8
WIDTH = 21  # bytes of a symbol
QUOTE_DTYPE = np.dtype([("ts_ns", "<i8"), ("symbol", "S21"), ("bid", "<f8"), ("ask", "<f8"),
                        ("bid_size", "<f4"), ("ask_size", "<f4")])
TICK_DTYPE = np.dtype([("kind", "u1"), ("ts_ns", "<i8"), ("symbol", "S21"), ("bid", "<f8"),
                       ("ask", "<f8"), ("bid_size", "<f4"), ("ask_size", "<f4")])


def header(kind: int) -> bytes:
    return MAGIC + bytes([LAYOUT_VERSION, kind, 0, 0, 0])


def encode_quotes(quotes) -> bytes:
    """One ``records`` message with ``quotes`` (OptionQuote objects)."""
    arr = np.empty(len(quotes), dtype=QUOTE_DTYPE)
    for k, q in enumerate(quotes):
        sym = q.symbol.encode("ascii")
        if len(sym) > 21:
            raise ValueError(f"symbol longer than 21 bytes: {q.symbol!r}")
        arr[k] = (q.ts_ns, sym, q.bid, q.ask, q.bid_size, q.ask_size)
    return header(KIND_QUOTES) + arr.tobytes()


def parse(payload: bytes) -> tuple[int, memoryview]:
    """(kind, body); raises ValueError with the reason for a bad header or length."""
    if len(payload) < HEADER_SIZE or payload[:3] != MAGIC:
        raise ValueError("not a records message (no DFR header)")
    if payload[3] != LAYOUT_VERSION:
        raise ValueError(f"records layout version {payload[3]} (this reader knows "
                         f"{LAYOUT_VERSION})")
    kind = payload[4]
    body = memoryview(payload)[HEADER_SIZE:]
    if kind == KIND_QUOTES and len(body) % QUOTE_DTYPE.itemsize:
        raise ValueError(f"quote records body of {len(body)} bytes is not a multiple of "
                         f"{QUOTE_DTYPE.itemsize}")
    if kind == KIND_TICKS:
        if len(body) < 4:
            raise ValueError("tick records body without its count")
        n = int.from_bytes(body[:4], "little")
        if len(body) < 4 + n * TICK_DTYPE.itemsize:
            raise ValueError(f"tick records body of {len(body)} bytes is shorter than its "
                             f"{n} records")
    if kind not in (KIND_QUOTES, KIND_MSGPACK, KIND_TICKS):
        raise ValueError(f"unknown records body kind {kind}")
    return kind, body


def split_quotes(body: memoryview) -> np.ndarray:
    """A ``KIND_QUOTES`` body (checked by :func:`parse`) as its records."""
    return np.frombuffer(body, dtype=QUOTE_DTYPE)


def encode_ticks(columns, others: bytes) -> bytes:
    """One ``KIND_TICKS`` message: the rows of a :class:`TickColumns` (its ``OTHER`` rows'
    ``x0`` indexing ``others``, their ``binary`` encoding)."""
    n = len(columns)
    arr = np.empty(n, dtype=TICK_DTYPE)
    arr["kind"] = columns.kind
    arr["ts_ns"] = columns.ts_ns
    arr["symbol"] = columns.symbol.view("S21").reshape(n)
    arr["bid"], arr["ask"] = columns.x0, columns.x1
    arr["bid_size"], arr["ask_size"] = columns.x2, columns.x3
    return header(KIND_TICKS) + n.to_bytes(4, "little") + arr.tobytes() + others


def split_ticks(body: memoryview) -> tuple[np.ndarray, memoryview]:
    """A ``KIND_TICKS`` body (checked by :func:`parse`): its records and the msgpack rest."""
    n = int.from_bytes(body[:4], "little")
    end = 4 + n * TICK_DTYPE.itemsize
    return np.frombuffer(body[4:end], dtype=TICK_DTYPE), body[end:]
