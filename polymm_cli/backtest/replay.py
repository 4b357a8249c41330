"""Replay a recording through the production engine in virtual time.

`ReplayVenue` is the market-data side of the Venue port, fed by a recording: it keeps every token's
book from the recorded events and serves `markets`, `book` and `market_events` like a live venue
(a snapshot per token when a stream starts, then the recorded updates). It places nothing: the
orders go to `PaperVenue`, which simulates their queue position and fills from the same events.

`replay_session` drives one session: a `ManualClock` jumps from one recorded event to the next, the
engine's timers fire on the way, and between two events the event loop runs until every task has
handled what the last one caused. So the engine, quoter, risk and ledger are the ones `polymm run`
uses; only the clock and the venue are simulated.

Times: each event is handed to the simulated exchange at its exchange time (the venue's timestamp,
kept monotone: real feeds step back by up to seconds) and reaches the engine at its recorded
receive time, or at the exchange time plus a constant delay (`Latency.market_data_s`).
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from polymm_cli.backtest.queue import QueueModel
from polymm_cli.backtest.recording import ReplayItem, recording_markets, replay_events
from polymm_cli.backtest.result import (
    BacktestResult,
    Sample,
    fill_points,
    flat_pnl,
    sample_from_snapshot,
    summarize,
)
from polymm_cli.book import OrderBook
from polymm_cli.clock import ManualClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, Market, Side
from polymm_cli.pnl import project
from polymm_cli.venues.base import (
    Balances,
    BookSnapshot,
    CancelResult,
    MarketEvent,
    OpenOrder,
    OrderIntent,
    Payout,
    PlaceResult,
    StreamStatus,
    TradeUpdate,
    UserEvent,
)
from polymm_cli.venues.books import apply_market_event
from polymm_cli.venues.paper import Latency, PaperVenue

Event = MarketEvent | UserEvent | StreamStatus
NOT_A_TRADING_VENUE = "a recording is market data only: orders go to the simulated venue"


class ReplayStream:
    """An event stream the driver feeds; `close()` ends iteration. A deque and one waiter, no
    `asyncio.Queue`: a day of a busy market is a million events, so each hop counts."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = frozenset(tokens)
        self._items: deque[Event | None] = deque()
        self._ready = asyncio.Event()

    def put(self, event: Event | None) -> None:
        self._items.append(event)
        self._ready.set()

    async def close(self) -> None:
        self.put(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            if not self._items:
                self._ready.clear()
                await self._ready.wait()
                continue
            event = self._items.popleft()
            if event is None:
                return
            yield event


class ReplayVenue:
    """Recorded market data as a venue: books, snapshots and updates; no orders."""

    def __init__(self, markets: Sequence[Market], clock: ManualClock, *, address: str = "replay") -> None:
        self._markets = list(markets)
        self.clock = clock
        self._address = address
        self.books: dict[str, OrderBook] = {
            t: OrderBook(t, m.tick_size) for m in self._markets for t in m.tokens
        }
        self._streams: list[ReplayStream] = []

    @property
    def address(self) -> str:
        return self._address

    def feed(self, event: MarketEvent) -> None:
        """One recorded event: update the books, then hand it to every stream subscribed to it."""
        apply_market_event(self.books, event)
        for stream in self._streams:
            if _touches(event, stream.tokens):
                stream.put(event)

    def status(self, connected: bool, reason: str) -> None:
        """A recorded gap: the streams lose their connection, then (re)connect."""
        status = StreamStatus(stream="market", connected=connected, reason=reason, recv_ts=self.clock.now())
        for stream in self._streams:
            stream.put(status)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for stream in list(self._streams):
            await stream.close()

    async def markets(self) -> list[Market]:
        return list(self._markets)

    async def market(self, ident: str) -> Market:
        return pick_market(self._markets, ident)

    async def book(self, token_id: str) -> BookSnapshot:
        return self.snapshot(token_id)

    def snapshot(self, token_id: str) -> BookSnapshot:
        book = self.books.get(token_id)
        market = next((m for m in self._markets if token_id in m.tokens), None)
        if book is None or market is None:
            raise VenueError("Invalid token id", status=400)
        now = self.clock.now()
        return BookSnapshot(
            market=market.condition_id,
            token_id=token_id,
            bids=book.levels(Side.BUY),
            asks=book.levels(Side.SELL),
            tick_size=book.tick_size or market.tick_size,
            min_order_size=market.min_order_size,
            hash="",
            venue_ts=now,
            recv_ts=now,
            neg_risk=market.neg_risk,
        )

    def market_events(self, token_ids: Sequence[str]) -> ReplayStream:
        stream = ReplayStream(token_ids)
        self._streams.append(stream)
        for token in token_ids:
            stream.put(self.snapshot(token))
        stream.put(StreamStatus(stream="market", connected=True, reason="replay", recv_ts=self.clock.now()))
        return stream

    def user_events(self, markets: Sequence[str]) -> ReplayStream:
        stream = ReplayStream(())
        self._streams.append(stream)
        return stream

    # A recording trades nothing: every order call is a bug in the composition, said plainly.
    async def place(self, intents: Sequence[OrderIntent]) -> list[PlaceResult]:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def cancel_all(self, market: str | None = None) -> CancelResult:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def open_orders(self, market: str | None = None) -> list[OpenOrder]:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def trades(self, market: str | None = None, after: float | None = None) -> list[TradeUpdate]:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def balances(self, token_ids: Sequence[str] = ()) -> Balances:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def payouts(self, since: float | None = None) -> list[Payout]:
        raise VenueError(NOT_A_TRADING_VENUE)

    async def heartbeat(self) -> None:
        return None


def _touches(event: MarketEvent, tokens: frozenset[str]) -> bool:
    token = getattr(event, "token_id", None)
    if token is not None:
        return token in tokens
    return any(u.token_id in tokens for u in getattr(event, "updates", ()))


def _names(markets: Sequence[Market]) -> str:
    return ", ".join(m.slug or m.condition_id for m in markets) or "no market"


async def run_until_idle(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Let every task run until none has anything left to do at this virtual instant.

    Reads the loop's ready queue (an implementation detail of the default loop, present since 3.4)
    to stop as soon as it is empty; without it, falls back to a fixed number of passes."""
    loop = loop or asyncio.get_running_loop()
    ready: Any = getattr(loop, "_ready", None)
    for _ in range(10_000 if ready is not None else 64):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            return


async def advance_to(clock: ManualClock, when: float) -> None:
    """Move the clock to `when`, stopping at every timer due on the way and letting the tasks it
    wakes run at their own time (an order that waits out its entry latency rests then, not at the
    next recorded event), then at `when` itself."""
    due = clock.next_due()
    while due is not None and due < when:
        clock.set(max(due, clock.now()))
        await run_until_idle()
        due = clock.next_due()
    clock.set(when)
    await run_until_idle()


@dataclass(frozen=True, slots=True)
class Timed:
    """One replayed item on the driver's timeline: exchange time, the event (None for a gap)."""

    at: float
    event: MarketEvent | None
    gap: str = ""


def monotone(items: Iterable[ReplayItem], market_data_s: float | None) -> Iterator[Timed]:
    """Recorded items on a timeline that never steps back, their receive times set for delivery.

    Exchange time is the venue timestamp, kept monotone. With a constant market-data delay the
    event's receive time becomes its exchange time (the paper venue adds the delay: `Latency.due`);
    recorded, the recorded receive time stays (never before the exchange time)."""
    last = float("-inf")
    for item in items:
        event = item.event
        if event is None:
            yield Timed(max(last, item.recv_ts), None, item.gap or "gap")
            continue
        last = max(last, event.venue_ts or item.recv_ts)
        recv = last if market_data_s is not None else max(last, event.recv_ts)
        yield Timed(last, replace(event, recv_ts=recv))


@contextmanager
def temporary_ledger(address: str) -> Iterator[Ledger]:
    """A session's ledger: a fresh SQLite file in a temporary folder, gone afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="polymm-backtest-") as tmp,
        Ledger.open(Path(tmp), account=Account("backtest", address)) as ledger,
    ):
        yield ledger


def backtest_config(config: EngineConfig) -> EngineConfig:
    """The run's engine config, for virtual time: no settle wait at stop (the simulated venue
    settles at once), no halt-file polling (no other process can halt a replay), a deep book in
    the snapshots the samples read (the reward estimate scores the competition it can see), and no
    frozen heap (one process replays many sessions: a frozen session's cycles would never be freed)."""
    return replace(config, settle_timeout_s=0, halt_poll_s=3600, book_depth_shown=50, freeze_heap=False)


# ---------------------------------------------------------------------------------------------------
# The session driver
# ---------------------------------------------------------------------------------------------------

BACKTEST_ADDRESS = "0x" + "bac7" * 10


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayConfig:
    """One session: the engine as `polymm run` would configure it, and the simulated venue's models."""

    engine: EngineConfig
    queue: QueueModel
    latency: Latency
    collateral: Decimal = Decimal(1000)
    market: str | None = None  # condition id, slug or token id; None = the recording's first market
    warmup_s: float = 30.0  # recorded time the books build up before the engine starts
    sample_s: float = 1.0  # how often the session is sampled for the result's series


def pick_market(markets: Sequence[Market], ident: str | None) -> Market:
    if not markets:
        raise UsageError("the recording lists no market")
    if ident is None:
        return markets[0]
    for m in markets:
        if m.known_as(ident):
            return m
    raise UsageError(f"market {ident!r} is not in the recording; it holds {_names(markets)}")


async def replay_session(source: Path, config: ReplayConfig) -> BacktestResult:
    """Replay `source` (a recording: file or directory) through the engine; the session's result."""
    market = pick_market(recording_markets(source), config.market)
    timeline = monotone(replay_events(source, market.tokens), config.latency.market_data_s)
    first = next(timeline, None)
    if first is None:
        raise UsageError(f"{source}: the recording holds no market event")
    clock = ManualClock(start=first.at)
    data = ReplayVenue([market], clock)
    _feed(data, first)
    pending = _warm_up(data, clock, timeline, first.at + config.warmup_s)
    if not pending:
        raise UsageError(
            f"{source}: the recording ends {clock.now() - first.at:.1f} s in, within the warm-up of"
            f" {config.warmup_s:g} s: nothing is left to replay (a shorter --warmup?)"
        )
    venue = PaperVenue(
        data,
        clock,
        collateral=config.collateral,
        queue=config.queue,
        latency=config.latency,
        address=BACKTEST_ADDRESS,
    )
    with temporary_ledger(venue.address) as ledger:
        engine = QuotingEngine(
            venue, ledger, clock, [market], backtest_config(config.engine), venue_name="backtest"
        )
        session = _Session(engine, market, clock, config.sample_s)
        await session.play(data, itertools.chain(pending, timeline))
        return session.result(ledger, config)


def _feed(data: ReplayVenue, item: Timed) -> None:
    if item.event is not None:
        data.feed(item.event)
    else:  # a gap in the recording: the feed was lost, then came back
        data.status(False, f"recording gap: {item.gap}")
        data.status(True, "recording resumed")


def _warm_up(data: ReplayVenue, clock: ManualClock, timeline: Iterator[Timed], until: float) -> list[Timed]:
    """Build the books from the first `warmup_s` of the recording (no engine yet); return the first
    item past it, which the session plays first."""
    for item in timeline:
        if item.at >= until:
            return [item]
        clock.set(item.at)
        _feed(data, item)
    return []


class _Session:
    """The engine running against the replay: the loop that moves the clock, and the samples."""

    def __init__(self, engine: QuotingEngine, market: Market, clock: ManualClock, sample_s: float) -> None:
        self.engine = engine
        self.market = market
        self.clock = clock
        self.sample_s = sample_s
        self.samples: list[Sample] = []
        # The mid of the book without our quotes at the last sample: the final P&L's mark, the one
        # the engine marks at (the samples' mid holds our quotes, off-centre once a skew moves them;
        # after the stop our cancelled orders are no longer told apart from the book's). A session
        # that ends in a gap is marked where the book last was.
        self.mark: Decimal | None = None
        self.events = 0
        self.started = clock.now()

    async def play(self, data: ReplayVenue, timeline: Iterable[Timed]) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(self.engine.run(stop=stop))
        await run_until_idle()
        next_sample = self.clock.now()
        for item in timeline:
            while next_sample <= item.at:
                await advance_to(self.clock, next_sample)
                self._sample()
                next_sample += self.sample_s
            await advance_to(self.clock, item.at)
            _feed(data, item)
            self.events += 1
            await run_until_idle()
            if task.done():
                break
        self._sample()  # the session's end is a sample too: the path metrics read only samples
        self.ended = self.clock.now()
        stop.set()
        await self._finish(task)

    async def _finish(self, task: asyncio.Task[str]) -> None:
        """Let the engine stop: its cancels wait out their simulated latency on the clock."""
        for _ in range(10_000):
            await run_until_idle()
            if task.done():
                break
            self.clock.advance(0.05)
        await task  # an engine failure surfaces here, as it would in `polymm run`

    def _sample(self) -> None:
        snapshot = self.engine.snapshot()
        market = next(m for m in snapshot.markets if m.market.condition_id == self.market.condition_id)
        previous = self.samples[-1] if self.samples else None
        mark = self.engine.external_mid(self.market)
        self.mark = mark if mark is not None else self.mark
        # the paper venue shows our orders in the books it delivers, as a live venue does
        self.samples.append(
            sample_from_snapshot(self.clock.now(), market, previous=previous, ours_in_book=True)
        )

    def result(self, ledger: Ledger, config: ReplayConfig) -> BacktestResult:
        cid = self.market.condition_id
        records = ledger.fills(cid)
        mark = self.mark
        final = project(
            records, ledger.flows(cid), {cid: self.market}, {cid: mark} if mark is not None else {}
        )
        pnl = next((m for m in final.markets if m.condition_id == cid), flat_pnl(self.market))
        return summarize(
            self.market,
            self.samples,
            fill_points(records, self.market),
            pnl,
            limit=config.engine.params.position_limit,
            events=self.events,
            params=describe(config),
            duration_s=self.ended - self.started,
        )


def describe(config: ReplayConfig) -> dict[str, str]:
    """What a session ran with, as the result and the report show it."""
    p, lat = config.engine.params, config.latency
    feed = "recorded" if lat.market_data_s is None else f"{lat.market_data_s * 1000:g} ms"
    return {
        "spread": str(p.spread),
        "size": str(p.size),
        "position_limit": str(p.position_limit),
        "skew_factor": str(p.skew_factor) if p.skew_enabled else "off",
        "queue": config.queue.name,
        "latency": f"entry {lat.order_entry_s * 1000:g} ms, cancel {lat.cancel_s * 1000:g} ms, feed {feed}",
        "warmup_s": f"{config.warmup_s:g}",
    }
