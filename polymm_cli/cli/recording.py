"""`polymm record` and `polymm import-capture`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live

from polymm_cli.cli import views
from polymm_cli.cli.common import (
    ExchangeUrlOption,
    JsonOption,
    UnsafeUrlOption,
    VenueOption,
    dumps,
    settings_for,
)
from polymm_cli.errors import UsageError
from polymm_cli.services import recording
from polymm_cli.services.recording import RecordStatus

OutOption = Annotated[Path, typer.Option("--out", help="Directory of the recording (created private, 0700).")]
RotateMbOption = Annotated[
    float, typer.Option("--rotate-mb", help="Start a new file past this many compressed megabytes.")
]
_MB = 1_000_000


def _rotate_bytes(rotate_mb: float) -> int:
    if not rotate_mb > 0:
        raise UsageError(f"--rotate-mb must be positive, got {rotate_mb:g}")
    return max(1, int(rotate_mb * _MB))


def record(
    markets: Annotated[list[str], typer.Argument(help="Markets by condition id, slug or token id.")],
    out: OutOption,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    snapshot_every: Annotated[
        float,
        typer.Option(
            "--snapshot-every",
            help="Minutes between REST book snapshots (there is one at start and after every reconnect).",
        ),
    ] = 5.0,
    rotate_mb: RotateMbOption = 100.0,
    rotate_minutes: Annotated[
        float, typer.Option("--rotate-minutes", help="Start a new file after this many minutes.")
    ] = 60.0,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
) -> None:
    """Record markets' WebSocket feed (raw frames, REST books, gaps) to rotating zstd files; no key
    needed. Ctrl+C stops and closes the files cleanly."""
    settings = settings_for(venue, exchange_url, unsafe_url)
    if not snapshot_every > 0:
        raise UsageError(f"--snapshot-every must be positive, got {snapshot_every:g}")
    options = recording.RecordOptions(
        markets=list(markets),
        out=out,
        duration=duration,
        snapshot_every_s=snapshot_every * 60,
        rotate_bytes=_rotate_bytes(rotate_mb),
        rotate_s=rotate_minutes * 60,
    )
    line = _StatusLine()
    try:
        outcome = recording.record(settings, options, on_status=line.show)
    finally:
        line.close()
    prefix = "stopped: " if outcome.reason in ("interrupted", "terminated") else ""
    typer.echo(prefix + outcome.summary())


class _StatusLine:
    """The one live line on a terminal, started at the first status (after the markets are
    resolved); on a pipe only the summary line is printed."""

    def __init__(self) -> None:
        self._console = Console()
        self._live: Live | None = None

    def show(self, status: RecordStatus) -> None:
        if not self._console.is_terminal:
            return
        if self._live is None:
            self._live = Live(console=self._console, refresh_per_second=4, transient=False)
            self._live.start()
        self._live.update(views.recording_line(status))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()


def import_capture(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Captures: nautilus .json (WebSocket messages), aaimek .csv, tickscope .parquet."
        ),
    ],
    out: OutOption,
    rotate_mb: RotateMbOption = 100.0,
    as_json: JsonOption = False,
) -> None:
    """Convert real Polymarket captures into recordings `polymm backtest` replays."""
    results = recording.import_captures(files, out, rotate_bytes=_rotate_bytes(rotate_mb))
    if as_json:
        typer.echo(
            dumps(
                [
                    {
                        "capture": str(r.capture),
                        "format": r.format,
                        "records": r.records,
                        "files": [str(f) for f in r.files],
                        "markets": [m.condition_id for m in r.markets],
                    }
                    for r in results
                ]
            )
        )
        return
    for r in results:
        names = ", ".join(f.name for f in r.files)
        typer.echo(
            f"{r.capture.name} ({r.format}): {r.records} records, {len(r.markets)} "
            f"market{'s' if len(r.markets) != 1 else ''} -> {out}/{names}"
        )
