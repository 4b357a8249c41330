"""Service for `polymm pnl`: P&L from the ledger, marked to the venue's mids when it is reachable."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.clock import SystemClock
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.ledger import Ledger
from polymm_cli.model import Market
from polymm_cli.pnl import PnlReport, project
from polymm_cli.services.venues import data_dir, on_venue, open_venue
from polymm_cli.settings import Settings


@dataclass(frozen=True)
class PnlView:
    report: PnlReport
    markets: dict[str, Market]
    cash: Decimal | None  # collateral at the venue, None when unreachable
    marked: bool  # whether the venue's mids were available
    venue_error: str


def day_start(now: float) -> float:
    return now - (now % 86_400)


def pnl(settings: Settings, market: str | None) -> PnlView:
    directory = data_dir(settings)
    with Ledger.open(directory) as ledger:
        fills = ledger.fills()
        flows = ledger.flows()
        ids = ledger.markets()
        recorded = ledger.market_meta()

    async def marks_and_cash(url: str | None) -> tuple[dict[str, Market], dict[str, Decimal], Decimal | None]:
        async with open_venue(settings, SystemClock(), url) as handle:
            venue = handle.venue
            known: dict[str, Market] = {}
            marks: dict[str, Decimal] = {}
            for cid in ids:
                m = recorded.get(cid) or await venue.market(cid)
                known[cid] = m
                book = await venue.book(m.yes_token)
                if book.bids and book.asks:
                    marks[cid] = (book.bids[0].price + book.asks[0].price) / 2
            cash = (await venue.balances()).collateral
            return known, marks, cash

    error = ""
    markets: dict[str, Market] = dict(recorded)
    marks: dict[str, Decimal] = {}
    cash: Decimal | None = None
    try:
        live, marks, cash = on_venue(settings, marks_and_cash)
        markets.update(live)
    except VenueError as exc:
        error = str(exc)
    if market is not None:
        wanted = {cid for cid, m in markets.items() if market in (cid, m.slug, m.yes_token, m.no_token)}
        if not wanted and market in ids:
            wanted = {market}
        if not wanted:
            raise UsageError(f"no fills or flows recorded for market {market!r}")
        fills = [f for f in fills if f.market in wanted]
        flows = [f for f in flows if f.market in wanted]
    clock = SystemClock()
    report = project(fills, flows, markets, marks, day_start=day_start(clock.now()))
    return PnlView(report, markets, cash, bool(marks), error)
