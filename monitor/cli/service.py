"""``monitor run`` and ``monitor replay``: the service, live or on a recording, and a
recording's verification."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import typer

from monitor.cli.common import (
    COLD_COMPILE,
    CONFIG_HELP,
    USER_ERRORS,
    Encoding,
    app,
    chain_files,
    fail_on,
    positive,
    settings_for,
)

if TYPE_CHECKING:
    pass


@app.command()
def run(
    config: Path = typer.Option(None, help=CONFIG_HELP),
    kafka: str = typer.Option(None, help="HOST:PORT: consume Kafka instead of the embedded "
                              "simulator"),
    redis: str = typer.Option(None, help="Redis URL (default from config)"),
    metrics_port: int = typer.Option(None, min=0, max=65535, help="port for /metrics, "
                                     "/healthz, /readyz (0 = any free port)"),
    duration: float = typer.Option(None, help="run this many seconds, then shut down cleanly"),
    chain: list[Path] = typer.Option(None, help="chain file(s): the universe and open "
                                     "interest at start (default from config)"),
    rate: float = typer.Option(None, help="embedded simulator ticks per second"),
    summary: bool = typer.Option(True, help="print a one-line summary every second"),
    log_format: str = typer.Option(None, help="auto | json | console"),
    encoding: Encoding = typer.Option(None, help="the Kafka messages' encoding: json, "
                                      "binary or records (default: kafka.encoding)"),
    record: Path = typer.Option(None, help="also write what the source delivers to this new "
                                "folder: a recording with its manifest (docs/recording.md)"),
    replay: list[Path] = typer.Option(None, help="run on a recording (a folder written by "
                                      "--record; at its end the books are compared with "
                                      "the recording's) or on Databento DBN files (.dbn, "
                                      ".dbn.zst; repeat it for an underlying feed's file, "
                                      "merged by ts_recv) instead of a live source"),
    databento: bool = typer.Option(False, "--databento", help="run on Databento's live OPRA "
                                   "feed (config.yaml `databento:`; the key from "
                                   "DATABENTO_API_KEY) instead of the embedded simulator"),
    speed: float = typer.Option(None, help="with --replay: that many times the recorded "
                                "pace (default: as fast as possible)"),
) -> None:
    """The live monitor: ticks -> Greeks and exposures -> Redis state/events + Prometheus.

    Without --kafka it runs on the embedded default: a market simulator started from a
    real chain, fed through the same source interface as Kafka."""
    from monitor.books import build_books
    from monitor.logs import configure_logging
    from monitor.service import ServiceError, run_service
    from monitor.warmup import on_first_compile

    try:
        positive("--duration", duration)
        positive("--rate", rate)
        positive("--speed", speed)
        if speed is not None and not replay:
            raise ValueError("--speed paces a replay: give --replay FOLDER with it")
        if sum(x for x in (bool(replay), bool(kafka), databento)) > 1:
            raise ValueError("--replay, --kafka and --databento are three sources: give one")
        settings = settings_for(config, kafka={"bootstrap": kafka,
                                            "encoding": encoding.value if encoding else None},
                             redis={"url": redis},
                             metrics={"port": metrics_port},
                             embedded={"rate_ticks_per_s": rate})
        configure_logging(log_format or settings.log_format)
        log = structlog.get_logger("monitor")
        log.info("config_loaded", file=str(settings.config_file), origin=settings.config_origin)
        # a log event, not a line: the service's stderr is its log stream
        on_first_compile(lambda: log.warning(
            "kernels_compiling", note=f"once per version, {COLD_COMPILE}; `monitor warmup` "
            "does it ahead of time; /readyz waits for it"))
        books = build_books(settings, chain_files(settings, chain), settings.base)
    except USER_ERRORS as err:
        fail_on(err)
    try:
        code = asyncio.run(run_service(
            settings, books, base=settings.base, duration=duration, summary=summary,
            warn=lambda msg: typer.echo(f"monitor: warning: {msg}", err=True),
            say=typer.echo, record=record, replay=replay, speed=speed, databento=databento))
    except ServiceError as err:
        fail_on(err)
    raise typer.Exit(code)


@app.command()
def replay(
    folder: Path = typer.Argument(..., help="a recording: the folder `monitor run --record` "
                                  "wrote"),
    verify: bool = typer.Option(True, "--verify", help="check every segment against the "
                                "manifest (sha256, batch and tick counts); the default"),
) -> None:
    """Check a recording: every segment present and as written, what it holds, the books its
    run ended with. Exit 1 naming the first problem. (To run the monitor on it: `monitor
    run --replay FOLDER`.)"""
    from monitor.render.recording import render_verification
    from monitor.sources.recording import RecordingError
    from monitor.sources.recording import verify as verify_recording
    try:
        manifest, problems = verify_recording(folder)
    except RecordingError as err:
        fail_on(err)
    typer.echo(render_verification(folder, manifest, problems))
    if problems:
        raise typer.Exit(1)
