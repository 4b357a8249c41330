"""Domain value types: Decimal money, frozen records, the shared vocabulary of every layer.

Pure: stdlib and decimal only. Prices and sizes are `Decimal` parsed straight from wire strings,
never via float. Records are frozen dataclasses with slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import ClassVar, Literal

ZERO = Decimal(0)
ONE = Decimal(1)
MICRO = Decimal("0.000001")  # 1 base unit of pUSD and of outcome tokens (6 decimals)

# The tick sizes Polymarket uses; str() of each is a key of the official client's rounding table.
TICK_SIZES: tuple[Decimal, ...] = tuple(
    Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")
)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


class TradeStatus(StrEnum):
    """Settlement lifecycle of a match: MATCHED is provisional, CONFIRMED final, FAILED reversed."""

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"

    @classmethod
    def parse(cls, raw: str) -> TradeStatus:
        """Accept both the WS spelling (`CONFIRMED`) and REST's (`TRADE_STATUS_CONFIRMED`)."""
        name = raw.strip().upper().removeprefix("TRADE_STATUS_")
        if name == "MATCHED_NOT_BROADCASTED":
            return cls.MATCHED
        return cls(name)


@dataclass(frozen=True, slots=True)
class RewardParams:
    """Liquidity-reward parameters of a market (docs/protocol.md §11)."""

    max_spread_cents: Decimal = ZERO
    min_size: Decimal = ZERO
    daily_rate: Decimal = ZERO

    @property
    def active(self) -> bool:
        return self.daily_rate > 0 and self.max_spread_cents > 0


@dataclass(frozen=True, slots=True)
class Market:
    """A binary market: a YES/NO token pair under one condition id."""

    condition_id: str
    question: str
    slug: str
    yes_token: str
    no_token: str
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool = False
    rewards: RewardParams = field(default_factory=RewardParams)
    taker_fee_rate: Decimal = ZERO
    fee_exponent: int = 1
    # feeSchedule.rebateRate: the share of this market's taker fees paid back to its makers (§9)
    maker_rebate_rate: Decimal = ZERO
    end_date: str = ""
    category: str = ""
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    neg_risk_market_id: str = ""
    volume: Decimal = ZERO  # lifetime volume as the listing reported it (a snapshot, not live)
    winner: str = ""  # the winning token id once the market resolved ("" while unresolved)

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.yes_token, self.no_token)

    @property
    def resolved(self) -> bool:
        return bool(self.winner)

    @property
    def tradable(self) -> bool:
        """Whether the venue takes new orders here: active, open, accepting orders, not resolved."""
        return self.active and self.accepting_orders and not self.closed and not self.resolved

    @property
    def payout_mark(self) -> Decimal | None:
        """What one YES token pays once resolved (1 when YES won, 0 when NO won); None before."""
        if not self.winner:
            return None
        return ONE if self.winner == self.yes_token else ZERO

    def resolved_with(self, winner: str) -> Market:
        """This market resolved for `winner` (a token id): closed, no longer accepting orders."""
        self.outcome_of(winner)  # KeyError for a token not of this market
        return replace(self, winner=winner, closed=True, accepting_orders=False)

    def outcome_of(self, token_id: str) -> str:
        if token_id == self.yes_token:
            return "Yes"
        if token_id == self.no_token:
            return "No"
        raise KeyError(token_id)

    def is_bid(self, token_id: str, side: Side) -> bool:
        """Whether an order is the market's bid in YES terms: a BUY of YES or a SELL of NO (its fill
        raises net exposure YES - NO); otherwise it is the ask."""
        return (side is Side.BUY) == (token_id == self.yes_token)

    def quote_side(self, token_id: str, side: Side) -> Literal["bid", "ask"]:
        """`is_bid` as the side's name, the quoter's tag for it."""
        return "bid" if self.is_bid(token_id, side) else "ask"

    def yes_price(self, token_id: str, price: Decimal) -> Decimal:
        """An order's price in YES terms (a NO price p is a YES price 1 - p)."""
        return price if token_id == self.yes_token else ONE - price

    def known_as(self, ident: str) -> bool:
        """Whether `ident` names this market: its condition id, slug or either token id."""
        return ident in (self.condition_id, self.slug, self.yes_token, self.no_token)

    def complement(self, token_id: str) -> str:
        if token_id == self.yes_token:
            return self.no_token
        if token_id == self.no_token:
            return self.yes_token
        raise KeyError(token_id)


# -- the venue's order rules, in Polymarket's own wording: one copy for the local exchange and the
# backtest's simulated venue (each turns OrderRuleViolation into its own refusal) ------------------

# The status of every order the venue cancels because its market resolved (user channel `order`
# CANCELLATION): the local exchange and the backtest set it, the engine drops the market on it.
MARKET_RESOLVED_STATUS = "CANCELED_MARKET_RESOLVED"
MARKET_ORDER_PRICE_NOISE = Decimal("0.00001")  # a market order's implied price may be this far off
MARKETABLE_TYPES = frozenset({OrderType.FOK, OrderType.FAK})


