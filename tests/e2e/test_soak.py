"""The chaos soak, short: `polymm run` against `polymm exchange serve` through every kind of fault.

`bench/soak.py` runs both as subprocesses (their own temp data dir and state file), injects faults
through the exchange's control plane, hits the bot's quotes from a second wallet and samples the
bot's open orders at the exchange. This is `make soak` at ~1.5 minutes of faults: one stall longer
than the bot's watchdog, one kill -9 and restart, and one or two of every other kind. A second run
is the slow chain: trades take longer than the bot's resync margin to settle, the bot is killed at the
end of it and they settle while it is down.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.soak import SoakConfig, failure_details, run_soak, table
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
)

pytestmark = pytest.mark.slow

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
    quiet_s=(2.0, 3.0),
    http_fault_s=(4.0, 5.0),
    kill_downtime_s=(12.0, 13.0),
    stall_extra_s=(2.0, 3.0),
    out=None,
)


@pytest.mark.timeout(300)
def test_a_short_chaos_soak_loses_no_fill_leaves_no_order_and_never_quotes_on_stale_data() -> None:
    # Act
    report = asyncio.run(run_soak(SHORT))

    # Assert: the soak did what it says (every fault, a bot that traded and was quoting when blinded)
    shown = "\n".join([table(report), *failure_details(report)])
    assert all(report["faults"][kind] == n for kind, n in COUNTS.items()), shown
    assert report["bot"]["restarts_by_soak"] == 1, shown
    assert report["fills"]["exchange"] > 0, shown
    [stall] = [f for f in report["fault_timeline"] if f["kind"] == WS_STALL]
    assert stall["open_at_injection"] > 0, shown
    assert stall["duration_s"] > report["stale"]["bound_s"], shown

    # Assert: the invariants — nothing lost, doubled or left behind, never quoting blind
    assert report["fills"]["differences"] == [], shown
    assert report["money"]["cash_equal"], shown
    assert report["money"]["position_differences"] == {}, shown
    assert report["orders_left_open"] == [], shown
    assert report["stale"]["total_s"] == 0, shown
    assert report["failed"] == [], shown


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


@pytest.mark.xfail(
    strict=False,
    raises=AssertionError,
    reason="engine._startup resyncs trades only since the ledger's last fill - 60 s (and the final "
    "resync only since the run's start - 60 s): a fill still settling when the bot was killed, matched "
    "over 60 s before its last fill and settled while it was down, keeps MINED/RETRYING in the ledger "
    "for good; a FAILED one still counts, so cash and positions differ too",
)
@pytest.mark.timeout(300)
def test_a_bot_killed_while_the_chain_is_slow_learns_every_final_status_when_it_restarts() -> None:
    # Act
    report = asyncio.run(run_soak(SLOW_CHAIN))

    # Assert: the scenario happened (fills spread over the slow window, a kill at its end)
    shown = "\n".join([table(report), *failure_details(report)])
    assert report["faults"][SLOW_SETTLEMENT] == 1, shown
    assert report["bot"]["restarts_by_soak"] == 1, shown
    assert report["fills"]["exchange"] > 10, shown

    # Assert: the invariants
    assert report["fills"]["differences"] == [], shown
    assert report["money"]["cash_equal"], shown
    assert report["money"]["position_differences"] == {}, shown
    assert report["orders_left_open"] == [], shown
    assert report["failed"] == [], shown
