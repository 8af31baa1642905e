"""What-if: the dealers' hedge flow for any mix of spot move, vol change and time passing,
and the flow curve over a spot range (the object behind ``monitor whatif --json``,
documented field by field in the README).

Units and signs (REFERENCE.md, Hedge flow; :mod:`monitor.core.scenarios`):

* ``flow_usd``: full revaluation (sticky strike), ``-sum n M (delta' - delta) * S`` with
  ``S`` today's spot; positive = dealers BUY the underlying. ``flow_usd_linear`` is
  ``-(GEX spot_pct + VEX vol_pts + CEX days)``.
* ``flow_shares = flow_usd / S`` (shares, or index units for an index).
* ``flow_es_contracts = flow_shares / es_multiplier`` = ``flow_usd / (es_multiplier S)``:
  the number of E-mini futures with the same delta (one ES contract carries
  ``es_multiplier`` index units of delta). ``None`` when the underlying's
  ``es_multiplier`` is 0 (only SPX has one by default).
* ``flow_pct_adv = 100 flow_shares / adv_shares`` (signed, percent of the configured
  average daily volume); ``None`` when ``adv_shares`` is 0 (unknown).

The curve: ``curve_points`` spot moves evenly spaced over ``curve_range`` (percent), plus
the scenario's own spot move when it lies inside the range and off the grid, each a full
revaluation with the scenario's vol change and days (so the curve passes through the
scenario), with the GEX at that spot (current IV and T, sticky strike).

Two sources of the book: a chain file (:func:`book_from_chain`) or the live service
(:func:`load_live`: the published state hash names the chain file the service started
from, the book checkpoint restores its live quotes, open interest, spot and clock).
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.core import levels
from monitor.core.scenarios import hedge_flow

SCHEMA_VERSION = 1
DEFAULT_CURVE_RANGE = (-5.0, 5.0)
DEFAULT_CURVE_POINTS = 21
MAX_CURVE_POINTS = 1001

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


# -- parsing CLI values -----------------------------------------------------------------
def _number(text: str, what: str, example: str, suffixes: tuple[str, ...] = ()) -> float:
    s = str(text).strip().replace(" ", "")
    low = s.lower()
    for suf in sorted(suffixes, key=len, reverse=True):
        if low.endswith(suf):
            s = s[: -len(suf)]
            break
    if not re.fullmatch(_NUMBER, s):
        raise ValueError(f"cannot read {what} {text!r}: expected a number like {example}")
    value = float(s)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {text!r}")
    return value


def parse_spot_pct(text: str) -> float:
    """``--spot``: a spot move in percent, e.g. ``-2%``, ``+1.5%`` (the ``%`` is optional:
    ``-2`` means -2 %). Must be above -100 %."""
    value = _number(text, "--spot", "-2% or +1.5%", ("%",))
    if value <= -100.0:
        raise ValueError(f"--spot {text!r}: a move of -100 % or less leaves no spot")
    return value


def parse_vol_pts(text: str) -> float:
    """``--vol``: implied-vol change in vol points, every contract alike, e.g. ``+3``
    (20 % -> 23 %) or ``-2pts``. A ``%`` is refused: points, not a relative change."""
    s = str(text).strip()
    if s.endswith("%"):
        raise ValueError(f"--vol {text!r}: give implied-vol points without '%', e.g. +3 "
                         f"(20% -> 23%)")
    return _number(s, "--vol", "+3 (vol points)", ("pts", "pt"))


def parse_days(text: str) -> float:
    """``--days``: calendar days passing, e.g. ``1`` or ``0.5`` (``1d`` accepted); >= 0."""
    value = _number(text, "--days", "1 or 0.5", ("days", "day", "d"))
    if value < 0:
        raise ValueError(f"--days {text!r}: days passing must be 0 or more")
    return value


def parse_curve_range(text: str) -> tuple[float, float]:
    """``--range``: the curve's spot range in percent, ``LO:HI`` (or ``LO..HI``), e.g.
    ``-5:5`` or ``-10%:+3%``; LO < HI, LO > -100."""
    parts = re.split(r"\.\.|:", str(text).strip())
    if len(parts) != 2:
        raise ValueError(f"cannot read --range {text!r}: expected LO:HI in percent, "
                         f"e.g. -5:5")
    lo, hi = (parse_spot_pct(p) for p in parts)
    if not lo < hi:
        raise ValueError(f"--range {text!r}: LO must be below HI")
    return lo, hi


# -- the computation ----------------------------------------------------------------------
def _und(settings, root: str):
    """UnderlyingSettings from a Settings (``.underlying(root)``), an UnderlyingSettings,
    or None (defaults)."""
    if settings is None:
        from monitor.config import UnderlyingSettings

        return UnderlyingSettings()
    if hasattr(settings, "underlying") and callable(settings.underlying):
        return settings.underlying(root)
    return settings


def flow_units(flow_usd: float, spot: float, es_multiplier: float | None,
               adv_shares: float | None) -> dict:
    """``flow_shares``, ``flow_es_contracts`` and ``flow_pct_adv`` of a dollar flow valued
    at ``spot`` (see the module docstring; ``None`` where the divisor is 0/unknown)."""
    shares = flow_usd / spot
    return {
        "flow_shares": shares,
        "flow_es_contracts": shares / es_multiplier if es_multiplier else None,
        "flow_pct_adv": 100.0 * shares / adv_shares if adv_shares else None,
    }


def _grid(curve_range, curve_points: int, spot_pct: float) -> np.ndarray:
    lo, hi = (float(x) for x in curve_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and -100.0 < lo < hi):
        raise ValueError(f"curve range must be LO < HI with LO > -100 %, got {curve_range!r}")
    if not 2 <= int(curve_points) <= MAX_CURVE_POINTS:
        raise ValueError(f"curve points must be 2..{MAX_CURVE_POINTS}, got {curve_points!r}")
    pts = np.linspace(lo, hi, int(curve_points))
    pts = np.round(pts, 10)  # -5 + 0.5 k exactly, so the scenario lands on the grid
    if lo <= spot_pct <= hi and not np.any(np.isclose(pts, spot_pct, rtol=0, atol=1e-9)):
        pts = np.sort(np.append(pts, spot_pct))
    return pts


def whatif(book, spot_pct: float = 0.0, vol_pts: float = 0.0, days: float = 0.0, *,
           settings=None, curve_range=DEFAULT_CURVE_RANGE,
           curve_points: int = DEFAULT_CURVE_POINTS, source: dict | None = None,
           notes: list[str] | None = None) -> dict:
    """Every number of ``monitor whatif --json`` for ``book`` (README, ``monitor whatif``).

    ``settings``: a :class:`monitor.config.Settings` or the underlying's
    ``UnderlyingSettings`` (``es_multiplier``, ``adv_shares``); None = defaults (no ES,
    unknown ADV). ``source``: echoed as the ``source`` field (default: the chain's file);
    ``notes``: extra lines for the ``notes`` field (e.g. :attr:`LiveBook.notes`).
    """
    for name, v in (("spot_pct", spot_pct), ("vol_pts", vol_pts), ("days", days)):
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if spot_pct <= -100.0:
        raise ValueError(f"spot_pct must be above -100, got {spot_pct!r}")
    if days < 0:
        raise ValueError(f"days must be 0 or more, got {days!r}")
    und = _und(settings, book.underlying)
    es = float(und.es_multiplier or 0.0)
    adv = float(und.adv_shares or 0.0)
    spot = float(book.spot)
    f = hedge_flow(book, float(spot_pct), float(vol_pts), float(days))
    grid = _grid(curve_range, curve_points, float(spot_pct))
    spots = spot * (1.0 + grid / 100.0)
    gex = levels.gex_curve(book, spots)
    curve = []
    for pct, s_, g in zip(grid.tolist(), spots.tolist(), gex.tolist()):
        p = hedge_flow(book, pct, float(vol_pts), float(days))
        curve.append({"spot_pct": pct, "spot": s_, "flow_usd": p.flow_usd,
                      "flow_usd_linear": p.flow_usd_linear, "flow_shares": p.flow_shares,
                      "gex_usd_per_pct": g})
    zg = levels.zero_gamma(book)
    call_wall, put_wall = levels.walls(book)
    t = book.totals
    from monitor.snapshot import iso_utc

    out = {
        "schema": SCHEMA_VERSION,
        "underlying": book.underlying,
        "as_of": iso_utc(book.now_ns),
        "source": source if source is not None else {"kind": "chain",
                                                     "chain_path": book.chain.source or None,
                                                     "checkpoint": None},
        "model": book.model,
        "multiplier": book.multiplier,
        "spot": spot,
        "spot_pct": float(spot_pct),
        "vol_pts": float(vol_pts),
        "days": float(days),
        "spot_after": spot * (1.0 + spot_pct / 100.0),
        "flow_usd": f.flow_usd,
        "flow_usd_linear": f.flow_usd_linear,
        **flow_units(f.flow_usd, spot, es, adv),
        "dealers": "buy" if f.flow_usd > 0 else "sell" if f.flow_usd < 0 else "none",
        "es_multiplier": es or None,
        "adv_shares": adv or None,
        **t,
        "zero_gamma": zg,
        "zero_gamma_distance_pct": None if zg is None else 100.0 * (zg / spot - 1.0),
        "call_wall": call_wall,
        "put_wall": put_wall,
        "curve_range": [float(grid[0]), float(grid[-1])],
        "curve": curve,
        "notes": list(book.chain.notes) + list(notes or []),
    }
    return out


# -- where the book comes from --------------------------------------------------------------
def book_from_chain(path, settings, base: Path | None = None):
    """The book of one chain file with its underlying's settings (position model,
    multiplier, rate), built exactly as the live service builds it
    (:func:`monitor.service.build_books`). A missing file raises ``ValueError``."""
    from monitor.chain.model import ChainError
    from monitor.service import build_books

    p = Path(path)
    if not p.exists():
        raise ValueError(f"chain file not found: {p}")
    try:
        books = build_books(settings, [p], base)
    except ChainError as err:
        raise ValueError(str(err).splitlines()[0]) from None
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    return next(iter(books.values()))


@dataclass
class LiveBook:
    """A book rebuilt from the live service's Redis keys."""

    book: object
    state: dict
    chain_path: str
    checkpoint: bool  # True: live quotes/OI/spot/clock restored from the checkpoint
    notes: list[str] = field(default_factory=list)

    @property
    def source(self) -> dict:
        return {"kind": "redis", "chain_path": self.chain_path, "checkpoint": self.checkpoint}


