"""The hedge tape is a function of the ticks alone (issue 28): every print is valued at the
quote in force at it, under the whole-chain refresh in force at it, and refreshes start at
event times. So one session of simulated ticks (synthetic, from the real SPX chain of
2026-08-21: quotes, prints, a 0.6 % fall in one second of event time, which starts
refreshes both by the move and by reeval_ms) gives the same tape, to 1e-9, whether it
comes one tick at a time or in batches of any size, whether refreshes run inline or in the
background and are adopted early or late, and across a restart from a checkpoint.

Before: prints were valued at the book's delta when their batch was drained (so a quote
earlier in the same batch did not count, and batch boundaries moved the tape), and
refreshes were started on a wall-clock timer and adopted whenever their thread finished.
"""

from __future__ import annotations

import copy
import random

import pytest

from monitor.books import decode_checkpoint, encode_checkpoint
from monitor.ingest import Pipeline
from monitor.wire.schema import OptionTrade, UnderlyingTick
from tests.service.helpers import session_ticks
from tests.service.test_pipeline import BASE

TICKS = session_ticks(n=20000, seed=11)


def batches(sizes_seed: int | None) -> list[list]:
    """The session cut into batches: one tick each (None), else random sizes 1..400."""
    if sizes_seed is None:
        return [[t] for t in TICKS]
    rng = random.Random(sizes_seed)
    out, k = [], 0
    while k < len(TICKS):
        n = rng.randint(1, 400)
        out.append(TICKS[k:k + n])
        k += n
    return out


class Late:
    """Background refreshes adopted at adversarial points: each job waits a random number
    of batches before it is run and adopted (or until the next one falls due, which
    finishes it first)."""

    def __init__(self, p: Pipeline, seed: int):
        self.p, self.rng, self.held = p, random.Random(seed), []

    def after_batch(self) -> None:
        self.held += self.p.take_refreshes()
        keep = []
        for job in self.held:
            if self.rng.random() < 0.25:
                job.run()  # (a no-op when the tick thread already needed it)
                self.p.finish_refresh(job)
            else:
                keep.append(job)
        self.held = keep


def run(sizes_seed=None, *, columns=True, background=False, restart_at=None, seed=0):
    p = Pipeline({"SPX": copy.deepcopy(BASE)}, columns=columns,
                 background_refresh=background)
    late = Late(p, seed) if background else None
    for k, batch in enumerate(batches(sizes_seed)):
        if k == restart_at:
            p.complete_refreshes()  # (the service's freeze does this before a checkpoint)
            cp = decode_checkpoint(encode_checkpoint(p.states["SPX"].checkpoint()))
            p = Pipeline({"SPX": copy.deepcopy(BASE)}, columns=columns,
                         background_refresh=background)
            p.states["SPX"].restore(cp)
            late = Late(p, seed) if background else None
        p.apply(batch)
        if late is not None:
            late.after_batch()
    p.complete_refreshes()
    return p.states["SPX"].tape.summary(), p


REFERENCE, REF_P = run(None, columns=False)


def test_the_session_is_a_real_test_of_the_schedule():
    """Both kinds of refresh happen, and the tape has prints of every kind of expiry."""
    s = REF_P.states["SPX"]
    assert REFERENCE["prints"] > 500 and REFERENCE["no_delta"] < REFERENCE["prints"] / 10
    assert REFERENCE["calls"] != 0.0 and REFERENCE["puts"] != 0.0
    spots = [t for t in TICKS if isinstance(t, UnderlyingTick)]
    assert len(spots) >= 50
    assert s.eval_spot == pytest.approx(spots[-1].last, rel=5e-4)  # moved with the fall
    assert sum(isinstance(t, OptionTrade) for t in TICKS) >= REFERENCE["prints"]


def same(got: dict, want: dict = REFERENCE) -> None:
    for k in ("prints", "no_delta", "stale", "session"):
        assert got[k] == want[k], k
    for part in (got, got["units"]):
        ref = want if part is got else want["units"]
        for k in ("total", "calls", "puts"):
            assert part[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-6), k
        for k, v in ref["by_expiry"].items():
            assert part["by_expiry"][k] == pytest.approx(v, rel=1e-9, abs=1e-6), k


@pytest.mark.parametrize("sizes_seed", [1, 2])
def test_batches_of_any_size_give_the_same_tape(sizes_seed):
    got, _ = run(sizes_seed)
    same(got)


@pytest.mark.parametrize("seed", [3, 4])
def test_background_refreshes_adopted_late_give_the_same_tape(seed):
    got, _ = run(seed, background=True, seed=seed)
    same(got)


@pytest.mark.parametrize("background", [False, True])
def test_a_restart_from_a_checkpoint_gives_the_same_tape(background):
    got, p = run(5, background=background, restart_at=40, seed=6)
    same(got)
    # and the book it ends with is the uninterrupted run's
    a, b = REF_P.states["SPX"].book, p.states["SPX"].book
    assert b.now_ns == a.now_ns and b.spot == a.spot
    for k, v in a.totals.items():
        assert b.totals[k] == pytest.approx(v, rel=1e-9, abs=1e-3), k
