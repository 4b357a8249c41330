"""Memory of a 100-market run: resident size, and whether it grows over a 30-minute session.

The real engine quotes 100 markets through the SimVenue over the in-process exchange and its
synthetic flow (takers, jumps, fills, settlement), in virtual time (bench/backtest.py's method: a
ManualClock stepped by the bench, so 30 minutes take seconds to a minute of CPU). Everything lives
in this process: engine, ledger (SQLite in a temporary directory), exchange and flow, so the RSS is
an upper bound on the bot's own.

Two measurements:
* RSS (VmRSS of /proc/self/status) sampled every virtual minute over the whole session: the peak,
  and the growth from the end of the warm-up (minute `settle_min`) to the end;
* tracemalloc over a second window after the warm-up: the memory allocated in it and still held at
  its end, by whose code allocated it (the bot's or the simulator's: an allocation site, not an
  owner; the order sizes the quoter makes and the exchange keeps count as the bot's), and the
  bot's largest sites (file:line);
* a census of the engine's dicts, lists, sets and deques (and the exchange's) at the end of the
  warm-up and at the end: which of them grew.

Run: `.venv/bin/python bench/bench_memory.py [minutes]`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.backtest import _drain, _engine_config
from polymm_cli.clock import ManualClock
from polymm_cli.engine import QuotingEngine
from polymm_cli.exchange.core import LocalExchange, SettlementConfig
from polymm_cli.exchange.flow import SyntheticFlow
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.markets import make_market
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, Market
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.sim import SimVenue

BOT = "0x" + "3e" * 20
PARAMS = QuoteParams(spread=Decimal("0.02"), size=Decimal(10), position_limit=Decimal(50))
FLOW = FlowConfig(taker_rate_per_min=6.0, informed_share=0.2)
RSS_GOAL_MB = 200.0
ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """Resident set size of this process now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _markets(count: int) -> list[Market]:
    return [make_market(f"memory-market-{i}", f"Memory market {i}?", tick="0.01") for i in range(count)]


class _Session:
    """The exchange, its flow and the bot's engine over `markets`, stepped by hand."""

    def __init__(self, markets: list[Market], ledger: Ledger, seed: int = 5) -> None:
        self.clock = ManualClock()
        self.exchange = LocalExchange(markets, self.clock, seed=seed, settlement=SettlementConfig(2.0))
        self.flow = SyntheticFlow(self.exchange, self.clock, FLOW, seed=seed)
        self.exchange.fund(BOT, Decimal(10**6))
        venue = SimVenue(self.exchange, self.clock, address=BOT, owner="bot", dead_mans_switch=False)
        self.engine = QuotingEngine(venue, ledger, self.clock, markets, _engine_config(PARAMS, None))

    async def run_minutes(self, minutes: float, step_s: float, each_minute: Any = None) -> None:
        steps_per_minute = int(60 / step_s)
        for _ in range(int(minutes)):
            for _ in range(steps_per_minute):
                self.clock.advance(step_s)
                self.flow.step(self.clock.now())
                self.exchange.advance()
                await _drain()
            if each_minute is not None:
                each_minute()


_CONTAINERS = (dict, list, set, deque)


def container_census(
    obj: object, prefix: str, out: dict[str, int] | None = None, depth: int = 2
) -> dict[str, int]:
    """Length of every dict/list/set/deque held by `obj` and, `depth` levels down, by the polymm
    objects it holds (the simulator's excluded): the bot's state, by name, to see what grows."""
    out = {} if out is None else out
    for name, value in getattr(obj, "__dict__", {}).items():
        key = f"{prefix}.{name}"
        if isinstance(value, _CONTAINERS):
            out[key] = len(value)
            if depth > 0 and isinstance(value, dict) and value:
                first = next(iter(value.values()))  # one market's state stands for all of them
                if type(first).__module__.startswith("polymm_cli."):
                    container_census(first, f"{key}[first]", out, depth - 1)
        elif (
            depth > 0
            and type(value).__module__.startswith("polymm_cli.")
            and ".exchange" not in type(value).__module__
        ):
            container_census(value, key, out, depth - 1)
    return out


def _grown(before: dict[str, int], after: dict[str, int]) -> dict[str, list[int]]:
    return {k: [before[k], v] for k, v in after.items() if k in before and v > before[k]}


_SIMULATOR_PATHS = ("/polymm_cli/exchange/", "/polymm_cli/venues/sim.py", "/bench/")


def _owner(trace: tracemalloc.Traceback) -> tuple[str, str]:
    """("bot" or "simulator", file:line of the innermost polymm frame) of an allocation: the
    simulator's when any frame of it is in the exchange, its flow or the SimVenue (what the bot
    calls there is the simulator's memory), else the bot's."""
    side = "bot"
    site = f"{trace[-1].filename.rsplit('/', 1)[-1]}:{trace[-1].lineno}"
    found = False
    for frame in reversed(trace):  # most recent first
        name = frame.filename
        if any(p in name for p in _SIMULATOR_PATHS):
            side = "simulator"
        if not found and "/polymm_cli/" in name:
            site, found = f"{name.split('/polymm_cli/')[-1]}:{frame.lineno}", True
    return side, site


