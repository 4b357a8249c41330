"""Markets that resolve or close during a multi-market run, in virtual time on the in-process exchange:
the engine stops quoting that market and says so, keeps quoting the others, marks the resolved
positions at their payout, records the winner in the ledger, and ends the run when no market is left.
A market that stops accepting orders (seen as the venue's refusal) is dropped, not retried forever."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.venues.base import OrderIntent, PlaceResult
from tests.sim_world import SimWorld, market, settle, until

A = market("resolves-first")
B = market("resolves-later")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [A, B])
    yield w
    if w.task is not None and not w.task.done():
        await w.finish()
    w.close()


def status(world: SimWorld, cid: str) -> str:
    assert world.engine is not None
    [snap] = [m for m in world.engine.snapshot().markets if m.market.condition_id == cid]
    return snap.status


async def test_a_resolved_market_is_dropped_and_the_others_are_quoted_on(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.50", "10")  # 10 YES at 0.50 in A before the run
    world.book(A, "0.49", "0.51")
    world.book(B, "0.49", "0.51")
    engine = await world.start()
    assert world.quotes(A) and world.quotes(B)

    world.exchange.resolve(A.condition_id, "YES")
    await settle()
    await world.advance(1)

    assert world.quotes(A) == []
    assert engine.states[A.condition_id].closed == "resolved: Yes won"
    assert status(world, A.condition_id) == "resolved: Yes won"
    assert world.ledger.market_meta()[A.condition_id].winner == A.yes_token  # the fact `pnl` reads
    pnl = engine.market_pnl(A.condition_id)
    assert (pnl.resolved, pnl.unrealized_pnl, pnl.realized_pnl) == (True, D(0), D(5))  # 10 x (1 - 0.50)
    assert world.task is not None and not world.task.done()  # the run goes on for B

    world.book(B, "0.51", "0.53")  # B moves: it is requoted around 0.52
    await settle()
    assert {q.yes_price for q in world.quotes(B)} == {D("0.50"), D("0.54")}
    assert status(world, B.condition_id) == "quoting"

    world.exchange.resolve(B.condition_id, "NO")
    reason = await world.task
    assert reason.startswith("no market left to quote (")
    assert "resolves-first: resolved: Yes won" in reason and "resolves-later: resolved: No won" in reason
    assert world.quotes(B) == []
    assert [r.end_reason for r in world.ledger.runs()] == [reason]


async def test_a_market_that_stops_accepting_orders_is_dropped_not_retried(world: SimWorld) -> None:
    world.book(A, "0.49", "0.51")
    world.book(B, "0.49", "0.51")
    closed = replace(world.exchange.markets[A.condition_id], accepting_orders=False)
    world.exchange._replace_market(closed)  # the venue stops taking orders in A (no event says so)
    tried: list[str] = []
    place = world.venue.place

    async def counting(intents: Sequence[OrderIntent]) -> list[PlaceResult]:
        tried.extend(i.market for i in intents)
        return await place(intents)

    world.venue.place = counting  # type: ignore[method-assign]
    engine = world.make_engine(ticks=True)
    await world.start(engine)
    await until(lambda: engine.states[A.condition_id].closed is not None)
    attempts = tried.count(A.condition_id)

    for mid in ("0.55", "0.45", "0.52"):  # B moves, time passes (each tick re-decides A): only B is requoted
        world.book(B, str(D(mid) - D("0.01")), str(D(mid) + D("0.01")))
        await world.advance(1)

    assert tried.count(A.condition_id) == attempts <= 2  # the first decision's bid and ask, never again
    assert tried.count(B.condition_id) > 2
    assert "the market is not yet ready to process new orders" in str(engine.states[A.condition_id].closed)
    assert status(world, A.condition_id).startswith("closed: the venue refuses orders here")
    assert world.quotes(B) and world.task is not None and not world.task.done()


async def test_a_run_whose_only_market_closes_ends_after_the_grace(tmp_path: Path) -> None:
    world = SimWorld(tmp_path, [A])
    try:
        world.book(A, "0.49", "0.51")
        engine = await world.start(world.make_engine(ticks=True))
        world.exchange._replace_market(
            replace(world.exchange.markets[A.condition_id], accepting_orders=False)
        )
        world.exchange.cancel_where("bot")  # our quotes go; the engine's new ones are refused
        await until(lambda: engine.states[A.condition_id].closed is not None)
        assert world.task is not None and not world.task.done()  # the winner may still come
        await world.run_until(lambda: world.task is not None and world.task.done(), limit_s=30)
        assert world.task.result().startswith("no market left to quote (resolves-first: closed:")
    finally:
        if world.task is not None and not world.task.done():
            await world.finish()
        world.close()
