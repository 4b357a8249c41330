"""A supervised engine: any background task that dies stops the run safely.

Each scenario starts a quoting engine on the in-process exchange, breaks one piece of it while it runs
(the ledger, the market feed, a decision, the heartbeat, a stream that ends), and checks what a user
relies on: our quotes are gone AT THE EXCHANGE, `run()` raises EngineFailure naming the task and the
cause, and the ledger records how the run ended.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from polymm_cli.clock import SystemClock
from polymm_cli.engine import loop as engine_module
from polymm_cli.errors import EngineFailure, VenueError
from polymm_cli.model import Side
from polymm_cli.quoter import QuoteDecision, QuoteInput, QuoteParams
from polymm_cli.services import trading
from tests.sim_world import SimWorld, market, until

M = market("supervised")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.47", "0.53")  # our quotes (0.48 / 0.52) are the best on both sides
    w.make_engine()
    yield w
    if w.task is not None and not w.task.done():
        w.task.cancel()
        with pytest.raises((asyncio.CancelledError, EngineFailure)):
            await w.task
    w.close()


async def quoting(w: SimWorld) -> None:
    await w.start()
    await until(lambda: len(w.quotes(M)) == 2, what="quoting both sides")


async def failed_within_a_second(w: SimWorld) -> EngineFailure:
    """The run ends by itself within a second with nothing of ours left resting; its failure."""
    assert w.task is not None
    with pytest.raises(EngineFailure) as failure:
        await asyncio.wait_for(w.task, 1.0)
    assert w.quotes(M) == [], "quotes left at the exchange after the failure"
    return failure.value


def ended_as(w: SimWorld) -> str | None:
    return w.ledger.runs()[-1].end_reason


async def test_a_ledger_write_error_on_a_fill_pulls_every_quote_and_fails_the_run(world: SimWorld) -> None:
    await quoting(world)

    def locked(*args: Any, **kwargs: Any) -> bool:
        raise sqlite3.OperationalError("database is locked")

    world.ledger.record_fill = locked  # type: ignore[method-assign]
    assert world.other_take(M, "YES", Side.SELL, "0.48", "5")  # OTHER hits our bid: a fill to record

    failure = await failed_within_a_second(world)
    assert "user stream failed: OperationalError: database is locked" in str(failure)
    assert (ended_as(world) or "").startswith("failed: user stream failed")


async def test_an_unexpected_error_in_a_decision_pulls_every_quote_and_fails_the_run(
    world: SimWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    await quoting(world)
    real = engine_module.quote

    def broken(inp: QuoteInput, params: QuoteParams) -> QuoteDecision:
        if inp.best_bid == D("0.55"):
            raise ValueError("a quote the validation refuses")
        return real(inp, params)

    monkeypatch.setattr(engine_module, "quote", broken)
    world.book(M, "0.55", "0.57")  # the book moves: the next decision hits the bug

    failure = await failed_within_a_second(world)
    assert "decisions failed: ValueError: a quote the validation refuses" in str(failure)


async def test_a_market_feed_that_raises_pulls_every_quote_and_fails_the_run(world: SimWorld) -> None:
    await quoting(world)
    engine = world.engine
    assert engine is not None
    real = engine._on_market_event

    def parser_bug(event: Any) -> None:
        raise KeyError("asset_id")

    engine._on_market_event = parser_bug  # type: ignore[method-assign]
    world.book(M, "0.46", "0.54")

    failure = await failed_within_a_second(world)
    assert "market feed failed: KeyError: 'asset_id'" in str(failure)
    engine._on_market_event = real  # type: ignore[method-assign]


async def test_a_heartbeat_that_raises_something_unexpected_fails_the_run(world: SimWorld) -> None:
    world.make_engine()
    beats: list[int] = []

    async def heartbeat() -> None:
        beats.append(1)
        if len(beats) > 1:
            raise RuntimeError("heartbeat bug")

    world.venue.heartbeat = heartbeat  # type: ignore[method-assign]
    await quoting(world)
    await world.advance(5.0)  # the next beat (every 5 virtual s) hits the bug

    failure = await failed_within_a_second(world)
    assert "heartbeat failed: RuntimeError: heartbeat bug" in str(failure)


async def test_a_stream_that_ends_while_the_run_goes_on_fails_the_run(world: SimWorld) -> None:
    await quoting(world)
    engine = world.engine
    assert engine is not None

    await engine._streams[0].close()  # the market feed ends: nothing would ever update the book

    failure = await failed_within_a_second(world)
    assert "market feed ended unexpectedly" in str(failure)


async def test_a_venue_error_in_a_decision_does_not_stop_the_run(world: SimWorld) -> None:
    """Venue refusals and outages are expected: they are reported, never a crash."""
    await quoting(world)
    engine = world.engine
    assert engine is not None
    calls: list[int] = []

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise VenueError("POST /order failed: HTTP 503")

    world.venue.place = refuse  # type: ignore[method-assign]
    world.book(M, "0.55", "0.57")
    await until(lambda: bool(calls), what="a place was tried")
    await asyncio.sleep(0.05)

    assert world.task is not None and not world.task.done()
    assert "503" in engine.last_error


async def test_a_clean_stop_is_not_a_failure(world: SimWorld) -> None:
    await quoting(world)

    assert await world.finish() == "stopped"
    assert world.quotes(M) == []
    engine = world.engine
    assert engine is not None and engine.stop_report is not None
    assert engine.stop_report.confirmed and engine.stop_report.cancelled == 2


def engine_config_with(engine: engine_module.QuotingEngine, **changes: Any) -> engine_module.EngineConfig:
    return replace(engine.config, **changes)


# -- the order path and the heartbeat ------------------------------------------------------------------


async def test_consecutive_order_failures_pause_the_order_path_and_withhold_the_heartbeat_until_it_heals(
    tmp_path: Path,
) -> None:
    """A 5xx storm on places and cancels: after 5 failed calls the engine pauses (unhealthy), stops
    beating so the exchange's dead-man's switch removes what we could not cancel, and quotes again
    once a call goes through after the cool-down."""
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.47", "0.53")
    engine = w.make_engine(ticks=True)
    engine.config = engine_config_with(engine, heartbeat_interval_s=0.01)
    beats: list[float] = []
    real_beat, real_place, real_cancel = w.venue.heartbeat, w.venue.place, w.venue.cancel

    async def beat() -> None:
        beats.append(w.clock.monotonic())
        await real_beat()

    storm = {"on": False}

    async def place(*args: Any, **kwargs: Any) -> Any:
        if storm["on"]:
            raise VenueError("POST /order failed: HTTP 503 (gave up after 2 attempts)", status=503)
        return await real_place(*args, **kwargs)

    async def cancel(*args: Any, **kwargs: Any) -> Any:
        if storm["on"]:
            raise VenueError("DELETE /orders failed: HTTP 503 (gave up after 2 attempts)", status=503)
        return await real_cancel(*args, **kwargs)

    w.venue.heartbeat, w.venue.place, w.venue.cancel = beat, place, cancel  # type: ignore[method-assign]
    try:
        await quoting(w)
        storm["on"] = True
        for i in range(6):  # the book moves: each decision tries a cancel, and fails
            w.book(M, f"0.4{i}", f"0.5{i + 4}")
            await w.advance(0.1, step=0.1)
        await until(lambda: not engine.healthy, what="paused after 5 failures")
        assert "paused: order path failing (" in engine.snapshot().markets[0].status
        beats_when_paused = len(beats)
        await asyncio.sleep(0.1)
        assert len(beats) == beats_when_paused, "the heartbeat went on while the order path was failing"

        storm["on"] = False
        await w.advance(3.0, step=0.5)  # the cool-down (2 s) ends; the next call goes through
        await until(lambda: engine.healthy and len(w.quotes(M)) == 2, what="quoting again")
        await until(lambda: len(beats) > beats_when_paused, what="beating again")
    finally:
        await w.finish()
        w.close()


async def test_after_a_storm_that_left_no_order_to_cancel_the_engine_quotes_again(tmp_path: Path) -> None:
    """The 30-minute soak's case: the storm trips the breaker, the exchange's dead-man's switch then
    removes our quotes, so no cancel is left to try. The beat must come back after the cool-down
    (nothing of ours rests for it to keep alive), or the engine waits for a call that never comes."""
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.47", "0.53")
    engine = w.make_engine(ticks=True)
    engine.config = engine_config_with(engine, heartbeat_interval_s=0.01)
    real_place, real_cancel = w.venue.place, w.venue.cancel
    storm = {"on": False}

    async def place(*args: Any, **kwargs: Any) -> Any:
        if storm["on"]:
            raise VenueError("POST /order failed: HTTP 503 (gave up after 2 attempts)", status=503)
        return await real_place(*args, **kwargs)

    async def cancel(*args: Any, **kwargs: Any) -> Any:
        if storm["on"]:
            raise VenueError("DELETE /orders failed: HTTP 503 (gave up after 2 attempts)", status=503)
        return await real_cancel(*args, **kwargs)

    w.venue.place, w.venue.cancel = place, cancel  # type: ignore[method-assign]
    try:
        await quoting(w)
        storm["on"] = True
        for i in range(6):
            w.book(M, f"0.4{i}", f"0.5{i + 4}")
            await w.advance(0.1, step=0.1)
        await until(lambda: not engine.healthy, what="paused after 5 failures")
        w.exchange.cancel_where("bot")  # the dead-man's switch: our orders are gone, and we are told
        await until(lambda: not engine.live, what="the engine knows its quotes are gone")
        await w.advance(10.0, step=0.5)  # the storm lasts: the last acknowledged beat is over 8 s old
        storm["on"] = False
        await w.advance(31.0, step=0.5)  # the longest cool-down (30 s: it doubles while calls fail) ends
        await until(lambda: engine.healthy and len(w.quotes(M)) == 2, what="quoting again")
    finally:
        await w.finish()
        w.close()


async def test_a_heartbeat_unacknowledged_for_8_seconds_makes_the_engine_unhealthy(tmp_path: Path) -> None:
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.47", "0.53")
    engine = w.make_engine(ticks=True)
    engine.config = engine_config_with(engine, heartbeat_interval_s=0.01, heartbeat_stale_s=8.0)
    engine._heartbeat.stale_s = 8.0
    hang = asyncio.Event()

    async def beat() -> None:
        if hang.is_set():
            await asyncio.Event().wait()  # a heartbeat that never answers

    w.venue.heartbeat = beat  # type: ignore[method-assign]
    try:
        await quoting(w)
        hang.set()
        await w.advance(7.0, step=0.5)
        assert engine.healthy and len(w.quotes(M)) == 2  # 7 s: still inside the bound

        await w.advance(1.5, step=0.5)

        await until(lambda: w.quotes(M) == [], what="quotes pulled once the heartbeat is 8 s old")
        assert "heartbeat unhealthy" in engine.snapshot().markets[0].status
    finally:
        await w.finish()
        w.close()


async def test_heartbeats_are_timed_start_to_start(world: SimWorld) -> None:
    """A beat that takes 60% of the interval does not stretch the period (the switch fires at 10 s)."""
    starts: list[float] = []
    loop = asyncio.get_running_loop()

    async def slow_beat() -> None:
        starts.append(loop.time())
        await asyncio.sleep(0.06)

    world.venue.heartbeat = slow_beat  # type: ignore[method-assign]
    engine = world.make_engine()
    engine.config = engine_config_with(engine, heartbeat_interval_s=0.1)
    engine.clock = SystemClock()  # the beat is scheduled on the engine's clock: a real one here
    await world.start(engine)
    await until(lambda: len(starts) >= 6, what="six beats")
    await world.finish()

    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert sum(gaps) / len(gaps) < 0.13, gaps  # start to start: ~0.10, not 0.16


async def test_a_stop_whose_cancels_the_exchange_does_not_confirm_never_claims_they_were(
    world: SimWorld,
) -> None:
    """The exchange answers but keeps listing an order: the stop says so and the run ends in error."""
    await quoting(world)
    engine = world.engine
    assert engine is not None
    engine.config = engine_config_with(engine, stop_timeout_s=0.3)
    stuck = world.quotes(M)[0]
    real_open = world.venue.open_orders

    async def still_listed(*args: Any, **kwargs: Any) -> Any:
        listed = await real_open(*args, **kwargs)
        return listed or [stuck]  # a cancel the exchange never applies

    world.venue.open_orders = still_listed  # type: ignore[method-assign]

    assert await world.finish() == "stopped"

    report = engine.stop_report
    assert report is not None and not report.confirmed and report.reachable and report.may_be_open == 1
    assert "confirmed" not in report.summary()
    with pytest.raises(VenueError, match=r"but the exchange still lists 1 .*dead-man's switch") as ended:
        trading._judge(engine, "stopped", None, None)
    assert ended.value.exit_code == 3
