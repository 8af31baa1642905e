"""Databento's live feed as a source: the vendor's own client (``databento.Live``) on its
gateway, subscribed by parent symbol (``databento.symbols`` in the configuration, e.g.
``SPX.OPT``) to the configured schemas; its records become ticks by the replay's rule
(:class:`~monitor.sources.opra_ticks.OpraTicks`), in batches of at most
``databento.batch_ms``.

The key comes from ``DATABENTO_API_KEY`` only and is never logged (the client answers the
gateway's challenge with a hash of it). The client reconnects by itself after a dropped
connection, resubscribes and restarts the session; each reconnection is a ``databento_gap``
warning with the gap's first and last instants, and :meth:`problem` (``/readyz``) says
disconnected, from the client's own session state, until it is connected again. The
vendor's error and system records are logged (``databento_vendor_error`` /
``databento_vendor_system``) and counted with the other records that give no tick. A live
feed is not restorable (no offsets: a restart starts from the gateway's present), like a
replay.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

import structlog

from monitor.config import Settings
from monitor.sources.base import Batch, Source, SourceUnavailable
from monitor.sources.opra_ticks import OpraTicks

__all__ = ["DatabentoLiveSource", "API_KEY_ENV"]

API_KEY_ENV = "DATABENTO_API_KEY"

log = structlog.get_logger("monitor.databento")


class DatabentoLiveSource(Source):
    """The live records of ``settings.databento``'s subscriptions for the books ``roots``.
    ``client_factory`` builds the vendor client (``databento.Live``'s keywords)."""

    restorable = False

    def __init__(self, settings: Settings, roots, *, key: str | None = None,
                 client_factory: Callable | None = None):
        self.cfg = settings.databento
        self._key = key if key is not None else os.environ.get(API_KEY_ENV)
        if not self._key or self._key.isspace():
            raise SourceUnavailable(f"the Databento API key is not set: export {API_KEY_ENV}")
        self._factory = client_factory
        self.opra = OpraTicks(settings, roots)
        self._records: deque = deque()
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: list = []  # (dataset, client): OPRA's, then each underlying feed's
        self.down_since: float | None = time.monotonic()  # (disconnected until started)
        self.gaps: list[tuple[int, int]] = []

    def identity(self) -> str:
        feeds = "".join(f" + {f.dataset} {f.quotes} {f.symbol}"
                        for f in self.cfg.underlying_feeds.values())
        return (f"databento live {self.cfg.dataset} "
                f"{'+'.join(self.cfg.schemas)} {','.join(self.cfg.symbols)}{feeds}")

    def feed_lag_s(self) -> float | None:
        """The newest record's ``ts_recv`` behind the wall clock (None before any)."""
        last = self.opra.tr.last_ts_recv
        return max(0.0, (time.time_ns() - last) / 1e9) if last else None

    def problem(self) -> str | None:
        """Disconnected (not started yet, or a client's session is down): since when."""
        clients = self._clients
        down = [ds for ds, c in clients if c._session.is_disconnected()]
        if clients and not down:
            self.down_since = None
            return None
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        which = f" ({', '.join(down)})" if len(clients) > 1 else ""
        return f"Databento gateway disconnected{which} for {now - self.down_since:.0f} s"

    # -- the vendor client's thread -------------------------------------------------------
    def _on_record(self, rec, feed: bool = False) -> None:
        """A record from a client's thread (``feed``: from an underlying feed's session)."""
        with self._lock:
            self._records.append((feed, rec))
            first = len(self._records) == 1
        if first and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_gap(self, gap_start, gap_end) -> None:
        start, end = int(gap_start.value), int(gap_end.value)
        self.gaps.append((start, end))
        log.warning("databento_gap", gap_start=str(gap_start), gap_end=str(gap_end),
                    seconds=round((end - start) / 1e9, 3), reconnected=True)

    def _on_client_error(self, exc: Exception) -> None:
        log.warning("databento_callback_failed", error=repr(exc))

    # -- Source ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._connect)
        except Exception as err:  # noqa: BLE001 - the vendor's BentoError and OSErrors
            raise SourceUnavailable(f"Databento gateway {self.cfg.gateway or 'default'}:"
                                    f"{self.cfg.port}: {str(err).splitlines()[0]}") from None

    def _connect(self) -> None:
        if self._factory is None:
            import databento
            factory = databento.Live
        else:
            factory = self._factory
        # one session per dataset (the vendor's rule): OPRA's by parent symbol, then each
        # dataset of the underlying feeds by raw symbol, its definitions and its quotes
        plans = [(self.cfg.dataset, [(s, "parent", list(self.cfg.symbols))
                                     for s in self.cfg.schemas])]
        by_dataset: dict[str, list] = {}
        for f in self.cfg.underlying_feeds.values():
            by_dataset.setdefault(f.dataset, []).extend(
                [("definition", "raw_symbol", [f.symbol]), (f.quotes, "raw_symbol", [f.symbol])])
        plans += list(by_dataset.items())
        for dataset, subs in plans:
            client = factory(key=self._key, gateway=self.cfg.gateway, port=self.cfg.port,
                             reconnect_policy="reconnect")
            feed = dataset != self.cfg.dataset
            client.add_callback(lambda rec, feed=feed: self._on_record(rec, feed),
                                self._on_client_error)
            client.add_reconnect_callback(self._on_gap, self._on_client_error)
            for schema, stype_in, symbols in subs:
                client.subscribe(dataset=dataset, schema=schema, stype_in=stype_in,
                                 symbols=symbols)
            client.start()
            self._clients.append((dataset, client))
            log.info("databento_connected", dataset=dataset,
                     schemas=sorted({s for s, _, _ in subs}),
                     symbols=sorted({x for _, _, xs in subs for x in xs}),
                     gateway=self.cfg.gateway or "default", port=self.cfg.port)

    async def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        clients, self._clients = self._clients, []
        for _, client in clients:
            client.stop()
            try:
                await asyncio.wait_for(client.wait_for_close(), 10)
            except Exception:  # noqa: BLE001 - closing: the vendor's errors end here
                client.terminate()

    async def commit(self, token) -> None:
        pass

    def _take(self) -> list:
        with self._lock:
            out = list(self._records)
            self._records.clear()
        return out

    async def batches(self) -> AsyncIterator[Batch]:
        wait_s = self.cfg.batch_ms / 1000.0
        seq = 0
        while not self._stopped.is_set():
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(wait_s)  # gather what arrives within batch_ms
            recs = self._take()
            if not recs:
                continue
            ticks = []
            for feed, run in itertools.groupby(recs, key=lambda x: x[0]):
                run = [r for _, r in run]
                ticks += self.opra.feed_ticks(run) if feed else self.opra.ticks(run)
            for kind, text in self.opra.tr.vendor_messages:
                log.warning(f"databento_{kind}", message=text)
            self.opra.tr.vendor_messages.clear()
            seq += 1
            yield Batch(ticks, self.opra.tr.take_errors(), seq, time.time_ns(),
                        {"ts_recv_lag_s": self.feed_lag_s()})
