"""Trading quality: the seed design against our full strategy, same seeds, same flow, same length.

Seed design: fixed spread around the mid, a position limit, nothing else (no skew, no volatility,
jump or trend rules). Ours: polymm's defaults at the same spread, size and limit: inventory skew,
the microprice, and the regime rules (volatility, jump, trend). The flow is the local exchange's
seeded synthetic flow with informed takers (adverse selection is real). P&L is marked at the latent
fair value at the end of each session.

Caveat on time: the regime's cool-downs run on the engine's monotonic clock, which in virtual time
is the simulated clock (ManualClock.monotonic), so they behave as in a live session.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from dataclasses import dataclass
from decimal import Decimal

from bench.backtest import SessionStats, simulate
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams
from polymm_cli.settings import Settings

FLOW = FlowConfig(maker_level_size=10.0, taker_rate_per_min=20.0, informed_share=0.3)
SEED_DESIGN = QuoteParams(
    spread=Decimal("0.02"), size=Decimal(10), position_limit=Decimal(30), skew_enabled=False
)


def _our_defaults() -> QuoteParams:
    """polymm's default strategy (the settings' defaults) at the seed design's size and limit; the
    width is polymm's own (the settings' default: no --spread), the seed design's spread its fallback."""
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    return QuoteParams(
        spread=SEED_DESIGN.spread,
        size=SEED_DESIGN.size,
        position_limit=SEED_DESIGN.position_limit,
        skew_enabled=defaults.skew_enabled,
        skew_factor=defaults.skew_factor,
        skew_start=defaults.skew_start,
        skew_gamma=defaults.skew_gamma,
        skew_horizon_s=defaults.skew_horizon,
        use_microprice=defaults.microprice,
        # no --spread: polymm chooses its own width (the seed design's 0.02 only without a book)
        adaptive_spread=defaults.adaptive_spread_on(),
        taper=defaults.taper_on(),
    )


OURS = _our_defaults()
OUR_REGIME = RegimeParams()  # every rule at its default


@dataclass(frozen=True)
class Summary:
    name: str
    mean_pnl: float
    worst_pnl: float
    mean_drawdown: float
    worst_drawdown: float
    inventory_std: float
    time_at_limit: float
    fills: float


def summarise(name: str, sessions: list[SessionStats]) -> Summary:
    return Summary(
        name=name,
        mean_pnl=statistics.mean(s.pnl for s in sessions),
        worst_pnl=min(s.pnl for s in sessions),
        mean_drawdown=statistics.mean(s.max_drawdown for s in sessions),
        worst_drawdown=max(s.max_drawdown for s in sessions),
        inventory_std=statistics.mean(s.inventory_std for s in sessions),
        time_at_limit=statistics.mean(s.time_at_limit for s in sessions),
        fills=statistics.mean(s.fills for s in sessions),
    )


async def _run(seeds: int, minutes: float) -> tuple[Summary, Summary]:
    logging.getLogger("polymm").setLevel(logging.ERROR)  # a fill still settling at the stop is expected here
    seed_runs, our_runs = [], []
    for seed in range(1, seeds + 1):
        seed_runs.append(await simulate(seed, minutes, SEED_DESIGN, flow=FLOW, regime=RegimeParams.off()))
        our_runs.append(await simulate(seed, minutes, OURS, flow=FLOW, regime=OUR_REGIME))
    return summarise("seed design", seed_runs), summarise("polymm", our_runs)


def bench_quality(seeds: int = 20, minutes: float = 10.0) -> dict[str, object]:
    seed, ours = asyncio.run(_run(seeds, minutes))
    return {"seeds": seeds, "minutes": minutes, "seed_design": seed.__dict__, "polymm": ours.__dict__}


def table(result: dict[str, object]) -> str:
    rows = [result["seed_design"], result["polymm"]]
    keys = [
        "mean_pnl",
        "worst_pnl",
        "mean_drawdown",
        "worst_drawdown",
        "inventory_std",
        "time_at_limit",
        "fills",
    ]
    head = f"{'strategy':<12}" + "".join(f"{k:>15}" for k in keys)
    lines = [head]
    for row in rows:
        assert isinstance(row, dict)
        lines.append(f"{row['name']:<12}" + "".join(f"{row[k]:>15.3f}" for k in keys))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    out = bench_quality(seeds, minutes)
    print(f"{out['seeds']} seeds x {out['minutes']} min")
    print(table(out))
