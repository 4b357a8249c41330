"""Backtest speed: recorded events replayed per second through the full engine, in virtual time.

The data is the real Tickscope capture (an NHL game in play, ../shared/data, 40 minutes, 12 tokens)
when it is beside the repository, else the 3-minute sample in tests/fixtures. The capture is
imported once (not timed); the session replays its busiest market with the default settings: every
event goes through the wire parser, the simulated venue, the engine's books, quoter, reconcile,
risk and ledger, as in `polymm backtest`.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from polymm_cli.backtest.importers import import_capture
from polymm_cli.backtest.queue import RiskAverseQueue
from polymm_cli.backtest.replay import ReplayConfig, replay_session
from polymm_cli.services.trading import engine_config
from polymm_cli.settings import Settings
from polymm_cli.venues.paper import Latency

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "03_normalized_ticks"
FIXTURE = ROOT / "tests" / "fixtures" / "03_normalized_ticks"
DAY_EVENTS = 1_000_000  # one day of a busy market, the yardstick


def _captures() -> tuple[list[Path], str]:
    full = sorted(SHARED.glob("tickscope__*.parquet")) if SHARED.is_dir() else []
    if full:
        return full, "Tickscope NHL capture, 2 x 20 min"
    return sorted(FIXTURE.glob("*.parquet")), "Tickscope 3-min sample (tests/fixtures)"


def bench_backtest_speed() -> dict[str, Any]:
    captures, label = _captures()
    config = ReplayConfig(
        engine=engine_config(Settings()),
        queue=RiskAverseQueue(),
        latency=Latency(order_entry_s=0.05, cancel_s=0.05, market_data_s=None),
    )
    with tempfile.TemporaryDirectory(prefix="polymm-bench-") as tmp:
        out = Path(tmp) / "rec"
        for capture in captures:
            import_capture(capture, out)
        started = time.perf_counter()
        result = asyncio.run(replay_session(out, config))
        elapsed = time.perf_counter() - started
    per_s = result.events / elapsed
    return {
        "source": label,
        "events": result.events,
        "recorded_s": result.duration_s,
        "elapsed_s": elapsed,
        "events_per_s": per_s,
        "speedup_vs_real_time": result.duration_s / elapsed,
        "day_of_busy_market_s": DAY_EVENTS / per_s,
        "fills": result.fills,
    }


if __name__ == "__main__":
    print(bench_backtest_speed())
