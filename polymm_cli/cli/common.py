"""Options every command shares, and the one way a command turns them into Settings."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Annotated, Any

import typer

from polymm_cli.errors import UsageError
from polymm_cli.services.guard import Consent
from polymm_cli.settings import Settings, VenueName, load_settings

VenueOption = Annotated[
    str | None,
    typer.Option(
        "--venue",
        help="local (the built-in exchange, default), polymarket, or paper (a live feed, simulated fills).",
    ),
]
PaperFeedOption = Annotated[
    str | None,
    typer.Option(
        "--paper-feed",
        help="With --venue paper: market data from local (the local exchange, default), polymarket"
        " (real Polymarket, no key needed) or an exchange URL (POLYMM_PAPER_FEED).",
    ),
]
# The fill simulation's knobs (settings.QueueChoice / LatencyChoice), shared by `run --venue paper`
# and `backtest`.
QueueOption = Annotated[
    str | None,
    typer.Option(
        "--queue",
        help="Queue model of simulated fills (paper, backtest): risk-averse (default) or power:N"
        " (POLYMM_QUEUE).",
    ),
]
LatencyOption = Annotated[
    str | None,
    typer.Option(
        "--latency-ms",
        help="Simulated latency (paper, backtest): MS for order entry and cancels, or"
        " order=MS,cancel=MS,feed=MS|recorded (default order=50,cancel=50,feed=recorded; POLYMM_LATENCY_MS).",
    ),
]
# Settings only paper trading reads (flags --paper-feed, --paper-collateral): refused elsewhere, so
# no one believes a real run is paper. --queue and --latency-ms are also the backtest's.
PAPER_SETTINGS = ("paper_feed", "paper_collateral")
PAPER_COMMANDS = "run, status, quote, pnl, markets list, cancel-all, halt and resume"
ExchangeUrlOption = Annotated[
    str | None, typer.Option("--exchange-url", help="A running exchange to use (POLYMM_EXCHANGE_URL).")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine-readable output (a stable, documented shape).")
]
UnsafeUrlOption = Annotated[
    bool | None,
    typer.Option(
        "--unsafe-polymarket-url",
        help="Let --venue polymarket send its signed requests to a URL that is not https on polymarket.com.",
    ),
]
# Polygon, for seed / merge / redeem / liquidate on --venue polymarket
RpcUrlOption = Annotated[
    str | None, typer.Option("--rpc-url", help="Polygon JSON-RPC endpoint (POLYMM_RPC_URL).")
]
MaxFeeOption = Annotated[
    Decimal | None,
    typer.Option(
        "--max-fee-gwei", help="Most to pay per gas, in gwei (EIP-1559 max fee; POLYMM_MAX_FEE_GWEI)."
    ),
]
ApproveOption = Annotated[
    bool | None,
    typer.Option(
        "--approve/--no-approve",
        help="Send the collateral adapter approval a split/merge/redeem needs when missing"
        " (default; POLYMM_CHAIN_APPROVE). --no-approve names it and stops.",
    ),
]
LiveOption = Annotated[
    bool, typer.Option("--live", help="Required for anything that moves real funds on Polymarket.")
]
YesOption = Annotated[bool, typer.Option("--yes", help="Skip the typed confirmation (with --live).")]


def settings_for(
    venue: str | None,
    exchange_url: str | None,
    unsafe_url: bool | None = None,
    *,
    paper: bool = False,
    **overrides: Any,
) -> Settings:
    """The settings of one command; `paper`: the command has a meaning on `--venue paper`."""
    if venue is not None and venue not in ("local", "polymarket", "paper"):
        raise UsageError(f"--venue must be local, polymarket or paper, got {venue!r}")
    settings = load_settings(
        venue=venue, exchange_url=exchange_url, unsafe_polymarket_url=unsafe_url, **overrides
    )
    if settings.venue is VenueName.PAPER and not paper:
        raise UsageError(
            f"--venue paper is for {PAPER_COMMANDS}: a paper wallet holds only what its simulated"
            " fills gave it"
        )
    given = ["--" + name.replace("_", "-") for name in PAPER_SETTINGS if overrides.get(name) is not None]
    if given and settings.venue is not VenueName.PAPER:
        raise UsageError(f"{', '.join(given)}: only with --venue paper (this would use {settings.venue})")
    return settings


def consent(live: bool, yes: bool) -> Consent:
    """The user's `--live` / `--yes`, and a typed confirmation asked on the terminal (never on a pipe)."""

    def confirm(question: str) -> bool:
        if not sys.stdin.isatty():
            return False
        answer = typer.prompt(f"{question} Type 'yes' to continue", default="no")
        return str(answer).strip().lower() == "yes"

    return Consent(live=live, yes=yes, confirm=confirm)


def dumps(payload: Any) -> str:
    """JSON with Decimals as strings (numbers in our JSON outputs are decimal strings)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return json.dumps(payload, default=default, indent=2)


def dec(value: Decimal | None) -> str | None:
    return (
        None
        if value is None
        else format(value.normalize(), "f")
        if value == value.to_integral()
        else format(value, "f")
    )
