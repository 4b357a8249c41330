"""`polymm run`, `polymm quote` and `polymm cancel-all`."""

from __future__ import annotations

import json
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from polymm_cli.cli import views
from polymm_cli.cli.common import (
    ExchangeUrlOption,
    JsonOption,
    LatencyOption,
    LiveOption,
    PaperFeedOption,
    QueueOption,
    UnsafeUrlOption,
    VenueOption,
    YesOption,
    consent,
    dec,
    dumps,
    settings_for,
)
from polymm_cli.errors import PolymmError, UsageError
from polymm_cli.model import EngineSnapshot, decimal_str
from polymm_cli.services import fleet, trading
from polymm_cli.services.guard import Consent
from polymm_cli.settings import Settings, VenueName

SpreadOption = Annotated[
    Decimal | None, typer.Option(help="Full quoted width in YES price (0.04 = 2c a side).")
]
SizeOption = Annotated[Decimal | None, typer.Option(help="Shares per quote.")]
PositionLimitOption = Annotated[Decimal | None, typer.Option(help="Limit on net exposure YES - NO (shares).")]
SkewFactorOption = Annotated[Decimal | None, typer.Option(help="Inventory skew strength, 0-1.")]
SkewStartOption = Annotated[Decimal | None, typer.Option(help="Skew starts at this fraction of the limit.")]
RewardBandOption = Annotated[
    bool | None,
    typer.Option(
        "--reward-band/--no-reward-band",
        help="Pull quotes inside a rewarded market's band (default: on unless --spread is given).",
    ),
]
RewardSizeOption = Annotated[
    bool | None,
    typer.Option("--reward-size", help="Raise quotes to the reward minimum size, even above --size."),
]
PaperCollateralOption = Annotated[
    Decimal | None,
    typer.Option(
        "--paper-collateral",
        help="With --venue paper: the paper wallet's starting pUSD (default 1000; POLYMM_PAPER_COLLATERAL).",
    ),
]
# running unattended (docs/operations.md)
MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        help="Serve Prometheus metrics on this port at /metrics (POLYMM_METRICS_PORT).",
    ),
]
MetricsHostOption = Annotated[
    str | None,
    typer.Option("--metrics-host", help="Address the metrics endpoint binds (default 127.0.0.1: loopback)."),
]
AlertWebhookOption = Annotated[
    list[str] | None,
    typer.Option(
        "--alert-webhook",
        help="Post alerts to this Slack, Discord or Telegram webhook URL; repeatable"
        " (POLYMM_ALERT_WEBHOOKS, space-separated).",
    ),
]
LogFormatOption = Annotated[
    str | None,
    typer.Option("--log-format", help="The run log in the data dir: text (default) or json (JSON lines)."),
]
SelectOption = Annotated[
    str | None,
    typer.Option(
        "--select",
        help="Choose markets by rule, e.g. 'rewards>=50,volume>=10000,spread<=0.03' (README: Many markets).",
    ),
]
TopOption = Annotated[int | None, typer.Option("--top", help="With --select: quote at most N markets (5).")]
RankOption = Annotated[
    str | None,
    typer.Option("--rank", help="With --select: best first by FIELD (-FIELD: lowest first); default ours."),
]
ReselectOption = Annotated[
    float | None,
    typer.Option("--reselect-min", help="With --select: choose again every N minutes (15; 0: never)."),
]
LiquidateDroppedOption = Annotated[
    bool,
    typer.Option("--liquidate-dropped", help="With --select: sell what is held in a market that drops out."),
]
RequoteOption = Annotated[Decimal | None, typer.Option(help="Mid move that triggers a requote.")]
HeadlessOption = Annotated[bool, typer.Option("--headless", help="One JSON line per decision, no dashboard.")]
DurationOption = Annotated[float | None, typer.Option(help="Stop after this many seconds.")]
AdoptOption = Annotated[
    bool, typer.Option("--adopt", help="Adopt leftover orders instead of cancelling them.")
]
RunMarkets = Annotated[
    list[str] | None,
    typer.Argument(help="Markets by condition id, slug or token id (default: the first listed)."),
]


