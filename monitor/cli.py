"""The ``monitor`` command line: each command parses its options, calls one computation
(:mod:`monitor.analysis`, :mod:`monitor.service`, :mod:`monitor.study`) and renders its
result (:mod:`monitor.render`, or ``--json``). Every command documents its options in
``--help``.

Errors the user can fix (missing file, unknown layout, empty chain, bad option) print
one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import typer

# typer ships its own copy of click (typer._click); its errors are raised from there
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

# Only what every command needs is imported here: `monitor --help` and each command load
# just the modules they use (numba, pandas, aiohttp and the Kafka client cost seconds)
from monitor.chain.model import ChainError
from monitor.fmt import clean_json, ny_time
from monitor.paths import DataNotFound, find_data_dir, packaged_chain

if TYPE_CHECKING:
    from monitor.config import Settings

class OneLineErrors(TyperGroup):
    """The command-line framework's own errors (unknown option, missing argument, a value
    of the wrong type or out of range) as one ``monitor: error: ...`` line with exit
    status 2, like the commands' own errors (no usage box)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:
            typer.echo(err.ctx.get_help())
            rv = 0
        except ClickException as err:
            typer.echo(f"monitor: error: {' '.join(err.format_message().split())}", err=True)
            rv = err.exit_code
        except typer.Abort:
            typer.echo("monitor: aborted", err=True)
            rv = 1
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(cls=OneLineErrors, add_completion=False, no_args_is_help=True,
                  rich_markup_mode=None, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Dealer-flow monitor: options-dealer positioning, exposures, levels "
                       "and hedge-flow forecasts.")

#: the user-fixable errors every command turns into one ``monitor: error:`` line
USER_ERRORS = (ChainError, FileNotFoundError, ValueError)
UNDERLYING_HELP = ("the root of a chain file whose layout has none (end-of-day files not "
                   "named ROOT_YYYY-MM-DD.csv[.gz])")
DEMO_HELP = ("read the embedded demo's Redis keys ({redis.prefix}-demo, where `monitor run` "
             "without Kafka writes) instead of the live runs'")
CONFIG_HELP = ("config file (default: $DEALERFLOW_CONFIG, else ./config.yaml, else the "
               "packaged default)")
DATA_HELP = "the real-data folder (default: $DEALERFLOW_DATA, data_dir in the config, ../shared/data)"
JSON_ROWS_HELP = "print the rows as one JSON array"
MARKDOWN_HELP = "a Markdown table (the README's)"
COLD_COMPILE = "about 30-100 s on 2 cores"


def _version(value: bool) -> None:
    if value:
        try:
            v = version("dealerflow-monitor")
        except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
            v = "unknown (not installed)"
        typer.echo(f"monitor {v}")
        raise typer.Exit(0)


@app.callback()
def _root(show_version: bool = typer.Option(False, "--version", callback=_version,
                                            is_eager=True, help="print the version, exit")
          ) -> None:
    """Dealer-flow monitor. Run ``monitor COMMAND --help`` for each command's options."""


class GreeksSource(str, Enum):
    model = "model"
    vendor = "vendor"


class PositionModel(str, Enum):
    classic = "classic"
    short_all = "short_all"


class Encoding(str, Enum):
    json = "json"
    binary = "binary"
    records = "records"


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"monitor: error: {message}", err=True)
    raise typer.Exit(code)


def fail_on(err: BaseException) -> None:
    """The first line of ``err`` as a ``monitor: error:`` line (exit 2)."""
    text = str(err)
    fail(text.splitlines()[0] if text else type(err).__name__)


def print_json(obj, compact: bool = True) -> None:
    sys.stdout.write(json.dumps(clean_json(obj), separators=(",", ":") if compact else None)
                     + "\n")


def positive(option: str, value) -> None:
    """Refuse a given option value that is not a finite number > 0 (``None`` = not given)."""
    if value is not None and not (value > 0 and value != float("inf")):
        raise ValueError(f"{option} must be a number > 0, got {value!r}")


