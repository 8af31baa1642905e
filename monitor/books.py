"""Where a :class:`~monitor.core.book.Book` comes from: chain files with an underlying's
settings, position files, and the checkpoint codec that carries a live book's inputs.

* :func:`book_for_chain` / :func:`build_books`: a book per chain file, priced and
  positioned exactly as the live service prices and positions it (``monitor snapshot``,
  ``whatif``, ``size``, ``daily`` and ``run`` all build books here).
* :func:`implied_spot`: the underlying's level implied by put-call parity, for feeds that
  carry none (OPRA has no value for cash indexes).
* :func:`read_positions`: the one reader of position files, ``symbol,<quantity>`` CSV
  (header optional, blank lines and ``#`` comments skipped). It is strict: a missing or
  unreadable file, a row without two columns, a quantity that is not a finite number, a
  file with no positions, and (:func:`position_rows`) a symbol that is not in the book
  are errors naming the file and line. Used for the dealers' positions
  (``position_model: positions``, ``symbol,dealer_contracts``) and for the user's own
  (``monitor size --positions``, ``user_positions_file``, ``symbol,contracts``).
* :func:`encode_checkpoint` / :func:`decode_checkpoint`: msgpack with numpy arrays as raw
  bytes (fast and exact).
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import NamedTuple

import msgspec
import numpy as np

from monitor.chain import ChainError, load_chain
from monitor.chain.model import Chain
from monitor.config import Settings
from monitor.core.book import Book, configured_rate, years_left
from monitor.core.forwards import parity_forwards

__all__ = ["Position", "book_for_chain", "implied_spot", "ImpliedSpot", "spot_from_pairs",
           "build_books", "book_from_chain", "resolve",
           "position_models", "read_positions", "position_rows", "encode_checkpoint",
           "decode_checkpoint", "book_fingerprint", "fingerprints_differ"]


def resolve(path: str | Path, base: Path | None) -> Path:
    """``path`` relative to ``base`` (a configuration file's folder) unless absolute."""
    p = Path(path)
    return p if p.is_absolute() or base is None else (base / p)


# -- books from chains ------------------------------------------------------------------------
def book_for_chain(chain: Chain, settings: Settings, *, model: str | None = None,
                   greeks: str = "model", rate: float | None = None) -> Book:
    """The book of ``chain`` with its underlying's settings (multiplier, dividend yield,
    exercise style, rates, parity pairs; ``rate``: one flat rate instead of
    ``pricing.rate``/``pricing.rates``). ``model``: the position model the book's open interest is read
    with (default: the underlying's ``position_model``; ``flow`` starts from its
    ``flow_base_model`` and ``positions`` from ``classic``, see :func:`build_books`)."""
    und = settings.underlying(chain.underlying)
    if model is None:
        model = {"flow": und.flow_base_model, "positions": "classic"}.get(
            und.position_model, und.position_model)
    return Book(chain, model=model, multiplier=und.multiplier, div_yield=und.div_yield,
                rate=settings.pricing.rate if rate is None else rate, greeks=greeks,
                parity_pairs=settings.pricing.parity_pairs, smile=settings.pricing.smile,
                smile_refit_s=settings.pricing.smile_refit_s,
                european=und.exercise == "european",
                rates=None if rate is not None else tuple(settings.pricing.rates.items()))


class ImpliedSpot(NamedTuple):
    spot: float
    expiry: str  # the expiry whose parity forward gave it (YYYY-MM-DD)
    years: float  # its time to settlement


#: the nearest expiry used for an implied spot settles at least this far out (a group
#: settling within the hour has a forward that is all noise) and has this many pairs
IMPLIED_MIN_YEARS = 1.0 / (365.0 * 24.0)
IMPLIED_MIN_PAIRS = 3


def spot_from_pairs(strike, is_call, bid, ask, T: float, r: float, q: float, n_pairs: int,
                    ref: float | None = None) -> float | None:
    """The spot implied by put-call parity of one expiry's two-sided quotes (rows sorted
    by strike, the put before the call at a strike; bids above 0): the core's parity
    forward (:func:`monitor.core.forwards.parity_forwards`, the median of ``K + (C - P) /
    df`` over the ``n_pairs`` pairs nearest the money, ``df = exp(-r T)``), then
    ``S = F exp(-(r - q) T)``. ``ref``: the spot the pairs nearest the money are judged
    against (None: the pair with the smallest ``|C - P|``, ``K + C - P``). None when the
    expiry has fewer than :data:`IMPLIED_MIN_PAIRS` pairs."""
    strike, is_call = np.asarray(strike, dtype=np.float64), np.asarray(is_call, dtype=np.bool_)
    bid, ask = np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64)
    pairs = [(abs((bid[i + 1] + ask[i + 1]) / 2 - (bid[i] + ask[i]) / 2), i)
             for i in range(len(strike) - 1)
             if not is_call[i] and is_call[i + 1] and strike[i] == strike[i + 1]]
    if len(pairs) < IMPLIED_MIN_PAIRS:
        return None
    if ref is None:
        i = min(pairs)[1]
        ref = strike[i] + (bid[i + 1] + ask[i + 1] - bid[i] - ask[i]) / 2
    fwd = np.zeros(1)
    parity_forwards(strike, is_call, np.zeros(len(strike), dtype=np.int64), bid, ask,
                    np.array([T]), np.array([math.exp(-r * T)]), float(ref), np.array([r]),
                    float(q), int(n_pairs), fwd, np.zeros(1, dtype=np.bool_),
                    np.zeros(1, dtype=np.bool_), False)
    spot = float(fwd[0] * math.exp(-(r - q) * T))
    return spot if spot > 0 and math.isfinite(spot) else None