async def read_live(redis_settings, root: str) -> tuple[dict, bytes | None]:
    """(state hash, checkpoint bytes or None) of ``root`` from Redis. ``ValueError`` with
    one clear line when Redis cannot be reached or there is no published state."""
    from monitor.logs import redact
    from monitor.sinks.redis_sink import RedisSink

    sink = RedisSink(redis_settings, op_timeout=2.0, connect_timeout=2.0)
    url = redact(redis_settings.url)
    try:
        try:
            state = await sink.read_state(root)
            raw = await sink.client.get(sink.checkpoint_key(root))
        except Exception as exc:  # noqa: BLE001 - redis/network errors of every kind
            detail = " ".join(str(exc).split())[:160]
            raise ValueError(f"cannot read Redis at {url}: {type(exc).__name__}"
                             + (f": {detail}" if detail else "")) from None
    finally:
        await sink.close()
    if not state:
        raise ValueError(f"no published state for {root} at {url} (key "
                         f"{sink.state_key(root)}): is `monitor run` publishing there "
                         f"(same --redis and redis.prefix)?")
    if raw is None:
        return state, None
    try:
        return state, base64.b64decode(raw)
    except (ValueError, TypeError):
        raise ValueError(f"checkpoint {sink.checkpoint_key(root)} is not valid base64") from None


