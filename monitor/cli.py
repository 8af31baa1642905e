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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
