"""The chaos soak, short: `polymm run` against `polymm exchange serve` through every kind of fault.

`bench/soak.py` runs both as subprocesses (their own temp data dir and state file), injects faults
through the exchange's control plane, hits the bot's quotes from a second wallet and samples the
bot's open orders at the exchange. This is `make soak` at ~1.5 minutes of faults: one stall longer
than the bot's watchdog, one kill -9 and restart, and one or two of every other kind. A second soak,
at the same time, is the slow chain: trades take longer than the bot's resync margin to settle, the
bot is killed at the end of it and they settle while it is down.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench.soak import SoakConfig, failure_details, run_soak, table
from bench.soak_actors import marketable_size
from bench.soak_metrics import FillView, Timeline, compare_fills
from bench.soak_schedule import (
    HTTP_5XX,
    HTTP_429,
    KILL_9,
    LATENCY,
    RESTART_425,
    SLOW_SETTLEMENT,
    TICK_CHANGE,
    WS_DROP,
    WS_STALL,
    ScheduleParams,
    plan_faults,
)
from polymm_cli.model import Side, TradeStatus

# In this order (not shuffled): the stall last, because the bot takes long to come back after one.
COUNTS = {
    WS_DROP: 2,
    HTTP_5XX: 2,
    RESTART_425: 2,
    HTTP_429: 1,
    LATENCY: 1,
    TICK_CHANGE: 1,
    KILL_9: 1,
    WS_STALL: 1,
}
SHORT = SoakConfig(
    minutes=1.5,
    seed=11,
    counts=COUNTS,
    fill=False,
    shuffle=False,
    quiet_s=(1.5, 2.5),
    http_fault_s=(3.0, 4.0),
    kill_downtime_s=(11.0, 12.0),  # the dead-man's switch fires 10 s after the last beat at most
    stall_extra_s=(1.5, 2.0),
    out=None,
)


SLOW_CHAIN = SoakConfig(
    minutes=1.5,
    seed=5,
    counts={SLOW_SETTLEMENT: 1},
    fill=False,
    quiet_s=(2.0, 3.0),
    kill_downtime_s=(12.0, 13.0),
    slow_settlement_s=(66.0, 70.0),
    out=None,
)


async def both_soaks(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two soaks at once (each with its own exchange, bot and data dir): they mostly wait on the
    faults' timings, so together they take the time of the longer one."""
    (tmp_path / "short").mkdir()
    (tmp_path / "slow").mkdir()
    short, slow = await asyncio.gather(
        run_soak(replace(SHORT, workdir_parent=tmp_path / "short")),
        run_soak(replace(SLOW_CHAIN, workdir_parent=tmp_path / "slow")),
    )
    return short, slow


def assert_nothing_lost_or_left(report: dict[str, Any]) -> None:
    shown = "\n".join([table(report), *failure_details(report)])
    assert report["fills"]["differences"] == [], shown
    assert report["money"]["cash_equal"], shown
    assert report["money"]["position_differences"] == {}, shown
    assert report["orders_left_open"] == [], shown
    assert report["stale"]["total_s"] == 0, shown
    assert report["failed"] == [], shown


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_chaos_soaks_lose_no_fill_leave_no_order_and_never_quote_on_stale_data(tmp_path: Path) -> None:
    """The short soak through every kind of fault, and the slow chain: a bot killed while trades take
    longer than its resync margin to settle learns every final status when it restarts."""
    # Act
    short, slow = asyncio.run(both_soaks(tmp_path))

    # Assert: each soak did what it says (every fault, a bot that traded and was quoting when blinded)
    shown = "\n".join([table(short), *failure_details(short)])
    assert all(short["faults"][kind] == n for kind, n in COUNTS.items()), shown
    assert short["bot"]["restarts_by_soak"] == 1, shown
    assert short["fills"]["exchange"] > 0, shown
    [stall] = [f for f in short["fault_timeline"] if f["kind"] == WS_STALL]
    assert stall["open_at_injection"] > stall["filled_after_injection"], shown  # some left to pull
    assert stall["duration_s"] > short["stale"]["bound_s"], shown
    shown = "\n".join([table(slow), *failure_details(slow)])
    assert slow["faults"][SLOW_SETTLEMENT] == 1 and slow["bot"]["restarts_by_soak"] == 1, shown
    # a bot that traded through the slow chain (the taker hits fewer quotes when the CPU is busy)
    assert slow["fills"]["exchange"] >= 5, shown

    # Assert: the invariants — nothing lost, doubled or left behind, never quoting blind
    assert_nothing_lost_or_left(short)
    assert_nothing_lost_or_left(slow)


