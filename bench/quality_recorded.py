"""Trading quality on recorded real markets: the quality table's four strategies, replayed.

The same strategies as the per-regime table (`quality_regimes.STRATEGIES`: seed design,
Avellaneda-Stoikov, GLFT, polymm's defaults) each replay real Polymarket captures through the
production engine against the simulated venue of `polymm backtest` (polymm_cli/backtest/replay.py),
with that command's defaults: the risk-averse queue, its latencies, its paper collateral, its 30 s
warm-up (`services.backtest.session_config` on default settings). Only the strategy's quote
parameters, regime rules and pricer are set, as in the regime table.

Captures (Tickscope, an NHL game in play, June 2026): the two full files beside the repository
(`SHARED`, about 14 and 6 minutes) when they are there, each market with at least `MIN_TRADES`
recorded trades (the active ones: a market that barely trades can fill nobody and only adds zeros);
else the 3-minute sample copied into tests/fixtures. The sample is the first 3 minutes of one market
of the first full file, so it is not added to the full files' sessions (it would count the same
minutes twice). Each capture is imported once into a temporary directory; each (capture, market,
strategy) is one session, run in a pool of `WORKERS` processes.

Figures per strategy over the (capture, market) sessions: P&L mean (95% t-interval) and worst, P&L
per unit of inventory risk (the regime table's definition, generalised to sessions of different
lengths: `intervals.risk_ratio_mixed`; bootstrap interval), max drawdown mean and worst, inventory
std, time at the limit, fills, and the three kinds of income. P&L is marked at the mid (a recording
has no latent fair value): the last mid of the session's book. The simulated venue pays no rewards
and no rebates (`PaperVenue.payouts` is empty, and the captures carry no reward programme or fee
schedule), so the whole P&L is spread capture (and inventory marked at the mid).

Must not: change a strategy (they live in quality_regimes); replay with other queue or latency
models than `polymm backtest` uses by default.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.intervals import mean_interval, risk_ratio_mixed_interval
from bench.quality_regimes import STRATEGIES, _interval
from polymm_cli.backtest.importers import import_capture
from polymm_cli.backtest.recording import recording_markets, replay_events
from polymm_cli.backtest.replay import ReplayConfig, replay_session
from polymm_cli.backtest.result import BacktestResult
from polymm_cli.services.backtest import BacktestOptions, session_config
from polymm_cli.settings import Settings
from polymm_cli.venues.base import LastTrade

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "03_normalized_ticks"
FULL_CAPTURES = ("tickscope__polymarket_20260607_0130.parquet", "tickscope__polymarket_20260607_0145.parquet")
FIXTURE = (
    ROOT / "tests" / "fixtures" / "03_normalized_ticks" / "tickscope__polymarket_20260607_0130_sample.parquet"
)
MIN_TRADES = 10
WORKERS = 2


@dataclass(frozen=True)
class Session:
    """One (capture, market, strategy) replay, as the table reads it."""

    capture: str
    market: str
    strategy: str
    minutes: float
    events: int
    trades: int  # recorded market trades in the capture (both tokens)
    pnl: float  # pUSD, marked at the last mid
    max_drawdown: float
    inventory_std: float
    time_at_limit: float
    fills: int
    estimated_reward: float
    quoted: float  # share of samples with at least one of our orders resting
    cpu_s: float
    note: str = ""  # why a session has no fill


def captures() -> tuple[list[Path], str]:
    """The captures to replay and how the table names them."""
    full = [SHARED / name for name in FULL_CAPTURES]
    if all(p.is_file() for p in full):
        return full, "Tickscope NHL game in play, June 2026: 2 full captures"
    return [FIXTURE], "Tickscope NHL game in play, June 2026: the 3-minute sample in tests/fixtures"


def market_activity(recording: Path) -> dict[str, tuple[int, int]]:
    """(events, trades) recorded per market (slug), both tokens counted."""
    slug_of = {t: m.slug or m.condition_id for m in recording_markets(recording) for t in m.tokens}
    counts = {slug: [0, 0] for slug in slug_of.values()}
    for item in replay_events(recording):
        event = item.event
        updates = getattr(event, "updates", ())
        token = getattr(event, "token_id", None) or (updates[0].token_id if updates else None)
        if token in slug_of:
            row = counts[slug_of[token]]
            row[0] += 1
            row[1] += isinstance(event, LastTrade)
    return {slug: (events, trades) for slug, (events, trades) in counts.items()}


def _config(market: str, strategy: str) -> ReplayConfig:
    """`polymm backtest`'s session on default settings, with the strategy's quoting."""
    config = session_config(Settings(_env_file=None), BacktestOptions(paths=[], market=market))  # type: ignore[call-arg]
    s = STRATEGIES[strategy]
    return replace(config, engine=replace(config.engine, params=s.params, regime=s.regime, pricer=s.pricer))


def run_session(job: tuple[str, Path, str, int, str]) -> Session:
    """One replay (a pool job): capture name, recording, market, its recorded trades, strategy."""
    capture, recording, market, trades, strategy = job
    logging.getLogger("polymm").setLevel(logging.ERROR)
    cpu = time.process_time()
    result = asyncio.run(replay_session(recording, _config(market, strategy)))
    return _session(capture, market, strategy, trades, result, time.process_time() - cpu)


def _session(capture: str, market: str, strategy: str, trades: int, r: BacktestResult, cpu: float) -> Session:
    quoted = sum(1 for s in r.samples if s.bid is not None or s.ask is not None) / max(1, len(r.samples))
    minutes = r.duration_s / 60
    note = ""
    if r.fills == 0:
        note = (
            f"no fill in {minutes:.1f} min: quoted {quoted:.0%} of the time; {trades} recorded trades,"
            " none reached our orders past the queue ahead of them"
            if quoted
            else f"no fill in {minutes:.1f} min: never quoted"
        )
    return Session(
        capture=capture,
        market=market,
        strategy=strategy,
        minutes=minutes,
        events=r.events,
        trades=trades,
        pnl=float(r.total),
        max_drawdown=float(r.max_drawdown),
        inventory_std=float(r.inventory_std),
        time_at_limit=r.time_at_limit,
        fills=r.fills,
        estimated_reward=float(r.estimated_reward),
        quoted=quoted,
        cpu_s=cpu,
        note=note,
    )


def summarise(sessions: list[Session]) -> dict[str, Any]:
    """One strategy's figures over its sessions (see the module); the regime table's shape, one mark."""
    pnl = [s.pnl for s in sessions]
    drawdown = [s.max_drawdown for s in sessions]
    return {
        "mid": {
            "pnl": mean_interval(pnl) if len(pnl) > 1 else (pnl[0], None, None),  # one session: no interval
            "worst_pnl": min(pnl),
            "pnl_per_risk": risk_ratio_mixed_interval(pnl, [s.minutes for s in sessions]),
            "drawdown": mean_interval(drawdown),
            "worst_drawdown": max(drawdown),
        },
        "inventory_std": statistics.fmean(s.inventory_std for s in sessions),
        "time_at_limit": statistics.fmean(s.time_at_limit for s in sessions),
        "fills": statistics.fmean(s.fills for s in sessions),
        "spread_capture": statistics.fmean(pnl),  # nothing else is paid: see the module
        "rewards": None,
        "rebates": None,
        "estimated_reward": statistics.fmean(s.estimated_reward for s in sessions),
    }


def jobs_for(recordings: list[tuple[str, Path]], min_trades: int) -> list[tuple[str, Path, str, int, str]]:
    """Every strategy on every market of every recording with at least `min_trades` trades; the
    busiest markets first, so the pool's last jobs are short."""
    markets = [
        (events, (name, path, market, trades))
        for name, path in recordings
        for market, (events, trades) in market_activity(path).items()
        if trades >= min_trades
    ]
    markets.sort(key=lambda m: -m[0])  # a session's cost grows with its events
    return [(*m, strategy) for _, m in markets for strategy in STRATEGIES]