def _growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int = 8) -> dict[str, Any]:
    """Net growth of traced memory per side (the bot: engine, ledger, venue adapters, quoting; the
    simulator: the in-process exchange and its flow) and the bot's largest growth sites."""
    sides = {"bot": 0, "simulator": 0}
    sites: dict[str, int] = {}
    for stat in after.compare_to(before, "traceback"):
        side, site = _owner(stat.traceback)
        sides[side] += stat.size_diff
        if side == "bot":
            sites[site] = sites.get(site, 0) + stat.size_diff
    top = sorted(sites.items(), key=lambda kv: -kv[1])[:count]
    return {
        "bot_mb": sides["bot"] / 2**20,
        "simulator_mb": sides["simulator"] / 2**20,
        "bot_top": [f"{size / 1024:+9.1f} KiB  {site}" for site, size in top],
    }


async def _measure(
    markets: int, minutes: float, settle_min: float, trace_min: float, step_s: float
) -> dict[str, Any]:
    logging.getLogger("polymm").setLevel(logging.ERROR)
    rss: list[float] = [rss_mb()]
    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(Path(tmp), account=Account("local", BOT)) as ledger,
    ):
        session = _Session(_markets(markets), ledger)
        # The simulator keeps closed orders an hour (for GET /data/order): a minute here, so the
        # run shows the bot's memory rather than that hour of the exchange's history filling up.
        session.exchange.closed_order_retention_s = 60.0
        stop = asyncio.Event()
        task = asyncio.create_task(session.engine.run(stop=stop))
        started = time.perf_counter()
        census: list[dict[str, int]] = []
        simulator: list[dict[str, int]] = []

        def each_minute() -> None:
            rss.append(rss_mb())
            if len(rss) - 1 in (int(settle_min), int(minutes)):
                census.append(container_census(session.engine, "engine"))
                simulator.append(container_census(session.exchange, "exchange", depth=0))

        await session.run_minutes(minutes, step_s, each_minute)
        run_s = time.perf_counter() - started
        gc.collect()
        tracemalloc.start(10)
        before = tracemalloc.take_snapshot()
        await session.run_minutes(trace_min, step_s)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        growth = _growth(before, after)
        stop.set()
        await task
        fills = len(ledger.fills())
    settled = rss[min(len(rss) - 1, int(settle_min))]
    return {
        "markets": markets,
        "virtual_minutes": minutes,
        "settle_min": settle_min,
        "wall_s": run_s,
        "rss_peak_mb": max(rss),
        "rss_end_mb": rss[-1],
        "rss_growth_after_warmup_mb": rss[-1] - settled,
        "rss_samples_mb": [round(r, 1) for r in rss],
        "bot_containers_grown": _grown(census[0], census[-1]) if len(census) == 2 else {},
        "simulator_containers_grown": _grown(simulator[0], simulator[-1]) if len(simulator) == 2 else {},
        "tracemalloc_minutes": trace_min,
        "tracemalloc_bot_growth_mb": growth["bot_mb"],
        "tracemalloc_simulator_growth_mb": growth["simulator_mb"],
        "tracemalloc_bot_top_growth": growth["bot_top"],
        "orders_placed": session.engine.orders_placed,
        "fills": fills,
        "goal_rss_mb": RSS_GOAL_MB,
    }


def bench_memory(
    markets: int = 100,
    minutes: float = 30.0,
    settle_min: float = 5.0,
    trace_min: float = 1.0,
    step_s: float = 1.0,
) -> dict[str, Any]:
    """RSS of a `markets`-market engine session over `minutes` virtual minutes, then `trace_min`
    more minutes under tracemalloc (see the module docstring)."""
    return asyncio.run(_measure(markets, minutes, settle_min, trace_min, step_s))


def summary(result: dict[str, Any]) -> list[str]:
    """The figures as printed by `make bench` and by this module."""
    lines = [
        f"{result['markets']} markets, {result['virtual_minutes']:g} virtual minutes "
        f"({result['orders_placed']:,} orders placed, {result['fills']:,} fills; "
        f"{result['wall_s']:.0f} s of wall time): "
        f"RSS peak {result['rss_peak_mb']:.0f} MB (goal < {RSS_GOAL_MB:.0f}), "
        f"{result['rss_growth_after_warmup_mb']:+.1f} MB from minute {result['settle_min']:g} to the end",
        f"RSS per virtual minute (MB): {' '.join(f'{r:.0f}' for r in result['rss_samples_mb'])}",
        f"tracemalloc over {result['tracemalloc_minutes']:g} more minute(s), memory still held at its end: "
        f"allocated by the bot's code {result['tracemalloc_bot_growth_mb']:+.2f} MB (some of it held by "
        f"the simulator, e.g. the order sizes its exchange keeps), by the simulator's "
        f"{result['tracemalloc_simulator_growth_mb']:+.2f} MB; the bot's largest sites:",
    ]
    lines += [f"  {line}" for line in result["tracemalloc_bot_top_growth"]]
    grown = result["bot_containers_grown"]
    lines.append(
        f"the engine's containers (dicts, lists, sets, deques) grown from minute {result['settle_min']:g} "
        f"to the end: {', '.join(f'{k} {a:,} -> {b:,}' for k, (a, b) in grown.items()) or 'none'}"
    )
    grown = result["simulator_containers_grown"]
    lines.append(
        f"the simulator's: {', '.join(f'{k} {a:,} -> {b:,}' for k, (a, b) in grown.items()) or 'none'}"
    )
    return lines


def bench_memory_process(minutes: float = 30.0) -> dict[str, Any]:
    """`bench_memory` in a fresh Python process: the RSS of `make bench`'s own process holds what the
    benches before it allocated, which is not the memory a 100-market run needs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_memory", "--json", str(minutes)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    as_json = "--json" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--json"]
    measured = bench_memory(minutes=float(args[0]) if args else 30.0)
    print(json.dumps(measured) if as_json else "\n".join(summary(measured)))
