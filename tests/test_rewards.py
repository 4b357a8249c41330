"""Liquidity-reward scoring: the formulas of docs/protocol.md §11 and its worked example, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polymm_cli.model import ONE, ZERO, RewardParams
from polymm_cli.rewards import (
    RewardOrder,
    book_q_min,
    display,
    distance_cents,
    estimated_reward_rate,
    order_score,
    q_min,
    q_one,
    q_two,
    scoring_status,
)

D = Decimal
REWARDS = RewardParams(max_spread_cents=D("3.5"), min_size=D("20"), daily_rate=D("100"))


# -- the worked example of docs/protocol.md §11 ----------------------------------------------------------

# Midpoint 0.50, v = 3c. The docs label the 0.485 order a bid on m, but it is listed under Q_two,
# so it must be an ask on m (the reference's remark): it scores 1.5c from the mid.
WORKED_EXAMPLE = (
    RewardOrder("bid", "m", D("0.49"), D("100")),
    RewardOrder("bid", "m", D("0.48"), D("200")),
    RewardOrder("ask", "m'", D("0.51"), D("100")),
    RewardOrder("ask", "m", D("0.485"), D("100")),
    RewardOrder("bid", "m'", D("0.48"), D("100")),
    RewardOrder("ask", "m", D("0.505"), D("200")),
)


def test_the_documented_worked_example_scores_111_11_175_and_111_11() -> None:
    mid, v = D("0.50"), D("3")

    one = q_one(WORKED_EXAMPLE, mid, v)
    two = q_two(WORKED_EXAMPLE, mid, v)
    least = q_min(one, two, mid)

    assert display(one) == "111.11"
    assert display(two) == "175"
    assert f"{two.quantize(D('0.01'))}" == "175.00"
    assert display(least) == "111.11"
    assert least == one  # min(Q_one, Q_two) beats max(Q_one, Q_two) / 3 = 58.33


def test_each_worked_example_line_contributes_as_documented() -> None:
    mid, v = D("0.50"), D("3")
    contributions = [(display(q_one([o], mid, v)), display(q_two([o], mid, v))) for o in WORKED_EXAMPLE]

    assert contributions == [
        ("44.44", "0"),
        ("22.22", "0"),
        ("44.44", "0"),  # an ask on m' at 0.51 is 1c from m''s mid 0.50
        ("0", "25"),
        ("0", "11.11"),
        ("0", "138.89"),
    ]


# -- the order score ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("v", "s", "b", "want"),
    [
        ("3", "1", "1", D(4) / D(9)),
        ("3", "0", "1", ONE),
        ("3", "3", "1", ZERO),  # at the max spread: nothing
        ("3", "4", "1", ZERO),
        ("0", "0", "1", ZERO),  # a market without a max spread scores nothing
        ("-1", "0", "1", ZERO),
        ("3", "1.5", "2", D("0.5")),  # the multiplier scales the score
        ("3", "-1", "1", D(4) / D(9)),  # a distance is a magnitude
    ],
)
def test_order_score_is_the_squared_closeness_to_the_mid(v: str, s: str, b: str, want: Decimal) -> None:
    exact = D("1e-20")
    assert order_score(D(v), D(s), D(b)).quantize(exact) == want.quantize(exact)


def test_distance_is_in_cents_on_either_side_of_the_mid() -> None:
    assert distance_cents(D("0.485"), D("0.50")) == D("1.5")
    assert distance_cents(D("0.505"), D("0.50")) == D("0.5")


def test_orders_below_the_reward_min_size_score_nothing() -> None:
    orders = [RewardOrder("bid", "m", D("0.49"), D("19")), RewardOrder("bid", "m", D("0.49"), D("20"))]

    got = q_one(orders, D("0.50"), D("3"), min_size=D("20"))

    assert got == order_score(D("3"), D("1")) * D("20")


# -- two-sidedness ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mid", "want"),
    [
        ("0.50", D(30) / D(3)),  # one-sided inside the band still earns a third
        ("0.10", D(30) / D(3)),  # the band is inclusive
        ("0.90", D(30) / D(3)),
        ("0.09", ZERO),  # outside: both sides required
        ("0.95", ZERO),
    ],
)
def test_q_min_one_sided_earns_a_third_only_inside_010_090(mid: str, want: Decimal) -> None:
    assert q_min(D("30"), ZERO, D(mid)) == want


def test_q_min_two_sided_is_the_smaller_side_when_it_beats_a_third() -> None:
    assert q_min(D("30"), D("20"), D("0.50")) == D("20")
    assert q_min(D("30"), D("5"), D("0.50")) == D("10")
    assert q_min(D("30"), D("5"), D("0.05")) == D("5")
    assert q_min(D("30"), D("5"), D("0.50"), c=D("2")) == D("15")


# -- one of our orders ------------------------------------------------------------------------------


def test_an_order_inside_the_band_at_the_min_size_scores() -> None:
    ok, why = scoring_status(D("0.48"), D("20"), "bid", D("0.50"), REWARDS)

    assert ok
    assert why == "bid 0.48 is 2c from the mid 0.5 (max spread 3.5c), size 20 >= reward min 20"


@pytest.mark.parametrize(
    ("price", "size", "side", "rewards", "want"),
    [
        ("0.48", "19.99", "bid", REWARDS, "bid size 19.99 below the reward min size 20"),
        (
            "0.465",
            "50",
            "bid",
            REWARDS,
            "bid 0.465 is 3.5c from the mid 0.5: at or beyond the max spread 3.5c",
        ),
        ("0.54", "50", "ask", REWARDS, "ask 0.54 is 4c from the mid 0.5: at or beyond the max spread 3.5c"),
        ("0.49", "50", "bid", RewardParams(), "market pays no liquidity rewards"),
    ],
    ids=["too-small", "at-the-max-spread", "beyond-the-max-spread", "no-rewards"],
)
def test_an_order_that_does_not_score_says_why(
    price: str, size: str, side: str, rewards: RewardParams, want: str
) -> None:
    ok, why = scoring_status(D(price), D(size), side, D("0.50"), rewards)  # type: ignore[arg-type]

    assert not ok
    assert why == want


def test_a_no_order_is_scored_at_its_yes_price() -> None:
    # BUY NO at 0.48 is an ask at YES 0.52: 2c from the mid.
    ok, why = scoring_status(ONE - D("0.48"), D("25"), "ask", D("0.50"), REWARDS)

    assert ok
    assert why.startswith("ask 0.52 is 2c from the mid")


def test_outside_010_090_a_scoring_order_needs_the_other_side() -> None:
    ok, why = scoring_status(D("0.04"), D("25"), "bid", D("0.05"), REWARDS)

    assert ok
    assert "only if the other side is quoted too" in why


# -- the pool share ---------------------------------------------------------------------------------


def test_our_share_of_the_daily_pool_is_proportional_to_q_min() -> None:
    assert estimated_reward_rate(D("25"), D("75"), D("100")) == D("25")
    assert estimated_reward_rate(D("10"), ZERO, D("100")) == D("100")
    assert estimated_reward_rate(ZERO, D("75"), D("100")) == ZERO
    assert estimated_reward_rate(ZERO, ZERO, D("100")) == ZERO


# -- a whole book -------------------------------------------------------------------------------------


def test_book_q_min_scores_yes_bids_as_q_one_and_yes_asks_as_q_two() -> None:
    rewards = RewardParams(max_spread_cents=D("3"), min_size=D("20"), daily_rate=D("50"))
    bids = [(D("0.49"), D("100")), (D("0.48"), D("10")), (D("0.47"), D("300")), (D("0.40"), D("999"))]
    asks = [(D("0.51"), D("30"))]

    got = book_q_min(bids, asks, rewards, D("0.50"))

    # Q_one = 100 x (2/3)^2 = 44.44 (the 10-share level cannot hold a scoring order; 0.47 and 0.40
    # are at or beyond 3c); Q_two = 30 x (2/3)^2 = 13.33; Q_min = max(13.33, 44.44 / 3) = 14.81.
    assert display(got, 6) == display(D(100) * D(4) / D(9) / D(3), 6)
    assert display(got) == "14.81"


def test_book_q_min_of_a_market_without_rewards_is_zero() -> None:
    assert book_q_min([(D("0.49"), D("100"))], [(D("0.51"), D("100"))], RewardParams(), D("0.50")) == ZERO


def test_book_q_min_counts_each_order_once_whichever_token_it_rests_on() -> None:
    # A NO bid at 0.49 is shown in the YES book as an ask at 0.51: scored once, as the worked
    # example's per-token sum scores it.
    rewards = RewardParams(max_spread_cents=D("3"), min_size=ZERO, daily_rate=D("1"))
    per_token = [RewardOrder("bid", "m", D("0.49"), D("100")), RewardOrder("bid", "m'", D("0.49"), D("100"))]

    from_yes_book = book_q_min([(D("0.49"), D("100"))], [(D("0.51"), D("100"))], rewards, D("0.50"))

    mid, v = D("0.50"), D("3")
    assert from_yes_book == q_min(q_one(per_token, mid, v), q_two(per_token, mid, v), mid)


def test_our_share_from_our_quotes_against_the_book() -> None:
    rewards = RewardParams(max_spread_cents=D("3"), min_size=D("20"), daily_rate=D("90"))
    mid = D("0.50")
    ours = book_q_min([(D("0.49"), D("20"))], [(D("0.51"), D("20"))], rewards, mid)
    others = book_q_min([(D("0.49"), D("40"))], [(D("0.51"), D("40"))], rewards, mid)

    assert estimated_reward_rate(ours, others, rewards.daily_rate) == D("30")