class OrderRuleViolation(ValueError):
    """An order the venue refuses; the message is the venue's."""


def q6(amount: Decimal) -> Decimal:
    """An amount in whole base units (6 decimals, half to even)."""
    return amount.quantize(MICRO, rounding=ROUND_HALF_EVEN)


def base_units(amount: Decimal) -> int:
    return int((amount / MICRO).to_integral_value(ROUND_HALF_EVEN))


def balance_shortfall(balance: Decimal, reserved: Decimal, needed: Decimal) -> str:
    """The venue's refusal of an order its free balance cannot cover, amounts in base units."""
    head = f"not enough balance / allowance: the balance is not enough -> balance: {base_units(balance)}, "
    if base_units(reserved):
        return (
            f"{head}sum of active orders: {base_units(reserved)}, "
            f"order amount (inc. fees): {base_units(needed)}"
        )
    return f"{head}order amount: {base_units(needed)}"


def price_on_grid(price: Decimal, order_type: OrderType, market: Market, order_id: str) -> Decimal:
    """The price on the market's tick grid, strictly inside (0, 1). A limit price must already be on
    it; a market order's implied price may be off by its amounts' rounding noise."""
    tick = market.tick_size
    on_grid = (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick
    noise = MARKET_ORDER_PRICE_NOISE if order_type in MARKETABLE_TYPES else ZERO
    if abs(on_grid - price) > noise or not (tick <= on_grid <= ONE - tick):
        raise OrderRuleViolation(
            f"order {order_id} is invalid. Price ({price.normalize():f}) breaks minimum tick "
            f"size rule: {tick.normalize():f}"
        )
    return on_grid


def check_size_and_type(
    *,
    side: Side,
    size: Decimal,
    price: Decimal,
    order_type: OrderType,
    post_only: bool,
    market: Market,
    order_id: str,
) -> None:
    """Post-only rests only; a limit order meets the minimum size, a marketable BUY spends $1."""
    marketable = order_type in MARKETABLE_TYPES
    if post_only and marketable:
        raise OrderRuleViolation("invalid post-only order: only GTC and GTD order types are allowed")
    if size <= 0:
        raise OrderRuleViolation("Invalid order payload")
    if not marketable and size < market.min_order_size:
        raise OrderRuleViolation(
            f"order {order_id} is invalid. Size ({size.normalize():f}) lower than the minimum: "
            f"{market.min_order_size.normalize():f}"
        )
    if marketable and side is Side.BUY and size * price < ONE:
        raise OrderRuleViolation(
            f"invalid amount for a marketable BUY order (${q6(size * price).normalize():f}), min size: $1"
        )


@dataclass(frozen=True, slots=True)
class PriceLevel:
    price: Decimal
    size: Decimal


FEE_QUANTUM = Decimal("0.00001")


def fee_curve(price: Decimal, exponent: int = 1) -> Decimal:
    """(p(1-p))^exponent: the weight of a match at `price` in the fee formula. Maker rebates split a
    market's rebate pool by maker volume weighted with it (docs/protocol.md §9)."""
    return (price * (ONE - price)) ** exponent


def taker_fee(size: Decimal, price: Decimal, rate: Decimal, exponent: int = 1) -> Decimal:
    """The taker fee of a match, as Polymarket charges it: size x rate x (p(1-p))^exponent in pUSD,
    rounded half-even to 5 decimals and at least 0.00001 when charged at all. Makers pay none. The
    one formula: the local exchange charges it and the ledger records it."""
    if rate <= 0 or size <= 0:
        return ZERO
    fee = (size * rate * fee_curve(price, exponent)).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
    return max(fee, FEE_QUANTUM)


def decimal_str(value: Decimal) -> str:
    """Wire form of a Decimal: plain notation, no exponent, no trailing zeros ("0.5", "100")."""
    if value == value.to_integral_value():
        return str(value.quantize(ONE))
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class FlowKind(StrEnum):
    """Inventory and cash movements other than fills, recorded in the ledger."""

    DEPOSIT = "deposit"  # collateral credited (e.g. the local exchange funding an account)
    WITHDRAW = "withdraw"
    SPLIT = "split"  # collateral -> YES + NO
    MERGE = "merge"  # YES + NO -> collateral
    REDEEM = "redeem"  # winning tokens -> collateral after resolution
    FEE = "fee"  # a fee not attached to a fill
    REWARD = "reward"  # liquidity rewards paid (the venue's share of a market's reward pool)
    REBATE = "rebate"  # maker rebates paid (a share of the taker fees our resting orders earned)


@dataclass(frozen=True, slots=True)
class Account:
    """Whose money a record moved: one wallet on one venue ("local", "polymarket"; later "paper").

    The same address on the local exchange and on Polymarket are two accounts: their fills must
    never meet in one position or one "trades since" resync. `wallet` is the address that backs the
    orders (the funder for proxy wallets), stored lower-cased so a checksummed and a plain spelling
    are one account; `Account.UNKNOWN` owns ledger rows older than accounts whose owner cannot be told.
    """

    venue: str
    wallet: str

    UNKNOWN: ClassVar[Account]

    def __post_init__(self) -> None:
        for name in ("venue", "wallet"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or value != "".join(value.split()):
                raise ValueError(f"account {name} must be a non-empty string without spaces, got {value!r}")
            object.__setattr__(self, name, value.lower())

    def __str__(self) -> str:
        return f"{self.venue}:{self.wallet}"


Account.UNKNOWN = Account("unknown", "unknown")


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    """One of our orders' part of a match, as the ledger holds it, with its settlement status.

    `side`, `price` and `token_id` are OUR order's (for a mint or merge our token may be the
    complement of the taker's). `fee` is what we paid in pUSD (takers only). A FAILED status means
    the fill was reversed: it moved nothing.
    """

    trade_id: str
    order_id: str
    market: str
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: str  # "MAKER" or "TAKER"
    status: TradeStatus
    venue_ts: float
    recv_ts: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.trade_id, self.order_id)

    @property
    def effective(self) -> bool:
        """Whether the fill counts (everything but FAILED; MATCHED is provisional but counts)."""
        return self.status is not TradeStatus.FAILED


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRecord:
    """A non-fill movement: deltas of collateral and of each outcome token of one market."""

    flow_id: str  # the idempotency key (venue reference or our own id)
    kind: FlowKind
    market: str  # condition id ("" for account-wide flows such as deposits)
    collateral_delta: Decimal
    yes_delta: Decimal
    no_delta: Decimal
    ts: float
    note: str = ""


# -- what a running engine shows: immutable snapshots for the dashboard, logs and tests ------------


@dataclass(frozen=True, slots=True)
class OurOrder:
    """One of our orders resting at the venue, as the engine knows it (price in its own token's
    terms): the one type the engine keeps, reconcile matches against targets, risk vets and the
    dashboard's view reads. `tag` is "bid" or "ask" of the market in YES terms, or "exit"."""

    order_id: str
    token_id: str
    side: Side
    price: Decimal
    remaining: Decimal
    market: str = ""
    tag: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteOrderView:
    """One of our resting orders, in its own token's terms and in YES terms."""

    order_id: str
    token_id: str
    outcome: str
    side: Side
    price: Decimal
    yes_price: Decimal
    remaining: Decimal
    tag: str  # "bid" or "ask" of the market in YES terms, or "exit" (a stop-loss exit order)
    scoring: bool = False  # earns liquidity rewards now
    scoring_note: str = ""  # why (not)


@dataclass(frozen=True, slots=True, kw_only=True)
class FillView:
    ts: float
    outcome: str
    side: Side
    price: Decimal
    size: Decimal
    liquidity: str
    status: TradeStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSnapshot:
    market: Market
    bids: tuple[PriceLevel, ...]  # YES book, best first
    asks: tuple[PriceLevel, ...]
    mid: Decimal | None
    orders: tuple[QuoteOrderView, ...]
    yes_position: Decimal
    no_position: Decimal
    position_limit: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal | None
    fees: Decimal
    total_pnl: Decimal
    fills: tuple[FillView, ...]  # most recent first
    status: str  # "quoting", "paused: <why>", "halted: <why>", "waiting for book"
    last_decision: str
    reward_rate: Decimal | None = None  # estimated pUSD/day from the liquidity-reward pool, now
    volatility: float = 0.0  # mid change per sqrt(second), as the regime sees it
    rewards: Decimal = ZERO  # liquidity rewards paid so far (in realized_pnl and total_pnl)
    rebates: Decimal = ZERO  # maker rebates paid so far (in realized_pnl and total_pnl)

    @property
    def net_position(self) -> Decimal:
        return self.yes_position - self.no_position


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthSnapshot:
    market_feed: bool
    feed_age_s: float | None  # seconds since the last market event
    user_stream: bool
    heartbeat: bool
    heartbeat_age_s: float | None
    last_error: str
    halted: str | None

    @property
    def healthy(self) -> bool:
        return self.market_feed and self.user_stream and self.heartbeat and self.halted is None


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSnapshot:
    ts: float
    venue: str
    address: str
    markets: tuple[MarketSnapshot, ...]
    health: HealthSnapshot
    decisions: int
    orders_placed: int
    orders_canceled: int
    fills: int
    latency_p50_us: float | None  # book update -> orders handed to the venue
    latency_p99_us: float | None
    reward_fit: str = ""  # what reward fitting may do to the quotes, in words (settings.reward_fit)
    width: str = ""  # which quoting width is in force and why, in words (settings.width)

    @property
    def total_pnl(self) -> Decimal:
        return sum((m.total_pnl for m in self.markets), ZERO)
