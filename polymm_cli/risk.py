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

Places are vetted in plan order and each accepted place counts for the next ones. Rules 2-8 are one
function each, listed in this order in `_PLACE_RULES`; a place is dropped with the first one it breaks.

`Exposure` is what the engine knows after the plan's cancels: positions held (including tokens
locked by resting SELLs) and the shares resting in the orders being KEPT.

Must not: import anything but stdlib, decimal and `polymm_cli.model` (and the plan records of
`quoter`/`reconcile`); do I/O; read a clock; decide what to quote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
        return _halt(plan)
    if not plan.places:
        return RiskVerdict(plan=plan)
    vetting = _Vetting.start(market, exposure, limits, plan, kept)
    accepted: list[TargetQuote] = []
    dropped: list[tuple[TargetQuote, str]] = []
    for order in plan.places:
        place = _Place(order, market.is_bid(order.token_id, order.order_side), order.order_side is _SELL)
        reason = _broken_rule(place, vetting)
        if reason is None:
            accepted.append(order)
            vetting.accept(place)
        else:
            dropped.append((order, reason))
    if not dropped:
        return RiskVerdict(plan=plan)
    return RiskVerdict(
        plan=ReconcilePlan(cancels=plan.cancels, places=tuple(accepted), keeps=plan.keeps),
        dropped=tuple(dropped),
    )


_SELL = Side.SELL  # read once: an enum member lookup is not free, and vet() is on the hot path


@dataclass(slots=True)
class _Place:
    """A place as the rules read it: the order, and what several rules ask of it, worked out once."""

    order: TargetQuote
    raises: bool  # a bid in YES terms (BUY YES, SELL NO): its fill raises e
    sells: bool


@dataclass(slots=True)
class _Vetting:
    """One `vet()` call: the market's figures and limits the rules read, and what the kept orders and
    the places accepted so far leave for the next place."""

    market: Market
    tokens: tuple[str, str]  # the market's YES and NO tokens
    tick: Decimal
    top: Decimal  # 1 - tick, the highest valid price
    limits: RiskLimits
    worst_up: Decimal  # e if every order that raises it filled (Exposure.worst_up, then accepted places)
    worst_down: Decimal  # e if every order that lowers it filled
    free_yes: Decimal  # sellable YES not locked by a resting SELL
    free_no: Decimal
    resting: int  # orders resting in this market: kept, then accepted
    top_bid: Decimal | None = None  # our best bid in YES terms (None = no bid resting)
    top_ask: Decimal | None = None  # our best ask in YES terms

    @classmethod
    def start(
        cls,
        market: Market,
        exposure: Exposure,
        limits: RiskLimits,
        plan: ReconcilePlan,
        kept: Sequence[OurOrder],
    ) -> _Vetting:
        """The state the first place meets: the exposure after the plan's cancels, the kept orders."""
        held_yes = exposure.yes_position if exposure.sellable_yes is None else exposure.sellable_yes
        held_no = exposure.no_position if exposure.sellable_no is None else exposure.sellable_no
        tick = market.tick_size
        vetting = cls(
            market,
            market.tokens,
            tick,
            ONE - tick,
            limits,
            worst_up=exposure.worst_up,
            worst_down=exposure.worst_down,
            free_yes=held_yes - exposure.open_sell_yes,
            free_no=held_no - exposure.open_sell_no,
            resting=len(plan.keeps),
        )
        for order in kept:
            if order.token_id in market.tokens:  # an order of another market never crosses ours
                is_bid = market.is_bid(order.token_id, order.side)
                vetting.rest_at(market.yes_price(order.token_id, order.price), is_bid)
        return vetting

    def rest_at(self, yes_price: Decimal, is_bid: bool) -> None:
        """Count an order resting at `yes_price` toward our best bid or ask."""
        if is_bid:
            self.top_bid = yes_price if self.top_bid is None or yes_price > self.top_bid else self.top_bid
        else:
            self.top_ask = yes_price if self.top_ask is None or yes_price < self.top_ask else self.top_ask

    def accept(self, place: _Place) -> None:
        """An accepted place counts for the places after it."""
        order, size = place.order, place.order.size
        self.resting += 1
        if place.raises:
            self.worst_up += size
        else:
            self.worst_down -= size
        self.rest_at(self.market.yes_price(order.token_id, order.price), place.raises)
        if place.sells:
            if order.token_id == self.market.yes_token:
                self.free_yes -= size
            else:
                self.free_no -= size


def _halt(plan: ReconcilePlan) -> RiskVerdict:
    """Rule 1: cancel every live order we know of (the plan's cancels and keeps), place nothing."""
    return RiskVerdict(
        plan=ReconcilePlan(cancels=plan.cancels + plan.keeps),
        dropped=tuple((p, "halted") for p in plan.places),
        halt_reason=HALT_REASON,
    )


def _broken_rule(place: _Place, vetting: _Vetting) -> str | None:
    """The reason of the first rule `place` breaks, in the module docstring's order, or None."""
    for rule in _PLACE_RULES:
        reason = rule(place, vetting)
        if reason is not None:
            return reason
    return None


