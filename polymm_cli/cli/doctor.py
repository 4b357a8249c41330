"""`polymm doctor`: is this wallet, its endpoints and the data dir ready to trade? One line per check;
`--fix-allowances` (behind `--live`) first sends the approvals an EOA wallet lacks."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from polymm_cli import diagnosis
from polymm_cli.cli.common import (
    ExchangeUrlOption,
    JsonOption,
    LiveOption,
    RpcUrlOption,
    UnsafeUrlOption,
    VenueOption,
    YesOption,
    consent,
    dec,
    dumps,
    settings_for,
)
from polymm_cli.services import doctor as service

FixAllowancesOption = Annotated[
    bool,
    typer.Option(
        "--fix-allowances",
        help="First send, from the key's own EOA (signature type 0), every approval it lacks (gas in"
        " POL; needs --live).",
    ),
]


def doctor(
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    rpc_url: RpcUrlOption = None,
    fix_allowances: FixAllowancesOption = False,
    live: LiveOption = False,
    yes: YesOption = False,
) -> None:
    """Check the key, wallet type, gas, pUSD, approvals, API credentials, clock, endpoints, geoblock
    and data dir; each failure says its fix. Exit 0 when every check passes, 2 when any fails."""
    settings = settings_for(venue, exchange_url, unsafe_url, rpc_url=rpc_url)
    fix = service.fix_allowances(settings, consent=consent(live, yes)) if fix_allowances else None
    checks = service.diagnose(settings)
    if as_json:
        payload: dict[str, Any] = diagnosis.as_json(checks)
        if fix is not None:
            payload["fixed"] = [
                {
                    "token": g.approval.token_name,
                    "spender": g.approval.spender,
                    "spender_name": g.approval.spender_name,
                    "tx_hash": g.tx_hash,
                    "pol": dec(g.pol),
                }
                for g in fix.granted
            ]
            payload["clob_refresh_error"] = fix.clob_error
        typer.echo(dumps(payload))
    else:
        if fix is not None:
            _say_fixed(fix)
        for line in diagnosis.render_all(checks):
            typer.echo(line)
    raise typer.Exit(diagnosis.exit_code(checks))


def _say_fixed(fix: service.AllowanceFix) -> None:
    for g in fix.granted:
        typer.echo(
            f"sent: {g.approval.token_name} approval for {g.approval.spender_name} (tx {g.tx_hash},"
            f" {dec(g.pol)} POL)"
        )
    if not fix.granted:
        typer.echo("nothing to send: every approval is already set")
    elif fix.clob_error is None:
        typer.echo("the CLOB was asked to re-read the wallet's pUSD balance and allowances")
    else:
        typer.echo(
            f"the CLOB could not be asked to re-read the allowances ({fix.clob_error}): it catches up by"
            " itself (the next split or merge asks it again)"
        )
