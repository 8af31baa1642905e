"""The live Databento path end to end against a stand-in gateway that speaks the vendor's
live protocol (as the vendor tests its own client): greeting and CRAM challenge, the
client's hashed answer checked against the key, subscriptions by parent symbol, DBN
records streamed, a connection dropped mid-session and the client's own reconnection
(authenticated and subscribed again, the gap reported), an error record; the key never
in any log. Records are synthetic (tests/dbn_files.py)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import socket
import struct
import time

import databento_dbn as dbn
import pytest
from structlog.testing import capture_logs

from monitor.config import Settings, UnderlyingFeed
from monitor.sources.base import SourceUnavailable
from monitor.sources.databento import DbnTranslator
from monitor.sources.databento_live import DatabentoLiveSource
from monitor.wire.columns import objects
from monitor.wire.schema import OptionQuote, UnderlyingTick
from tests import dbn_files as W

KEY = "db-TestKey0123456789abcdefXYZ12"
CRAM = "testchallenge42"
TS0 = 1_787_000_000_000_000_000
C, P = "SPXW260821C07600000", "SPXW260821P07600000"


def _fields(line: bytes) -> dict:
    return dict(t.partition("=")[::2] for t in line.decode().strip().split("|"))


async def _subscriptions(reader) -> list[dict]:
    """The client's subscription lines until it starts the session."""
    subs = []
    while True:
        line = await reader.readline()
        if not line or line.startswith(b"start_session"):
            return subs
        subs.append(_fields(line))


def _error(ts: int, text: str):
    return dbn.ErrorMsg(ts, text)


class Gateway:
    """Sessions in order: each connection authenticates, reads subscriptions until
    ``start_session``, then gets its session's records; the first is dropped (reset)
    after its records, the others stay open until the client leaves."""

    def __init__(self, sessions: list[tuple[int, list]]):
        self.sessions = sessions
        self.connections = 0
        self.auth: list[dict] = []
        self.subscriptions: list[list[dict]] = []
        self.refused = 0

    async def handle(self, reader, writer):
        n = self.connections
        self.connections += 1
        writer.write(b"lsg_version=0.0.0-standin\n" + f"cram={CRAM}\n".encode())
        auth = _fields(await reader.readline())
        want = hashlib.sha256(f"{CRAM}|{KEY}".encode()).hexdigest() + "-" + KEY[-5:]
        if auth.get("auth") != want:
            self.refused += 1
            writer.write(b"success=0|error=Authentication failed.\n")
            await writer.drain()
            writer.close()
            return
        self.auth.append(auth)
        writer.write(f"success=1|session_id={n + 1}\n".encode())
        self.subscriptions.append(await _subscriptions(reader))
        # a session past the script: the present, nothing new to send
        start, records = (self.sessions[n] if n < len(self.sessions)
                          else (self.sessions[-1][0] + 1, []))
        writer.write(W.metadata(start=start) + b"".join(bytes(r) for r in records))
        await writer.drain()
        if n == 0:  # the connection drops: a reset (linger 0), not a clean close
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        await reader.read()  # open until the client goes


def _sessions(ts0: int = TS0, call: str = C, put: str = P):
    first = [W.definition(1, call, ts0), W.definition(2, put, ts0)] + [
        W.open_interest(1, 5000, ts0 + 1, pub) for pub in W.OI_PUBLISHERS] + [
        W.cmbp1(1, ts0 + 2, 10.0, 10.4), W.cmbp1(2, ts0 + 3, 30.0, 30.6)]
    second = [_error(ts0 + 4_000_000_000, "a test error from the gateway"),
              W.cmbp1(1, ts0 + 5_000_000_000, 10.2, 10.6),
              W.tcbbo(1, ts0 + 6_000_000_000, 10.6, 3, 10.2, 10.6)]
    return [(ts0, first), (ts0 + 4_000_000_000, second)]


