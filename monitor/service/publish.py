"""The publish cycle, written once: freeze, compute, deliver, commit.

(1) on the core thread, between batches, a frozen copy of each changed book and the source
offsets its checkpoint covers (:meth:`PublishCycles._freeze`); (2) on the levels thread, per
underlying, state, profile, regime events, regime history and checkpoint of that instant
(:meth:`PublishCycles._collect`); (3) every sink writes the cycle, in order (:func:`deliver`;
the Redis sink: state, profile and events, then regime history and checkpoint); (4) the
dead letters of the applied batches are acknowledged; (5) the source offsets are
committed, only when every durable sink stored its checkpoint. What a crash or failure at
each point gives is the table in :meth:`PublishCycles._publish_cycle`; committed offsets
never run ahead of a stored checkpoint's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import msgspec
import structlog

from monitor import failpoints
from monitor.books import (
    book_fingerprint,
    encode_checkpoint,
)
from monitor.regimes.sizing import advice_for_state
from monitor.sinks.base import PublishCycle, Sink, UnderlyingCycle
from monitor.state import build_state, observation

log = structlog.get_logger("monitor.service")


class PublishCycles:
    """The publish cycles of :class:`monitor.service.Monitor` (a part of it)."""

    async def _timers(self) -> None:
        pub_s = self.settings.intervals.publish_ms / 1000.0
        next_pub = time.monotonic() + pub_s
        next_summary = time.monotonic() + 1.0
        while not self._stop.is_set():
            await asyncio.sleep(self.tick_s)
            if self._stop.is_set():  # the final cycle is the shutdown's
                break
            try:
                now = time.monotonic()
                if now >= next_pub:
                    next_pub = now + pub_s
                    await self.publish_cycle()
                if now >= next_summary:
                    next_summary = now + 1.0
                    if self.summary:
                        self._print_summary()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed cycle is logged; the next one retries
                log.exception("timer_cycle_failed")
                self._failing_since = self._failing_since or time.monotonic()

    # -- publishing ---------------------------------------------------------------------
    def _freeze(self, force=frozenset(), final: bool = False) -> tuple[object, list]:
        """On the core thread, between batches: the source token and a frozen copy of each
        owned underlying that changed (or is in ``force``; about a millisecond each), with
        the source offsets its checkpoint covers, so the slow part of a publish cycle
        (levels, scenarios, regimes) runs beside tick processing, not in its way. A
        refresh in flight is finished first: a checkpoint holds the book it leaves and
        the prints valued with it. ``final``: every owned underlying, each copy to be
        refreshed whole before it is published (after its checkpoint is taken)."""
        self.pipeline.complete_refreshes()
        if final:
            force = set(force) | self.owned
        token, self._token = self._token, None
        frozen = []
        vol_index = dict(self.pipeline.vol_index)
        for root, s in self.pipeline.states.items():
            if root not in self.owned:
                continue
            if not s.dirty and root in self.states and root not in force:
                continue
            s.dirty = False
            frozen.append((root, s.frozen_copy(reuse=True), vol_index,
                           final or self.pipeline.consistent(s),
                           self.source.covered_by(root, self._position), final))
        return token, frozen

    def _collect(self, frozen: list) -> list[UnderlyingCycle]:
        """On the levels thread: per underlying, state, profile, regime events, regime
        history and checkpoint, all of the frozen instant."""
        out = []
        for root, s, vol_index, consistent, covered, final in frozen:
            engine = self.regimes[root]
            # the checkpoint also serves `monitor whatif --from-redis` (full revaluation on
            # the live book), so it is kept whenever there is a store
            prov = self.provenance[root]
            book_cp = s.checkpoint() if self.store is not None or final else None
            cp = (encode_checkpoint({**book_cp, "offsets": covered, "provenance": prov})
                  if self.store is not None else None)
            if final:
                self.final_books[root] = book_fingerprint(book_cp)  # the run's own book
                # the whole-chain computation on the final inputs, smiles refitted
                s.book.refresh(now_ns=s.clock_ns, spot=s.pending_spot or s.book.spot,
                               refit=True)
                s.pending_spot = None
            und = self.settings.underlying(root)
            state, profile = build_state(
                s, engine.current, und=und,
                same_below_frac=self.settings.regimes.settled_live_same_frac)
            vix_symbol = und.vol_index
            vix = vol_index.get(vix_symbol) if vix_symbol else None
            state["vol_index"] = None if vix is None else vix[1]
            # the engine sees only consistent books (Pipeline.consistent): a state frozen
            # while a spot move's refresh is in flight is published, not observed
            events = (engine.update(observation(s, state, state["vol_index"]))
                      if consistent else [])
            state["regime"] = engine.labels["gamma"]
            state["regimes"] = ",".join(engine.current)
            state["sizing"] = advice_for_state(state, self.settings, book=s.book,
                                               base=self.base)
            history = {**engine.to_dict(), "chain": prov["universe"], "provenance": prov}
            out.append(UnderlyingCycle(root, state, profile, events,
                                       msgspec.json.encode(history), cp))
        return out

    async def publish_cycle(self, force=frozenset(), final: bool = False) -> bool:
        """Freeze, compute, hand to the sinks, then commit (module docstring); ``force``:
        underlyings published and checkpointed even if unchanged; ``final`` (a run's
        end): all of them, each published as the whole-chain computation on its final
        inputs. True when every durable sink stored the cycle."""
        async with self._publishing:
            return await self._publish_cycle(force, final)

    async def _publish_cycle(self, force, final: bool = False) -> bool:
        """The commit order, and what a crash or a failed step at each point must give
        (``monitor.failpoints`` names the points; tests/service/test_fault_injection.py
        tests every row against the real broker and Redis). Steps: (1) freeze: a copy of
        each changed book and the source offsets its checkpoint covers; (2) each sink
        writes the cycle: Redis the state, then the checkpoint; (3) the dead letters of
        the applied batches are acknowledged; (4) the offsets are committed, only when
        every durable sink stored its checkpoint.

        ==========================  ======================================================
        point                       after a restart (a new process, same group and prefix)
        ==========================  ======================================================
        crash ``state_stored``      the state is newer than the checkpoint; the restart
                                    restores the older checkpoint and re-reads from its
                                    offsets (nothing committed past it): final state as
                                    an uninterrupted run's, no print applied twice
        fail ``checkpoint_write``   not stored: no commit this cycle (the offsets wait
                                    for the next stored checkpoint); the run goes on
        crash ``checkpoint_stored`` checkpoint newer than the committed offsets: the
                                    restart reads on from the offsets the checkpoint
                                    covers; nothing applied twice
        crash ``dead_letters_sent`` as above; the dead letters may be sent again (at
                                    least once), never lost
        fail ``commit``             the cycle raises (logged); its offsets go back to be
                                    committed with the next cycle's; nothing lost
        crash ``committed``         checkpoint and offsets agree; the restart re-reads
                                    nothing
        ==========================  ======================================================

        In every row: committed offsets never run ahead of a stored checkpoint's."""
        now = time.monotonic()
        if now - self._last_checkpoint_all >= self.settings.kafka.checkpoint_s:
            # every owned underlying's checkpoint now and then, changed or not: its offsets
            # keep up with the partition, so a take-over re-reads little
            self._last_checkpoint_all = now
            force = set(force) | self.owned
        # an underlying whose last checkpoint was not stored is published again, changed
        # or not: the offsets its state covers wait for that checkpoint, and a cycle
        # without it would commit them with nothing stored behind them
        force = set(force) | self._unstored
        token, frozen = await self._core(self._freeze, force, final)
        # the batches in the token are applied; their dead letters go out (in _settle)
        # before their offsets are committed below
        settling = list(self._settling)
        items = await asyncio.get_running_loop().run_in_executor(self.levels, self._collect,
                                                                 frozen)
        now = time.monotonic()
        t_prev, n_prev = self._last_publish
        tps = (self.ticks_received - n_prev) / max(now - t_prev, 1e-9)
        self._last_publish = (now, self.ticks_received)
        lag, feed_lag = self.source.lag(), self.source.feed_lag_s()
        for u in items:
            u.state["quality"]["ticks_per_second"] = tps  # all underlyings of this process
            u.state["quality"]["consumer_lag"] = lag
            u.state["quality"]["feed_lag_seconds"] = feed_lag
            self.states[u.root] = u.state
            self.events.extend(u.events)
            for ev in u.events:
                log.info("regime_change", underlying=u.root, regime=ev["regime"],
                         frm=ev["from"], to=ev["to"], message=ev["message"])
        stored = await deliver(PublishCycle(items, *self._count_deltas()), self.sinks)
        self._unstored = (set() if stored or not self.checkpoints
                          else self._unstored | {u.root for u in items})
        self.cycles += 1
        now = time.monotonic()
        self._lag_total = sum(lag.values())
        up = getattr(self.store, "connected", True)
        self._store_down_since = None if up else (self._store_down_since or now)
        # a cycle not stored because Redis is down is Redis's reason (its own threshold)
        self._failing_since = (None if stored or not up else (self._failing_since or now))
        if token is None:
            return stored
        failpoints.hit("checkpoint_stored")
        if settling:
            await asyncio.gather(*settling, return_exceptions=True)
        failpoints.hit("dead_letters_sent")
        if not self.checkpoints or stored:
            try:
                if failpoints.hit("commit"):
                    raise failpoints.FailpointError("commit: refused on command")
                await self.source.commit(token)
            except Exception:  # the next cycle commits them with its own
                self._token = self.source.merge_tokens(token, self._token)
                raise
            failpoints.hit("committed")
        else:  # keep the offsets for the next cycle: nothing past the checkpoint is committed
            self._token = self.source.merge_tokens(token, self._token)
        return stored

    def _count_deltas(self) -> tuple[dict, dict]:
        """Tick and rejection counts since the last cycle (and one log line per new
        rejection reason, with its context)."""
        counts = self.pipeline.counts
        for sample in counts.take_samples():
            log.warning("tick_rejected", **sample)
        for sample in counts.take_dropped():
            log.info("tick_dropped", **sample)
        out = []
        for now, synced in ((counts.ticks, self._synced_ticks),
                            (counts.rejected, self._synced_rejected)):
            delta = {}
            for key, n in list(now.items()):
                if n != synced.get(key, 0):
                    delta[key] = n - synced.get(key, 0)
                    synced[key] = n
            out.append(delta)
        return out[0], out[1]


async def deliver(cycle: PublishCycle, sinks: Sequence[Sink]) -> bool:
    """Hand ``cycle`` to every sink, in order; True when every durable sink stored it.

    The one place that orders a publish cycle's effects (the contract is
    :mod:`monitor.sinks.base`'s): each sink writes the cycle (the Redis sink: state,
    profile and events, then the regime history and the checkpoint); the caller commits
    the source offsets only when this returns True, so no offset is ever committed past
    a checkpoint that was not stored. A sink that raises is logged and counts as not
    stored when it is durable; the other sinks still get the cycle."""
    stored = True
    for sink in sinks:
        try:
            ok = await sink.write(cycle)
        except Exception:  # noqa: BLE001 - one sink's failure must not stop the others
            log.exception("sink_write_failed", sink=type(sink).__name__)
            ok = False
        if sink.durable and not ok:
            stored = False
    return stored
