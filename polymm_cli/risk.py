"""Risk: the last check between a reconcile plan and the venue.

Owns the rules a plan must pass before any order leaves the process. `vet` never adds an order and
never loosens anything; it only drops places (each with its reason) or, when trading is halted,
turns the plan into "cancel everything, place nothing". The rules, in the order a place meets them:

1. halted -> cancel every live order we know of (the plan's cancels and keeps), place nothing;
2. the token must be one of the market's two;
3. the price must be on the tick grid and within [tick, 1 - tick];
4. the size must be > 0, a multiple of 0.01, >= the market minimum and <= `max_order_size`, and the
   order's notional (price x size, pUSD) <= `max_order_notional` when that cap is set;
5. a SELL must be covered by free inventory: the sellable (settled) shares, or the whole position
   when `sellable_*` is not given, minus what kept SELLs already lock;
6. worst case: the place and every kept order on the same exposure side filling completely must
   not take net exposure e = YES - NO past +L or -L (BUY YES and SELL NO raise e; BUY NO and
   SELL YES lower it). A place that moves e back toward zero is allowed even when e is already
   beyond the limit, as long as its own worst case stays inside;
7. no self-cross: our bids (BUY YES at p, SELL NO at q = a bid at 1 - q) must stay below our asks
   (SELL YES at p, BUY NO at q = an ask at 1 - q), in YES terms, against the places already
   accepted and the kept orders the engine passes in `kept`;
8. at most `max_orders_per_market` orders resting (kept + placed).

Places are vetted in plan order and each accepted place counts for the next ones.

`Exposure` is what the engine knows after the plan's cancels: positions held (including tokens
locked by resting SELLs) and the shares resting in the orders being KEPT.

Must not: import anything but stdlib, decimal and `polymm_cli.model` (and the plan records of
`quoter`/`reconcile`); do I/O; read a clock; decide what to quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.model import ONE, ZERO, Market, OurOrder, Side, decimal_str
from polymm_cli.quoter import QuoteSide, TargetQuote
from polymm_cli.reconcile import ReconcilePlan

HALT_REASON = "trading halted: cancelling every order, placing none"

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Exposure:
    """Positions held and shares resting in the orders being kept, for one market."""

    yes_position: Decimal = ZERO
    no_position: Decimal = ZERO
    open_buy_yes: Decimal = ZERO
    open_buy_no: Decimal = ZERO
    open_sell_yes: Decimal = ZERO
    open_sell_no: Decimal = ZERO
    # Settled shares that may be sold (None = the whole position); resting SELLs lock part of them.
    sellable_yes: Decimal | None = None
    sellable_no: Decimal | None = None

    @property
    def net(self) -> Decimal:
        """Net exposure e = YES - NO (shares)."""
        return self.yes_position - self.no_position

    @property
    def worst_up(self) -> Decimal:
        """e if every kept order that raises it (BUY YES, SELL NO) filled completely."""
        return self.net + self.open_buy_yes + self.open_sell_no

    @property
    def worst_down(self) -> Decimal:
        """e if every kept order that lowers it (BUY NO, SELL YES) filled completely."""
        return self.net - self.open_buy_no - self.open_sell_yes


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Hard limits for one market."""

    position_limit: Decimal  # L, on |e|
    max_order_size: Decimal  # shares
    max_orders_per_market: int = 10
    halted: bool = False
    max_order_notional: Decimal | None = None  # pUSD per order (price x size); None = no cap

    def __post_init__(self) -> None:
        if self.position_limit <= ZERO:
            raise ValueError(f"position_limit must be > 0, got {self.position_limit}")
        if self.max_order_size <= ZERO:
            raise ValueError(f"max_order_size must be > 0, got {self.max_order_size}")
        if self.max_orders_per_market < 0:
            raise ValueError(f"max_orders_per_market must be >= 0, got {self.max_orders_per_market}")
        if self.max_order_notional is not None and self.max_order_notional <= ZERO:
            raise ValueError(f"max_order_notional must be > 0, got {self.max_order_notional}")


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """The plan that may go to the venue, the places dropped with their reasons, and a halt reason."""

    plan: ReconcilePlan
    dropped: tuple[tuple[TargetQuote, str], ...] = ()
    halt_reason: str | None = None


