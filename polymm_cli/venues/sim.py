"""SimVenue: the Venue port over an in-process LocalExchange — no sockets, no signatures.

For unit tests of the engine and for backtests: the same matching, settlement and synthetic flow
as the local exchange's server, reached by direct calls; events are translated from the
exchange's own event types into the venue events the engine consumes, with the same semantics the
Polymarket adapter delivers (a BookSnapshot per token when a market stream starts, our fills only
in TradeUpdates, one update per settlement step).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal

from polymm_cli.clock import Clock
from polymm_cli.errors import ExchangeRejection, UsageError, VenueError
from polymm_cli.exchange.accounts import COLLATERAL
from polymm_cli.exchange.core import HeartbeatMismatch, LocalExchange, OrderRequest
from polymm_cli.exchange.events import (
    BookEvent,
    ExchangeEvent,
    LastTradeEvent,
    MarketResolvedEvent,
    OrderEvent,
    OrderView,
    TickSizeEvent,
    TradeEvent,
    TradeView,
)
from polymm_cli.model import Market, OrderType, PriceLevel
from polymm_cli.venues.base import (
    Balances,
    BookSnapshot,
    CancelResult,
    ChainResult,
    Fill,
    LastTrade,
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
    TickSizeChange,
    TradeUpdate,
    UserEvent,
    pair_result,
    redeem_result,
)

Event = MarketEvent | UserEvent | StreamStatus


class SimEvents:
    """A venue event stream fed by exchange listeners; `close()` ends iteration."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.on_close: Callable[[], None] | None = None
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def put(self, event: Event) -> None:
        """Queue an event; from another thread (an exchange served in its own) it hops to our loop."""
        if self._closed:
            return
        if threading.get_ident() == self._thread:
            self.queue.put_nowait(event)
        else:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.on_close is not None:
            self.on_close()
        self.queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event


