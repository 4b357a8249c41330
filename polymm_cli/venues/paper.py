"""PaperVenue: the Venue port over a data venue's market side and a FillSimulator — no order is sent.

Market data (markets, books, the market stream) comes from `data`, any Venue: real Polymarket, the
local exchange, or a replay. Nothing else is ever asked of it. Orders, cancels, balances, trades and
the user stream are simulated by `backtest.fills.FillSimulator` with a queue model, so a strategy
can be judged on the live or recorded feed with the production engine and no money at risk.

Time and latency (`Latency`), all on the injected clock:
- each market event is applied to the simulator when it arrives (the exchange's "now") and reaches
  the engine at its due time: `event.recv_ts + market_data_s`, or `event.recv_ts` itself when
  `market_data_s` is None (recorded mode: the feed's own delay is in its receive times). A pump task
  per market stream applies, the stream's iterator delivers from a FIFO of (due, event), so a delay
  never accumulates;
- `place` waits `order_entry_s` before the orders reach the simulated book, `cancel` and
  `cancel_all` wait `cancel_s` (fills can still happen meanwhile, then the cancel finds the order
  matched);
- user events (fills, placements, cancels) are delivered with the market-data delay too.

What the engine sees is what a live venue shows: the book includes our own resting orders (the
external size plus ours at our levels, on both tokens, mirrored), so the engine's own-order
bookkeeping works unchanged; our placements, cancels and fills show as `PriceChange`s. Fills arrive
as TradeUpdate MATCHED, the order's OrderUpdate, TradeUpdate CONFIRMED, like SimVenue with instant
settlement. The market stream of the data venue covers both tokens of each market asked for (the
simulator needs every trade print) and the engine gets only the tokens it asked for. Each market's
data is applied by one stream only, the first open one that covers it; without one, `place` refreshes
the market's book with a REST snapshot first. The heartbeat is a no-op (nothing rests anywhere).
`start` does not start the data venue (an adapter would derive API credentials: an authenticated
call market data does not need); `close` closes it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import msgspec

from polymm_cli.backtest.fills import FillSimulator, Refused
from polymm_cli.backtest.queue import QueueModel, RiskAverseQueue
from polymm_cli.clock import Clock
from polymm_cli.errors import PolymmError, VenueError
from polymm_cli.model import ONE, ZERO, Market, PriceLevel, Side
from polymm_cli.venues.base import (
    Balances,
    BookSnapshot,
    CancelResult,
    ChainResult,
    LevelUpdate,
    MarketEvent,
    MarketResolved,
    OpenOrder,
    OrderIntent,
    OrderUpdate,
    Payout,
    PlaceResult,
    PriceChange,
    StreamStatus,
    TradeUpdate,
    UserEvent,
    Venue,
    pair_result,
    redeem_result,
)

Event = MarketEvent | UserEvent | StreamStatus


@dataclass(frozen=True, slots=True)
class Latency:
    """Simulated delays in seconds. `market_data_s` None = recorded: the feed's receive times."""

    order_entry_s: float = 0.0
    cancel_s: float = 0.0
    market_data_s: float | None = None

    def due(self, recv_ts: float) -> float:
        """When an event received (recorded) at `recv_ts` reaches the engine."""
        return recv_ts if self.market_data_s is None else recv_ts + self.market_data_s


class DelayedEvents:
    """A venue event stream delivering each event at its due time (FIFO: never reordered)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._fifo: deque[tuple[float, Event]] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._finishing = False  # the source ended: stop once the queue is delivered
        self.pump: asyncio.Task[None] | None = None
        self.tokens: frozenset[str] = frozenset()
        self.markets: frozenset[str] = frozenset()  # condition ids ("" = every market, user streams)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, due: float, event: Event) -> None:
        if not self._closed:
            self._fifo.append((due, event))
            self._wake.set()

    def finish(self) -> None:
        """The source ended: the stream ends after delivering what is queued."""
        self._finishing = True
        self._wake.set()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self.pump is not None and self.pump is not asyncio.current_task():
            self.pump.cancel()
            await asyncio.gather(self.pump, return_exceptions=True)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while not self._closed:
            if not self._fifo:
                if self._finishing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            due, event = self._fifo[0]
            wait = due - self.clock.now()
            if wait > 0:
                await self.clock.sleep(wait)
                continue
            self._fifo.popleft()
            yield event


@dataclass(slots=True)
class _Feeds:
    """Which market stream applies each market's data to the simulator."""

    owner: dict[str, DelayedEvents] = field(default_factory=dict)

    def claim(self, stream: DelayedEvents, markets: Sequence[str]) -> None:
        for cid in markets:
            self.applies(stream, cid)

    def applies(self, stream: DelayedEvents, cid: str) -> bool:
        """Whether `stream` applies this market's data (it takes over from a closed one)."""
        current = self.owner.get(cid)
        if current is None or current.closed:
            self.owner[cid] = current = stream
        return current is stream

    def fed(self, cid: str) -> bool:
        stream = self.owner.get(cid)
        return stream is not None and not stream.closed


