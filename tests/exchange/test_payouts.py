"""The local exchange pays liquidity rewards and maker rebates per epoch (exchange/payouts.py), in
virtual time: who is paid, how much, when, once; and the desk survives the state file."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.accounts import COLLATERAL
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.payouts import IncomeConfig, ScoredOrder, sample_q
from polymm_cli.exchange.state import restore, snapshot
from polymm_cli.model import OrderType, Side, taker_fee

D = Decimal
FED, BTC = (
    sample_markets()[0],
    sample_markets()[1],
)  # FED: rewards 3.5c / min 20 / $50 a day; BTC: rebates 20%
INSIDE = "0x" + "a1" * 20  # quotes inside the reward band
OUTSIDE = "0x" + "b0" * 20  # quotes outside it
TAKER = "0x" + "ca" * 20
EPOCH_S = 60.0
_ids = itertools.count()


def order(
    address: str, token: str, side: Side, price: str, size: str, kind: OrderType = OrderType.GTC
) -> OrderRequest:
    return OrderRequest(
        order_id=f"0x{next(_ids):064x}",
        owner="key-" + address[-4:],
        address=address,
        token_id=token,
        side=side,
        price=D(price),
        size=D(size),
        order_type=kind,
    )


def exchange_at_epoch_start(clock: ManualClock) -> LocalExchange:
    clock.advance(EPOCH_S - clock.now() % EPOCH_S)  # start on an epoch boundary: one whole epoch
    ex = LocalExchange(
        sample_markets(), clock, settlement=SettlementConfig(delay_s=0), income=IncomeConfig(epoch_s=EPOCH_S)
    )
    for address in (INSIDE, OUTSIDE, TAKER):
        ex.fund(address, D(1000))
        ex.split(address, FED.condition_id, D(200))
        ex.split(address, BTC.condition_id, D(200))
    return ex


def run_for(ex: LocalExchange, clock: ManualClock, seconds: float, step: float = 1.0) -> None:
    for _ in range(int(seconds / step)):
        clock.advance(step)
        ex.advance()


def cash(ex: LocalExchange, address: str) -> Decimal:
    return ex.account(address).balance(COLLATERAL)


def test_a_maker_inside_the_band_is_paid_the_pool_and_one_outside_gets_nothing() -> None:
    clock = ManualClock()
    ex = exchange_at_epoch_start(clock)
    ex.submit(order(INSIDE, FED.yes_token, Side.BUY, "0.49", "100"))
    ex.submit(order(INSIDE, FED.yes_token, Side.SELL, "0.51", "100"))
    ex.submit(order(OUTSIDE, FED.yes_token, Side.BUY, "0.40", "100"))  # 10c from the 0.50 mid: v is 3.5c
    ex.submit(order(OUTSIDE, FED.yes_token, Side.SELL, "0.60", "100"))
    before = {a: cash(ex, a) for a in (INSIDE, OUTSIDE)}
    run_for(ex, clock, EPOCH_S - 2)
    assert cash(ex, INSIDE) == before[INSIDE], "nothing is paid before the epoch ends"
    run_for(ex, clock, 3)
    pool = (D(50) * D(60) / D(86400)).quantize(D("0.000001"), rounding="ROUND_DOWN")
    assert cash(ex, INSIDE) - before[INSIDE] == pool  # the only scoring maker takes the whole pool
    assert cash(ex, OUTSIDE) == before[OUTSIDE]
    (payout,) = ex.payouts_to(INSIDE)
    assert (payout.kind, payout.condition_id, payout.amount) == ("reward", FED.condition_id, pool)
    assert ex.payouts_to(OUTSIDE) == []
    run_for(ex, clock, 5)
    assert len(ex.payouts_to(INSIDE)) == 1, "an epoch is paid once"


def test_two_makers_share_the_pool_by_their_scores() -> None:
    clock = ManualClock()
    ex = exchange_at_epoch_start(clock)
    ex.submit(order(INSIDE, FED.yes_token, Side.BUY, "0.49", "100"))
    ex.submit(order(INSIDE, FED.yes_token, Side.SELL, "0.51", "100"))
    ex.submit(order(OUTSIDE, FED.yes_token, Side.BUY, "0.48", "100"))  # 2c: S = (1.5/3.5)^2
    ex.submit(order(OUTSIDE, FED.yes_token, Side.SELL, "0.52", "100"))
    run_for(ex, clock, EPOCH_S + 1)
    inside, outside = ex.payouts_to(INSIDE)[0].amount, ex.payouts_to(OUTSIDE)[0].amount
    # S(3.5, 1) = (2.5/3.5)^2 = 25/49 against S(3.5, 2) = 9/49: shares 25/34 and 9/34
    assert float(inside / outside) == pytest.approx(25 / 9, rel=1e-4)
    assert inside + outside <= D(50) * D(60) / D(86400)


def test_a_taker_fee_pays_a_rebate_to_the_maker_it_hit() -> None:
    clock = ManualClock()
    ex = exchange_at_epoch_start(clock)
    ex.submit(order(INSIDE, BTC.yes_token, Side.SELL, "0.300", "100"))
    ex.submit(order(TAKER, BTC.yes_token, Side.BUY, "0.300", "50", OrderType.FAK))
    fee = taker_fee(D(50), D("0.300"), BTC.taker_fee_rate)
    run_for(ex, clock, EPOCH_S + 1)
    rebates = [p for p in ex.payouts_to(INSIDE) if p.kind == "rebate"]
    assert [(p.condition_id, p.amount) for p in rebates] == [(BTC.condition_id, BTC.maker_rebate_rate * fee)]
    assert ex.payouts_to(TAKER) == [], "the taker earns no rebate"
    assert ex.payouts_to(OUTSIDE) == []


def test_a_fee_free_market_pays_no_rebate() -> None:
    clock = ManualClock()
    ex = exchange_at_epoch_start(clock)
    ex.submit(order(INSIDE, FED.yes_token, Side.SELL, "0.60", "100"))  # FED charges fees, rebates nothing
    ex.submit(order(TAKER, FED.yes_token, Side.BUY, "0.60", "50", OrderType.FAK))
    run_for(ex, clock, EPOCH_S + 1)
    assert [p for p in ex.payouts_to(INSIDE) if p.kind == "rebate"] == []


def test_the_desk_survives_the_state_file_and_does_not_pay_twice() -> None:
    clock = ManualClock()
    ex = exchange_at_epoch_start(clock)
    ex.submit(order(INSIDE, FED.yes_token, Side.BUY, "0.49", "100"))
    ex.submit(order(INSIDE, FED.yes_token, Side.SELL, "0.51", "100"))
    run_for(ex, clock, EPOCH_S / 2)  # half an epoch scored, then a restart
    again = restore(snapshot(ex), clock, SettlementConfig(delay_s=0), IncomeConfig(epoch_s=EPOCH_S))
    run_for(again, clock, EPOCH_S / 2 + 1)
    (payout,) = again.payouts_to(INSIDE)
    assert payout.amount == (D(50) * D(60) / D(86400)).quantize(D("0.000001"), rounding="ROUND_DOWN")
    third = restore(snapshot(again), clock, SettlementConfig(delay_s=0), IncomeConfig(epoch_s=EPOCH_S))
    third.advance()
    assert third.payouts_to(INSIDE) == [payout], (
        "a restored exchange keeps its record and pays no epoch twice"
    )


def test_sample_q_scores_each_maker_alone_with_the_documented_maths() -> None:
    orders = [
        ScoredOrder("m1", True, D("0.49"), D(100)),  # Q_one: S(3.5, 1) x 100
        ScoredOrder("m2", False, D("0.51"), D(10)),  # below the min size 20: scores nothing
    ]
    scores = sample_q(orders, FED, D("0.50"))
    one_sided = D(100) * (D("2.5") / D("3.5")) ** 2 / 3  # inside [0.10, 0.90] one side earns a third
    assert set(scores) == {"m1"}
    assert scores["m1"] == pytest.approx(one_sided)
