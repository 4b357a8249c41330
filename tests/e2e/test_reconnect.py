"""The engine over the real adapter loses its WebSocket mid-run while its quotes are hit.

In process: a local exchange (no synthetic flow, instant settlement), another account making the
book, a taker, and the bot (QuotingEngine + PolymarketVenue + its own ledger). The exchange first goes
silent (`ws_stall`: every frame is dropped, so the fills' events are lost for sure, not just late),
the taker crosses the bot's quotes, then the exchange drops every socket (`ws_drop`). The bot must
notice, never quote while blind, reconnect, resync over REST, and record every fill exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from polymm_cli.clock import SystemClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, Side, TradeStatus
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.base import OpenOrder, OrderIntent
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from tests.conftest import fund, start_exchange, throwaway_key

FED = sample_markets()[0]  # 0.01 tick, minimum size 5
D = Decimal

pytestmark = pytest.mark.slow

# short reconnect backoffs and HTTP retries, as in the venue contract tests
KNOBS: dict[str, Any] = {
    "reconnect_backoff_base_s": 0.05,
    "reconnect_backoff_cap_s": 0.5,
    "http_backoff_base_s": 0.05,
    "http_backoff_cap_s": 0.5,
    "resync_margin_s": 5.0,
}


@pytest.fixture
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


@asynccontextmanager
async def account(exchange: ExchangeThread, label: str, pusd: int = 10_000) -> AsyncIterator[PolymarketVenue]:
    venue = PolymarketVenue(
        PolymarketConfig.for_local_exchange(
            exchange.url, SecretStr(throwaway_key(f"e2e-reconnect:{label}")), **KNOBS
        ),
        SystemClock(),
    )
    await venue.start()
    await asyncio.to_thread(fund, exchange, venue.address, pusd)
    try:
        yield venue
    finally:
        await venue.close()


def set_faults(exchange: ExchangeThread, **changes: object) -> None:
    httpx.post(f"{exchange.url}/_local/faults", json=changes).raise_for_status()


def buy(token: str, price: Decimal, size: Decimal, **extra: Any) -> OrderIntent:
    return OrderIntent(
        market=FED.condition_id, token_id=token, side=Side.BUY, price=price, size=size, **extra
    )


def crossing(order: OpenOrder, size: Decimal) -> OrderIntent:
    """A taker's FAK that trades `size` against one of the bot's resting orders at its price."""
    if order.side is Side.BUY:  # buy the complement: a mint against the bot's BUY
        return buy(FED.complement(order.token_id), 1 - order.price, size, order_type="FAK", post_only=False)
    return buy(order.token_id, order.price, size, order_type="FAK", post_only=False)


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def test_fills_made_while_the_websocket_is_down_are_resynced_into_the_ledger_exactly_once(
    exchange: ExchangeThread, tmp_path: Path
) -> None:
    # Long on purpose: one journey end to end (arrange, act, assert); split, its order would be hidden.
    async with (
        account(exchange, "maker") as maker,
        account(exchange, "taker") as taker,
        account(exchange, "bot", pusd=1000) as bot,
    ):
        # Arrange: a book 0.40 / 0.60 (the maker's NO bid at 0.40 is the YES ask at 0.60) and the bot
        # quoting inside it
        for result in await maker.place(
            [buy(FED.yes_token, D("0.40"), D("100")), buy(FED.no_token, D("0.40"), D("100"))]
        ):
            assert result.ok, result
        decisions: list[dict[str, Any]] = []
        ledger = Ledger.open(tmp_path / "bot", account=Account("local", bot.address))
        params = QuoteParams(spread=D("0.04"), size=D("10"), position_limit=D("100"))
        engine = QuotingEngine(
            bot, ledger, SystemClock(), [FED], EngineConfig(params=params), on_decision=decisions.append
        )
        stop = asyncio.Event()
        running = asyncio.create_task(engine.run(stop=stop))
        try:
            quotes: list[OpenOrder] = []

            async def two_quotes() -> bool:
                nonlocal quotes
                quotes = await bot.open_orders(FED.condition_id)
                return len(quotes) == 2

            while not await two_quotes():
                assert not running.done(), running.result()
                await asyncio.sleep(0.05)
            await until(lambda: engine.healthy, 5, "a healthy engine")

            # Act: silence, the taker fills one quote whole and the other in part, then the drop
            set_faults(exchange, ws_stall=True)
            first, second = sorted(quotes, key=lambda o: o.order_id)
            for order, size in ((first, first.remaining), (second, D("5"))):
                [take] = await taker.place([crossing(order, size)])
                assert take.ok and take.status == "matched", take
            at_drop = len(decisions)
            set_faults(exchange, ws_drop=True, ws_stall=False)

            # the bot notices, reconnects, resyncs the gap's fills and quotes again
            gap = {(f.trade_id, f.order_id) for u in await bot.trades(FED.condition_id) for f in u.fills}
            assert len(gap) == 2
            await until(lambda: gap <= {f.key for f in ledger.fills()}, 10, "the gap's fills in the ledger")
            await until(
                lambda: engine.healthy and any(d["places"] and d["healthy"] for d in decisions[at_drop:]),
                10,
                "quoting again after the reconnect",
            )
            await until(
                lambda: all(f.status is TradeStatus.CONFIRMED for f in ledger.fills()), 10, "settlement"
            )
            position = engine.states[FED.condition_id]
            held = (position.yes_position, position.no_position)
        finally:
            stop.set()
            reason = await running
        at_exchange = await bot.trades(FED.condition_id)
        balances = await bot.balances(list(FED.tokens))
        left_open = await bot.open_orders()
        recorded = ledger.fills()
        ledger.close()

    # Assert: every fill the exchange has for the bot is in the ledger, exactly once
    assert reason == "stopped"
    exchange_keys = sorted((u.trade_id, f.order_id) for u in at_exchange for f in u.fills)
    ledger_keys = sorted(f.key for f in recorded)
    assert ledger_keys == exchange_keys
    assert len(set(ledger_keys)) == len(ledger_keys) == engine.fill_count
    assert gap <= set(ledger_keys)
    # the fills' terms match, and so do the positions the engine traded on
    sizes = {
        (u.trade_id, f.order_id): (f.token_id, f.side, f.price, f.size) for u in at_exchange for f in u.fills
    }
    assert {f.key: (f.token_id, f.side, f.price, f.size) for f in recorded} == sizes
    assert held == (balances.tokens[FED.yes_token], balances.tokens[FED.no_token])
    assert sum(f.size for f in recorded) >= first.remaining + D("5")
    # never quoted blind: no order was placed by a decision taken while unhealthy
    assert all(d["healthy"] for d in decisions if d["places"])
    assert any(not d["healthy"] for d in decisions[at_drop:]), "the drop went unnoticed"
    assert left_open == []