class SimVenue:
    """One account on an in-process LocalExchange, as a Venue."""

    def __init__(
        self,
        exchange: LocalExchange,
        clock: Clock,
        *,
        address: str,
        owner: str | None = None,
        dead_mans_switch: bool = True,
    ) -> None:
        self.exchange = exchange
        # Backtests in virtual time turn the switch off: the engine's heartbeat runs on the event
        # loop's clock, which a virtual session outruns by orders of magnitude.
        self.dead_mans_switch = dead_mans_switch
        self.clock = clock
        self._address = address
        self.owner = owner or f"sim-{address.lower()}"
        self._ids = itertools.count()
        self._streams: list[SimEvents] = []

    @property
    def address(self) -> str:
        return self._address

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for stream in list(self._streams):
            await stream.close()

    # -- markets and books ------------------------------------------------------------------------

    async def markets(self) -> list[Market]:
        return [m for m in self.exchange.markets.values() if m.active and m.accepting_orders and not m.closed]

    async def market(self, ident: str) -> Market:
        for m in self.exchange.markets.values():
            if m.known_as(ident):
                return m
        raise UsageError(f"unknown market {ident!r}: not a condition id, slug or token id the venue lists")

    def _snapshot(self, token_id: str) -> BookSnapshot:
        market = self.exchange.market_for_token(token_id)
        if market is None:
            raise VenueError("Invalid token id", status=400)
        bids, asks = self.exchange.book_levels(token_id)
        now = self.clock.now()
        return BookSnapshot(
            market=market.condition_id,
            token_id=token_id,
            bids=tuple(PriceLevel(p, s) for p, s in bids),
            asks=tuple(PriceLevel(p, s) for p, s in asks),
            tick_size=market.tick_size,
            min_order_size=market.min_order_size,
            hash="",
            venue_ts=now,
            recv_ts=now,
            neg_risk=market.neg_risk,
        )

    async def book(self, token_id: str) -> BookSnapshot:
        return self._snapshot(token_id)

    # -- orders -----------------------------------------------------------------------------------

    def _order_id(self) -> str:
        return "0x" + hashlib.sha3_256(f"{self.owner}:{next(self._ids)}".encode()).hexdigest()

    async def place(self, intents: Sequence[OrderIntent]) -> list[PlaceResult]:
        results = []
        for intent in intents:
            request = OrderRequest(
                order_id=self._order_id(),
                owner=self.owner,
                address=self._address,
                token_id=intent.token_id,
                side=intent.side,
                price=intent.price,
                size=intent.size,
                order_type=OrderType(intent.order_type),
                post_only=intent.post_only,
            )
            try:
                outcome = self.exchange.submit(request)
                results.append(
                    PlaceResult(intent=intent, ok=True, order_id=outcome.order_id, status=outcome.status)
                )
            except ExchangeRejection as exc:
                results.append(PlaceResult(intent=intent, ok=False, error=exc.message))
        return results

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult:
        canceled, not_canceled = self.exchange.cancel(self.owner, list(order_ids))
        return CancelResult(canceled=tuple(canceled), not_canceled=not_canceled)

    async def cancel_all(self, market: str | None = None) -> CancelResult:
        return CancelResult(
            canceled=tuple(self.exchange.cancel_where(self.owner, market=market)), not_canceled={}
        )

    async def open_orders(self, market: str | None = None) -> list[OpenOrder]:
        return [
            OpenOrder(
                order_id=o.order_id,
                market=o.market,
                token_id=o.token_id,
                side=o.side,
                price=o.price,
                original_size=o.original_size,
                size_matched=o.size_matched,
                created_ts=o.created_at,
            )
            for o in self.exchange.open_orders(self.owner, market=market)
        ]

    async def trades(self, market: str | None = None, after: float | None = None) -> list[TradeUpdate]:
        now = self.clock.now()
        return [
            self._trade_update(t, now)
            for t in self.exchange.trades_for(self.owner, market=market, after=after)
        ]

    async def balances(self, token_ids: Sequence[str] = ()) -> Balances:
        acct = self.exchange.account(self._address)
        return Balances(collateral=acct.balance(COLLATERAL), tokens={t: acct.balance(t) for t in token_ids})

    async def payouts(self, since: float | None = None) -> list[Payout]:
        """The exchange's own record of what it paid this address (rewards and rebates per epoch)."""
        return [
            Payout(
                payout_id=p.payout_id,
                kind=p.kind,
                market=p.condition_id,
                amount=p.amount,
                period=f"epoch {p.epoch}",
                paid_ts=p.epoch_end,
            )
            for p in self.exchange.payouts_to(self._address)
            if since is None or p.epoch_end >= since
        ]

    async def heartbeat(self) -> None:
        if not self.dead_mans_switch:
            return
        state = self.exchange.heartbeats.get(self.owner)
        try:
            self.exchange.heartbeat(self.owner, state.expected_id if state else "")
        except HeartbeatMismatch as exc:
            self.exchange.heartbeat(self.owner, exc.expected)

    # -- the chain port ---------------------------------------------------------------------------

    async def holdings(self, market: Market) -> Balances:
        return await self.balances([market.yes_token, market.no_token])

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        try:
            self.exchange.split(self._address, market.condition_id, amount)
        except ExchangeRejection as exc:
            raise VenueError(exc.message, status=exc.status) from None
        return pair_result("split", amount)

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        try:
            self.exchange.merge(self._address, market.condition_id, amount)
        except ExchangeRejection as exc:
            raise VenueError(exc.message, status=exc.status) from None
        return pair_result("merge", amount)

    async def redeem(self, market: Market) -> ChainResult:
        """The account's YES and NO of a resolved market -> pUSD for the winners: the payout."""
        held = await self.holdings(market)
        try:
            payout = self.exchange.redeem(self._address, market.condition_id)
        except ExchangeRejection as exc:
            raise VenueError(exc.message, status=exc.status) from None
        return redeem_result(market, held, payout)

    # -- streams ----------------------------------------------------------------------------------

    def market_events(self, token_ids: Sequence[str]) -> SimEvents:
        stream = SimEvents()
        tokens = set(token_ids)

        def listen(event: ExchangeEvent) -> None:
            translated = _market_event(event, tokens, self.clock.now())
            if translated is not None:
                stream.put(translated)

        self._attach(stream, listen)
        for token in token_ids:
            stream.put(self._snapshot(token))
        stream.put(
            StreamStatus(stream="market", connected=True, reason="subscribed", recv_ts=self.clock.now())
        )
        return stream

    def user_events(self, markets: Sequence[str]) -> SimEvents:
        stream = SimEvents()
        wanted = set(markets)

        def listen(event: ExchangeEvent) -> None:
            now = self.clock.now()
            if isinstance(event, OrderEvent):
                o = event.order
                if o.owner == self.owner and (not wanted or o.market in wanted):
                    stream.put(self._order_update(o, event.kind, event.timestamp, now))
            elif isinstance(event, TradeEvent):
                t = event.trade
                if t.involves(self.owner) and (not wanted or t.market in wanted):
                    stream.put(self._trade_update(t, now))

        self._attach(stream, listen)
        stream.put(StreamStatus(stream="user", connected=True, reason="subscribed", recv_ts=self.clock.now()))
        return stream

    def _attach(self, stream: SimEvents, listener: Callable[[ExchangeEvent], None]) -> None:
        self.exchange.add_listener(listener)
        self._streams.append(stream)
        stream.on_close = lambda: self.exchange.remove_listener(listener)

    # -- translation --------------------------------------------------------------------------------

    def _order_update(self, o: OrderView, kind: str, venue_ts: float, now: float) -> OrderUpdate:
        return OrderUpdate(
            order_id=o.order_id,
            market=o.market,
            token_id=o.token_id,
            side=o.side,
            price=o.price,
            original_size=o.original_size,
            size_matched=o.size_matched,
            status=o.status,
            kind=kind,  # type: ignore[arg-type]
            owner=o.owner,
            venue_ts=venue_ts,
            recv_ts=now,
            maker_address=o.address,
            outcome=o.outcome,
            order_type=o.order_type.value,
            associate_trades=o.associate_trades,
        )

    def _trade_update(self, t: TradeView, now: float) -> TradeUpdate:
        fills: list[Fill] = []
        if t.taker_owner == self.owner:
            fills.append(
                Fill(
                    trade_id=t.trade_id,
                    order_id=t.taker_order_id,
                    token_id=t.token_id,
                    side=t.side,
                    price=t.price,
                    size=t.size,
                    fee_rate_bps=Decimal(t.fee_rate_bps),
                    liquidity="TAKER",
                    outcome=t.outcome,
                )
            )
        for m in t.maker_fills:
            if m.owner == self.owner:
                fills.append(
                    Fill(
                        trade_id=t.trade_id,
                        order_id=m.order_id,
                        token_id=m.token_id,
                        side=m.side,
                        price=m.price,
                        size=m.size,
                        fee_rate_bps=Decimal(0),
                        liquidity="MAKER",
                        outcome=m.outcome,
                    )
                )
        return TradeUpdate(
            trade_id=t.trade_id,
            market=t.market,
            status=t.status,
            taker_order_id=t.taker_order_id,
            trader_side="TAKER" if t.taker_owner == self.owner else "MAKER",
            fills=tuple(fills),
            venue_ts=t.last_update,
            recv_ts=now,
            transaction_hash=t.transaction_hash,
            match_ts=t.match_time,
        )


