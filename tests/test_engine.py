"""The quoting engine as behaviour: the seed bot's tests, through our design, on an in-process exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.clock import SystemClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, OrderType, Side
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.base import StreamStatus
from polymm_cli.venues.sim import SimVenue

FED = sample_markets()[0]  # tick 0.01, min size 5
BOT = "0x" + "b0" * 20
OTHER = "0x" + "0e" * 20


class World:
    """A quiet local exchange with one other trader (who makes the book) and our bot's venue."""

    def __init__(self, tmp_path: Path, settlement_s: float = 0.0) -> None:
        self.clock = SystemClock()
        self.exchange = LocalExchange(sample_markets(), self.clock, settlement=SettlementConfig(settlement_s))
        self.exchange.fund(BOT, D(1000))
        self.exchange.fund(OTHER, D(100000))
        self.exchange.split(OTHER, FED.condition_id, D(5000))
        self.venue = SimVenue(self.exchange, self.clock, address=BOT, owner="bot")
        self.ledger = Ledger.open(tmp_path, account=Account("local", BOT))
        self._ids = 0
        self.halt_reason: str | None = None

    def other_order(
        self, token: str, side: Side, price: str, size: str, kind: OrderType = OrderType.GTC
    ) -> str:
        self._ids += 1
        oid = f"0x{self._ids:064x}"
        self.exchange.submit(
            OrderRequest(oid, "other", OTHER, token, side, D(price), D(size), order_type=kind)
        )
        return oid

    def book_around(self, bid: str, ask: str) -> list[str]:
        """The other trader rests a YES bid and a YES ask (as a SELL of YES from its inventory)."""
        return [
            self.other_order(FED.yes_token, Side.BUY, bid, "100"),
            self.other_order(FED.yes_token, Side.SELL, ask, "100"),
        ]

    def engine(self, **params: object) -> QuotingEngine:
        quote_params = QuoteParams(
            spread=D(str(params.pop("spread", "0.04"))),
            size=D(str(params.pop("size", "10"))),
            position_limit=D(str(params.pop("position_limit", "100"))),
            requote_threshold=D(str(params.pop("requote_threshold", "0.005"))),
            skew_enabled=bool(params.pop("skew_enabled", False)),
        )
        return QuotingEngine(
            self.venue,
            self.ledger,
            self.clock,
            [FED],
            EngineConfig(params=quote_params, halt_poll_s=0.05, **params),  # type: ignore[arg-type]
            halt_check=lambda: self.halt_reason,
        )

    def our_quotes(self) -> set[tuple[str, str, str]]:
        return {
            ("YES" if o.token_id == FED.yes_token else "NO", o.side.value, str(o.price))
            for o in self.exchange.open_orders("bot")
        }


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    yield w
    w.ledger.close()


async def running(engine: QuotingEngine, stop: asyncio.Event) -> asyncio.Task[str]:
    return asyncio.create_task(engine.run(stop=stop))


async def test_mid_050_and_spread_004_quote_048_and_052(world: World) -> None:
    world.book_around("0.49", "0.51")
    stop = asyncio.Event()
    task = await running(world.engine(), stop)
    # the ask is quoted collateral-only as a BUY of NO at 1 - 0.52
    await until(lambda: world.our_quotes() == {("YES", "BUY", "0.48"), ("NO", "BUY", "0.48")})
    stop.set()
    assert await task == "stopped"
    assert world.our_quotes() == set()  # stopping cancels everything


async def test_a_mid_move_below_the_threshold_keeps_the_quotes(world: World) -> None:
    ids = world.book_around("0.49", "0.51")
    stop = asyncio.Event()
    engine = world.engine(requote_threshold="0.02")
    task = await running(engine, stop)
    await until(lambda: len(world.our_quotes()) == 2)
    first = set(engine.live)
    world.exchange.cancel("other", [ids[1]])
    world.other_order(FED.yes_token, Side.SELL, "0.52", "100")  # mid 0.505: a move below 0.02
    await asyncio.sleep(0.3)
    assert set(engine.live) == first
    stop.set()
    await task


async def test_a_mid_move_at_the_threshold_requotes(world: World) -> None:
    ids = world.book_around("0.49", "0.51")
    stop = asyncio.Event()
    engine = world.engine(requote_threshold="0.005")
    task = await running(engine, stop)
    await until(lambda: len(world.our_quotes()) == 2)
    world.exchange.cancel("other", [ids[1]])
    world.other_order(FED.yes_token, Side.SELL, "0.53", "100")  # mid 0.51
    await until(lambda: world.our_quotes() == {("YES", "BUY", "0.49"), ("NO", "BUY", "0.47")})
    stop.set()
    await task


