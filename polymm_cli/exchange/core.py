"""The local exchange: markets, accounts, order validation, matching and settlement, in one object.

`LocalExchange` is deterministic given its seed and its clock (its trade and heartbeat ids also
depend on a random salt of its own), usable in virtual time (`advance`), and knows nothing of HTTP:
the server (`exchange/server/`) verifies signatures and HMACs and maps `ExchangeRejection` to HTTP
errors; the in-process venue calls it directly. Each public operation runs to completion and then
hands its events, in order, to every listener.

Validation follows reference §13.2 and rejects with the real Polymarket wording (§4.4); a rejected
request changes nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from polymm_cli.clock import Clock
from polymm_cli.errors import ExchangeRejection
from polymm_cli.exchange.accounts import COLLATERAL, Account, ApiKey, ApiKeys, Heartbeat, Leg
from polymm_cli.exchange.events import (
    BookEvent,
    ExchangeEvent,
    LastTradeEvent,
    LevelChange,
    MakerFillView,
    MarketResolvedEvent,
    OrderEvent,
    OrderView,
    TickSizeEvent,
    TradeEvent,
    TradeView,
)
from polymm_cli.exchange.matching import Fill, MarketBook, RestingOrder
from polymm_cli.exchange.payouts import IncomeConfig, IncomeDesk, PayoutRecord, ScoredOrder, sample_q
from polymm_cli.model import (
    MARKET_RESOLVED_STATUS,
    ONE,
    TICK_SIZES,
    ZERO,
    Market,
    OrderRuleViolation,
    OrderType,
    Side,
    TradeStatus,
    balance_shortfall,
    base_units,
    check_size_and_type,
    price_on_grid,
    q6,
    taker_fee,
)

HEARTBEAT_TIMEOUT_S = 10.0
GTD_SECURITY_THRESHOLD_S = 60
# The implied price of a market order (FOK/FAK) is a ratio of rounded amounts (reference §4.2: $10 at
# 0.52 signs 10 / 19.2307 = 0.520002...); it is snapped to the grid within this. Limit prices are not.
CLOSED_ORDER_RETENTION_S = 3600.0


@dataclass(frozen=True, slots=True)
class SettlementConfig:
    """How trades settle: seconds from MATCHED to CONFIRMED, and the share that FAIL instead."""

    delay_s: float = 0.0
    fail_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated-signature order, in human units (the server derives price and size from amounts)."""

    order_id: str
    owner: str
    address: str
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    expiration: int = 0


@dataclass(frozen=True, slots=True)
class OrderResult:
    order_id: str
    status: str  # "live" or "matched", as POST /order reports it
    making_amount: Decimal
    taking_amount: Decimal
    trade_ids: tuple[str, ...]
    transaction_hashes: tuple[str, ...]


@dataclass(slots=True)
class _Trade:
    trade_id: str
    market: str
    taker: RestingOrder
    token_id: str
    side: Side
    size: Decimal
    price: Decimal
    fee_rate_bps: int
    taker_fee: Decimal
    status: TradeStatus
    match_time: float
    last_update: float
    transaction_hash: str
    maker_fills: list[MakerFillView]
    legs: list[Leg]
    will_fail: bool
    stage: int = 0  # 0 matched, 1 mined/retrying, 2 final


class HeartbeatMismatch(ExchangeRejection):
    """A heartbeat with an id other than the expected one; carries the id to resync with."""

    def __init__(self, expected: str) -> None:
        super().__init__("Invalid Heartbeat ID", status=400)
        self.expected = expected


