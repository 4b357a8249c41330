"""The chaos soak, short: `polymm run` against `polymm exchange serve` through every kind of fault.

`bench/soak.py` runs both as subprocesses (their own temp data dir and state file), injects faults
through the exchange's control plane, hits the bot's quotes from a second wallet and samples the
bot's open orders at the exchange. This is `make soak` at ~1.5 minutes of faults: one stall longer
than the bot's watchdog, one kill -9 and restart, and one or two of every other kind.
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
    assert report["bot"]["kill_9_restarts"] == 1, shown
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
