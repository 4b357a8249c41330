"""A market added to and one wound down from a running engine over the real adapter (WebSockets).

Adding or dropping a market re-subscribes the feeds: the new market and user streams open before the
old ones close and the engine's consumers switch over. Here, over the Polymarket adapter and a local
exchange: a market added mid-run gets its book and is quoted, a fill in a market quoted from the
start still reaches the ledger after the switch, and a market wound down has no order left.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from polymm_cli.clock import SystemClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, Side
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.base import OrderIntent
from tests.e2e.test_reconnect import account, crossing, exchange, until  # noqa: F401 (a fixture)

FED, BTC = sample_markets()[:2]
D = Decimal

pytestmark = pytest.mark.slow


def bid(market_id: str, token: str, price: str) -> OrderIntent:
    return OrderIntent(market=market_id, token_id=token, side=Side.BUY, price=D(price), size=D("100"))


async def test_a_market_added_mid_run_is_quoted_and_one_wound_down_is_left_with_no_order(
    exchange: ExchangeThread,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    async with (
        account(exchange, "maker") as maker,
        account(exchange, "taker") as taker,
        account(exchange, "bot", pusd=1000) as bot,
    ):
        # Arrange: books in both markets, the bot quoting FED only
        for result in await maker.place(
            [
                bid(FED.condition_id, FED.yes_token, "0.40"),
                bid(FED.condition_id, FED.no_token, "0.40"),
                bid(BTC.condition_id, BTC.yes_token, "0.300"),
                bid(BTC.condition_id, BTC.no_token, "0.660"),
            ]
        ):
            assert result.ok, result
        ledger = Ledger.open(tmp_path / "bot", account=Account("local", bot.address))
        params = QuoteParams(spread=D("0.04"), size=D("10"), position_limit=D("100"))
        engine = QuotingEngine(bot, ledger, SystemClock(), [FED], EngineConfig(params=params))
        stop = asyncio.Event()
        running = asyncio.create_task(engine.run(stop=stop))
        try:

            async def quoted(market_id: str) -> int:
                assert not running.done(), running.result()
                return len(await bot.open_orders(market_id))

            while await quoted(FED.condition_id) < 2:
                await asyncio.sleep(0.05)

            # Act 1: add BTC while running
            assert await engine.add_markets([BTC]) == [BTC.condition_id]
            while await quoted(BTC.condition_id) < 2:
                await asyncio.sleep(0.05)

            # Assert 1: the user stream switched too: a fill in FED after the switch is recorded
            [fed_quote, *_] = await bot.open_orders(FED.condition_id)
            [take] = await taker.place([crossing(fed_quote, D("5"))])
            assert take.ok, take
            await until(lambda: bool(ledger.fills(FED.condition_id)), 10, "the FED fill in the ledger")
            await until(lambda: engine.healthy, 5, "a healthy engine")

            # Act 2: wind FED down (it holds 5 shares: it stays, unquoted)
            report = await engine.retire_market(FED.condition_id, "test")
            await asyncio.sleep(1.0)  # decisions keep coming; none may quote FED again

            # Assert 2
            assert report.confirmed and not report.removed
            assert await quoted(FED.condition_id) == 0
            assert await quoted(BTC.condition_id) == 2
            assert engine.failure is None
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
            ledger.close()
        assert engine.stop_report is not None and engine.stop_report.confirmed
        assert await bot.open_orders() == []