def vet(
    plan: ReconcilePlan,
    *,
    market: Market,
    exposure: Exposure,
    limits: RiskLimits,
    kept: Sequence[OurOrder] = (),
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


# -- portfolio caps: exposure across markets, and the worst case of a neg-risk event ----------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioCaps:
    """Limits over several markets at once (None = no cap)."""

    max_total_exposure: Decimal | None = None  # pUSD at risk on net positions, across all markets
    max_event_loss: Decimal | None = None  # pUSD lost in the worst outcome of a neg-risk event


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    """One market's position as the portfolio checks see it."""

    market: Market
    yes: Decimal
    no: Decimal
    cost: Decimal  # pUSD paid for what is held (cost basis of YES plus NO)
    mark: Decimal | None  # YES mid


def exposure_notional(h: Holding) -> Decimal:
    """pUSD at risk on the net position: long YES is worth the YES mark, long NO its complement."""
    mark = h.mark if h.mark is not None else Decimal("0.5")
    e = h.yes - h.no
    return e * mark if e > 0 else -e * (ONE - mark)


def event_worst_loss(holdings: Sequence[Holding]) -> Decimal:
    """The loss if the worst outcome of a neg-risk event wins (exactly one outcome wins; it may be
    one we hold nothing in): cost paid minus what the holdings pay out in that outcome."""
    cost = sum((h.cost for h in holdings), ZERO)
    all_no = sum((h.no for h in holdings), ZERO)
    payouts = [all_no]  # an outcome outside our holdings wins: every NO pays
    payouts += [all_no - h.no + h.yes for h in holdings]  # outcome h wins: its YES pays, its NO does not
    return cost - min(payouts)


def _after_fill(h: Holding, side: str, size: Decimal, yes_price: Decimal) -> Holding:
    if side == "bid":  # a bid fill raises e: more YES (bought at yes_price)
        return Holding(
            market=h.market, yes=h.yes + size, no=h.no, cost=h.cost + size * yes_price, mark=h.mark
        )
    return Holding(
        market=h.market, yes=h.yes, no=h.no + size, cost=h.cost + size * (ONE - yes_price), mark=h.mark
    )


def cap_blocks(
    target: Holding,
    others: Sequence[Holding],
    quotes: Sequence[TargetQuote],
    caps: PortfolioCaps,
) -> tuple[tuple[QuoteSide, str], ...]:
    """Sides of `target` whose full fill would break a portfolio cap, with the reason; a side that
    brings a figure down is never blocked."""
    blocked: list[tuple[QuoteSide, str]] = []
    event_peers = [
        o
        for o in others
        if target.market.neg_risk_market_id
        and o.market.neg_risk_market_id == target.market.neg_risk_market_id
    ]
    sides: tuple[QuoteSide, QuoteSide] = ("bid", "ask")
    for side in sides:
        size = sum((q.size for q in quotes if q.side == side), ZERO)
        if size <= 0:
            continue
        price = next(q.yes_price for q in quotes if q.side == side)
        after = _after_fill(target, side, size, price)
        if caps.max_total_exposure is not None:
            now_total = sum((exposure_notional(h) for h in (target, *others)), ZERO)
            new_total = now_total - exposure_notional(target) + exposure_notional(after)
            if new_total > caps.max_total_exposure and new_total > now_total:
                blocked.append(
                    (
                        side,
                        f"total exposure cap: a fill would take it to {new_total:.2f} > "
                        f"{caps.max_total_exposure}",
                    )
                )
                continue
        if caps.max_event_loss is not None and target.market.neg_risk_market_id:
            before_loss = event_worst_loss([target, *event_peers])
            after_loss = event_worst_loss([after, *event_peers])
            if after_loss > caps.max_event_loss and after_loss > before_loss:
                blocked.append(
                    (
                        side,
                        f"neg-risk event cap: worst outcome would lose {after_loss:.2f} > "
                        f"{caps.max_event_loss}",
                    )
                )
    return tuple(blocked)
