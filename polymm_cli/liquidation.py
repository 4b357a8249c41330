"""Getting out: the stop-loss trigger and the liquidation plan (docs/strategy.md#stop-loss). Pure.

Stop-loss: a market's unrealised P&L below -max_unrealized_loss, or the day's P&L below
-max_daily_loss, triggers it; then a liquidation mode decides how to exit:

- `market`: cross the spread, but in rounds that respect the book: each round sells at most
  `take_fraction` of the bid depth within `max_slippage` of the mid the exit began at, as one FAK
  (what does not fill is cancelled, never left resting at a bad price), so it never dumps into an
  empty book, never sells below the floor and never takes the whole depth;
- `limit`: rest a post-only order at the mid on the reducing side and wait (with no two-sided book,
  one tick inside the side there is);
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


def exit_mode(mode: LiquidationMode, anchor_mid: Decimal | None) -> tuple[LiquidationMode, str]:
    """The mode an exit may use, and why it changed. `market` hangs its slippage floor off the mid of
    a two-sided book; without one the floor would follow the bids down round after round (walking
    the book 5c a round), so it rests limit orders instead."""
    if mode == "market" and anchor_mid is None:
        return "limit", "no two-sided book to anchor a market exit: resting limit orders instead"
    return mode, ""


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


def _resting_exit(
    token: str,
    held: Decimal,
    bids: tuple[PriceLevel, ...],
    asks: tuple[PriceLevel, ...],
    token_mid: Decimal | None,
    tick: Decimal,
) -> ExitOrder | None:
    """A post-only SELL of what is held: at the mid (on the grid, above the best bid); with no mid,
    one tick above the best bid, or one tick below the best ask; None with no book at all."""
    if token_mid is not None:
        price, why = (
            (token_mid / tick).to_integral_value(rounding=ROUND_DOWN) * tick,
            f"rest at the mid {token_mid:.4f}",
        )
    elif bids:
        price, why = bids[0].price + tick, f"rest a tick above the best bid {bids[0].price} (no ask side)"
    elif asks:
        price, why = asks[0].price - tick, f"rest a tick below the best ask {asks[0].price} (no bid side)"
    else:
        return None
    if bids and price <= bids[0].price:
        price = bids[0].price + tick  # post-only: rest above the best bid of this token
    if not tick <= price < ONE:
        return None
    return ExitOrder(token, Side.SELL, price, held.quantize(Decimal("0.01"), rounding=ROUND_DOWN), "GTC", why)


def plan_exit(
    market: Market,
    *,
    yes: Decimal,
    no: Decimal,
    yes_bids: tuple[PriceLevel, ...],
    yes_asks: tuple[PriceLevel, ...],
    mode: LiquidationMode,
    anchor_mid: Decimal | None = None,
    take_fraction: Decimal = Decimal("0.5"),
    max_slippage: Decimal = Decimal("0.05"),
) -> tuple[ExitOrder, ...]:
    """The orders that reduce a position (after merging pairs) in ONE round of the given mode.

    The book passed in must be the book WITHOUT our own orders. YES is sold into the YES bids; NO
    into the NO bids, which are the YES asks mirrored (a YES ask at p is a NO bid at 1 - p).

    `market` mode sells at most `take_fraction` of the bid depth that lies within `max_slippage` of
    `anchor_mid` (the YES mid when the exit began, so our own selling cannot drag the floor down;
    the current mid when not given), as one FAK whose limit is the level where that much depth is
    reached: it fills best-first, never below the floor, never into an empty book, and never takes
    the whole depth; the caller repeats rounds as the book refills.
    `limit` mode rests one post-only order at the mid; `passive` sells nothing.
    """
    if mode == "passive":
        return ()
    best_bid = yes_bids[0].price if yes_bids else None
    best_ask = yes_asks[0].price if yes_asks else None
    mid = (best_bid + best_ask) / 2 if best_bid is not None and best_ask is not None else None
    anchor = anchor_mid if anchor_mid is not None else mid
    legs = (
        (market.yes_token, yes, yes_bids, yes_asks, mid, anchor),
        (
            market.no_token,
            no,
            _mirror(yes_asks),  # a YES ask at p is a NO bid at 1 - p
            _mirror(yes_bids),
            None if mid is None else ONE - mid,
            None if anchor is None else ONE - anchor,
        ),
    )
    orders: list[ExitOrder] = []
    for token, held, bids, asks, token_mid, token_anchor in legs:
        if held < market.min_order_size:
            continue
        if mode == "limit":
            order = _resting_exit(token, held, bids, asks, token_mid, market.tick_size)
        else:
            order = _market_exit(
                token, held, bids, token_anchor, market.min_order_size, take_fraction, max_slippage
            )
        if order is not None:
            orders.append(order)
    return tuple(orders)


def _mirror(levels: tuple[PriceLevel, ...]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(ONE - lv.price, lv.size) for lv in levels)


def _market_exit(
    token: str,
    held: Decimal,
    bids: tuple[PriceLevel, ...],
    anchor: Decimal | None,
    min_size: Decimal,
    take_fraction: Decimal,
    max_slippage: Decimal,
) -> ExitOrder | None:
    """One FAK SELL of at most `take_fraction` of the bid depth within `max_slippage` of the anchor
    (in this token's terms), limited at the level where that depth is reached; None into an empty
    book or when less than the market minimum could go."""
    if not bids:
        return None  # never dump into an empty book
    reference = anchor if anchor is not None else bids[0].price
    floor = reference - max_slippage
    usable = [lv for lv in bids if lv.price >= floor and lv.price > 0]
    target = min(held, sum((lv.size for lv in usable), ZERO) * take_fraction)
    if target < min_size:
        return None
    covered = ZERO
    for level in usable:  # the limit is the level where the cumulative depth covers the target
        covered += level.size
        if covered >= target:
            break
    take = _sell_size(target, level.price)
    if take < min_size:
        return None
    why = f"sell {take} down to {level.price}: at most {take_fraction:.0%} of the {covered} bid within"
    return ExitOrder(token, Side.SELL, level.price, take, "FAK", f"{why} {max_slippage} of the mid")