def run(
    markets: RunMarkets = None,
    spread: SpreadOption = None,
    size: SizeOption = None,
    requote_threshold: RequoteOption = None,
    position_limit: PositionLimitOption = None,
    skew_factor: SkewFactorOption = None,
    skew_start: SkewStartOption = None,
    reward_band: RewardBandOption = None,
    reward_size: RewardSizeOption = None,
    live: LiveOption = False,
    yes: YesOption = False,
    headless: HeadlessOption = False,
    duration: DurationOption = None,
    adopt: AdoptOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    paper_feed: PaperFeedOption = None,
    paper_collateral: PaperCollateralOption = None,
    queue: QueueOption = None,
    latency_ms: LatencyOption = None,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = None,
    alert_webhook: AlertWebhookOption = None,
    log_format: LogFormatOption = None,
    select: SelectOption = None,
    top: TopOption = None,
    rank: RankOption = None,
    reselect_min: ReselectOption = None,
    liquidate_dropped: LiquidateDroppedOption = False,
) -> None:
    """Quote markets and show the live dashboard; Ctrl+C cancels every order and stops.
    With --venue paper, nothing is sent: fills are simulated from the live feed."""
    # Long only by its Typer options: the body hands each flag, by name, to the settings and the selection.
    settings = settings_for(
        venue,
        exchange_url,
        unsafe_url,
        paper=True,
        paper_feed=paper_feed,
        paper_collateral=paper_collateral,
        queue=queue,
        latency_ms=latency_ms,
        spread=spread,
        size=size,
        requote_threshold=requote_threshold,
        position_limit=position_limit,
        skew_factor=skew_factor,
        skew_start=skew_start,
        reward_band=reward_band,
        reward_size=reward_size,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        alert_webhooks=alert_webhook or None,
        log_format=log_format,
    )
    _check_run_flags(settings, queue=queue, latency_ms=latency_ms, duration=duration)
    names = list(markets or [])
    chosen_by = fleet.select_options(
        select,
        markets=names,
        top=top,
        rank=rank,
        reselect_min=reselect_min,
        liquidate_dropped=liquidate_dropped,
    )
    options = trading.RunOptions(markets=names, duration=duration, adopt_orders=adopt, select=chosen_by)
    _start(settings, options, consent(live, yes), headless=headless)


def _check_run_flags(
    settings: Settings, *, queue: str | None, latency_ms: str | None, duration: float | None
) -> None:
    simulated = [flag for flag, value in (("--queue", queue), ("--latency-ms", latency_ms)) if value]
    if simulated and settings.venue is not VenueName.PAPER:
        raise UsageError(
            f"{', '.join(simulated)}: only with --venue paper (this run would use {settings.venue})"
        )
    if duration is not None and duration <= 0:
        raise UsageError(f"--duration must be positive, got {duration:g}")


def _start(settings: Settings, options: trading.RunOptions, agreed: Consent, *, headless: bool) -> None:
    """Run headless (one JSON line per decision) or with the live dashboard, then the stop line."""
    if headless:

        def log_decision(decision: dict[str, Any]) -> None:
            print(json.dumps(decision), flush=True)

        _finish(lambda: trading.run(settings, options, consent=agreed, on_decision=log_decision), True)
        return
    dashboard = _Dashboard()

    def with_dashboard() -> trading.RunOutcome:
        try:
            return trading.run(settings, options, consent=agreed, on_snapshot=dashboard.show)
        finally:
            dashboard.close()  # the last frame stays on screen; the stop line comes below it

    _finish(with_dashboard, False)