async def _serve(gw):
    server = await asyncio.start_server(gw.handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _settings(port: int) -> Settings:
    s = Settings()
    s.databento.gateway, s.databento.port = "127.0.0.1", port
    return s


async def test_live_records_across_a_dropped_connection_with_the_key_never_logged(caplog):
    caplog.set_level(logging.DEBUG)  # the vendor client's own log, every level
    sessions = _sessions()
    gw = Gateway(sessions)
    server, port = await _serve(gw)
    # what the records mean, read offline by the same translator (checked by hand in
    # tests/sources/test_databento.py): the live path must deliver exactly these
    tr = DbnTranslator(["SPX"])
    want = [t for _, recs in sessions for r in recs for t in tr.translate(r)]
    assert len(want) == 5  # OI once, 3 quotes, 1 trade (its quote is the one in force)
    with capture_logs() as logs:
        src = DatabentoLiveSource(_settings(port), ["SPX"], key=KEY)
        await src.start()
        got, errors = [], []

        async def collect():
            async for b in src.batches():
                got.extend(t for t in objects(b.ticks) if type(t).__name__ != "UnderlyingTick")
                errors.extend(b.errors)
                if len(got) >= len(want):
                    return
        await asyncio.wait_for(collect(), 60)
        assert src.problem() is None  # records flow: connected
        await src.stop()
    server.close()
    assert got == want
    # authenticated twice with the key's hash, on the configured dataset; subscribed twice
    # to every schema by parent symbol
    # (the vendor client treats a close after an error record as a failure and reconnects
    # once more while it stops: a third session may open, with nothing left to send)
    assert [a["dataset"] for a in gw.auth][:2] == ["OPRA.PILLAR", "OPRA.PILLAR"]
    assert len(gw.auth) == len(gw.subscriptions) == gw.connections
    expected_subs = [(s, "parent", "SPX.OPT,SPXW.OPT")
                     for s in ["definition", "statistics", "cmbp-1", "tcbbo"]]
    for subs in gw.subscriptions:
        assert [(x["schema"], x["stype_in"], x["symbols"]) for x in subs] == expected_subs
    # the reconnection's gap: from the last event before the drop to the new session's start
    assert src.gaps[0] == (TS0 + 3, TS0 + 4_000_000_000)
    gaps = [e for e in logs if e["event"] == "databento_gap"]
    assert gaps[0]["seconds"] == 4.0 and len(gaps) == len(src.gaps)
    said = [e["message"] for e in logs if e["event"] == "databento_vendor_error"]
    assert said == ["a test error from the gateway (code unset)"]
    # counted with the records that give no tick: the two repeated open interests (two
    # more venues) and the error record
    assert [r for r, _ in errors] == ["open_interest_repeat"] * 2 + ["vendor_error"]
    text = caplog.text + repr(logs)
    assert KEY not in text and KEY[:-5] not in text


async def test_a_wrong_key_or_no_key_is_refused_in_one_line(monkeypatch):
    gw = Gateway(_sessions())
    server, port = await _serve(gw)
    src = DatabentoLiveSource(_settings(port), ["SPX"], key="db-WrongKey0123456789abcdefXYZ1")
    with pytest.raises(SourceUnavailable, match=r"Databento gateway 127\.0\.0\.1:\d+: .*"
                                                r"Authentication failed"):
        await src.start()
    server.close()
    assert gw.refused == 1 and gw.auth == []
    monkeypatch.delenv("DATABENTO_API_KEY", raising=False)
    with pytest.raises(SourceUnavailable, match="the Databento API key is not set: export "
                                                "DATABENTO_API_KEY"):
        DatabentoLiveSource(_settings(port), ["SPX"])


async def test_the_live_feed_bridged_into_kafka(kafka_bootstrap, tmp_path):
    """`monitor bridge databento --kafka` without --replay: the stand-in gateway's records,
    across its dropped connection, arrive in the tick topic as the ticks they mean."""
    import os
    import signal
    import sys
    import uuid

    from aiokafka import AIOKafkaConsumer

    from monitor.wire.codec import decode
    from tests.broker import create_topics
    sessions = _sessions()
    gw = Gateway(sessions)
    server, port = await _serve(gw)
    tr = DbnTranslator(["SPX"])
    want = [t for _, recs in sessions for r in recs for t in tr.translate(r)]
    topic = f"live{uuid.uuid4().hex[:6]}.ticks"
    await create_topics(kafka_bootstrap, [topic], 3)
    config = tmp_path / "config.yaml"
    config.write_text(f"kafka:\n  topics:\n    ticks: {topic}\ndatabento:\n  gateway: "
                      f"127.0.0.1\n  port: {port}\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "bridge", "databento", "--kafka", kafka_bootstrap,
        "--config", str(config), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, DATABENTO_API_KEY=KEY, DEALERFLOW_LOG_FORMAT="json"))
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while len(got) < len(want):  # the ticks arrive: then the bridge is stopped
            assert loop.time() < deadline, f"only {len(got)} ticks in the topic"
            assert proc.returncode is None
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for m in batch:
                    got.extend(decode(m.value, "json").ticks)
    finally:
        await consumer.stop()
        proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    server.close()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert out.decode().strip().startswith("bridged 5 ticks of the live OPRA.PILLAR feed")
    assert out.decode().strip().endswith("records without a tick: open_interest_repeat 2, "
                                         "vendor_error 1")
    assert KEY not in (out + err).decode()
    assert sorted(got, key=lambda t: getattr(t, "ts_ns", 0)) == want


