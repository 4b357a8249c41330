"""Getting out: the stop-loss trigger (seed 004 Phase 3) and the liquidation plan. Pure.

Stop-loss: a market's unrealised P&L below -max_unrealized_loss, or the day's P&L below
-max_daily_loss, triggers it; then a liquidation mode decides how to exit:

- `market`: cross the spread, but as a ladder that never dumps into an empty level: each round
  sells at most `take_fraction` of each bid level's size, never below `max_slippage` from the
  mid, as FAK orders (what does not fill is cancelled, never left resting at a bad price);
- `limit`: rest a post-only order at the mid on the reducing side and wait;
- `passive`: cancel our quotes and wait (for a human).

Before any of that, YES+NO pairs are merged back to collateral (1 pUSD a pair, no spread paid);
that is a chain operation, decided here (`pairs_to_merge`) and done at the edge.

Stdlib + decimal + model only; no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from polymm_cli.model import ONE, ZERO, Market, PriceLevel, Side

LiquidationMode = Literal["market", "limit", "passive"]
MODES: tuple[LiquidationMode, ...] = ("market", "limit", "passive")


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossParams:
    enabled: bool = False
    max_unrealized_loss: Decimal | None = None  # pUSD, positive: trigger when unrealised < -this
    max_daily_loss: Decimal | None = None  # pUSD, positive: trigger when the day's P&L < -this
    mode: LiquidationMode = "market"
    resume_after_s: float | None = None  # None: the run ends (halted); else quote again after this

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"liquidation mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for name in ("max_unrealized_loss", "max_daily_loss"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be a positive amount of pUSD")
        if self.resume_after_s is not None and self.resume_after_s < 0:
            raise ValueError("resume_after_s must be >= 0")


def stop_loss_trigger(
    unrealized: Decimal | None, daily: Decimal | None, params: StopLossParams
) -> str | None:
    """The reason the stop-loss fires now, or None."""
    if not params.enabled:
        return None
    if (
        params.max_unrealized_loss is not None
        and unrealized is not None
        and unrealized < -params.max_unrealized_loss
    ):
        return f"stop-loss: unrealised P&L {unrealized:.2f} below -{params.max_unrealized_loss}"
    if params.max_daily_loss is not None and daily is not None and daily < -params.max_daily_loss:
        return f"stop-loss: daily P&L {daily:.2f} below -{params.max_daily_loss}"
    return None


def pairs_to_merge(yes: Decimal, no: Decimal) -> Decimal:
    """YES+NO pairs worth merging back to collateral (whole micro-shares, never negative)."""
    return max(ZERO, min(yes, no))


@dataclass(frozen=True, slots=True)
class ExitOrder:
    """One order of a liquidation: SELL `size` of `token_id` at `price` (FAK or resting, per mode)."""

    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    order_type: str  # "FAK" (market mode) or "GTC" (limit mode, post-only)
    reason: str


def _sell_size(size: Decimal, price: Decimal) -> Decimal:
    """A marketable SELL's size such that size x price has at most 4 decimals (the venue's rule for
    the pUSD side of market orders) and size at most 2."""
    places = max(0, -int(price.normalize().as_tuple().exponent))
    size_places = max(0, min(2, 4 - places))
    return size.quantize(Decimal(1).scaleb(-size_places), rounding=ROUND_DOWN)


def plan_exit(
    market: Market,
    *,
    yes: Decimal,
    no: Decimal,
    yes_bids: tuple[PriceLevel, ...],
    yes_asks: tuple[PriceLevel, ...],
    mode: LiquidationMode,
    take_fraction: Decimal = Decimal("0.5"),
    max_slippage: Decimal = Decimal("0.05"),
) -> tuple[ExitOrder, ...]:
    """The orders that reduce a position (after merging pairs) in one round of the given mode.

    YES is sold into the YES bids; NO is sold into the NO bids, which are the YES asks mirrored
    (a YES ask at p is a NO bid at 1 - p). `market` mode walks levels best-first, taking at most
    `take_fraction` of each level and stopping `max_slippage` below the mid; `limit` mode rests one
    order at the mid; `passive` sells nothing.
    """
    if mode == "passive":
        return ()
    min_size = market.min_order_size
    tick = market.tick_size
    best_bid = yes_bids[0].price if yes_bids else None
    best_ask = yes_asks[0].price if yes_asks else None
    mid = (best_bid + best_ask) / 2 if best_bid is not None and best_ask is not None else None
    orders: list[ExitOrder] = []
    no_bids = tuple(PriceLevel(ONE - lv.price, lv.size) for lv in yes_asks)
    legs = ((market.yes_token, yes, yes_bids, False), (market.no_token, no, no_bids, True))
    for token, held, bids, mirrored in legs:

        def to_token(yes_price: Decimal, mirrored: bool = mirrored) -> Decimal:
            return ONE - yes_price if mirrored else yes_price

        left = held
        if left < min_size:
            continue
        if mode == "limit":
            if mid is None:
                continue
            token_mid = to_token(mid)
            price = (token_mid / tick).to_integral_value(rounding=ROUND_DOWN) * tick
            if bids and price <= bids[0].price:
                price = bids[0].price + tick  # post-only: rest above the best bid of this token
            if price >= ONE:
                continue
            size = left.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            orders.append(ExitOrder(token, Side.SELL, price, size, "GTC", f"rest at the mid {token_mid:.4f}"))
            continue
        if mid is not None:
            reference = to_token(mid)
        elif bids:
            reference = bids[0].price  # one-sided book: slippage counts from the best bid
        else:
            continue
        floor = reference - max_slippage
        for level in bids:
            if left < min_size or level.price < floor or level.price <= 0:
                break
            take = _sell_size(min(left, level.size * take_fraction), level.price)
            if take < min_size:
                continue
            orders.append(
                ExitOrder(
                    token,
                    Side.SELL,
                    level.price,
                    take,
                    "FAK",
                    f"take {take} of {level.size} at {level.price} (never more than {take_fraction:%})",
                )
            )
            left -= take
    return tuple(orders)
