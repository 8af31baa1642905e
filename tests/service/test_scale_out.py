"""Scale-out through a consumer group, against a real broker (Tansu) and a real Redis:
two `monitor run` processes in one group over three underlyings, one killed with SIGKILL
mid-stream; the survivor takes the dead member's underlyings over from their checkpoints
and every underlying ends where a single process ends on the same ticks, flow-model
counts included (1e-9 relative).

Underlyings: SPX and VIX from CBOE's end-of-day chains of 2026-06-12 (real), and SYN, a
synthetic equity chain (labelled so; tests/synth.py) written to a canonical file, so
three keys spread over the partitions.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime

import pytest
import redis

from monitor.books import build_books
from monitor.chain.canonical import write_canonical
from monitor.config import KafkaTopics, load_settings
from monitor.sources.kafka import KafkaTickProducer, partition_of
from monitor.sources.simulator import MarketSimulator, SimConfig, interleaved_session
from monitor.wire.schema import OptionQuote, OptionTrade, UnderlyingTick
from tests.broker import create_topics
from tests.data_paths import DATA_DIR
from tests.service.helpers import close
from tests.synth import make_chain

pytestmark = pytest.mark.usefixtures("shared_redis")

EOD = DATA_DIR / "cboe_chain_eod_2026"
ROOTS = ("SPX", "VIX", "SYN")
PARTITIONS = 5
FIELDS = ("spot", "dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day",
          "zero_gamma", "call_wall", "put_wall", "as_of_ns", "customer_puts_sold",
          "trades_classified", "trades_unclassified")


def _syn_chain(as_of_ns: int):
    """SYN: strikes 80..120, four expiries, sigma 25-35 % (synthetic)."""
    rows = [(k, t, c, 0.25 + 0.1 * abs(k - 100) / 20, 1000.0 + 50 * (k % 7))
            for t in (0.02, 0.08, 0.25, 0.5) for k in range(80, 121, 2) for c in (True, False)]
    return make_chain(rows, spot=100.0, r=0.04, as_of_ns=as_of_ns, spread=0.04,
                      underlying="SYN")


def _write_config(tmp_path, chains, topics: dict) -> object:
    lines = ["chains:"] + [f"  - {c}" for c in chains]
    lines += ["underlyings:", "  SPX: {multiplier: 100, settlement: am_monthly, "
              "position_model: flow}", "  VIX: {multiplier: 100, settlement: am_monthly}",
              "  SYN: {multiplier: 100, position_model: flow}",
              "kafka:", "  session_timeout_ms: 3000", "  heartbeat_interval_ms: 300",
              "  checkpoint_s: 2", "  topics:"] + [f"    {k}: {v}" for k, v in topics.items()]
    lines += ["intervals:", "  publish_ms: 200"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ticks(config) -> list:
    settings = load_settings(config)
    books = build_books(settings, [p for p in settings.chains], settings.base)
    start = max(b.now_ns for b in books.values())
    sims = [MarketSimulator(book, SimConfig(rate_ticks_per_s=3000.0, seed=11 + i,
                                            start_ns=start, trade_ratio=0.2))
            for i, book in enumerate(books.values())]
    return [t for batch in interleaved_session(sims, 6.0, batch=3000) for t in batch]


def _root(t) -> str:
    sym = t.root if isinstance(t, UnderlyingTick) else t.symbol
    return next(r for r in ROOTS if sym.startswith(r))


class Member:
    """One `monitor run` process."""

    def __init__(self, config, kafka, group, prefix, tmp_path, name):
        self.err = open(tmp_path / f"{name}.log", "w+")
        env = dict(os.environ, DEALERFLOW_REDIS__PREFIX=prefix, DEALERFLOW_KAFKA__GROUP_ID=group,
                   DEALERFLOW_LOG_FORMAT="json")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(config), "--kafka",
             kafka, "--metrics-port", "0", "--no-summary"], stdout=subprocess.DEVNULL,
            stderr=self.err, env=env)

    def logs(self) -> list[dict]:
        self.err.flush()
        self.err.seek(0)
        return [json.loads(x) for x in self.err.read().splitlines() if x.startswith("{")]

    def owned(self) -> set[str]:
        for line in reversed(self.logs()):
            if line.get("event") == "underlyings_taken_over":
                return set(line["underlyings"]) | set(line["kept"])
        return set()

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(120)


def _wait(cond, what, timeout=180.0, members=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        for m in members:
            assert m.proc.poll() is None or m.proc.returncode in (0, -9), m.logs()[-5:]
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _states(prefix) -> dict:
    r = redis.Redis()
    out = {}
    for root in ROOTS:
        raw = r.hgetall(f"{prefix}:{root}:state")
        out[root] = {k.decode(): json.loads(v) for k, v in raw.items()
                     if k.decode() in FIELDS + ("hedge_pressure_usd",)}
    return out


def _cleanup(*prefixes):
    r = redis.Redis()
    for p in prefixes:
        keys = r.keys(f"{p}:*")
        if keys:
            r.delete(*keys)


def _clock_reached(prefix, clocks, roots=ROOTS):
    states = _states(prefix)
    return all(states[r].get("as_of_ns") == clocks[r] for r in roots)


async def _send(kafka, topics, ticks):
    async with KafkaTickProducer(kafka, "json", topics) as prod:
        await prod.send_ticks(ticks, batch_size=200)


def _clocks(ticks) -> dict:
    """The latest event time per underlying (trades do not move a book's clock)."""
    clock = {}
    for t in ticks:
        if not isinstance(t, OptionTrade):
            clock[_root(t)] = max(clock.get(_root(t), 0), t.ts_ns)
    return clock


def _session(kafka, tmp_path, tag: str) -> tuple:
    """(tag with a random suffix, config, topics, ticks): the three underlyings' chains,
    a configuration on fresh topics (created, PARTITIONS each) and the simulated ticks."""
    chains = [EOD / "SPX" / "SPX_2026-06-12.csv.gz", EOD / "VIX" / "VIX_2026-06-12.csv.gz"]
    as_of = build_books(load_settings(None), [chains[0]])["SPX"].chain.as_of_ns
    chains.append(write_canonical(_syn_chain(as_of), tmp_path / "SYN_2026-06-12.csv"))
    p = f"{tag}{uuid.uuid4().hex[:6]}"
    topics = {"layout": "single", "ticks": f"{p}.ticks", "dead_letter": f"{p}.dlq"}
    config = _write_config(tmp_path, chains, topics)
    asyncio.run(create_topics(kafka, [topics["ticks"], topics["dead_letter"]], PARTITIONS))
    return p, config, KafkaTopics(**topics), _ticks(config)


def _diffs(got: dict, expected: dict) -> list:
    return [(root, key, got[root].get(key), expected[root][key]) for root in ROOTS
            for key in FIELDS if not close(got[root].get(key), expected[root][key])]


def test_two_members_kill_one_survivor_takes_over_and_ends_like_one_process(
        kafka_bootstrap, tmp_path):
    # aiokafka's default assignor deals partitions round-robin: with two members the keys
    # must fall on partitions of both parities to be split
    parts = {r: partition_of(r.encode(), PARTITIONS) for r in ROOTS}
    assert len({v % 2 for v in parts.values()}) == 2, parts
    p, config, kt, ticks = _session(kafka_bootstrap, tmp_path, "so")
    kinds = {type(t) for t in ticks}
    assert {OptionQuote, OptionTrade, UnderlyingTick} <= kinds
    clock = _clocks(ticks)
    cut1, cut2 = int(len(ticks) * 0.4), int(len(ticks) * 0.7)
    first_clock = _clocks(ticks[:cut1])
    group, ref_group = f"g-{p}", f"ref-{p}"
    prefix, ref_prefix = f"dealerflow_test_{p}", f"dealerflow_test_ref_{p}"
    members = []
    try:
        asyncio.run(_send(kafka_bootstrap, kt, ticks[:cut1]))
        a = Member(config, kafka_bootstrap, group, prefix, tmp_path, "a")
        members.append(a)
        _wait(lambda: a.owned() == set(ROOTS), "member a owning everything", members=members)
        b = Member(config, kafka_bootstrap, group, prefix, tmp_path, "b")
        members.append(b)
        _wait(lambda: a.owned() and b.owned() and a.owned() | b.owned() == set(ROOTS)
              and not a.owned() & b.owned(), "the group split", members=members)
        _wait(lambda: _clock_reached(prefix, first_clock), "both caught up", members=members)
        # the victim is whoever holds SPX: the busiest book, with the flow model
        victim = a if "SPX" in a.owned() else b
        survivor = b if victim is a else a
        lost = victim.owned()
        asyncio.run(_send(kafka_bootstrap, kt, ticks[cut1:cut2]))
        # mid-stream: as soon as the victim has published progress on one of its underlyings
        _wait(lambda: any(_states(prefix)[r].get("as_of_ns", 0) > first_clock[r]
                          for r in lost), "the victim consuming", members=members)
        killed_at = time.time()
        assert victim.stop(signal.SIGKILL) == -9
        asyncio.run(_send(kafka_bootstrap, kt, ticks[cut2:]))
        _wait(lambda: survivor.owned() == set(ROOTS), "the take-over", members=members)
        _wait(lambda: _clock_reached(prefix, clock), "the survivor at the end",
              members=members)
        assert survivor.stop() == 0
        taken = [x for x in survivor.logs() if x.get("event") == "underlyings_taken_over"
                 and set(x["underlyings"]) & lost]
        # every lost underlying taken over, resumed from the checkpoint's offsets (past 0:
        # the victim had consumed and stored), not replayed from the start; how long it took
        # is printed, not asserted (a wall-clock limit races a loaded machine)
        assert taken and set().union(*(set(x["underlyings"]) for x in taken)) >= lost
        assert any(int(v) > 0 for x in taken for v in x["resumed_at"].values()), taken
        done_at = datetime.fromisoformat(taken[-1]["timestamp"].replace("Z", "+00:00"))
        print(f"take-over of {sorted(lost)}: restored {taken[-1]['takeover_s']:.2f} s after "
              f"the rebalance began, {done_at.timestamp() - killed_at:.2f} s after the kill "
              f"(session timeout 3 s)")
        got = _states(prefix)

        ref = Member(config, kafka_bootstrap, ref_group, ref_prefix, tmp_path, "ref")
        members.append(ref)
        _wait(lambda: _clock_reached(ref_prefix, clock), "the reference at the end",
              members=members)
        assert ref.stop() == 0
        expected = _states(ref_prefix)
        for root in ROOTS:
            assert set(FIELDS) <= set(expected[root]), root
        diffs = _diffs(got, expected)
        assert not diffs, diffs
        assert expected["SPX"]["trades_classified"] > 0  # the flow fields were exercised
        # the tape after the take-over is the one process's, to 1e-9: every print valued
        # under the refresh in force at it (event time), the restored book the victim had
        for root in ROOTS:
            hp, want = got[root]["hedge_pressure_usd"], expected[root]["hedge_pressure_usd"]
            assert hp["prints"] == want["prints"] and hp["no_delta"] == want["no_delta"], root
            for k in ("total", "calls", "puts"):
                assert hp[k] == pytest.approx(want[k], rel=1e-9), (root, k)
        assert expected["SPX"]["hedge_pressure_usd"]["prints"] > 0
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.stop(signal.SIGKILL)
        _cleanup(prefix, ref_prefix)


@pytest.mark.parametrize("order", ["a, wait, b", "a then b at once", "b then a at once"])
def test_scale_up_then_both_stopped_in_turn_leave_the_final_state(kafka_bootstrap, tmp_path,
                                                                   order):
    """A second member joins a running one (a hand-over mid-stream), then the two are
    stopped one after the other with SIGTERM, the second at once or after it took
    everything over: every underlying's last state in Redis is the one process's final
    state (the whole-chain computation on the final inputs), not a hand-over state
    written during a rebalance. (Stopped at once, the consumer's stop revoked the
    partitions after the final cycle and its hand-over overwrote the final state: SPX
    GEX -0.03 %, spot and zero gamma moved.)"""
    p, config, kt, ticks = _session(kafka_bootstrap, tmp_path, "su")
    clock = _clocks(ticks)
    cut = int(len(ticks) * 0.5)
    prefix, ref_prefix = f"dealerflow_test_{p}", f"dealerflow_test_ref_{p}"
    members = []
    try:
        asyncio.run(_send(kafka_bootstrap, kt, ticks[:cut]))
        a = Member(config, kafka_bootstrap, f"g-{p}", prefix, tmp_path, "a")
        members.append(a)
        _wait(lambda: a.owned() == set(ROOTS), "member a owning everything", members=members)
        b = Member(config, kafka_bootstrap, f"g-{p}", prefix, tmp_path, "b")
        members.append(b)
        _wait(lambda: a.owned() and b.owned() and a.owned() | b.owned() == set(ROOTS)
              and not a.owned() & b.owned(), "the group split", members=members)
        asyncio.run(_send(kafka_bootstrap, kt, ticks[cut:]))
        _wait(lambda: _clock_reached(prefix, clock), "both at the end", members=members)
        first, second = (a, b) if order.startswith("a") else (b, a)
        if "wait" in order:
            assert first.stop() == 0
            _wait(lambda: second.owned() == set(ROOTS), "the other taking everything",
                  members=members)
            assert second.stop() == 0
        else:
            first.proc.send_signal(signal.SIGTERM)
            second.proc.send_signal(signal.SIGTERM)
            assert first.stop() == 0 and second.stop() == 0
        got = _states(prefix)

        ref = Member(config, kafka_bootstrap, f"ref-{p}", ref_prefix, tmp_path, "ref")
        members.append(ref)
        _wait(lambda: _clock_reached(ref_prefix, clock), "the reference at the end",
              members=members)
        assert ref.stop() == 0
        expected = _states(ref_prefix)
        diffs = _diffs(got, expected)
        rebalances = [(m, x["event"], x.get("underlyings"), x.get("kept"))
                      for m, member in (("a", a), ("b", b)) for x in member.logs()
                      if x.get("event") in ("underlyings_handed_over", "underlyings_taken_over",
                                            "monitor_stopped")]
        assert not diffs, (diffs, rebalances)
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.stop(signal.SIGKILL)
        _cleanup(prefix, ref_prefix)
