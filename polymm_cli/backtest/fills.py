"""FillSimulator: our orders matched against an external L2 book and its trade prints, in YES terms.

The market is replayed, never moved: our orders rest only here, with a queue position
(`backtest.queue`), and fill by these rules (hftbacktest's partial-fill exchange):

- a taker trade at our price fills what reaches past the size ahead of us (and past our own earlier
  orders at that price); partial fills follow;
- a trade through our price (a taker SELL below our bid, a taker BUY above our ask) fills us in full;
- the external book crossing our price (best ask <= our bid, best bid >= our ask) fills us in full;
- all at our own price, as a maker (fee 0).

An order that would cross when it arrives: post-only is refused with the exchange's reason (our own
resting orders count, as they would in the exchange's book); otherwise it takes the external levels
it crosses as a taker (the market's taker fee), consuming them from our copy of the book until the
feed says otherwise; the rest rests (GTC/GTD), is killed (FAK) or the whole order is refused (FOK).
Tick, minimum size and balances are checked as the local exchange checks them, with its wording:
a BUY reserves price x size of collateral, a SELL needs the tokens. A BUY of NO is how a quote
without YES inventory offers YES (an ask at 1 - its price).

The book is the YES token's; NO-token book data is mirrored into it only while no YES-token book
data for that market has been seen. A trade on the NO token at p, taker side S, is a YES trade at
1 - p with the opposite taker side. Every operation returns the user events it caused (TradeUpdate
MATCHED then CONFIRMED around each fill's OrderUpdate, as the local exchange with instant settlement
sends them). Pure: no clock (`now` is passed in), no I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal

from polymm_cli.backtest.queue import MATCH_WINDOW_S, LevelQueue, QueueModel
from polymm_cli.book import OrderBook
from polymm_cli.model import (
    MARKET_RESOLVED_STATUS,
    MICRO,
    ONE,
    ZERO,
    Market,
    OrderRuleViolation,
    OrderType,
    PriceLevel,
    Side,
    TradeStatus,
    balance_shortfall,
    check_size_and_type,
    price_on_grid,
    q6,
    taker_fee,
)
from polymm_cli.venues.base import (
    Balances,
    BookSnapshot,
    CancelResult,
    Fill,
    LastTrade,
    Liquidity,
    MarketEvent,
    MarketResolved,
    OpenOrder,
    OrderIntent,
    OrderUpdate,
    PlaceResult,
    PriceChange,
    TickSizeChange,
    TradeUpdate,
    UserEvent,
)

# a FOK/FAK price implied by its amounts may be this far off the grid
MARKETABLE = (OrderType.FOK, OrderType.FAK)
RESTING = (OrderType.GTC, OrderType.GTD)


class Refused(Exception):
    """The simulated exchange refuses a request; the message is the exchange's wording."""


@dataclass(slots=True)
class SimOrder:
    """One of our orders: its own token's terms, and where it sits in the YES book."""

    order_id: str
    market: str
    token_id: str
    outcome: str
    side: Side
    price: Decimal
    original_size: Decimal
    order_type: OrderType
    created_ts: float
    is_bid: bool
    yes_price: Decimal
    size_matched: Decimal = ZERO
    status: str = "LIVE"
    associate_trades: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return max(self.original_size - self.size_matched, ZERO)

    @property
    def level(self) -> tuple[bool, Decimal]:
        return (self.is_bid, self.yes_price)


