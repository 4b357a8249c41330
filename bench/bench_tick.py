"""Tick-to-quote as it happens in production: three processes, one clock, a figure per stage.

The exchange runs in its own process (`polymm exchange serve --flow off --timing`: nobody but the
mover moves its books), the bot in a second (bench/tick_bot.py: the real engine and Polymarket adapter)
and the mover in this one. Each move is one book change that shifts the mid by 0.02 (a YES bid at
0.44 placed, or cancelled again), so the bot must requote both sides. The figure runs from the
exchange's publication of the change (its CLOCK_MONOTONIC stamp on the WebSocket event) to the bot's
new orders acknowledged by the exchange (venue.place returning), and is cut into stages:

    ws receive      published -> the frame reaches the bot's market stream
    parse           the frame parsed into typed events
    decision        parsed -> the engine calls the venue (book, quoter, reconcile, risk)
    cancel first    the engine waits for the cancel's confirmation before placing (0 when the places
                    may rest beside the orders being cancelled, and go concurrently)
    adapter prep    venue.place -> the signer (market, tick and grid checks)
    signing         the signer's batch
    request sent    signed -> the exchange's app has the request (L2 headers, client, loopback)
    exchange        the exchange's own processing (its X-Polymm-Timing stamps)
    acknowledgement the exchange answered -> venue.place returns (transit, client, parsing)

The stages add up to the total of each move. Moves wait for the previous quote and a short gap, so
they never queue behind each other.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_engine import Mover, percentile
from bench.soak_procs import start_exchange
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import Market

ROOT = Path(__file__).resolve().parents[1]
BOT = Path(__file__).with_name("tick_bot.py")
# Nobody but the mover moves the books; the exchange stamps its processing and publications.
EXCHANGE_OPTIONS = ["--flow", "off", "--timing", "--settlement-delay", "0"]
GOAL_P50_MS, GOAL_P99_MS = 3.0, 10.0
# Between moves: each move places two orders, and the adapter paces orders at 40/s (Polymarket's
# per-signer limit, ratelimit.py); a faster mover would time the token bucket, not the path.
MOVE_GAP_S = 0.06
STAGES = (
    ("ws_receive", "published", "arrived"),
    ("parse", "arrived", "parsed"),
    ("decision", "parsed", "decided"),
    ("cancel_first", "decided", "place_call"),
    ("adapter_prep", "place_call", "sign_start"),
    ("signing", "sign_start", "sign_end"),
    ("request_sent", "sign_end", "exch_recv"),
    ("exchange", "exch_recv", "exch_resp"),
    ("acknowledgement", "exch_resp", "acked"),
)
# Where the time of three stages goes, from finer stamps (absent in an older checkout's records):
# printed under their stage, not added to the total.
SUBSTAGES = {
    "ws_receive": (
        ("ws_fanout", "exchange: publication -> frame written", "published", "ws_sent"),
        ("ws_transit", "written -> our stream (loopback, websockets)", "ws_sent", "arrived"),
    ),
    "request_sent": (
        ("request_build", "adapter: body, L2 headers", "sign_end", "sent"),
        ("request_transit", "client, loopback, the exchange reading it", "sent", "exch_recv"),
    ),
    "acknowledgement": (
        ("answer_transit", "loopback, client reading the answer", "exch_resp", "answered"),
        ("answer_parse", "adapter: the answer parsed", "answered", "acked"),
    ),
}
STAGE_NAMES = {
    "ws_receive": "WS receive (publication -> our stream)",
    "parse": "WS parse",
    "decision": "decision (book, quoter, reconcile, risk)",
    "cancel_first": "waiting for the cancel's confirmation",
    "adapter_prep": "adapter: market, tick, grid",
    "signing": "signing",
    "request_sent": "request sent (headers, client, loopback)",
    "exchange": "exchange processing",
    "acknowledgement": "acknowledgement (answer -> place returns)",
}


async def _start_bot(url: str, market: Market, pythonpath: str) -> asyncio.subprocess.Process:
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        url,
        market.condition_id,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    assert bot.stdout is not None
    while True:
        line = await asyncio.wait_for(bot.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the bot process ended before quoting")
        if json.loads(line).get("ready"):
            return bot


async def _moves(mover: Mover, bot: asyncio.subprocess.Process, moves: int) -> list[dict[str, int]]:
    """Move the book `moves` times; each move's stamps as the bot printed them."""
    assert bot.stdout is not None
    out: list[dict[str, int]] = []
    raised: str | None = None
    for i in range(moves + 5):
        if raised is None:
            raised = await mover.bid("0.44")  # the mid goes 0.50 -> 0.52
        else:
            await mover.cancel(raised)  # and back
            raised = None
        line = await asyncio.wait_for(bot.stdout.readline(), 10)
        record = json.loads(line)
        if i >= 5 and record.get("places") and "move" in record:  # the first five warm up
            out.append(record["move"])
        await asyncio.sleep(MOVE_GAP_S)
    return out


async def _run(moves: int, pythonpath: str) -> list[dict[str, int]]:
    with tempfile.TemporaryDirectory(prefix="polymm-tick-") as workdir:
        exchange, url = await start_exchange(
            Path(workdir), EXCHANGE_OPTIONS, pythonpath=pythonpath
        )  # the exchange of the same checkout as the bot
        try:
            return await _quote_moves(url, moves, pythonpath)
        finally:
            await exchange.stop(10.0)


