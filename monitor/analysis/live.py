"""The live book of an underlying, rebuilt from the running service's Redis keys (for
``monitor whatif --from-redis`` and ``monitor size --from-redis``): the published state
hash names the chain file the service started from, and the book checkpoint restores its
live quotes, open interest, flow-model prints, spot and clock.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from monitor.books import book_from_chain, decode_checkpoint, resolve
from monitor.ingest import Pipeline
from monitor.logs import redact
from monitor.sinks.redis_sink import RedisSink


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
        hint = ("" if redis_settings.prefix.endswith("-demo") else
                "; the embedded demo (`monitor run` without Kafka) publishes under "
                f"{redis_settings.prefix}-demo: add --demo")
        raise ValueError(f"no published state for {root} at {url} (key "
                         f"{sink.state_key(root)}): is `monitor run` publishing there "
                         f"(same --redis and redis.prefix)?{hint}")
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
    rebuild the book from the chain file (:func:`monitor.books.book_from_chain`) and restore
    the checkpoint into a pipeline's ``UnderlyingState`` (live quotes, open interest,
    flow-model prints, spot, clock). Without a checkpoint (the service writes one every
    publish cycle while Redis is up) the file's quotes are re-priced at the published
    spot and clock, and a note says so. ``url`` overrides ``settings.redis.url``. Errors: ``ValueError``."""
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
        pipeline = Pipeline.from_settings({root: book}, settings)
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


async def read_events(redis_settings, root: str, last_id: str = "0",
                      count: int | None = None) -> list[dict]:
    """Regime events of ``root`` after ``last_id`` from the service's Redis stream
    (``{prefix}:{root}:events``, oldest first: ``{"id", "kind", "ts_ns", "event"}``).
    ``ValueError`` with one clear line when Redis cannot be reached."""
    sink = RedisSink(redis_settings, op_timeout=2.0, connect_timeout=2.0)
    try:
        return await sink.read_events(root.strip().upper(), last_id, count)
    except Exception as exc:  # noqa: BLE001 - redis/network errors of every kind
        raise ValueError(f"cannot read Redis at {redact(redis_settings.url)}: "
                         f"{type(exc).__name__}") from None
    finally:
        await sink.close()


async def send_test_alert(sender, underlying: str = "TEST") -> dict[str, dict]:
    """Send one test message to each webhook of ``sender`` (an AlertSender) and wait for
    the outcome: ``{kind: {"sent", "failed", "retried"}}``."""
    await sender.start()
    event = {"kind": "test", "ts_ns": time.time_ns(), "underlying": underlying,
             "regime": "test", "from": None, "to": "delivery_check",
             "message": "Test message from `monitor alerts test`: this webhook receives "
                        "the dealer-flow monitor's regime alerts."}
    sender.submit(event)
    await sender.close()
    return {k: {c: v.get(c, 0) for c in ("sent", "failed", "retried")}
            for k, v in sender.stats()["targets"].items()}
