"""Hand-over: what a process restores when it starts or is assigned underlyings (their
checkpoints and regime histories, if they are this run's data), and what it stores before
it gives them up in a rebalance."""

from __future__ import annotations

import time

import msgspec
import structlog

from monitor.books import (
    decode_checkpoint,
)
from monitor.provenance import mismatch

log = structlog.get_logger("monitor.service")


class HandOver:
    """Restore and rebalance of :class:`monitor.service.Monitor` (a part of it)."""

    async def restore(self, roots=None) -> dict[str, dict[str, int]]:
        """Per underlying of ``roots`` (default all): with ``checkpoints``, its book
        checkpoint (resume exactly); then its regime history (so a restart does not forget
        the lookback), used only when it is continuous with the data (:func:`history_gap`),
        else dropped with one log line. Returns, per restored checkpoint, the source
        offsets it covers (where the source reads on: :meth:`Source.resume_from`)."""
        covered: dict[str, dict[str, int]] = {}
        if self.store is None:
            return covered
        roots = list(self.pipeline.states) if roots is None else sorted(roots)
        if self.checkpoints:
            for root in roots:
                s = self.pipeline.states[root]
                raw = await self.store.load(root, "checkpoint")
                if raw is None:
                    continue
                try:
                    cp = decode_checkpoint(raw)
                    why = mismatch(cp.get("provenance"), self.provenance[root],
                                   int(cp["clock_ns"]))
                    if why is not None:
                        self._set_aside(root, "checkpoint", why)
                        continue
                    await self._core(s.restore, cp)
                    covered[root] = dict(cp.get("offsets") or {})
                    log.info("checkpoint_restored", underlying=root, clock_ns=s.clock_ns,
                             offsets=covered[root])
                except (ValueError, KeyError, TypeError, msgspec.DecodeError) as err:
                    log.warning("checkpoint_ignored", underlying=root, error=str(err))
        for root in roots:
            engine = self.regimes[root]
            raw = await self.store.load(root, "regime")
            if raw is None:
                continue
            s = self.pipeline.states[root]
            try:
                d = msgspec.json.decode(raw)
                why = mismatch(d.get("provenance"), self.provenance[root])
                if why is not None:
                    self._set_aside(root, "regime history", why)
                    continue
                gap = history_gap(d, root, self.provenance[root]["universe"], s.clock_ns,
                                  self.settings.regimes.window_s)
                if gap is not None:
                    log.info("regime_history_dropped", underlying=root, reason=gap)
                    continue
                engine.restore(d)
                log.info("regime_history_restored", underlying=root)
            except (KeyError, TypeError, ValueError, msgspec.DecodeError) as err:
                log.warning("regime_history_ignored", underlying=root, error=str(err))
        return covered

    def _set_aside(self, root: str, what: str, why: str) -> None:
        """A stored checkpoint or regime history that is not this run's: logged, and one
        console line (``warn``)."""
        log.warning("restore_set_aside", underlying=root, what=what, reason=why)
        if self.warn is not None:
            self.warn(f"{root}: the stored {what} was set aside: {why}")

    # -- rebalances (a partitioned source) -------------------------------------------------
    async def _on_revoked(self, partitions) -> None:
        """Hand over what this process gives up, within the rebalance: one publish cycle
        of every owned underlying (state, checkpoint with the offsets it covers, commit),
        so the next owner restores it and reads on exactly from there. At the run's end
        the final cycle is the hand-over: nothing is written after it."""
        self._rebalance_t0 = time.monotonic()
        lost = {r for r in self.owned if self.source.partitions_of(r) & set(partitions)}
        if not lost:
            return
        if not self._stop.is_set():
            ok = await self.publish_cycle(force=lost)
        else:  # the run's end (the source stopping revokes everything): the state handed
            # over is the final one, never a plain cycle's written after it
            ok = self._final_stored or await self.publish_cycle(force=lost, final=True)
        # partitions whose hand-over was stored: if they come back to this process, it
        # reads on from its own position (its books are exactly there)
        self._kept = set(partitions) if ok else set()
        self.owned -= lost
        for root in lost:
            self.states.pop(root, None)
        log.info("underlyings_handed_over", underlyings=sorted(lost), stored=ok)

    async def _on_assigned(self, partitions) -> None:
        """Take over the underlyings the new assignment holds: those handed over by another
        member (or by this one before a restart) restore their checkpoint and regime
        history, and the source reads on from the offsets the checkpoints cover; the take-
        over time goes to the log and the sinks."""
        t0 = self._rebalance_t0 if self._rebalance_t0 is not None else time.monotonic()
        self._rebalance_t0 = None
        mine = {r for r in self.pipeline.states if self.source.owns(r)}
        kept = {r for r in mine if self.source.partitions_of(r) & self._kept}
        taken = mine - kept
        covered = await self.restore(taken) if taken else {}

        def own_position():  # core thread: nothing is being applied meanwhile
            out = {r: self.source.covered_by(r, self._position) for r in kept}
            keep = set(partitions) & self._kept
            self._position = {tp: off for tp, off in self._position.items() if tp in keep}
            if isinstance(self._token, dict):  # an old owner's offsets are not ours to commit
                self._token = {tp: off for tp, off in self._token.items() if tp in keep}
            return out

        covered.update(await self._core(own_position))
        self._kept = set()
        sought = self.source.resume_from(covered)
        # (a taken underlying is published next cycle: it is not in self.states)
        self.owned = mine
        seconds = time.monotonic() - t0
        if taken:
            for sink in self.sinks:
                sink.observe_handover(sorted(taken), seconds)
        log.info("underlyings_taken_over", underlyings=sorted(taken), kept=sorted(kept),
                 takeover_s=round(seconds, 3), resumed_at={str(k): v for k, v in
                                                           sought.items()})


def history_gap(history: dict, root: str, chain: str, clock_ns: int,
                window_s: float) -> str | None:
    """Why a stored regime history is not continuous with the data (None: it is): another
    underlying or chain (``chain``: the universe fingerprint, :mod:`monitor.provenance`),
    an event clock behind the history's (time went back), or a gap longer than the regime
    window (the window's changes would compare data hours or days apart, as after a
    restart on another day's chain)."""
    if history.get("root") != root:
        return f"the history is {history.get('root')}'s"
    if history.get("chain") != chain:
        return f"the history is of chain {history.get('chain')}, the data of {chain}"
    times = [int(w[0]) for w in history.get("window") or []]
    if not times:
        return None
    last = max(times)
    if last > clock_ns:
        return "the history is later than the data's event clock"
    if clock_ns - last > window_s * 1e9:
        return (f"the history ends {(clock_ns - last) / 3.6e12:.1f} h before the data, beyond "
                f"the {window_s:g} s regime window")
    return None
