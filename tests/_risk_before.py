"""A frozen copy of `risk.vet` as it was before the one-function-per-rule rewrite, for the
equivalence test.

Test-only and temporary: it is deleted once the rewrite is proven identical. The records are the
production ones, so verdicts compare with `==`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from polymm_cli.model import ONE, ZERO, Market, Side, decimal_str
from polymm_cli.quoter import TargetQuote
from polymm_cli.reconcile import LiveOrder, ReconcilePlan
from polymm_cli.risk import HALT_REASON, Exposure, RiskLimits, RiskVerdict

_CENT = Decimal("0.01")


def vet(
    plan: ReconcilePlan,
    *,
    market: Market,
    exposure: Exposure,
    limits: RiskLimits,
    kept: Sequence[LiveOrder] = (),
) -> RiskVerdict:
    """Drop every place that breaks a rule (with the reason), or halt; see the module docstring.

    `kept` optionally lists the live orders the plan keeps, so a place is also checked for a
    self-cross against them (their sizes are already in `exposure`).
    """
    if limits.halted:
        return RiskVerdict(
            plan=ReconcilePlan(cancels=plan.cancels + plan.keeps),
            dropped=tuple((p, "halted") for p in plan.places),
            halt_reason=HALT_REASON,
        )
    if not plan.places:
        return RiskVerdict(plan=plan)

    tick = market.tick_size
    lo = tick
    hi = ONE - tick
    min_size = market.min_order_size
    limit = limits.position_limit
    max_size = limits.max_order_size
    yes, no = market.yes_token, market.no_token

    worst_up = exposure.worst_up
    worst_down = exposure.worst_down
    held_yes = exposure.yes_position if exposure.sellable_yes is None else exposure.sellable_yes
    held_no = exposure.no_position if exposure.sellable_no is None else exposure.sellable_no
    free_yes = held_yes - exposure.open_sell_yes
    free_no = held_no - exposure.open_sell_no
    resting = len(plan.keeps)

    # Our best bid / ask in YES terms among the kept orders, then the accepted places.
    top_bid: Decimal | None = None
    top_ask: Decimal | None = None
    for order in kept:
        if order.token_id != yes and order.token_id != no:
            continue
        yp = market.yes_price(order.token_id, order.price)
        if market.is_bid(order.token_id, order.side):
            top_bid = yp if top_bid is None or yp > top_bid else top_bid
        else:
            top_ask = yp if top_ask is None or yp < top_ask else top_ask

    accepted: list[TargetQuote] = []
    dropped: list[tuple[TargetQuote, str]] = []
    for place in plan.places:
        token, side, price, size = place.token_id, place.order_side, place.price, place.size
        if token != yes and token != no:
            dropped.append((place, f"token {token} is not one of this market's"))
            continue
        if price < lo or price > hi:
            dropped.append((place, f"price {decimal_str(price)} outside [{lo}, {hi}]"))
            continue
        if price % tick:
            dropped.append((place, f"price {decimal_str(price)} is off the {tick} tick grid"))
            continue
        if size <= ZERO or size % _CENT:
            dropped.append((place, f"size {decimal_str(size)} is not a positive multiple of 0.01"))
            continue
        if size < min_size:
            dropped.append(
                (place, f"size {decimal_str(size)} below the market minimum {decimal_str(min_size)}")
            )
            continue
        if size > max_size:
            dropped.append((place, f"size {decimal_str(size)} above max_order_size {decimal_str(max_size)}"))
            continue
        cap = limits.max_order_notional
        if cap is not None and price * size > cap:
            dropped.append(
                (
                    place,
                    f"notional {decimal_str(price * size)} pUSD above max_order_notional {decimal_str(cap)}",
                )
            )
            continue
        if side is Side.SELL:
            free = free_yes if token == yes else free_no
            if size > free:
                outcome = "YES" if token == yes else "NO"
                dropped.append(
                    (
                        place,
                        f"SELL {decimal_str(size)} {outcome} exceeds the free inventory {decimal_str(free)}",
                    )
                )
                continue
        raises = market.is_bid(token, side)
        if raises:
            if worst_up + size > limit:
                dropped.append(
                    (
                        place,
                        f"worst case e {decimal_str(worst_up + size)} would pass +L {decimal_str(limit)}",
                    )
                )
                continue
        elif worst_down - size < -limit:
            dropped.append(
                (
                    place,
                    f"worst case e {decimal_str(worst_down - size)} would pass -L {decimal_str(limit)}",
                )
            )
            continue
        yp = market.yes_price(token, price)
        if raises:
            if top_ask is not None and yp >= top_ask:
                dropped.append(
                    (
                        place,
                        f"self-cross: bid {decimal_str(yp)} >= our ask {decimal_str(top_ask)} (YES terms)",
                    )
                )
                continue
        elif top_bid is not None and yp <= top_bid:
            dropped.append(
                (place, f"self-cross: ask {decimal_str(yp)} <= our bid {decimal_str(top_bid)} (YES terms)")
            )
            continue
        if resting >= limits.max_orders_per_market:
            dropped.append((place, f"would exceed max_orders_per_market {limits.max_orders_per_market}"))
            continue

        # Accepted: it counts for the places after it.
        accepted.append(place)
        resting += 1
        if raises:
            worst_up += size
            top_bid = yp if top_bid is None or yp > top_bid else top_bid
        else:
            worst_down -= size
            top_ask = yp if top_ask is None or yp < top_ask else top_ask
        if side is Side.SELL:
            if token == yes:
                free_yes -= size
            else:
                free_no -= size

    if not dropped:
        return RiskVerdict(plan=plan)
    return RiskVerdict(
        plan=ReconcilePlan(cancels=plan.cancels, places=tuple(accepted), keeps=plan.keeps),
        dropped=tuple(dropped),
    )
