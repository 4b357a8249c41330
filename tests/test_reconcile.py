"""Behaviour of reconciliation: the smallest cancel/place plan from live orders to target quotes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polymm_cli.model import OurOrder, Side
from polymm_cli.quoter import QuoteSide, TargetQuote
from polymm_cli.reconcile import (
    ReconcilePlan,
    Tolerance,
    empty_plan,
    reconcile,
    within_tolerance,
)

D = Decimal
TICK = D("0.01")


def target(
    price: str, size: str = "10", token: str = "YES", side: Side = Side.BUY, quote_side: QuoteSide = "bid"
) -> TargetQuote:
    return TargetQuote(quote_side, token, side, D(price), D(price), D(size), "test")


def live(
    order_id: str, price: str, remaining: str = "10", token: str = "YES", side: Side = Side.BUY
) -> OurOrder:
    return OurOrder(order_id, token, side, D(price), D(remaining))


BID = target("0.48")
ASK = target("0.48", token="NO", quote_side="ask")  # BUY NO at 0.48 = an ask at 0.52


def test_live_orders_identical_to_the_targets_give_an_empty_plan() -> None:
    orders = [live("b1", "0.48"), live("a1", "0.48", token="NO")]

    plan = reconcile([BID, ASK], orders, tick=TICK, tolerance=Tolerance())

    assert plan.is_empty
    assert plan.keeps == ("b1", "a1")
    assert plan.cancels == ()
    assert plan.places == ()


def test_a_price_move_beyond_tolerance_cancels_and_places() -> None:
    orders = [live("b1", "0.47"), live("a1", "0.48", token="NO")]

    plan = reconcile([BID, ASK], orders, tick=TICK, tolerance=Tolerance(price_ticks=0))

    assert plan.cancels == ("b1",)
    assert plan.places == (BID,)
    assert plan.keeps == ("a1",)


def test_a_price_move_within_tolerance_keeps_the_order() -> None:
    orders = [live("b1", "0.47"), live("a1", "0.50", token="NO")]

    plan = reconcile([BID, ASK], orders, tick=TICK, tolerance=Tolerance(price_ticks=1))

    assert plan.keeps == ("b1",)
    assert plan.cancels == ("a1",)  # two ticks away
    assert plan.places == (ASK,)


def test_duplicate_live_orders_are_cancelled_and_one_is_kept() -> None:
    orders = [live("b2", "0.48"), live("b1", "0.48"), live("b3", "0.48")]

    plan = reconcile([BID], orders, tick=TICK, tolerance=Tolerance())

    assert plan.keeps == ("b1",)  # ties go to the smallest order id, whatever the listing order
    assert plan.cancels == ("b2", "b3")
    assert plan.places == ()


def test_two_targets_on_one_side_keep_as_many_orders_as_possible() -> None:
    near, far = target("0.48"), target("0.49")
    orders = [live("x", "0.48"), live("y", "0.47")]  # x could serve either; y only the 0.48 target

    plan = reconcile([near, far], orders, tick=TICK, tolerance=Tolerance(price_ticks=1))

    assert plan.is_empty
    assert plan.keeps == ("y", "x")


def test_the_closest_of_several_candidates_is_kept() -> None:
    orders = [live("far", "0.46"), live("near", "0.47")]

    plan = reconcile([BID], orders, tick=TICK, tolerance=Tolerance(price_ticks=2))

    assert plan.keeps == ("near",)
    assert plan.cancels == ("far",)


def test_a_partial_fill_within_the_size_tolerance_keeps_its_queue_position() -> None:
    plan = reconcile([BID], [live("b1", "0.48", remaining="8.5")], tick=TICK, tolerance=Tolerance())

    assert plan.is_empty
    assert plan.keeps == ("b1",)


def test_a_partial_fill_beyond_the_size_tolerance_is_replaced() -> None:
    plan = reconcile([BID], [live("b1", "0.48", remaining="7")], tick=TICK, tolerance=Tolerance())

    assert plan.cancels == ("b1",)
    assert plan.places == (BID,)


def test_an_order_larger_than_its_target_is_replaced() -> None:
    # The target size is a cap (position-limit cut, inventory held): a bigger order could overshoot.
    plan = reconcile([BID], [live("b1", "0.48", remaining="11")], tick=TICK, tolerance=Tolerance())

    assert plan.cancels == ("b1",)
    assert plan.places == (BID,)


def test_an_order_on_the_wrong_token_or_side_is_replaced() -> None:
    orders = [live("x1", "0.48", token="NO"), live("x2", "0.48", side=Side.SELL)]

    plan = reconcile([BID], orders, tick=TICK, tolerance=Tolerance(price_ticks=5))

    assert plan.cancels == ("x1", "x2")
    assert plan.places == (BID,)


def test_no_targets_cancels_everything_and_no_live_orders_places_everything() -> None:
    orders = [live("b1", "0.48"), live("a1", "0.48", token="NO")]

    nothing_wanted = reconcile([], orders, tick=TICK, tolerance=Tolerance())
    nothing_live = reconcile([BID, ASK], [], tick=TICK, tolerance=Tolerance())

    assert nothing_wanted == ReconcilePlan(cancels=("a1", "b1"))
    assert nothing_live == ReconcilePlan(places=(BID, ASK))


def test_a_live_order_listed_twice_is_cancelled_once() -> None:
    orders = [live("b1", "0.40"), live("b1", "0.40")]

    plan = reconcile([BID], orders, tick=TICK, tolerance=Tolerance())

    assert plan.cancels == ("b1",)


def test_the_plan_does_not_depend_on_the_listing_order() -> None:
    orders = [
        live("b1", "0.48"),
        live("b2", "0.48", remaining="9"),
        live("a1", "0.48", token="NO"),
        live("z9", "0.30"),
    ]
    tol = Tolerance(price_ticks=1)

    plans = {reconcile([BID, ASK], list(p), tick=TICK, tolerance=tol) for p in itertools.permutations(orders)}

    assert plans == {ReconcilePlan(cancels=("b2", "z9"), places=(), keeps=("b1", "a1"))}


def test_empty_plan_is_empty_and_keeps_alone_change_nothing() -> None:
    assert empty_plan().is_empty
    assert ReconcilePlan(keeps=("b1",)).is_empty
    assert not ReconcilePlan(cancels=("b1",)).is_empty
    assert not ReconcilePlan(places=(BID,)).is_empty


# -- property: applying the plan leaves exactly one order per target within tolerance ------------

_TOKENS = ("YES", "NO")
_SIDES = (Side.BUY, Side.SELL)


@st.composite
def books_of_orders(draw: st.DrawFn) -> tuple[list[TargetQuote], list[OurOrder], Tolerance]:
    price = st.integers(45, 55).map(lambda i: D(i) / 100)
    size = st.integers(1, 20).map(D)
    n_targets = draw(st.integers(0, 4))
    targets = [
        TargetQuote(
            "bid",
            draw(st.sampled_from(_TOKENS)),
            draw(st.sampled_from(_SIDES)),
            draw(price),
            D("0.5"),
            draw(size),
        )
        for _ in range(n_targets)
    ]
    orders: list[OurOrder] = []
    for i in range(draw(st.integers(0, 6))):
        near = draw(st.booleans())
        if targets and near:  # near a target, so keeps happen
            t = draw(st.sampled_from(targets))
            orders.append(
                OurOrder(
                    f"o{i}",
                    t.token_id,
                    t.order_side,
                    t.price + draw(st.integers(-2, 2)) * TICK,
                    t.size * draw(st.sampled_from([D("0.7"), D("0.85"), D("1"), D("1.1")])),
                )
            )
        else:
            orders.append(
                OurOrder(
                    f"o{i}",
                    draw(st.sampled_from(_TOKENS)),
                    draw(st.sampled_from(_SIDES)),
                    draw(price),
                    draw(size),
                )
            )
    tol = Tolerance(
        price_ticks=draw(st.integers(0, 2)), size_fraction=draw(st.sampled_from([D(0), D("0.2"), D("0.5")]))
    )
    return targets, orders, tol


def _perfect_matching(
    targets: Sequence[TargetQuote], kept: Sequence[OurOrder], places: Sequence[TargetQuote], tol: Tolerance
) -> bool:
    """Whether the resting orders (kept + placed) can be paired one-to-one with the targets."""
    resting: list[OurOrder | TargetQuote] = [*kept, *places]
    if len(resting) != len(targets):
        return False

    def serves(order: OurOrder | TargetQuote, t: TargetQuote) -> bool:
        if isinstance(order, TargetQuote):
            return order is t
        return within_tolerance(order, t, tick=TICK, tolerance=tol)

    return any(
        all(serves(order, t) for order, t in zip(perm, targets, strict=True))
        for perm in itertools.permutations(resting)
    )


def _most_keeps(targets: Sequence[TargetQuote], orders: Sequence[OurOrder], tol: Tolerance) -> int:
    """Brute force: the largest number of targets that can each keep a distinct live order."""

    def best(ti: int, used: frozenset[str]) -> int:
        if ti == len(targets):
            return 0
        top = best(ti + 1, used)
        for o in orders:
            if o.order_id not in used and within_tolerance(o, targets[ti], tick=TICK, tolerance=tol):
                top = max(top, 1 + best(ti + 1, used | {o.order_id}))
        return top

    return best(0, frozenset())


@settings(max_examples=300, deadline=None)
@given(books_of_orders())
def test_applying_the_plan_leaves_exactly_one_order_per_target(
    case: tuple[list[TargetQuote], list[OurOrder], Tolerance],
) -> None:
    targets, orders, tol = case

    plan = reconcile(targets, orders, tick=TICK, tolerance=tol)

    live_ids = {o.order_id for o in orders}
    assert set(plan.cancels) | set(plan.keeps) == live_ids  # nothing is left unaccounted for
    assert not set(plan.cancels) & set(plan.keeps)
    assert len(set(plan.cancels)) == len(plan.cancels)
    assert len(set(plan.keeps)) == len(plan.keeps)
    assert all(any(p is t for t in targets) for p in plan.places)
    assert len(plan.keeps) + len(plan.places) == len(targets)
    kept = [o for o in orders if o.order_id in set(plan.keeps)]
    assert _perfect_matching(targets, kept, plan.places, tol)
    assert len(plan.keeps) == _most_keeps(targets, orders, tol)  # the smallest plan
    assert plan == reconcile(targets, list(reversed(orders)), tick=TICK, tolerance=tol)
