"""Assembly (as nautilus_trader's factories build clients from their own configs):
:func:`make_source` and :func:`make_sinks` build the source and the sinks from the settings,
:func:`run_service` wires them and runs; the CLI only parses and calls it. A new sink is
one more entry in :func:`make_sinks`; :class:`~monitor.service.Monitor` does not change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from monitor import failpoints
from monitor.chain.model import ChainError
from monitor.config import Settings
from monitor.core.book import Book
from monitor.logs import redact
from monitor.regimes.engine import LABELS
from monitor.service.monitor import Monitor
from monitor.sinks.alerts import AlertSink, alert_sender_for
from monitor.sinks.base import Sink
from monitor.sinks.metrics import Metrics, MetricsSink
from monitor.sinks.redis_sink import RedisSink
from monitor.sinks.stream import StreamHub, StreamSink, wall_pages
from monitor.sources.base import Source, SourceUnavailable
from monitor.sources.databento_live import DatabentoLiveSource
from monitor.sources.databento_replay import DbnReplaySource
from monitor.sources.dbn_file import is_dbn
from monitor.sources.kafka import KafkaSource
from monitor.sources.memory import MemorySource
from monitor.sources.recording import (
    RecordingError,
    RecordingSource,
    ReplaySource,
    compare_books,
)
from monitor.sources.scenarios import DEMO_REGIMES, SCENARIOS
from monitor.sources.simulator import MarketSimulator, SimConfig

log = structlog.get_logger("monitor.service")


# -- assembly: the source and the sinks from the settings ------------------------------------
class ServiceError(ValueError):
    """A setting the service cannot start with (one line, for ``monitor: error:``)."""


def embedded_simulator(settings: Settings, books: dict[str, Book]) -> MarketSimulator:
    """The embedded default's market: a simulator from the first book as it starts (a
    copy: the simulator reads its IVs, quotes and forwards once, and building a book of
    its own would evaluate and fit the chain a second time, ~0.4 s of start-up), on
    ``embedded.scenario``'s scripted path when one is set."""
    sim_book = next(iter(books.values())).copy()
    emb = settings.embedded
    paths = SCENARIOS[emb.scenario] if emb.scenario else {}
    return MarketSimulator(sim_book, SimConfig(rate_ticks_per_s=emb.rate_ticks_per_s,
                                               seed=emb.seed, **paths))


#: what the embedded simulator's checkpoints name as their source (monitor.provenance)
EMBEDDED_SOURCE = "embedded simulator"


def embedded_source(settings: Settings, books: dict[str, Book]) -> MemorySource:
    """The embedded default: :func:`embedded_simulator`'s session, paced to
    ``embedded.rate_ticks_per_s``."""
    emb = settings.embedded
    sim = embedded_simulator(settings, books)
    batch = max(1, int(emb.rate_ticks_per_s / 50))

    def forever():
        while True:
            yield sim.ticks(batch)

    return MemorySource(forever(), rate_ticks_per_s=emb.rate_ticks_per_s, record_commits=False,
                        identity=EMBEDDED_SOURCE)


def demo_settings(settings: Settings) -> Settings:
    """With an ``embedded.scenario`` (and no Kafka), the regime windows compressed to the
    scenario's seconds (:data:`monitor.sources.scenarios.DEMO_REGIMES`); else unchanged."""
    if not settings.embedded.scenario or settings.kafka.bootstrap:
        return settings
    log.info("demo_scenario", scenario=settings.embedded.scenario,
             regimes="windows compressed to seconds for the demo")
    return settings.model_copy(update={"regimes": settings.regimes.model_copy(
        update=DEMO_REGIMES)})  # (model_copy keeps which file the settings came from)


def embedded_prefix(settings: Settings) -> Settings:
    """Without Kafka (the embedded simulator), the Redis keys under their own prefix,
    ``{redis.prefix}-demo`` (:attr:`Settings.demo_redis_prefix`): a demo never writes
    where a live run reads; else unchanged."""
    return settings if settings.kafka.bootstrap else settings.demo_keys()


def make_source(settings: Settings, books: dict[str, Book], *, record: Path | None = None,
                replay: Path | list[Path] | None = None, speed: float | None = None,
                databento: bool = False) -> tuple[Source, bool]:
    """(source, checkpoints): a recording replayed or DBN files (``replay``: a recording's
    folder, or DBN files merged in ``ts_recv`` order; checkpoints off), Databento's
    live feed (``databento``; checkpoints off: a restart starts from the gateway's
    present), the Kafka consumer group when ``kafka.bootstrap`` is set (resumable:
    checkpoints on), else the embedded simulator (checkpoints off); with ``record``, what
    it delivers is also written there (:mod:`monitor.sources.recording`)."""
    replays = ([] if replay is None else list(replay) if isinstance(replay, (list, tuple))
               else [replay])
    dbn_files = [p for p in replays if is_dbn(p)]
    if dbn_files and len(dbn_files) < len(replays) or len(replays) > 1 and not dbn_files:
        raise ValueError("--replay takes one recording (a folder) or DBN files, not "
                         + ", ".join(str(p) for p in replays))
    if databento:
        source, checkpoints = DatabentoLiveSource(settings, list(books)), False
    elif dbn_files:
        source, checkpoints = DbnReplaySource(dbn_files, settings, list(books),
                                              speed=speed), False
    elif replays:
        source, checkpoints = ReplaySource(replays[0], speed=speed), False
    elif settings.kafka.bootstrap:
        source, checkpoints = KafkaSource.from_settings(settings.kafka), True
    else:
        source, checkpoints = embedded_source(settings, books), False
    if record is not None:
        source = RecordingSource(source, record)
    return source, checkpoints


