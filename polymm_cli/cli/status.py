"""`polymm status`: how this wallet's running engine is doing, read from another terminal."""

from __future__ import annotations

import typer
from rich.console import Console

from polymm_cli.cli import views
from polymm_cli.cli.common import (
    ExchangeUrlOption,
    JsonOption,
    UnsafeUrlOption,
    VenueOption,
    dumps,
    settings_for,
)
from polymm_cli.services import status as status_service

PIPE_WIDTH = 160  # the whole overview table with long slugs


def status(
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
) -> None:
    """How this wallet's running engine is doing: per market quotes, position, P&L, health, last
    decision; uptime. Exit 3 when no engine runs."""
    settings = settings_for(venue, exchange_url, unsafe_url, paper=True)
    try:
        found = status_service.read_status(settings)
    except status_service.NoEngine as exc:
        if as_json:
            typer.echo(dumps({"running": False, "reason": str(exc), "last": exc.last}))
            raise typer.Exit(exc.exit_code) from None
        raise
    if as_json:
        typer.echo(dumps({**found.document, "age_s": round(found.age_s, 1)}))
        return
    console = Console()
    if not console.is_terminal:  # piped or redirected: no screen to fit, keep each market one line
        console = Console(width=max(console.width, PIPE_WIDTH))
    console.print(views.status_view(found.document, found.markets))