def bench_quality_recorded(
    paths: list[Path] | None = None, *, min_trades: int = MIN_TRADES, workers: int = WORKERS
) -> dict[str, Any]:
    """Every strategy on every active (capture, market) session; the figures, sessions and times."""
    chosen, label = (paths, ", ".join(p.name for p in paths)) if paths else captures()
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="polymm-quality-recorded-") as tmp:
        recordings = []
        for path in chosen:
            out = Path(tmp) / path.stem
            import_capture(path, out)
            recordings.append((path.stem, out))
        jobs = jobs_for(recordings, min_trades)
        preparing = time.process_time() - cpu  # the imports and the count of trades per market
        if workers == 1:
            sessions = [run_session(job) for job in jobs]
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                sessions = list(pool.map(run_session, jobs))
    by_strategy = {n: [s for s in sessions if s.strategy == n] for n in STRATEGIES}
    return {
        "source": label,
        "captures": [p.name for p in chosen],
        "min_trades": min_trades,
        "mark": "mid",
        "queue_and_latency": _defaults_described(),
        "sessions": [s.__dict__ for s in sessions],
        "strategies": {n: summarise(rows) for n, rows in by_strategy.items() if rows},
        "workers": workers,
        "wall_s": time.perf_counter() - started,
        "prepare_cpu_s": preparing,
        "cpu_s": preparing + sum(s.cpu_s for s in sessions),
    }


