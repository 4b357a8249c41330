"""Accounts kept apart in one ledger: the engine's startup resync looks at its own venue, wallet and
market only, so no other record can hide a fill made while it was down.

The scenario of the issue: the bot crashed with a bid resting; while it was down the bid filled. On
restart the engine asks the venue for the trades since the last fill IT recorded in that market
(minus a margin). A later fill recorded by another account (a demo wallet on the local exchange, or
the same address on another venue), or by itself in another market, must not move that window past
the missed fill: the fill would then never reach the ledger, and positions and P&L would be wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.clock import ManualClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, OrderType, Side, TradeStatus
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.sim import SimVenue

FED, BTC, _, _ = sample_markets()
BOT = "0x" + "b0" * 20
OTHER = "0x" + "0e" * 20
OURS = Account("local", BOT)
CRASH_WINDOW_S = 600.0  # the missed fill is this old when the bot restarts: beyond any resync margin


def recorded_fill(trade_id: str, market: str, token: str, venue_ts: float) -> FillRecord:
    return FillRecord(
        trade_id=trade_id,
        order_id=f"order-{trade_id}",
        market=market,
        token_id=token,
        side=Side.BUY,
        price=D("0.40"),
        size=D("5"),
        fee=D(0),
        liquidity="MAKER",
        status=TradeStatus.CONFIRMED,
        venue_ts=venue_ts,
        recv_ts=venue_ts,
    )


def fill_while_the_bot_was_down(clock: ManualClock) -> LocalExchange:
    """An exchange where the bot's resting FED bid was filled, then CRASH_WINDOW_S passed."""
    exchange = LocalExchange(sample_markets(), clock, settlement=SettlementConfig(0.0))
    exchange.fund(BOT, D(1000))
    exchange.fund(OTHER, D(100_000))
    exchange.split(OTHER, FED.condition_id, D(5000))
    exchange.submit(OrderRequest("0x" + "b1" * 32, "bot", BOT, FED.yes_token, Side.BUY, D("0.45"), D("10")))
    exchange.submit(
        OrderRequest(
            "0x" + "e1" * 32, "other", OTHER, FED.yes_token, Side.SELL, D("0.45"), D("10"), OrderType.FAK
        )
    )
    clock.advance(CRASH_WINDOW_S)
    return exchange


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def restart_and_resync(exchange: LocalExchange, clock: ManualClock, ledger: Ledger) -> None:
    """Start the bot's engine on FED, let its startup resync run, and stop it."""
    venue = SimVenue(exchange, clock, address=BOT, owner="bot", dead_mans_switch=False)
    params = QuoteParams(spread=D("0.04"), size=D("5"), position_limit=D("100"))
    engine = QuotingEngine(
        venue, ledger, clock, [FED], EngineConfig(params=params, settle_timeout_s=0, halt_poll_s=3600)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop=stop))
    await until(lambda: engine.user_stream or task.done())  # the user stream starts after the resync
    stop.set()
    await task


LATER_RECORDS = {
    "a demo wallet's later fill": (Account("local", "0x" + "de" * 20), FED),
    "the same address's later fill on another venue": (Account("polymarket", BOT), FED),
    "our own later fill in another market": (OURS, BTC),
}


@pytest.mark.parametrize(("owner", "market"), LATER_RECORDS.values(), ids=list(LATER_RECORDS))
async def test_a_later_fill_of_another_account_or_market_does_not_hide_a_fill_missed_while_down(
    tmp_path: Path, owner: Account, market: object
) -> None:
    # Arrange: our last recorded FED fill is from before the crash; another record is later than all
    clock = ManualClock()
    before_crash = clock.now() - 3600
    exchange = fill_while_the_bot_was_down(clock)
    with Ledger.open(tmp_path, account=owner) as other:
        assert isinstance(market, type(FED))
        other.record_fill(recorded_fill("later", market.condition_id, market.yes_token, clock.now() + 60))
    ledger = Ledger.open(tmp_path, account=OURS)
    ledger.record_fill(recorded_fill("before-crash", FED.condition_id, FED.yes_token, before_crash))

    # Act
    try:
        await restart_and_resync(exchange, clock, ledger)
        ours = [(f.trade_id, f.size, f.price) for f in ledger.fills(FED.condition_id)]
    finally:
        ledger.close()

    # Assert: the fill made while the bot was down is in its ledger
    [missed] = exchange.trades_for("bot", market=FED.condition_id)
    assert ours == [("before-crash", D(5), D("0.40")), (missed.trade_id, D(10), D("0.45"))]


@pytest.mark.parametrize("outcome", [TradeStatus.CONFIRMED, TradeStatus.FAILED])
async def test_a_fill_still_settling_at_a_crash_gets_its_final_status_at_restart(
    tmp_path: Path, outcome: TradeStatus
) -> None:
    """The bot saw a fill MATCHED, then a later fill, then crashed; the first one settled (or failed:
    a ghost fill) while it was down. Asking only for trades since the LAST fill would leave the first
    one provisional for good, with cash and positions wrong after a FAILED."""
    # Arrange
    clock = ManualClock()
    fail_rate = 1.0 if outcome is TradeStatus.FAILED else 0.0
    exchange = LocalExchange(sample_markets(), clock, settlement=SettlementConfig(120.0, fail_rate))
    exchange.fund(BOT, D(1000))
    exchange.fund(OTHER, D(100_000))
    exchange.split(OTHER, FED.condition_id, D(5000))
    exchange.submit(OrderRequest("0x" + "b1" * 32, "bot", BOT, FED.yes_token, Side.BUY, D("0.45"), D("10")))
    exchange.submit(
        OrderRequest(
            "0x" + "e1" * 32, "other", OTHER, FED.yes_token, Side.SELL, D("0.45"), D("10"), OrderType.FAK
        )
    )
    [matched] = exchange.trades_for("bot", market=FED.condition_id)
    ledger = Ledger.open(tmp_path, account=OURS)
    seen = recorded_fill(matched.trade_id, FED.condition_id, FED.yes_token, clock.now())
    ledger.record_fill(
        replace(seen, order_id="0x" + "b1" * 32, price=D("0.45"), size=D(10), status=TradeStatus.MATCHED)
    )
    ledger.record_fill(recorded_fill("later", FED.condition_id, FED.yes_token, clock.now() + 3600))
    clock.advance(7200)  # the bot is down; the first trade settles
    exchange.advance()

    # Act
    try:
        await restart_and_resync(exchange, clock, ledger)
        statuses = {f.trade_id: f.status for f in ledger.fills(FED.condition_id)}
    finally:
        ledger.close()

    # Assert
    assert statuses == {matched.trade_id: outcome, "later": TradeStatus.CONFIRMED}
