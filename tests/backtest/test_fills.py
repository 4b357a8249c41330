"""The fill simulator's order checks, taking, balances and cancels: what the local exchange would say."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from polymm_cli.backtest.fills import FillSimulator, Refused
from polymm_cli.model import Side, TradeStatus, taker_fee
from polymm_cli.venues.base import Balances, OrderUpdate, TickSizeChange, TradeUpdate
from tests.backtest.sim_events import MARKET, NO, YES, change, intent, levels, simulator, snapshot, trade

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def with_book(sim: FillSimulator) -> FillSimulator:
    """YES bids 0.50 x100, 0.49 x50; asks 0.55 x40, 0.56 x60."""
    sim.on_market_event(
        snapshot(bids=levels(("0.50", "100"), ("0.49", "50")), asks=levels(("0.55", "40"), ("0.56", "60"))),
        0.0,
    )
    return sim


# -- post-only, tick, size --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "price", "token"),
    [(BUY, "0.55", YES), (BUY, "0.60", YES), (SELL, "0.50", YES), (BUY, "0.50", NO), (SELL, "0.45", NO)],
    ids=["bid-at-ask", "bid-through", "ask-at-bid", "no-bid-at-yes-bid", "no-ask-at-yes-ask"],
)
def test_a_post_only_order_that_would_cross_the_book_is_refused_with_the_exchanges_reason(
    side: Side, price: str, token: str
) -> None:
    sim = with_book(simulator(yes="100", no="100"))

    result, events = sim.place(intent(side, price, "10", token=token), 1.0)

    assert not result.ok and result.order_id == "" and events == []
    assert result.error == "invalid post-only order: order crosses book"
    assert sim.open_orders() == []


def test_a_post_only_order_crossing_our_own_resting_order_is_refused_too() -> None:
    sim = simulator()
    resting, _ = sim.place(intent(BUY, "0.50", "10"), 0.0)

    crossing, _ = sim.place(intent(BUY, "0.55", "10", token=NO), 0.0)  # a YES ask at 0.45

    assert resting.ok and not crossing.ok and "crosses book" in crossing.error


def test_a_post_only_order_inside_the_spread_rests() -> None:
    sim = with_book(simulator())

    result, events = sim.place(intent(BUY, "0.54", "10"), 1.0)

    assert result.ok and result.status == "live"
    [placement] = events
    assert isinstance(placement, OrderUpdate) and (placement.kind, placement.status) == ("PLACEMENT", "LIVE")
    assert sim.ahead_of(result.order_id) == D(0)  # a new level: nobody ahead


@pytest.mark.parametrize(
    ("price", "size", "order_type", "post_only", "error"),
    [
        ("0.505", "10", "GTC", True, "breaks minimum tick size rule: 0.01"),
        ("0", "10", "GTC", True, "breaks minimum tick size rule: 0.01"),
        ("1", "10", "GTC", True, "breaks minimum tick size rule: 0.01"),
        ("0.40", "4.99", "GTC", True, "Size (4.99) lower than the minimum: 5"),
        ("0.40", "0", "GTC", True, "Invalid order payload"),
        ("0.40", "10", "FAK", True, "invalid post-only order: only GTC and GTD order types are allowed"),
        ("0.05", "10", "FAK", False, "invalid amount for a marketable BUY order ($0.5), min size: $1"),
    ],
)
def test_tick_size_and_type_rules_refuse_with_the_exchanges_words(
    price: str, size: str, order_type: str, post_only: bool, error: str
) -> None:
    sim = with_book(simulator())

    result, _ = sim.place(intent(BUY, price, size, order_type=order_type, post_only=post_only), 1.0)

    assert not result.ok and error in result.error


def test_a_tick_size_change_in_a_snapshot_sets_the_grid_orders_are_checked_on() -> None:
    sim = simulator()
    finer = snapshot(bids=levels(("0.971", "10")), asks=levels(("0.975", "10")))
    sim.on_market_event(replace(finer, tick_size=D("0.001")), 1.0)

    result, _ = sim.place(intent(BUY, "0.972", "10"), 1.0)

    assert result.ok, result.error
    assert sim.market(YES).tick_size == D("0.001")  # type: ignore[union-attr]


def test_an_unknown_token_is_refused() -> None:
    result, _ = simulator().place(intent(BUY, "0.50", "10", token="OTHER"), 0.0)

    assert not result.ok and result.error == "Invalid token id"


# -- balances ---------------------------------------------------------------------------------------


def test_a_bid_reserves_collateral_and_the_next_one_is_refused_when_it_no_longer_fits() -> None:
    sim = simulator(collateral="10")

    first, _ = sim.place(intent(BUY, "0.50", "16"), 0.0)  # reserves 8
    second, _ = sim.place(intent(BUY, "0.40", "6"), 0.0)  # 2.4 > 2 free

    assert first.ok and not second.ok
    assert second.error == (
        "not enough balance / allowance: the balance is not enough -> balance: 10000000, "
        "sum of active orders: 8000000, order amount (inc. fees): 2400000"
    )
    assert sim.balances().collateral == D(10)  # a reservation is not a payment


def test_a_sell_needs_the_tokens_and_a_split_provides_them() -> None:
    sim = simulator(collateral="100")

    refused, _ = sim.place(intent(SELL, "0.60", "10"), 0.0)
    sim.split(MARKET.condition_id, D(10))
    accepted, _ = sim.place(intent(SELL, "0.60", "10"), 0.0)

    assert not refused.ok
    assert refused.error == (
        "not enough balance / allowance: the balance is not enough -> balance: 0, order amount: 10000000"
    )
    assert accepted.ok
    assert sim.balances([YES, NO]) == Balances(collateral=D(90), tokens={YES: D(10), NO: D(10)})


def test_a_maker_fill_moves_collateral_and_tokens_at_our_price_with_no_fee() -> None:
    sim = with_book(simulator(collateral="100"))
    bid, _ = sim.place(intent(BUY, "0.52", "10"), 0.0)

    sim.on_market_event(trade(SELL, "0.51", "3"), 1.0)  # through our bid

    balances = sim.balances([YES])
    assert (balances.collateral, balances.tokens[YES]) == (D("94.8"), D(10))
    [confirmed] = sim.trades()
    assert confirmed.status is TradeStatus.CONFIRMED and confirmed.trader_side == "MAKER"
    assert [(f.order_id, f.liquidity, f.fee_rate_bps) for f in confirmed.fills] == [
        (bid.order_id, "MAKER", 0)
    ]


def test_a_buy_of_no_reserves_collateral_and_its_fill_pays_in_no_terms() -> None:
    sim = with_book(simulator(collateral="10"))
    ask, _ = sim.place(intent(BUY, "0.47", "20", token=NO), 0.0)  # YES ask at 0.53: reserves 9.4
    refused, _ = sim.place(intent(BUY, "0.40", "5"), 0.0)  # 2 > 0.6 free

    sim.on_market_event(trade(BUY, "0.54", "1"), 1.0)  # a YES buyer through our ask

    assert ask.ok and not refused.ok
    assert sim.balances([NO]).collateral == D("0.6")
    assert sim.balances([NO]).tokens[NO] == D(20)


def test_merge_needs_both_tokens_and_split_needs_collateral() -> None:
    sim = simulator(collateral="5", yes="3")

    with pytest.raises(Refused, match="balance: 0, order amount: 3000000"):
        sim.merge(MARKET.condition_id, D(3))
    with pytest.raises(Refused, match="balance: 5000000, order amount: 6000000"):
        sim.split(MARKET.condition_id, D(6))
    sim.split(MARKET.condition_id, D(2))
    sim.merge(MARKET.condition_id, D(5) - D(3))

    assert sim.balances([YES, NO]).tokens == {YES: D(3), NO: D(0)}
    assert sim.balances().collateral == D(5)


# -- taking ------------------------------------------------------------------------------------------


def test_a_crossing_gtc_takes_the_levels_it_crosses_as_a_taker_and_rests_the_rest() -> None:
    sim = with_book(simulator(collateral="1000"))

    result, events = sim.place(intent(BUY, "0.56", "120", post_only=False), 1.0)

    assert result.ok and result.status == "matched"
    trades = [e for e in events if isinstance(e, TradeUpdate) and e.status is TradeStatus.MATCHED]
    assert [(t.trader_side, t.fills[0].price, t.fills[0].size) for t in trades] == [
        ("TAKER", D("0.55"), D(40)),
        ("TAKER", D("0.56"), D(60)),
    ]
    assert all(t.fills[0].fee_rate_bps == 400 for t in trades)
    [listed] = sim.open_orders()
    assert (listed.price, listed.remaining) == (D("0.56"), D(20))
    fees = taker_fee(D(40), D("0.55"), D("0.04")) + taker_fee(D(60), D("0.56"), D("0.04"))
    expected = D(1000) - D(40) * D("0.55") - D(60) * D("0.56") - fees
    assert sim.balances().collateral == expected
    # the taken levels are gone from our copy of the book, so the rest does not fill on them again
    assert sim.book(MARKET.condition_id).best_ask is None


def test_a_fak_with_nothing_to_take_and_a_fok_that_cannot_fill_are_refused() -> None:
    sim = with_book(simulator(yes="500"))

    fak, _ = sim.place(intent(SELL, "0.51", "10", order_type="FAK", post_only=False), 1.0)
    fok, _ = sim.place(intent(SELL, "0.49", "200", order_type="FOK", post_only=False), 1.0)

    assert not fak.ok and fak.error.startswith("no orders found to match with FAK order")
    assert not fok.ok and fok.error.startswith("order couldn't be fully filled")


def test_a_fak_takes_what_it_can_and_the_rest_is_killed() -> None:
    sim = with_book(simulator(yes="500"))

    result, events = sim.place(intent(SELL, "0.50", "130", order_type="FAK", post_only=False), 1.0)

    assert result.ok and result.status == "matched"
    final = events[-1]
    assert isinstance(final, OrderUpdate) and (final.status, final.size_matched) == ("CANCELED", D(100))
    assert sim.open_orders() == []
    assert sim.balances([YES]).tokens[YES] == D(400)


# -- cancels -------------------------------------------------------------------------------------------


def test_cancel_says_why_an_order_was_not_canceled() -> None:
    sim = with_book(simulator())
    live, _ = sim.place(intent(BUY, "0.51", "10"), 0.0)
    filled, _ = sim.place(intent(BUY, "0.52", "10"), 0.0)
    sim.on_market_event(change(SELL, "0.52", "5"), 1.0)  # crosses the 0.52 bid, not the 0.51 one

    result, _ = sim.cancel([filled.order_id, "0xnope"], 2.0)
    again, _ = sim.cancel([live.order_id], 2.0)

    assert result.canceled == ()
    assert result.not_canceled == {filled.order_id: "Order already matched", "0xnope": "Order not found"}
    assert again.canceled == (live.order_id,)


def test_cancel_releases_the_reservation_and_reports_the_cancellation() -> None:
    sim = simulator(collateral="10")
    first, _ = sim.place(intent(BUY, "0.50", "20"), 0.0)

    result, events = sim.cancel([first.order_id], 1.0)
    twice, _ = sim.cancel([first.order_id], 1.0)
    then, _ = sim.place(intent(BUY, "0.50", "20"), 1.0)

    assert result.canceled == (first.order_id,)
    [update] = events
    assert isinstance(update, OrderUpdate) and (update.kind, update.status) == ("CANCELLATION", "CANCELED")
    assert twice.not_canceled == {first.order_id: "Order already canceled"}
    assert then.ok


def test_cancel_where_cancels_one_market_or_everything() -> None:
    sim = simulator()
    ids = [sim.place(intent(BUY, p, "10"), float(i))[0].order_id for i, p in enumerate(("0.40", "0.41"))]

    none, _ = sim.cancel_where("0xother", 1.0)
    both, _ = sim.cancel_where(None, 1.0)

    assert none.canceled == () and both.canceled == tuple(ids)


def test_trades_are_listed_by_market_and_time() -> None:
    sim = with_book(simulator())
    sim.place(intent(BUY, "0.51", "10"), 0.0)
    sim.on_market_event(trade(SELL, "0.50", "1"), 5.0)

    assert len(sim.trades(MARKET.condition_id)) == 1
    assert sim.trades(after=5.0) == sim.trades() and sim.trades(after=6.0) == []
    assert sim.trades("0xother") == []


def test_a_tick_size_change_clears_the_book_and_sets_the_new_grid() -> None:
    sim = with_book(simulator())
    resting, _ = sim.place(intent(BUY, "0.52", "10"), 0.0)

    sim.on_market_event(
        TickSizeChange(
            market=MARKET.condition_id,
            token_id=YES,
            old_tick=D("0.01"),
            new_tick=D("0.001"),
            venue_ts=1,
            recv_ts=1,
        ),
        1.0,
    )
    finer, _ = sim.place(intent(BUY, "0.523", "10"), 1.0)

    assert sim.book(MARKET.condition_id).is_empty and not sim.book(MARKET.condition_id).synced
    assert finer.ok and [o.order_id for o in sim.open_orders()] == [resting.order_id, finer.order_id]