def _foreign_token(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 2: the token must be one of the market's two."""
    if place.order.token_id in vetting.tokens:
        return None
    return f"token {place.order.token_id} is not one of this market's"


def _bad_price(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 3: on the tick grid and within [tick, 1 - tick]."""
    price, tick = place.order.price, vetting.tick
    if price < tick or price > vetting.top:
        return f"price {decimal_str(price)} outside [{tick}, {vetting.top}]"
    if price % tick:
        return f"price {decimal_str(price)} is off the {tick} tick grid"
    return None


def _bad_size(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 4: a positive multiple of 0.01, within [market minimum, max_order_size], and a notional
    within max_order_notional when that cap is set."""
    size, limits = place.order.size, vetting.limits
    if size <= ZERO or size % _CENT:
        return f"size {decimal_str(size)} is not a positive multiple of 0.01"
    min_size = vetting.market.min_order_size
    if size < min_size:
        return f"size {decimal_str(size)} below the market minimum {decimal_str(min_size)}"
    if size > limits.max_order_size:
        return f"size {decimal_str(size)} above max_order_size {decimal_str(limits.max_order_size)}"
    cap = limits.max_order_notional
    if cap is not None and place.order.price * size > cap:
        notional = decimal_str(place.order.price * size)
        return f"notional {notional} pUSD above max_order_notional {decimal_str(cap)}"
    return None


def _uncovered_sell(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 5: a SELL must be covered by the free inventory (sellable, minus what kept SELLs lock)."""
    if not place.sells:
        return None
    size, is_yes = place.order.size, place.order.token_id == vetting.market.yes_token
    free = vetting.free_yes if is_yes else vetting.free_no
    if size <= free:
        return None
    outcome = "YES" if is_yes else "NO"
    return f"SELL {decimal_str(size)} {outcome} exceeds the free inventory {decimal_str(free)}"


def _worst_case_breach(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 6: this place and every resting order on its exposure side filling must keep e within
    [-L, +L]; a place that moves e back toward zero is never held back by the other side."""
    limit = vetting.limits.position_limit
    if place.raises:
        worst = vetting.worst_up + place.order.size
        if worst > limit:
            return f"worst case e {decimal_str(worst)} would pass +L {decimal_str(limit)}"
    else:
        worst = vetting.worst_down - place.order.size
        if worst < -limit:
            return f"worst case e {decimal_str(worst)} would pass -L {decimal_str(limit)}"
    return None


def _self_cross(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 7: our bids stay below our asks, in YES terms."""
    yes_price = vetting.market.yes_price(place.order.token_id, place.order.price)
    if place.raises:
        top_ask = vetting.top_ask
        if top_ask is not None and yes_price >= top_ask:
            return f"self-cross: bid {decimal_str(yes_price)} >= our ask {decimal_str(top_ask)} (YES terms)"
    elif (top_bid := vetting.top_bid) is not None and yes_price <= top_bid:
        return f"self-cross: ask {decimal_str(yes_price)} <= our bid {decimal_str(top_bid)} (YES terms)"
    return None


def _too_many_orders(place: _Place, vetting: _Vetting) -> str | None:
    """Rule 8: at most max_orders_per_market resting, kept and placed."""
    if vetting.resting < vetting.limits.max_orders_per_market:
        return None
    return f"would exceed max_orders_per_market {vetting.limits.max_orders_per_market}"


# Rules 2-8 of the module docstring, in its order: each returns why `place` breaks it, or None.
_PLACE_RULES: tuple[Callable[[_Place, _Vetting], str | None], ...] = (
    _foreign_token,
    _bad_price,
    _bad_size,
    _uncovered_sell,
    _worst_case_breach,
    _self_cross,
    _too_many_orders,
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
    """pUSD at risk on the holding's net position (`net_exposure_notional`)."""
    return net_exposure_notional(h.yes, h.no, h.mark)


def net_exposure_notional(yes: Decimal, no: Decimal, mark: Decimal | None) -> Decimal:
    """pUSD at risk on the net position e = YES - NO: long YES is worth the YES mark, long NO its
    complement (no mark: 0.5). What the total exposure cap and the exposure gauge measure."""
    price = mark if mark is not None else Decimal("0.5")
    e = yes - no
    return e * price if e > 0 else -e * (ONE - price)


def event_worst_loss(holdings: Sequence[Holding]) -> Decimal:
    """The loss if the worst outcome of a neg-risk event wins (exactly one outcome wins; it may be
    one we hold nothing in): cost paid minus what the holdings pay out in that outcome."""
    cost = sum((h.cost for h in holdings), ZERO)
    all_no = sum((h.no for h in holdings), ZERO)
    payouts = [all_no]  # an outcome outside our holdings wins: every NO pays
    payouts += [all_no - h.no + h.yes for h in holdings]  # outcome h wins: its YES pays, its NO does not
    return cost - min(payouts)


def _after_fill(h: Holding, side: str, quotes: Sequence[TargetQuote]) -> Holding:
    """The holding once every quote of `side` filled, each at its own price (an order being cancelled
    beside a new one may be the more aggressive of the two)."""
    size = sum((q.size for q in quotes), ZERO)
    if side == "bid":  # a bid fill raises e: more YES (bought at each quote's yes_price)
        cost = sum((q.size * q.yes_price for q in quotes), ZERO)
        return Holding(market=h.market, yes=h.yes + size, no=h.no, cost=h.cost + cost, mark=h.mark)
    cost = sum((q.size * (ONE - q.yes_price) for q in quotes), ZERO)
    return Holding(market=h.market, yes=h.yes, no=h.no + size, cost=h.cost + cost, mark=h.mark)


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
        on_side = [q for q in quotes if q.side == side]
        if sum((q.size for q in on_side), ZERO) <= 0:
            continue
        after = _after_fill(target, side, on_side)
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
