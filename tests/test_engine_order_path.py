"""The engine's act-at-the-edge step: by default (`overlap_cancels`) a requote's cancels and places go
out together when risk allows it (else the places wait for the cancels' confirmation), and a failed
cancel never loses a placed order; with `overlap_cancels` off the places always wait.

Scenarios on the in-process exchange (tests/sim_world.py); the venue's cancel is held open (or made
to fail) to see what the engine sends while a cancel has not answered.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from polymm_cli.engine import QuotingEngine
from polymm_cli.errors import VenueError
from polymm_cli.model import OurOrder, PriceLevel, Side
from polymm_cli.risk import PortfolioCaps
from polymm_cli.venues.base import CancelResult, OrderIntent
from tests.sim_world import SimWorld, market, until

M = market("order-path")  # tick 0.01, min size 5


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.49", "0.51")
    yield w
    if w.task is not None and not w.task.done():
        await w.finish()
    w.close()


def sequential(engine: QuotingEngine) -> QuotingEngine:
    engine.config = replace(engine.config, overlap_cancels=False)
    return engine


def resting_ids(w: SimWorld) -> set[str]:
    """Our orders resting at the exchange."""
    return {o.order_id for o in w.exchange.open_orders("bot", market=M.condition_id)}


class HeldCancel:
    """The venue's cancel and place, recorded in the order they happen (`log`: "place", "cancel",
    "cancelled"); a cancel waits for `release` before it is sent."""

    def __init__(self, w: SimWorld) -> None:
        self.release = asyncio.Event()
        self.cancels: list[list[str]] = []
        self.places: list[list[OrderIntent]] = []
        self.log: list[str] = []
        self._cancel, self._place = w.venue.cancel, w.venue.place
        w.venue.cancel, w.venue.place = self.cancel, self.place  # type: ignore[method-assign]

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult:
        self.cancels.append(list(order_ids))
        self.log.append("cancel")
        await self.release.wait()
        result = await self._cancel(order_ids)
        self.log.append("cancelled")
        return result

    async def place(self, intents: Sequence[OrderIntent]) -> Any:
        self.places.append(list(intents))
        self.log.append("place")
        return await self._place(intents)

    def placed_before_the_cancel_answered(self) -> bool:
        answered = self.log.index("cancelled") if "cancelled" in self.log else len(self.log)
        return "place" in self.log[:answered]


async def test_with_overlap_off_the_places_wait_for_the_cancels_confirmation(world: SimWorld) -> None:
    engine = await world.start(sequential(world.make_engine(spread="0.04", size="10", position_limit="100")))
    old = set(engine.live)
    held = HeldCancel(world)

    world.book(M, "0.49", "0.53")
    await until(lambda: bool(held.cancels), what="the cancel goes out")
    await asyncio.sleep(0.05)
    assert held.places == []

    held.release.set()
    await until(lambda: set(engine.live).isdisjoint(old) and len(engine.live) == 2, what="requoted")
    assert not held.placed_before_the_cancel_answered()
    assert len(held.places) == 1 and len(held.places[0]) == 2


async def test_a_requote_of_both_sides_sends_one_cancel_and_one_place_together(world: SimWorld) -> None:
    engine = await world.start(world.make_engine(spread="0.04", size="10", position_limit="100"))
    old = set(engine.live)
    held = HeldCancel(world)

    world.book(M, "0.49", "0.53")  # mid 0.51: both quotes move
    await until(lambda: bool(held.places and held.cancels), what="the places and the cancel go out")

    assert held.log == ["place", "cancel"]  # the places first, not waiting for the cancel's answer
    assert [sorted(c) for c in held.cancels] == [sorted(old)]  # one call for both old quotes
    assert len(held.places) == 1 and len(held.places[0]) == 2  # one call (one POST /orders) for both
    held.release.set()
    await until(lambda: set(engine.live).isdisjoint(old) and len(engine.live) == 2, what="requoted")
    assert {str(q.yes_price) for q in world.quotes(M)} == {"0.49", "0.53"}


async def test_places_that_would_breach_the_limit_beside_the_old_quotes_wait_for_the_cancel(
    world: SimWorld,
) -> None:
    # old bid 10 + new bid 10 could both fill: 20 > 15, so the new bid waits for the cancel
    engine = await world.start(world.make_engine(spread="0.04", size="10", position_limit="15"))
    old = set(engine.live)
    held = HeldCancel(world)

    world.book(M, "0.49", "0.53")
    await until(lambda: bool(held.cancels), what="the cancel goes out")
    await asyncio.sleep(0.05)
    assert held.places == []  # nothing placed while the cancel is unconfirmed

    held.release.set()
    await until(lambda: bool(held.places), what="the places follow the confirmation")
    assert not held.placed_before_the_cancel_answered()
    await until(lambda: set(engine.live).isdisjoint(old) and len(engine.live) == 2, what="requoted")


async def _the_places_wait_for_the_cancel(w: SimWorld, engine: QuotingEngine, bid: str, ask: str) -> None:
    """Move the book to `bid`/`ask` with the cancel held open: nothing is placed until it answers."""
    old = set(engine.live)
    held = HeldCancel(w)
    w.book(M, bid, ask)
    await until(lambda: bool(held.cancels), what="the cancel goes out")
    await asyncio.sleep(0.05)
    assert held.places == []
    held.release.set()
    await until(lambda: bool(held.places), what="the places follow the confirmation")
    assert not held.placed_before_the_cancel_answered()
    await until(lambda: set(engine.live).isdisjoint(old) and len(engine.live) == 2, what="requoted")


async def test_a_new_bid_at_or_above_our_old_ask_waits_for_the_cancel(world: SimWorld) -> None:
    # quotes 0.48 / 0.52; the mid goes to 0.54 (the book 0.51 / 0.57 does not reach our ask): the
    # new bid at 0.52 would meet our own old ask
    engine = await world.start(world.make_engine(spread="0.04", size="10", position_limit="100"))
    assert {str(q.yes_price) for q in world.quotes(M)} == {"0.48", "0.52"}
    await _the_places_wait_for_the_cancel(world, engine, "0.51", "0.57")
    assert {str(q.yes_price) for q in world.quotes(M)} == {"0.52", "0.56"}


async def test_a_sell_the_old_sell_still_locks_the_tokens_for_waits_for_the_cancel(world: SimWorld) -> None:
    # we hold 10 YES: the ask SELLs them; a second SELL of 10 beside the old one is not covered
    world.we_buy(M, "YES", "0.51", "10")
    engine = await world.start(world.make_engine(spread="0.04", size="10", position_limit="100"))
    assert any(q.order_side is Side.SELL and q.token == "YES" for q in world.quotes(M))
    await _the_places_wait_for_the_cancel(world, engine, "0.49", "0.53")


async def test_a_portfolio_cap_counts_the_orders_being_cancelled(world: SimWorld) -> None:
    # one quote filled: 10 x ~0.5 = ~5 pUSD of exposure, under the cap; the old and the new quote of
    # one side both filled: ~10, over it. So the new quotes wait for the old ones' cancel.
    caps = PortfolioCaps(max_total_exposure=D(8))
    engine = await world.start(world.make_engine(spread="0.04", size="10", position_limit="100", caps=caps))
    assert len(world.quotes(M)) == 2
    await _the_places_wait_for_the_cancel(world, engine, "0.49", "0.53")


async def test_a_failed_cancel_does_not_lose_the_orders_placed_beside_it(world: SimWorld) -> None:
    engine = await world.start(world.make_engine(spread="0.04", size="10", position_limit="100"))
    old = set(engine.live)
    real_cancel = world.venue.cancel
    failing = {"on": True}

    async def cancel(order_ids: Sequence[str]) -> CancelResult:
        if failing["on"]:
            await asyncio.sleep(0.01)  # answers after the places did
            raise VenueError("DELETE /orders failed: HTTP 503 (gave up after 2 attempts)", status=503)
        return await real_cancel(order_ids)

    world.venue.cancel = cancel  # type: ignore[method-assign]
    world.book(M, "0.49", "0.53")
    await until(lambda: "DELETE /orders failed" in engine.last_error, what="the cancel failed")

    resting = resting_ids(world)
    assert old < resting and len(resting) == 4  # the new quotes rest beside the old ones
    assert set(engine.live) == resting  # and the engine knows every one of them

    failing["on"] = False
    world.book(M, "0.49", "0.54")  # the next decision cancels what the failed call left
    await until(lambda: len(resting_ids(world)) == 2 and set(engine.live) == resting_ids(world))
    assert old.isdisjoint(resting_ids(world))


async def test_a_cancelled_order_the_feed_still_shows_is_not_counted_as_someone_elses(
    world: SimWorld,
) -> None:
    """The cancel answers before the feed drops the order: until the feed's level falls by its size
    (or `leaving.hold_s` passes), the book without us subtracts it, so no decision quotes around it."""
    engine = world.make_engine(spread="0.04", size="10", position_limit="100")  # not run: the feed is ours
    book = engine.books[M.yes_token]
    book.apply_snapshot(
        [PriceLevel(D("0.49"), D(50)), PriceLevel(D("0.48"), D(30))], [PriceLevel(D("0.51"), D(50))]
    )
    ours = OurOrder("o1", M.yes_token, Side.BUY, D("0.49"), D(10), market=M.condition_id, tag="bid")
    engine.live[ours.order_id] = ours

    async def cancel(order_ids: Sequence[str]) -> CancelResult:
        return CancelResult(canceled=tuple(order_ids), not_canceled={})

    world.venue.cancel = cancel  # type: ignore[method-assign]
    await engine._cancel(M.condition_id, ["o1"])
    assert "o1" not in engine.live

    def best_bid() -> tuple[str, str]:
        bids, _ = engine._external_levels(M, [])
        return str(bids[0].price), str(bids[0].size)

    assert best_bid() == ("0.49", "40")  # the feed still shows our 10 at 0.49: not someone else's
    book.apply_level(Side.BUY, D("0.49"), D(45))  # someone else left 5; ours is still shown
    assert best_bid() == ("0.49", "35")
    book.apply_level(Side.BUY, D("0.49"), D(35))  # the feed dropped ours (50 - 10 - 5)
    assert best_bid() == ("0.49", "35") and len(engine.leaving) == 0
    book.apply_level(Side.BUY, D("0.49"), D(45))  # someone else joined: all theirs
    assert best_bid() == ("0.49", "45")


async def test_a_cancelled_order_is_subtracted_for_a_bounded_time_only(world: SimWorld) -> None:
    """A feed that dropped the order before the cancel went out never shows the level fall: the
    subtraction ends after `hold_s`, so it cannot hide real size for long."""
    engine = world.make_engine(spread="0.04", size="10", position_limit="100")
    book = engine.books[M.yes_token]
    book.apply_snapshot([PriceLevel(D("0.49"), D(50))], [PriceLevel(D("0.51"), D(50))])
    ours = OurOrder("o1", M.yes_token, Side.BUY, D("0.49"), D(10), market=M.condition_id, tag="bid")
    engine.live[ours.order_id] = ours

    async def cancel(order_ids: Sequence[str]) -> CancelResult:
        return CancelResult(canceled=tuple(order_ids), not_canceled={})

    world.venue.cancel = cancel  # type: ignore[method-assign]
    await engine._cancel(M.condition_id, ["o1"])
    bids, _ = engine._external_levels(M, [])
    assert bids[0].size == D(40)
    world.clock.advance(engine.leaving.hold_s)
    bids, _ = engine._external_levels(M, [])
    assert bids[0].size == D(50) and len(engine.leaving) == 0


async def test_freeze_heap_freezes_the_start_up_heap_before_quoting(
    world: SimWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`polymm run` sets `freeze_heap`: a full collection while quoting then never scans the start-up
    heap (a ~100 ms pause in the tick bench); engines many to a process leave it off."""
    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(len(world.quotes(M))))
    engine = world.make_engine(spread="0.04", size="10", position_limit="100")
    await world.start(sequential(engine))
    assert frozen == []  # off by default
    await world.finish()

    engine = world.make_engine(spread="0.04", size="10", position_limit="100")
    engine.config = replace(engine.config, freeze_heap=True)
    world.stop.clear()
    await world.start(engine)
    assert frozen == [0]  # once, before the first quote


def test_polymm_run_freezes_the_heap_and_overlaps_cancels() -> None:
    from polymm_cli.services.trading import engine_config
    from polymm_cli.settings import Settings

    config = engine_config(Settings())
    assert config.freeze_heap and config.overlap_cancels


def test_a_backtest_never_freezes_the_heap_of_the_process_that_replays_many_sessions() -> None:
    """`polymm backtest` and the sweeps replay many sessions in one process: a frozen heap would keep
    every earlier session's cycles forever."""
    from polymm_cli.backtest.replay import backtest_config
    from polymm_cli.services.trading import engine_config
    from polymm_cli.settings import Settings

    assert not backtest_config(engine_config(Settings())).freeze_heap