@dataclass(slots=True)
class _MarketState:
    market: Market
    book: OrderBook  # the YES token's external book (never our orders)
    yes_seen: bool = False
    resting: dict[str, SimOrder] = field(default_factory=dict)  # arrival order
    queues: dict[tuple[bool, Decimal], LevelQueue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Match:
    """One fill to book: which order, how much, at which own-token price, as maker or taker."""

    order: SimOrder
    size: Decimal
    price: Decimal
    liquidity: Liquidity
    fee: Decimal = ZERO
    transaction_hash: str = ""


class FillSimulator:
    """One paper account's orders, balances and fills over the external books of its markets."""

    def __init__(
        self,
        queue: QueueModel,
        *,
        collateral: Decimal,
        tokens: Mapping[str, Decimal] | None = None,
        markets: Iterable[Market] = (),
        owner: str = "paper",
        address: str = "",
        id_seed: str = "",
        match_window_s: float = MATCH_WINDOW_S,
    ) -> None:
        self.queue = queue
        self.collateral = collateral
        self.tokens: dict[str, Decimal] = dict(tokens or {})
        self.owner = owner
        self.address = address
        self.match_window_s = match_window_s
        self._seed = id_seed or owner
        self._ids = itertools.count()
        self._states: dict[str, _MarketState] = {}
        self._token_market: dict[str, str] = {}
        self._orders: dict[str, SimOrder] = {}  # every order placed, closed ones too
        self._trades: list[TradeUpdate] = []  # final (CONFIRMED) updates, oldest first
        for market in markets:
            self.add_market(market)

    # -- markets and books --------------------------------------------------------------------------

    def add_market(self, market: Market) -> None:
        """Know a market (idempotent: a known market keeps its book and orders)."""
        if market.condition_id in self._states:
            return
        self._states[market.condition_id] = _MarketState(
            market, OrderBook(market.yes_token, market.tick_size)
        )
        for token in market.tokens:
            self._token_market[token] = market.condition_id

    def market(self, ident: str) -> Market | None:
        """A known market by condition id or either token id."""
        cid = self._token_market.get(ident, ident)
        state = self._states.get(cid)
        return state.market if state else None

    def book(self, condition_id: str) -> OrderBook:
        """The external YES book of a known market (without our orders)."""
        return self._states[condition_id].book

    def own_levels(self, condition_id: str) -> dict[tuple[bool, Decimal], Decimal]:
        """Our resting size per YES level (is it a bid, YES price) of one market."""
        levels: dict[tuple[bool, Decimal], Decimal] = {}
        state = self._states.get(condition_id)
        for order in state.resting.values() if state else ():
            levels[order.level] = levels.get(order.level, ZERO) + order.remaining
        return levels

    def ahead_of(self, order_id: str) -> Decimal | None:
        """The external size ahead of one of our resting orders (None when it is not resting)."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        queue = self._states[order.market].queues.get(order.level)
        return queue.ahead_of(order_id) if queue else None

    # -- market data ----------------------------------------------------------------------------------

    def on_market_event(self, event: MarketEvent, now: float) -> list[UserEvent]:
        """Apply one market event; the fills it causes, as user events."""
        kind = type(event)
        if kind is PriceChange:
            return self._on_price_change(event, now)  # type: ignore[arg-type]
        if kind is BookSnapshot:
            return self._on_snapshot(event, now)  # type: ignore[arg-type]
        if kind is LastTrade:
            return self._on_trade(event, now)  # type: ignore[arg-type]
        if kind is TickSizeChange:
            self._on_tick(event)  # type: ignore[arg-type]
        if kind is MarketResolved:
            return self._on_resolved(event, now)  # type: ignore[arg-type]
        return []

    def _on_resolved(self, event: MarketResolved, now: float) -> list[UserEvent]:
        """The market resolved: it refuses new orders from now on and our resting orders in it are
        cancelled as the venue cancels them (`CANCELED_MARKET_RESOLVED`)."""
        state = self._states.get(event.market)
        if state is None or event.winning_token not in state.market.tokens or state.market.resolved:
            return []
        state.market = state.market.resolved_with(event.winning_token)
        events: list[UserEvent] = []
        for order in self._resting(event.market):
            order.status = MARKET_RESOLVED_STATUS
            self._unrest(state, order)
            events.append(self._order_update(order, "CANCELLATION", now))
        return events

    def _state_for(self, token_id: str) -> _MarketState | None:
        cid = self._token_market.get(token_id)
        return self._states[cid] if cid is not None else None

    def _on_price_change(self, event: PriceChange, now: float) -> list[UserEvent]:
        touched: dict[str, _MarketState] = {}
        for u in event.updates:
            state = self._state_for(u.token_id)
            if state is None:
                continue
            is_yes = u.token_id == state.market.yes_token
            if is_yes:
                state.yes_seen = True
            elif state.yes_seen:
                continue  # the YES book is the one we keep; the NO entries only mirror it
            side = u.side if is_yes else u.side.opposite
            price = u.price if is_yes else ONE - u.price
            self._set_level(state, side, price, u.size, now)
            touched[state.market.condition_id] = state
        return [e for state in touched.values() for e in self._fill_crossed(state, now)]

    def _set_level(self, state: _MarketState, side: Side, price: Decimal, size: Decimal, now: float) -> None:
        before = state.book.size_at(side, price)
        state.book.apply_level(side, price, size, now)
        queue = state.queues.get((side is Side.BUY, price))
        if queue is not None and before != size:
            queue.on_depth(before, size, now)

    def _on_snapshot(self, event: BookSnapshot, now: float) -> list[UserEvent]:
        state = self._state_for(event.token_id)
        if state is None:
            return []
        market = state.market
        if event.token_id == market.yes_token:
            state.yes_seen = True
            bids, asks = event.bids, event.asks
        elif state.yes_seen:
            return []
        else:
            bids, asks = _mirror(event.asks), _mirror(event.bids)
        tick = event.tick_size if event.token_id == market.yes_token else None
        before = {key: state.book.size_at(_side(key[0]), key[1]) for key in state.queues}
        state.book.apply_snapshot(bids, asks, tick, now)
        for key, queue in state.queues.items():
            after = state.book.size_at(_side(key[0]), key[1])
            if after != before[key]:
                queue.on_depth(before[key], after, now)
        if event.tick_size is not None and event.tick_size != market.tick_size:
            state.market = replace(market, tick_size=event.tick_size)
        if event.min_order_size is not None and event.min_order_size != state.market.min_order_size:
            state.market = replace(state.market, min_order_size=event.min_order_size)
        return self._fill_crossed(state, now)

    def _on_tick(self, event: TickSizeChange) -> None:
        state = self._state_for(event.token_id)
        if state is None or state.market.tick_size == event.new_tick:
            return
        state.market = replace(state.market, tick_size=event.new_tick)
        state.book.reset_for_tick_change(event.new_tick, event.recv_ts)

    def _on_trade(self, event: LastTrade, now: float) -> list[UserEvent]:
        state = self._state_for(event.token_id)
        if state is None or event.size <= 0:
            return []
        is_yes = event.token_id == state.market.yes_token
        price = event.price if is_yes else ONE - event.price
        hits_bids = (event.taker_side is Side.SELL) == is_yes  # a taker SELL of YES meets the bids
        matches: list[_Match] = []
        for order in list(state.resting.values()):
            through = order.yes_price > price if hits_bids else order.yes_price < price
            if order.is_bid == hits_bids and through:
                matches.append(
                    _Match(order, order.remaining, order.price, "MAKER", ZERO, event.transaction_hash)
                )
        queue = state.queues.get((hits_bids, price))
        if queue is not None:
            remaining = {p.order_id: state.resting[p.order_id].remaining for p in queue.positions}
            for order_id, size in queue.on_trade(event.size, now, remaining):
                order = state.resting[order_id]
                matches.append(_Match(order, size, order.price, "MAKER", ZERO, event.transaction_hash))
        return [e for m in matches for e in self._book_fill(state, m, now)]

    def _fill_crossed(self, state: _MarketState, now: float) -> list[UserEvent]:
        """Our resting orders the external book now crosses fill in full at their own price."""
        best_bid, best_ask = state.book.best_bid, state.book.best_ask
        events: list[UserEvent] = []
        for order in list(state.resting.values()):
            if order.is_bid:
                crossed = best_ask is not None and best_ask <= order.yes_price
            else:
                crossed = best_bid is not None and best_bid >= order.yes_price
            if crossed:
                events += self._book_fill(state, _Match(order, order.remaining, order.price, "MAKER"), now)
        return events

    # -- fills --------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        digest = hashlib.sha256(f"{self._seed}:{next(self._ids)}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def _book_fill(self, state: _MarketState, match: _Match, now: float) -> list[UserEvent]:
        """One fill of one of our orders: balances move, the order updates (and leaves the book when
        done); the user events are MATCHED, the order's update (a maker's), CONFIRMED."""
        # whole base units, cut down: a queue model's share of a trade may divide unevenly
        order, size = match.order, min(match.size.quantize(MICRO, rounding=ROUND_DOWN), match.order.remaining)
        if size <= 0:
            return []
        trade_id = self._new_id()
        self._move_balances(order, size, match.price, match.fee)
        order.size_matched += size
        order.associate_trades.append(trade_id)
        if order.remaining <= 0:
            order.status = "MATCHED"
            self._unrest(state, order)
        fill = Fill(
            trade_id=trade_id,
            order_id=order.order_id,
            token_id=order.token_id,
            side=order.side,
            price=match.price,
            size=size,
            fee_rate_bps=state.market.taker_fee_rate * 10_000 if match.liquidity == "TAKER" else ZERO,
            liquidity=match.liquidity,
            outcome=order.outcome,
        )
        matched = TradeUpdate(
            trade_id=trade_id,
            market=order.market,
            status=TradeStatus.MATCHED,
            taker_order_id=order.order_id if match.liquidity == "TAKER" else "",
            trader_side=match.liquidity,
            fills=(fill,),
            venue_ts=now,
            recv_ts=now,
            transaction_hash=match.transaction_hash or "0x" + hashlib.sha3_256(trade_id.encode()).hexdigest(),
            match_ts=now,
        )
        confirmed = replace(matched, status=TradeStatus.CONFIRMED)
        self._trades.append(confirmed)
        events: list[UserEvent] = [matched]
        if match.liquidity == "MAKER":
            events.append(self._order_update(order, "UPDATE", now))
        return [*events, confirmed]

    def _move_balances(self, order: SimOrder, size: Decimal, price: Decimal, fee: Decimal) -> None:
        cash = q6(size * price)
        if order.side is Side.BUY:
            self.collateral -= cash + fee
            self.tokens[order.token_id] = self.tokens.get(order.token_id, ZERO) + size
        else:
            self.tokens[order.token_id] = self.tokens.get(order.token_id, ZERO) - size
            self.collateral += max(cash - fee, ZERO)

    def _order_update(self, order: SimOrder, kind: str, now: float) -> OrderUpdate:
        return OrderUpdate(
            order_id=order.order_id,
            market=order.market,
            token_id=order.token_id,
            side=order.side,
            price=order.price,
            original_size=order.original_size,
            size_matched=order.size_matched,
            status=order.status,
            kind=kind,  # type: ignore[arg-type]
            owner=self.owner,
            venue_ts=now,
            recv_ts=now,
            maker_address=self.address,
            outcome=order.outcome,
            order_type=order.order_type.value,
            associate_trades=tuple(order.associate_trades),
        )

    def _rest(self, state: _MarketState, order: SimOrder) -> None:
        state.resting[order.order_id] = order
        queue = state.queues.get(order.level)
        if queue is None:
            queue = state.queues[order.level] = LevelQueue(self.queue, self.match_window_s)
        queue.join(order.order_id, state.book.size_at(_side(order.is_bid), order.yes_price))

    def _unrest(self, state: _MarketState, order: SimOrder) -> None:
        state.resting.pop(order.order_id, None)
        queue = state.queues.get(order.level)
        if queue is not None:
            queue.leave(order.order_id)
            if not queue.positions:
                del state.queues[order.level]

    # -- orders ---------------------------------------------------------------------------------------

    def place(self, intent: OrderIntent, now: float) -> tuple[PlaceResult, list[UserEvent]]:
        """Validate, take (when it crosses and may) and rest one order."""
        try:
            state, order = self._validate(intent, now)
        except Refused as exc:
            return PlaceResult(intent=intent, ok=False, error=str(exc)), []
        self._orders[order.order_id] = order
        events = self._take(state, order, now)
        took = bool(events)
        if order.remaining > 0 and order.order_type in RESTING:
            self._rest(state, order)
            events.append(self._order_update(order, "PLACEMENT", now))
        else:
            order.status = "MATCHED" if order.remaining <= 0 else "CANCELED"
            if took:
                events.append(self._order_update(order, "UPDATE", now))
        status = "matched" if took else "live"
        return PlaceResult(intent=intent, ok=True, order_id=order.order_id, status=status), events

    def _validate(self, intent: OrderIntent, now: float) -> tuple[_MarketState, SimOrder]:
        """The order, or the first rule it breaks in the exchange's order: market open, price on
        the grid, size and type, then against the book and the balance."""
        state = self._state_for(intent.token_id)
        if state is None:
            raise Refused("Invalid token id")
        market = state.market
        if not (market.accepting_orders and market.active and not market.closed):
            raise Refused("the market is not yet ready to process new orders")
        order_type = OrderType(intent.order_type)
        order_id = "0x" + hashlib.sha3_256(f"{self._seed}:order:{next(self._ids)}".encode()).hexdigest()
        price = _order_rules(intent, order_type, market, order_id)
        is_bid = market.is_bid(intent.token_id, intent.side)
        order = SimOrder(
            order_id=order_id,
            market=market.condition_id,
            token_id=intent.token_id,
            outcome=market.outcome_of(intent.token_id),
            side=intent.side,
            price=price,
            original_size=intent.size,
            order_type=order_type,
            created_ts=now,
            is_bid=is_bid,
            yes_price=market.yes_price(intent.token_id, price),
        )
        self._check_against_book_and_balance(state, order, intent.post_only)
        return state, order

    def _crossable(self, state: _MarketState, order: SimOrder) -> list[PriceLevel]:
        """The external levels (YES terms, best first) the order would take."""
        if order.is_bid:
            return [lvl for lvl in state.book.levels(Side.SELL) if lvl.price <= order.yes_price]
        return [lvl for lvl in state.book.levels(Side.BUY) if lvl.price >= order.yes_price]

    def _crosses_own(self, state: _MarketState, order: SimOrder) -> bool:
        return any(
            o.is_bid != order.is_bid
            and (o.yes_price <= order.yes_price if order.is_bid else o.yes_price >= order.yes_price)
            for o in state.resting.values()
        )

    def _check_against_book_and_balance(self, state: _MarketState, order: SimOrder, post_only: bool) -> None:
        levels = self._crossable(state, order)
        if post_only and (levels or self._crosses_own(state, order)):
            raise Refused("invalid post-only order: order crosses book")
        fillable = min(sum((lvl.size for lvl in levels), ZERO), order.original_size)
        if order.side is Side.BUY:
            asset, needed = "", q6(order.original_size * order.price)
            if levels:
                market = state.market
                needed += taker_fee(fillable, order.price, market.taker_fee_rate, market.fee_exponent)
        else:
            asset, needed = order.token_id, order.original_size
        if self._free(asset) < needed:
            raise Refused(self._balance_message(asset, needed))
        if order.order_type is OrderType.FOK and fillable < order.original_size:
            raise Refused("order couldn't be fully filled. FOK orders are fully filled or killed.")
        if order.order_type is OrderType.FAK and not levels:
            raise Refused(
                "no orders found to match with FAK order. "
                "FAK orders are partially filled or killed if no match is found."
            )

    def _take(self, state: _MarketState, order: SimOrder, now: float) -> list[UserEvent]:
        """Take the external levels the order crosses, best first, each a trade at its price; the
        taken size leaves our copy of the book until the feed sets that level again."""
        events: list[UserEvent] = []
        market = state.market
        for level in self._crossable(state, order):
            size = min(level.size, order.remaining)
            if size <= 0:
                break
            price = level.price if order.token_id == market.yes_token else ONE - level.price
            fee = taker_fee(size, price, market.taker_fee_rate, market.fee_exponent)
            opposite = Side.SELL if order.is_bid else Side.BUY
            state.book.apply_level(opposite, level.price, level.size - size, now)
            events += self._book_fill(state, _Match(order, size, price, "TAKER", fee), now)
        return events

    # -- balances -----------------------------------------------------------------------------------

    def _reserved(self, asset: str) -> Decimal:
        """Collateral ("") or one token held by our resting orders."""
        total = ZERO
        for state in self._states.values():
            for o in state.resting.values():
                if asset == "" and o.side is Side.BUY:
                    total += q6(o.remaining * o.price)
                elif asset and o.side is Side.SELL and o.token_id == asset:
                    total += o.remaining
        return total

    def _balance(self, asset: str) -> Decimal:
        return self.collateral if asset == "" else self.tokens.get(asset, ZERO)

    def _free(self, asset: str) -> Decimal:
        return self._balance(asset) - self._reserved(asset)

    def _balance_message(self, asset: str, needed: Decimal) -> str:
        return balance_shortfall(self._balance(asset), self._reserved(asset), needed)

    def balances(self, token_ids: Sequence[str] = ()) -> Balances:
        return Balances(collateral=self.collateral, tokens={t: self.tokens.get(t, ZERO) for t in token_ids})

    def split(self, condition_id: str, amount: Decimal) -> None:
        """Collateral -> `amount` YES + `amount` NO."""
        market = self._known(condition_id)
        if amount <= 0:
            raise Refused("invalid amount: must be positive")
        if self._free("") < amount:
            raise Refused(self._balance_message("", amount))
        self.collateral -= amount
        for token in market.tokens:
            self.tokens[token] = self.tokens.get(token, ZERO) + amount

    def merge(self, condition_id: str, amount: Decimal) -> None:
        """`amount` YES + `amount` NO -> collateral."""
        market = self._known(condition_id)
        if amount <= 0:
            raise Refused("invalid amount: must be positive")
        for token in market.tokens:
            if self._free(token) < amount:
                raise Refused(self._balance_message(token, amount))
        for token in market.tokens:
            self.tokens[token] -= amount
        self.collateral += amount

    def redeem(self, condition_id: str) -> Decimal:
        """A resolved market's YES and NO -> 1 collateral per winning token: the payout (0 when
        nothing is left). Refused for a market not resolved yet."""
        market = self._known(condition_id)
        if not market.resolved:
            raise Refused(f"market {condition_id} is not resolved yet")
        payout = self.tokens.get(market.winner, ZERO)
        for token in market.tokens:
            self.tokens[token] = ZERO
        self.collateral += payout
        return payout

    def _known(self, condition_id: str) -> Market:
        market = self.market(condition_id)
        if market is None:
            raise Refused(f"market {condition_id} not found")
        return market

    # -- cancels and queries --------------------------------------------------------------------------

    def cancel(self, order_ids: Iterable[str], now: float) -> tuple[CancelResult, list[UserEvent]]:
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        events: list[UserEvent] = []
        for oid in order_ids:
            order = self._orders.get(oid)
            if order is None:
                not_canceled[oid] = "Order not found"
            elif order.status.startswith("CANCELED"):
                not_canceled[oid] = "Order already canceled"
            elif order.status == "MATCHED" or order.remaining <= 0:
                not_canceled[oid] = "Order already matched"
            else:
                order.status = "CANCELED"
                self._unrest(self._states[order.market], order)
                events.append(self._order_update(order, "CANCELLATION", now))
                canceled.append(oid)
        return CancelResult(canceled=tuple(canceled), not_canceled=not_canceled), events

    def cancel_where(self, market: str | None, now: float) -> tuple[CancelResult, list[UserEvent]]:
        """Cancel every resting order, or those of one market."""
        ids = [o.order_id for o in self._resting(market)]
        return self.cancel(ids, now)

    def _resting(self, market: str | None = None) -> list[SimOrder]:
        orders = [
            o
            for cid, s in self._states.items()
            if market is None or cid == market
            for o in s.resting.values()
        ]
        return sorted(orders, key=lambda o: o.created_ts)

    def open_orders(self, market: str | None = None) -> list[OpenOrder]:
        return [
            OpenOrder(
                order_id=o.order_id,
                market=o.market,
                token_id=o.token_id,
                side=o.side,
                price=o.price,
                original_size=o.original_size,
                size_matched=o.size_matched,
                created_ts=o.created_ts,
            )
            for o in self._resting(market)
        ]

    def resting(self, market: str | None = None) -> list[SimOrder]:
        """Our resting orders (oldest first), as the simulator holds them."""
        return self._resting(market)

    def trades(self, market: str | None = None, after: float | None = None) -> list[TradeUpdate]:
        """Our fills, one final (CONFIRMED) update each, oldest first."""
        return [
            t
            for t in self._trades
            if (market is None or t.market == market) and (after is None or (t.match_ts or 0.0) >= after)
        ]


def _side(is_bid: bool) -> Side:
    return Side.BUY if is_bid else Side.SELL


def _mirror(levels: Iterable[PriceLevel]) -> tuple[PriceLevel, ...]:
    """NO levels as YES levels of the other side (a NO bid at q is a YES ask at 1 - q)."""
    return tuple(PriceLevel(ONE - lvl.price, lvl.size) for lvl in levels)


def _order_rules(intent: OrderIntent, order_type: OrderType, market: Market, order_id: str) -> Decimal:
    """The order's price on the tick grid, after the venue's price, size and type rules
    (`model.price_on_grid`, `model.check_size_and_type`: the local exchange's own)."""
    try:
        price = price_on_grid(intent.price, order_type, market, order_id)
        check_size_and_type(
            side=intent.side,
            size=intent.size,
            price=price,
            order_type=order_type,
            post_only=intent.post_only,
            market=market,
            order_id=order_id,
        )
    except OrderRuleViolation as exc:
        raise Refused(str(exc)) from None
    return price
