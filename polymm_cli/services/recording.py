"""Services for `polymm record` and `polymm import-capture`.

`record` resolves the markets through the venue like every command (condition id, slug or token id;
the local exchange by default, the one a `run` published or one started here), then records their
market channel: `venues.polymarket.recorder.MarketRecorder` gives raw frames, REST books and gaps,
`backtest.recording.RecordingWriter` writes them. No key is needed or used: the venue that resolves
the markets is never started and is built key-less (`PolymarketConfig.for_market_data`): no
credentials, nothing signed, only public reads. Ctrl+C and SIGTERM stop
it cleanly: the recorder closes, the writer ends its last zstd frame and fsyncs.

`import_captures` turns real captures into recordings (backtest/importers.py).
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from polymm_cli.backtest.importers import ImportResult, detect_format, import_capture
from polymm_cli.backtest.recording import (
    DEFAULT_ROTATE_BYTES,
    DEFAULT_ROTATE_S,
    Frame,
    Gap,
    RecordingError,
    RecordingWriter,
    RestBook,
    private_directory,
)
from polymm_cli.clock import Clock, SystemClock
from polymm_cli.errors import UsageError
from polymm_cli.model import Market
from polymm_cli.services.guard import Action
from polymm_cli.services.venues import on_venue
from polymm_cli.settings import Settings, VenueName
from polymm_cli.venues.polymarket.adapter import PolymarketVenue
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.polymarket.recorder import (
    DEFAULT_SNAPSHOT_EVERY_S,
    MarketRecorder,
    RawBook,
    RawFrame,
    RecorderItem,
)

STATUS_INTERVAL_S = 0.25
FLUSH_INTERVAL_S = 1.0


@dataclass(frozen=True)
class RecordOptions:
    markets: list[str]
    out: Path
    duration: float | None = None
    snapshot_every_s: float = DEFAULT_SNAPSHOT_EVERY_S
    rotate_bytes: int = DEFAULT_ROTATE_BYTES
    rotate_s: float = DEFAULT_ROTATE_S

    def check(self) -> None:
        """One line for the first bad option, before anything is opened."""
        if not self.markets:
            raise UsageError("name at least one market to record (condition id, slug or token id)")
        if self.duration is not None and not self.duration > 0:
            raise UsageError(f"--duration must be positive, got {self.duration:g}")
        if not self.snapshot_every_s > 0:
            raise UsageError("--snapshot-every must be positive (minutes)")
        if self.rotate_bytes <= 0:
            raise UsageError("--rotate-mb must be positive")
        if not self.rotate_s > 0:
            raise UsageError("--rotate-minutes must be positive")
        if self.out.exists() and not self.out.is_dir():
            raise UsageError(f"--out {self.out} exists and is not a directory")


@dataclass(frozen=True)
class RecordStatus:
    """What the status line shows."""

    markets: tuple[Market, ...]
    out: Path
    source: str
    frames: int = 0
    books: int = 0
    gaps: int = 0
    bytes: int = 0  # compressed, in every file so far
    files: int = 0
    elapsed: float = 0.0
    connected: bool = False
    state: str = "connecting"


@dataclass(frozen=True)
class RecordOutcome:
    status: RecordStatus
    reason: str  # "duration", "interrupted", "terminated"
    files: tuple[Path, ...] = field(default=())

    def summary(self) -> str:
        s = self.status
        return (
            f"recorded {_count(s.frames, 'frame')}, {_count(s.books, 'book')}, {_count(s.gaps, 'gap')} "
            f"in {s.elapsed:.0f} s: {size_text(s.bytes)} in {_count(len(self.files), 'file')} in {s.out}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def size_text(n: int) -> str:
    """Bytes for a person: 812 B, 45.6 kB, 123.4 MB."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def public_config(settings: Settings, url: str | None) -> PolymarketConfig:
    """The configuration of the venue `settings` name, for public reads only: no key at all, so
    nothing can be signed or sent for an account."""
    if settings.venue is VenueName.LOCAL:
        if url is None:
            raise ValueError("a local venue needs the local exchange's URL")
        return PolymarketConfig.for_market_data(url)
    config = PolymarketConfig.for_market_data()
    if settings.exchange_url:
        config = config.with_changes(clob_url=settings.exchange_url.rstrip("/"))
    if settings.gamma_url:
        config = config.with_changes(gamma_url=settings.gamma_url.rstrip("/"))
    return config


async def resolve_markets(config: PolymarketConfig, clock: Clock, idents: Sequence[str]) -> list[Market]:
    """Markets by condition id, slug or token id, each once, through the venue's public reads."""
    venue = PolymarketVenue(config, clock)  # never started: no credentials, nothing signed
    try:
        markets: list[Market] = []
        for ident in idents:
            market = await venue.market(ident)
            if market.condition_id not in {m.condition_id for m in markets}:
                markets.append(market)
        return markets
    finally:
        await venue.close()


