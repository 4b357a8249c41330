"""Domain value types: Decimal money, frozen records, the shared vocabulary of every layer.

Pure: stdlib and decimal only. Prices and sizes are `Decimal` parsed straight from wire strings,
never via float. Records are frozen dataclasses with slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

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
    """Liquidity-reward parameters of a market (reference §11)."""

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
    end_date: str = ""
    category: str = ""
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    neg_risk_market_id: str = ""

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.yes_token, self.no_token)

    def outcome_of(self, token_id: str) -> str:
        if token_id == self.yes_token:
            return "Yes"
        if token_id == self.no_token:
            return "No"
        raise KeyError(token_id)

    def complement(self, token_id: str) -> str:
        if token_id == self.yes_token:
            return self.no_token
        if token_id == self.no_token:
            return self.yes_token
        raise KeyError(token_id)


@dataclass(frozen=True, slots=True)
class PriceLevel:
    price: Decimal
    size: Decimal


def decimal_str(value: Decimal) -> str:
    """Wire form of a Decimal: plain notation, no exponent, no trailing zeros ("0.5", "100")."""
    if value == value.to_integral_value():
        return str(value.quantize(ONE))
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