def _defaults_described() -> str:
    config = session_config(Settings(_env_file=None), BacktestOptions(paths=[]))  # type: ignore[call-arg]
    lat = config.latency
    feed = "recorded" if lat.market_data_s is None else f"{lat.market_data_s * 1000:g} ms"
    return (
        f"queue {config.queue.name}; order entry {lat.order_entry_s * 1000:g} ms,"
        f" cancel {lat.cancel_s * 1000:g} ms, feed {feed}; warm-up {config.warmup_s:g} s"
    )


_COLUMNS: list[tuple[str, int, Callable[[dict[str, Any]], str]]] = [
    ("P&L mean [95%]", 26, lambda r: _interval(r["mid"]["pnl"], "+.2f")),
    ("worst", 8, lambda r: f"{r['mid']['worst_pnl']:+.2f}"),
    ("P&L/risk [95%]", 26, lambda r: _interval(r["mid"]["pnl_per_risk"], "+.2f")),
    ("maxDD mean", 12, lambda r: f"{r['mid']['drawdown'][0]:.2f}"),
    ("maxDD worst", 13, lambda r: f"{r['mid']['worst_drawdown']:.2f}"),
    ("inv std", 9, lambda r: f"{r['inventory_std']:.1f}"),
    ("at limit", 10, lambda r: f"{r['time_at_limit']:.1%}"),
    ("fills", 8, lambda r: f"{r['fills']:.1f}"),
    ("spread", 8, lambda r: f"{r['spread_capture']:+.3f}"),
    ("rewards", 9, lambda r: "none"),
    ("rebates", 9, lambda r: "none"),
]


def table(result: dict[str, Any]) -> str:
    """The sessions replayed, then one row per strategy (P&L in pUSD marked at the mid)."""
    first = result["sessions"][0]["strategy"] if result["sessions"] else ""
    lines = ["  sessions (capture, market: recorded minutes after the warm-up, events, trades):"]
    for s in sorted(result["sessions"], key=lambda s: (s["capture"], -s["trades"])):
        if s["strategy"] == first:
            lines.append(
                f"    {s['capture']}, {s['market']}: {s['minutes']:.1f} min, {s['events']:,} events,"
                f" {s['trades']} trades"
            )
    lines.append(f"  {'strategy':<20}" + "".join(f"{c:>{w}}" for c, w, _ in _COLUMNS))
    for name, row in result["strategies"].items():
        lines.append(f"  {name:<20}" + "".join(f"{f(row):>{w}}" for _, w, f in _COLUMNS))
    return "\n".join(lines)


if __name__ == "__main__":
    out = bench_quality_recorded()
    print(f"{out['source']} ({out['queue_and_latency']}; P&L marked at the mid):")
    print(table(out))
    print(f"  ({len(out['sessions'])} sessions: {out['wall_s']:.0f} s wall, {out['cpu_s']:.0f} CPU s)")
