"""The Venue port: the normalised venue events (first) and the Venue protocol (below them).

Owns the shapes every venue adapter (Polymarket over the wire, the in-process sim) delivers to the
engine. Events are immutable values: frozen dataclasses with slots (`LevelUpdate`, one per book
level change, is a frozen msgspec Struct for speed), keyword-only construction (so a price can never
silently swap with a size), prices and sizes as `Decimal`, and two times on every event: `venue_ts`
(the venue's own timestamp, unix seconds) and `recv_ts` (when we received it, unix seconds, from the
injected clock - this module never reads a clock).

Must not: parse wire formats (that is `venues/polymarket/wire.py`), hold state, or import anything
but `model`, the stdlib and msgspec (for the Struct base class only).

Market channel: `BookSnapshot`, `PriceChange` (a batch of `LevelUpdate`), `LastTrade`,
`TickSizeChange`, `BestBidAsk`, `MarketResolved` -> `MarketEvent`.
User channel: `OrderUpdate`, `TradeUpdate` (carrying OUR `Fill`s of that match) -> `UserEvent`.

Fills and idempotency: one match (`trade_id`) is reported again at every settlement step
(MATCHED -> MINED -> CONFIRMED, or RETRYING -> FAILED) with the same fills. A `Fill` is identified by
`Fill.key == (trade_id, order_id)`; the ledger records it once and applies later status changes (a
FAILED status reverses it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

import msgspec

from polymm_cli.model import (
    FillRecord,
    FlowKind,
    FlowRecord,
    Market,
    PriceLevel,
    Side,
    TradeStatus,
    taker_fee,
)

# ---------------------------------------------------------------------------------------------------
# Events: market channel
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    """A full L2 book of one token. `bids`/`asks` are best-first (the wire sends them best-last)."""

    market: str
    token_id: str
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]
    tick_size: Decimal | None
    min_order_size: Decimal | None
    hash: str
    venue_ts: float
    recv_ts: float
    last_trade_price: Decimal | None = None
    neg_risk: bool | None = None


class LevelUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One level of one token's book changed.

    `side` BUY is a bid level, SELL an ask level. `size` is the new total resting at `price`
    (zero = the level is gone), never a delta. `best_bid`/`best_ask` are the venue's top of book
    after the whole match that caused the change (None when the venue did not say, or the side is
    empty); applying a burst's entries one by one can therefore show a briefly crossed book.

    A frozen, keyword-only msgspec Struct rather than a dataclass: there is one per `price_change`
    entry, the hottest object of the market feed, and msgspec builds it in C four times faster than
    a frozen dataclass (gc=False: it holds only strings, Decimals and an enum, so no cycle). Change
    a field with `msgspec.structs.replace`, not `dataclasses.replace`.
    """

    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChange:
    """A batch of level updates sent in one message (may cover both tokens of a market)."""

    market: str
    updates: tuple[LevelUpdate, ...]
    venue_ts: float
    recv_ts: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LastTrade:
    """A match happened on `token_id` at `price`; `taker_side` is the taker's side."""

    market: str
    token_id: str
    price: Decimal
    size: Decimal
    taker_side: Side
    fee_rate_bps: Decimal
    venue_ts: float
    recv_ts: float
    transaction_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickSizeChange:
    """The token's tick changed: resting levels on the old grid are void until the next snapshot."""

    market: str
    token_id: str
    old_tick: Decimal | None
    new_tick: Decimal
    venue_ts: float
    recv_ts: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BestBidAsk:
    """Top of book of one token (Polymarket sends it only with `custom_feature_enabled`)."""

    market: str
    token_id: str
    best_bid: Decimal | None
    best_ask: Decimal | None
    spread: Decimal | None
    venue_ts: float
    recv_ts: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketResolved:
    """The market resolved: it takes no more orders and `winning_token` pays 1 pUSD a token, the
    other 0. (Polymarket's `market_resolved`, sent with `custom_feature_enabled`.)"""

    market: str
    winning_token: str
    winning_outcome: str
    venue_ts: float
    recv_ts: float


