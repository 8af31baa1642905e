"""The running service read back: ``monitor events`` (regime changes from Redis) and
``monitor alerts test`` (one message to each configured webhook)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from monitor.cli.common import CONFIG_HELP, DEMO_HELP, USER_ERRORS, OneLineErrors, app, fail_on, positive, settings_for
from monitor.fmt import clean_json, ny_time

if TYPE_CHECKING:
    from monitor.config import Settings


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
        settings = settings_for(config, redis={"url": redis})
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
        settings = settings_for(config)
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
