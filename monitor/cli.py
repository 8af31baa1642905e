"""The ``monitor`` command line. Every command documents its options in ``--help``.

Errors the user can fix (missing file, unknown layout, empty chain, bad option) print
one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Dealer-flow monitor: options-dealer positioning, exposures, levels "
                       "and hedge-flow forecasts.")


@app.callback()
def _root() -> None:
    """Dealer-flow monitor. Run ``monitor COMMAND --help`` for each command's options."""


class GreeksSource(str, Enum):
    model = "model"
    vendor = "vendor"


class PositionModel(str, Enum):
    classic = "classic"
    short_all = "short_all"


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"monitor: error: {message}", err=True)
    raise typer.Exit(code)


def clean_json(obj):
    """NaN/inf become null so the output is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    return obj


@app.command()
def snapshot(
    path: Path = typer.Argument(..., help="chain file: CBOE quotedata.csv, CBOE end-of-day "
                                "snapshot, CBOE long layout or the canonical format (.gz ok)"),
    greeks: GreeksSource = typer.Option(GreeksSource.model, help="model: IV from the mid and "
                                        "Black-76 Greeks; vendor: the file's delta and gamma"),
    model: PositionModel = typer.Option(None, help="dealer position model (default: the "
                                        "underlying's position_model in config.yaml)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (see README)"),
    config: Path = typer.Option(None, help="config file (default ./config.yaml)"),
    rate: float = typer.Option(None, help="risk-free rate, decimal (default from config)"),
) -> None:
    """Greeks, dealer exposures, levels and hedge-flow scenarios for one chain file."""
    from monitor.chain.loaders import load_chain
    from monitor.chain.model import ChainError
    from monitor.config import load_settings
    from monitor.core.book import Book
    from monitor.render import render_snapshot
    from monitor.snapshot import build_snapshot

    try:
        settings = load_settings(config)
        chain = load_chain(path)
        und = settings.underlying(chain.underlying)
        book = Book(chain, model=(model.value if model else und.position_model),
                    multiplier=und.multiplier, div_yield=und.div_yield,
                    rate=settings.pricing.rate if rate is None else rate,
                    greeks=greeks.value, parity_pairs=settings.pricing.parity_pairs)
        snap = build_snapshot(book)
    except (ChainError, FileNotFoundError, ValueError) as err:
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    if as_json:
        sys.stdout.write(json.dumps(clean_json(snap), separators=(",", ":")) + "\n")
    else:
        typer.echo(render_snapshot(snap))


class Encoding(str, Enum):
    json = "json"
    binary = "binary"
    records = "records"


def _settings(config: Path | None, **overrides):
    from monitor.config import config_path, load_settings

    settings = load_settings(config)
    base = config_path(config).resolve().parent
    for section, values in overrides.items():
        model = getattr(settings, section)
        setattr(settings, section, model.model_copy(update={k: v for k, v in values.items()
                                                            if v is not None}))
    return settings, base


def _chains(settings, base: Path, chain: list[Path] | None) -> list[Path]:
    from monitor.service import resolve

    if chain:
        return list(chain)
    paths = settings.chains or [settings.embedded.chain]
    return [resolve(p, base) for p in paths]


@app.command()
def run(
    config: Path = typer.Option(None, help="config file (default ./config.yaml)"),
    kafka: str = typer.Option(None, help="HOST:PORT: consume Kafka instead of the embedded "
                              "simulator"),
    redis: str = typer.Option(None, help="Redis URL (default from config)"),
    metrics_port: int = typer.Option(None, help="port for /metrics, /healthz, /readyz "
                                     "(0 = any free port)"),
    duration: float = typer.Option(None, help="run this many seconds, then shut down cleanly"),
    chain: list[Path] = typer.Option(None, help="chain file(s): the universe and open "
                                     "interest at start (default from config)"),
    rate: float = typer.Option(None, help="embedded simulator ticks per second"),
    summary: bool = typer.Option(True, help="print a one-line summary every second"),
    log_format: str = typer.Option(None, help="auto | json | console"),
) -> None:
    """The live monitor: ticks -> Greeks and exposures -> Redis state/events + Prometheus.

    Without --kafka it runs on the embedded default: a market simulator started from a
    real chain, fed through the same source interface as Kafka."""
    import asyncio

    import structlog

    from monitor.chain.model import ChainError
    from monitor.logs import configure_logging, redact
    from monitor.service import Monitor, build_books
    from monitor.sinks.metrics import Metrics
    from monitor.sinks.redis_sink import RedisSink

    try:
        settings, base = _settings(config, kafka={"bootstrap": kafka}, redis={"url": redis},
                                   metrics={"port": metrics_port},
                                   embedded={"rate_ticks_per_s": rate})
        configure_logging(log_format or settings.log_format)
        books = build_books(settings, _chains(settings, base, chain), base)
    except (ChainError, FileNotFoundError, ValueError) as err:
        fail(str(err).splitlines()[0])
    log = structlog.get_logger("monitor")

    async def main() -> int:
        from monitor.service import REGIMES

        metrics = Metrics(regimes=REGIMES)
        try:
            metrics.serve(settings.metrics.host, settings.metrics.port)
        except OSError as err:
            fail(f"cannot serve metrics on {settings.metrics.host}:{settings.metrics.port}: "
                 f"{err.strerror or err}; choose another --metrics-port")
        sink = RedisSink(settings.redis, metrics=metrics)
        if not await sink.start():
            typer.echo(f"monitor: warning: Redis at {redact(settings.redis.url)} is not "
                       f"reachable; running without it (console output only, retrying)",
                       err=True)
        if settings.kafka.bootstrap:
            from monitor.sources.kafka import KafkaSource

            k = settings.kafka
            source = KafkaSource(k, consumer_options={
                "session_timeout_ms": k.session_timeout_ms,
                "heartbeat_interval_ms": k.heartbeat_interval_ms,
                "fetch_max_wait_ms": k.fetch_max_wait_ms})
            checkpoints = True
        else:
            source = embedded_source(settings, books)
            checkpoints = False
        from monitor.sinks.alerts import alert_sender_from_settings

        a = settings.alerting.model_dump(exclude={"max_quote_staleness_s", "max_oi_age_days"})
        alerts = alert_sender_from_settings(settings.alerts, **a)
        mon = Monitor(settings, source, books, redis=sink, metrics=metrics, summary=summary,
                      checkpoints=checkpoints, alerts=alerts, base=base)
        try:
            return await mon.run(duration)
        finally:
            metrics.stop()

    raise typer.Exit(asyncio.run(main()))


def embedded_source(settings, books):
    """The embedded default: a simulated session from the first book's chain, paced."""
    from monitor.core.book import Book
    from monitor.sources.simulated import PacedSource
    from monitor.sources.simulator import MarketSimulator, SimConfig

    book = next(iter(books.values()))
    sim_book = Book(book.chain, model=book.model, multiplier=book.multiplier, rate=book.rate,
                    div_yield=book.div_yield)
    emb = settings.embedded
    sim = MarketSimulator(sim_book, SimConfig(rate_ticks_per_s=emb.rate_ticks_per_s,
                                              seed=emb.seed))
    batch = max(1, int(emb.rate_ticks_per_s / 50))

    def forever():
        while True:
            yield sim.ticks(batch)

    return PacedSource(forever(), emb.rate_ticks_per_s)


