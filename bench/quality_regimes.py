"""Trading quality per regime: every strategy in every named regime, same seeds, same flow.

Strategies (all at size 10 and limit 30; `bench/baselines.py` has the textbook makers):

- seed design: a fixed spread 0.02 around the mid, no skew, no regime rules;
- Avellaneda-Stoikov and GLFT: the seed design's quoter with a pricer setting the centre and the
  half-spread (parameters estimated online from the flow; 0.02 until the estimates are ready);
- polymm: polymm's defaults (`bench_quality.OURS`, `OUR_REGIME`): no --spread, so it chooses its
  own width (`quoter.adaptive_offset`), 0.02 only without a book.

`python -m bench.quality_regimes [SEEDS] [SCALE] [REGIME,...] [FIRST_SEED]`: the defaults were chosen
on seeds 1 to 50; FIRST_SEED 51 runs the out-of-sample check on seeds 51 to 100.

Regimes: `polymm_cli.exchange.regimes.REGIMES`, each on the sample market it stands for
(`NATURAL_MARKET`). Each (regime, strategy, seed) is one `simulate` session of `MINUTES[regime]`
minutes (after the flow's 20 s warm-up); seed s gives the same flow to every strategy, until the
strategies' own orders make the paths differ. Sessions run in a pool of `WORKERS` processes.

Figures per strategy (docs/strategy.md, "The quality table"): P&L mean (95% t-interval) and worst,
P&L per unit of inventory risk (mean / sd of hourly P&L, `bench/intervals.py`; 95% bootstrap
interval), max drawdown mean (t-interval) and worst, each marked at the flow's latent fair value and
at the mid of the book without us; inventory std, time at the limit, fills, and the P&L at the fair
value split into its three kinds of income (spread capture, liquidity rewards and maker rebates the
exchange paid every `INCOME_EPOCH_S`; pUSD) as means over seeds. `reward` in the result keeps the
engine's own estimate where nothing was paid.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.backtest import SessionStats, simulate
from bench.baselines import BASELINE_REGIME, avellaneda_stoikov, glft
from bench.bench_quality import OUR_REGIME, OURS, SEED_DESIGN
from bench.intervals import mean_interval, risk_ratio_interval
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.regimes import NATURAL_MARKET, REGIMES
from polymm_cli.model import Market
from polymm_cli.pricing import PricerFactory
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams

# Session minutes per regime, for the whole table to run in about 6 minutes on 2 cores: the flow's
# cost per simulated minute differs about tenfold between quiet and in-play.
MINUTES: dict[str, float] = {"quiet": 30.0, "active": 15.0, "in-play": 6.0, "crypto-short": 5.0}
SEEDS = 50
WORKERS = 2
# The exchange pays liquidity rewards and maker rebates every minute of a session (prorated pools),
# so even a 5-minute session shows the three kinds of income apart.
INCOME_EPOCH_S = 60.0


@dataclass(frozen=True)
class Strategy:
    params: QuoteParams
    regime: RegimeParams
    pricer: PricerFactory | None = None


STRATEGIES: dict[str, Strategy] = {
    "seed design": Strategy(SEED_DESIGN, RegimeParams.off()),
    "Avellaneda-Stoikov": Strategy(SEED_DESIGN, BASELINE_REGIME, avellaneda_stoikov),
    "GLFT": Strategy(SEED_DESIGN, BASELINE_REGIME, glft),
    "polymm": Strategy(OURS, OUR_REGIME),
}


def market_for(regime: str) -> Market:
    markets = sample_markets()
    slug = NATURAL_MARKET.get(regime)
    return next((m for m in markets if m.slug == slug), markets[0])


def run_session(job: tuple[str, str, int, float]) -> tuple[str, str, SessionStats, float]:
    """One session (a pool job): regime, strategy, seed, minutes; with the CPU seconds it took."""
    regime, name, seed, minutes = job
    cpu = time.process_time()
    logging.getLogger("polymm").setLevel(logging.ERROR)  # a fill still settling at the stop is expected here
    s = STRATEGIES[name]
    stats = asyncio.run(
        simulate(
            seed,
            minutes,
            s.params,
            flow=REGIMES[regime],
            market=market_for(regime),
            regime=s.regime,
            pricer=s.pricer,
            income_epoch_s=INCOME_EPOCH_S,
        )
    )
    return regime, name, stats, time.process_time() - cpu


def summarise(sessions: list[SessionStats], minutes: float) -> dict[str, Any]:
    """The table's figures for one strategy in one regime (see the module)."""
    out: dict[str, Any] = {}
    for mark, pnl, drawdown in (
        ("fair", [s.pnl for s in sessions], [s.max_drawdown for s in sessions]),
        ("mid", [s.pnl_mid for s in sessions], [s.max_drawdown_mid for s in sessions]),
    ):
        out[mark] = {
            "pnl": mean_interval(pnl),
            "worst_pnl": min(pnl),
            "pnl_per_risk": risk_ratio_interval(pnl, minutes),
            "drawdown": mean_interval(drawdown),
            "worst_drawdown": max(drawdown),
        }
    out["inventory_std"] = statistics.fmean(s.inventory_std for s in sessions)
    out["time_at_limit"] = statistics.fmean(s.time_at_limit for s in sessions)
    out["fills"] = statistics.fmean(s.fills for s in sessions)
    out["reward"] = statistics.fmean(s.reward for s in sessions)
    out["rewards"] = statistics.fmean(s.rewards_paid for s in sessions)
    out["rebates"] = statistics.fmean(s.rebates_paid for s in sessions)
    out["spread_capture"] = statistics.fmean(s.pnl - s.rewards_paid - s.rebates_paid for s in sessions)
    return out