def _settings(config: Path | None, **overrides) -> Settings:
    """The configuration (:func:`monitor.config.locate_config`) with CLI option overrides
    per section (``None`` = not given), validated like the file's own values."""
    from pydantic import ValidationError

    from monitor.config import load_settings
    settings = load_settings(config)
    for section, values in overrides.items():
        model = getattr(settings, section)
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            continue
        try:
            setattr(settings, section, type(model).model_validate({**model.model_dump(),
                                                                   **given}))
        except ValidationError as err:
            first = err.errors()[0]
            raise ValueError(f"{section}.{'.'.join(map(str, first['loc']))}: {first['msg']}, "
                             f"got {first.get('input')!r}") from None
    return settings


def _chains(settings: Settings, chain: list[Path] | None) -> list[Path]:
    """The chain files of the universe: ``--chain``, else ``chains``, else
    ``embedded.chain`` (relative to the config file), else the packaged chain."""
    from monitor.books import resolve
    if chain:
        return list(chain)
    if settings.chains:
        return [resolve(p, settings.base) for p in settings.chains]
    if settings.embedded.chain:
        return [resolve(settings.embedded.chain, settings.base)]
    return [packaged_chain()]


def _data_dir(settings: Settings, explicit: Path | None) -> Path:
    from monitor.books import resolve
    configured = resolve(settings.data_dir, settings.base) if settings.data_dir else None
    return find_data_dir(explicit, configured)


def _note_cold_cache() -> None:
    """One line on stderr when this process starts compiling a numba kernel its cache does
    not hold (:func:`monitor.warmup.on_first_compile`)."""
    from monitor.warmup import on_first_compile  # (numba's cache directory: monitor.core.jit)

    on_first_compile(lambda: typer.echo(
        f"monitor: compiling numerical kernels (once per version, {COLD_COMPILE}; "
        "`monitor warmup` does it ahead of time)", err=True))


@app.command()
def warmup(
    config: Path = typer.Option(None, help=CONFIG_HELP),
    chain: list[Path] = typer.Option(None, "--chain", help="chain file(s) to warm on "
                                     "(default: the configured universe, else the packaged "
                                     "SPX chain)"),
) -> None:
    """Compile every numerical kernel the service and the commands call into numba's
    on-disk cache, once, so later runs start without compiling (the Dockerfile runs it at
    build time). Safe to repeat: a warm cache is only loaded."""
    import time

    from monitor.books import build_books
    from monitor.warmup import cache_dir, on_first_compile, warm_up

    t0 = time.perf_counter()
    try:
        settings = _settings(config)
        typer.echo(f"monitor: warming numba's cache {cache_dir()}", err=True)
        on_first_compile(lambda: typer.echo(
            f"monitor: compiling numerical kernels ({COLD_COMPILE})...", err=True))
        report = warm_up(build_books(settings, _chains(settings, chain), settings.base))
    except USER_ERRORS as err:
        fail_on(err)
    typer.echo(f"kernels ready: {report.kernels} kernels in {time.perf_counter() - t0:.1f} s "
               f"({f'{report.compiled} signatures compiled now' if report.compiled else 'already cached'}); "
               f"cache {report.cache_dir}")


