"""Services for `polymm seed` (alias `split`), `polymm merge` and `polymm liquidate`.

Inventory moves through the chain port (the local exchange's loopback endpoints today; Polygon is
a later piece of work) and is recorded in the ledger as flows, so `polymm pnl` accounts for it.
`liquidate` refuses to run beside a `run` on the same wallet (the engine would requote into it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TypeVar

from polymm_cli.clock import SystemClock
from polymm_cli.errors import UsageError
from polymm_cli.ledger import Ledger
from polymm_cli.liquidation import LiquidationMode, exit_mode, pairs_to_merge, plan_exit
from polymm_cli.model import ZERO, FlowKind, Market, decimal_str, pair_flow
from polymm_cli.pnl import project
from polymm_cli.services.guard import Action, Consent
from polymm_cli.services.trading import wallet_lock
from polymm_cli.services.venues import VenueHandle, data_dir, on_venue, open_venue
from polymm_cli.settings import Settings
from polymm_cli.venues.base import Chain, OrderIntent, Venue, fill_record
from polymm_cli.venues.polymarket.chain import LocalChain, PolygonChainUnavailable

CENT = Decimal("0.01")
T = TypeVar("T")


def _chain(handle: VenueHandle) -> Chain:
    return LocalChain(handle.venue) if handle.name == "local" else PolygonChainUnavailable()


@dataclass(frozen=True)
class InventoryReport:
    market: Market
    amount: Decimal
    collateral: Decimal
    yes: Decimal
    no: Decimal


def seed(settings: Settings, ident: str, amount: Decimal, *, consent: Consent) -> InventoryReport:
    """Split `amount` pUSD into YES + NO so both sides can be quoted from inventory."""
    if amount <= 0:
        raise UsageError(f"--amount must be positive, got {amount}")
    amount = amount.quantize(CENT, rounding=ROUND_DOWN)
    directory = data_dir(settings)

    async def main(url: str | None) -> InventoryReport:
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            before = await handle.venue.balances([market.yes_token, market.no_token])
            if before.collateral < amount:
                raise UsageError(
                    f"not enough pUSD to split {decimal_str(amount)}: the wallet has "
                    f"{decimal_str(before.collateral)}"
                )
            await _chain(handle).split(market, amount)
            with Ledger.open(directory, account=handle.account) as ledger:
                ledger.record_market(market, clock.now())
                ledger.record_flow(
                    pair_flow(FlowKind.SPLIT, market.condition_id, amount, clock.now(), note="polymm seed")
                )
            after = await handle.venue.balances([market.yes_token, market.no_token])
            return InventoryReport(
                market,
                amount,
                after.collateral,
                after.tokens[market.yes_token],
                after.tokens[market.no_token],
            )

    return on_venue(
        settings,
        main,
        action=Action.TRADE,
        consent=consent,
        what=f"split {decimal_str(amount)} pUSD in {ident}",
    )


def merge(settings: Settings, ident: str, amount: Decimal | None, *, consent: Consent) -> InventoryReport:
    """Merge YES + NO pairs back to pUSD: `amount` pairs, or every pair held when None."""
    directory = data_dir(settings)

    async def main(url: str | None) -> InventoryReport:
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            held = await handle.venue.balances([market.yes_token, market.no_token])
            pairs = pairs_to_merge(held.tokens[market.yes_token], held.tokens[market.no_token]).quantize(
                CENT, rounding=ROUND_DOWN
            )
            wanted = pairs if amount is None else amount
            if wanted <= 0:
                yes, no = (decimal_str(held.tokens[t]) for t in market.tokens)
                raise UsageError(f"no YES+NO pairs to merge in {market.slug} (YES {yes}, NO {no})")
            if wanted > pairs:
                raise UsageError(f"cannot merge {decimal_str(wanted)} pairs: only {decimal_str(pairs)} held")
            await _chain(handle).merge(market, wanted)
            with Ledger.open(directory, account=handle.account) as ledger:
                ledger.record_market(market, clock.now())
                ledger.record_flow(
                    pair_flow(FlowKind.MERGE, market.condition_id, wanted, clock.now(), note="polymm merge")
                )
            after = await handle.venue.balances([market.yes_token, market.no_token])
            return InventoryReport(
                market,
                wanted,
                after.collateral,
                after.tokens[market.yes_token],
                after.tokens[market.no_token],
            )

    how_much = "every pair" if amount is None else f"{decimal_str(amount)} pairs"
    return on_venue(settings, main, action=Action.TRADE, consent=consent, what=f"merge {how_much} in {ident}")


@dataclass(frozen=True)
class LiquidationReport:
    market: Market
    mode: str
    cancelled: int
    merged: Decimal
    sold_yes: Decimal
    sold_no: Decimal
    yes_left: Decimal
    no_left: Decimal
    realized_change: Decimal  # realised P&L added by this liquidation (merge and sales)
    rounds: int
    note: str = ""  # why the mode used differs from the one asked for


def liquidate(
    settings: Settings,
    ident: str,
    mode: LiquidationMode,
    *,
    consent: Consent,
    max_rounds: int = 40,
    limit_wait_s: float = 30.0,
) -> LiquidationReport:
    """Cancel our orders, merge the pairs, then sell the rest with a ladder that respects the book."""
    if mode not in ("market", "limit", "passive"):
        raise UsageError(f"--mode must be market, limit or passive, got {mode!r}")
    directory = data_dir(settings)

    async def main(url: str | None) -> LiquidationReport:
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            venue = handle.venue
            market = await venue.market(ident)
            with (
                wallet_lock(directory, venue.address),
                Ledger.open(directory, account=handle.account) as ledger,
            ):
                ledger.record_market(market, clock.now())
                started = clock.now()
                realized_before = _realized(ledger, market)
                cancelled = len((await venue.cancel_all(market.condition_id)).canceled)
                held = await venue.balances([market.yes_token, market.no_token])
                yes, no = held.tokens[market.yes_token], held.tokens[market.no_token]
                merged = pairs_to_merge(yes, no).quantize(CENT, rounding=ROUND_DOWN)
                if merged > 0:
                    await _chain(handle).merge(market, merged)
                    ledger.record_flow(
                        pair_flow(
                            FlowKind.MERGE, market.condition_id, merged, clock.now(), note="polymm liquidate"
                        )
                    )
                yes0, no0 = yes - merged, no - merged
                rounds = 0
                # the mid when we began: the slippage floor hangs off it (none: no market-mode exit)
                book = await venue.book(market.yes_token)
                anchor = (book.bids[0].price + book.asks[0].price) / 2 if book.bids and book.asks else None
                used, note = exit_mode(mode, anchor)
                resting: list[str] = []
                while used != "passive" and rounds < max_rounds:
                    held = await venue.balances([market.yes_token, market.no_token])
                    yes, no = held.tokens[market.yes_token], held.tokens[market.no_token]
                    if max(yes, no) < market.min_order_size:
                        break
                    rounds += 1
                    book = await venue.book(market.yes_token)
                    orders = plan_exit(
                        market,
                        yes=yes,
                        no=no,
                        yes_bids=book.bids,
                        yes_asks=book.asks,
                        mode=used,
                        anchor_mid=anchor,
                    )
                    if not orders:
                        break  # nothing the book can take within the slippage bound: stop, never dump
                    results = await venue.place(
                        [
                            OrderIntent(
                                market=market.condition_id,
                                token_id=o.token_id,
                                side=o.side,
                                price=o.price,
                                size=o.size,
                                order_type=o.order_type,
                                post_only=o.order_type == "GTC",
                            )
                            for o in orders
                        ]
                    )
                    resting += [r.order_id for r in results if r.ok and r.intent.order_type == "GTC"]
                    if used == "limit":
                        await _wait_for_fills(venue, market, limit_wait_s)
                        break
                    await asyncio.sleep(0.5)  # one level a round: let the book refill before the next
                if resting:
                    await venue.cancel(resting)  # a limit exit that did not fill is not left behind
                for update in await venue.trades(market.condition_id, after=started - 60):
                    for fill in update.fills:
                        record = fill_record(update, fill, fee_exponent=market.fee_exponent)
                        if not ledger.record_fill(record):
                            ledger.record_status(
                                update.trade_id, fill.order_id, update.status, update.recv_ts
                            )
                held = await venue.balances([market.yes_token, market.no_token])
                yes_left, no_left = held.tokens[market.yes_token], held.tokens[market.no_token]
                return LiquidationReport(
                    market=market,
                    mode=used,
                    cancelled=cancelled,
                    merged=merged,
                    sold_yes=max(ZERO, yes0 - yes_left),
                    sold_no=max(ZERO, no0 - no_left),
                    yes_left=yes_left,
                    no_left=no_left,
                    realized_change=_realized(ledger, market) - realized_before,
                    rounds=rounds,
                    note=note,
                )

    return on_venue(settings, main, action=Action.TRADE, consent=consent, what=f"liquidate {ident} ({mode})")


async def _wait_for_fills(venue: Venue, market: Market, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if not await venue.open_orders(market.condition_id):
            return
        await asyncio.sleep(0.5)


def _realized(ledger: Ledger, market: Market) -> Decimal:
    cid = market.condition_id
    report = project(ledger.fills(cid), ledger.flows(cid), {cid: market}, {})
    return report.markets[0].realized_pnl if report.markets else ZERO