def implied_spot(chain: Chain, settings: Settings, *, iterations: int = 4) -> ImpliedSpot:
    """The spot implied by put-call parity (:func:`spot_from_pairs`) of the nearest expiry
    settling at least :data:`IMPLIED_MIN_YEARS` after the chain's clock with the pairs, at
    the configured rate for its tenor and the underlying's dividend yield; iterated, as
    the pairs nearest the money depend on spot. Sets ``chain.spot``. Raises
    :class:`ChainError` when no expiry has the pairs."""
    p, und = settings.pricing, settings.underlying(chain.underlying)
    two = (np.isfinite(chain.bid) & np.isfinite(chain.ask) & (chain.bid > 0)
           & (chain.ask >= chain.bid))
    for settle in np.unique(chain.settle_ns[two]):
        T = float(years_left(np.array([settle]), chain.eval_ns)[0])
        if T < IMPLIED_MIN_YEARS:
            continue
        rows = np.flatnonzero(two & (chain.settle_ns == settle))
        rows = rows[np.lexsort((chain.is_call[rows], chain.strike[rows]))]
        r = float(configured_rate(T, p.rate, tuple(p.rates.items())))
        args = (chain.strike[rows], chain.is_call[rows], chain.bid[rows], chain.ask[rows],
                T, r, und.div_yield, p.parity_pairs)
        spot = spot_from_pairs(*args)
        for _ in range(iterations if spot is not None else 0):
            new = spot_from_pairs(*args, ref=spot)
            if new is None:  # (the pairs nearest the new spot fall short: keep the last)
                break
            done = abs(new - spot) <= 1e-12 * spot
            spot = new
            if done:
                break
        if spot is not None:
            chain.spot = spot
            return ImpliedSpot(spot, str(chain.expiry[rows[0]]), T)
    raise ChainError(f"{chain.source or chain.underlying}: no expiry with {IMPLIED_MIN_PAIRS} "
                     f"calls and puts quoted at the same strikes: the spot cannot be implied "
                     f"(give it)")


def build_books(settings: Settings, chains: list[str | Path],
                base: Path | None = None, underlying: str | None = None) -> dict[str, Book]:
    """One book per chain file, keyed by underlying, with that underlying's settings.
    ``flow`` books start from their base model; ``positions`` books hold the dealers'
    positions from ``positions_file`` (relative to ``base``), every other contract 0.
    ``underlying``: the root of layouts that do not carry one (end-of-day files not named
    ``ROOT_YYYY-MM-DD.csv[.gz]``)."""
    books = {}
    for path in chains:
        chain = load_chain(path, underlying=underlying, mappings=settings.chain_layouts)
        und = settings.underlying(chain.underlying)
        book = book_for_chain(chain, settings)
        if und.position_model == "positions":
            if not und.positions_file:
                raise ValueError(f"{chain.underlying}: position_model positions needs "
                                 f"positions_file")
            file = resolve(und.positions_file, base)
            lines = read_positions(file, "dealer_contracts")
            book.update_positions(np.arange(len(book.oi)), np.zeros(len(book.oi)))
            book.update_positions(position_rows(book, lines),
                                  np.array([p.contracts for p in lines], dtype=np.float64))
        books[chain.underlying] = book
    return books


def book_from_chain(path, settings: Settings, base: Path | None = None,
                    underlying: str | None = None) -> Book:
    """The book of one chain file, built as the live service builds it
    (:func:`build_books`). A missing or unusable file raises ``ValueError``."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"chain file not found: {p}")
    try:
        books = build_books(settings, [p], base, underlying)
    except ChainError as err:
        raise ValueError(str(err).splitlines()[0]) from None
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    return next(iter(books.values()))


def position_models(settings: Settings, books: dict[str, Book]) -> dict[str, tuple[str, str]]:
    """``{root: (position_model, flow_base_model)}`` for the pipeline."""
    return {root: (settings.underlying(root).position_model,
                   settings.underlying(root).flow_base_model) for root in books}


# -- position files ---------------------------------------------------------------------------
class Position(NamedTuple):
    """One line of a position file: ``where`` is ``FILE:LINE`` (or ``""`` for positions
    given in code), used in every error about it."""

    symbol: str
    contracts: float
    where: str = ""


def read_positions(path: str | Path, column: str = "contracts") -> list[Position]:
    """The positions in CSV ``symbol,<column>`` at ``path`` (module docstring: strict;
    ``ValueError`` naming the file and line)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"positions file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{p}: not a text CSV file (byte {err.start} is not UTF-8); "
                         f"expected lines symbol,{column}") from None
    except OSError as err:
        raise ValueError(f"cannot read positions file {p}: {err.strerror or err}") from None
    out: list[Position] = []
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) != 2:
            raise ValueError(f"{p}:{n}: expected 2 columns symbol,{column}, got {len(cells)}")
        sym, qty = cells
        if not out and sym.lower() == "symbol":
            continue  # header
        try:
            q = float(qty)
        except ValueError:
            raise ValueError(f"{p}:{n}: {column} {qty!r} is not a number") from None
        if not math.isfinite(q):
            raise ValueError(f"{p}:{n}: {column} must be finite, got {qty!r}")
        out.append(Position(sym, q, f"{p}:{n}"))
    if not out:
        raise ValueError(f"positions file {p} holds no positions")
    return out