async def test_monitor_run_on_the_live_feed_applies_its_ticks_and_is_ready_while_connected(
        tmp_path):
    """`monitor run --databento`: the stand-in gateway's records move the packaged SPX book
    (its real 2026-08-21 chain holds both contracts); /readyz says ready once connected."""
    import json
    import os
    import signal
    import sys
    import urllib.request
    import uuid

    import redis

    from monitor.paths import packaged_chain
    # after the packaged chain's clock (2026-08-21 close), on contracts of 2026-09-18
    t0 = 1_787_351_000_000_000_000
    gw = Gateway(_sessions(t0, "SPXW260918C07600000", "SPXW260918P07600000"))
    server, port = await _serve(gw)
    prefix = f"dealerflow_test_live_{uuid.uuid4().hex[:6]}"
    config = tmp_path / "config.yaml"
    config.write_text(f"chains:\n  - {packaged_chain()}\ndatabento:\n  gateway: 127.0.0.1\n"
                      f"  port: {port}\nintervals:\n  publish_ms: 200\n")
    log = open(tmp_path / "run.log", "w+")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "run", "--databento", "--config", str(config),
        "--metrics-port", "0", "--no-summary", stdout=asyncio.subprocess.DEVNULL,
        stderr=log, env=dict(os.environ, DATABENTO_API_KEY=KEY, DEALERFLOW_LOG_FORMAT="json",
                             DEALERFLOW_REDIS__PREFIX=prefix))
    r = redis.Redis(decode_responses=True)
    key = f"{prefix}:SPX:state"
    started_ns = time.time_ns()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180
    try:
        # the last quote's event time and the one trade, classified: every record applied
        while not (r.hget(key, "as_of_ns") == str(t0 + 5_000_000_000)
                   and r.hget(key, "trades_classified") == "1"):
            assert proc.returncode is None, open(tmp_path / "run.log").read()[-3000:]
            assert loop.time() < deadline, ("the live ticks never reached the state",
                                            r.hgetall(key).get("as_of_ns"),
                                            r.hgetall(key).get("trades_classified"),
                                            open(tmp_path / "run.log").read()[-2000:])
            await asyncio.sleep(0.2)
        events = [json.loads(x) for x in open(tmp_path / "run.log") if x.startswith("{")]
        port_m = next(e["port"] for e in events if e["event"] == "metrics_serving")
        with urllib.request.urlopen(f"http://127.0.0.1:{port_m}/readyz", timeout=5) as resp:
            assert resp.status == 200
        # the feed's lag: wall clock minus the newest record's ts_recv (the trade's, t0 + 6
        # s), published after it came in and before now, in the state and on /metrics
        with urllib.request.urlopen(f"http://127.0.0.1:{port_m}/metrics", timeout=5) as resp:
            scraped = resp.read().decode()
        lag_state = json.loads(r.hget(key, "quality"))["feed_lag_seconds"]
        now_ns, last_ns = time.time_ns(), t0 + 6_000_000_000
        lo, hi = (started_ns - last_ns) / 1e9, (now_ns - last_ns) / 1e9
        assert lo <= lag_state <= hi, (lo, lag_state, hi)
        line = next(x for x in scraped.splitlines()
                    if x.startswith('dealerflow_feed_lag_seconds{underlying="SPX"}'))
        assert lo <= float(line.split()[-1]) <= hi, (lo, line, hi)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 120) == 0
        server.close()
        for k in r.keys(f"{prefix}*"):
            r.delete(k)
    text = open(tmp_path / "run.log").read()
    assert KEY not in text and '"databento_gap"' in text