class _Dashboard:
    """The live dashboard, started at the first snapshot (so a confirmation prompt comes before it).
    With several markets, keys choose the one shown in detail (`_Keys`)."""

    def __init__(self) -> None:
        self._live: Live | None = None
        self._last: EngineSnapshot | None = None
        self._keys = _Keys(self._on_key)
        self.selected = 0

    def show(self, snapshot: EngineSnapshot) -> None:
        if self._live is None:
            self._live = Live(console=Console(), refresh_per_second=4, transient=False)
            self._live.start()
            self._keys.start()
        self._last = snapshot
        self._live.update(views.dashboard(snapshot, self.selected))

    def _on_key(self, key: str) -> None:
        snapshot, live = self._last, self._live
        if snapshot is None or live is None or len(snapshot.markets) < 2:
            return
        count = len(snapshot.markets)
        if key in _NEXT_KEYS:
            self.selected = (self.selected + 1) % count
        elif key in _PREVIOUS_KEYS:
            self.selected = (self.selected - 1) % count
        elif key.isdigit() and 1 <= int(key) <= count:
            self.selected = int(key) - 1
        else:
            return
        live.update(views.dashboard(snapshot, self.selected))  # at once, not at the next snapshot

    def close(self) -> None:
        self._keys.stop()
        if self._live is not None:
            self._live.stop()


_NEXT_KEYS = ("\t", "j", "n", "\x1b[B", "\x1b[C")  # Tab, j, n, down, right
_PREVIOUS_KEYS = ("\x1b[Z", "k", "p", "\x1b[A", "\x1b[D")  # Shift+Tab, k, p, up, left


