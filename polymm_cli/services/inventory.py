"""Services for `polymm seed` (alias `split`), `polymm merge`, `polymm redeem` and `polymm liquidate`.

Inventory moves through the chain port (the local exchange's loopback endpoints, or Polygon
transactions through the pUSD collateral adapters) and is recorded in the ledger as flows, once
each (an on-chain flow keyed by its transaction hash), so `polymm pnl` accounts for it. Balances
are read where the chain moves them (on Polygon: from the contracts).
`liquidate` refuses to run beside a `run` on the same wallet (the engine would requote into it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import TypeVar

from polymm_cli.clock import SystemClock
from polymm_cli.engine.exit import exit_intents, merge_pairs
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.ledger import Ledger
from polymm_cli.liquidation import LiquidationMode, exit_mode, pairs_to_merge, plan_exit
from polymm_cli.model import ZERO, FlowKind, Market, decimal_str
from polymm_cli.pnl import project
from polymm_cli.services.guard import Action, Consent
from polymm_cli.services.trading import wallet_lock
from polymm_cli.services.venues import (
    VenueHandle,
    chain_of,
    check_chain_settings,
    data_dir,
    on_venue,
    open_venue,
    run_key,
)
from polymm_cli.settings import Settings
from polymm_cli.venues.base import Balances, Chain, ChainResult, Venue, chain_flow, fill_record

CENT = Decimal("0.01")
T = TypeVar("T")


@dataclass(frozen=True)
class InventoryReport:
    market: Market
    amount: Decimal  # pairs split or merged; for a redeem, the pUSD paid out
    collateral: Decimal
    yes: Decimal
    no: Decimal
    tx_hash: str | None = None  # the Polygon transaction (None on the local exchange)
    gas_pol: Decimal = ZERO


def _report(market: Market, amount: Decimal, result: ChainResult, after: Balances) -> InventoryReport:
    return InventoryReport(
        market,
        amount,
        after.collateral,
        after.tokens[market.yes_token],
        after.tokens[market.no_token],
        tx_hash=result.tx_hash,
        gas_pol=result.gas_pol,
    )


def _record(
    directory: Path,
    handle: VenueHandle,
    market: Market,
    kind: FlowKind,
    result: ChainResult,
    note: str,
    ts: float,
) -> None:
    with Ledger.open(directory, account=handle.account) as ledger:
        ledger.record_market(market, ts)
        ledger.record_flow(chain_flow(kind, market.condition_id, result, ts, note=note))


def seed(settings: Settings, ident: str, amount: Decimal, *, consent: Consent) -> InventoryReport:
    """Split `amount` pUSD into YES + NO so both sides can be quoted from inventory."""
    if amount <= 0:
        raise UsageError(f"--amount must be positive, got {amount}")
    amount = amount.quantize(CENT, rounding=ROUND_DOWN)
    directory = data_dir(settings)

    async def main(url: str | None) -> InventoryReport:
        check_chain_settings(settings)  # after the live guard, before anything is sent
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            chain = chain_of(handle)
            before = await chain.holdings(market)
            if before.collateral < amount:
                raise UsageError(
                    f"not enough pUSD to split {decimal_str(amount)}: the wallet has "
                    f"{decimal_str(before.collateral)}"
                )
            result = await chain.split(market, amount)
            _record(directory, handle, market, FlowKind.SPLIT, result, "polymm seed", clock.now())
            return _report(market, amount, result, await chain.holdings(market))

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
        check_chain_settings(settings)  # after the live guard, before anything is sent
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            chain = chain_of(handle)
            held = await chain.holdings(market)
            pairs = pairs_to_merge(held.tokens[market.yes_token], held.tokens[market.no_token]).quantize(
                CENT, rounding=ROUND_DOWN
            )
            wanted = pairs if amount is None else amount
            if wanted <= 0:
                yes, no = (decimal_str(held.tokens[t]) for t in market.tokens)
                raise UsageError(f"no YES+NO pairs to merge in {market.slug} (YES {yes}, NO {no})")
            if wanted > pairs:
                raise UsageError(f"cannot merge {decimal_str(wanted)} pairs: only {decimal_str(pairs)} held")
            result = await chain.merge(market, wanted)
            _record(directory, handle, market, FlowKind.MERGE, result, "polymm merge", clock.now())
            return _report(market, wanted, result, await chain.holdings(market))

    how_much = "every pair" if amount is None else f"{decimal_str(amount)} pairs"
    return on_venue(settings, main, action=Action.TRADE, consent=consent, what=f"merge {how_much} in {ident}")


def redeem(settings: Settings, ident: str, *, consent: Consent) -> InventoryReport:
    """After the market resolved: every YES and NO held -> pUSD (the winning side 1:1), recorded as
    a REDEEM flow (realised P&L: the payout minus the tokens' cost)."""
    directory = data_dir(settings)

    async def main(url: str | None) -> InventoryReport:
        check_chain_settings(settings)  # after the live guard, before anything is sent
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            chain = chain_of(handle)
            held = await chain.holdings(market)
            if not (held.tokens.get(market.yes_token) or held.tokens.get(market.no_token)):
                # a second redeem, or a wallet that never held the market: nothing sent, no flow
                name = market.slug or market.condition_id
                raise VenueError(f"no YES or NO of {name} held: nothing to redeem")
            result = await chain.redeem(market)
            _record(directory, handle, market, FlowKind.REDEEM, result, "polymm redeem", clock.now())
            return _report(market, result.collateral_delta, result, await chain.holdings(market))

    return on_venue(settings, main, action=Action.TRADE, consent=consent, what=f"redeem {ident}")


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
    """Cancel our orders, merge the pairs, then sell the rest with a ladder that respects the book
    (the same exit pieces as the engine's stop-loss: `engine.exit`)."""
    if mode not in ("market", "limit", "passive"):
        raise UsageError(f"--mode must be market, limit or passive, got {mode!r}")
    directory = data_dir(settings)

    async def main(url: str | None) -> LiquidationReport:
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            with (
                wallet_lock(directory, run_key(handle.account)),
                Ledger.open(directory, account=handle.account) as ledger,
            ):
                run = _Liquidation(handle, chain_of(handle), ledger, market, clock)
                return await run.go(mode, max_rounds=max_rounds, limit_wait_s=limit_wait_s)

    return on_venue(settings, main, action=Action.TRADE, consent=consent, what=f"liquidate {ident} ({mode})")


class _Liquidation:
    """One `polymm liquidate`: its steps, each short, over one venue, chain, ledger and market."""

    def __init__(self, handle: VenueHandle, chain: Chain, ledger: Ledger, market: Market, clock: SystemClock):
        self.venue, self.chain, self.ledger, self.market, self.clock = (
            handle.venue,
            chain,
            ledger,
            market,
            clock,
        )
        self.tokens = [market.yes_token, market.no_token]

    async def go(self, mode: LiquidationMode, *, max_rounds: int, limit_wait_s: float) -> LiquidationReport:
        market, started = self.market, self.clock.now()
        self.ledger.record_market(market, started)
        realized_before = _realized(self.ledger, market)
        cancelled = len((await self.venue.cancel_all(market.condition_id)).canceled)
        merged = await self._merge()
        yes0, no0 = await self._held()
        # the mid when we began: the slippage floor hangs off it (none: no market-mode exit)
        book = await self.venue.book(market.yes_token)
        anchor = (book.bids[0].price + book.asks[0].price) / 2 if book.bids and book.asks else None
        used, note = exit_mode(mode, anchor)
        rounds = await self._sell(used, anchor, max_rounds, limit_wait_s) if used != "passive" else 0
        await self._record_trades(since=started - 60)
        yes_left, no_left = await self._held()
        return LiquidationReport(
            market=market,
            mode=used,
            cancelled=cancelled,
            merged=merged,
            sold_yes=max(ZERO, yes0 - yes_left),
            sold_no=max(ZERO, no0 - no_left),
            yes_left=yes_left,
            no_left=no_left,
            realized_change=_realized(self.ledger, market) - realized_before,
            rounds=rounds,
            note=note,
        )

    async def _held(self) -> tuple[Decimal, Decimal]:
        held = await self.venue.balances(self.tokens)
        return held.tokens[self.market.yes_token], held.tokens[self.market.no_token]

    async def _merge(self) -> Decimal:
        merged = await merge_pairs(self.chain, self.market, *await self._held())
        if merged is None:
            return ZERO
        cid = self.market.condition_id
        self.ledger.record_flow(
            chain_flow(FlowKind.MERGE, cid, merged, self.clock.now(), note="polymm liquidate")
        )
        return merged.collateral_delta

    async def _sell(
        self, mode: LiquidationMode, anchor: Decimal | None, max_rounds: int, limit_wait_s: float
    ) -> int:
        """Rounds of the mode's orders until flat, the book takes nothing within the floor, or the
        rounds run out; a limit exit that did not fill is cancelled, never left behind."""
        resting: list[str] = []
        rounds = 0
        while rounds < max_rounds:
            yes, no = await self._held()
            if max(yes, no) < self.market.min_order_size:
                break
            rounds += 1
            book = await self.venue.book(self.market.yes_token)
            orders = plan_exit(
                self.market,
                yes=yes,
                no=no,
                yes_bids=book.bids,
                yes_asks=book.asks,
                mode=mode,
                anchor_mid=anchor,
            )
            if not orders:
                break  # nothing the book can take within the slippage bound: stop, never dump
            results = await self.venue.place(exit_intents(self.market, orders))
            resting += [r.order_id for r in results if r.ok and r.intent.order_type == "GTC"]
            if mode == "limit":
                await _wait_for_fills(self.venue, self.market, limit_wait_s)
                break
            await asyncio.sleep(0.5)  # one level a round: let the book refill before the next
        if resting:
            await self.venue.cancel(resting)
        return rounds

    async def _record_trades(self, *, since: float) -> None:
        for update in await self.venue.trades(self.market.condition_id, after=since):
            for fill in update.fills:
                record = fill_record(update, fill, fee_exponent=self.market.fee_exponent)
                if not self.ledger.record_fill(record):
                    self.ledger.record_status(update.trade_id, fill.order_id, update.status, update.recv_ts)


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