class PaperVenue:
    """A Venue whose market data is `data`'s and whose orders and fills are simulated."""

    def __init__(
        self,
        data: Venue,
        clock: Clock,
        *,
        collateral: Decimal,
        address: str,
        markets: Sequence[Market] = (),
        tokens: dict[str, Decimal] | None = None,
        queue: QueueModel | None = None,
        latency: Latency | None = None,
        owner: str = "",
        id_seed: str = "",
    ) -> None:
        self.data = data
        self.clock = clock
        self.latency = latency or Latency()
        self._address = address
        seed = id_seed or f"paper:{address.lower()}:{clock.now():.6f}"
        self.sim = FillSimulator(
            queue or RiskAverseQueue(),
            collateral=collateral,
            tokens=tokens,
            markets=markets,
            owner=owner or f"paper-{address.lower()}",
            address=address,
            id_seed=seed,
        )
        self._market_streams: list[DelayedEvents] = []
        self._user_streams: list[DelayedEvents] = []
        self._feeds = _Feeds()

    @property
    def address(self) -> str:
        return self._address

    async def start(self) -> None:
        """Nothing to connect: the data venue is not started either, since starting an adapter
        derives API credentials (an authenticated call) and public market data needs none."""
        return None

    async def close(self) -> None:
        for stream in [*self._market_streams, *self._user_streams]:
            await stream.close()
        await self.data.close()

    # -- market data: the data venue's, with our own orders shown in the books ----------------------

    async def markets(self) -> list[Market]:
        return await self.data.markets()

    async def market(self, ident: str) -> Market:
        known = self.sim.market(ident)
        if known is not None:
            return known
        market = await self.data.market(ident)
        self.sim.add_market(market)
        return market

    async def book(self, token_id: str) -> BookSnapshot:
        snapshot = await self.data.book(token_id)
        return self._overlay_snapshot(snapshot, self.sim.market(token_id))

    def market_events(self, token_ids: Sequence[str]) -> DelayedEvents:
        stream = DelayedEvents(self.clock)
        stream.tokens = frozenset(token_ids)
        self._market_streams.append(stream)
        stream.pump = asyncio.ensure_future(self._pump(stream, list(token_ids)))
        return stream

    async def _pump(self, stream: DelayedEvents, token_ids: list[str]) -> None:
        """Apply the data venue's events to the simulator and queue them for the engine."""
        markets = [await self._known_market(token) for token in token_ids]
        known = [m for m in markets if m is not None]
        self._feeds.claim(stream, [m.condition_id for m in known])
        stream.markets = frozenset(m.condition_id for m in known)
        tokens = list(dict.fromkeys([*token_ids, *(t for m in known for t in m.tokens)]))
        source = self.data.market_events(tokens)
        try:
            async for event in source:
                self._on_data_event(stream, event)
        except Exception as exc:  # the data venue's stream failed: say so in-band, like a lost feed
            now = self.clock.now()
            lost = StreamStatus(
                stream="market", connected=False, reason=f"data feed failed: {exc}", recv_ts=now
            )
            stream.put(now, lost)
        finally:
            await source.close()
            stream.finish()  # the data stream ended: so does ours, once its queue is delivered

    def _on_data_event(self, stream: DelayedEvents, event: Event) -> None:
        now = self.clock.now()
        if isinstance(event, StreamStatus):
            stream.put(self.latency.due(event.recv_ts), event)
            return
        if isinstance(event, (OrderUpdate, TradeUpdate)):
            return  # not market data: never from a data venue's market stream
        market = self.sim.market(event.market) or self.sim.market(_token_of(event))
        user_events: list[UserEvent] = []
        if market is not None and self._feeds.applies(stream, market.condition_id):
            user_events = self.sim.on_market_event(event, now)
        shown = self._overlay(event, market, stream.tokens)
        if shown is not None:
            stream.put(self.latency.due(event.recv_ts), shown)
        self._emit(user_events, now)

    async def _known_market(self, ident: str) -> Market | None:
        try:
            return await self.market(ident)
        except PolymmError:
            return None

    # -- the overlay: our resting orders in the books the engine reads -------------------------------

    def _overlay(
        self, event: MarketEvent, market: Market | None, tokens: frozenset[str]
    ) -> MarketEvent | None:
        if isinstance(event, PriceChange):
            updates = tuple(self._overlay_level(u, market) for u in event.updates if u.token_id in tokens)
            return replace(event, updates=updates) if updates else None
        if isinstance(event, BookSnapshot):
            return self._overlay_snapshot(event, market) if event.token_id in tokens else None
        if isinstance(event, MarketResolved):  # names the winner, which may be the token not subscribed
            return event if market is not None and tokens.intersection(market.tokens) else None
        return event if _token_of(event) in tokens else None

    def _overlay_level(self, update: LevelUpdate, market: Market | None) -> LevelUpdate:
        if market is None:
            return update
        is_yes = update.token_id == market.yes_token
        is_bid = (update.side is Side.BUY) == is_yes
        yes_price = update.price if is_yes else ONE - update.price
        ours = self.sim.own_levels(market.condition_id).get((is_bid, yes_price), ZERO)
        return msgspec.structs.replace(update, size=update.size + ours) if ours else update

    def _overlay_snapshot(self, snapshot: BookSnapshot, market: Market | None) -> BookSnapshot:
        if market is None:
            return snapshot
        own = self.sim.own_levels(market.condition_id)
        if not own:
            return snapshot
        is_yes = snapshot.token_id == market.yes_token
        bids = {lvl.price: lvl.size for lvl in snapshot.bids}
        asks = {lvl.price: lvl.size for lvl in snapshot.asks}
        for (is_bid, yes_price), size in own.items():
            levels = bids if is_bid == is_yes else asks
            price = yes_price if is_yes else ONE - yes_price
            levels[price] = levels.get(price, ZERO) + size
        return replace(
            snapshot,
            bids=tuple(PriceLevel(p, s) for p, s in sorted(bids.items(), reverse=True)),
            asks=tuple(PriceLevel(p, s) for p, s in sorted(asks.items())),
        )

    def _own_level_change(self, market: Market, is_bid: bool, yes_price: Decimal, now: float) -> PriceChange:
        """Both tokens' view of one YES level after our orders at it changed."""
        side = Side.BUY if is_bid else Side.SELL
        size = self.sim.book(market.condition_id).size_at(side, yes_price)
        size += self.sim.own_levels(market.condition_id).get((is_bid, yes_price), ZERO)
        updates = (
            LevelUpdate(token_id=market.yes_token, side=side, price=yes_price, size=size),
            LevelUpdate(token_id=market.no_token, side=side.opposite, price=ONE - yes_price, size=size),
        )
        return PriceChange(market=market.condition_id, updates=updates, venue_ts=now, recv_ts=now)

    # -- emitting what the simulator did --------------------------------------------------------------

    def _emit(self, events: Sequence[UserEvent], now: float) -> None:
        """Our user events to the user streams, and the book levels they changed to the market
        streams, at the market-data delay."""
        if not events:
            return
        due = self.latency.due(now)
        for stream in self._user_streams:
            for event in events:
                if not stream.markets or event.market in stream.markets:
                    stream.put(due, event)
        levels = dict.fromkeys(_touched_levels(events, self.sim))
        for cid, is_bid, yes_price in levels:
            market = self.sim.market(cid)
            if market is None:
                continue
            change = self._own_level_change(market, is_bid, yes_price, now)
            for stream in self._market_streams:
                shown = self._overlay_filter(change, stream.tokens)
                if shown is not None:
                    stream.put(due, shown)

    @staticmethod
    def _overlay_filter(change: PriceChange, tokens: frozenset[str]) -> PriceChange | None:
        updates = tuple(u for u in change.updates if u.token_id in tokens)
        return replace(change, updates=updates) if updates else None

    # -- orders: simulated, never sent ----------------------------------------------------------------

    async def place(self, intents: Sequence[OrderIntent]) -> list[PlaceResult]:
        for token in dict.fromkeys(i.token_id for i in intents):
            await self._refresh_unfed(token)
        if self.latency.order_entry_s > 0:
            await self.clock.sleep(self.latency.order_entry_s)
        results = []
        for intent in intents:
            now = self.clock.now()
            result, events = self.sim.place(intent, now)
            self._emit(events, now)
            results.append(result)
        return results

    async def _refresh_unfed(self, token_id: str) -> None:
        """A market no stream feeds gets a fresh REST book before we trade on it."""
        market = await self._known_market(token_id)
        if market is None or self._feeds.fed(market.condition_id):
            return
        snapshot = await self.data.book(market.yes_token)
        now = self.clock.now()
        self._emit(self.sim.on_market_event(replace(snapshot, recv_ts=now), now), now)

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult:
        if self.latency.cancel_s > 0:
            await self.clock.sleep(self.latency.cancel_s)
        now = self.clock.now()
        result, events = self.sim.cancel(order_ids, now)
        self._emit(events, now)
        return result

    async def cancel_all(self, market: str | None = None) -> CancelResult:
        if self.latency.cancel_s > 0:
            await self.clock.sleep(self.latency.cancel_s)
        now = self.clock.now()
        result, events = self.sim.cancel_where(market, now)
        self._emit(events, now)
        return result

    async def open_orders(self, market: str | None = None) -> list[OpenOrder]:
        return self.sim.open_orders(market)

    async def trades(self, market: str | None = None, after: float | None = None) -> list[TradeUpdate]:
        return self.sim.trades(market, after)

    async def balances(self, token_ids: Sequence[str] = ()) -> Balances:
        return self.sim.balances(token_ids)

    async def payouts(self, since: float | None = None) -> list[Payout]:
        """None: paper orders never rest at an exchange, so no venue scores or pays them. The
        dashboard's estimated reward rate is the estimate; the ledger holds only what was paid."""
        return []

    async def heartbeat(self) -> None:
        return None  # nothing rests at any exchange: there is no dead-man's switch to feed

    def user_events(self, markets: Sequence[str]) -> DelayedEvents:
        stream = DelayedEvents(self.clock)
        stream.markets = frozenset(markets)
        self._user_streams.append(stream)
        now = self.clock.now()
        stream.put(now, StreamStatus(stream="user", connected=True, reason="subscribed", recv_ts=now))
        return stream

    # -- the chain port, on the paper balances ------------------------------------------------------

    async def holdings(self, market: Market) -> Balances:
        return await self.balances([market.yes_token, market.no_token])

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        self.sim.add_market(market)
        try:
            self.sim.split(market.condition_id, amount)
        except Refused as exc:
            raise VenueError(str(exc), status=400) from None
        return pair_result("split", amount)

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        self.sim.add_market(market)
        try:
            self.sim.merge(market.condition_id, amount)
        except Refused as exc:
            raise VenueError(str(exc), status=400) from None
        return pair_result("merge", amount)

    async def redeem(self, market: Market) -> ChainResult:
        """The paper balances of a resolved market -> pUSD for the winning tokens: the payout. The
        simulator learns the winner from the feed's `MarketResolved` (or `market` says it)."""
        self.sim.add_market(market)
        known = self.sim.market(market.condition_id)
        if market.resolved and known is not None and not known.resolved:
            now = self.clock.now()
            resolved = MarketResolved(
                market=market.condition_id,
                winning_token=market.winner,
                winning_outcome=market.outcome_of(market.winner),
                venue_ts=now,
                recv_ts=now,
            )
            self._emit(self.sim.on_market_event(resolved, now), now)
        held = await self.holdings(market)
        try:
            payout = self.sim.redeem(market.condition_id)
        except Refused as exc:
            raise VenueError(str(exc), status=400) from None
        return redeem_result(market, held, payout)


def _token_of(event: MarketEvent) -> str:
    if isinstance(event, PriceChange):
        return event.updates[0].token_id if event.updates else ""
    if isinstance(event, MarketResolved):
        return event.winning_token
    return event.token_id


def _touched_levels(events: Sequence[UserEvent], sim: FillSimulator) -> list[tuple[str, bool, Decimal]]:
    """The YES levels (market, is it a bid, YES price) whose size our events changed: our orders'
    levels, and the external levels our taker fills took."""
    levels: list[tuple[str, bool, Decimal]] = []
    for event in events:
        market = sim.market(event.market)
        if market is None:
            continue
        if isinstance(event, OrderUpdate):
            is_bid = market.is_bid(event.token_id, event.side)
            levels.append((market.condition_id, is_bid, market.yes_price(event.token_id, event.price)))
        else:
            for fill in event.fills:
                if fill.liquidity == "TAKER":
                    taken_is_bid = not market.is_bid(fill.token_id, fill.side)
                    levels.append(
                        (market.condition_id, taken_is_bid, market.yes_price(fill.token_id, fill.price))
                    )
    return levels
