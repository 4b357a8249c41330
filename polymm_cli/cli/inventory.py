"""`polymm seed` (alias `split`), `polymm merge`, `polymm redeem`, `polymm liquidate`, `polymm halt`,
`polymm resume`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from polymm_cli.cli.common import (
    ApproveOption,
    ExchangeUrlOption,
    JsonOption,
    LiveOption,
    MaxFeeOption,
    RpcUrlOption,
    UnsafeUrlOption,
    VenueOption,
    YesOption,
    consent,
    dec,
    dumps,
    settings_for,
)
from polymm_cli.errors import UsageError
from polymm_cli.services import inventory, trading
from polymm_cli.settings import Settings

MarketArg = Annotated[str, typer.Argument(help="Condition id, slug or token id.")]


def seed(
    market: MarketArg,
    amount: Annotated[Decimal, typer.Option("--amount", help="pUSD to split into YES + NO pairs.")],
    live: LiveOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    rpc_url: RpcUrlOption = None,
    max_fee_gwei: MaxFeeOption = None,
    approve: ApproveOption = None,
) -> None:
    """Split pUSD into YES + NO so both sides can be quoted from inventory (checks the balance first)."""
    settings = _chain_settings(venue, exchange_url, unsafe_url, rpc_url, max_fee_gwei, approve)
    report = inventory.seed(settings, market, amount, consent=consent(live, yes))
    _show(report, "split", f"split {dec(report.amount)} pUSD into YES + NO", as_json)


def merge(
    market: MarketArg,
    amount: Annotated[Decimal | None, typer.Option("--amount", help="Pairs to merge.")] = None,
    all_pairs: Annotated[bool, typer.Option("--all", help="Merge every YES + NO pair held.")] = False,
    live: LiveOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    rpc_url: RpcUrlOption = None,
    max_fee_gwei: MaxFeeOption = None,
    approve: ApproveOption = None,
) -> None:
    """Merge YES + NO pairs back into pUSD (one pUSD a pair)."""
    if (amount is None) == (not all_pairs):
        raise UsageError("say how much: --amount N or --all")
    if amount is not None and amount <= 0:
        raise UsageError(f"--amount must be positive, got {amount}")
    settings = _chain_settings(venue, exchange_url, unsafe_url, rpc_url, max_fee_gwei, approve)
    report = inventory.merge(settings, market, None if all_pairs else amount, consent=consent(live, yes))
    _show(report, "merged", f"merged {dec(report.amount)} pairs", as_json)


def redeem(
    market: MarketArg,
    live: LiveOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    rpc_url: RpcUrlOption = None,
    max_fee_gwei: MaxFeeOption = None,
    approve: ApproveOption = None,
) -> None:
    """After the market resolved: turn every YES and NO held into pUSD (the winning side 1:1)."""
    settings = _chain_settings(venue, exchange_url, unsafe_url, rpc_url, max_fee_gwei, approve)
    report = inventory.redeem(settings, market, consent=consent(live, yes))
    _show(report, "redeemed", f"redeemed for {dec(report.amount)} pUSD", as_json)


def _chain_settings(
    venue: str | None,
    exchange_url: str | None,
    unsafe_url: bool | None,
    rpc_url: str | None,
    max_fee_gwei: Decimal | None,
    approve: bool | None,
) -> Settings:
    return settings_for(
        venue, exchange_url, unsafe_url, rpc_url=rpc_url, max_fee_gwei=max_fee_gwei, chain_approve=approve
    )


def _show(report: inventory.InventoryReport, verb: str, done: str, as_json: bool) -> None:
    """What seed, merge and redeem print: the JSON shape, or one line with the balances after (and
    the Polygon transaction, when one was sent)."""
    payload = {
        "market": report.market.condition_id,
        "slug": report.market.slug,
        verb: dec(report.amount),
        "collateral": dec(report.collateral),
        "yes": dec(report.yes),
        "no": dec(report.no),
        "tx_hash": report.tx_hash,
        "gas_pol": dec(report.gas_pol),
    }
    if as_json:
        typer.echo(dumps(payload))
        return
    typer.echo(
        f"{done} in {report.market.slug}: now YES {payload['yes']}, NO {payload['no']}, "
        f"pUSD {payload['collateral']}"
    )
    if report.tx_hash:
        typer.echo(f"transaction {report.tx_hash} (gas {payload['gas_pol']} POL)")


def liquidate(
    market: MarketArg,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="market (cross, never into an empty level), "
            "limit (rest at the mid) or passive (cancel and merge only).",
        ),
    ] = "market",
    live: LiveOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    rpc_url: RpcUrlOption = None,
    max_fee_gwei: MaxFeeOption = None,
    approve: ApproveOption = None,
) -> None:
    """Cancel our orders, merge the pairs we hold, then sell what remains; report the realised result."""
    if mode not in ("market", "limit", "passive"):
        raise UsageError(f"--mode must be market, limit or passive, got {mode!r}")
    settings = _chain_settings(venue, exchange_url, unsafe_url, rpc_url, max_fee_gwei, approve)
    r = inventory.liquidate(settings, market, mode, consent=consent(live, yes))  # type: ignore[arg-type]
    payload = {
        "market": r.market.condition_id,
        "slug": r.market.slug,
        "mode": r.mode,
        "cancelled": r.cancelled,
        "merged": dec(r.merged),
        "sold_yes": dec(r.sold_yes),
        "sold_no": dec(r.sold_no),
        "yes_left": dec(r.yes_left),
        "no_left": dec(r.no_left),
        "realized_pnl_change": dec(r.realized_change),
        "rounds": r.rounds,
        "note": r.note,
    }
    if as_json:
        typer.echo(dumps(payload))
        return
    if r.note:
        typer.echo(f"note: {r.note}")
    typer.echo(
        f"liquidated {r.market.slug} ({r.mode}): cancelled {r.cancelled} order(s), merged "
        f"{payload['merged']} pairs, sold {payload['sold_yes']} YES and {payload['sold_no']} NO"
    )
    typer.echo(
        f"left: YES {payload['yes_left']}, NO {payload['no_left']}; realised P&L "
        f"{payload['realized_pnl_change']}"
    )


def halt(
    reason: Annotated[
        str, typer.Option("--reason", help="Shown in the dashboard and logs.")
    ] = "halted by hand",
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
) -> None:
    """Make this wallet's running engine pull its quotes within a second (until `polymm resume`)."""
    address = trading.halt_engine(settings_for(venue, exchange_url, unsafe_url, paper=True), reason)
    typer.echo(f"halt requested for wallet {address}: its running engine pulls every quote within a second")


def resume(
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
) -> None:
    """Lift a halt (from `polymm halt` or `polymm cancel-all`): the running engine quotes again."""
    address, was = trading.resume_engine(settings_for(venue, exchange_url, unsafe_url, paper=True))
    typer.echo(f"resumed wallet {address}" if was else f"wallet {address} was not halted")