class _Keys:
    """Reads single keys from the terminal in a daemon thread (cbreak mode: no echo, no line
    buffering; Ctrl+C still interrupts) and restores the terminal at the end. Not a terminal: off."""

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self._on_key = on_key
        self._stop = threading.Event()
        self._saved: list[Any] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not sys.stdin.isatty():
            return
        fd = sys.stdin.fileno()
        try:
            if os.tcgetpgrp(fd) != os.getpgrp():
                return  # in the background (`polymm run &`): touching the terminal would stop us (SIGTTOU)
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except (OSError, termios.error):
            self._saved = None
            return  # a terminal we cannot set: the dashboard still runs, without keys
        self._thread = threading.Thread(target=self._read, args=(fd,), name="dashboard keys", daemon=True)
        self._thread.start()

    def _read(self, fd: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                data = os.read(fd, 16).decode(errors="ignore")
                for key in _split_keys(data):
                    self._on_key(key)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None


def _split_keys(data: str) -> list[str]:
    """Characters, an escape sequence (arrows, Shift+Tab) as one key."""
    keys, i = [], 0
    while i < len(data):
        if data.startswith("\x1b[", i) and i + 2 < len(data):
            keys.append(data[i : i + 3])
            i += 3
        else:
            keys.append(data[i])
            i += 1
    return keys


def _finish(start: Callable[[], trading.RunOutcome], headless: bool) -> None:
    """Run, then end with the one line that says what the stop did. A requested stop (Ctrl+C) is not
    an error: it is reported like any other stop and keeps exit 130 for scripts; halts, failures and
    unconfirmed cancels end as errors (one line on stderr, their exit code)."""
    try:
        outcome = start()
    except trading.Interrupted as exc:
        _stopped(headless, "interrupted", str(exc).removeprefix("stopped: "), exc.exit_code)
        raise typer.Exit(exc.exit_code) from None
    except PolymmError as exc:
        if headless:
            print(
                json.dumps({"event": "stopped", "reason": str(exc), "exit_code": exc.exit_code}), flush=True
            )
        raise
    _stopped(headless, outcome.reason, outcome.summary, 0)


def _stopped(headless: bool, reason: str, summary: str, exit_code: int) -> None:
    if headless:
        line = {"event": "stopped", "reason": reason, "summary": summary, "exit_code": exit_code}
        print(json.dumps(line), flush=True)
    elif reason == "interrupted":
        typer.echo(f"stopped: {summary}")
    else:
        typer.echo(f"stopped ({reason}): {summary}")


def quote(
    market: Annotated[str, typer.Argument(help="Condition id, slug or token id.")],
    position: Annotated[Decimal | None, typer.Option(help="Net position YES - NO to quote for.")] = None,
    mid: Annotated[
        Decimal | None, typer.Option(help="Quote around this YES mid instead of the book.")
    ] = None,
    spread: SpreadOption = None,
    size: SizeOption = None,
    position_limit: PositionLimitOption = None,
    skew_factor: SkewFactorOption = None,
    skew_start: SkewStartOption = None,
    reward_band: RewardBandOption = None,
    reward_size: RewardSizeOption = None,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
    paper_feed: PaperFeedOption = None,
) -> None:
    """What the quoter would place now, and why each side was quoted or skipped; places nothing."""
    if mid is not None and not 0 < mid < 1:
        raise UsageError(f"--mid must be strictly between 0 and 1, got {mid}")
    settings = settings_for(
        venue,
        exchange_url,
        unsafe_url,
        paper=True,
        paper_feed=paper_feed,
        spread=spread,
        size=size,
        position_limit=position_limit,
        skew_factor=skew_factor,
        skew_start=skew_start,
        reward_band=reward_band,
        reward_size=reward_size,
    )
    preview = trading.preview_quote(settings, market, position=position, mid=mid)
    if as_json:
        typer.echo(dumps(_quote_payload(preview)))
    else:
        _print_quote(preview)


def _quote_payload(preview: trading.QuotePreview) -> dict[str, object]:
    """`polymm quote --json` (a stable shape: keys are only ever added)."""
    d, m = preview.decision, preview.market
    return {
        "market": m.condition_id,
        "slug": m.slug,
        "tick_size": dec(m.tick_size),
        "mid": dec(d.mid),
        "position": dec(preview.position),
        "quotes": [
            {
                "side": q.side,
                "token_id": q.token_id,
                "outcome": m.outcome_of(q.token_id),
                "order_side": q.order_side.value,
                "price": dec(q.price),
                "yes_price": dec(q.yes_price),
                "size": dec(q.size),
                "reason": q.reason,
            }
            for q in d.quotes
        ],
        "skipped": [{"side": s.side, "reason": s.reason} for s in d.skipped],
        "notes": list(d.notes),
        "reward_fit": preview.reward_fit,
        "width": preview.width,
    }


def _print_quote(preview: trading.QuotePreview) -> None:
    d, m = preview.decision, preview.market
    typer.echo(f"{m.question} [{m.slug}] mid {decimal_str(d.mid) if d.mid is not None else 'n/a'}")
    for q in d.quotes:
        typer.echo(
            f"  {q.side:>3}: {q.order_side.value} {m.outcome_of(q.token_id)} {dec(q.size)}"
            f" @ {dec(q.price)} (YES {dec(q.yes_price)}) — {q.reason}"
        )
    for skipped in d.skipped:
        typer.echo(f"  {skipped.side:>3}: skipped — {skipped.reason}")
    for note in d.notes:
        typer.echo(f"  note: {note}")
    typer.echo(f"  width: {preview.width}")
    typer.echo(f"  reward fitting: {preview.reward_fit}")


def cancel_all(
    market: Annotated[str | None, typer.Option("--market", help="Only this market.")] = None,
    as_json: JsonOption = False,
    venue: VenueOption = None,
    exchange_url: ExchangeUrlOption = None,
    unsafe_url: UnsafeUrlOption = None,
) -> None:
    """The kill switch: halt this wallet's running engine, cancel its orders, verify none is left."""
    settings = settings_for(venue, exchange_url, unsafe_url, paper=True)
    report = trading.cancel_all(settings, market)
    if as_json:
        typer.echo(
            dumps(
                {
                    "address": report.address,
                    "canceled": list(report.canceled),
                    "still_open": report.still_open,
                    "halted_running_engine": report.halted_run,
                }
            )
        )
    else:
        if report.halted_run:
            typer.echo(
                "halted the running engine of this wallet (its quotes stay pulled until `polymm resume`)"
            )
        typer.echo(f"cancelled {len(report.canceled)} order(s)")
        for oid in report.canceled:
            typer.echo(f"  {oid}")
        typer.echo("nothing left open" if report.still_open == 0 else f"STILL OPEN: {report.still_open}")
    if report.still_open:
        raise typer.Exit(3)
