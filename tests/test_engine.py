"""The quoting engine as behaviour: the seed bot's tests, through our design, in virtual time.

Scenarios on the in-process exchange (tests/sim_world.py): OTHER makes the book; assertions read our
resting orders at the exchange. Time moves only when a test says so, so "nothing changed for five
seconds" is exactly five seconds of the engine's own timers, not a real sleep that proves little.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.model import OrderType, Side
from polymm_cli.venues.base import OrderIntent, StreamStatus
from tests.sim_world import SimWorld, market, settle, until

M = market("engine")  # tick 0.01, min size 5


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [M])
    yield w
    if w.task is not None and not w.task.done():
        await w.finish()
    w.close()


def ours(w: SimWorld) -> set[tuple[str, str, str]]:
    """Our resting orders as (outcome, side, price in the order's own token)."""
    return {
        (q.token, q.order_side.value, str(q.yes_price if q.token == "YES" else 1 - q.yes_price))
        for q in w.quotes(M)
    }


async def test_mid_050_and_spread_004_quote_048_and_052(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")

    await world.start()

    # the ask is quoted collateral-only as a BUY of NO at 1 - 0.52
    assert ours(world) == {("YES", "BUY", "0.48"), ("NO", "BUY", "0.48")}
    assert await world.finish() == "stopped"
    assert world.quotes(M) == []  # stopping cancels everything


async def test_a_mid_move_below_the_threshold_keeps_the_quotes(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    engine = await world.start(world.make_engine(requote_threshold="0.02"))
    first = set(engine.live)

    world.book(M, "0.49", "0.52")  # mid 0.505: a move below 0.02
    await world.advance(5.0)

    assert set(engine.live) == first


async def test_a_mid_move_at_the_threshold_requotes(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    await world.start(world.make_engine(requote_threshold="0.005"))

    world.book(M, "0.49", "0.53")  # mid 0.51
    await world.advance(0.0)

    assert ours(world) == {("YES", "BUY", "0.49"), ("NO", "BUY", "0.47")}


async def test_a_chosen_width_follows_a_book_that_widens_around_the_same_mid(world: SimWorld) -> None:
    # The other makers pull both sides: the mid stays at 0.50, but a width polymm chose from the
    # touch must follow it, never stay alone far inside the book where the old touch was.
    world.book(M, "0.47", "0.53")  # 6 ticks wide: a tick inside the touch
    await world.start(world.make_engine(adaptive_spread=True))
    assert ours(world) == {("YES", "BUY", "0.48"), ("NO", "BUY", "0.48")}

    world.book(M, "0.44", "0.56")
    await world.advance(0.0)

    assert ours(world) == {("YES", "BUY", "0.45"), ("NO", "BUY", "0.45")}


async def test_a_set_spread_keeps_its_queue_when_the_book_widens_around_the_same_mid(
    world: SimWorld,
) -> None:
    world.book(M, "0.47", "0.53")
    engine = await world.start(world.make_engine(spread="0.04"))
    first, decisions = set(engine.live), engine.decisions

    world.book(M, "0.44", "0.56")
    await world.advance(5.0)

    assert set(engine.live) == first  # the same orders: our place in the queue is kept
    assert engine.decisions == decisions  # and the decision was skipped, not redone to the same end
    assert ours(world) == {("YES", "BUY", "0.48"), ("NO", "BUY", "0.48")}


async def test_at_the_position_limit_the_side_that_adds_exposure_is_skipped(world: SimWorld) -> None:
    world.book(M, "0.45", "0.55")  # our 0.48 / 0.52 are the best prices
    engine = await world.start(world.make_engine(position_limit="10", size="10"))

    assert world.other_take(M, "YES", Side.SELL, "0.48", "10")  # fills our YES bid: e = +10
    await world.advance(0.0)

    assert engine.states[M.condition_id].yes_position == D(10)
    assert {side for _, side, _ in ours(world)} == {"SELL"}  # only the ask: SELL the YES we hold
    assert [(f.side, f.size, f.price) for f in world.ledger.fills(M.condition_id)] == [
        (Side.BUY, D(10), D("0.48"))
    ]


async def test_an_unhealthy_feed_pulls_every_quote_and_health_brings_them_back(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    engine = await world.start()
    stream = engine._streams[0]

    stream.put(StreamStatus(stream="market", connected=False, reason="test: silence", recv_ts=0.0))  # type: ignore[attr-defined]
    await until(lambda: world.quotes(M) == [])
    # a reconnect delivers a fresh snapshot before it says "connected" (the port's contract)
    stream.put(await world.venue.book(M.yes_token))  # type: ignore[attr-defined]
    stream.put(StreamStatus(stream="market", connected=True, reason="test: back", recv_ts=0.0))  # type: ignore[attr-defined]

    await until(lambda: len(world.quotes(M)) == 2)


async def test_no_book_means_no_quote(world: SimWorld) -> None:
    engine = await world.start()

    await world.advance(5.0)

    assert world.quotes(M) == []
    assert engine.snapshot().markets[0].status == "waiting for a two-sided book"


async def test_stopping_before_starting_is_safe(world: SimWorld) -> None:
    engine = world.make_engine()
    world.stop.set()

    assert await engine.run(stop=world.stop) == "stopped"
    assert world.quotes(M) == []


async def test_leftover_orders_are_cancelled_at_start(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    leftover = OrderIntent(
        market=M.condition_id, token_id=M.yes_token, side=Side.BUY, price=D("0.30"), size=D(5)
    )
    [placed] = await world.venue.place([leftover])

    await world.start()

    assert placed.order_id not in {o.order_id for o in world.exchange.open_orders("bot")}
    assert len(world.quotes(M)) == 2


async def test_a_halt_pulls_quotes_within_a_second_and_nothing_is_placed_again(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    await world.start()

    world.halt_reason = "test kill switch"
    await world.advance(1.0, step=0.25)  # the halt file is polled every 0.25 s

    assert world.quotes(M) == []
    world.book(M, "0.47", "0.53")
    await world.advance(30.0)
    assert world.quotes(M) == []
    assert await world.finish() == "halted: test kill switch"


async def test_the_same_fill_reported_many_times_is_one_fill(world: SimWorld) -> None:
    world.book(M, "0.45", "0.55")
    engine = await world.start()
    world.other(M, "YES", Side.SELL, "0.48", "5", OrderType.FAK)
    await settle()
    assert world.ledger.fill_count() == 1

    for update in await world.venue.trades(M.condition_id):  # a resync delivers it again
        engine._on_trade(update)
        engine._on_trade(update)

    assert world.ledger.fill_count() == 1
