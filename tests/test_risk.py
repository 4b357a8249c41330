"""Behaviour of the risk check: every rule a plan must pass before it reaches the venue."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm_cli.exchange.markets import make_market
from polymm_cli.model import TICK_SIZES, Market, OurOrder, Side
from polymm_cli.quoter import TargetQuote
from polymm_cli.reconcile import ReconcilePlan
from polymm_cli.risk import (
    HALT_REASON,
    Exposure,
    Holding,
    PortfolioCaps,
    RiskLimits,
    cap_blocks,
    event_worst_loss,
    exposure_notional,
    vet,
)

D = Decimal

MARKET = Market(
    condition_id="0xcond",
    question="Will it rain?",
    slug="rain",
    yes_token="YES",
    no_token="NO",
    tick_size=D("0.01"),
    min_order_size=D("5"),
)
LIMITS = RiskLimits(position_limit=D("10"), max_order_size=D("10"))


def buy_yes(price: str = "0.48", size: str = "5") -> TargetQuote:
    return TargetQuote("bid", "YES", Side.BUY, D(price), D(price), D(size))


def sell_no(price: str = "0.52", size: str = "5") -> TargetQuote:  # a bid at 1 - price
    return TargetQuote("bid", "NO", Side.SELL, D(price), 1 - D(price), D(size))


def buy_no(price: str = "0.48", size: str = "5") -> TargetQuote:  # an ask at 1 - price
    return TargetQuote("ask", "NO", Side.BUY, D(price), 1 - D(price), D(size))


def sell_yes(price: str = "0.52", size: str = "5") -> TargetQuote:
    return TargetQuote("ask", "YES", Side.SELL, D(price), D(price), D(size))


def plan(*places: TargetQuote, cancels: tuple[str, ...] = (), keeps: tuple[str, ...] = ()) -> ReconcilePlan:
    return ReconcilePlan(cancels=cancels, places=places, keeps=keeps)


def reasons(verdict_dropped: tuple[tuple[TargetQuote, str], ...]) -> list[str]:
    return [reason for _place, reason in verdict_dropped]


def test_a_clean_plan_passes_unchanged() -> None:
    p = plan(buy_yes(), buy_no(), cancels=("old",))

    verdict = vet(p, market=MARKET, exposure=Exposure(), limits=LIMITS)

    assert verdict.plan is p
    assert verdict.dropped == ()
    assert verdict.halt_reason is None
    assert verdict.halt_reason is None


def test_halted_cancels_everything_and_places_nothing() -> None:
    p = plan(buy_yes(), cancels=("c1",), keeps=("k1", "k2"))
    halted = RiskLimits(position_limit=D("10"), max_order_size=D("10"), halted=True)

    verdict = vet(p, market=MARKET, exposure=Exposure(), limits=halted)

    assert verdict.plan == ReconcilePlan(cancels=("c1", "k1", "k2"))
    assert verdict.halt_reason == HALT_REASON
    assert verdict.halt_reason is not None
    assert reasons(verdict.dropped) == ["halted"]


@pytest.mark.parametrize(
    ("place", "exposure", "why"),
    [
        (buy_yes(size="6"), Exposure(yes_position=D("5")), "would pass +L 10"),
        (buy_yes(size="5"), Exposure(yes_position=D("3"), open_buy_yes=D("3")), "worst case e 11"),
        (sell_no(size="5"), Exposure(yes_position=D("2"), no_position=D("5"), open_buy_yes=D("9")), "e 11"),
        (buy_no(size="6"), Exposure(no_position=D("5")), "would pass -L 10"),
        (sell_yes(size="5"), Exposure(yes_position=D("5"), open_buy_no=D("11")), "e -11"),
    ],
    ids=["buy-yes", "buy-yes-with-kept", "sell-no-with-kept", "buy-no", "sell-yes-with-kept"],
)
def test_a_place_whose_worst_case_passes_the_limit_is_dropped(
    place: TargetQuote, exposure: Exposure, why: str
) -> None:
    verdict = vet(plan(place), market=MARKET, exposure=exposure, limits=LIMITS)

    assert verdict.plan.places == ()
    assert why in reasons(verdict.dropped)[0]


def test_a_place_up_to_the_limit_exactly_is_allowed() -> None:
    verdict = vet(
        plan(buy_yes(size="5")), market=MARKET, exposure=Exposure(yes_position=D("5")), limits=LIMITS
    )

    assert verdict.dropped == ()


def test_beyond_the_limit_a_reducing_place_is_still_allowed() -> None:
    exposure = Exposure(yes_position=D("15"))

    verdict = vet(plan(sell_yes(), buy_yes()), market=MARKET, exposure=exposure, limits=LIMITS)

    assert verdict.plan.places == (sell_yes(),)
    assert reasons(verdict.dropped) == ["worst case e 20 would pass +L 10"]


def test_accepted_places_count_toward_the_next_ones() -> None:
    verdict = vet(
        plan(buy_yes("0.48", "6"), buy_yes("0.47", "6")), market=MARKET, exposure=Exposure(), limits=LIMITS
    )

    assert verdict.plan.places == (buy_yes("0.48", "6"),)
    assert len(verdict.dropped) == 1


@pytest.mark.parametrize(
    ("place", "why"),
    [
        (buy_yes(price="0"), "outside [0.01, 0.99]"),
        (buy_yes(price="1"), "outside [0.01, 0.99]"),
        (buy_yes(price="0.995"), "outside [0.01, 0.99]"),
        (buy_yes(price="0.483"), "off the 0.01 tick grid"),
        (buy_yes(size="4.99"), "below the market minimum 5"),
        (buy_yes(size="10.01"), "above max_order_size 10"),
        (buy_yes(size="5.005"), "not a positive multiple of 0.01"),
        (buy_yes(size="0"), "not a positive multiple of 0.01"),
        (TargetQuote("bid", "OTHER", Side.BUY, D("0.48"), D("0.48"), D("5")), "not one of this market's"),
    ],
    ids=["zero", "one", "above-max", "off-grid", "small", "big", "fractional", "empty", "foreign-token"],
)
def test_an_invalid_order_is_dropped(place: TargetQuote, why: str) -> None:
    verdict = vet(plan(place), market=MARKET, exposure=Exposure(), limits=LIMITS)

    assert verdict.plan.places == ()
    assert why in reasons(verdict.dropped)[0]


def test_a_sell_beyond_the_free_inventory_is_dropped() -> None:
    exposure = Exposure(yes_position=D("8"), open_sell_yes=D("5"))  # 3 free

    verdict = vet(plan(sell_yes(size="5")), market=MARKET, exposure=exposure, limits=LIMITS)

    assert verdict.plan.places == ()
    assert "exceeds the free inventory 3" in reasons(verdict.dropped)[0]


def test_a_sell_of_unsettled_shares_is_dropped() -> None:
    exposure = Exposure(yes_position=D("10"), sellable_yes=D("4"))

    verdict = vet(plan(sell_yes(size="5")), market=MARKET, exposure=exposure, limits=LIMITS)

    assert verdict.plan.places == ()
    assert "exceeds the free inventory 4" in reasons(verdict.dropped)[0]


def test_places_that_would_cross_each_other_are_dropped() -> None:
    bid = buy_yes("0.52")
    ask = buy_no("0.49")  # an ask at 0.51: below our own bid

    verdict = vet(plan(bid, ask), market=MARKET, exposure=Exposure(), limits=LIMITS)

    assert verdict.plan.places == (bid,)
    assert "self-cross" in reasons(verdict.dropped)[0]


def test_a_place_touching_a_kept_order_is_dropped() -> None:
    kept = [OurOrder("k1", "YES", Side.SELL, D("0.50"), D("5"))]
    exposure = Exposure(yes_position=D("5"), open_sell_yes=D("5"))

    verdict = vet(
        plan(sell_no("0.50"), keeps=("k1",)),  # a bid at 0.50 against our kept ask at 0.50
        market=MARKET,
        exposure=Exposure(yes_position=D("5"), no_position=D("5"), open_sell_yes=D("5")),
        limits=LIMITS,
        kept=kept,
    )
    clear = vet(
        plan(buy_yes("0.49"), keeps=("k1",)), market=MARKET, exposure=exposure, limits=LIMITS, kept=kept
    )

    assert verdict.plan.places == ()
    assert "self-cross: bid 0.5 >= our ask 0.5" in reasons(verdict.dropped)[0]
    assert clear.dropped == ()


def test_orders_per_market_are_capped_kept_ones_included() -> None:
    limits = RiskLimits(position_limit=D("100"), max_order_size=D("10"), max_orders_per_market=3)
    keeps = ("k1", "k2")

    verdict = vet(
        plan(buy_yes("0.48"), buy_no("0.48"), keeps=keeps), market=MARKET, exposure=Exposure(), limits=limits
    )

    assert verdict.plan.places == (buy_yes("0.48"),)
    assert verdict.plan.keeps == keeps
    assert "max_orders_per_market 3" in reasons(verdict.dropped)[0]


def test_exposure_sides_follow_token_and_direction() -> None:
    e = Exposure(
        yes_position=D("4"),
        no_position=D("1"),
        open_buy_yes=D("2"),
        open_buy_no=D("3"),
        open_sell_yes=D("1"),
        open_sell_no=D("1"),
    )

    assert e.net == D("3")
    assert e.worst_up == D("6")  # + BUY YES 2 + SELL NO 1
    assert e.worst_down == D("-1")  # - BUY NO 3 - SELL YES 1


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        RiskLimits(position_limit=D("0"), max_order_size=D("10"))
    with pytest.raises(ValueError):
        RiskLimits(position_limit=D("10"), max_order_size=D("10"), max_orders_per_market=-1)


@pytest.mark.parametrize(
    ("place", "exposure", "first"),
    [
        (TargetQuote("ask", "MAYBE", Side.SELL, D("2"), D("2"), D("0")), Exposure(), "token MAYBE"),
        (sell_yes(price="0.505", size="0"), Exposure(), "price 0.505 is off"),
        (sell_yes(size="11"), Exposure(yes_position=D("1")), "size 11 above max_order_size"),
        (sell_yes(size="6"), Exposure(yes_position=D("1"), open_buy_no=D("9")), "SELL 6 YES exceeds"),
        (buy_yes("0.60", "6"), Exposure(yes_position=D("5")), "worst case e 11"),
    ],
    ids=["token", "price", "size", "inventory", "worst-case"],
)
def test_a_place_breaking_several_rules_is_dropped_for_the_first_in_order(
    place: TargetQuote, exposure: Exposure, first: str
) -> None:
    # Rule 8 too for all of them: the kept ask fills the one order allowed (and a bid >= 0.55 crosses it).
    kept = [OurOrder("k1", "YES", Side.SELL, D("0.55"), D("5"))]
    limits = RiskLimits(position_limit=D("10"), max_order_size=D("10"), max_orders_per_market=1)

    verdict = vet(plan(place, keeps=("k1",)), market=MARKET, exposure=exposure, limits=limits, kept=kept)

    assert reasons(verdict.dropped)[0].startswith(first)


# -- invariants for any plan -----------------------------------------------------------------------

_TOKENS = st.sampled_from(["YES", "NO", "YES", "NO", "MAYBE"])  # MAYBE: another market's token
_SIDES = st.sampled_from([Side.BUY, Side.SELL])
_cents = st.integers(0, 3000).map(lambda i: D(i) / 100)


def _prices(tick: Decimal) -> st.SearchStrategy[Decimal]:
    on_grid = st.integers(1, int(1 / tick) - 1).map(lambda i: i * tick)
    odd = st.sampled_from([D("0"), D("1"), D("-0.01"), D("1.01"), tick / 2, D("0.5000")])
    return on_grid | on_grid | odd | st.integers(1, 9999).map(lambda i: D(i) / 10000)


_sizes = _cents | _cents | st.sampled_from([D("0"), D("-1"), D("5.001"), D("5.00"), D("10.0")])


@st.composite
def vet_scenarios(
    draw: st.DrawFn,
) -> tuple[ReconcilePlan, Market, Exposure, RiskLimits, tuple[OurOrder, ...]]:
    tick = draw(st.sampled_from(TICK_SIZES))
    mkt = replace(MARKET, tick_size=tick, min_order_size=draw(st.sampled_from([D("0"), D("1"), D("5")])))
    prices = _prices(tick)
    places = draw(
        st.lists(
            st.builds(TargetQuote, st.sampled_from(["bid", "ask"]), _TOKENS, _SIDES, prices, prices, _sizes),
            max_size=7,
        )
    )
    kept = draw(st.lists(st.builds(OurOrder, st.just("k"), _TOKENS, _SIDES, prices, _sizes), max_size=4))
    yes, no = draw(_cents), draw(_cents)
    exposure = Exposure(
        yes_position=yes,
        no_position=no,
        open_buy_yes=draw(_cents),
        open_buy_no=draw(_cents),
        open_sell_yes=draw(_cents),
        open_sell_no=draw(_cents),
        sellable_yes=draw(st.none() | st.integers(0, int(yes * 100)).map(lambda i: D(i) / 100)),
        sellable_no=draw(st.none() | st.integers(0, int(no * 100)).map(lambda i: D(i) / 100)),
    )
    limits = RiskLimits(
        position_limit=draw(st.integers(1, 20_000).map(lambda i: D(i) / 100)),
        max_order_size=draw(st.integers(1, 3000).map(lambda i: D(i) / 100)),
        max_orders_per_market=draw(st.integers(0, 10)),
        halted=draw(st.integers(0, 9)) == 0,
        max_order_notional=draw(st.none() | st.integers(1, 2000).map(lambda i: D(i) / 100)),
    )
    ids = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=4, unique=True).map(tuple)
    return (
        ReconcilePlan(cancels=draw(ids), places=tuple(places), keeps=draw(ids)),
        mkt,
        exposure,
        limits,
        tuple(kept),
    )


@settings(max_examples=200, deadline=None)
@given(vet_scenarios())
def test_every_accepted_place_keeps_every_rule_even_if_all_of_them_fill(
    scenario: tuple[ReconcilePlan, Market, Exposure, RiskLimits, tuple[OurOrder, ...]],
) -> None:
    p, mkt, exposure, limits, kept = scenario

    verdict = vet(p, market=mkt, exposure=exposure, limits=limits, kept=kept)

    accepted = list(verdict.plan.places)
    if limits.halted:
        assert verdict.plan == ReconcilePlan(cancels=p.cancels + p.keeps)
        assert verdict.dropped == tuple((place, "halted") for place in p.places)
        return
    assert (verdict.plan.cancels, verdict.plan.keeps, verdict.halt_reason) == (p.cancels, p.keeps, None)
    assert sorted(map(id, accepted + [place for place, _ in verdict.dropped])) == sorted(map(id, p.places))
    assert [place for place in p.places if any(place is a for a in accepted)] == accepted  # plan order
    if not verdict.dropped:
        assert verdict.plan is p
    tick = mkt.tick_size
    for q in accepted:  # rules 2-4, each place on its own
        assert q.token_id in mkt.tokens
        assert tick <= q.price <= 1 - tick and q.price % tick == 0
        assert (
            q.size > 0 and q.size % D("0.01") == 0 and mkt.min_order_size <= q.size <= limits.max_order_size
        )
        assert limits.max_order_notional is None or q.price * q.size <= limits.max_order_notional
    for token, held, locked in (
        ("YES", exposure.sellable_yes, exposure.open_sell_yes),
        ("NO", exposure.sellable_no, exposure.open_sell_no),
    ):  # rule 5: all accepted SELLs of a token together
        sold = sum((q.size for q in accepted if q.order_side is Side.SELL and q.token_id == token), D(0))
        if sold:
            position = exposure.yes_position if token == "YES" else exposure.no_position
            assert sold <= (position if held is None else held) - locked
    ups = [q.size for q in accepted if mkt.is_bid(q.token_id, q.order_side)]
    downs = [q.size for q in accepted if not mkt.is_bid(q.token_id, q.order_side)]
    assert not ups or exposure.worst_up + sum(ups, D(0)) <= limits.position_limit  # rule 6
    assert not downs or exposure.worst_down - sum(downs, D(0)) >= -limits.position_limit
    resting = [(o.token_id, o.side, o.price) for o in kept if o.token_id in mkt.tokens]
    resting += [(q.token_id, q.order_side, q.price) for q in accepted]
    for q in accepted:  # rule 7: each accepted place against every order on the other side
        yes_price = mkt.yes_price(q.token_id, q.price)
        for token, side, price in resting:
            if mkt.is_bid(token, side) != mkt.is_bid(q.token_id, q.order_side):
                other = mkt.yes_price(token, price)
                assert yes_price < other if mkt.is_bid(q.token_id, q.order_side) else yes_price > other
    assert not accepted or len(p.keeps) + len(accepted) <= limits.max_orders_per_market  # rule 8


# -- portfolio caps ------------------------------------------------------------------------------


def _holding(market: Market, yes: str = "0", no: str = "0", cost: str = "0", mark: str = "0.5") -> Holding:
    return Holding(market=market, yes=Decimal(yes), no=Decimal(no), cost=Decimal(cost), mark=Decimal(mark))


def _quotes(market: Market, size: str = "10", bid: str = "0.48", ask: str = "0.52") -> list[TargetQuote]:
    return [
        TargetQuote("bid", market.yes_token, Side.BUY, Decimal(bid), Decimal(bid), Decimal(size)),
        TargetQuote("ask", market.no_token, Side.BUY, 1 - Decimal(ask), Decimal(ask), Decimal(size)),
    ]


def test_exposure_is_the_value_at_risk_of_the_net_position() -> None:
    m = make_market("cap-a", "A?", tick="0.01")
    assert exposure_notional(_holding(m, yes="10", mark="0.6")) == Decimal("6.0")
    assert exposure_notional(_holding(m, no="10", mark="0.6")) == Decimal("4.0")
    assert exposure_notional(_holding(m, yes="10", no="10")) == 0


def test_the_total_exposure_cap_blocks_only_the_side_that_adds_exposure() -> None:
    a, b = make_market("cap-a", "A?", tick="0.01"), make_market("cap-b", "B?", tick="0.01")
    target = _holding(a, yes="30", cost="15")
    other = _holding(b, yes="50", cost="25")  # 25 + 15 = 40 pUSD at risk already
    blocks = cap_blocks(target, [other], _quotes(a), PortfolioCaps(max_total_exposure=Decimal(42)))
    assert [side for side, _ in blocks] == ["bid"]  # buying more YES adds; the ask reduces
    assert "total exposure cap" in blocks[0][1]


def test_a_neg_risk_event_counts_the_worst_outcome() -> None:
    event = "0x" + "ee" * 32
    x = make_market("event-x", "X wins?", tick="0.01", neg_risk=True, neg_risk_market_id=event)
    y = make_market("event-y", "Y wins?", tick="0.01", neg_risk=True, neg_risk_market_id=event)
    held_x = _holding(x, yes="100", cost="40")
    held_y = _holding(y, yes="100", cost="40")
    # X wins: 100 paid back; Y wins: 100; someone else wins: 0 -> the worst loses all 80 paid
    assert event_worst_loss([held_x, held_y]) == Decimal(80)
    blocks = cap_blocks(held_x, [held_y], _quotes(x), PortfolioCaps(max_event_loss=Decimal(82)))
    assert [side for side, _ in blocks] == ["bid"]
    assert "neg-risk event cap" in blocks[0][1]


def test_a_cap_prices_each_order_of_a_side_at_its_own_price() -> None:
    """A new bid at 0.30 beside an old one at 0.60 being cancelled: both filled cost 3 + 6 = 9, not
    20 x 0.30 = 6 (the first quote's price for the side's whole size understated the worst case)."""
    event = "0x" + "ef" * 32
    x = make_market("event-x2", "X wins?", tick="0.01", neg_risk=True, neg_risk_market_id=event)
    y = make_market("event-y2", "Y wins?", tick="0.01", neg_risk=True, neg_risk_market_id=event)
    held_x, held_y = _holding(x, yes="100", cost="40"), _holding(y, yes="100", cost="40")
    new_and_old = [*_quotes(x, bid="0.30")[:1], *_quotes(x, bid="0.60")[:1]]  # worst loss 80 -> 89
    blocks = cap_blocks(held_x, [held_y], new_and_old, PortfolioCaps(max_event_loss=Decimal(87)))
    assert [side for side, _ in blocks] == ["bid"]
    assert cap_blocks(held_x, [held_y], new_and_old, PortfolioCaps(max_event_loss=Decimal(89))) == ()


def test_no_cap_no_block() -> None:
    m = make_market("cap-free", "Free?", tick="0.01")
    assert cap_blocks(_holding(m, yes="1000"), [], _quotes(m), PortfolioCaps()) == ()


def test_an_order_above_the_notional_cap_is_dropped_with_its_reason() -> None:
    capped = RiskLimits(position_limit=D("100"), max_order_size=D("100"), max_order_notional=D("4"))

    verdict = vet(
        plan(buy_yes("0.48", "8"), buy_yes("0.47", "9")), market=MARKET, exposure=Exposure(), limits=capped
    )

    assert verdict.plan.places == (buy_yes("0.48", "8"),)  # 3.84 pUSD
    assert [why for _, why in verdict.dropped] == ["notional 4.23 pUSD above max_order_notional 4"]
