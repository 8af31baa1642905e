"""The project's canonical chain CSV: a ``# monitor-chain v1,...`` line, then
``symbol,bid,ask,oi,iv,delta,gamma``; floats written with ``repr`` so round trips are
exact."""

from __future__ import annotations

import gzip
import math
from collections import Counter
from pathlib import Path

from monitor.chain.build import (
    CANONICAL_COLUMNS,
    CANONICAL_MAGIC,
    _Builder,
    _days,
    _ns_to_iso,
    _num,
    _RowError,
    parse_as_of,
)
from monitor.chain.model import Chain, ChainError
from monitor.chain.occ import (
    parse_occ,
    underlying_of_root,
)


def _canonical_from_text(text: str, source: Path, underlying: str | None) -> Chain:
    lines = text.splitlines()
    if not lines or not lines[0].startswith(CANONICAL_MAGIC):
        raise ChainError(f"unknown chain layout in {source}: missing '{CANONICAL_MAGIC}' line")
    meta: dict[str, str] = {}
    for part in lines[0][len(CANONICAL_MAGIC):].split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            meta[k.strip()] = v.strip()
    try:
        spot = float(meta["spot"])
    except (KeyError, ValueError):
        spot = None
    if spot is None or not math.isfinite(spot) or not spot > 0:
        raise ChainError(f"no spot in {source}: canonical header has no usable spot=")
    try:
        as_of_ns = parse_as_of(meta["as_of"])
    except (KeyError, ValueError):
        raise ChainError(f"{source}: canonical header has no usable as_of=") from None
    und = (underlying or meta.get("underlying") or "").strip().upper()
    if len(lines) < 2 or [h.strip() for h in lines[1].split(",")] != list(CANONICAL_COLUMNS):
        raise ChainError(f"unknown chain layout in {source}: canonical header must be "
                         f"{','.join(CANONICAL_COLUMNS)}")
    b = _Builder()
    rej = b.rejected
    for line in lines[2:]:
        if not line.strip(" ,\t"):
            continue
        f = line.split(",")
        try:
            if len(f) < 7:
                raise _RowError("missing_field")
            try:
                occ = parse_occ(f[0].strip())
            except ValueError:
                raise _RowError("bad_symbol") from None
            b.add(occ.root, _days(occ.expiry), occ.strike, occ.is_call,
                  _num(f[1], required=False), _num(f[2], required=False),
                  _num(f[3], required=True), _num(f[4], required=False),
                  _num(f[5], required=False), _num(f[6], required=False))
        except _RowError as e:
            rej[e.reason] += 1
        except Exception:
            rej["bad_row"] += 1
    if not und and len(b):
        und = Counter(underlying_of_root(r) for r in b.root).most_common(1)[0][0]
    return b.build(underlying=und, spot=spot, as_of_ns=as_of_ns, layout="canonical",
                   source=source, notes=[])


def _fmt(x: float) -> str:
    return "" if x != x else repr(x)


def write_canonical(chain: Chain, path) -> Path:
    """Write ``chain`` in the canonical format (gzip when ``path`` ends in ``.gz``).

    Floats are written with ``repr`` so :func:`load_canonical` gives back the same arrays
    bit for bit (NaN as an empty field). Metadata kept: underlying, spot, as_of (ns).
    Not kept: ``notes``, ``rejected``, ``layout``, ``source``. Settlement is re-derived from
    root + expiry on load, as every loader does.
    """
    p = Path(path)
    und = str(chain.underlying)
    if "," in und or "\n" in und:
        raise ValueError(f"underlying {und!r} cannot be written")
    out = [f"{CANONICAL_MAGIC},underlying={und},spot={float(chain.spot)!r},"
           f"as_of={_ns_to_iso(int(chain.as_of_ns))}",
           ",".join(CANONICAL_COLUMNS)]
    for sym, bid, ask, oi, iv, de, g in zip(
        chain.symbols(), chain.bid.tolist(), chain.ask.tolist(), chain.oi.tolist(),
        chain.vendor_iv.tolist(), chain.vendor_delta.tolist(), chain.vendor_gamma.tolist(),
    ):
        oi_s = str(int(oi)) if oi == oi and float(oi).is_integer() and abs(oi) < 2**53 else _fmt(oi)
        out.append(f"{sym},{_fmt(bid)},{_fmt(ask)},{oi_s},{_fmt(iv)},{_fmt(de)},{_fmt(g)}")
    data = ("\n".join(out) + "\n").encode("utf-8")
    if p.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    p.write_bytes(data)
    return p