@app.command()
def snapshot(
    path: Path = typer.Argument(..., help="chain file: CBOE quotedata.csv, CBOE end-of-day "
                                "snapshot, CBOE long layout or the canonical format (.gz ok), "
                                "or a Databento DBN file (.dbn, .dbn.zst: the book at its end)"),
    greeks: GreeksSource = typer.Option(GreeksSource.model, help="model: IV from the mid and "
                                        "Black-76 Greeks; vendor: the file's delta and gamma"),
    model: PositionModel = typer.Option(None, help="dealer position model (default: the "
                                        "underlying's position_model in config.yaml)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (docs/analytics.md)"),
    config: Path = typer.Option(None, help=CONFIG_HELP),
    rate: float = typer.Option(None, help="risk-free rate, decimal (default from config)"),
    underlying: str = typer.Option(None, help=UNDERLYING_HELP),
    spot: float = typer.Option(None, help="the underlying's level "
                               "(default: the file's; a DBN file has none, so it is implied "
                               "from put-call parity of the nearest expiry)"),
) -> None:
    """Greeks, dealer exposures, levels and hedge-flow scenarios for one chain file."""
    from monitor.books import book_for_chain, implied_spot
    from monitor.chain import load_chain
    from monitor.config import load_settings
    from monitor.render.snapshot import render_snapshot
    from monitor.snapshot import build_snapshot
    from monitor.sources.databento import chain_at_end
    from monitor.sources.dbn_file import is_dbn
    _note_cold_cache()
    try:
        settings = load_settings(config)
        if is_dbn(path):
            chain, _ = chain_at_end(path, underlying=underlying)
        else:
            chain = load_chain(path, underlying=underlying,
                               mappings=settings.chain_layouts)
        source = "chain file"
        if spot is not None and not (spot > 0 and math.isfinite(spot)):
            raise ChainError(f"--spot {spot}: the underlying's level must be a number above 0")
        if spot is not None:
            chain.spot, source = float(spot), "given (--spot)"
        elif not chain.spot == chain.spot:
            implied = implied_spot(chain, settings)
            source = f"implied_parity ({implied.expiry})"
        model_name = model.value if model else settings.underlying(chain.underlying).position_model
        book = book_for_chain(chain, settings, model=model_name, greeks=greeks.value, rate=rate)
        snap = build_snapshot(book, und=settings.underlying(book.underlying))
        snap["spot_source"] = source
    except USER_ERRORS as err:
        fail_on(err)
    if as_json:
        print_json(snap)
    else:
        typer.echo(render_snapshot(snap))


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
        settings = _settings(config, kafka={"bootstrap": kafka,
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
        books = build_books(settings, _chains(settings, chain), settings.base)
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
        settings = _settings(config)
        if ticks is not None:
            batches = recorded_batches(ticks, batch)
        else:
            books = build_books(settings, _chains(settings, chain), settings.base)
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


def simulated_batches(settings: Settings, books, seconds: float, batch: int, seed: int | None):
    """A simulated session of every book's underlying, interleaved in event time (batches
    of about ``10 * batch`` ticks): one clock from the latest chain's instant, the
    embedded rate shared among them, seed ``seed + i`` for the i-th."""
    from monitor.sources.simulator import MarketSimulator, SimConfig, interleaved_session
    seed = settings.embedded.seed if seed is None else seed
    start = max(b.now_ns for b in books.values())
    rate = settings.embedded.rate_ticks_per_s / len(books)
    sims = [MarketSimulator(book, SimConfig(rate_ticks_per_s=rate, seed=seed + i,
                                            start_ns=start))
            for i, book in enumerate(books.values())]
    return interleaved_session(sims, seconds, batch=batch * 10)


def recorded_batches(path: Path, batch: int):
    """Ticks of a JSON-lines file, ``10 * batch`` at a time; bad lines warned, skipped."""
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

    return gen()


@app.command()
def daily(
    chains: Path = typer.Argument(None, help="folder of daily end-of-day chain files "
                                  "(default: cboe_chain_eod_2026/SPX in the data folder)"),
    vix: Path = typer.Option(None, help="VIX closes (date,value), the regimes' put-premium "
                             "measure (default: market_daily/VIX_close_1990-2026-08.csv in "
                             "the data folder)"),
    data: Path = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_ROWS_HELP),
    markdown: bool = typer.Option(False, "--markdown", help=MARKDOWN_HELP),
    config: Path = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Run the regime engine over daily chains: per session spot, GEX (model and vendor),
    zero gamma, VIX and the labels in force (the README's real-data table)."""
    from monitor.analysis.daily import daily_regimes
    from monitor.render.daily import render_table, render_text
    _note_cold_cache()
    try:
        settings = _settings(config)
        if chains is None or vix is None:
            root = _data_dir(settings, data)
            chains = chains or root / "cboe_chain_eod_2026" / "SPX"
            vix = vix or root / "market_daily" / "VIX_close_1990-2026-08.csv"
        if not vix.exists():
            raise FileNotFoundError(f"VIX file not found: {vix}")
        rows, skipped = daily_regimes(chains, vix, settings,
                                      progress=lambda name: typer.echo(name, err=True))
    except (DataNotFound, *USER_ERRORS) as err:
        fail_on(err)
    if as_json:
        print_json(rows, compact=False)
        return
    typer.echo(render_table(rows) if markdown else render_text(rows))
    for line in skipped:
        typer.echo(f"skipped {line}")


@app.command()
def smiles(
    chains: list[Path] = typer.Argument(None, help="chain files or folders of them (default: "
                                        "the 2026 SPX daily files and the SPX quotedata "
                                        "files in the data folder)"),
    data: Path = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_ROWS_HELP),
    markdown: bool = typer.Option(False, "--markdown", help=MARKDOWN_HELP),
    config: Path = typer.Option(None, help=CONFIG_HELP),
    underlying: str = typer.Option(None, help=UNDERLYING_HELP),
) -> None:
    """What the per-expiry smiles change, one row per chain: smile IVs against the file's
    own (CBOE) IV column, and CEX and the +1 day flow against every quote at its own mid."""
    from monitor.analysis.smiles import compare_chain
    from monitor.analysis.smiles import render_rows as render_smile_rows
    _note_cold_cache()
    try:
        settings = _settings(config)
        if not chains:
            root = _data_dir(settings, data)
            chains = [root / "cboe_chain_eod_2026" / "SPX", root / "cboe_quotedata" / "spx"]
        files = []
        for p in chains:
            if p.is_dir():
                files += sorted(p.glob("*.csv*"))
            elif p.exists():
                files.append(p)
            else:
                raise FileNotFoundError(f"chain file not found: {p}")
        rows = []
        for f in files:
            typer.echo(f.name, err=True)
            rows.append(compare_chain(f, settings, underlying))
    except (DataNotFound, *USER_ERRORS) as err:
        fail_on(err)
    if as_json:
        print_json(rows, compact=False)
    else:
        typer.echo(render_smile_rows(rows, markdown=markdown))


def _book_for(path: Path | None, from_redis: str | None, redis: str | None,
              settings: Settings, underlying: str | None = None, demo: bool = False):
    """(book, source, notes, live state or None) from a chain file or the live service
    (``demo``: the embedded demo's keys)."""
    from monitor.analysis.live import load_live
    from monitor.books import book_from_chain
    if (path is None) == (from_redis is None):
        raise ValueError("give a chain file or --from-redis ROOT (one of them)")
    if demo and from_redis is None:
        raise ValueError("--demo reads the embedded demo's Redis keys: it needs --from-redis ROOT")
    if from_redis is not None:
        live = load_live(settings.demo_keys() if demo else settings, from_redis, url=redis,
                         base=settings.base)
        return live.book, live.source, live.notes, live.state
    return book_from_chain(path, settings, settings.base, underlying), None, None, None


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
    demo: bool = typer.Option(False, "--demo", help=DEMO_HELP),
    spot_range: str = typer.Option("-5:5", "--range", help="flow-curve spot range, percent "
                                   "LO:HI"),
    points: int = typer.Option(21, help="flow-curve points over --range"),
    surface: str = typer.Option("sticky-strike", help="how IVs move with spot: sticky-strike "
                                "(each contract keeps its IV) or sticky-moneyness (each "
                                "expiry's fitted smile moves with the forward)"),
    plot: Path = typer.Option(None, help="write the flow-curve chart (zero gamma, walls and "
                              "spot marked) to this PNG file"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (docs/analytics.md)"),
    config: Path = typer.Option(None, help=CONFIG_HELP),
    underlying: str = typer.Option(None, help=UNDERLYING_HELP),
) -> None:
    """Dealer hedge flow for a spot move, vol change and days passing (full revaluation
    and linear; dollars, shares, ES-equivalents, % of ADV) and the flow curve over spot."""
    from monitor.analysis.whatif import whatif as compute_whatif
    from monitor.options import (
        parse_curve_range,
        parse_days,
        parse_spot_pct,
        parse_surface,
        parse_vol_pts,
    )
    from monitor.render.plot import plot_flow_curve
    from monitor.render.whatif import render_whatif
    _note_cold_cache()
    try:
        spot_pct, vol_pts, n_days = parse_spot_pct(spot), parse_vol_pts(vol), parse_days(days)
        curve_range = parse_curve_range(spot_range)
        surface_rule = parse_surface(surface)
        settings = _settings(config)
        book, source, notes, _ = _book_for(path, from_redis, redis, settings, underlying,
                                           demo)
        result = compute_whatif(book, spot_pct, vol_pts, n_days, settings=settings,
                                curve_range=curve_range, curve_points=points, source=source,
                                notes=notes, surface=surface_rule)
        if plot is not None:
            plot_flow_curve(result, plot)
    except USER_ERRORS as err:
        fail_on(err)
    if as_json:
        print_json(result)
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
    demo: bool = typer.Option(False, "--demo", help=DEMO_HELP),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (docs/analytics.md)"),
    config: Path = typer.Option(None, help=CONFIG_HELP),
    underlying: str = typer.Option(None, help=UNDERLYING_HELP),
) -> None:
    """The dealer flow your position would face in the standard scenarios, whether it
    stands with or against that flow, and a suggested size multiplier (docs/analytics.md: rule table)."""
    from monitor.analysis.size import size_position
    from monitor.options import parse_usd
    from monitor.regimes.sizing import state_labels
    from monitor.render.size import render_size
    _note_cold_cache()
    try:
        if (delta is None) == (positions is None):
            raise ValueError("give --delta or --positions (one of them)")
        user_delta = None if delta is None else parse_usd(delta)
        settings = _settings(config)
        book, source, notes, state = _book_for(path, from_redis, redis, settings, underlying,
                                               demo)
        labels, labels_source = (regime or None), None
        if state is not None and labels is None:
            labels, labels_source = state_labels(state), "state"
        result = size_position(book, user_delta_usd=user_delta, positions=positions,
                               labels=labels, settings=settings, labels_source=labels_source,
                               source=source, notes=notes)
    except USER_ERRORS as err:
        fail_on(err)
    if as_json:
        print_json(result)
    else:
        typer.echo(render_size(result))


@app.command()
def study(
    data: Path = typer.Option(None, "--data",
                              help="data directory in the shared/data layout (market_daily/, "
                                   "calendar/, intraday/, cboe_chain_eod*/); default: "
                                   "$DEALERFLOW_DATA, data_dir in the config, ../shared/data"),
    out: Path = typer.Option(Path("study-report"), "--out",
                             help="output directory for report.md and the PNG charts"),
    no_own_gex: bool = typer.Option(False, "--no-own-gex",
                                    help="skip the project's own GEX from the daily SPX "
                                         "chains (claim 1, second half, and the 2026 table)"),
    as_json: bool = typer.Option(False, "--json",
                                 help="print the results as one JSON object"),
    config: Path = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Test the mechanical dealer-flow claims on real history; write a Markdown report
    with charts (progress on stderr)."""
    from monitor.study.cli import main as study_main
    try:
        root = _data_dir(_settings(config), data)
    except (DataNotFound, *USER_ERRORS) as err:
        fail_on(err)
    code = study_main(root, out, own_gex=not no_own_gex, as_json=as_json)
    if code:
        raise typer.Exit(code)


@app.command()
def events(
    root: str = typer.Argument(..., help="underlying root, e.g. SPX"),
    redis: str = typer.Option(None, help="Redis URL (default from config)"),
    last: int = typer.Option(20, min=0, help="show this many of the latest events first"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new events"),
    duration: float = typer.Option(None, help="with --follow: stop after this many seconds"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    demo: bool = typer.Option(False, "--demo", help=DEMO_HELP),
    config: Path = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Regime changes of ROOT from the running service's Redis stream, newest last;
    --follow keeps printing them as they happen (Ctrl-C stops). One Redis prefix is read,
    named on stderr first: the live (Kafka) runs', or with --demo the embedded demo's."""
    try:
        positive("--duration", duration)
        settings = _settings(config, redis={"url": redis})
        settings = settings.demo_keys() if demo else settings
        prefix = settings.redis.prefix
        other = ("the live runs' are under the configured prefix: omit --demo" if demo else
                 f"the embedded demo's are under {settings.demo_redis_prefix}: --demo")
        typer.echo(f"events of {root.strip().upper()} under Redis prefix {prefix} "
                   f"({'embedded demo' if demo else 'live runs'}; {other})", err=True)
        code = asyncio.run(_print_events(settings, root, last, follow, duration, as_json))
    except USER_ERRORS as err:
        fail_on(err)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


async def _print_events(settings: Settings, root: str, last: int, follow: bool,
                        duration: float | None, as_json: bool) -> int:
    from monitor.analysis.live import read_events
    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    entries = await read_events(settings.redis, root)
    shown = entries[-last:] if last else []
    last_id = entries[-1]["id"] if entries else "0"
    while True:
        for e in shown:
            ev = e["event"] or {}
            if as_json:
                typer.echo(json.dumps(clean_json({"id": e["id"], **ev})))
            else:
                when = ny_time(int(ev["ts_ns"])) if ev.get("ts_ns") else "?"
                typer.echo(f"{when}  {ev.get('underlying', root)}  {ev.get('regime')}: "
                           f"{ev.get('from') or '-'} -> {ev.get('to') or '-'}  "
                           f"{ev.get('message', '')}")
        if not follow or (end is not None and loop.time() >= end):
            return 0
        await asyncio.sleep(0.5)
        shown = await read_events(settings.redis, root, last_id)
        if shown:
            last_id = shown[-1]["id"]


alerts_app = typer.Typer(cls=OneLineErrors, no_args_is_help=True, rich_markup_mode=None,
                         help="Desk-chat alert delivery.")
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def alerts_test(config: Path = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Send one test message to each configured webhook (DEALERFLOW_ALERTS__SLACK_WEBHOOK_URL,
    ..._TEAMS_WEBHOOK_URL, ..._GENERIC_WEBHOOK_URL) and say whether each arrived."""
    from monitor.analysis.live import send_test_alert
    from monitor.logs import configure_logging
    from monitor.sinks.alerts import alert_sender_for
    try:
        settings = _settings(config)
        configure_logging(settings.log_format)  # the sender's log lines go to stderr
        sender = alert_sender_for(settings)
        if sender is None:
            raise ValueError("no webhook configured: set DEALERFLOW_ALERTS__SLACK_WEBHOOK_URL, "
                             "DEALERFLOW_ALERTS__TEAMS_WEBHOOK_URL or "
                             "DEALERFLOW_ALERTS__GENERIC_WEBHOOK_URL")
    except USER_ERRORS as err:
        fail_on(err)
    results = asyncio.run(send_test_alert(sender))
    for kind, r in sorted(results.items()):
        verdict = "sent" if r["sent"] else "FAILED"
        typer.echo(f"{kind}: {verdict}" + (f" after {r['retried']} retries" if r["retried"]
                                          else ""))
    raise typer.Exit(0 if all(r["sent"] for r in results.values()) else 1)


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
        settings = _settings(config)
        roots = list(build_books(settings, _chains(settings, chain), settings.base))
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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
