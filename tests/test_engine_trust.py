"""The mid must be trustworthy before we quote around it: dust, a fresh book, confirmed jumps.

Scenarios on the in-process exchange (tests/sim_world.py): OTHER makes the book; assertions read our
resting orders at the exchange. The rules themselves are in polymm_cli/trust.py (tests/test_trust.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from polymm_cli.model import Side
from polymm_cli.venues.base import LastTrade, StreamStatus
from tests.sim_world import SimWorld, market, settle, until

M = market("trusted")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.47", "0.53")  # our quotes (spread 0.04): 0.48 / 0.52
    yield w
    if w.task is not None and not w.task.done():
        await w.finish()
    w.close()


def prices(w: SimWorld) -> list[tuple[str, D]]:
    return sorted((q.side, q.yes_price) for q in w.quotes(M))


async def warmed_up(w: SimWorld, expected: list[tuple[str, D]] | None = None, **engine: Any) -> None:
    """Quoting (`expected`, by default 0.48 / 0.52), past the book's warm-up (three updates after
    the snapshot: far-away orders)."""
    w.make_engine(**engine)
    await w.start()
    for price in ("0.10", "0.11", "0.12"):
        w.other(M, "YES", Side.BUY, price, "100")
        await settle()
    expected = expected or [("ask", D("0.52")), ("bid", D("0.48"))]
    await until(lambda: prices(w) == expected, what=f"quoting {expected}")


async def test_a_one_share_order_at_the_top_never_moves_our_quotes(world: SimWorld) -> None:
    await warmed_up(world)

    # a 1-share bid inside everything: what a 5-share order leaves once 4 are taken (the minimum is 5)
    world.other(M, "YES", Side.BUY, "0.50", "5")
    assert world.other_take(M, "YES", Side.SELL, "0.50", "4")
    await settle()
    assert (Side.BUY, D("0.50"), D("1")) in world.other_orders(M)
    await world.advance(1.0)

    assert prices(world) == [("ask", D("0.52")), ("bid", D("0.48"))]


async def test_a_one_share_order_is_not_the_mid_but_our_post_only_quotes_never_reach_it(
    world: SimWorld,
) -> None:
    """Dust does not move the mid (still 0.50), but a post-only bid touching a 1-share ask would be
    refused: the bid stays one tick short of it."""
    world.other(M, "YES", Side.SELL, "0.48", "5")
    assert world.other_take(M, "YES", Side.BUY, "0.48", "4")
    assert (Side.SELL, D("0.48"), D("1")) in world.other_orders(M)

    await warmed_up(world, expected=[("ask", D("0.52")), ("bid", D("0.47"))])


async def test_an_order_of_the_market_minimum_at_the_top_does_move_them(world: SimWorld) -> None:
    """The control: the same order at the market's minimum size (5) is the market."""
    await warmed_up(world)

    world.other(M, "YES", Side.BUY, "0.50", "5")
    await settle()

    await until(lambda: prices(world) != [("ask", D("0.52")), ("bid", D("0.48"))], what="requoted")


async def test_a_jump_nobody_confirmed_pulls_our_quotes_until_a_trade_confirms_it(world: SimWorld) -> None:
    await warmed_up(world)
    engine = world.engine
    assert engine is not None

    world.book(M, "0.67", "0.73")  # 20c in one burst, no trade there
    await settle()
    await world.advance(1.0)

    assert world.quotes(M) == []
    assert "mid jumped from 0.50 to 0.70" in engine.snapshot().markets[0].last_decision

    trade = LastTrade(
        market=M.condition_id,
        token_id=M.yes_token,
        price=D("0.70"),
        size=D("20"),
        taker_side=Side.BUY,
        fee_rate_bps=D(0),
        venue_ts=0.0,
        recv_ts=0.0,
    )
    engine._on_market_event(trade)  # the feed reports a trade at the new level

    await until(lambda: prices(world) == [("ask", D("0.72")), ("bid", D("0.68"))], what="confirmed")


async def test_a_jump_that_holds_long_enough_is_quoted_around(world: SimWorld) -> None:
    await warmed_up(world, ticks=True)

    world.book(M, "0.67", "0.73")
    await settle()
    assert world.quotes(M) == [] or prices(world) == [("ask", D("0.52")), ("bid", D("0.48"))]
    for price in ("0.20", "0.21"):  # the new book keeps updating...
        world.other(M, "YES", Side.BUY, price, "100")
        await settle()
    await world.advance(1.0)
    assert world.quotes(M) == []  # ...but not for long enough yet

    await world.advance(3.0)  # held for the confirmation time (3 s)

    await until(lambda: prices(world) == [("ask", D("0.72")), ("bid", D("0.68"))], what="held")


async def test_after_the_feed_comes_back_nothing_is_quoted_until_a_fresh_snapshot(world: SimWorld) -> None:
    await warmed_up(world)
    engine = world.engine
    assert engine is not None
    stream = engine._streams[0]

    stream.put(StreamStatus(stream="market", connected=False, reason="test: lost", recv_ts=0.0))  # type: ignore[attr-defined]
    await until(lambda: world.quotes(M) == [], what="pulled while the feed is down")
    stream.put(StreamStatus(stream="market", connected=True, reason="test: back", recv_ts=0.0))  # type: ignore[attr-defined]
    await settle()
    await world.advance(1.0)
    assert world.quotes(M) == []
    assert "no fresh book" in engine.snapshot().markets[0].last_decision

    stream.put(await world.venue.book(M.yes_token))  # type: ignore[attr-defined]

    await until(lambda: len(world.quotes(M)) == 2, what="quoting on the fresh snapshot")


async def test_a_warming_up_book_is_quoted_around_its_depth_weighted_mid(world: SimWorld) -> None:
    """A thin top (6 shares at 0.49 over 100 at 0.40) cannot drag the first quotes: the top mid is
    0.52, the depth-weighted one (50 shares a side) (0.4108 + 0.55) / 2 = 0.4804."""
    world.book(M, [("0.49", "6"), ("0.40", "100")], [("0.55", "100")])
    world.make_engine(spread="0.10")
    await world.start()

    await until(lambda: len(world.quotes(M)) == 2, what="quoting")
    engine = world.engine
    assert engine is not None
    decision = engine.snapshot().markets[0].last_decision
    assert "mid = depth-weighted (book warming up" in decision and decision.endswith(" 0.4804"), decision
