"""`polymm markets list` and `polymm pnl`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from polymm_cli.cli.common import ExchangeUrlOption, JsonOption, VenueOption, dec, dumps, settings_for
from polymm_cli.services import markets as markets_service
from polymm_cli.services import reporting

markets_app = typer.Typer(no_args_is_help=True, help="Markets the venue lists.")


@markets_app.command("list")
def list_markets(
    sort: Annotated[str, typer.Option(help="volume, liquidity or rewards.")] = "volume",
    limit: Annotated[int, typer.Option(help="How many rows.")] = 20,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
) -> None:
    """Tradable markets: question, condition id, mid, spread, tick, minimum size, rewards, volume."""
    rows = markets_service.list_markets(settings_for(venue, exchange_url), sort=sort, limit=limit)
    if as_json:
        typer.echo(
            dumps(
                [
                    {
                        "question": r.market.question,
                        "slug": r.market.slug,
                        "condition_id": r.market.condition_id,
                        "yes_token": r.market.yes_token,
                        "no_token": r.market.no_token,
                        "mid": dec(r.mid),
                        "spread": dec(r.spread),
                        "tick_size": dec(r.market.tick_size),
                        "min_order_size": dec(r.market.min_order_size),
                        "neg_risk": r.market.neg_risk,
                        "reward_daily_rate": dec(r.market.rewards.daily_rate),
                        "reward_max_spread_cents": dec(r.market.rewards.max_spread_cents),
                        "reward_min_size": dec(r.market.rewards.min_size),
                        "volume": dec(r.volume),
                        "est_reward_per_day": dec(r.est_reward.quantize(Decimal("0.01"))),
                        "liquidity": dec(r.liquidity),
                        "end_date": r.market.end_date,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(title="markets")
    for name in (
        "question",
        "condition id",
        "mid",
        "spread",
        "tick",
        "min",
        "rewards/day",
        "max spread",
        "est. ours/day",
        "volume",
        "ends",
    ):
        table.add_column(name, overflow="fold")
    for r in rows:
        m = r.market
        table.add_row(
            m.question,
            m.condition_id[:10] + "…",
            dec(r.mid) or "-",
            dec(r.spread) or "-",
            dec(m.tick_size),
            dec(m.min_order_size),
            dec(m.rewards.daily_rate),
            f"{dec(m.rewards.max_spread_cents)}c",
            f"{r.est_reward:.2f}",
            dec(r.volume),
            m.end_date[:10],
        )
    Console().print(table)


def pnl(
    market: Annotated[str | None, typer.Option("--market", help="Only this market.")] = None,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
) -> None:
    """Positions and P&L from the ledger, marked to the venue's mids when it is reachable."""
    view = reporting.pnl(settings_for(venue, exchange_url), market)
    report = view.report
    items = [
        {
            "condition_id": m.condition_id,
            "slug": view.markets[m.condition_id].slug if m.condition_id in view.markets else None,
            "yes_position": dec(m.yes_position),
            "no_position": dec(m.no_position),
            "net_position": dec(m.net_position),
            "avg_cost_yes": dec(m.avg_cost_yes),
            "avg_cost_no": dec(m.avg_cost_no),
            "realized_pnl": dec(m.realized_pnl),
            "unrealized_pnl": dec(m.unrealized_pnl),
            "fees": dec(m.fees),
            "total_pnl": dec(m.total_pnl),
            "daily_pnl": dec(m.daily_pnl),
            "fills": m.fill_count,
            "provisional_fills": m.provisional_fill_count,
        }
        for m in report.markets
    ]
    payload = {
        "markets": items,
        "cash": dec(view.cash),
        "realized_pnl": dec(report.realized_pnl),
        "unrealized_pnl": dec(report.unrealized_pnl),
        "fees": dec(report.fees),
        "total_pnl": dec(report.total_pnl),
        "daily_pnl": dec(report.daily_pnl),
        "marked_to_venue": view.marked,
        "venue_error": view.venue_error or None,
    }
    if as_json:
        typer.echo(dumps(payload))
        return
    table = Table(title="P&L (from the ledger)")
    for name in (
        "market",
        "YES",
        "NO",
        "net",
        "avg YES",
        "avg NO",
        "realized",
        "unrealized",
        "fees",
        "total",
    ):
        table.add_column(name, justify="left" if name == "market" else "right")
    for item in items:
        cells: list[object] = [item["slug"] or str(item["condition_id"])[:12]]
        cells += [
            item[k]
            for k in (
                "yes_position",
                "no_position",
                "net_position",
                "avg_cost_yes",
                "avg_cost_no",
                "realized_pnl",
                "unrealized_pnl",
                "fees",
                "total_pnl",
            )
        ]
        table.add_row(*(str(c) if c is not None else "-" for c in cells))
    console = Console()
    console.print(table)
    console.print(
        f"total P&L {payload['total_pnl']}   cash {payload['cash'] or 'n/a'}"
        + ("" if view.marked else "   (venue unreachable: unrealized P&L unknown)")
    )
