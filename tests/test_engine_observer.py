"""What the engine tells its observer (metrics, alerts, the log), checked against what it did: on the
in-process exchange in virtual time, the events match the engine's own counters and the ledger, and
the scrape-time gauges match the exchange's balances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from polymm_cli.engine.config import StopReport
from polymm_cli.engine.observer import EngineObserver, Observers
from polymm_cli.errors import EngineFailure
from polymm_cli.liquidation import StopLossParams
from polymm_cli.model import Side
from polymm_cli.ops.metrics import EngineMetrics, engine_registry
from polymm_cli.services.operations import RunOps
from polymm_cli.settings import load_settings
from tests.sim_world import SimWorld, market, settle

M = market("observed")


class Recorder(EngineObserver):
    """Records every notification as (method, arguments)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for event, args in self.events if event == name]


def _recording(name: str) -> Any:
    def record(self: Recorder, *args: Any) -> None:
        self.events.append((name, args))

    return record


for _name in [n for n in vars(EngineObserver) if not n.startswith("_")]:
    setattr(Recorder, _name, _recording(_name))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [M])
    w.book(M, "0.47", "0.53")
    yield w
    if w.task is not None and not w.task.done():
        w.task.cancel()
        with pytest.raises((asyncio.CancelledError, EngineFailure)):
            await w.task
    w.close()


def _scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }


async def test_orders_fills_halt_resume_and_the_stop_reach_the_observer_as_they_happened(
    world: SimWorld,
) -> None:
    recorder = Recorder()
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    engine = world.make_engine()
    engine.observer = Observers([recorder, metrics])
    engine_registry(engine, metrics)
    await world.start(engine)
    assert world.other_take(M, "YES", Side.SELL, "0.48", "5")  # OTHER hits our bid
    await world.run_until(lambda: engine.fill_count == 1, what="the fill recorded")
    scraped = _scrape(registry)
    cid = M.condition_id
    assert scraped[("polymm_position_shares", (("market", cid), ("outcome", "yes")))] == float(
        world.held(M, "YES")
    )
    assert scraped[("polymm_fills_total", (("market", cid), ("outcome", "yes"), ("side", "buy")))] == 1
    assert scraped[("polymm_healthy", ())] == 1

    world.halt_reason = "by hand"
    await world.run_until(lambda: engine.halted is not None, step=0.25, what="halted")
    world.halt_reason = None
    await world.run_until(lambda: engine.halted is None, step=0.25, what="resumed")
    await world.advance(1.0)
    await world.finish()
    await settle()

    assert recorder.named("halted") == [("by hand", True)]
    assert recorder.named("resumed") == [()]
    assert len(recorder.named("order_placed")) == engine.orders_placed
    assert sum(count for _, count in recorder.named("orders_cancelled")) == engine.orders_canceled
    assert [(m, o, s, p, z) for m, o, s, p, z in recorder.named("fill")] == [
        (cid, "Yes", Side.BUY, D("0.48"), D("5"))
    ]
    [(report,)] = recorder.named("stopped")
    assert isinstance(report, StopReport) and report.confirmed
    assert len(recorder.named("decision")) >= 1


async def test_a_stop_loss_and_its_exit_reach_the_observer(world: SimWorld) -> None:
    world.we_buy(M, "YES", "0.48", "50")
    world.book(M, [("0.30", "100")], [("0.32", "100")])  # mid 0.31: -8.50 unrealised
    recorder = Recorder()
    engine = world.make_engine(
        stop_loss=StopLossParams(enabled=True, max_unrealized_loss=D(5), mode="market"), ticks=True
    )
    engine.observer = recorder
    await world.start(engine)
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    await world.finish()
    [(market_id, reason)] = recorder.named("stop_loss")
    assert market_id == M.condition_id and "unrealised P&L -8.50 below -5" in reason
    [(market_id, flat, detail)] = recorder.named("exit_done")
    assert flat and detail.startswith("market exit")
    assert any(tag == "exit" for *_, tag in recorder.named("order_placed"))
    assert recorder.named("halted")[0][1] is False  # the engine's own halt, not an external one


async def test_the_alerts_summary_and_feed_watch_read_the_running_engine(
    world: SimWorld, tmp_path: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path, alert_webhooks=["https://hooks.slack.com/services/T/B/xxxxxxxx"]
    )
    ops = RunOps(settings, world.clock)
    engine = world.make_engine()
    ops.attach(engine)
    await world.start(engine)
    assert world.other_take(M, "YES", Side.SELL, "0.48", "5")
    await world.run_until(lambda: engine.fill_count == 1, what="the fill recorded")
    assert ops._health() == {"market feed": True, "user stream": True, "heartbeat": True}
    summary = ops._summary()
    placed, cancelled = engine.orders_placed, engine.orders_canceled
    pnl = engine.snapshot().total_pnl
    assert summary == (
        f"summary after 0.0 h: P&L {pnl:+.2f} pUSD, 1 fill, {placed} orders placed, {cancelled} cancelled,"
        " 1 market; healthy"
    )
    await world.finish()
