"""Ticks into Kafka: ``monitor publish`` (a recorded file or a simulated session, the load
generator) and ``monitor bridge databento`` (the vendor's feed or a DBN file)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from monitor.cli.common import (
    CONFIG_HELP,
    USER_ERRORS,
    Encoding,
    OneLineErrors,
    app,
    chain_files,
    fail_on,
    positive,
    settings_for,
)
from monitor.loadgen import recorded_batches, simulated_batches

if TYPE_CHECKING:
    pass


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
    chain: list[Path] = typer.Option(None, help="chain a simulated underlying starts from; "
                                     "repeat for several underlyings in one session "
                                     "(default: the configured chains)"),
    config: Path = typer.Option(None, help=CONFIG_HELP),
    batch: int = typer.Option(500, help="ticks per Kafka message"),
    seed: int = typer.Option(None, help="simulator seed (default from config)"),
) -> None:
    """Send a recorded file or a simulated session into Kafka at a chosen rate (the demo
    driver and the load generator)."""
    from monitor.books import build_books
    from monitor.sources.base import SourceUnavailable
    # publish prints its own progress and errors: the client library's connection chatter
    # (one line per failed attempt) would only repeat the error line
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        positive("--rate", rate)
        positive("--seconds", seconds)
        positive("--batch", batch)
        settings = settings_for(config)
        if ticks is not None:
            batches = recorded_batches(ticks, batch,
                                       warn=lambda line: typer.echo(line, err=True))
        else:
            books = build_books(settings, chain_files(settings, chain), settings.base)
            batches = simulated_batches(settings, books, seconds, batch, seed)
    except USER_ERRORS as err:
        fail_on(err)
    from monitor.bridge import produce
    try:
        sent = asyncio.run(produce(kafka, encoding.value, settings,
                                   ((ticks_, []) for ticks_ in batches), batch=batch, rate=rate,
                                   progress=lambda line: typer.echo(line, err=True)))
    except SourceUnavailable as err:
        fail_on(err)
    typer.echo(f"published {sent.ticks:,} ticks in {sent.seconds:.2f} s "
               f"({sent.ticks_per_s:,.0f} ticks/s, {encoding.value})")


bridge_app = typer.Typer(cls=OneLineErrors, no_args_is_help=True, rich_markup_mode=None,
                         help="A vendor's feed into the tick topic (docs/databento.md).")
app.add_typer(bridge_app, name="bridge")


@bridge_app.command("databento")
def bridge_databento(
    kafka: str = typer.Option(..., help="HOST:PORT of the Kafka bootstrap server"),
    replay: list[Path] = typer.Option(None, help="a DBN file (.dbn or .dbn.zst) to send "
                                      "instead of the live feed (repeat it for an "
                                      "underlying feed's file, merged by ts_recv)"),
    config: Path = typer.Option(None, help=CONFIG_HELP),
    chain: list[Path] = typer.Option(None, help="chain file(s) naming the underlyings to "
                                     "bridge (default: the configured chains)"),
    encoding: Encoding = typer.Option(None, help="the messages' encoding: json, binary "
                                      "(msgpack batches) or records (default: kafka.encoding, "
                                      "what the consumers read)"),
    batch: int = typer.Option(500, help="ticks per Kafka message"),
    duration: float = typer.Option(None, help="live: stop after this many seconds (default: "
                                   "until SIGINT / SIGTERM)"),
) -> None:
    """Databento's OPRA records into the tick topic in the wire format, keyed by
    underlying, for `monitor run --kafka` consumers (the scale-out path): the live feed
    (config.yaml `databento:`; the key from DATABENTO_API_KEY), or a DBN file with
    --replay, as fast as the broker takes it. The ticks are those `monitor run --replay
    FILE` applies (the implied spots included); records that give none are counted by
    reason on the last line."""
    from monitor.books import build_books
    from monitor.bridge import bridge_dbn, bridge_live
    from monitor.logs import configure_logging
    from monitor.sources.base import SourceUnavailable
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        positive("--batch", batch)
        positive("--duration", duration)
        for path in replay or ():
            if not path.exists():
                raise FileNotFoundError(f"DBN file not found: {path}")
        settings = settings_for(config)
        roots = list(build_books(settings, chain_files(settings, chain), settings.base))
        enc = encoding.value if encoding else settings.kafka.encoding
        say = lambda line: typer.echo(line, err=True)  # noqa: E731
        if replay:
            sent = bridge_dbn(replay, kafka, settings, roots, encoding=enc, batch=batch,
                              progress=say)
        else:
            configure_logging(settings.log_format)
            sent = bridge_live(kafka, settings, roots, encoding=enc, batch=batch,
                               duration=duration, progress=say)
    except (*USER_ERRORS, SourceUnavailable) as err:
        fail_on(err)
    skipped = ", ".join(f"{r} {n:,}" for r, n in sorted(sent.not_sent.items())) or "none"
    what = (" + ".join(p.name for p in replay) if replay
            else f"the live {settings.databento.dataset} feed")
    typer.echo(f"bridged {sent.ticks:,} ticks of {what} to {kafka} in {sent.messages:,} "
               f"messages, {sent.seconds:.2f} s ({sent.ticks_per_s:,.0f} ticks/s, "
               f"{enc}); records without a tick: {skipped}")
