"""Ablation of polymm's rules per regime: which rule helps and which hurts, on the quality table's world.

Variants (each a `QuoteParams` and a `RegimeParams`), all at the seed design's spread, size and limit:

- `seed`: the seed design (no skew, no microprice, every regime rule off): the control;
- `before`: polymm's defaults before issue 11's tuning (`BEFORE`);
- `-NAME`: `before` with one rule switched off (microprice, skew, vol, jump, trend, toxicity);
- `seed+NAME`: the seed design with that one rule switched on (at `before`'s setting);
- `polymm`: polymm's defaults now (`bench_quality.OURS`, `OUR_REGIME`);
- the candidates measured on the way (`A`, `A+skew6`, ...: `_CANDIDATES`), by name.

Same sessions as `bench/quality_regimes.py` (`simulate`, `MINUTES`, the regime's natural market), same
seeds for every variant. Prints per regime and variant: P&L per unit of risk (mean / sd of hourly
P&L) with its 95% bootstrap interval, mean P&L, mean and worst max drawdown, fills; marked at the fair
value. Usage: `python -m bench.ablation SEEDS [REGIMES] [VARIANTS]`: SEEDS a count from seed 1, or
`FIRST-LAST` (fresh seeds, out of sample); comma-separated lists, by default active, in-play and
crypto-short, and every variant but `polymm` and the candidates.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from decimal import Decimal

from bench.backtest import SessionStats, simulate
from bench.bench_quality import OUR_REGIME, OURS, SEED_DESIGN
from bench.intervals import risk_ratio_interval
from bench.quality_regimes import MINUTES, WORKERS, market_for
from polymm_cli.exchange.regimes import REGIMES
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams
from polymm_cli.toxicity import ToxicityParams

OFF = RegimeParams.off()
# polymm's defaults before issue 11's tuning: microprice on, skew from 0.3 of L, jump cool-down on.
# The ablation rows (-rule, seed+rule) and the candidates are relative to these, so the figures in
# docs/strategy.md ("Defaults measured") stay reproducible after the defaults changed.
BEFORE: tuple[QuoteParams, RegimeParams] = (
    replace(
        OURS,
        use_microprice=True,
        skew_start=Decimal("0.3"),
        skew_factor=Decimal("0.5"),
        skew_gamma=Decimal(0),
    ),
    replace(OUR_REGIME, jump_enabled=True),
)
_BQ, _BR = BEFORE
_SEED_RULES: dict[str, tuple[QuoteParams, RegimeParams]] = {
    "microprice": (replace(SEED_DESIGN, use_microprice=True), OFF),
    "skew": (
        replace(SEED_DESIGN, skew_enabled=True, skew_factor=_BQ.skew_factor, skew_start=_BQ.skew_start),
        OFF,
    ),
    "vol": (SEED_DESIGN, replace(OFF, vol_enabled=True)),
    "jump": (SEED_DESIGN, replace(OFF, jump_enabled=True)),
    "trend": (SEED_DESIGN, replace(OFF, trend_enabled=True)),
    "toxicity": (SEED_DESIGN, replace(OFF, toxicity=ToxicityParams())),
}
_MINUS: dict[str, tuple[QuoteParams, RegimeParams]] = {
    "microprice": (replace(_BQ, use_microprice=False), _BR),
    "skew": (replace(_BQ, skew_enabled=False), _BR),
    "vol": (_BQ, replace(_BR, vol_enabled=False)),
    "jump": (_BQ, replace(_BR, jump_enabled=False)),
    "trend": (_BQ, replace(_BR, trend_enabled=False)),
    "toxicity": (_BQ, replace(_BR, toxicity=ToxicityParams(enabled=False))),
}
# Candidates (A: the two rules whose removal helped most switched off; then one change at a time).
_A = (replace(_BQ, use_microprice=False), replace(_BR, jump_enabled=False))
_CANDIDATES: dict[str, tuple[QuoteParams, RegimeParams]] = {
    "A": _A,
    "A-trend": (_A[0], replace(_A[1], trend_enabled=False)),
    "A+vol4": (_A[0], replace(_A[1], vol_reference=0.004)),
    "A+jump6": (_A[0], replace(_A[1], jump_enabled=True, jump_threshold=Decimal("0.06"))),
    "A-pull": (_A[0], replace(_A[1], toxicity=ToxicityParams(pull_s=0.0))),
    "A+skew6": (replace(_A[0], skew_start=Decimal("0.6")), _A[1]),  # the defaults chosen then
    "A+skew6f1": (replace(_A[0], skew_start=Decimal("0.6"), skew_factor=Decimal(1)), _A[1]),
    "A+skew6+micro": (replace(_A[0], skew_start=Decimal("0.6"), use_microprice=True), _A[1]),
    "B": (
        replace(_A[0], skew_start=Decimal("0.6")),
        replace(_A[1], jump_enabled=True, jump_threshold=Decimal("0.06")),
    ),
}
VARIANTS: dict[str, tuple[QuoteParams, RegimeParams]] = {
    "seed": (SEED_DESIGN, OFF),
    "before": BEFORE,
    **{f"-{name}": v for name, v in _MINUS.items()},
    **{f"seed+{name}": v for name, v in _SEED_RULES.items()},
    "polymm": (OURS, OUR_REGIME),
}
ABLATION_DEFAULT = tuple(name for name in VARIANTS if name != "polymm")  # the table in docs/strategy.md
VARIANTS.update(_CANDIDATES)
ABLATION_REGIMES = ("active", "in-play", "crypto-short")  # quiet fills 0.1 times a session: nothing to see


def run_session(job: tuple[str, str, int]) -> tuple[str, str, SessionStats]:
    """One session (a pool job): regime, variant, seed."""
    regime, name, seed = job
    logging.getLogger("polymm").setLevel(logging.ERROR)
    params, rules = VARIANTS[name]
    stats = asyncio.run(
        simulate(seed, MINUTES[regime], params, flow=REGIMES[regime], market=market_for(regime), regime=rules)
    )
    return regime, name, stats


def ablate(
    seeds: range, regimes: tuple[str, ...], names: tuple[str, ...]
) -> dict[tuple[str, str], list[SessionStats]]:
    """Every variant in every regime over the seeds (`range(1, 31)`: seeds 1 to 30)."""
    jobs = [(r, n, s) for r in regimes for n in names for s in seeds]
    runs: dict[tuple[str, str], list[SessionStats]] = {}
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        for regime, name, stats in pool.map(run_session, jobs, chunksize=4):
            runs.setdefault((regime, name), []).append(stats)
    return runs


def report(
    runs: dict[tuple[str, str], list[SessionStats]], regimes: tuple[str, ...], names: tuple[str, ...]
) -> str:
    lines = []
    for regime in regimes:
        lines.append(f"{regime} ({MINUTES[regime]:g} min)")
        lines.append(
            f"  {'variant':<18}{'P&L/risk [95%]':>26}{'P&L mean':>10}{'maxDD':>8}{'worst':>8}{'fills':>8}"
        )
        for name in names:
            sessions = runs[(regime, name)]
            ratio, low, high = risk_ratio_interval([s.pnl for s in sessions], MINUTES[regime])
            cell = "n/a" if ratio is None else f"{ratio:+.2f} [{low:+.2f}, {high:+.2f}]"
            lines.append(
                f"  {name:<18}{cell:>26}{statistics.fmean(s.pnl for s in sessions):>+10.2f}"
                f"{statistics.fmean(s.max_drawdown for s in sessions):>8.2f}"
                f"{max(s.max_drawdown for s in sessions):>8.2f}"
                f"{statistics.fmean(s.fills for s in sessions):>8.1f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    # SEEDS: a count from seed 1 ("30"), or a range of seeds ("51-100": fresh seeds, out of sample)
    first, _, last = (sys.argv[1] if len(sys.argv) > 1 else "30").rpartition("-")
    seeds = range(int(first or 1), int(last) + 1)
    regimes = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ABLATION_REGIMES
    names = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else ABLATION_DEFAULT
    started = time.perf_counter()
    result = ablate(seeds, regimes, names)
    print(report(result, regimes, names))
    print(
        f"  (seeds {seeds.start}-{seeds.stop - 1}, {time.perf_counter() - started:.0f} s wall, "
        f"{WORKERS} processes)"
    )
