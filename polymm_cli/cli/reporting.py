"""`polymm markets list` and `polymm pnl`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from polymm_cli.cli import views
from polymm_cli.cli.common import (
    ExchangeUrlOption,
    JsonOption,
    PaperFeedOption,
    UnsafeUrlOption,
    VenueOption,
    dec,
    dumps,
    settings_for,
)
from polymm_cli.model import Account, Market
from polymm_cli.services import markets as markets_service
from polymm_cli.services import reporting
from polymm_cli.services.markets import MarketRow
from polymm_cli.services.reporting import AccountPnl, PnlReport

markets_app = typer.Typer(no_args_is_help=True, help="Markets the venue lists.")


@markets_app.command("list")
def list_markets(
    sort: Annotated[str, typer.Option(help="volume, liquidity or rewards.")] = "volume",
    limit: Annotated[int, typer.Option(help="How many rows.")] = 20,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    paper_feed: PaperFeedOption = None,
) -> None:
    """Tradable markets: question, condition id, mid, spread, tick, minimum size, rewards, volume."""
    rows = markets_service.list_markets(
        settings_for(venue, exchange_url, unsafe_url, paper=True, paper_feed=paper_feed),
        sort=sort,
        limit=limit,
    )
    if as_json:
        typer.echo(dumps([_market_item(r) for r in rows]))
        return
    console = Console()
    console.print(views.markets_table(rows, console.width))


def _market_item(r: MarketRow) -> dict[str, object]:
    """One market of `markets list --json` (a stable shape: keys are only ever added)."""
    m = r.market
    return {
        "question": m.question,
        "slug": m.slug,
        "condition_id": m.condition_id,
        "yes_token": m.yes_token,
        "no_token": m.no_token,
        "mid": dec(r.mid),
        "spread": dec(r.spread),
        "tick_size": dec(m.tick_size),
        "min_order_size": dec(m.min_order_size),
        "neg_risk": m.neg_risk,
        "reward_daily_rate": dec(m.rewards.daily_rate),
        "reward_max_spread_cents": dec(m.rewards.max_spread_cents),
        "reward_min_size": dec(m.rewards.min_size),
        "volume": dec(r.volume),
        "est_reward_per_day": dec(r.est_reward.quantize(Decimal("0.01"))),
        "liquidity": dec(r.liquidity),
        "end_date": m.end_date,
    }


AllOption = Annotated[
    bool, typer.Option("--all", help="Every account in the ledger (venue and wallet), one after another.")
]


def pnl(
    market: Annotated[str | None, typer.Option("--market", help="Only this market.")] = None,
    all_accounts: AllOption = False,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    paper_feed: PaperFeedOption = None,
) -> None:
    """Positions and P&L of the current venue and wallet from the ledger, marked to the venue's mids
    when it is reachable; `--all` adds every other account the ledger holds."""
    view = reporting.pnl(
        settings_for(venue, exchange_url, unsafe_url, paper=True, paper_feed=paper_feed),
        market,
        all_accounts=all_accounts,
    )
    payload = {
        **_report_payload(view.report, view.markets),
        "cash": dec(view.cash),
        "marked_to_venue": view.marked,
        "venue_error": view.venue_error or None,
        "account": _account_payload(view.account),
    }
    if all_accounts:
        payload["accounts"] = [
            {
                "account": _account_payload(a.account),
                "current": a.current,
                "marked_to_venue": a.marked,
                **_report_payload(a.report, view.markets),
            }
            for a in view.accounts
        ]
    if as_json:
        typer.echo(dumps(payload))
        return
    console = Console()
    for shown in view.accounts or (AccountPnl(view.account, view.report, True, view.marked),):
        table = _pnl_table(shown, view.markets, console.width)
        console.print(table)
        total = f"total P&L {dec(shown.report.total_pnl)}"
        if shown.current:
            total += f"   cash {payload['cash'] or 'n/a'}"
            total += "" if view.marked else "   (venue unreachable: unrealized P&L unknown)"
        elif not shown.marked and shown.report.markets:
            total += "   (another venue: not marked, unrealized P&L unknown)"
        console.print(total)
        console.print(_income_line(shown.report))
    if view.other_accounts and not all_accounts:
        console.print(f"{view.other_accounts} other account(s) in the ledger: polymm pnl --all")


def _income_line(report: PnlReport) -> str:
    """The three kinds of income: what trading made, and the rewards and rebates the venue paid."""
    return (
        f"income: spread capture {dec(report.spread_capture)}   liquidity rewards {dec(report.rewards)}"
        f"   maker rebates {dec(report.rebates)}"
    )


def _account_payload(account: Account) -> dict[str, str]:
    return {"venue": account.venue, "wallet": account.wallet}


def _market_items(report: PnlReport, markets: dict[str, Market]) -> list[dict[str, object]]:
    return [
        {
            "condition_id": m.condition_id,
            "slug": markets[m.condition_id].slug if m.condition_id in markets else None,
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
            "spread_capture": dec(m.spread_capture),
            "rewards": dec(m.rewards),
            "rebates": dec(m.rebates),
            "fills": m.fill_count,
            "provisional_fills": m.provisional_fill_count,
            # "Yes"/"No" once the market resolved (marked at its payout, all realised), else None
            "winner": _winner(markets.get(m.condition_id)) if m.resolved else None,
        }
        for m in report.markets
    ]


def _winner(market: Market | None) -> str | None:
    return market.outcome_of(market.winner) if market is not None and market.resolved else None


def _report_payload(report: PnlReport, markets: dict[str, Market]) -> dict[str, object]:
    """The P&L keys of `pnl --json` (a stable shape: keys are only ever added)."""
    return {
        "markets": _market_items(report, markets),
        "realized_pnl": dec(report.realized_pnl),
        "unrealized_pnl": dec(report.unrealized_pnl),
        "fees": dec(report.fees),
        "total_pnl": dec(report.total_pnl),
        "daily_pnl": dec(report.daily_pnl),
        # income in its three kinds; they sum to total_pnl
        "spread_capture": dec(report.spread_capture),
        "rewards": dec(report.rewards),
        "rebates": dec(report.rebates),
    }


_COLUMNS = (
    ("YES", "yes_position"),
    ("NO", "no_position"),
    ("net", "net_position"),
    ("avg YES", "avg_cost_yes"),
    ("avg NO", "avg_cost_no"),
    ("realized", "realized_pnl"),
    ("unrealized", "unrealized_pnl"),
    ("fees", "fees"),
    ("total", "total_pnl"),
)


# what fits 80 columns beside a whole slug (`--json` has every figure): positions, P&L, net of fees
_NARROW_COLUMNS = ("YES", "NO", "realized", "unrealized", "total")
_FULL_WIDTH = 110


def _pnl_table(shown: reporting.AccountPnl, markets: dict[str, Market], width: int = 140) -> Table:
    """One row a market; a terminal narrower than 110 columns gets the essential figures, so the
    market's name stays readable (with every column, Rich cut it to "world-…" at 80)."""
    current = " (current)" if shown.current else ""
    table = Table(
        title=f"P&L of {shown.account.venue} wallet {shown.account.wallet}{current} (from the ledger)"
    )
    columns = [(n, k) for n, k in _COLUMNS if width >= _FULL_WIDTH or n in _NARROW_COLUMNS]
    table.add_column("market", justify="left", overflow="fold", min_width=12)
    for name, _ in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for item in _market_items(shown.report, markets):
        label = str(item["slug"] or str(item["condition_id"])[:12])
        cells: list[object] = [label + (f" (resolved: {item['winner']} won)" if item["winner"] else "")]
        cells += [item[key] for _, key in columns]
        table.add_row(*(str(c) if c is not None else "-" for c in cells))
    return table
