"""What the local exchange tells the world: immutable events, emitted in order after each operation.

The server turns these into Polymarket WebSocket messages; tests and the in-process venue read them
directly. Views are frozen copies, so a listener never sees an order change under its feet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.model import OrderType, Side, TradeStatus


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: str
    owner: str
    address: str
    market: str
    token_id: str
    outcome: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    order_type: OrderType
    expiration: int
    status: str
    created_at: float
    associate_trades: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MakerFillView:
    order_id: str
    owner: str
    address: str
    token_id: str
    outcome: str
    side: Side
    size: Decimal
    price: Decimal  # in the maker's own token terms


@dataclass(frozen=True, slots=True)
class TradeView:
    trade_id: str
    market: str
    taker_order_id: str
    taker_owner: str
    taker_address: str
    token_id: str  # the taker's token
    outcome: str
    side: Side  # the taker's side
    size: Decimal
    price: Decimal  # in the taker's token terms
    fee_rate_bps: int
    taker_fee: Decimal
    status: TradeStatus
    match_time: float
    last_update: float
    transaction_hash: str
    maker_fills: tuple[MakerFillView, ...]
    bucket_index: int = 0

    def involves(self, owner: str) -> bool:
        return self.taker_owner == owner or any(m.owner == owner for m in self.maker_fills)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """PLACEMENT, UPDATE (a fill changed size_matched) or CANCELLATION of one order."""

    kind: str
    order: OrderView
    timestamp: float


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One settlement-status transition of a trade (same trade id, new status)."""

    trade: TradeView
    timestamp: float


@dataclass(frozen=True, slots=True)
class LevelChange:
    token_id: str
    side: Side  # BUY = bid level, SELL = ask level
    price: Decimal
    size: Decimal  # new total at this level, 0 = removed
    best_bid: Decimal | None
    best_ask: Decimal | None


@dataclass(frozen=True, slots=True)
class BookEvent:
    """Level totals changed in one market; entries for both tokens (the books mirror each other).

    `traded`: a match changed them, after which Polymarket also sends a full `book` per token."""

    market: str
    changes: tuple[LevelChange, ...]
    timestamp: float
    traded: bool = False


@dataclass(frozen=True, slots=True)
class LastTradeEvent:
    market: str
    token_id: str
    price: Decimal
    size: Decimal
    side: Side  # the taker's side
    fee_rate_bps: int
    transaction_hash: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class TickSizeEvent:
    market: str
    token_id: str
    old_tick: Decimal
    new_tick: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True)
class MarketResolvedEvent:
    """The market resolved: trading in it has stopped and `winning_token` pays 1 pUSD a token."""

    market: str
    tokens: tuple[str, str]  # (YES, NO)
    winning_token: str
    winning_outcome: str  # "Yes" or "No"
    timestamp: float


ExchangeEvent = OrderEvent | TradeEvent | BookEvent | LastTradeEvent | TickSizeEvent | MarketResolvedEvent
