"""A supervised engine: any background task that dies stops the run safely.

Each scenario starts a quoting engine on the in-process exchange, breaks one piece of it while it runs
(the ledger, the market feed, a decision, the heartbeat, a stream that ends), and checks what a user
relies on: our quotes are gone AT THE EXCHANGE, `run()` raises EngineFailure naming the task and the
cause, and the ledger records how the run ended.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from polymm_cli import engine as engine_module
from polymm_cli.errors import EngineFailure, VenueError
from polymm_cli.model import Side
from polymm_cli.quoter import QuoteDecision, QuoteInput, QuoteParams
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
    engine = world.make_engine()
    beats: list[int] = []

    async def heartbeat() -> None:
        beats.append(1)
        if len(beats) > 1:
            raise RuntimeError("heartbeat bug")

    world.venue.heartbeat = heartbeat  # type: ignore[method-assign]
    engine.config = engine_config_with(engine, heartbeat_interval_s=0.05)
    await quoting(world)

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
