"""No configured secret leaks (issue 13): `monitor run` against a real broker, a Redis
that requires a password (requirepass) and a webhook receiver, with every secret set in
the environment: the Redis password, the alert webhook URL, the /metrics bearer token and a
Kafka SASL password (configured, not used: the test broker speaks PLAINTEXT); the
webhook sender is built (no regime *change* happens in this short session, so nothing is
posted: `monitor alerts test` covers a delivery, tests/test_cli_events_alerts.py). Poison
messages go to the dead-letter topic. A grep for each secret through the
process's logs and output, /metrics, every Redis key and value, and every dead-letter
record (value and headers) finds nothing."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.config import KafkaTopics
from monitor.sources.kafka import KafkaTickProducer
from tests.broker import create_topics
from tests.http_recorder import RecordingServer
from tests.redis_server import RedisServer, free_port
from tests.service.helpers import session_ticks

REDIS_PW = "redis-pw-" + uuid.uuid4().hex
HOOK_SECRET = "hook-" + uuid.uuid4().hex
TOKEN = "token-" + uuid.uuid4().hex
SASL_PW = "sasl-" + uuid.uuid4().hex
SECRETS = (REDIS_PW, HOOK_SECRET, TOKEN, SASL_PW)


def _dead_letters(bootstrap, topic):
    async def read():
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
        await c.start()
        try:
            tp = TopicPartition(topic, 0)
            c.assign([tp])
            out, deadline = [], time.monotonic() + 10
            while time.monotonic() < deadline:
                got = (await c.getmany(tp, timeout_ms=300)).get(tp, [])
                if not got and out:
                    break
                out += got
            return out
        finally:
            await c.stop()
    return asyncio.run(read())


def test_no_secret_in_logs_metrics_redis_or_dead_letters(kafka_bootstrap, tmp_path):
    p = f"sec{uuid.uuid4().hex[:6]}"
    topics = KafkaTopics(ticks=f"{p}.ticks", dead_letter=f"{p}.dlq")
    asyncio.run(create_topics(kafka_bootstrap, [topics.ticks, topics.dead_letter], 1))

    async def publish():
        async with KafkaTickProducer(kafka_bootstrap, "json", topics) as prod:
            await prod.send_ticks(session_ticks(3000, seed=3), batch_size=300)
            await prod.send_raw(topics.ticks, b"{not json", key=b"SPX")
            await prod.send_raw(topics.ticks, b'{"type":"quote","ts_ns":-5}', key=b"SPX")
    asyncio.run(publish())

    port = free_port()
    with RedisServer(extra_args=("--requirepass", REDIS_PW)) as rs, RecordingServer() as hook:
        env = dict(os.environ,
                   DEALERFLOW_REDIS__URL=rs.url, DEALERFLOW_REDIS__PASSWORD=REDIS_PW,
                   DEALERFLOW_REDIS__PREFIX=p,
                   DEALERFLOW_ALERTS__GENERIC_WEBHOOK_URL=hook.url(f"/hooks/{HOOK_SECRET}"),
                   DEALERFLOW_METRICS__TOKEN=TOKEN, DEALERFLOW_KAFKA__SASL_PASSWORD=SASL_PW,
                   DEALERFLOW_KAFKA__TOPICS__TICKS=topics.ticks,
                   DEALERFLOW_KAFKA__TOPICS__DEAD_LETTER=topics.dead_letter,
                   DEALERFLOW_KAFKA__GROUP_ID=f"g-{p}",
                   DEALERFLOW_KAFKA__SESSION_TIMEOUT_MS="2000",
                   DEALERFLOW_KAFKA__HEARTBEAT_INTERVAL_MS="300",
                   DEALERFLOW_LOG_FORMAT="json")
        out, err = tmp_path / "out.txt", tmp_path / "err.txt"
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--kafka",
                                     kafka_bootstrap, "--metrics-port", str(port)],
                                    stdout=fo, stderr=fe, env=env)
            try:
                r = redis.Redis.from_url(rs.url, password=REDIS_PW)
                deadline = time.monotonic() + 120
                while not r.exists(f"{p}:SPX:state") or not r.exists(f"{p}:SPX:checkpoint"):
                    assert proc.poll() is None, err.read_text()[-2000:]
                    assert time.monotonic() < deadline, "no state in Redis"
                    time.sleep(0.2)
                req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
                metrics_text = urllib.request.urlopen(req, timeout=5).read().decode()
                assert "dealerflow_gex_usd_per_pct" in metrics_text
                dump = []
                for key in r.scan_iter(f"{p}:*"):
                    kind = r.type(key).decode()
                    dump.append(key.decode())
                    if kind == "hash":
                        dump += [f"{k!r}{v!r}" for k, v in r.hgetall(key).items()]
                    elif kind == "string":
                        dump.append(repr(r.get(key)))
                    elif kind == "stream":
                        dump += [repr(e) for e in r.xrange(key)]
                    elif kind == "list":
                        dump += [repr(e) for e in r.lrange(key, 0, -1)]
                assert len(dump) > 5
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(60) == 0
        dlq = _dead_letters(kafka_bootstrap, topics.dead_letter)
        assert len(dlq) == 2
        dlq_text = "".join(repr(rec.value) + repr(rec.headers) for rec in dlq)
        logs = out.read_text() + err.read_text()
        assert "monitor_stopped" in logs
        for secret in SECRETS:
            for where, text in (("logs", logs), ("/metrics", metrics_text),
                                ("redis", "\n".join(dump)), ("dead letters", dlq_text)):
                assert secret not in text, (secret[:8], where)
