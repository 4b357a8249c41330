"""`polymm doctor`: is this wallet, its endpoints and the data dir ready to trade? One line per check."""

from __future__ import annotations

import typer

from polymm_cli import diagnosis
from polymm_cli.cli.common import (
    ExchangeUrlOption,
    JsonOption,
    RpcUrlOption,
    UnsafeUrlOption,
    VenueOption,
    dumps,
    settings_for,
)
from polymm_cli.services import doctor as service


def doctor(
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    rpc_url: RpcUrlOption = None,
) -> None:
    """Check the key, wallet type, gas, pUSD, approvals, API credentials, clock, endpoints, geoblock
    and data dir; each failure says its fix. Exit 0 when every check passes, 2 when any fails."""
    settings = settings_for(venue, exchange_url, unsafe_url, rpc_url=rpc_url)
    checks = service.diagnose(settings)
    if as_json:
        typer.echo(dumps(diagnosis.as_json(checks)))
    else:
        for line in diagnosis.render_all(checks):
            typer.echo(line)
    raise typer.Exit(diagnosis.exit_code(checks))