async def make_sinks(settings: Settings, metrics: Metrics,
                     warn: Callable[[str], None] | None = None,
                     stream: StreamHub | None = None) -> list[Sink]:
    """Redis (state, events, checkpoints), Prometheus (``metrics``), ``/stream`` (when a
    hub is given) and, when a webhook is configured, desk-chat alerts. An unreachable
    Redis is a warning, not an error: the Redis sink keeps data and retries."""
    redis = RedisSink(settings.redis, metrics=metrics)
    if not await redis.start() and warn is not None:
        warn(f"Redis at {redact(settings.redis.url)} is not reachable; running without it "
             f"(console output only, retrying)")
    metrics.redis_probe = lambda: (redis.connected, redis.buffered_events)
    sinks: list[Sink] = [redis, MetricsSink(metrics)]
    if stream is not None:
        sinks.append(StreamSink(stream))
    a = settings.alerting
    sender = alert_sender_for(settings)
    if sender is not None:
        sinks.append(AlertSink(sender, max_quote_staleness_s=a.max_quote_staleness_s,
                               max_oi_age_days=a.max_oi_age_days))
    return sinks


def replay_verdict(source: ReplaySource, books: dict[str, dict],
                   say: Callable[[str], None] | None,
                   warn: Callable[[str], None] | None) -> int:
    """After a replay: its books against the recording's (:func:`book_fingerprint`); 0 when
    every underlying's is the recorded one, else 1 (one line naming them and why)."""
    recorded = source.manifest.get("books") or {}
    if not recorded:
        msg = "the recording holds no final books (its run did not end cleanly): not compared"
        log.warning("replay_not_compared", reason=msg)
        if warn is not None:
            warn(msg)
        return 0
    differ = compare_books(recorded, books)
    if differ:
        log.error("replay_differs", differences=differ, batches=source.delivered)
        if warn is not None:
            warn("the replay's books differ from the recording's: "
                 + "; ".join(f"{r}: {why}" for r, why in differ.items())
                 + f" ({source.delivered:,} batches replayed)")
        return 1
    digests = {r: b["sha256"] for r, b in sorted(books.items())}
    log.info("replay_identical", batches=source.delivered, books_sha256=digests)
    if say is not None:
        say(f"replay: {source.delivered:,} batches; every book is the recording's ("
            + ", ".join(f"{r} sha256 {d[:12]}" for r, d in digests.items())
            + "; solved numbers within 1e-9)")
    return 0


async def run_service(settings: Settings, books: dict[str, Book], *, base: Path | None = None,
                      duration: float | None = None, summary: bool = True,
                      warn: Callable[[str], None] | None = None,
                      say: Callable[[str], None] | None = None, record: Path | None = None,
                      replay: Path | list[Path] | None = None,
                      speed: float | None = None, databento: bool = False) -> int:
    """``monitor run``: serve ``/metrics`` ``/healthz`` ``/readyz``, build the source and
    sinks from ``settings``, run until stopped (or ``duration`` seconds); the exit code.
    ``ServiceError`` when the metrics address cannot be served."""
    if failpoints.ERROR:
        raise ServiceError(failpoints.ERROR)
    settings = (settings.demo_keys("replay") if replay
                else settings if databento  # the live feed: the live keys
                else embedded_prefix(demo_settings(settings)))
    metrics = Metrics(regimes=LABELS)
    ss = settings.stream
    hub = StreamHub(ss.history, retry_ms=ss.retry_ms, write_timeout_s=ss.write_timeout_s,
                    stale_after_s=ss.stale_after_s)
    try:
        token = settings.metrics.token
        metrics.serve(settings.metrics.host, settings.metrics.port,
                      token=token.get_secret_value() if token else None,
                      max_connections=settings.metrics.max_connections,
                      pages=wall_pages(), handlers={"/stream": hub.handle},
                      protected=("/wall", "/stream"))
    except OSError as err:
        raise ServiceError(f"cannot serve metrics on {settings.metrics.host}:"
                           f"{settings.metrics.port}: {err.strerror or err}; choose another "
                           f"--metrics-port") from None
    try:
        try:
            source, checkpoints = make_source(settings, books, record=record, replay=replay,
                                              speed=speed, databento=databento)
        except (RecordingError, ChainError, ValueError, SourceUnavailable) as err:
            raise ServiceError(str(err)) from None
        sinks = await make_sinks(settings, metrics, warn, stream=hub)
        mon = Monitor(settings, source, books, sinks=sinks, summary=summary,
                      checkpoints=checkpoints, base=base, warn=warn)
        metrics.health_probe = mon.health
        try:
            code = await mon.run(duration)
        except SourceUnavailable as err:
            raise ServiceError(str(err)) from None
        if isinstance(source, ReplaySource):
            code = max(code, replay_verdict(source, mon.final_books, say, warn))
        return code
    finally:
        metrics.stop()