@app.command()
def publish(
    kafka: str = typer.Option(..., help="HOST:PORT of the Kafka bootstrap server"),
    rate: float = typer.Option(20000.0, help="ticks per second to send"),
    encoding: Encoding = typer.Option(Encoding.json, help="json, binary (msgpack batches) or "
                                      "records (fixed-width quote records)"),
    seconds: float = typer.Option(10.0, help="length of the simulated session, simulated "
                                  "seconds (ignored with --ticks)"),
    ticks: Path = typer.Option(None, help="recorded ticks: JSON lines, one tick object or "
                               "array per line (wire format v1) instead of the simulator"),
    chain: Path = typer.Option(None, help="chain the simulator starts from "
                               "(default: embedded.chain from config)"),
    config: Path = typer.Option(None, help="config file (default ./config.yaml)"),
    batch: int = typer.Option(500, help="ticks per Kafka message"),
    seed: int = typer.Option(None, help="simulator seed (default from config)"),
) -> None:
    """Send a recorded file or a simulated session into Kafka at a chosen rate (the demo
    driver and the load generator)."""
    import asyncio

    from monitor.chain.model import ChainError
    from monitor.sources.kafka import KafkaTickProducer

    try:
        settings, base = _settings(config)
        if ticks is not None:
            batches = recorded_batches(ticks, batch)
        else:
            books = _books_for(settings, base, chain)
            batches = simulated_batches(settings, books, seconds, batch, seed)
    except (ChainError, FileNotFoundError, ValueError) as err:
        fail(str(err).splitlines()[0])

    async def main() -> None:
        import time

        producer = KafkaTickProducer(kafka, encoding.value, settings.kafka.topics)
        await producer.start()
        sent, start = 0, time.monotonic()
        try:
            for ticks_ in batches:
                await producer.send_ticks(ticks_, batch_size=batch)
                sent += len(ticks_)
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
                if sent % (batch * 200) < len(ticks_):
                    typer.echo(f"sent {sent:,} ticks ({sent / max(time.monotonic() - start, 1e-9):,.0f}/s)",
                               err=True)
        finally:
            await producer.stop()
        el = time.monotonic() - start
        typer.echo(f"published {sent:,} ticks in {el:.2f} s ({sent / max(el, 1e-9):,.0f} ticks/s, "
                   f"{encoding.value})")

    asyncio.run(main())