async def test_at_the_position_limit_the_side_that_adds_exposure_is_skipped(world: World) -> None:
    world.book_around("0.45", "0.55")  # our 0.48 / 0.52 are the best prices
    stop = asyncio.Event()
    engine = world.engine(position_limit="10", size="10")
    task = await running(engine, stop)
    await until(lambda: len(world.our_quotes()) == 2)
    world.other_order(FED.yes_token, Side.SELL, "0.48", "10", OrderType.FAK)  # fills our YES bid: e = +10
    await until(lambda: engine.states[FED.condition_id].yes_position == D(10))
    await until(lambda: {q[1] for q in world.our_quotes()} == {"SELL"})  # only the ask: SELL the YES we hold
    stop.set()
    await task
    fills = world.ledger.fills(FED.condition_id)
    assert [(f.side, f.size, f.price) for f in fills] == [(Side.BUY, D(10), D("0.48"))]


async def test_an_unhealthy_feed_pulls_every_quote_and_health_brings_them_back(world: World) -> None:
    world.book_around("0.49", "0.51")
    stop = asyncio.Event()
    engine = world.engine()
    task = await running(engine, stop)
    await until(lambda: len(world.our_quotes()) == 2)
    market_stream = engine._streams[0]
    market_stream.put(StreamStatus(stream="market", connected=False, reason="test: silence", recv_ts=0.0))  # type: ignore[attr-defined]
    await until(lambda: world.our_quotes() == set())
    # a reconnect delivers a fresh snapshot before it says "connected" (the port's contract)
    market_stream.put(await world.venue.book(FED.yes_token))  # type: ignore[attr-defined]
    market_stream.put(StreamStatus(stream="market", connected=True, reason="test: back", recv_ts=0.0))  # type: ignore[attr-defined]
    await until(lambda: len(world.our_quotes()) == 2)
    stop.set()
    await task


async def test_no_book_means_no_quote(world: World) -> None:
    stop = asyncio.Event()
    engine = world.engine()
    task = await running(engine, stop)
    await until(lambda: engine.healthy)
    await asyncio.sleep(0.2)
    assert world.our_quotes() == set()
    assert engine.snapshot().markets[0].status == "waiting for a two-sided book"
    stop.set()
    await task


async def test_stopping_before_starting_is_safe(world: World) -> None:
    stop = asyncio.Event()
    stop.set()
    assert await world.engine().run(stop=stop) == "stopped"
    assert world.our_quotes() == set()


async def test_leftover_orders_are_cancelled_at_start(world: World) -> None:
    world.book_around("0.49", "0.51")
    leftover = (await world.venue.place([_intent("0.30")]))[0].order_id
    stop = asyncio.Event()
    task = await running(world.engine(), stop)
    await until(lambda: len(world.our_quotes()) == 2)
    assert leftover not in {o.order_id for o in world.exchange.open_orders("bot")}
    stop.set()
    await task


async def test_a_halt_pulls_quotes_within_a_second_and_nothing_is_placed_again(world: World) -> None:
    world.book_around("0.49", "0.51")
    stop = asyncio.Event()
    engine = world.engine()
    task = await running(engine, stop)
    await until(lambda: len(world.our_quotes()) == 2)
    world.halt_reason = "test kill switch"
    await until(lambda: world.our_quotes() == set(), timeout=1.0)
    await asyncio.sleep(0.3)
    assert world.our_quotes() == set()
    stop.set()
    assert await task == "halted: test kill switch"


async def test_the_same_fill_reported_many_times_is_one_fill(world: World) -> None:
    world.book_around("0.45", "0.55")
    stop = asyncio.Event()
    engine = world.engine()
    task = await running(engine, stop)
    await until(lambda: len(world.our_quotes()) == 2)
    world.other_order(FED.yes_token, Side.SELL, "0.48", "5", OrderType.FAK)
    await until(lambda: world.ledger.fill_count() == 1)
    for update in await world.venue.trades(FED.condition_id):  # a resync delivers it again
        engine._on_trade(update)
        engine._on_trade(update)
    assert world.ledger.fill_count() == 1
    stop.set()
    await task


def _intent(price: str) -> object:
    from polymm_cli.venues.base import OrderIntent

    return OrderIntent(
        market=FED.condition_id, token_id=FED.yes_token, side=Side.BUY, price=D(price), size=D(5)
    )