def load_live(settings, root: str, *, url: str | None = None, base: Path | None = None
              ) -> LiveBook:
    """The live book of ``root``: read ``{prefix}:{root}:state`` (its ``chain_path`` field
    names the chain file the service started from) and ``{prefix}:{root}:checkpoint``,
    rebuild the book from the chain file (:func:`monitor.service.build_books`) and restore
    the checkpoint into a pipeline's ``UnderlyingState`` (live quotes, open interest,
    flow-model prints, spot, clock). Without a checkpoint (the service writes one every
    publish cycle while Redis is up) the file's quotes are re-priced at the published spot and clock, and a
    note says so. ``url`` overrides ``settings.redis.url``. Errors: ``ValueError``."""
    import msgspec

    from monitor.pipeline import Pipeline
    from monitor.service import decode_checkpoint, position_models, resolve

    root = root.strip().upper()
    if not root:
        raise ValueError("--from-redis needs an underlying root, e.g. SPX")
    rs = settings.redis if url is None else settings.redis.model_copy(update={"url": url})
    state, raw = asyncio.run(read_live(rs, root))
    chain_path = state.get("chain_path")
    if not chain_path or not isinstance(chain_path, str):
        raise ValueError(f"the published state of {root} has no chain_path field (a service "
                         f"older than this command?): run whatif on the chain file instead")
    path = resolve(chain_path, base)
    book = book_from_chain(path, settings, base)
    if book.underlying != root:
        raise ValueError(f"chain file {path} holds {book.underlying}, not {root}")
    notes: list[str] = []
    if raw is not None:
        pipeline = Pipeline({root: book}, models=position_models(settings, {root: book}))
        try:
            cp = decode_checkpoint(raw)
            pipeline.states[root].restore(cp)
        except msgspec.DecodeError as err:
            raise ValueError(f"checkpoint of {root} cannot be decoded: {err}") from None
        except (KeyError, TypeError) as err:
            raise ValueError(f"checkpoint of {root} is missing data ({err})") from None
        except ValueError as err:
            raise ValueError(f"checkpoint of {root} does not fit chain file {path} ({err}): "
                             f"was the service restarted with another chain?") from None
    else:
        spot, clock = state.get("spot"), state.get("as_of_ns")
        if not isinstance(spot, (int, float)) or not spot > 0:
            raise ValueError(f"the published state of {root} has no usable spot")
        book.refresh(now_ns=int(clock) if isinstance(clock, (int, float)) else None,
                     spot=float(spot))
        notes.append("no book checkpoint in Redis (the service writes one every publish cycle): "
                     "the chain file's quotes and open interest, re-priced at the published "
                     "spot and clock")
    return LiveBook(book=book, state=state, chain_path=str(path), checkpoint=raw is not None,
                    notes=notes)