def position_rows(book: Book, positions) -> np.ndarray:
    """Book rows of ``positions`` (:class:`Position` or ``(symbol, contracts)``); a symbol
    not in the book is a ``ValueError`` naming it (and its file and line)."""
    rows = []
    for pos in positions:
        pos = Position(*pos)
        try:
            rows.append(book.index_of(pos.symbol))
        except KeyError:
            where = f"{pos.where}: " if pos.where else ""
            raise ValueError(f"{where}position not in the {book.underlying} chain: "
                             f"{pos.symbol}") from None
    return np.array(rows, dtype=np.int64)


# -- checkpoints --------------------------------------------------------------------------------
def encode_checkpoint(cp: dict) -> bytes:
    """msgpack; numpy arrays as ``{"dtype", "data"}`` with the raw bytes (fast, exact)."""
    out = {k: ({"dtype": v.dtype.str, "data": v.tobytes()} if isinstance(v, np.ndarray) else v)
           for k, v in cp.items()}
    return msgspec.msgpack.encode(out)


def decode_checkpoint(raw: bytes) -> dict:
    """The inverse of :func:`encode_checkpoint` (arrays are writable copies)."""
    out = msgspec.msgpack.decode(raw)
    for k, v in out.items():
        if isinstance(v, dict) and set(v) == {"dtype", "data"}:
            out[k] = np.frombuffer(v["data"], dtype=np.dtype(v["dtype"])).copy()
    return out


#: checkpoint fields a solver produced (IV solves warm-started from the book's history, smile
#: fits, sums of solved deltas): equal across runs over the same ticks to about 1e-13
#: relative, not to the last bit
SOLVED = ("groups", "group_rate", "smile_fits")
SOLVED_TAPE = ("usd", "units")
_SMILE_NUMBERS = ("T", "k_lo", "k_hi", "rmse_vol_pts", "max_abs_vol_pts")


def book_fingerprint(cp: dict) -> dict:
    """What identifies a book (a checkpoint without the source offsets and provenance a
    service adds): ``sha256`` of its exact part (quotes, open interest, clocks, spots,
    flow positions and counts, the tape's prints and contracts: the ticks' own numbers)
    and ``values``, the solved numbers (forwards, discount factors, smiles, rates, the
    tape's dollar and unit sums). Two runs over the same ticks give the same sha256 and
    values equal to 1e-9 relative (:func:`fingerprints_differ`)."""
    exact = {k: v for k, v in cp.items()
             if k not in ("offsets", "provenance", "tape") + SOLVED}
    tape = dict(cp.get("tape") or {})
    values = [float(x) for k in SOLVED_TAPE for x in tape.pop(k, [])]
    exact["tape"] = tape
    exact["smile_status"] = [(f["group"], f["n_points"], f["status"], f.get("fixed", ""))
                             for f in cp.get("smile_fits", [])]
    values += np.asarray(cp.get("groups", []), dtype=np.float64).ravel().tolist()
    values += np.asarray(cp.get("group_rate", []), dtype=np.float64).ravel().tolist()
    for f in cp.get("smile_fits", []):
        values += [float(f[k]) for k in _SMILE_NUMBERS] + [float(x) for x in f["params"] or ()]
    return {"sha256": hashlib.sha256(encode_checkpoint(exact)).hexdigest(), "values": values}


def fingerprints_differ(a: dict, b: dict, rel: float = 1e-9) -> str | None:
    """Why two :func:`book_fingerprint` s are not the same book (None: they are)."""
    if a.get("sha256") != b.get("sha256"):
        return "its ticks' numbers differ (sha256)"
    va, vb = np.asarray(a.get("values", [])), np.asarray(b.get("values", []))
    if va.shape != vb.shape:
        return f"{va.size} solved numbers against {vb.size}"
    same = (np.abs(va - vb) <= rel * np.maximum(np.abs(va), np.abs(vb)) + 1e-300) | (
        np.isnan(va) & np.isnan(vb))
    if not same.all():
        i = int(np.flatnonzero(~same)[0])
        return f"solved number {i} is {float(va[i])!r} against {float(vb[i])!r} ({int((~same).sum())} differ)"
    return None
