"""`polymm backtest`: replay recordings (or real captures) through the engine; a table, JSON, a report."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from polymm_cli.cli import views
from polymm_cli.cli.common import JsonOption, LatencyOption, QueueOption, dumps
from polymm_cli.cli.trading import (
    PositionLimitOption,
    SizeOption,
    SkewFactorOption,
    SkewStartOption,
    SpreadOption,
)
from polymm_cli.errors import UsageError
from polymm_cli.services import backtest as service
from polymm_cli.services.backtest import BacktestResult
from polymm_cli.settings import load_settings

Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Recordings (a folder or file of `polymm record`) or real captures (.json, .csv, .parquet)."
    ),
]
GridOption = Annotated[
    list[str] | None,
    typer.Option(
        "--grid",
        help="A parameter sweep, e.g. --grid spread=0.02,0.03,0.04 --grid skew_factor=0.25,0.5"
        " (ranked table).",
    ),
]


def backtest(
    paths: Paths,
    market: Annotated[
        str | None,
        typer.Option("--market", help="Which market of the recording (default: its first, the busiest)."),
    ] = None,
    as_json: JsonOption = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write charts to this HTML file (opens offline).")
    ] = None,
    grid: GridOption = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes for a grid (default: one per core).")
    ] = None,
    warmup: Annotated[
        float, typer.Option("--warmup", help="Seconds of the recording that build the books before quoting.")
    ] = 30.0,
    spread: SpreadOption = None,
    size: SizeOption = None,
    position_limit: PositionLimitOption = None,
    skew_factor: SkewFactorOption = None,
    skew_start: SkewStartOption = None,
    collateral: Annotated[
        Decimal | None,
        typer.Option(help="The simulated wallet's starting pUSD (default 1000; POLYMM_PAPER_COLLATERAL)."),
    ] = None,
    queue: QueueOption = None,
    latency_ms: LatencyOption = None,
) -> None:
    """Replay recorded market data through the same engine, quoter, risk and ledger as `polymm run`,
    against a simulated venue (queue position, latency, fees): would these settings have made money?"""
    settings = load_settings(
        spread=spread,
        size=size,
        position_limit=position_limit,
        skew_factor=skew_factor,
        skew_start=skew_start,
        paper_collateral=collateral,
        queue=queue,
        latency_ms=latency_ms,
    )
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    options = service.BacktestOptions(
        paths=paths, market=market, warmup_s=warmup, report=report, grid=list(grid or []), workers=workers
    )
    if options.grid:
        _grid(service.sweep(settings, options), as_json)
        return
    results = service.backtest(settings, options)
    if as_json:
        typer.echo(dumps([r.to_json(series=False) for r in results]))
        return
    console = Console()
    for result in results:
        console.print(views.backtest_table(result))
    if report is not None:
        for target in service.report_paths(report, len(results)):
            console.print(f"report: {target}")


def _grid(ranked: list[BacktestResult], as_json: bool) -> None:
    if as_json:
        typer.echo(dumps([r.to_json(series=False) for r in ranked]))
    else:
        Console().print(views.ranked_table(ranked))
