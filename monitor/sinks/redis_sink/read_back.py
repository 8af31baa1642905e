"""Reading back what the sink wrote: state, profile, events, and the checkpoint store's
blobs (regime history, book checkpoints)."""

from __future__ import annotations

import asyncio
import base64

from monitor.sinks.redis_sink.codec import DECODER, decode_field


class ReadBack:
    """The read-back API of :class:`~monitor.sinks.redis_sink.RedisSink` (a part of it)."""

    async def load(self, root: str, name: str) -> bytes | None:
        return await self.load_blob(root, name)

    async def load_blob(self, root: str, name: str) -> bytes | None:
        """The blob, or None if there is none or Redis is unreachable."""
        try:
            raw = await asyncio.wait_for(self.client.get(self.blob_key(root, name)),
                                         self.op_timeout * 4)
        except Exception:  # noqa: BLE001
            return None
        return None if raw is None else base64.b64decode(raw)

    # -- reading (tests, the whatif command) ----------------------------------------------
    async def read_state(self, root: str) -> dict:
        """The state hash of ``root``, fields decoded (:func:`decode_field`); ``{}`` if
        none. Raises redis errors when Redis is unreachable."""
        raw = await self.client.hgetall(self.state_key(root))
        return {k: decode_field(v) for k, v in raw.items()}

    async def read_profile(self, root: str) -> list:
        """The profile of ``root`` (``[]`` if none)."""
        raw = await self.client.get(self.profile_key(root))
        return [] if raw is None else DECODER.decode(raw)

    async def read_events(self, root: str, last_id: str = "0", count: int | None = None
                          ) -> list[dict]:
        """Stream entries of ``root`` after ``last_id`` (exclusive), oldest first:
        ``{"id", "kind", "ts_ns", "event"}`` with ``event`` the decoded event dict."""
        start = "-" if last_id in ("0", "0-0", "-") else f"({last_id}"
        entries = await self.client.xrange(self.events_key(root), start, "+", count=count)
        out = []
        for entry_id, fields in entries:
            ts = fields.get("ts_ns")
            out.append({"id": entry_id, "kind": fields.get("kind", ""),
                        "ts_ns": int(ts) if ts else None,
                        "event": DECODER.decode(fields["event"]) if "event" in fields else None})
        return out
