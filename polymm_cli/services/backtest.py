"""Service for `polymm backtest`: settings -> the session config -> replay -> results (and a report).

What the CLI may reach of polymm_cli/backtest (cli never imports it): `BacktestResult` is
re-exported as the views' type (as services/reporting.py does for `PnlReport`).

The engine is configured by the same function as `polymm run` (`trading.engine_config`), so a
backtest trades with exactly the settings a run would; only the clock and the venue are simulated.
A grid runs one session per point, in worker processes when there is more than one point and more
than one core; every session is deterministic, so the ranking is too.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from polymm_cli.backtest import grid
from polymm_cli.backtest.recording import open_source, recording_markets
from polymm_cli.backtest.replay import ReplayConfig, pick_market, replay_session
from polymm_cli.backtest.result import BacktestResult as BacktestResult  # re-exported: the views' type
from polymm_cli.backtest.result import rank
from polymm_cli.errors import UsageError
from polymm_cli.services.trading import check_params_for, engine_config, quote_params
from polymm_cli.services.venues import latency, queue_model
from polymm_cli.settings import Settings

# The settings a grid may vary: the quoting knobs of `polymm run` (a typo is refused, not ignored).
GRID_SETTINGS = (
    "spread",
    "size",
    "position_limit",
    "requote_threshold",
    "skew_factor",
    "skew_start",
    "levels",
    "level_spacing_ticks",
    "microprice",
    "volatility_filter",
    "jump_filter",
    "trend_filter",
    "fill_cooldown",
    "skew_gamma",
    "skew_horizon",
    "toxicity_filter",
    "toxicity_horizon",
    "toxicity_widen_at",
    "toxicity_pull_at",
    "toxicity_pull",
)


@dataclass(frozen=True)
class BacktestOptions:
    paths: list[Path]
    market: str | None = None
    warmup_s: float = 30.0
    report: Path | None = None
    grid: list[str] = field(default_factory=list)
    workers: int | None = None


def session_config(settings: Settings, options: BacktestOptions) -> ReplayConfig:
    """A session's config; the options a single session and a grid share are checked here."""
    if options.warmup_s < 0:
        raise UsageError(f"--warmup must be >= 0, got {options.warmup_s:g}")
    if options.report is not None and not options.report.parent.is_dir():
        raise UsageError(f"--report {options.report}: no folder {options.report.parent} to write it in")
    return ReplayConfig(
        engine=engine_config(settings),
        queue=queue_model(settings),
        latency=latency(settings),
        collateral=settings.paper_collateral,
        market=options.market,
        warmup_s=options.warmup_s,
    )


def backtest(settings: Settings, options: BacktestOptions) -> list[BacktestResult]:
    """One session per path (a recording, or a real capture imported on the fly)."""
    config = session_config(settings, options)
    results = [_one(path, settings, config) for path in options.paths]
    if options.report is not None:
        for result, target in zip(results, report_paths(options.report, len(results)), strict=True):
            write_report(result, target)
    return results


def _one(path: Path, settings: Settings, config: ReplayConfig) -> BacktestResult:
    source = open_source(path)
    return asyncio.run(_checked_session(source, settings, config))


async def _checked_session(source: Path, settings: Settings, config: ReplayConfig) -> BacktestResult:
    check_params_for(pick_market(recording_markets(source), config.market), quote_params(settings))
    return await replay_session(source, config)


def report_paths(report: Path, count: int) -> list[Path]:
    """One report per session: the name given for one, numbered beside it for several."""
    if count == 1:
        return [report]
    return [report.with_name(f"{report.stem}-{i + 1}{report.suffix or '.html'}") for i in range(count)]


def sweep(settings: Settings, options: BacktestOptions) -> list[BacktestResult]:
    """Every grid point on the first path, ranked (best first); each result's params name its point."""
    session_config(settings, options)  # bad options: one line now, not from every worker
    axes = grid.parse_axes(options.grid, GRID_SETTINGS)
    points = grid.points(axes)
    variants = [_variant(settings, p) for p in points]
    source = open_source(options.paths[0])
    jobs = [(source, v, options) for v in variants]
    workers = max(1, min(options.workers or (os.cpu_count() or 1), len(jobs)))
    if workers == 1:
        results = [_grid_job(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_grid_job, jobs))
    named = [replace(r, params={**r.params, **p}) for r, p in zip(results, points, strict=True)]
    return rank(named)


def _variant(settings: Settings, point: dict[str, str]) -> Settings:
    """The settings with one grid point applied, validated like flags (a bad value is one line);
    the point's values count as set explicitly, as flags would."""
    try:
        checked = Settings.model_validate(point)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"--grid {name}={point.get(name, '?')}: {first['msg']}") from None
    return settings.model_copy(update={name: getattr(checked, name) for name in point})


def _grid_job(job: tuple[Path, Settings, BacktestOptions]) -> BacktestResult:
    source, settings, options = job
    return asyncio.run(_checked_session(source, settings, session_config(settings, options)))


def write_report(result: BacktestResult, path: Path) -> Path:
    """The session's charts as one self-contained HTML file (polymm_cli/backtest/report.py)."""
    from polymm_cli.backtest.report import render_html  # plotly is imported only when a report is asked for

    return render_html(result, path)