def _books_for(settings, base, chain):
    from monitor.service import build_books

    return build_books(settings, [chain] if chain else _chains(settings, base, None)[:1])


def simulated_batches(settings, books, seconds: float, batch: int, seed: int | None):
    from monitor.sources.simulator import MarketSimulator, SimConfig

    book = next(iter(books.values()))
    sim = MarketSimulator(book, SimConfig(rate_ticks_per_s=settings.embedded.rate_ticks_per_s,
                                          seed=settings.embedded.seed if seed is None else seed))
    return sim.session(seconds, batch=batch * 10)


def recorded_batches(path: Path, batch: int):
    import msgspec

    from monitor.wire.codec import decode

    if not path.exists():
        raise FileNotFoundError(f"ticks file not found: {path}")

    def gen():
        buf = []
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                res = decode(line, "json")
                if res.errors:
                    typer.echo(f"monitor: warning: {path}:{n}: {res.errors[0][1]}", err=True)
                buf.extend(res.ticks)
                if len(buf) >= batch * 10:
                    yield buf
                    buf = []
        if buf:
            yield buf

    del msgspec
    return gen()


@app.command()
def daily(
    chains: Path = typer.Argument(Path("../shared/data/cboe_chain_eod_2026/SPX"),
                                  help="folder of daily end-of-day chain files"),
    vix: Path = typer.Option(Path("../shared/data/market_daily/VIX_close_1990-2026-08.csv"),
                             help="VIX closes (date,value): the regimes' put-premium measure"),
    as_json: bool = typer.Option(False, "--json", help="print the rows as one JSON array"),
    config: Path = typer.Option(None, help="config file (default ./config.yaml)"),
) -> None:
    """Run the regime engine over daily chains: per session spot, GEX (model and vendor),
    zero gamma, VIX and the labels in force (the README's real-data table)."""
    from monitor.chain.model import ChainError
    from monitor.regimes.daily import daily_regimes, render_table

    try:
        settings, _ = _settings(config)
        if not vix.exists():
            raise FileNotFoundError(f"VIX file not found: {vix}")
        rows, skipped = daily_regimes(chains, vix, settings,
                                      progress=lambda name: typer.echo(name, err=True))
    except (ChainError, FileNotFoundError, ValueError) as err:
        fail(str(err).splitlines()[0])
    if as_json:
        sys.stdout.write(json.dumps(clean_json(rows)) + "\n")
        return
    typer.echo(render_table(rows))
    for line in skipped:
        typer.echo(f"skipped {line}")