def test_readiness_names_a_disconnected_feed():
    from monitor.service import Monitor
    from tests.service.helpers import books, make_settings
    settings = make_settings()
    src = DatabentoLiveSource(settings, ["SPX"], key=KEY)  # never started: not connected
    mon = Monitor(settings, src, books(settings))
    live, ready, why = mon.health()
    assert (live, ready) == (True, False)
    assert why.startswith("Databento gateway disconnected for ")


class DatasetGateway:
    """One session per connection by the dataset it authenticates for: that dataset's
    records, then open until the client leaves."""

    def __init__(self, records: dict[str, list]):
        self.records = records
        self.subscriptions: dict[str, list[dict]] = {}

    async def handle(self, reader, writer):
        writer.write(b"lsg_version=0.0.0-standin\n" + f"cram={CRAM}\n".encode())
        dataset = _fields(await reader.readline())["dataset"]
        writer.write(b"success=1|session_id=1\n")
        self.subscriptions[dataset] = await _subscriptions(reader)
        writer.write(W.metadata(start=TS0, dataset=dataset)
                     + b"".join(bytes(r) for r in self.records[dataset]))
        await writer.drain()
        await reader.read()


async def test_an_underlying_feed_is_a_second_session_on_its_own_dataset():
    """`databento.underlying_feeds`: SPX priced by ESZ6 from GLBX.MDP3, a session of its
    own subscribed by raw symbol (its definition and its quotes); its quotes become the
    spot (carried back to it, tests/sources/test_underlying_feed.py) and no spot is implied
    from the options' parity."""
    expiry = TS0 + 365 * 86400 * 10**9 // 4
    gw = DatasetGateway({
        "OPRA.PILLAR": _sessions()[0][1],
        "GLBX.MDP3": [W.feed_definition(77, "ESZ6", TS0, dbn.InstrumentClass.FUTURE, expiry),
                      W.mbp1(77, TS0 + 5, 7650.0, 7650.25)]})
    server, port = await _serve(gw)
    settings = _settings(port)
    settings = settings.model_copy(update={"databento": settings.databento.model_copy(
        update={"underlying_feeds": {"SPX": UnderlyingFeed(dataset="GLBX.MDP3",
                                                           symbol="ESZ6")}})})
    src = DatabentoLiveSource(settings, ["SPX"], key=KEY)
    assert src.identity().endswith(" + GLBX.MDP3 mbp-1 ESZ6")
    await src.start()
    spots, quotes = [], 0

    async def collect():
        nonlocal quotes
        async for b in src.batches():
            ticks = objects(b.ticks)
            spots.extend(t for t in ticks if isinstance(t, UnderlyingTick))
            quotes += sum(isinstance(t, OptionQuote) for t in ticks)
            if spots and quotes >= 2:
                return
    await asyncio.wait_for(collect(), 60)
    assert src.problem() is None  # both sessions connected
    await src.stop()
    server.close()
    assert [(x["schema"], x["stype_in"], x["symbols"]) for x in gw.subscriptions["GLBX.MDP3"]
            ] == [("definition", "raw_symbol", "ESZ6"), ("mbp-1", "raw_symbol", "ESZ6")]
    assert [x["stype_in"] for x in gw.subscriptions["OPRA.PILLAR"]] == ["parent"] * 4
    # one spot, the future's (r 4 %, q 1.3 %: the default configuration), none implied
    (spot,) = spots
    assert spot.source == "futures ESZ6 less carry"
    assert spot.last == pytest.approx(7650.125 * math.exp(-(0.04 - 0.013) * 0.25), rel=1e-9)
