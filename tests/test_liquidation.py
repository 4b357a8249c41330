"""Stop-loss triggers and exit plans: getting out without dumping into an empty book."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.liquidation import StopLossParams, exit_mode, pairs_to_merge, plan_exit, stop_loss_trigger
from polymm_cli.model import PriceLevel, Side

FED = sample_markets()[0]  # 0.01 tick, min 5
BTC = sample_markets()[1]  # 0.001 tick


def levels(*pairs: tuple[str, str]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(D(p), D(s)) for p, s in pairs)


def test_stop_loss_fires_on_unrealised_loss() -> None:
    params = StopLossParams(enabled=True, max_unrealized_loss=D(10))
    assert stop_loss_trigger(D("-9.99"), D("-50"), params) is None
    reason = stop_loss_trigger(D("-10.01"), None, params)
    assert reason is not None and "unrealised" in reason


def test_stop_loss_fires_on_daily_loss() -> None:
    params = StopLossParams(enabled=True, max_daily_loss=D(25))
    assert stop_loss_trigger(D("-100"), D("-24"), params) is None
    reason = stop_loss_trigger(None, D("-26"), params)
    assert reason is not None and "daily" in reason


def test_a_disabled_stop_loss_never_fires() -> None:
    assert stop_loss_trigger(D("-1000"), D("-1000"), StopLossParams(max_unrealized_loss=D(1))) is None


def test_bad_stop_loss_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        StopLossParams(mode="panic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        StopLossParams(max_daily_loss=D(-5))


def test_pairs_are_merged_before_anything_is_sold() -> None:
    assert pairs_to_merge(D(12), D(30)) == D(12)
    assert pairs_to_merge(D(0), D(30)) == 0


def test_market_mode_sells_half_the_depth_within_the_floor_best_first() -> None:
    orders = plan_exit(
        FED,
        yes=D(40),
        no=D(0),
        yes_bids=levels(("0.48", "20"), ("0.47", "30"), ("0.46", "100")),
        yes_asks=levels(("0.50", "50")),
        mode="market",
    )
    # depth within 5c of the mid 0.49: 150 -> a round may sell 75, the position is 40; 40 is covered at 0.47
    assert [(o.token_id, o.side, o.price, o.size, o.order_type) for o in orders] == [
        (FED.yes_token, Side.SELL, D("0.47"), D(40), "FAK"),
    ]


def test_a_round_never_takes_the_whole_depth() -> None:
    orders = plan_exit(
        FED,
        yes=D(100),
        no=D(0),
        yes_bids=levels(("0.48", "20"), ("0.47", "20")),
        yes_asks=levels(("0.50", "50")),
        mode="market",
    )
    assert [(o.price, o.size) for o in orders] == [(D("0.48"), D(20))]  # half of the 40 within the floor


def test_the_slippage_floor_hangs_off_the_mid_when_the_exit_began() -> None:
    bids, asks = levels(("0.40", "50")), levels(("0.42", "50"))
    assert (
        plan_exit(FED, yes=D(20), no=D(0), yes_bids=bids, yes_asks=asks, mode="market", anchor_mid=D("0.50"))
        == ()
    )  # 0.40 is 10c under the 0.50 the exit began at
    assert plan_exit(FED, yes=D(20), no=D(0), yes_bids=bids, yes_asks=asks, mode="market") != ()


def test_market_mode_never_sells_below_the_slippage_floor_or_into_an_empty_book() -> None:
    thin = plan_exit(
        FED,
        yes=D(100),
        no=D(0),
        yes_bids=levels(("0.48", "10"), ("0.30", "500")),
        yes_asks=levels(("0.50", "10")),
        mode="market",
        max_slippage=D("0.05"),
    )
    assert [(o.price, o.size) for o in thin] == [(D("0.48"), D(5))]
    assert (
        plan_exit(FED, yes=D(100), no=D(0), yes_bids=(), yes_asks=levels(("0.5", "1")), mode="market") == ()
    )


def test_no_is_sold_into_the_mirrored_yes_asks() -> None:
    orders = plan_exit(
        FED,
        yes=D(0),
        no=D(10),
        yes_bids=levels(("0.48", "50")),
        yes_asks=levels(("0.52", "40")),
        mode="market",
    )
    assert [(o.token_id, o.price, o.size) for o in orders] == [(FED.no_token, D("0.48"), D(10))]


def test_marketable_sizes_respect_the_four_decimal_rule_on_fine_ticks() -> None:
    orders = plan_exit(
        BTC,
        yes=D("37.77"),
        no=D(0),
        yes_bids=levels(("0.457", "1000")),
        yes_asks=levels(("0.460", "10")),
        mode="market",
    )
    (order,) = orders
    assert order.size == D("37.7")  # 37.7 x 0.457 = 17.2289: four decimals
    assert (order.size * order.price).as_tuple().exponent >= -4


def test_limit_mode_rests_one_order_at_the_mid_per_token() -> None:
    orders = plan_exit(
        FED,
        yes=D(20),
        no=D(8),
        yes_bids=levels(("0.46", "50")),
        yes_asks=levels(("0.50", "50")),
        mode="limit",
    )
    assert [(o.token_id, o.price, o.size, o.order_type) for o in orders] == [
        (FED.yes_token, D("0.48"), D(20), "GTC"),
        (FED.no_token, D("0.52"), D(8), "GTC"),
    ]


def test_passive_mode_sells_nothing() -> None:
    assert (
        plan_exit(
            FED,
            yes=D(20),
            no=D(0),
            yes_bids=levels(("0.46", "50")),
            yes_asks=levels(("0.50", "50")),
            mode="passive",
        )
        == ()
    )


def test_dust_below_the_minimum_is_left_alone() -> None:
    assert (
        plan_exit(
            FED,
            yes=D(3),
            no=D(0),
            yes_bids=levels(("0.46", "50")),
            yes_asks=levels(("0.50", "50")),
            mode="market",
        )
        == ()
    )


def test_a_market_exit_needs_a_two_sided_anchor_or_rests_limit_orders() -> None:
    assert exit_mode("market", D("0.5")) == ("market", "")
    assert exit_mode("market", None) == (
        "limit",
        "no two-sided book to anchor a market exit: resting limit orders instead",
    )
    assert exit_mode("passive", None) == ("passive", "")
    assert exit_mode("limit", None) == ("limit", "")


@pytest.mark.parametrize(
    ("bids", "asks", "price"),
    [
        ((("0.40", "50"),), (), "0.41"),  # bids only: a tick above the best bid
        ((), (("0.60", "50"),), "0.59"),  # asks only: a tick below the best ask
    ],
)
def test_a_limit_exit_on_a_one_sided_book_rests_a_tick_inside_it(
    bids: tuple[tuple[str, str], ...], asks: tuple[tuple[str, str], ...], price: str
) -> None:
    def lv(pairs: tuple[tuple[str, str], ...]) -> tuple[PriceLevel, ...]:
        return tuple(PriceLevel(D(p), D(s)) for p, s in pairs)

    [order] = plan_exit(FED, yes=D(20), no=D(0), yes_bids=lv(bids), yes_asks=lv(asks), mode="limit")

    assert (order.side, order.price, order.size, order.order_type) == (Side.SELL, D(price), D(20), "GTC")


def test_a_limit_exit_with_no_book_at_all_places_nothing() -> None:
    assert plan_exit(FED, yes=D(20), no=D(0), yes_bids=(), yes_asks=(), mode="limit") == ()
