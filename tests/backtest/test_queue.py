"""The queue-position models and the fill rules on hand-built scenarios.

Numbers are worked by hand in each test: our order joins the back of its level, trades at our price
take from the front, cancels move us forward only as far as the model says (hftbacktest's
RiskAdverseQueueModel and ProbQueueModel with PowerProbQueueFunc).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from polymm_cli.backtest.fills import FillSimulator
from polymm_cli.backtest.queue import LevelQueue, PowerProbQueue, QueueModel, RiskAverseQueue, after_cancel
from polymm_cli.model import Side, TradeStatus
from polymm_cli.venues.base import Fill, OrderUpdate, TradeUpdate, UserEvent
from tests.backtest.sim_events import NO, YES, change, intent, levels, simulator, snapshot, trade

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def fills_of(events: list[UserEvent]) -> list[Fill]:
    """Our fills, once each (the CONFIRMED repeat of a MATCHED update is not a second fill)."""
    return [
        f for e in events if isinstance(e, TradeUpdate) and e.status is TradeStatus.MATCHED for f in e.fills
    ]


def bid_behind(sim: FillSimulator, level: str = "100", price: str = "0.50", size: str = "10") -> str:
    """A YES book with `level` bid at `price` (ask 0.60), and our bid joining behind it."""
    sim.on_market_event(snapshot(bids=levels((price, level)), asks=levels(("0.60", "100"))), 0.0)
    result, _ = sim.place(intent(BUY, price, size), 0.0)
    assert result.ok, result.error
    return result.order_id


# -- ahead of us: trades at our price --------------------------------------------------------------


def test_our_order_joins_the_back_and_trades_at_our_price_shrink_the_size_ahead() -> None:
    sim = simulator()
    oid = bid_behind(sim)
    assert sim.ahead_of(oid) == D(100)

    assert fills_of(sim.on_market_event(trade(SELL, "0.50", "30"), 1.0)) == []
    assert sim.ahead_of(oid) == D(70)
    sim.on_market_event(change(BUY, "0.50", "70"), 1.0)  # the trade's own level change: already counted
    assert sim.ahead_of(oid) == D(70)
    sim.on_market_event(trade(SELL, "0.50", "60"), 2.0)
    sim.on_market_event(change(BUY, "0.50", "10"), 2.0)
    assert sim.ahead_of(oid) == D(10)


def test_a_trade_reaching_past_the_size_ahead_fills_us_partly_then_the_rest() -> None:
    sim = simulator()
    oid = bid_behind(sim, level="20")

    first = fills_of(sim.on_market_event(trade(SELL, "0.50", "24"), 1.0))
    sim.on_market_event(change(BUY, "0.50", "0"), 1.0)
    second = fills_of(sim.on_market_event(trade(SELL, "0.50", "50"), 2.0))

    assert [(f.order_id, f.price, f.size, f.liquidity) for f in first] == [(oid, D("0.50"), D(4), "MAKER")]
    assert [f.size for f in second] == [D(6)]  # only what was left of our 10
    assert sim.open_orders() == []
    assert sim.ahead_of(oid) is None


def test_a_partial_fill_reports_matched_then_the_order_update_then_confirmed() -> None:
    sim = simulator()
    oid = bid_behind(sim, level="0")

    events = sim.on_market_event(trade(SELL, "0.50", "4"), 1.0)

    assert [type(e).__name__ for e in events] == ["TradeUpdate", "OrderUpdate", "TradeUpdate"]
    matched, update, confirmed = events
    assert isinstance(matched, TradeUpdate) and isinstance(confirmed, TradeUpdate)
    assert (matched.status, confirmed.status) == (TradeStatus.MATCHED, TradeStatus.CONFIRMED)
    assert matched.trade_id == confirmed.trade_id and matched.fills == confirmed.fills
    assert isinstance(update, OrderUpdate) and update.order_id == oid
    assert (update.kind, update.status, update.size_matched, update.remaining) == (
        "UPDATE",
        "LIVE",
        D(4),
        D(6),
    )
    [listed] = sim.open_orders()
    assert listed.size_matched == D(4)


def test_the_trade_and_its_level_change_in_either_order_give_the_same_queue() -> None:
    """The local exchange sends the trade first; real Polymarket usually the price_change first."""
    trade_first, depth_first = simulator(PowerProbQueue(2)), simulator(PowerProbQueue(2))
    a, b = bid_behind(trade_first, level="40"), bid_behind(depth_first, level="40")
    for sim in (trade_first, depth_first):  # 20 more join behind us: 40 ahead, 20 behind
        sim.on_market_event(change(BUY, "0.50", "60"), 0.5)

    fills_a = fills_of(trade_first.on_market_event(trade(SELL, "0.50", "45"), 1.0))
    trade_first.on_market_event(change(BUY, "0.50", "15"), 1.0)
    depth_first.on_market_event(change(BUY, "0.50", "15"), 1.0)
    fills_b = fills_of(depth_first.on_market_event(trade(SELL, "0.50", "45"), 1.02))

    assert [f.size for f in fills_a] == [f.size for f in fills_b] == [D(5)]
    assert trade_first.ahead_of(a) == depth_first.ahead_of(b) == D(0)


def test_a_level_drop_a_trade_explains_late_takes_back_the_advance_it_gave() -> None:
    sim = simulator(PowerProbQueue(1))
    oid = bid_behind(sim, level="60")
    sim.on_market_event(change(BUY, "0.50", "100"), 0.5)  # 60 ahead, 40 behind

    sim.on_market_event(change(BUY, "0.50", "70"), 1.0)  # as a cancel: 30 x 60/100 = 18 ahead
    assert sim.ahead_of(oid) == D(42)
    sim.on_market_event(trade(SELL, "0.50", "30"), 1.02)  # no: it was a trade, all from the front

    assert sim.ahead_of(oid) == D(30)


def test_a_fill_the_take_back_splits_unevenly_is_whole_base_units() -> None:
    # Found replaying the Tickscope capture: a fill of 5.5555... tokens stopped the engine (the
    # ledger takes at most 6 decimals). The venue fills whole base units: the fill is cut down.
    sim = simulator(RiskAverseQueue())
    bid_behind(sim, level="30")
    sim.on_market_event(change(BUY, "0.50", "100"), 0.5)  # 30 ahead, 70 behind
    sim.on_market_event(change(BUY, "0.50", "10"), 1.0)  # 90 gone: we cannot be behind more than 10
    # a trade of 20 explains 20 of the 90: it takes back 20 x 20/90 of the 20 we moved up
    fills = fills_of(sim.on_market_event(trade(SELL, "0.50", "20"), 1.02))

    assert [f.size for f in fills] == [D("5.555555")]
    assert sim.open_orders()[0].size_matched == D("5.555555")


# -- cancels ahead: what each model makes of a level decrease no trade explains --------------------


def test_risk_averse_cancels_never_move_us_forward() -> None:
    sim = simulator(RiskAverseQueue())
    oid = bid_behind(sim)
    sim.on_market_event(change(BUY, "0.50", "150"), 1.0)  # 50 join behind us

    sim.on_market_event(change(BUY, "0.50", "110"), 2.0)  # 40 cancel: from behind us
    assert sim.ahead_of(oid) == D(100)
    sim.on_market_event(change(BUY, "0.50", "70"), 3.0)  # 40 more: only 10 were behind
    assert sim.ahead_of(oid) == D(70)


def test_power_prob_cancels_move_us_forward_by_the_share_ahead() -> None:
    sim = simulator(PowerProbQueue(2))
    oid = bid_behind(sim)
    sim.on_market_event(change(BUY, "0.50", "150"), 1.0)  # 100 ahead, 50 behind

    # share ahead = 100**2 / (100**2 + 50**2) = 0.8: 100 - 0.8 x 40 = 68
    sim.on_market_event(change(BUY, "0.50", "110"), 2.0)

    assert sim.ahead_of(oid) == D(68)


@pytest.mark.parametrize(
    ("model", "ahead", "level", "decrease", "expected"),
    [
        (RiskAverseQueue(), "30", "40", "5", "30"),
        (RiskAverseQueue(), "30", "40", "25", "15"),  # more than behind us: the rest was ahead
        (PowerProbQueue(1), "30", "40", "20", "15"),  # share 30/40 = 0.75
        (PowerProbQueue(2), "30", "40", "20", "12"),  # share 900/1000 = 0.9
        (PowerProbQueue(2), "10", "20", "8", "6"),  # equal sides: half, whatever n
        (PowerProbQueue(3), "10", "20", "8", "6"),
        (PowerProbQueue(1), "30", "40", "36", "3"),  # 30 - 27 + min(10 - 9, 0)
        (PowerProbQueue(2), "0", "40", "20", "0"),  # at the front: nothing to move
        (PowerProbQueue(2), "40", "40", "15", "25"),  # at the back: all of it was ahead
    ],
)
def test_after_cancel_follows_hftbacktest_prob_queue_model(
    model: QueueModel, ahead: str, level: str, decrease: str, expected: str
) -> None:
    assert after_cancel(model, D(ahead), D(level), D(decrease)) == D(expected)


def test_power_prob_is_hftbacktest_power_prob_queue_func_numerically() -> None:
    # ProbQueueModel.depth in hftbacktest, f64, PowerProbQueueFunc(3): front 70, prev 100, new 80
    front, back, chg, n = 70.0, 30.0, 20.0, 3.0
    prob = back**n / (back**n + front**n)
    expected = min(front - (1 - prob) * chg + min(back - prob * chg, 0.0), 80.0)

    got = after_cancel(PowerProbQueue(3), D(70), D(100), D(20))

    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_the_level_queue_keeps_our_own_earlier_order_ahead_of_our_later_one() -> None:
    queue = LevelQueue(RiskAverseQueue())
    queue.join("first", D(10))
    queue.join("second", D(10))  # the external size at the price is still 10: "first" is ahead too

    fills = queue.on_trade(D(18), 1.0, {"first": D(5), "second": D(5)})
    queue.leave("first")

    assert fills == [("first", D(5)), ("second", D(3))]  # 8 past the 10 ahead: 5 to "first", 3 left
    assert queue.on_trade(D(2), 2.0, {"second": D(2)}) == [("second", D(2))]


# -- trade-through and crossing: filled in full ----------------------------------------------------


def test_a_trade_through_our_bid_fills_it_in_full_at_our_price() -> None:
    sim = simulator()
    oid = bid_behind(sim, level="500")

    fills = fills_of(sim.on_market_event(trade(SELL, "0.49", "1"), 1.0))

    assert [(f.order_id, f.price, f.size) for f in fills] == [(oid, D("0.50"), D(10))]


def test_a_trade_at_a_worse_price_for_the_taker_than_our_ask_does_not_reach_our_bid() -> None:
    sim = simulator()
    bid_behind(sim)

    assert fills_of(sim.on_market_event(trade(SELL, "0.51", "1000"), 1.0)) == []
    assert fills_of(sim.on_market_event(trade(BUY, "0.49", "1000"), 1.0)) == []  # buyers never hit bids


def test_a_trade_through_our_ask_fills_it_in_full() -> None:
    sim = simulator(yes="20")
    sim.on_market_event(snapshot(bids=levels(("0.50", "100")), asks=levels(("0.55", "300"))), 0.0)
    result, _ = sim.place(intent(SELL, "0.55", "20"), 0.0)

    fills = fills_of(sim.on_market_event(trade(BUY, "0.56", "5"), 1.0))

    assert [(f.order_id, f.side, f.price, f.size) for f in fills] == [
        (result.order_id, SELL, D("0.55"), D(20))
    ]


def test_the_book_crossing_our_bid_fills_it_in_full_at_our_price() -> None:
    sim = simulator()
    oid = bid_behind(sim)

    fills = fills_of(sim.on_market_event(change(SELL, "0.50", "3"), 1.0))

    assert [(f.order_id, f.price, f.size) for f in fills] == [(oid, D("0.50"), D(10))]
    assert sim.open_orders() == []


def test_a_snapshot_crossing_our_ask_fills_it() -> None:
    sim = simulator(yes="10")
    sim.on_market_event(snapshot(bids=levels(("0.50", "100")), asks=levels(("0.60", "1"))), 0.0)
    result, _ = sim.place(intent(SELL, "0.58", "10"), 0.0)

    events = sim.on_market_event(snapshot(bids=levels(("0.59", "1")), asks=levels(("0.61", "1"))), 1.0)

    assert [(f.order_id, f.price, f.size) for f in fills_of(events)] == [(result.order_id, D("0.58"), D(10))]


# -- cancel and re-entry ---------------------------------------------------------------------------


def test_our_cancel_and_re_entry_loses_priority_and_joins_the_back_again() -> None:
    sim = simulator()
    oid = bid_behind(sim)
    sim.on_market_event(trade(SELL, "0.50", "80"), 1.0)
    sim.on_market_event(change(BUY, "0.50", "20"), 1.0)
    sim.on_market_event(change(BUY, "0.50", "120"), 2.0)  # 100 join behind us
    assert sim.ahead_of(oid) == D(20)

    canceled, _ = sim.cancel([oid], 3.0)
    again, _ = sim.place(intent(BUY, "0.50", "10"), 3.0)

    assert canceled.canceled == (oid,)
    assert sim.ahead_of(again.order_id) == D(120)
    # 30 would have filled us before the cancel; now 120 stand ahead
    assert fills_of(sim.on_market_event(trade(SELL, "0.50", "30"), 4.0)) == []


# -- the NO token ----------------------------------------------------------------------------------


def test_a_no_book_is_mirrored_into_the_yes_book_until_yes_data_arrives() -> None:
    sim = simulator()
    # NO bids at 0.45 are YES asks at 0.55; NO asks at 0.52 are YES bids at 0.48
    sim.on_market_event(snapshot(NO, bids=levels(("0.45", "50")), asks=levels(("0.52", "40"))), 0.0)
    book = sim.book(sim.market(YES).condition_id)  # type: ignore[union-attr]
    assert (book.best_bid, book.best_ask) == (D("0.48"), D("0.55"))
    assert book.size_at(BUY, D("0.48")) == D(40)

    sim.on_market_event(change(BUY, "0.47", "7", token=YES), 1.0)
    sim.on_market_event(change(SELL, "0.52", "0", token=NO), 2.0)  # ignored now: the YES book leads

    assert book.size_at(BUY, D("0.48")) == D(40) and book.size_at(BUY, D("0.47")) == D(7)


def test_a_no_trade_is_a_yes_trade_at_one_minus_its_price_with_the_other_taker_side() -> None:
    sim = simulator()
    sim.on_market_event(snapshot(NO, bids=levels(("0.45", "50")), asks=levels(("0.52", "40"))), 0.0)
    bid, _ = sim.place(intent(BUY, "0.48", "10"), 0.0)  # behind the mirrored 40

    # a taker BUY of NO at 0.52 sells YES at 0.48
    fills = fills_of(sim.on_market_event(trade(BUY, "0.52", "50", token=NO), 1.0))

    assert [(f.order_id, f.token_id, f.side, f.price, f.size) for f in fills] == [
        (bid.order_id, YES, BUY, D("0.48"), D(10))
    ]


def test_a_no_bid_is_our_yes_ask_and_fills_on_yes_buyers_in_its_own_terms() -> None:
    sim = simulator()
    sim.on_market_event(snapshot(bids=levels(("0.50", "100")), asks=levels(("0.55", "50"))), 0.0)
    ask, _ = sim.place(intent(BUY, "0.45", "10", token=NO), 0.0)  # BUY NO at 0.45 = YES ask at 0.55
    assert sim.ahead_of(ask.order_id) == D(50)

    fills = fills_of(sim.on_market_event(trade(BUY, "0.55", "60"), 1.0))

    assert [(f.token_id, f.side, f.price, f.size) for f in fills] == [(NO, BUY, D("0.45"), D(10))]
    assert sim.balances([NO]).tokens[NO] == D(10)


def test_a_cancel_long_before_a_trade_at_our_price_stays_a_cancel() -> None:
    sim = simulator(PowerProbQueue(1))
    oid = bid_behind(sim, level="60")
    sim.on_market_event(change(BUY, "0.50", "100"), 0.5)  # 60 ahead, 40 behind
    sim.on_market_event(change(BUY, "0.50", "70"), 1.0)  # a cancel: 18 of it ahead, 42 ahead now

    sim.on_market_event(trade(SELL, "0.50", "30"), 2.0)  # a second later: a trade of its own

    assert sim.ahead_of(oid) == D(12)
