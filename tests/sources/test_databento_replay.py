"""`monitor run --replay FILE.dbn`: a DBN session (synthetic quotes and trades over the
packaged real SPX chain, written as OPRA records: tests/dbn_files.py) through the service,
the spot implied from parity (OPRA has none), and recorded while it runs: the recording
replays to the same books."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from monitor.books import build_books
from monitor.config import load_settings
from monitor.sinks.redis_sink import decode_field
from monitor.wire.schema import OptionTrade, UnderlyingTick
from tests import dbn_files as W

pytestmark = pytest.mark.usefixtures("shared_redis")

PACKAGED_SPX = Path(__file__).parents[2] / "monitor" / "data" / "SPX_2026-08-21.csv.gz"


def _monitor(*args, prefix):
    env = dict(os.environ, DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_LOG_FORMAT="json")
    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """8 s of simulated SPX ticks (synthetic) at a steady spot, as OPRA records."""
    path, ticks = W.simulated_session(tmp_path_factory.mktemp("dbn"))
    book = build_books(load_settings(None), [PACKAGED_SPX])["SPX"]
    spots = [t.last for t in ticks if isinstance(t, UnderlyingTick)]
    prints = sum(isinstance(t, OptionTrade) for t in ticks)
    return path, book.chain.spot, spots[-1], prints, len(book.chain)


def test_a_dbn_session_runs_with_the_spot_implied_and_replays_from_its_recording(
        session, tmp_path):
    path, chain_spot, sim_spot, prints, contracts = session
    prefix = f"dealerflow_test_dbn_{uuid.uuid4().hex[:6]}"
    rec = tmp_path / "rec"
    try:
        out = _monitor("run", "--replay", path, "--record", rec, "--metrics-port", "0",
                       "--no-summary", prefix=prefix)
        assert out.returncode == 0, out.stderr[-3000:]
        r = redis.Redis()
        state = {k.decode(): decode_field(v.decode()) for k, v in
                 r.hgetall(f"{prefix}-replay:SPX:state").items()}
        assert state["spot_source"] == "implied_parity"
        # the simulator's quotes follow its spot: parity gives it back (a steady session)
        assert abs(state["spot"] / sim_spot - 1) < 5e-4, (state["spot"], sim_spot)
        assert state["spot"] != chain_spot
        # every simulated print reached the tape, classified against its quote in force
        tape = state["hedge_pressure_usd"]
        assert tape["prints"] + tape["no_delta"] == prints
        assert state["trades_classified"] + state["trades_unclassified"] == prints
        done = [json.loads(x) for x in out.stderr.splitlines() if '"dbn_replay_done"' in x]
        # three venues send each open interest: two of three are repeats, none summed
        assert done[0]["counts"]["open_interest_repeat"] == 2 * contracts
        out = _monitor("run", "--replay", rec, "--metrics-port", "0", "--no-summary",
                       prefix=prefix)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "every book is the recording's (SPX sha256" in out.stdout
    finally:
        r = redis.Redis()
        keys = r.keys(f"{prefix}*")
        if keys:
            r.delete(*keys)
