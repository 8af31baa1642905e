"""A Databento DBN file (``.dbn`` or zstd-compressed ``.dbn.zst``) read once into memory
and indexed by record (numba: each record's offset and rtype from the vendor's length
byte), so its records are taken either as the vendor's record objects (``databento-dbn``'s
own decoder, primed with the file's metadata) or, for a run of consolidated quote records,
as a numpy array of the vendor's record dtype without a Python object per record
(:mod:`monitor.sources.dbn_columns`).

A file that is not DBN is a :class:`~monitor.chain.model.ChainError`; a file cut inside a
record keeps every whole record before it and says how many bytes were left
(``cut_bytes``).
"""

from __future__ import annotations

import hashlib
import io
import struct
from functools import cached_property
from pathlib import Path

import databento_dbn as dbn
import numpy as np

from monitor.chain.model import ChainError
from monitor.sources.dbn_columns import QUOTE_DTYPE, index_records, is_quote_rtype

__all__ = ["DbnFile", "read_dbn", "is_dbn", "ZSTD_MAGIC"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
HEADER = 8  # "DBN", the version byte, the metadata's length (u32 little-endian)


class DbnFile:
    """A DBN file in memory: its ``metadata``, the record index (``offs``, ``rtypes``), the
    bytes a cut record left, and the sha256 of the file as stored."""

    def __init__(self, path: Path, raw: bytes, metadata, start: int, sha256: str):
        self.path, self.raw, self.metadata, self.sha256 = path, raw, metadata, sha256
        self._start = start
        buf = np.frombuffer(raw, dtype=np.uint8)
        cap = max((len(raw) - start) // 16, 0) + 1
        offs = np.empty(cap, dtype=np.int64)
        rtypes = np.empty(cap, dtype=np.uint8)
        n, end = index_records(buf, start, offs, rtypes)
        self.offs, self.rtypes = offs[:n], rtypes[:n]
        self.cut_bytes = len(raw) - int(end)

    def __len__(self) -> int:
        return len(self.offs)

    def decode(self, a: int, b: int) -> list:
        """Records ``a``..``b`` as the vendor's record objects."""
        if a >= b:
            return []
        dec = dbn.DBNDecoder()
        dec.write(self.raw[:self._start])
        dec.decode()  # (the metadata)
        end = int(self.offs[b]) if b < len(self.offs) else len(self.raw) - self.cut_bytes
        dec.write(self.raw[int(self.offs[a]):end])
        return dec.decode()

    @cached_property
    def records(self) -> list:
        """Every record as the vendor's record objects."""
        return self.decode(0, len(self))

    def runs(self, a: int, b: int):
        """``(is a quote run, start, stop)`` for records ``a``..``b``: maximal runs of
        consolidated quote records and of other records, in file order."""
        if a >= b:
            return
        q = is_quote_rtype(self.rtypes[a:b])
        cuts = (np.flatnonzero(q[1:] != q[:-1]) + 1).tolist()
        for x, y in zip([0, *cuts], [*cuts, b - a]):
            yield bool(q[x]), a + x, a + y

    def quotes(self, a: int, b: int) -> np.ndarray:
        """Records ``a``..``b`` (a run of consolidated quote records) as a
        :data:`~monitor.sources.dbn_columns.QUOTE_DTYPE` array over the file's bytes."""
        return np.frombuffer(self.raw, dtype=QUOTE_DTYPE, count=b - a, offset=int(self.offs[a]))


def is_dbn(path) -> bool:
    """Whether ``path`` is a DBN file by its name (``.dbn``, ``.dbn.zst``) or, for another
    name, by its first bytes (DBN, or a zstd frame beginning with DBN)."""
    p = Path(path)
    if p.name.endswith((".dbn", ".dbn.zst")):
        return True
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
            if head == ZSTD_MAGIC:
                import zstandard

                fh.seek(0)
                head = zstandard.ZstdDecompressor().stream_reader(fh).read(3)
    except (OSError, ValueError):  # (zstandard's errors are ValueErrors)
        return False
    return head[:3] == b"DBN"


def _decompressed(data: bytes, path: Path) -> bytes:
    if data[:4] == ZSTD_MAGIC:
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as r:
            try:
                return r.read()
            except zstandard.ZstdError as err:
                raise ChainError(f"{path}: the zstd stream is damaged ({err})") from None
    return data


def read_dbn(path) -> DbnFile:
    """Read and index a whole DBN file (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise ChainError(f"{p}: no such file")
    data = p.read_bytes()
    raw = _decompressed(data, p)
    if raw[:3] != b"DBN":
        raise ChainError(f"{p}: not a DBN file (it does not begin with 'DBN')")
    if len(raw) < HEADER:
        raise ChainError(f"{p}: a DBN file without its metadata")
    start = HEADER + struct.unpack("<I", raw[4:HEADER])[0]
    dec = dbn.DBNDecoder()
    dec.write(raw[:start])
    try:
        out = dec.decode()
    except ValueError as err:
        raise ChainError(f"{p}: not readable as DBN ({err})") from None
    if not out or not isinstance(out[0], dbn.Metadata):
        raise ChainError(f"{p}: a DBN file without its metadata")
    return DbnFile(p, raw, out[0], start, hashlib.sha256(data).hexdigest())