# -- human output ---------------------------------------------------------------------------
def _qty(x: float) -> str:
    """Signed count: thousands separators when large, 2 decimals when small."""
    return f"{x:+,.0f}" if abs(x) >= 1000 else f"{x:+.2f}"


def render_whatif(r: dict) -> str:
    """The table printed by ``monitor whatif`` (fits 100 columns)."""
    from monitor.render import fmt_level, money, scenario_label
    from monitor.render import shares as fmt_shares

    out: list[str] = []
    w = out.append
    src = r["source"]
    if src["kind"] == "redis":
        origin = "live: Redis checkpoint" if src.get("checkpoint") else "live: Redis, no checkpoint"
    else:
        origin = "chain file"
    w(f"{r['underlying']}  spot {r['spot']:,.2f}  as of {r['as_of']}  model={r['model']}  "
      f"({origin})")
    w(f"scenario: {scenario_label(r)}  -> spot {r['spot_after']:,.2f}")
    w("")
    words = {"buy": "BUY", "sell": "SELL", "none": "nothing to trade"}[r["dealers"]]
    w(f"Dealer hedge flow: dealers {words}  (positive = dealers buy)")
    w(f"  full revaluation  {money(r['flow_usd']):>14}")
    w(f"  linear estimate   {money(r['flow_usd_linear']):>14}")
    w(f"  shares            {_qty(r['flow_shares']):>14}  ({fmt_shares(r['flow_shares'])})")
    if r["flow_es_contracts"] is not None:
        w(f"  ES equivalents    {_qty(r['flow_es_contracts']):>14}  contracts "
          f"(${r['es_multiplier']:g} x index)")
    w("  % of ADV          " + (f"{r['flow_pct_adv']:>+13.2f}%" if r["flow_pct_adv"] is not None
                                else f"{'n/a':>14}  (adv_shares not configured)"))
    w("")
    zg = r["zero_gamma"]
    w(f"zero gamma {fmt_level(zg)}" + ("" if zg is None else
                                       f" ({r['zero_gamma_distance_pct']:+.2f}%)")
      + f"   call wall {fmt_level(r['call_wall'])}   put wall {fmt_level(r['put_wall'])}"
      + f"   GEX {money(r['gex_usd_per_pct'])}/1%")
    w("")
    extra = []
    if r["vol_pts"]:
        extra.append(f"vol {r['vol_pts']:+g} pts")
    if r["days"]:
        extra.append(f"+{r['days']:g} day" + ("s" if r["days"] != 1 else ""))
    w("Flow curve" + (f" (with {', '.join(extra)})" if extra else ""))
    w(f"  {'spot %':>7} {'spot':>11} {'dealers':<7} {'flow $':>13} {'linear $':>13} "
      f"{'shares':>12} {'GEX /1%':>13}")
    for p in r["curve"]:
        mark = " <" if abs(p["spot_pct"] - r["spot_pct"]) < 1e-9 else ""
        w(f"  {p['spot_pct']:>+7.2f} {p['spot']:>11,.2f} "
          f"{('BUY' if p['flow_usd'] > 0 else 'SELL' if p['flow_usd'] < 0 else '-'):<7} "
          f"{money(p['flow_usd']):>13} {money(p['flow_usd_linear']):>13} "
          f"{_qty(p['flow_shares']):>12} {money(p['gex_usd_per_pct']):>13}{mark}")
    for note in r["notes"]:
        w(f"note: {note}")
    return "\n".join(out)