# -- the figures' arithmetic (fast) -----------------------------------------------------------------

A, B = frozenset({"a"}), frozenset({"b"})


def test_stale_seconds_hold_each_sample_until_the_next_and_count_only_inside_the_window() -> None:
    # samples at 0 (a open), 10 (a), 12 (nothing), 20 (b): orders were open over [0, 12) and [20, ...)
    timeline = Timeline([0.0, 10.0, 12.0, 20.0], [A, A, frozenset(), B])

    assert timeline.open_seconds(5.0, 15.0) == (7.0, {"a"})
    assert timeline.open_seconds(12.0, 19.0) == (0.0, set())
    assert timeline.open_seconds(19.0, 25.0) == (5.0, {"b"})
    assert timeline.open_seconds(30.0, 25.0) == (0.0, set())


def test_time_to_pull_runs_until_no_order_open_at_injection_is_left_even_if_new_ones_came() -> None:
    timeline = Timeline([0.0, 1.0, 2.0, 3.0], [A, A | B, B, frozenset()])

    assert timeline.time_to_pull(0.5, A) == 1.5  # gone at the sample at 2.0 (b is a new order)
    assert timeline.time_to_pull(0.5, frozenset()) is None  # nothing to pull
    assert Timeline([0.0, 1.0], [A, A]).time_to_pull(0.5, A) is None  # never pulled
    assert timeline.time_to_quote(2.5) is None and timeline.time_to_quote(0.5) == 0.5


def fill(trade: str, status: TradeStatus, size: str = "10") -> FillView:
    return FillView(trade, "0xorder", "123", Side.BUY, Decimal("0.49"), Decimal(size), status)


def test_fills_differ_when_missing_extra_doubled_of_another_status_or_other_terms() -> None:
    exchange = [
        fill("t1", TradeStatus.CONFIRMED),
        fill("t2", TradeStatus.FAILED),
        fill("t3", TradeStatus.CONFIRMED),
    ]
    ledger = [
        fill("t1", TradeStatus.CONFIRMED),
        fill("t2", TradeStatus.RETRYING),
        fill("t4", TradeStatus.CONFIRMED),
        fill("t4", TradeStatus.CONFIRMED),
    ]

    whats = sorted((d["what"], d["trade_id"]) for d in compare_fills(exchange, ledger))

    assert whats == [
        ("in the ledger, not at the exchange", "t4"),
        ("listed twice in the ledger", "t4"),
        ("missing from the ledger", "t3"),
        ("status differs", "t2"),
    ]
    assert compare_fills(exchange, list(exchange)) == []
    assert compare_fills([fill("t1", TradeStatus.CONFIRMED)], [fill("t1", TradeStatus.CONFIRMED, "9")])


def test_a_marketable_buy_costs_whole_cents_and_at_least_a_dollar() -> None:
    assert marketable_size(Decimal("0.49"), Decimal("10")) == 10
    assert marketable_size(Decimal("0.495"), Decimal("11")) == 12  # 0.495 x 11 = 5.445, x 12 = 5.94
    assert marketable_size(Decimal("0.05"), Decimal("5")) == 20  # $1 at the least


def test_the_schedule_is_the_seeds_and_its_faults_never_overlap() -> None:
    params = ScheduleParams(
        horizon_s=600, detection_bound_s=31.0, counts={WS_STALL: 2, KILL_9: 2, WS_DROP: 3}
    )

    plan = plan_faults(params, random.Random(3))

    assert plan == plan_faults(params, random.Random(3))
    assert plan != plan_faults(params, random.Random(4))
    assert sum(1 for f in plan if f.kind == WS_STALL) >= 2
    assert all(f.duration_s > 31.0 for f in plan if f.kind == WS_STALL)
    assert all(a.at_s + a.duration_s < b.at_s for a, b in itertools.pairwise(plan))
    assert plan[-1].at_s + plan[-1].duration_s <= 600