async def _quote_moves(url: str, moves: int, pythonpath: str) -> list[dict[str, int]]:
    bot: asyncio.subprocess.Process | None = None
    try:
        market = sample_markets()[0]  # 0.01 tick, empty book with the flow off
        mover = Mover(url, "0x" + "ab" * 32, market)
        await mover.start()
        await mover.bid("0.40", market.no_token)  # the YES ask at 0.60
        await mover.bid("0.40")  # the YES bid at 0.40
        bot = await _start_bot(url, market, pythonpath)
        return await _moves(mover, bot, moves)
    finally:
        if bot is not None and bot.stdin is not None:
            bot.stdin.close()
            try:
                await asyncio.wait_for(bot.wait(), 15)
            except TimeoutError:
                bot.kill()


def stages_of(records: list[dict[str, int]]) -> dict[str, list[float]]:
    """Milliseconds per stage and in total, one value per move; a stage a move lacks counts 0."""
    out: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    out["total"] = []
    for r in records:
        for name, start, end in STAGES:
            out[name].append((r[end] - r[start]) / 1e6 if start in r and end in r else 0.0)
        out["total"].append((r["acked"] - r["published"]) / 1e6)
    return out


def figures(values: list[float]) -> dict[str, float]:
    median, p99, mean = statistics.median(values), percentile(values, 0.99), statistics.fmean(values)
    return {"p50": median, "p99": p99, "mean": mean}


def substages_of(records: list[dict[str, int]]) -> dict[str, dict[str, float]]:
    """p50, p99 and mean of each substage the records have the stamps of (ms)."""
    out: dict[str, dict[str, float]] = {}
    for parts in SUBSTAGES.values():
        for name, _, start, end in parts:
            values = [(r[end] - r[start]) / 1e6 for r in records if start in r and end in r]
            if values:
                out[name] = figures(values)
    return out


def summary(records: list[dict[str, int]]) -> dict[str, Any]:
    stamped = [r for r in records if "published" in r]
    per = stages_of(stamped)
    total = per.pop("total")
    return {
        "p50": statistics.median(total),
        "p99": percentile(total, 0.99),
        "mean": statistics.fmean(total),
        "moves": len(total),
        "unstamped_moves": len(records) - len(stamped),  # no publication stamp: not in the figures
        "stages": {name: figures(v) for name, v in per.items()},
        "substages": substages_of(stamped),
        "goal_p50": GOAL_P50_MS,
        "goal_p99": GOAL_P99_MS,
        "met": statistics.median(total) <= GOAL_P50_MS and percentile(total, 0.99) <= GOAL_P99_MS,
    }


def bench_tick_to_quote_process(moves: int = 220, pythonpath: str | None = None) -> dict[str, Any]:
    """Tick-to-quote across three processes; `pythonpath`: the polymm_cli the bot runs (this one)."""
    started = time.perf_counter()
    records = asyncio.run(_run(moves, pythonpath or str(ROOT)))
    result = summary(records)
    result["wall_s"] = time.perf_counter() - started
    return result


def _row(name: str, f: dict[str, float], floor: dict[str, float] | None) -> str:
    floor_cell = f"{floor['p50']:>8.3f}" if floor is not None else f"{'':>8}"
    return f"  {name:<46} {f['p50']:>8.3f} {f['p99']:>8.3f} {f['mean']:>8.3f} {floor_cell}"


def table(result: dict[str, Any], floor: dict[str, Any] | None = None) -> str:
    """The breakdown as the bench prints it: p50, p99 and mean of each stage (with where the time of
    the hops goes under them), then the total; `floor` (bench/tick_floor.py): the same hops done by
    bare processes, p50 beside ours."""
    lines = [f"  {'stage':<46} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'floor':>8}"]
    floors = floor["stages"] if floor is not None else {}
    subs = result.get("substages", {})
    for name, f in result["stages"].items():
        lines.append(_row(STAGE_NAMES[name], f, floors.get(name)))
        for sub, label, _, _ in SUBSTAGES.get(name, ()):
            if sub in subs:
                lines.append(_row("  " + label, subs[sub], None))
    total = {"p50": result["p50"], "p99": result["p99"], "mean": result.get("mean", float("nan"))}
    lines.append(_row("total: publication -> our orders acknowledged", total, floor))
    verdict = "met" if result["met"] else "NOT met: the stages above show where the time goes"
    lines.append(f"  goal p50 <= {GOAL_P50_MS:g} ms and p99 <= {GOAL_P99_MS:g} ms: {verdict}")
    if floor is not None:
        lines.append(
            "  floor: the same hops (WS frame out, HTTP POST, answer) by bare processes on the same loop"
            f" and libraries, no polymm logic (bench/tick_floor.py, {floor['moves']} moves): p50"
            f" {floor['p50']:.3f} ms, p99 {floor['p99']:.3f} ms"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    from bench.tick_floor import bench_tick_floor

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 220
    res = bench_tick_to_quote_process(count, sys.argv[2] if len(sys.argv) > 2 else None)
    floor = bench_tick_floor(count) if os.environ.get("POLYMM_BENCH_FLOOR") == "1" else None
    print(table(res, floor))
    print(json.dumps({k: v for k, v in res.items() if k not in ("stages", "substages")}, default=str))