@app.command()
def whatif(
    path: Path = typer.Argument(None, help="chain file (any layout `snapshot` reads); "
                                "omit it with --from-redis"),
    spot: str = typer.Option("0", "--spot", help="spot move in percent, e.g. -2% or +1.5%"),
    vol: str = typer.Option("0", "--vol", help="implied-vol change in vol points, every "
                            "contract alike, e.g. +3 (20% -> 23%)"),
    days: str = typer.Option("0", "--days", help="calendar days passing, e.g. 1"),
    from_redis: str = typer.Option(None, "--from-redis", metavar="ROOT",
                                   help="the live book of ROOT (e.g. SPX) from the running "
                                   "service's Redis keys instead of a chain file"),
    redis: str = typer.Option(None, help="Redis URL for --from-redis (default from config)"),
    spot_range: str = typer.Option("-5:5", "--range", help="flow-curve spot range, percent "
                                   "LO:HI"),
    points: int = typer.Option(21, help="flow-curve points over --range"),
    plot: Path = typer.Option(None, help="write the flow-curve chart (zero gamma, walls and "
                              "spot marked) to this PNG file"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (see README)"),
    config: Path = typer.Option(None, help="config file (default ./config.yaml)"),
) -> None:
    """Dealer hedge flow for a spot move, vol change and days passing (full revaluation
    and linear; dollars, shares, ES-equivalents, % of ADV) and the flow curve over spot."""
    from monitor.chain.model import ChainError
    from monitor.regimes.whatif import (book_from_chain, load_live, parse_curve_range,
                                        parse_days, parse_spot_pct, parse_vol_pts,
                                        render_whatif)
    from monitor.regimes.whatif import whatif as compute_whatif

    try:
        spot_pct, vol_pts, n_days = parse_spot_pct(spot), parse_vol_pts(vol), parse_days(days)
        curve_range = parse_curve_range(spot_range)
        if (path is None) == (from_redis is None):
            raise ValueError("give a chain file or --from-redis ROOT (one of them)")
        settings, base = _settings(config)
        source = notes = None
        if from_redis is not None:
            live = load_live(settings, from_redis, url=redis, base=base)
            book, source, notes = live.book, live.source, live.notes
        else:
            book = book_from_chain(path, settings, base)
        result = compute_whatif(book, spot_pct, vol_pts, n_days, settings=settings,
                                curve_range=curve_range, curve_points=points, source=source,
                                notes=notes)
        if plot is not None:
            from monitor.plot import plot_flow_curve

            plot_flow_curve(result, plot)
    except (ChainError, FileNotFoundError, ValueError) as err:
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    if as_json:
        sys.stdout.write(json.dumps(clean_json(result), separators=(",", ":")) + "\n")
    else:
        typer.echo(render_whatif(result))
        if plot is not None:
            typer.echo(f"chart written to {plot}")


@app.command()
def size(
    path: Path = typer.Argument(None, help="chain file; omit it with --from-redis"),
    delta: str = typer.Option(None, "--delta", help="your dollar delta, e.g. 2.5e6, -1mm, "
                              "+250k"),
    positions: Path = typer.Option(None, "--positions", help="your positions: CSV "
                                   "symbol,contracts (OCC symbols, + = long; the "
                                   "underlying's own symbol for units of it)"),
    regime: list[str] = typer.Option(None, "--regime", help="regime label in force "
                                     "(repeatable or comma-separated); default: the "
                                     "published labels with --from-redis, else the GEX sign"),
    from_redis: str = typer.Option(None, "--from-redis", metavar="ROOT",
                                   help="the live book and regime labels of ROOT from the "
                                   "running service's Redis keys instead of a chain file"),
    redis: str = typer.Option(None, help="Redis URL for --from-redis (default from config)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (see README)"),
    config: Path = typer.Option(None, help="config file (default ./config.yaml)"),
) -> None:
    """The dealer flow your position would face in the standard scenarios, whether it
    stands with or against that flow, and a suggested size multiplier (README: rule table)."""
    from monitor.chain.model import ChainError
    from monitor.regimes.sizing import parse_usd, render_size, size_position, state_labels
    from monitor.regimes.whatif import book_from_chain, load_live

    try:
        if (delta is None) == (positions is None):
            raise ValueError("give --delta or --positions (one of them)")
        user_delta = None if delta is None else parse_usd(delta)
        if (path is None) == (from_redis is None):
            raise ValueError("give a chain file or --from-redis ROOT (one of them)")
        settings, base = _settings(config)
        labels, labels_source, source, notes = (regime or None), None, None, None
        if from_redis is not None:
            live = load_live(settings, from_redis, url=redis, base=base)
            book, source, notes = live.book, live.source, live.notes
            if labels is None:
                labels, labels_source = state_labels(live.state), "state"
        else:
            book = book_from_chain(path, settings, base)
        result = size_position(book, user_delta_usd=user_delta, positions=positions,
                               labels=labels, settings=settings, labels_source=labels_source,
                               source=source, notes=notes)
    except (ChainError, FileNotFoundError, ValueError) as err:
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    if as_json:
        sys.stdout.write(json.dumps(clean_json(result), separators=(",", ":")) + "\n")
    else:
        typer.echo(render_size(result))


@app.command()
def study(
    data: Path = typer.Option(Path("../shared/data"), "--data",
                              help="data directory in the shared/data layout (market_daily/, "
                                   "calendar/, intraday/, cboe_chain_eod*/)"),
    out: Path = typer.Option(Path("study-report"), "--out",
                             help="output directory for report.md and the PNG charts"),
    no_own_gex: bool = typer.Option(False, "--no-own-gex",
                                    help="skip the project's own GEX from the daily SPX "
                                         "chains (claim 1, second half, and the 2026 table)"),
    as_json: bool = typer.Option(False, "--json",
                                 help="print the results as one JSON object"),
) -> None:
    """Test the mechanical dealer-flow claims on real history; write a Markdown report
    with charts (progress on stderr)."""
    from monitor.study.cli import main as study_main

    code = study_main(data, out, own_gex=not no_own_gex, as_json=as_json)
    if code:
        raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
