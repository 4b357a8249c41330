"""PaperVenue: a data venue's market side plus simulated orders, in virtual time.

A hand-written data venue answers market-data calls only (any other attribute fails the test), so
every test also shows that nothing but market data is ever asked of it. The engine scenario at the
end runs the production engine on a PaperVenue over the in-process exchange: the exchange never sees
an order of ours, and fills come from the exchange's own trades.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polymm_cli.backtest.queue import PowerProbQueue
from polymm_cli.clock import ManualClock
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.model import Market, Side, TradeStatus
from polymm_cli.venues.base import (
    BookSnapshot,
    MarketEvent,
    OrderUpdate,
    PriceChange,
    StreamStatus,
    TradeUpdate,
)
from polymm_cli.venues.paper import DelayedEvents, Latency, PaperVenue
from polymm_cli.venues.sim import SimEvents
from tests.backtest.sim_events import MARKET, NO, YES, change, intent, levels, snapshot, trade
from tests.sim_world import BOT, SimWorld, market, settle

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
MARKET_DATA = {"start", "close", "markets", "market", "book", "market_events"}


class DataVenue:
    """Market data only: one market, a book per token, streams the test pushes events into."""

    address = "0xda7a"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls: list[str] = []
        self.streams: list[tuple[tuple[str, ...], SimEvents]] = []
        self.books: dict[str, BookSnapshot] = {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the paper venue asked its data venue for {name!r}")

    async def start(self) -> None:
        self.calls.append("start")

    async def close(self) -> None:
        self.calls.append("close")
        for _, stream in self.streams:
            await stream.close()

    async def markets(self) -> list[Market]:
        self.calls.append("markets")
        return [MARKET]

    async def market(self, ident: str) -> Market:
        self.calls.append("market")
        if ident in (MARKET.condition_id, MARKET.slug, *MARKET.tokens):
            return MARKET
        raise UsageError(f"unknown market {ident!r}")

    async def book(self, token_id: str) -> BookSnapshot:
        self.calls.append("book")
        return self.books.get(token_id) or snapshot(token_id, ts=self.clock.now())

    def market_events(self, token_ids: Sequence[str]) -> SimEvents:
        self.calls.append("market_events")
        stream = SimEvents()
        self.streams.append((tuple(token_ids), stream))
        return stream

    def push(self, event: MarketEvent) -> None:
        for _, stream in self.streams:
            stream.put(event)


class Reader:
    """Reads a stream in the background, noting the virtual time each event arrived at."""

    def __init__(self, clock: ManualClock, stream: DelayedEvents) -> None:
        self.clock = clock
        self.seen: list[tuple[float, Any]] = []
        self.task = asyncio.ensure_future(self._read(stream))

    async def _read(self, stream: DelayedEvents) -> None:
        async for event in stream:
            self.seen.append((self.clock.now(), event))

    def of(self, kind: type) -> list[tuple[float, Any]]:
        return [(t, e) for t, e in self.seen if isinstance(e, kind)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
def data(clock: ManualClock) -> DataVenue:
    return DataVenue(clock)


def paper(data: DataVenue, clock: ManualClock, **latency: Any) -> PaperVenue:
    return PaperVenue(
        data,  # type: ignore[arg-type]
        clock,
        collateral=D(100),
        address="0xpaper",
        latency=Latency(**latency),
        id_seed="test",
    )


async def advance(clock: ManualClock, seconds: float) -> None:
    await settle()
    clock.advance(seconds)
    await settle()


async def opened(venue: PaperVenue, clock: ManualClock, tokens: Sequence[str] = (YES,)) -> Reader:
    reader = Reader(clock, venue.market_events(tokens))
    await settle()
    return reader


# -- latency ---------------------------------------------------------------------------------------


async def test_market_data_reaches_the_engine_after_the_constant_delay_without_piling_up(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock, market_data_s=0.25)
    reader = await opened(venue, clock)

    data.push(snapshot(bids=levels(("0.50", "100")), ts=clock.now()))
    await advance(clock, 0.125)
    data.push(change(BUY, "0.50", "80", ts=clock.now()))
    await advance(clock, 0.0625)
    assert reader.seen == []
    await advance(clock, 0.0625)
    await advance(clock, 0.125)

    assert [t for t, _ in reader.seen] == [1000.25, 1000.375]
    assert [type(e) for _, e in reader.seen] == [BookSnapshot, PriceChange]
    await venue.close()


async def test_in_recorded_mode_an_event_reaches_the_engine_at_its_receive_time(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock, market_data_s=None)
    reader = await opened(venue, clock)

    data.push(snapshot(bids=levels(("0.50", "100")), ts=clock.now()))
    data.push(change(BUY, "0.50", "80", ts=clock.now() + 0.375))  # a recording's later receive time
    await advance(clock, 0.0)
    assert [t for t, _ in reader.seen] == [1000.0]
    await advance(clock, 0.375)

    assert [t for t, _ in reader.seen] == [1000.0, 1000.375]
    await venue.close()


async def test_a_fill_happens_when_the_trade_arrives_and_reaches_the_user_stream_with_the_feed_delay(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock, market_data_s=0.25)
    await opened(venue, clock)
    users = Reader(clock, venue.user_events([MARKET.condition_id]))
    data.push(snapshot(bids=levels(("0.49", "100")), asks=levels(("0.60", "5")), ts=clock.now()))
    await advance(clock, 0.25)
    [placed] = await venue.place([intent(BUY, "0.50", "10")])

    data.push(trade(SELL, "0.48", "1", ts=clock.now()))
    await advance(clock, 0.0)
    assert await venue.open_orders() == []  # filled at the simulated exchange already
    assert users.of(TradeUpdate) == []
    await advance(clock, 0.25)

    trades = [e for _, e in users.of(TradeUpdate)]
    assert [t.status for t in trades] == [TradeStatus.MATCHED, TradeStatus.CONFIRMED]
    assert trades[0].fills[0].order_id == placed.order_id and trades[0].fills[0].size == D(10)
    assert all(t == 1000.5 for t, _ in users.of(TradeUpdate))
    await venue.close()


async def test_an_order_is_not_in_the_book_before_its_entry_delay_is_over(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock, order_entry_s=0.5)
    await opened(venue, clock)
    data.push(snapshot(bids=levels(("0.49", "100")), asks=levels(("0.60", "5")), ts=clock.now()))
    placing = asyncio.ensure_future(venue.place([intent(BUY, "0.50", "10")]))
    await advance(clock, 0.125)
    assert not placing.done() and await venue.open_orders() == []

    data.push(trade(SELL, "0.48", "1", ts=clock.now()))  # would fill it: it is not there yet
    await advance(clock, 0.375)
    [placed] = await placing

    [listed] = await venue.open_orders()
    assert placed.ok and listed.order_id == placed.order_id and listed.size_matched == 0
    await venue.close()


async def test_an_order_can_fill_while_its_cancel_is_in_flight(data: DataVenue, clock: ManualClock) -> None:
    venue = paper(data, clock, cancel_s=0.5)
    await opened(venue, clock)
    data.push(snapshot(bids=levels(("0.49", "100")), asks=levels(("0.60", "5")), ts=clock.now()))
    [placed] = await venue.place([intent(BUY, "0.50", "10")])

    canceling = asyncio.ensure_future(venue.cancel([placed.order_id]))
    await advance(clock, 0.125)
    data.push(trade(SELL, "0.48", "1", ts=clock.now()))
    await advance(clock, 0.375)
    result = await canceling

    assert result.canceled == () and result.not_canceled == {placed.order_id: "Order already matched"}
    assert (await venue.balances([YES])).tokens[YES] == D(10)
    await venue.close()


# -- the books the engine reads show our orders ----------------------------------------------------


async def test_our_resting_orders_show_in_the_books_and_streams_the_engine_reads(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock)
    data.books[YES] = snapshot(bids=levels(("0.50", "100")), asks=levels(("0.60", "5")))
    data.books[NO] = snapshot(NO, bids=levels(("0.40", "5")), asks=levels(("0.50", "100")))
    reader = await opened(venue, clock)
    data.push(data.books[YES])
    await advance(clock, 0.0)

    [placed] = await venue.place([intent(BUY, "0.50", "10")])
    await advance(clock, 0.0)
    data.push(change(BUY, "0.50", "80", ts=clock.now()))
    await advance(clock, 0.0)

    yes_book, no_book = await venue.book(YES), await venue.book(NO)
    assert placed.ok and levels(("0.50", "110"))[0] in yes_book.bids
    assert levels(("0.50", "110"))[0] in no_book.asks and no_book.asks[0].price == D("0.50")
    changes = [[(u.token_id, u.side, u.price, u.size) for u in e.updates] for _, e in reader.of(PriceChange)]
    assert changes == [[(YES, BUY, D("0.50"), D(110))], [(YES, BUY, D("0.50"), D(90))]]
    await venue.close()


async def test_the_data_stream_covers_both_tokens_and_the_engine_gets_only_those_it_asked_for(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock)
    reader = await opened(venue, clock, tokens=[YES])
    data.push(snapshot(NO, bids=levels(("0.45", "50")), asks=levels(("0.52", "40")), ts=clock.now()))
    await advance(clock, 0.0)
    [placed] = await venue.place([intent(BUY, "0.48", "10")])  # behind the mirrored 40

    data.push(trade(BUY, "0.52", "50", token=NO, ts=clock.now()))  # a YES seller at 0.48 for 50
    await advance(clock, 0.0)

    assert [tokens for tokens, _ in data.streams] == [(YES, NO)]
    assert all(getattr(e, "token_id", YES) == YES for _, e in reader.seen)
    assert (await venue.balances([YES])).tokens[YES] == D(10)
    assert placed.ok
    await venue.close()


async def test_without_a_stream_a_place_refreshes_the_book_first(data: DataVenue, clock: ManualClock) -> None:
    venue = paper(data, clock)
    data.books[YES] = snapshot(bids=levels(("0.50", "100")), asks=levels(("0.52", "5")))

    [crossing] = await venue.place([intent(BUY, "0.52", "10")])

    assert not crossing.ok and "crosses book" in crossing.error
    assert data.calls.count("book") == 1


# -- the rest of the port --------------------------------------------------------------------------


async def test_the_data_venue_is_only_asked_for_market_data(data: DataVenue, clock: ManualClock) -> None:
    venue = PaperVenue(
        data,  # type: ignore[arg-type]
        clock,
        collateral=D(100),
        address="0xpaper",
        queue=PowerProbQueue(2),
    )
    await venue.start()
    users = Reader(clock, venue.user_events([]))
    await venue.split(MARKET, D(20))
    results = await venue.place([intent(BUY, "0.40", "10"), intent(SELL, "0.70", "10")])
    await venue.cancel([results[0].order_id])
    await venue.cancel_all()
    await venue.heartbeat()
    await venue.merge(MARKET, D(20))
    trades, orders, balances = (
        await venue.trades(),
        await venue.open_orders(),
        await venue.balances([YES, NO]),
    )
    with pytest.raises(VenueError, match="not enough balance"):
        await venue.merge(MARKET, D(1))
    await advance(clock, 0.0)
    await venue.close()

    assert set(data.calls) <= MARKET_DATA
    assert all(r.ok for r in results) and trades == [] and orders == []
    assert balances.collateral == D(100) and balances.tokens == {YES: D(0), NO: D(0)}
    kinds = [(e.kind, e.status) for _, e in users.of(OrderUpdate)]
    assert kinds == [("PLACEMENT", "LIVE")] * 2 + [("CANCELLATION", "CANCELED")] * 2
    assert users.of(StreamStatus)[0][1].connected


async def test_closing_the_venue_ends_its_streams_and_the_data_stream(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock, market_data_s=5.0)
    reader = await opened(venue, clock)
    users = Reader(clock, venue.user_events([]))
    await settle()

    await venue.close()
    await settle()

    assert reader.task.done() and users.task.done()
    assert data.calls[-1] == "close"


# -- the production engine on a paper venue over the in-process exchange ---------------------------


async def test_the_engine_quotes_on_paper_and_fills_come_from_the_exchanges_trades(tmp_path: Path) -> None:
    m = market("paper-smoke")
    world = SimWorld(tmp_path, [m])
    world.book(m, bids=[("0.48", "100")], asks=[("0.52", "100")])
    venue = PaperVenue(world.venue, world.clock, collateral=D(1000), address=BOT, id_seed="smoke")
    world.venue = venue  # type: ignore[assignment]
    engine = world.make_engine(spread="0.02")  # quotes 0.49 / 0.51: inside the other trader's book
    await world.start(engine)
    await world.run_until(lambda: len(venue.sim.resting()) == 2, what="two paper quotes")

    assert world.exchange.open_orders("bot") == [] and world.exchange.open_orders_at(venue.address) == []
    assert world.other_take(m, "YES", Side.SELL, "0.48", "20")  # a real trade at 0.48: through our 0.49 bid
    await world.run_until(lambda: len(world.ledger.fills(m.condition_id)) >= 1, what="the paper fill")
    [fill] = world.ledger.fills(m.condition_id)
    assert (fill.token_id, fill.side, fill.price, fill.size) == (m.yes_token, Side.BUY, D("0.49"), D(10))
    await world.finish()
    world.close()
    assert world.exchange.trades_for("bot") == []
    assert all(o.owner == "other" for o in world.exchange.orders.values())


async def test_when_the_data_stream_ends_the_engines_stream_ends_after_what_is_queued(
    data: DataVenue, clock: ManualClock
) -> None:
    venue = paper(data, clock, market_data_s=0.25)
    reader = await opened(venue, clock)
    data.push(snapshot(bids=levels(("0.50", "100")), ts=clock.now()))
    await settle()

    await data.streams[0][1].close()
    await advance(clock, 0.0)
    assert not reader.task.done()
    await advance(clock, 0.25)

    assert reader.task.done() and [type(e) for _, e in reader.seen] == [BookSnapshot]
    await venue.close()


class BrokenFeed:
    """A data stream that fails after its first event."""

    def __init__(self, first: MarketEvent) -> None:
        self.first = first

    def __aiter__(self) -> BrokenFeed:
        return self

    async def __anext__(self) -> MarketEvent:
        if self.first is None:
            raise OSError("connection reset")
        first, self.first = self.first, None  # type: ignore[assignment]
        return first

    async def close(self) -> None:
        return None


async def test_a_failing_data_stream_is_reported_as_a_lost_feed_then_ends(
    data: DataVenue, clock: ManualClock
) -> None:
    data.market_events = lambda tokens: BrokenFeed(snapshot(ts=clock.now()))  # type: ignore[method-assign]
    venue = paper(data, clock)
    reader = await opened(venue, clock)
    await advance(clock, 0.0)

    assert reader.task.done()
    [(_, lost)] = reader.of(StreamStatus)
    assert not lost.connected and lost.reason == "data feed failed: connection reset"
    await venue.close()