class LocalExchange:
    """A Polymarket CLOB V2-like exchange in process: the state and rules, no transport."""

    def __init__(
        self,
        markets: Iterable[Market],
        clock: Clock,
        *,
        seed: int = 0,
        settlement: SettlementConfig | None = None,
        api_secret: bytes | None = None,
        id_salt: bytes | None = None,
        income: IncomeConfig | None = None,
    ) -> None:
        """`api_secret` derives the API credentials and `id_salt` is mixed into every trade and
        heartbeat id; a new exchange draws its own of both (the state file keeps them), so
        credentials cannot be computed from the public seed and no two state files share an id.
        `income` sets the reward and rebate epoch and the reward sample interval (`payouts`)."""
        self.clock = clock
        self.settlement = settlement or SettlementConfig()
        self.markets: dict[str, Market] = {}
        self.books: dict[str, MarketBook] = {}
        self._token_market: dict[str, Market] = {}
        self._ends: dict[str, float] = {}  # condition id -> end date (unix s; inf: none) for resolve_due
        for market in markets:
            self.add_market(market)
        self.seed = seed
        self.rng = random.Random(seed)
        self.accounts: dict[str, Account] = {}
        self.api_secret = secrets.token_bytes(32) if api_secret is None else api_secret
        self.id_salt = secrets.token_bytes(16) if id_salt is None else id_salt
        self.api_keys = ApiKeys(self.api_secret)
        self.income = IncomeDesk(income or IncomeConfig(), seed=seed, salt=self.id_salt, now=clock.now())
        self.heartbeats: dict[str, Heartbeat] = {}
        self.orders: dict[str, RestingOrder] = {}
        self._live: dict[str, dict[str, RestingOrder]] = {}  # owner -> resting orders by id
        self._closed: deque[tuple[float, str]] = deque()  # (closed at, order id), for pruning
        self.closed_order_retention_s = CLOSED_ORDER_RETENTION_S
        self._seen_ids: set[str] = set()  # every order id accepted since start: duplicates stay refused
        self.trades: dict[str, _Trade] = {}
        self._unsettled: list[_Trade] = []
        self.last_trade: dict[str, tuple[Decimal, Side]] = {}
        self.accepting = True
        self._seq = itertools.count()
        self._listeners: list[Callable[[ExchangeEvent], None]] = []
        self._events: list[ExchangeEvent] = []
        self._dirty_levels: dict[str, set[tuple[bool, Decimal]]] = {}
        self._traded_markets: set[str] = set()  # markets with a match in the current operation
        self.version = 0  # bumped on every state change; the server persists when it moves

    # -- markets and listeners ------------------------------------------------------------------

    def add_market(self, market: Market) -> None:
        self.markets[market.condition_id] = market
        self.books[market.condition_id] = MarketBook(market)
        self._token_market[market.yes_token] = market
        self._token_market[market.no_token] = market
        self._ends[market.condition_id] = _end_ts(market)

    def market_for_token(self, token_id: str) -> Market | None:
        return self._token_market.get(token_id)

    def add_listener(self, listener: Callable[[ExchangeEvent], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[ExchangeEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _flush(self) -> None:
        self._emit_book_changes()
        events, self._events = self._events, []
        if events:
            self.version += 1
        for event in events:
            for listener in list(self._listeners):
                listener(event)

    # -- accounts -------------------------------------------------------------------------------

    def account(self, address: str) -> Account:
        key = address.lower()
        acct = self.accounts.get(key)
        if acct is None:
            acct = self.accounts[key] = Account(address)
        return acct

    def fund(self, address: str, amount: Decimal) -> Account:
        """Credit pUSD and set the exchange allowances (what a funded, approved wallet looks like)."""
        acct = self.account(address)
        acct.collateral += amount
        acct.allowance_set = True
        self.version += 1
        return acct

    def split(self, address: str, condition_id: str, amount: Decimal) -> None:
        """pUSD -> YES + NO, one pair per pUSD."""
        market = self._market(condition_id)
        acct = self.account(address)
        if amount <= 0:
            raise ExchangeRejection("invalid amount: must be positive")
        if acct.free(COLLATERAL) < amount:
            raise ExchangeRejection(self._balance_message(acct, COLLATERAL, amount))
        acct.collateral -= amount
        acct.credit(market.yes_token, amount)
        acct.credit(market.no_token, amount)
        self.version += 1

    def merge(self, address: str, condition_id: str, amount: Decimal) -> None:
        """YES + NO -> pUSD, one pUSD per pair."""
        market = self._market(condition_id)
        acct = self.account(address)
        if amount <= 0:
            raise ExchangeRejection("invalid amount: must be positive")
        for token in market.tokens:
            if acct.free(token) < amount:
                raise ExchangeRejection(self._balance_message(acct, token, amount))
        acct.credit(market.yes_token, -amount)
        acct.credit(market.no_token, -amount)
        acct.collateral += amount
        self.version += 1

    def _market(self, condition_id: str) -> Market:
        market = self.markets.get(condition_id)
        if market is None:
            raise ExchangeRejection("market not found", status=404)
        return market

    # -- resolution and redemption --------------------------------------------------------------

    def resolve(self, condition_id: str, winner: str) -> Market:
        """Resolve a market for `winner` ("YES", "NO" or a token id): it closes and stops accepting
        orders, every resting order in it is cancelled (`CANCELED_MARKET_RESOLVED`, with the user
        channel's CANCELLATION events), a `MarketResolvedEvent` follows, and `redeem` pays the winner.
        ExchangeRejection for an unknown market, a winner not of it, or a market already resolved."""
        market = self._market(condition_id)
        token = _winning_token(market, winner)
        if market.resolved:
            raise ExchangeRejection(f"market {condition_id} is already resolved", status=409)
        try:
            resolved = market.resolved_with(token)
            self._replace_market(resolved)
            for order in sorted(self._open(), key=lambda o: o.seq):
                if order.market == condition_id:
                    self._cancel(order, MARKET_RESOLVED_STATUS)
            outcome = resolved.outcome_of(token)
            self._events.append(
                MarketResolvedEvent(condition_id, resolved.tokens, token, outcome, self.clock.now())
            )
            self.version += 1
        finally:
            self._flush()
        return resolved

    def resolve_due(self) -> list[Market]:
        """Resolve every market whose end date has passed (the server calls this on its tick). The
        winner is drawn with the YES mid as its probability (0.5 without a two-sided book), from a
        generator of the exchange's seed and the market's id: the same for every run of a seed, and
        the exchange's own random stream is untouched."""
        now = self.clock.now()
        due = [m for m in self.markets.values() if not m.resolved and self._ends[m.condition_id] <= now]
        resolved = []
        for market in due:
            bid, ask = self.best_bid_ask(market.yes_token)
            p_yes = (bid + ask) / 2 if bid is not None and ask is not None else Decimal("0.5")
            draw = random.Random(f"{self.seed}:{market.condition_id}").random()
            winner = market.yes_token if Decimal(str(draw)) < p_yes else market.no_token
            resolved.append(self.resolve(market.condition_id, winner))
        return resolved

    def redeem(self, address: str, condition_id: str) -> Decimal:
        """Burn the account's YES and NO of a resolved market and pay 1 pUSD per winning token: the
        payout (0 when there is nothing left to redeem, e.g. a second redeem). ExchangeRejection for
        an unknown or an unresolved market."""
        market = self._market(condition_id)
        if not market.resolved:
            raise ExchangeRejection(f"market {condition_id} is not resolved yet", status=400)
        acct = self.account(address)
        payout = acct.balance(market.winner)
        for token in market.tokens:
            held = acct.balance(token)
            if held:
                acct.credit(token, -held)
        acct.collateral += payout
        self.version += 1
        return payout

    def _replace_market(self, updated: Market) -> None:
        self.markets[updated.condition_id] = updated
        self.books[updated.condition_id].market = updated
        self._token_market[updated.yes_token] = updated
        self._token_market[updated.no_token] = updated

    # -- API keys and heartbeats ----------------------------------------------------------------

    def create_api_key(self, address: str, nonce: int) -> ApiKey:
        key = self.api_keys.create(address, nonce)
        if key is None:
            raise ExchangeRejection("Could not create api key")
        self.version += 1
        return key

    def derive_api_key(self, address: str, nonce: int) -> ApiKey:
        key = self.api_keys.derive(address, nonce)
        if key is None:
            raise ExchangeRejection("Could not derive api key!")
        return key

    def heartbeat(self, owner: str, heartbeat_id: str) -> str:
        """Advance the key's heartbeat chain; the first call sends "" and arms the dead-man's switch."""
        state = self.heartbeats.setdefault(owner, Heartbeat())
        if state.expected_id and heartbeat_id != state.expected_id:
            raise HeartbeatMismatch(state.expected_id)
        state.expected_id = self._new_id()
        state.last_beat = self.clock.now()
        state.armed = True
        return state.expected_id

    def _new_id(self) -> str:
        """A UUID4 for a trade or a heartbeat. It takes the same 128 bits from the seeded RNG as it
        always has (so everything else drawn from it, and the synthetic flow, stay bit-for-bit the
        same for a seed) and mixes in this state file's salt, so a new state with the same --seed
        never hands out an id again (a bot's ledger would drop the new fill as a duplicate)."""
        drawn = self.rng.getrandbits(128).to_bytes(16, "big")
        return str(uuid.UUID(bytes=hashlib.sha256(self.id_salt + drawn).digest()[:16], version=4))

    # -- orders ---------------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> OrderResult:
        """Validate, match and rest one order. Raises ExchangeRejection (state unchanged) on refusal."""
        try:
            order, market, book = self._validate(request)
            return self._execute(order, market, book)
        finally:
            self._flush()

    def _validate(self, req: OrderRequest) -> tuple[RestingOrder, Market, MarketBook]:
        """The order to execute, or the first rule it breaks (in the order Polymarket checks them):
        market open, price on the grid, size and type, expiration, duplicate id, then against the
        book and the balance. The new order takes its sequence number before the book checks."""
        market = self._open_market_for(req.token_id)
        price = self._order_rules(req, market)
        now = self.clock.now()
        self._check_expiration(req, now)
        if req.order_id in self.orders or req.order_id in self._seen_ids:
            raise ExchangeRejection(f"order {req.order_id} is invalid. Duplicated.")
        order = RestingOrder(
            order_id=req.order_id,
            owner=req.owner,
            address=req.address,
            market=market.condition_id,
            token_id=req.token_id,
            side=req.side,
            price=price,
            original_size=req.size,
            order_type=req.order_type,
            is_yes=req.token_id == market.yes_token,
            seq=next(self._seq),
            created_at=now,
            expiration=req.expiration,
        )
        book = self.books[market.condition_id]
        self._check_against_book_and_balance(req, order, market, book)
        return order, market, book

    def _open_market_for(self, token_id: str) -> Market:
        market = self._token_market.get(token_id)
        if market is None:
            raise ExchangeRejection("Invalid token id")
        if not (self.accepting and market.accepting_orders and market.active and not market.closed):
            raise ExchangeRejection("the market is not yet ready to process new orders")
        return market

    @staticmethod
    def _order_rules(req: OrderRequest, market: Market) -> Decimal:
        """The order's price on the tick grid, after the venue's price, size and type rules."""
        try:
            price = price_on_grid(req.price, req.order_type, market, req.order_id)
            check_size_and_type(
                side=req.side,
                size=req.size,
                price=price,
                order_type=req.order_type,
                post_only=req.post_only,
                market=market,
                order_id=req.order_id,
            )
        except OrderRuleViolation as exc:
            raise ExchangeRejection(str(exc)) from None
        return price

    @staticmethod
    def _check_expiration(req: OrderRequest, now: float) -> None:
        """Only GTD expires, and no sooner than the security threshold from now."""
        if req.order_type is OrderType.GTD:
            if req.expiration < now + GTD_SECURITY_THRESHOLD_S:
                raise ExchangeRejection("invalid expiration")
        elif req.expiration != 0:
            raise ExchangeRejection("invalid expiration")

    def _check_against_book_and_balance(
        self, req: OrderRequest, order: RestingOrder, market: Market, book: MarketBook
    ) -> None:
        """Post-only must not cross; the free balance covers the order (a crossing BUY its taker fee
        on what can fill too); a FOK fills entirely and a FAK finds something to match."""
        crosses = book.crosses(order)
        if req.post_only and crosses:
            raise ExchangeRejection("invalid post-only order: order crosses book")
        acct = self.accounts.get(req.address.lower()) or Account(req.address)  # refusals create nothing
        price = order.price
        if req.side is Side.BUY:
            if req.size * price > acct.free(COLLATERAL):  # before quantizing: absurd sizes overflow it
                raise ExchangeRejection(self._balance_message(acct, COLLATERAL, req.size * price))
            needed = q6(req.size * price)
            if crosses:
                fillable = min(book.fillable(order), req.size)
                needed += taker_fee(fillable, price, market.taker_fee_rate, market.fee_exponent)
            asset = COLLATERAL
        else:
            needed, asset = req.size, req.token_id
        if not acct.allowance_set or acct.free(asset) < needed:
            raise ExchangeRejection(self._balance_message(acct, asset, needed))
        if req.order_type is OrderType.FOK and book.fillable(order) < req.size:
            raise ExchangeRejection("order couldn't be fully filled. FOK orders are fully filled or killed.")
        if req.order_type is OrderType.FAK and not crosses:
            raise ExchangeRejection(
                "no orders found to match with FAK order. "
                "FAK orders are partially filled or killed if no match is found."
            )

    @staticmethod
    def _balance_message(acct: Account, asset: str, needed: Decimal) -> str:
        if not acct.allowance_set:
            return (
                "not enough balance / allowance: the allowance is not enough -> allowance: 0, "
                f"order amount: {base_units(needed)}"
            )
        return balance_shortfall(acct.balance(asset), acct.reserved(asset), needed)

    def _execute(self, order: RestingOrder, market: Market, book: MarketBook) -> OrderResult:
        now = self.clock.now()
        self.orders[order.order_id] = order
        self._seen_ids.add(order.order_id)
        fills = book.match(order)
        trades = self._record_fills(order, market, fills, now) if fills else []
        making = taking = ZERO
        for trade in trades:
            cash = q6(trade.size * trade.price)
            making += cash if order.side is Side.BUY else trade.size
            taking += trade.size if order.side is Side.BUY else cash
        rests = order.remaining > 0 and order.order_type in (OrderType.GTC, OrderType.GTD)
        if rests:
            self._rest(book, order)
            self._reserve(order, order.remaining)
            self._touch(book, order)
            self._events.append(OrderEvent("PLACEMENT", self._view(order), now))
        else:
            order.status = "MATCHED" if order.remaining <= 0 else "CANCELED"
            self._closed.append((now, order.order_id))
            if fills:
                self._events.append(OrderEvent("UPDATE", self._view(order), now))
        if self.settlement.delay_s <= 0:
            self._settle_due(now)
        return OrderResult(
            order_id=order.order_id,
            status="matched" if fills else "live",
            making_amount=making,
            taking_amount=taking,
            trade_ids=tuple(t.trade_id for t in trades),
            transaction_hashes=tuple(t.transaction_hash for t in trades),
        )

    def _record_fills(
        self, taker: RestingOrder, market: Market, fills: list[Fill], now: float
    ) -> list[_Trade]:
        """Group fills by price level into trades, move balances, emit trade and order events: one
        level after another, each settled, recorded and announced before the next."""
        self._traded_markets.add(market.condition_id)
        trades: list[_Trade] = []
        for yes_price, level in itertools.groupby(fills, key=lambda f: f.yes_price):
            level_fills = list(level)
            trade = self._record_level(taker, market, yes_price, level_fills, now)
            self._emit_trade_events(trade, market, level_fills, now)
            trades.append(trade)
        return trades

    def _record_level(
        self, taker: RestingOrder, market: Market, yes_price: Decimal, level_fills: list[Fill], now: float
    ) -> _Trade:
        """One price level's fills as one trade: the taker pays the fee, every leg moves its balances
        (bought assets stay pending until settlement), and the trade waits to settle."""
        size = sum((f.size for f in level_fills), ZERO)
        taker_price = yes_price if taker.is_yes else ONE - yes_price
        fee = taker_fee(size, taker_price, market.taker_fee_rate, market.fee_exponent)
        trade_id = self._new_id()
        taker_leg = self._leg(taker, size, taker_price, fee)
        maker_legs, maker_views = self._fill_makers(market, trade_id, level_fills, now)
        taker.associate_trades.append(trade_id)
        legs = [taker_leg, *maker_legs]
        self._move_balances(legs)
        trade = _Trade(
            trade_id=trade_id,
            market=market.condition_id,
            taker=taker,
            token_id=taker.token_id,
            side=taker.side,
            size=size,
            price=taker_price,
            fee_rate_bps=int(market.taker_fee_rate * 10_000),
            taker_fee=fee,
            status=TradeStatus.MATCHED,
            match_time=now,
            last_update=now,
            transaction_hash="0x" + hashlib.sha3_256(trade_id.encode()).hexdigest(),
            maker_fills=maker_views,
            legs=legs,
            will_fail=self.rng.random() < self.settlement.fail_rate,  # drawn after the trade id
        )
        self.trades[trade_id] = trade
        self._unsettled.append(trade)
        self._remember_last_trade(market, taker, yes_price)
        return trade

    def _fill_makers(
        self, market: Market, trade_id: str, level_fills: list[Fill], now: float
    ) -> tuple[list[Leg], list[MakerFillView]]:
        """Each maker's side of one trade: its reservation released, its leg, its order matched (and
        closed when done) and the view of its fill; the touched book levels are marked for events."""
        book = self.books[market.condition_id]
        legs: list[Leg] = []
        views: list[MakerFillView] = []
        for fill in level_fills:
            maker = fill.maker
            self._reserve(maker, -fill.size)
            legs.append(self._leg(maker, fill.size, maker.price, ZERO))
            maker.associate_trades.append(trade_id)
            if maker.remaining <= 0:
                maker.status = "MATCHED"
                self._unlive(maker, now)
            views.append(
                MakerFillView(
                    order_id=maker.order_id,
                    owner=maker.owner,
                    address=maker.address,
                    token_id=maker.token_id,
                    outcome=market.outcome_of(maker.token_id),
                    side=maker.side,
                    size=fill.size,
                    price=maker.price,
                )
            )
            self._touch(book, maker)
        return legs, views

    def _move_balances(self, legs: list[Leg]) -> None:
        """What each party gives leaves at once; what it receives is pending until settlement."""
        for leg in legs:
            acct = self.account(leg.address)
            acct.credit(leg.give_asset, -leg.give_amount)
            acct.add_pending(leg.receive_asset, leg.receive_amount)

    def _remember_last_trade(self, market: Market, taker: RestingOrder, yes_price: Decimal) -> None:
        """The last trade price and taker side of both tokens (a NO trade at p is a YES trade at 1 - p)."""
        yes_side = taker.side if taker.is_yes else taker.side.opposite
        self.last_trade[market.yes_token] = (yes_price, yes_side)
        self.last_trade[market.no_token] = (ONE - yes_price, yes_side.opposite)

    def _emit_trade_events(self, trade: _Trade, market: Market, level_fills: list[Fill], now: float) -> None:
        """The user channel's trade and each maker order's update, then the market's last trade."""
        self._events.append(TradeEvent(self._trade_view(trade), now))
        for fill in level_fills:
            self._events.append(OrderEvent("UPDATE", self._view(fill.maker), now))
        taker = trade.taker
        self._events.append(
            LastTradeEvent(
                market=market.condition_id,
                token_id=taker.token_id,
                price=trade.price,
                size=trade.size,
                side=taker.side,
                fee_rate_bps=trade.fee_rate_bps,
                transaction_hash=trade.transaction_hash,
                timestamp=now,
            )
        )

    @staticmethod
    def _leg(order: RestingOrder, size: Decimal, price: Decimal, fee: Decimal) -> Leg:
        cash = q6(size * price)
        if order.side is Side.BUY:
            return Leg(order.address, COLLATERAL, cash + fee, order.token_id, size)
        return Leg(order.address, order.token_id, size, COLLATERAL, max(cash - fee, ZERO))

    def _reserve(self, order: RestingOrder, size: Decimal) -> None:
        acct = self.account(order.address)
        if order.side is Side.BUY:
            acct.reserve(COLLATERAL, q6(size * order.price))
        else:
            acct.reserve(order.token_id, size)

    def _touch(self, book: MarketBook, order: RestingOrder) -> None:
        self._dirty_levels.setdefault(book.market.condition_id, set()).add(
            (order.yes_is_bid, order.yes_price)
        )

    # -- cancels --------------------------------------------------------------------------------

    def cancel(
        self, owner: str, order_ids: Iterable[str], reason: str = "CANCELED"
    ) -> tuple[list[str], dict[str, str]]:
        """Cancel the owner's orders by id: (canceled ids, {id: reason not canceled})."""
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        try:
            for oid in order_ids:
                order = self.orders.get(oid)
                if order is None or order.owner != owner:
                    not_canceled[oid] = "Order not found"
                elif order.status.startswith("CANCELED"):
                    not_canceled[oid] = "Order already canceled"
                elif order.status == "MATCHED" or order.remaining <= 0:
                    not_canceled[oid] = "Order already matched"
                else:
                    self._cancel(order, reason)
                    canceled.append(oid)
        finally:
            self._flush()
        return canceled, not_canceled

    def cancel_where(
        self, owner: str, *, market: str | None = None, asset_id: str | None = None, reason: str = "CANCELED"
    ) -> list[str]:
        """Cancel every open order of the owner, optionally only in one market or token."""
        ids = [
            o.order_id
            for o in self._open(owner)
            if (market is None or o.market == market) and (asset_id is None or o.token_id == asset_id)
        ]
        canceled, _ = self.cancel(owner, ids, reason)
        return canceled

    def _cancel(self, order: RestingOrder, reason: str) -> None:
        book = self.books[order.market]
        book.remove(order)
        self._reserve(order, -order.remaining)
        order.status = reason
        self._unlive(order, self.clock.now())
        self._touch(book, order)
        self._events.append(OrderEvent("CANCELLATION", self._view(order), self.clock.now()))

    # -- queries --------------------------------------------------------------------------------

    def _rest(self, book: MarketBook, order: RestingOrder) -> None:
        book.rest(order)
        self._live.setdefault(order.owner, {})[order.order_id] = order

    def _unlive(self, order: RestingOrder, now: float) -> None:
        owned = self._live.get(order.owner)
        if owned is not None and owned.pop(order.order_id, None) is not None:
            self._closed.append((now, order.order_id))

    def _open(self, owner: str | None = None) -> list[RestingOrder]:
        if owner is not None:
            return list(self._live.get(owner, {}).values())
        return [o for owned in self._live.values() for o in owned.values()]

    def open_orders_at(self, address: str) -> list[OrderView]:
        """Every open order backed by `address`, under any API key: the control plane's view."""
        wanted = address.lower()
        return [
            self._view(o) for o in sorted(self._open(), key=lambda o: o.seq) if o.address.lower() == wanted
        ]

    def open_orders(
        self,
        owner: str,
        *,
        market: str | None = None,
        asset_id: str | None = None,
        order_id: str | None = None,
    ) -> list[OrderView]:
        return [
            self._view(o)
            for o in sorted(self._open(owner), key=lambda o: o.seq)
            if (market is None or o.market == market)
            and (asset_id is None or o.token_id == asset_id)
            and (order_id is None or o.order_id == order_id)
        ]

    def get_order(self, order_id: str) -> OrderView | None:
        order = self.orders.get(order_id)
        return self._view(order) if order else None

    def trades_for(
        self,
        owner: str,
        *,
        market: str | None = None,
        asset_id: str | None = None,
        trade_id: str | None = None,
        after: float | None = None,
        before: float | None = None,
    ) -> list[TradeView]:
        views = []
        for trade in self.trades.values():
            view = self._trade_view(trade)
            if not view.involves(owner):
                continue
            if market and trade.market != market:
                continue
            if (
                asset_id
                and trade.token_id != asset_id
                and all(m.token_id != asset_id for m in view.maker_fills)
            ):
                continue
            if trade_id and trade.trade_id != trade_id:
                continue
            if after is not None and trade.match_time < after:
                continue
            if before is not None and trade.match_time > before:
                continue
            views.append(view)
        return views

    def book_levels(
        self, token_id: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks) of one token, best first."""
        market = self._token_market[token_id]
        return self.books[market.condition_id].token_levels(token_id)

    def best_bid_ask(self, token_id: str) -> tuple[Decimal | None, Decimal | None]:
        market = self._token_market[token_id]
        book = self.books[market.condition_id]
        bid, ask = book.best_yes_bid(), book.best_yes_ask()
        if token_id == market.yes_token:
            return bid, ask
        return (ONE - ask if ask is not None else None), (ONE - bid if bid is not None else None)

    def _view(self, order: RestingOrder) -> OrderView:
        market = self.markets[order.market]
        return OrderView(
            order_id=order.order_id,
            owner=order.owner,
            address=order.address,
            market=order.market,
            token_id=order.token_id,
            outcome=market.outcome_of(order.token_id),
            side=order.side,
            price=order.price,
            original_size=order.original_size,
            size_matched=order.size_matched,
            order_type=order.order_type,
            expiration=order.expiration,
            status=order.status,
            created_at=order.created_at,
            associate_trades=tuple(order.associate_trades),
        )

    def _trade_view(self, trade: _Trade) -> TradeView:
        market = self.markets[trade.market]
        return TradeView(
            trade_id=trade.trade_id,
            market=trade.market,
            taker_order_id=trade.taker.order_id,
            taker_owner=trade.taker.owner,
            taker_address=trade.taker.address,
            token_id=trade.token_id,
            outcome=market.outcome_of(trade.token_id),
            side=trade.side,
            size=trade.size,
            price=trade.price,
            fee_rate_bps=trade.fee_rate_bps,
            taker_fee=trade.taker_fee,
            status=trade.status,
            match_time=trade.match_time,
            last_update=trade.last_update,
            transaction_hash=trade.transaction_hash,
            maker_fills=tuple(trade.maker_fills),
        )

    # -- time -----------------------------------------------------------------------------------

    def advance(self) -> None:
        """Do what is due at the clock's now: settlement steps, GTD expiry, heartbeat timeouts."""
        try:
            now = self.clock.now()
            self._settle_due(now)
            for order in self._open():
                if order.order_type is OrderType.GTD and now >= order.expiration - GTD_SECURITY_THRESHOLD_S:
                    self._cancel(order, "CANCELED_EXPIRED_ORDER")
            for owner, state in self.heartbeats.items():
                if state.armed and now - state.last_beat > HEARTBEAT_TIMEOUT_S:
                    state.armed = False
                    for order in self._open(owner):
                        self._cancel(order, "CANCELED")
            self._prune(now)
            self._pay_income(now)
        finally:
            self._flush()

    # -- liquidity rewards and maker rebates (exchange/payouts.py) --------------------------------------

    def _pay_income(self, now: float) -> None:
        """Score the books when a reward sample is due; pay every epoch that has ended."""
        if self.income.due_samples(now):
            self._sample_rewards()
            self.income.sampled(now)
            self.version += 1  # the epoch's scores are state: the server saves them
        for payout in self.income.close_epochs(now, self.markets):
            self.account(payout.maker).collateral += payout.amount
            self.version += 1

    def _sample_rewards(self) -> None:
        """One reward sample: every maker's resting orders in every market that pays rewards."""
        resting: dict[str, list[ScoredOrder]] = {}
        for order in self._open():
            resting.setdefault(order.market, []).append(
                ScoredOrder(order.address.lower(), order.yes_is_bid, order.yes_price, order.remaining)
            )
        for cid, market in self.markets.items():
            book = self.books[cid]
            bid, ask = book.best_yes_bid(), book.best_yes_ask()
            if not market.rewards.active or bid is None or ask is None or cid not in resting:
                continue
            self.income.add_sample(cid, sample_q(resting[cid], market, (bid + ask) / 2))

    def payouts_to(self, address: str) -> list[PayoutRecord]:
        """Every reward and rebate payout this exchange made to `address`, oldest first."""
        return self.income.payouts_to(address)

    def _settle_due(self, now: float) -> None:
        delay = self.settlement.delay_s
        still: list[_Trade] = []
        for trade in self._unsettled:
            if trade.stage == 0 and now >= trade.match_time + delay / 2:
                trade.stage = 1
                trade.status = TradeStatus.RETRYING if trade.will_fail else TradeStatus.MINED
                trade.last_update = now
                self._events.append(TradeEvent(self._trade_view(trade), now))
            if trade.stage == 1 and now >= trade.match_time + delay:
                trade.stage = 2
                self._finalise(trade, now)
            if trade.stage < 2:
                still.append(trade)
        self._unsettled = still

    def _finalise(self, trade: _Trade, now: float) -> None:
        for leg in trade.legs:
            acct = self.account(leg.address)
            acct.add_pending(leg.receive_asset, -leg.receive_amount)
            if trade.will_fail:
                acct.credit(leg.give_asset, leg.give_amount)  # the ghost fill: refund what was given
            else:
                acct.credit(leg.receive_asset, leg.receive_amount)
        trade.status = TradeStatus.FAILED if trade.will_fail else TradeStatus.CONFIRMED
        trade.last_update = now
        if not trade.will_fail:  # a settled match's fee funds its makers' rebates
            self.income.add_match(
                self.markets[trade.market],
                trade.taker_fee,
                ((f.address, f.size, f.price) for f in trade.maker_fills),
            )
        self._events.append(TradeEvent(self._trade_view(trade), now))

    def _prune(self, now: float) -> None:
        """Forget orders closed more than `closed_order_retention_s` ago (an hour: GET /data/order
        answers for closed ones until then)."""
        while self._closed and now - self._closed[0][0] > self.closed_order_retention_s:
            _, oid = self._closed.popleft()
            self.orders.pop(oid, None)

    # -- market events --------------------------------------------------------------------------

    def set_tick_size(self, condition_id: str, new_tick: Decimal) -> None:
        if new_tick not in TICK_SIZES:
            raise ExchangeRejection(f"invalid tick size {new_tick}")
        market = self._market(condition_id)
        old = market.tick_size
        if old == new_tick:
            return
        updated = replace(market, tick_size=new_tick)
        self._replace_market(updated)
        now = self.clock.now()
        for token in updated.tokens:
            self._events.append(TickSizeEvent(condition_id, token, old, new_tick, now))
        self._flush()

    def _emit_book_changes(self) -> None:
        traded, self._traded_markets = self._traded_markets, set()
        if not self._dirty_levels:
            return
        now = self.clock.now()
        for condition_id, levels in self._dirty_levels.items():
            market = self.markets[condition_id]
            book = self.books[condition_id]
            yes_bid, yes_ask = book.best_yes_bid(), book.best_yes_ask()
            no_bid = ONE - yes_ask if yes_ask is not None else None
            no_ask = ONE - yes_bid if yes_bid is not None else None
            changes: list[LevelChange] = []
            for is_bid, yes_price in sorted(levels, key=lambda lv: (not lv[0], lv[1])):
                size = (book.bids if is_bid else book.asks).total(yes_price)
                yes_side = Side.BUY if is_bid else Side.SELL
                changes.append(LevelChange(market.yes_token, yes_side, yes_price, size, yes_bid, yes_ask))
                changes.append(
                    LevelChange(market.no_token, yes_side.opposite, ONE - yes_price, size, no_bid, no_ask)
                )
            self._events.append(BookEvent(condition_id, tuple(changes), now, condition_id in traded))
        self._dirty_levels = {}


def _winning_token(market: Market, winner: str) -> str:
    """The token a resolution names: "YES"/"NO" (any case) or one of the market's token ids."""
    named = {"YES": market.yes_token, "NO": market.no_token}.get(winner.strip().upper())
    token = named or winner.strip()
    if token not in market.tokens:
        raise ExchangeRejection(
            f"invalid winner {winner[:80]!r}: give YES, NO or one of the market's token ids"
        )
    return token


def _end_ts(market: Market) -> float:
    """The market's end date (ISO 8601, as the listings give it) in unix seconds; inf without one."""
    if not market.end_date:
        return math.inf
    try:
        end = datetime.fromisoformat(market.end_date.replace("Z", "+00:00"))
    except ValueError:
        return math.inf
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return end.timestamp()