def bench_quality_regimes(
    seeds: int = SEEDS,
    minutes: dict[str, float] | None = None,
    *,
    regimes: tuple[str, ...] | None = None,
    strategies: tuple[str, ...] | None = None,
    workers: int = WORKERS,
    first_seed: int = 1,
) -> dict[str, Any]:
    """Every strategy in every regime over `seeds` seeds from `first_seed` on (1: the seeds the
    defaults were chosen on; 51 with 50 seeds: the out-of-sample check); the figures and the wall time."""
    minutes = {**MINUTES, **(minutes or {})}
    names = strategies or tuple(STRATEGIES)
    chosen = regimes or tuple(REGIMES)
    # the costliest regimes first, so the pool's last jobs are short
    jobs = sorted(
        ((r, n, s, minutes[r]) for r in chosen for n in names for s in range(first_seed, first_seed + seeds)),
        key=lambda j: -_COST_PER_MINUTE.get(j[0], 1.0) * j[3],
    )
    started = time.perf_counter()
    runs: dict[tuple[str, str], list[SessionStats]] = {}
    cpu: dict[str, float] = dict.fromkeys(chosen, 0.0)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for regime, name, stats, seconds in pool.map(run_session, jobs, chunksize=4):
            runs.setdefault((regime, name), []).append(stats)
            cpu[regime] += seconds
    wall = time.perf_counter() - started
    table = {
        r: {n: summarise(sorted(runs[(r, n)], key=lambda s: s.seed), minutes[r]) for n in names}
        for r in chosen
    }
    return {
        "seeds": seeds,
        "first_seed": first_seed,
        "minutes": {r: minutes[r] for r in chosen},
        "workers": workers,
        "wall_s": wall,
        "cpu_s": cpu,  # per regime, over its sessions: an idle machine's wall time is about sum / workers
        "regimes": table,
    }


_COST_PER_MINUTE = {"quiet": 0.04, "active": 0.08, "in-play": 0.4, "crypto-short": 0.4}  # CPU-s, measured


def _interval(value: tuple[float | None, float | None, float | None], fmt: str) -> str:
    mean, low, high = value
    if mean is None:
        return "n/a"
    if low is None or high is None:
        return format(mean, fmt)
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


_COLUMNS: list[tuple[str, int, Callable[[dict[str, Any], dict[str, Any]], str]]] = [
    ("P&L mean [95%]", 24, lambda m, r: _interval(m["pnl"], "+.2f")),
    ("worst", 7, lambda m, r: f"{m['worst_pnl']:+.2f}"),
    ("P&L/risk [95%]", 24, lambda m, r: _interval(m["pnl_per_risk"], "+.2f")),
    ("maxDD mean", 12, lambda m, r: f"{m['drawdown'][0]:.2f}"),
    ("maxDD worst", 13, lambda m, r: f"{m['worst_drawdown']:.2f}"),
]
_SHARED: list[tuple[str, int, str, str]] = [
    ("inv std", 9, "inventory_std", ".1f"),
    ("at limit", 10, "time_at_limit", ".1%"),
    ("fills", 8, "fills", ".1f"),
    ("spread", 8, "spread_capture", "+.3f"),
    ("rewards", 9, "rewards", ".3f"),
    ("rebates", 9, "rebates", ".3f"),
]


def table(result: dict[str, Any]) -> str:
    """The per-regime table: two rows per strategy, P&L marked at the fair value, then at the mid."""
    head = f"  {'strategy':<20}{'mark':<6}" + "".join(f"{c:>{w}}" for c, w, _ in _COLUMNS)
    head += "".join(f"{c:>{w}}" for c, w, _, _ in _SHARED)
    lines: list[str] = []
    for regime, rows in result["regimes"].items():
        first = result.get("first_seed", 1)
        seeds = f"seeds {first}-{first + result['seeds'] - 1}"
        lines.append(f"{regime} ({result['seeds']} {seeds} x {result['minutes'][regime]:g} min)")
        lines.append(head)
        for name, row in rows.items():
            for mark in ("fair", "mid"):
                cells = "".join(f"{f(row[mark], row):>{w}}" for _, w, f in _COLUMNS)
                if mark == "fair":
                    cells += "".join(f"{format(row[k], fmt):>{w}}" for _, w, k, fmt in _SHARED)
                lines.append(f"  {name if mark == 'fair' else '':<20}{mark:<6}{cells}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else SEEDS
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0  # session minutes x this
    only = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 and sys.argv[3] else None
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 1  # 51: the out-of-sample seeds after 1-50
    out = bench_quality_regimes(
        seeds, {r: m * scale for r, m in MINUTES.items()}, regimes=only, first_seed=first
    )
    print(table(out))
    print(
        f"  ({len(out['regimes'])} regimes x {len(STRATEGIES)} strategies x {seeds} seeds: "
        f"{out['wall_s']:.0f} s wall, {WORKERS} processes; CPU s per regime "
        + ", ".join(f"{r} {c:.0f}" for r, c in out["cpu_s"].items())
        + ")"
    )
