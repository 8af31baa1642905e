"""Kafka -> monitor -> Redis + /metrics, against a real broker and a real Redis.

A session of quotes, trades and underlying moves built from a real chain (the simulator;
synthetic moves from a real starting chain) is published with bad messages mixed in; the
published state must equal the whole-chain computation on the same final quotes."""

import math
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.core.exposures import GEX
from monitor.core.layout import CALLS, PUTS
from monitor.service import Monitor
from monitor.sinks.metrics import Metrics, MetricsSink
from monitor.sinks.redis_sink import RedisSink
from monitor.sources.kafka import KafkaSource, KafkaTickProducer, input_topics
from monitor.wire.schema import OptionQuote, OptionTrade, UnderlyingTick
from tests.broker import create_topics
from tests.service.helpers import (
    books,
    close,
    expected_book,
    make_settings,
    run_until,
    session_ticks,
)

pytestmark = pytest.mark.usefixtures("shared_redis")


def kafka_source(settings):
    k = settings.kafka
    return KafkaSource(k, consumer_options={"session_timeout_ms": k.session_timeout_ms,
                                            "heartbeat_interval_ms": k.heartbeat_interval_ms})


async def publish(settings, ticks, bad=()):
    k = settings.kafka
    t = k.topics
    await create_topics(k.bootstrap, input_topics(t) + [t.dead_letter], 3)
    async with KafkaTickProducer(k.bootstrap, k.encoding, t) as prod:
        half = len(ticks) // 2
        await prod.send_ticks(ticks[:half], batch_size=500)
        for topic, raw in bad:
            await prod.send_raw(topic, raw, key=b"SPX")
        await prod.send_ticks(ticks[half:], batch_size=500)


def bad_ticks(good):
    """NaN, crossed, unknown symbol, and an out-of-order (older) quote."""
    quotes = [t for t in good if isinstance(t, OptionQuote)]
    last = quotes[-1]
    return [
        OptionQuote(ts_ns=last.ts_ns + 1, symbol=quotes[0].symbol, bid=math.nan, ask=1.0),
        OptionQuote(ts_ns=last.ts_ns + 1, symbol=quotes[1].symbol, bid=5.0, ask=4.0),
        OptionQuote(ts_ns=last.ts_ns + 1, symbol="SPXW991231C09999000", bid=1.0, ask=2.0),
        OptionQuote(ts_ns=quotes[-1].ts_ns - 10**9, symbol=last.symbol, bid=0.1, ask=0.2),
    ]


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.parametrize("encoding", ["json", "records"])
async def test_session_state_equals_whole_chain_and_bad_input_is_counted(kafka_bootstrap,
                                                                         encoding):
    settings = make_settings(kafka_bootstrap)
    settings.kafka = settings.kafka.model_copy(update={"encoding": encoding})
    good = session_ticks(20000)
    bad = bad_ticks(good)
    # the out-of-order quote goes last, after its newer twin
    stream = good + bad
    await publish(settings, stream, bad=[(settings.kafka.topics.ticks, b"{not json")])
    metrics = Metrics()
    port = metrics.serve("127.0.0.1", 0)
    sink = RedisSink(settings.redis, metrics=metrics)
    await sink.start()
    mon = Monitor(settings, kafka_source(settings), books(settings),
                  sinks=[sink, MetricsSink(metrics)], checkpoints=True)
    try:
        assert await run_until(mon, len(stream), timeout=90) == 0
        assert mon.ticks_received == len(stream)

        expected = expected_book(settings, good)
        reader = RedisSink(settings.redis)
        await reader.start()
        state = await reader.read_state("SPX")
        profile = await reader.read_profile("SPX")
        events = await reader.read_events("SPX")
        await reader.client.delete(*[f"{settings.redis.prefix}:SPX:{k}"
                                     for k in ("state", "profile", "events", "checkpoint")])
        await reader.close()

        t = expected.totals
        for key in ("dex_usd", "gex_usd_per_pct", "vex_usd_per_vol_pt", "cex_usd_per_day"):
            assert close(state[key], t[key]), key
        assert close(state["spot"], expected.spot, 0)
        from monitor.core import levels
        assert close(state["zero_gamma"], levels.zero_gamma(expected), 1e-9)
        assert (state["call_wall"], state["put_wall"]) == levels.walls(expected)
        # the profile is the per-strike breakdown of the same computation
        gex = {r["strike"]: r["gex_usd_per_pct_calls"] + r["gex_usd_per_pct_puts"]
               for r in profile}
        for k, strike in enumerate(expected.strikes):
            row = expected.agg.by_strike[k, :, GEX]
            if row[CALLS] or row[PUTS]:
                assert close(gex[float(strike)], row[CALLS] + row[PUTS]), strike
        # a regime event was published with its sentence, and the two agree: the first
        # label (no hysteresis yet) is the side its own sentence reads
        first = events[0]["event"]
        side = "long" if first["message"].startswith("Dealers long gamma") else "short"
        assert first["message"].startswith(f"Dealers {side} gamma")
        assert first["from"] is None and first["to"] == f"{side}_gamma"

        # /metrics shows the same numbers and the bad input by reason
        m = scrape(port)
        lab = (("underlying", "SPX"),)
        assert close(m[("dealerflow_gex_usd_per_pct", lab)], t["gex_usd_per_pct"])
        assert close(m[("dealerflow_spot", lab)], expected.spot, 0)
        rej = {dict(k[1]).get("reason"): v for k, v in m.items()
               if k[0] == "dealerflow_ticks_rejected_total"}
        assert rej.get("nan") == 1 and rej.get("crossed") == 1
        assert rej.get("unknown_symbol") == 1 and rej.get("malformed") == 1
        stale = [v for k, v in m.items() if k[0] == "dealerflow_ticks_total"
                 and dict(k[1]).get("outcome") == "stale"]
        assert sum(stale) == 1
        n_quotes = sum(isinstance(x, OptionQuote) for x in good)
        applied = m[("dealerflow_ticks_total",
                     (("kind", "quote"), ("outcome", "applied"), ("underlying", "SPX")))]
        assert applied == n_quotes
        # data quality: consumer lag per partition (all consumed), throughput
        lags = {dict(k[1])["partition"]: v for k, v in m.items()
                if k[0] == "dealerflow_consumer_lag"}
        assert lags and all(v == 0 for v in lags.values())
        # the rate over the last publish interval (the stream may have ended before it):
        # the gauge exports what the published state says
        assert m[("dealerflow_ticks_per_second", lab)] == pytest.approx(
            state["quality"]["ticks_per_second"], rel=1e-12, abs=1e-12)
        assert any(isinstance(x, OptionTrade) for x in good)
        assert any(isinstance(x, UnderlyingTick) for x in good)
    finally:
        metrics.stop()
