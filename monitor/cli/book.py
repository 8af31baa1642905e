"""``monitor warmup`` and ``monitor snapshot``: the kernels compiled, one book's snapshot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from monitor.chain.model import ChainError
from monitor.cli.common import (
    COLD_COMPILE,
    CONFIG_HELP,
    UNDERLYING_HELP,
    USER_ERRORS,
    GreeksSource,
    PositionModel,
    app,
    chain_files,
    fail_on,
    note_cold_cache,
    print_json,
    settings_for,
)

if TYPE_CHECKING:
    pass


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
        settings = settings_for(config)
        typer.echo(f"monitor: warming numba's cache {cache_dir()}", err=True)
        on_first_compile(lambda: typer.echo(
            f"monitor: compiling numerical kernels ({COLD_COMPILE})...", err=True))
        report = warm_up(build_books(settings, chain_files(settings, chain), settings.base))
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
    note_cold_cache()
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