def record(
    settings: Settings, options: RecordOptions, on_status: Callable[[RecordStatus], None] | None = None
) -> RecordOutcome:
    """Record until the duration, Ctrl+C or SIGTERM; every way out closes the files cleanly."""
    options.check()
    return on_venue(
        settings,
        lambda url: _record(settings, options, url, on_status),
        action=Action.READ,
        what=f"record {', '.join(options.markets)}",
    )


async def _record(
    settings: Settings,
    options: RecordOptions,
    url: str | None,
    on_status: Callable[[RecordStatus], None] | None,
) -> RecordOutcome:
    clock = SystemClock()
    config = public_config(settings, url)
    markets = await resolve_markets(config, clock, options.markets)
    private_directory(options.out)
    recorder = MarketRecorder(
        [t for m in markets for t in m.tokens],
        config,
        clock,
        random.Random(),
        snapshot_every_s=options.snapshot_every_s,
    )
    writer = RecordingWriter(
        options.out,
        source=config.market_ws_url,
        markets=markets,
        rotate_bytes=options.rotate_bytes,
        rotate_s=options.rotate_s,
        on_rotate=lambda _path: recorder.request_snapshot(),  # each file starts with fresh books
    )
    session = _Session(recorder, writer, clock, tuple(markets), options.out, config.market_ws_url)
    try:
        reason = await session.run(options.duration, on_status)
    finally:
        await recorder.close()
        writer.close()
    final = session.status()
    if on_status is not None:
        on_status(final)
    return RecordOutcome(final, reason, tuple(writer.files))


class _Session:
    """One recording: the recorder's items into the writer, a flush every second, the status line,
    and the signals that end it."""

    def __init__(
        self,
        recorder: MarketRecorder,
        writer: RecordingWriter,
        clock: Clock,
        markets: tuple[Market, ...],
        out: Path,
        source: str,
    ) -> None:
        self._recorder = recorder
        self._writer = writer
        self._clock = clock
        self._started = clock.monotonic()
        self._base = RecordStatus(markets, out, source)

    def status(self) -> RecordStatus:
        r, w = self._recorder, self._writer
        return RecordStatus(
            self._base.markets,
            self._base.out,
            self._base.source,
            frames=r.frames,
            books=r.books,
            gaps=r.gaps,
            bytes=w.bytes_written,
            files=len(w.files),
            elapsed=self._clock.monotonic() - self._started,
            connected=r.connected,
            state=r.state,
        )

    async def run(self, duration: float | None, on_status: Callable[[RecordStatus], None] | None) -> str:
        stop = asyncio.Event()
        why: list[str] = []
        loop = asyncio.get_running_loop()

        def on_signal(sig: int) -> None:
            why.append("interrupted" if sig == signal.SIGINT else "terminated")
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        tasks = [asyncio.create_task(self._consume()), asyncio.create_task(self._flush_and_report(on_status))]
        try:
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait(
                [waiter, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            for task in tasks:
                if task in done:
                    task.result()  # a writer or recorder failure ends the recording with its error
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return why[0] if why else "duration"

    async def _consume(self) -> None:
        async for item in self._recorder.items():
            try:
                self._writer.write(_record_of(item))
            except OSError as exc:
                raise RecordingError(f"cannot write the recording: {exc.strerror or exc}") from None

    async def _flush_and_report(self, on_status: Callable[[RecordStatus], None] | None) -> None:
        last_flush = self._clock.monotonic()
        while True:
            if on_status is not None:
                on_status(self.status())
            if self._clock.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                self._writer.flush()
                last_flush = self._clock.monotonic()
            await self._clock.sleep(STATUS_INTERVAL_S)


def _record_of(item: RecorderItem) -> Frame | RestBook | Gap:
    if isinstance(item, RawFrame):
        return Frame(item.recv_ns, item.text)
    if isinstance(item, RawBook):
        return RestBook(item.recv_ns, item.token_id, item.text)
    return Gap(item.recv_ns, item.reason)


def import_captures(
    files: Sequence[Path], out: Path, *, rotate_bytes: int = DEFAULT_ROTATE_BYTES
) -> list[ImportResult]:
    """Each capture into `out` as a recording (refused whole when one is not a capture)."""
    if not files:
        raise UsageError("name at least one capture file to import")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if rotate_bytes <= 0:
        raise UsageError("--rotate-mb must be positive")
    for path in files:
        detect_format(path)  # every file is a capture, or nothing is written
    return [import_capture(path, out, rotate_bytes=rotate_bytes) for path in files]


__all__ = [
    "RecordOptions",
    "RecordOutcome",
    "RecordStatus",
    "import_captures",
    "public_config",
    "record",
    "resolve_markets",
    "size_text",
]
