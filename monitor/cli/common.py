"""What every command shares: the ``monitor`` app (its errors as one line), the option
helps, the settings with the options' overrides, the chains of the universe, and the
one-line error exits."""

from __future__ import annotations

import json
import sys
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import typer

# typer ships its own copy of click (typer._click); its errors are raised from there
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

# Only what every command needs is imported here: `monitor --help` and each command load
# just the modules they use (numba, pandas, aiohttp and the Kafka client cost seconds)
from monitor.chain.model import ChainError
from monitor.fmt import clean_json
from monitor.paths import find_data_dir, packaged_chain

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


def settings_for(config: Path | None, **overrides) -> Settings:
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


def chain_files(settings: Settings, chain: list[Path] | None) -> list[Path]:
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


def data_dir_for(settings: Settings, explicit: Path | None) -> Path:
    from monitor.books import resolve
    configured = resolve(settings.data_dir, settings.base) if settings.data_dir else None
    return find_data_dir(explicit, configured)


def note_cold_cache() -> None:
    """One line on stderr when this process starts compiling a numba kernel its cache does
    not hold (:func:`monitor.warmup.on_first_compile`)."""
    from monitor.warmup import on_first_compile  # (numba's cache directory: monitor.core.jit)

    on_first_compile(lambda: typer.echo(
        f"monitor: compiling numerical kernels (once per version, {COLD_COMPILE}; "
        "`monitor warmup` does it ahead of time)", err=True))