def _market_event(event: ExchangeEvent, tokens: set[str], now: float) -> MarketEvent | None:
    """The exchange's event as the venue port's market event, when it concerns `tokens`."""
    if isinstance(event, BookEvent):
        updates = tuple(
            LevelUpdate(
                token_id=c.token_id,
                side=c.side,
                price=c.price,
                size=c.size,
                best_bid=c.best_bid,
                best_ask=c.best_ask,
            )
            for c in event.changes
            if c.token_id in tokens
        )
        if not updates:
            return None
        return PriceChange(market=event.market, updates=updates, venue_ts=event.timestamp, recv_ts=now)
    if isinstance(event, LastTradeEvent) and event.token_id in tokens:
        return LastTrade(
            market=event.market,
            token_id=event.token_id,
            price=event.price,
            size=event.size,
            taker_side=event.side,
            fee_rate_bps=Decimal(event.fee_rate_bps),
            venue_ts=event.timestamp,
            recv_ts=now,
            transaction_hash=event.transaction_hash,
        )
    if isinstance(event, MarketResolvedEvent) and tokens.intersection(event.tokens):
        return MarketResolved(
            market=event.market,
            winning_token=event.winning_token,
            winning_outcome=event.winning_outcome,
            venue_ts=event.timestamp,
            recv_ts=now,
        )
    if isinstance(event, TickSizeEvent) and event.token_id in tokens:
        return TickSizeChange(
            market=event.market,
            token_id=event.token_id,
            old_tick=event.old_tick,
            new_tick=event.new_tick,
            venue_ts=event.timestamp,
            recv_ts=now,
        )
    return None
