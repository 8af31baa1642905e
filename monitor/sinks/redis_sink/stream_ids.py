"""Stream entry ids assigned by the sink (``<ms>-<seq>``, increasing per stream, above the
stream's top read once per root and connection) and kept across re-sends: a re-sent event
Redis already holds is recognised (XADD answers "equal or smaller", XRANGE finds the id)
and not added twice."""

from __future__ import annotations

import asyncio
import time

from monitor.sinks.redis_sink.buffer import NETWORK_ERRORS, Event


class StreamIds:
    """Stream-id idempotency of :class:`~monitor.sinks.redis_sink.RedisSink` (a part of it)."""

    def _next_id(self, root: str) -> str:
        ms = time.time_ns() // 1_000_000
        last_ms, last_seq = self._last_id.get(root, (0, -1))
        new = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        self._last_id[root] = new
        return f"{new[0]}-{new[1]}"

    def _bump_id(self, root: str, stream_id: str | None) -> None:
        if not stream_id:
            return
        ms, _, seq = stream_id.partition("-")
        top = (int(ms), int(seq or 0))
        if top > self._last_id.get(root, (0, -1)):
            self._last_id[root] = top

    async def _resolve_id_conflicts(self, events: list[Event]) -> bool:
        """Events whose explicit id Redis refused: already there (a re-send) or the
        stream moved past our ids (another writer): append those with ``*``."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for ev in events:
                pipe.xrange(self.events_key(ev.root), ev.id, ev.id, count=1)
            found = await asyncio.wait_for(pipe.execute(raise_on_error=False), self.op_timeout)
            missing = []
            for ev, hit in zip(events, found):
                if isinstance(hit, list) and hit:
                    self.duplicate_events += 1
                    self.published_events += 1
                else:
                    missing.append(ev)
            if missing:
                pipe = self.client.pipeline(transaction=False)
                for ev in missing:
                    pipe.xadd(self.events_key(ev.root), ev.fields, id="*",
                              maxlen=self.settings.stream_maxlen, approximate=True)
                added = await asyncio.wait_for(pipe.execute(raise_on_error=False),
                                               self.op_timeout)
                for ev, new_id in zip(missing, added):
                    if isinstance(new_id, Exception):
                        self._event_refused(ev, new_id)
                    else:
                        self.published_events += 1
                        self._bump_id(ev.root, new_id)
                self.log.warning("redis_stream_id_conflict", events=len(missing))
        except asyncio.CancelledError:
            self._buffer.extendleft(reversed(events))
            raise
        except NETWORK_ERRORS as exc:
            self._buffer.extendleft(reversed(events))
            self._lost(exc)
            return False
        return True