MarketEvent = BookSnapshot | PriceChange | LastTrade | TickSizeChange | BestBidAsk | MarketResolved

# ---------------------------------------------------------------------------------------------------
# Events: user channel
# ---------------------------------------------------------------------------------------------------

OrderEventKind = Literal["PLACEMENT", "UPDATE", "CANCELLATION"]
Liquidity = Literal["MAKER", "TAKER"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    """The state of one of our orders after a placement, a (partial) fill or a cancellation.

    `status` is normalised (upper case, `ORDER_STATUS_` prefix stripped) but kept as a string:
    the venue has more reasons than we model (`LIVE`, `MATCHED`, `CANCELED_*`, ...) and new ones must
    not break the stream. `size_matched` counts matches before settlement (they can still fail).
    """

    order_id: str
    market: str
    token_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str
    kind: OrderEventKind
    owner: str
    venue_ts: float
    recv_ts: float
    maker_address: str = ""
    outcome: str = ""
    order_type: str = ""
    associate_trades: tuple[str, ...] = ()

    @property
    def remaining(self) -> Decimal:
        """Size still open on the book (never negative)."""
        left = self.original_size - self.size_matched
        return left if left > 0 else Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One of OUR orders' share of a match, in that order's own token, side and price.

    For a mint/merge match our maker order may be on the complementary token of the taker's; the
    fill always describes our order, never the taker's view. Identified by `key`.
    """

    trade_id: str
    order_id: str
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee_rate_bps: Decimal
    liquidity: Liquidity
    outcome: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """The ledger's idempotency key: (trade id, order id)."""
        return (self.trade_id, self.order_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeUpdate:
    """A match we took part in, at one settlement step; `fills` are our orders' parts of it.

    The same `trade_id` arrives again for each status transition with the same fills.
    `trader_side` is our role in the match as the venue reports it. `fills` may be empty when the
    venue reports a trade that involves none of our orders (it should not, but it is not an error).
    """

    trade_id: str
    market: str
    status: TradeStatus
    taker_order_id: str
    trader_side: Liquidity
    fills: tuple[Fill, ...]
    venue_ts: float
    recv_ts: float
    transaction_hash: str = ""
    match_ts: float | None = None


UserEvent = OrderUpdate | TradeUpdate

# ---------------------------------------------------------------------------------------------------
# The Venue protocol: the port the engine trades through, and the values it takes and returns.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStatus:
    """A stream's health changed: connected (and resynced) or lost. Delivered in-band with events."""

    stream: Literal["market", "user"]
    connected: bool
    reason: str
    recv_ts: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """An order the engine wants placed: a post-only GTC limit order unless said otherwise."""

    market: str
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    order_type: str = "GTC"
    post_only: bool = True
    client_tag: str = ""  # the engine's own label (e.g. "bid"/"ask"), echoed in the result


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceResult:
    """What became of one OrderIntent: accepted with an order id, or refused with the venue's reason."""

    intent: OrderIntent
    ok: bool
    order_id: str = ""
    status: str = ""  # live / matched / delayed when ok
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelResult:
    canceled: tuple[str, ...]
    not_canceled: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenOrder:
    """One of our resting orders as the venue lists it."""

    order_id: str
    market: str
    token_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    created_ts: float

    @property
    def remaining(self) -> Decimal:
        left = self.original_size - self.size_matched
        return left if left > 0 else Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Balances:
    """Collateral (pUSD) and token balances at the venue, in human units."""

    collateral: Decimal
    tokens: dict[str, Decimal]


PayoutKind = Literal["reward", "rebate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Payout:
    """Income the venue paid us: the liquidity rewards or the maker rebates of one market for one
    period (a day on Polymarket, an epoch on the local exchange), in pUSD.

    `payout_id` is the ledger's idempotency key: the venue's own id when it gives one, else one made
    of what identifies the payment (kind, period, market, asset), so the same payout read twice is one.
    """

    payout_id: str
    kind: PayoutKind
    market: str  # condition id ("" for an account-wide payment)
    amount: Decimal
    period: str  # what it pays for, as the venue names it ("2026-06-01", "epoch 29622840")
    paid_ts: float  # when it was paid (unix seconds)


class VenueEvents(Protocol):
    """A stream of events: iterate it; `close()` ends it (the iterator then stops)."""

    def __aiter__(self) -> AsyncIterator[MarketEvent | UserEvent | StreamStatus]: ...

    async def close(self) -> None: ...


class Venue(Protocol):
    """The port the engine trades through. Implementations: the Polymarket adapter (real CLOB V2 or
    the local exchange over loopback) and the in-process simulator. Every call may raise VenueError;
    refusals of single orders come back as `PlaceResult(ok=False)` instead.
    """

    @property
    def address(self) -> str:
        """The funder address whose balances back our orders."""
        ...

    async def start(self) -> None:
        """Connect and authenticate (derive API credentials if needed)."""
        ...

    async def close(self) -> None: ...

    async def markets(self) -> list[Market]:
        """Tradable markets (active, accepting orders, order book enabled)."""
        ...

    async def market(self, ident: str) -> Market:
        """One market by condition id, slug or either token id; UsageError when unknown."""
        ...

    async def book(self, token_id: str) -> BookSnapshot: ...

    async def place(self, intents: Sequence[OrderIntent]) -> list[PlaceResult]:
        """Place orders (batched by the venue's limit); results in the same order as the intents."""
        ...

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult: ...

    async def cancel_all(self, market: str | None = None) -> CancelResult: ...

    async def open_orders(self, market: str | None = None) -> list[OpenOrder]: ...

    async def trades(self, market: str | None = None, after: float | None = None) -> list[TradeUpdate]:
        """Our trades (as TradeUpdates with our fills), optionally since a unix time."""
        ...

    async def balances(self, token_ids: Sequence[str] = ()) -> Balances: ...

    async def payouts(self, since: float | None = None) -> list[Payout]:
        """Liquidity rewards and maker rebates paid to us since `since` (unix seconds; None: every
        one the venue still lists). It may repeat older ones: callers record them by `payout_id`.
        A slow call (the real venue answers per day): poll it off the hot path."""
        ...

    async def heartbeat(self) -> None:
        """One beat of the venue's dead-man's switch; raises VenueError when it fails."""
        ...

    def market_events(self, token_ids: Sequence[str]) -> VenueEvents:
        """Book snapshots and updates for these tokens; a StreamStatus on every (re)connect or loss,
        and after a reconnect a fresh BookSnapshot per token before any update."""
        ...

    def user_events(self, markets: Sequence[str]) -> VenueEvents:
        """Our order and trade updates; after a reconnect, the orders and trades missed in the gap
        are delivered (resynced over REST) before new events, so no fill is ever lost."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainResult:
    """What one split, merge or redeem moved, signed as the wallet sees it (pUSD and each outcome
    token), and the Polygon transaction that did it: `tx_hash` is None where nothing is sent on chain
    (the local exchange, the simulator). The ledger keys the flow by the hash (recorded once)."""

    tx_hash: str | None
    collateral_delta: Decimal
    yes_delta: Decimal
    no_delta: Decimal
    gas_pol: Decimal = Decimal(0)  # POL paid for gas (approvals included); not part of the pUSD P&L


def pair_result(kind: Literal["split", "merge"], amount: Decimal, tx_hash: str | None = None) -> ChainResult:
    """A split (pUSD -> `amount` YES + NO) or merge (the reverse) of `amount` pairs."""
    sign = Decimal(-1) if kind == "split" else Decimal(1)
    return ChainResult(
        tx_hash=tx_hash, collateral_delta=sign * amount, yes_delta=-sign * amount, no_delta=-sign * amount
    )


def redeem_result(market: Market, held: Balances, payout: Decimal, tx_hash: str | None = None) -> ChainResult:
    """A redeem: every YES and NO `held` before it is gone, `payout` pUSD came in."""
    return ChainResult(
        tx_hash=tx_hash,
        collateral_delta=payout,
        yes_delta=-held.tokens.get(market.yes_token, Decimal(0)),
        no_delta=-held.tokens.get(market.no_token, Decimal(0)),
    )


class Chain(Protocol):
    """The on-chain side of inventory: split collateral into YES+NO pairs, merge pairs back, redeem
    the winning side of a resolved market, and the holdings these move.

    Implementations: the local exchange (loopback endpoints, `venues.polymarket.chain.LocalChain`),
    the in-process simulator and paper venue (simulated), and Polygon
    (`venues.polymarket.chain.PolygonChain`: the pUSD collateral adapters, sent by an EOA with web3,
    or by the relayer for proxy and Safe wallets). Failures raise VenueError with one line.
    """

    async def holdings(self, market: Market) -> Balances:
        """pUSD and the market's two tokens held where this chain moves them."""
        ...

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        """pUSD -> `amount` YES + `amount` NO."""
        ...

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        """`amount` YES + `amount` NO -> pUSD."""
        ...

    async def redeem(self, market: Market) -> ChainResult:
        """After resolution: every YES and NO held -> the payout in pUSD (the winning side 1:1)."""
        ...


def fill_record(update: TradeUpdate, fill: Fill, *, fee_exponent: int = 1) -> FillRecord:
    """Our part of a match as the ledger records it; a taker pays `model.taker_fee` at the trade's
    fee rate and the market's fee exponent."""
    fee = Decimal(0)
    if fill.liquidity == "TAKER" and fill.fee_rate_bps:
        fee = taker_fee(fill.size, fill.price, fill.fee_rate_bps / Decimal(10_000), fee_exponent)
    return FillRecord(
        trade_id=update.trade_id,
        order_id=fill.order_id,
        market=update.market,
        token_id=fill.token_id,
        side=fill.side,
        price=fill.price,
        size=fill.size,
        fee=fee,
        liquidity=fill.liquidity,
        status=update.status,
        venue_ts=update.match_ts or update.venue_ts,
        recv_ts=update.recv_ts,
    )


def payout_flow(payout: Payout) -> FlowRecord:
    """The ledger's flow of a payout: a REWARD or a REBATE, keyed by the payout's id (recorded once)."""
    kind = FlowKind.REWARD if payout.kind == "reward" else FlowKind.REBATE
    return FlowRecord(
        flow_id=payout.payout_id,
        kind=kind,
        market=payout.market,
        collateral_delta=payout.amount,
        yes_delta=Decimal(0),
        no_delta=Decimal(0),
        ts=payout.paid_ts,
        note=f"{payout.kind} {payout.period}",
    )


def chain_flow(
    kind: FlowKind, market: str, result: ChainResult, ts: float, *, note: str = "", ref: str = ""
) -> FlowRecord:
    """The ledger's flow of a split, merge or redeem: keyed by its transaction hash when it has one
    (the same transaction is recorded once, whoever records it), else by kind, market, time and
    `ref`."""
    key = f"tx:{result.tx_hash}" if result.tx_hash else f"{ts:.6f}{':' + ref if ref else ''}"
    return FlowRecord(
        flow_id=f"{kind.value}:{market}:{key}",
        kind=kind,
        market=market,
        collateral_delta=result.collateral_delta,
        yes_delta=result.yes_delta,
        no_delta=result.no_delta,
        ts=ts,
        note=note if not result.tx_hash else f"{note} tx {result.tx_hash}".strip(),
    )
