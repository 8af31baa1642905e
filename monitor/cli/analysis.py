"""The analysis commands: ``daily``, ``smiles``, ``whatif``, ``size`` and ``study``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from monitor.cli.common import (
    CONFIG_HELP,
    DATA_HELP,
    DEMO_HELP,
    JSON_ROWS_HELP,
    MARKDOWN_HELP,
    UNDERLYING_HELP,
    USER_ERRORS,
    app,
    data_dir_for,
    fail_on,
    note_cold_cache,
    print_json,
    settings_for,
)
from monitor.paths import DataNotFound

if TYPE_CHECKING:
    from monitor.config import Settings


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
    note_cold_cache()
    try:
        settings = settings_for(config)
        if chains is None or vix is None:
            root = data_dir_for(settings, data)
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
    note_cold_cache()
    try:
        settings = settings_for(config)
        if not chains:
            root = data_dir_for(settings, data)
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
    note_cold_cache()
    try:
        spot_pct, vol_pts, n_days = parse_spot_pct(spot), parse_vol_pts(vol), parse_days(days)
        curve_range = parse_curve_range(spot_range)
        surface_rule = parse_surface(surface)
        settings = settings_for(config)
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
    note_cold_cache()
    try:
        if (delta is None) == (positions is None):
            raise ValueError("give --delta or --positions (one of them)")
        user_delta = None if delta is None else parse_usd(delta)
        settings = settings_for(config)
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
        root = data_dir_for(settings_for(config), data)
    except (DataNotFound, *USER_ERRORS) as err:
        fail_on(err)
    code = study_main(root, out, own_gex=not no_own_gex, as_json=as_json)
    if code:
        raise typer.Exit(code)
