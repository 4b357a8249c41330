"""Service for `polymm pnl`: P&L from the ledger, per account, marked to the venue's mids when reachable.

The account shown is the one the settings trade: the configured venue and the wallet of the
configured key (the local wallet's key in the data dir for `local`), found without the network.
`all_accounts` adds every other account with records, each projected on its own: positions and
P&L of two wallets, or of the local exchange and Polymarket, never mix. Marks come from the
configured venue only, so only accounts of that venue are marked; another venue's accounts show
unrealised P&L as unknown rather than priced with this venue's (perhaps same-id) books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from polymm_cli.book import external_levels, mark, own_levels
from polymm_cli.clock import SystemClock
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, FlowRecord, Market
from polymm_cli.pnl import PnlReport as PnlReport  # re-exported: the views' type
from polymm_cli.pnl import day_start, project
from polymm_cli.services.guard import Action
from polymm_cli.services.venues import data_dir, on_venue, open_venue, settings_account
from polymm_cli.settings import Settings
from polymm_cli.venues.base import Venue


@dataclass(frozen=True)
class AccountPnl:
    account: Account
    report: PnlReport
    current: bool  # the account the settings trade
    marked: bool  # marked to the venue's mids (the current venue's accounts, when reachable)


@dataclass(frozen=True)
class PnlView:
    account: Account  # the current venue and wallet: `report` is its P&L
    report: PnlReport
    markets: dict[str, Market]
    cash: Decimal | None  # collateral at the venue, None when unreachable
    marked: bool  # whether the venue's mids were available
    venue_error: str
    accounts: tuple[AccountPnl, ...] = ()  # with all_accounts: every account, the current one included
    other_accounts: int = 0  # accounts in the ledger besides the current one (shown or not)


@dataclass(frozen=True)
class _Records:
    fills: list[FillRecord]
    flows: list[FlowRecord]
    markets: list[str]


def current_account(settings: Settings) -> Account:
    """The account the settings trade, known without the network (the key's wallet on the venue)."""
    return settings_account(settings)


def _records(directory: Path, accounts: list[Account]) -> dict[Account, _Records]:
    out: dict[Account, _Records] = {}
    for account in accounts:
        with Ledger.open(directory, account=account) as ledger:
            out[account] = _Records(ledger.fills(), ledger.flows(), ledger.markets())
    return out


def pnl(settings: Settings, market: str | None, *, all_accounts: bool = False) -> PnlView:
    """The current account's P&L (and, with `all_accounts`, every account's), from the ledger."""
    account = current_account(settings)
    directory = data_dir(settings)
    with Ledger.open(directory) as ledger:  # every account, read only
        known = set(ledger.accounts())
        recorded = ledger.market_meta()
    accounts = sorted(known | {account}, key=str) if all_accounts else [account]
    records = _records(directory, accounts)
    # Marks and market metadata come from the configured venue: only its accounts' markets.
    ids = sorted({cid for a, r in records.items() if a.venue == account.venue for cid in r.markets})

    async def marks_and_cash(url: str | None) -> tuple[dict[str, Market], dict[str, Decimal], Decimal | None]:
        async with open_venue(settings, SystemClock(), url) as handle:
            venue = handle.venue
            known: dict[str, Market] = {}
            marks: dict[str, Decimal] = {}
            for cid in ids:
                m = await _current(venue, recorded.get(cid), cid, SystemClock().now())
                known[cid] = m
                if m.payout_mark is not None:  # resolved: its tokens are worth what they pay
                    marks[cid] = m.payout_mark
                    continue
                book = await venue.book(m.yes_token)
                mine = await venue.open_orders(cid)  # a running bot's quotes are not the market
                ours = own_levels(m, ((o.token_id, o.side, o.price, o.remaining) for o in mine))
                at = mark(
                    *external_levels(book.bids, book.asks, ours, settings.dust_size or m.min_order_size)
                )
                if at is not None:
                    marks[cid] = at
            cash = (await venue.balances()).collateral
            return known, marks, cash

    error = ""
    markets: dict[str, Market] = dict(recorded)
    marks: dict[str, Decimal] = {}
    cash: Decimal | None = None
    try:
        live, marks, cash = on_venue(settings, marks_and_cash, action=Action.READ)
        markets.update(live)
    except VenueError as exc:
        error = str(exc)
    wanted = None if market is None else _wanted(market, markets, records)
    now = SystemClock().now()
    views = []
    for each, rec in records.items():
        fills = rec.fills if wanted is None else [f for f in rec.fills if f.market in wanted]
        flows = rec.flows if wanted is None else [f for f in rec.flows if f.market in wanted]
        ours = each.venue == account.venue
        report = project(fills, flows, markets, marks if ours else {}, day_start=day_start(now))
        views.append(AccountPnl(each, report, each == account, ours and bool(marks)))
    [mine] = [v for v in views if v.current]
    shown = tuple(views) if all_accounts else ()
    return PnlView(account, mine.report, markets, cash, bool(marks), error, shown, len(known - {account}))


async def _current(venue: Venue, recorded: Market | None, cid: str, now: float) -> Market:
    """The market as recorded, unless it has ended and the venue knows it resolved since (the run
    that quoted it may have stopped before): then the venue's, with its winner. Markets still
    running are not looked up (on Polymarket a look-up may read the whole listing)."""
    if recorded is not None and (recorded.resolved or not _ended(recorded, now)):
        return recorded
    try:
        live = await venue.market(cid)
    except UsageError:  # the venue no longer lists it: what the ledger recorded is all there is
        if recorded is None:
            raise
        return recorded
    return live if live.resolved or recorded is None else recorded


def _ended(market: Market, now: float) -> bool:
    """Whether the market's end date (ISO 8601) has passed; False when it has none or it is unreadable."""
    try:
        end = datetime.fromisoformat(market.end_date.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (end if end.tzinfo else end.replace(tzinfo=UTC)).timestamp() <= now


def _wanted(market: str, markets: dict[str, Market], records: dict[Account, _Records]) -> set[str]:
    """The condition ids `--market` names (a condition id, slug or token id); UsageError for none."""
    wanted = {cid for cid, m in markets.items() if market in (cid, m.slug, m.yes_token, m.no_token)}
    if not wanted and any(market in r.markets for r in records.values()):
        wanted = {market}
    if not wanted:
        raise UsageError(f"no fills or flows recorded for market {market!r}")
    return wanted
