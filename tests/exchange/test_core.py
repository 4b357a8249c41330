"""LocalExchange in virtual time, no HTTP: matching, order types, validation, reservations, settlement,
fees, heartbeats, split/merge, tick changes, and a conservation property over random order flow."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm_cli.clock import ManualClock
from polymm_cli.errors import ExchangeRejection
from polymm_cli.exchange.accounts import COLLATERAL
from polymm_cli.exchange.core import (
    HeartbeatMismatch,
    LocalExchange,
    OrderRequest,
    OrderResult,
    SettlementConfig,
)
from polymm_cli.exchange.events import ExchangeEvent, OrderEvent, TickSizeEvent, TradeEvent
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.state import snapshot
from polymm_cli.model import Market, OrderType, Side, TradeStatus, taker_fee

FED = sample_markets()[0]  # 0.01 tick, taker fee rate 0.04, min size 5
BTC = sample_markets()[1]  # 0.001 tick
SUN = sample_markets()[3]  # 0.01 tick, fee-free

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
GTC, GTD, FOK, FAK = OrderType.GTC, OrderType.GTD, OrderType.FOK, OrderType.FAK


@dataclass(frozen=True)
class Trader:
    owner: str  # the API key the exchange files orders under
    address: str  # the funder whose balances back them


ALICE = Trader("key-alice", "0x" + "a1" * 20)
BOB = Trader("key-bob", "0x" + "b0" * 20)
CAROL = Trader("key-carol", "0x" + "ca" * 20)

_ids = itertools.count()


def new_exchange(clock: ManualClock, settlement: SettlementConfig | None = None) -> LocalExchange:
    return LocalExchange(sample_markets(), clock, settlement=settlement or SettlementConfig(delay_s=0))


def request(
    who: Trader,
    token: str,
    side: Side,
    price: str,
    size: str,
    order_type: OrderType = GTC,
    *,
    order_id: str | None = None,
    post_only: bool = False,
    expiration: int = 0,
) -> OrderRequest:
    return OrderRequest(
        order_id=order_id or f"0x{next(_ids):064x}",
        owner=who.owner,
        address=who.address,
        token_id=token,
        side=side,
        price=D(price),
        size=D(size),
        order_type=order_type,
        post_only=post_only,
        expiration=expiration,
    )


def place(
    ex: LocalExchange, who: Trader, token: str, side: Side, price: str, size: str, *args: Any, **kw: Any
) -> OrderResult:
    return ex.submit(request(who, token, side, price, size, *args, **kw))


def cash(ex: LocalExchange, who: Trader) -> Decimal:
    return ex.account(who.address).collateral


def shares(ex: LocalExchange, who: Trader, token: str) -> Decimal:
    return ex.account(who.address).balance(token)


def fee(size: str, price: str, rate: str = "0.04") -> Decimal:
    """§9 by hand: C x rate x p(1-p), rounded to 5 decimals."""
    return (D(size) * D(rate) * D(price) * (1 - D(price))).quantize(D("0.00001"))


def frozen(ex: LocalExchange) -> dict[str, Any]:
    """Everything a rejected request must leave alone: accounts, orders, trades, keys, books."""
    books = {token: ex.book_levels(token) for m in ex.markets.values() for token in m.tokens}
    return {"state": snapshot(ex), "books": books}


class Recorder:
    def __init__(self, ex: LocalExchange) -> None:
        self.events: list[ExchangeEvent] = []
        ex.add_listener(self.events.append)

    def trades(self) -> list[TradeEvent]:
        return [e for e in self.events if isinstance(e, TradeEvent)]

    def orders(self, kind: str) -> list[OrderEvent]:
        return [e for e in self.events if isinstance(e, OrderEvent) and e.kind == kind]


def funded(
    clock: ManualClock, *, split: int = 0, settlement: SettlementConfig | None = None
) -> LocalExchange:
    """Alice, Bob and Carol with 100 pUSD each; Carol also splits `split` pUSD into FED YES+NO."""
    ex = new_exchange(clock, settlement)
    for who in (ALICE, BOB, CAROL):
        ex.fund(who.address, D(100))
    if split:
        ex.split(CAROL.address, FED.condition_id, D(split))
    return ex


# -- price-time priority ------------------------------------------------------------------------


def test_two_bids_at_one_price_fill_in_arrival_order(clock: ManualClock) -> None:
    ex = funded(clock, split=50)
    first = place(ex, ALICE, FED.yes_token, BUY, "0.40", "5")
    second = place(ex, BOB, FED.yes_token, BUY, "0.40", "5")

    result = place(ex, CAROL, FED.yes_token, SELL, "0.40", "7")

    assert len(result.trade_ids) == 1
    fills = ex.trades[result.trade_ids[0]].maker_fills
    assert [(f.order_id, f.size) for f in fills] == [(first.order_id, D(5)), (second.order_id, D(2))]
    assert ex.get_order(first.order_id).status == "MATCHED"
    assert ex.get_order(second.order_id).size_matched == D(2)
    assert ex.book_levels(FED.yes_token)[0] == [(D("0.40"), D(3))]


def test_a_better_price_fills_first_even_when_it_arrived_later(clock: ManualClock) -> None:
    ex = funded(clock, split=50)
    place(ex, ALICE, FED.yes_token, BUY, "0.40", "5")
    better = place(ex, BOB, FED.yes_token, BUY, "0.41", "5")

    result = place(ex, CAROL, FED.yes_token, SELL, "0.40", "5")

    trade = ex.trades[result.trade_ids[0]]
    assert [f.order_id for f in trade.maker_fills] == [better.order_id]
    assert trade.price == D("0.41")
    assert shares(ex, BOB, FED.yes_token) == 5 and shares(ex, ALICE, FED.yes_token) == 0


def test_a_taker_crossing_two_levels_pays_each_makers_price_one_trade_per_level(clock: ManualClock) -> None:
    ex = funded(clock, split=50)
    place(ex, ALICE, FED.yes_token, BUY, "0.41", "5")
    place(ex, BOB, FED.yes_token, BUY, "0.40", "10")
    carol_cash = cash(ex, CAROL)

    result = place(ex, CAROL, FED.yes_token, SELL, "0.39", "12")

    trades = [ex.trades[t] for t in result.trade_ids]
    assert [(t.price, t.size) for t in trades] == [(D("0.41"), D(5)), (D("0.40"), D(7))]
    assert result.status == "matched"
    assert result.making_amount == D(12) and result.taking_amount == D("4.85")  # 5 x 0.41 + 7 x 0.40
    assert cash(ex, CAROL) - carol_cash == D("4.85") - fee("5", "0.41") - fee("7", "0.40")
    assert cash(ex, ALICE) == 100 - D("2.05") and cash(ex, BOB) == 100 - D("2.80")  # makers pay their price
    assert ex.book_levels(FED.yes_token)[0] == [(D("0.40"), D(3))]


# -- complement matching --------------------------------------------------------------------------


def test_buy_yes_against_sell_yes_is_a_normal_match(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, ALICE, FED.yes_token, BUY, "0.60", "10")

    place(ex, CAROL, FED.yes_token, SELL, "0.60", "10")

    assert shares(ex, ALICE, FED.yes_token) == 10 and cash(ex, ALICE) == 94
    assert shares(ex, CAROL, FED.yes_token) == 10 and shares(ex, CAROL, FED.no_token) == 20
    assert cash(ex, CAROL) == 80 + 6 - fee("10", "0.60")


def test_buy_yes_against_buy_no_mints_a_pair_paid_for_by_both(clock: ManualClock) -> None:
    ex = funded(clock)
    place(ex, BOB, FED.no_token, BUY, "0.42", "10")  # a YES ask at 0.58

    result = place(ex, ALICE, FED.yes_token, BUY, "0.58", "10")

    trade = ex.trades[result.trade_ids[0]]
    assert trade.price == D("0.58") and trade.maker_fills[0].price == D("0.42")
    assert trade.maker_fills[0].token_id == FED.no_token and trade.maker_fills[0].side is BUY
    assert shares(ex, ALICE, FED.yes_token) == 10 and shares(ex, BOB, FED.no_token) == 10
    alice_paid, bob_paid = 100 - cash(ex, ALICE), 100 - cash(ex, BOB)
    assert alice_paid == D("5.80") + fee("10", "0.58") and bob_paid == D("4.20")
    assert alice_paid + bob_paid - trade.taker_fee == 10  # one pUSD per minted pair


def test_sell_yes_against_sell_no_merges_the_pair_back_into_cash(clock: ManualClock) -> None:
    ex = funded(clock)
    for who in (ALICE, BOB):
        ex.split(who.address, FED.condition_id, D(10))
    place(ex, BOB, FED.no_token, SELL, "0.45", "10")  # a YES bid at 0.55

    result = place(ex, ALICE, FED.yes_token, SELL, "0.55", "10")

    trade = ex.trades[result.trade_ids[0]]
    assert trade.maker_fills[0].token_id == FED.no_token and trade.maker_fills[0].side is SELL
    alice_got, bob_got = cash(ex, ALICE) - 90, cash(ex, BOB) - 90
    assert alice_got == D("5.5") - fee("10", "0.55") and bob_got == D("4.5")
    assert alice_got + bob_got == 10 - trade.taker_fee
    assert shares(ex, ALICE, FED.yes_token) == 0 and shares(ex, BOB, FED.no_token) == 0
    assert shares(ex, ALICE, FED.no_token) == 10 and shares(ex, BOB, FED.yes_token) == 10


def test_the_no_book_mirrors_the_yes_book(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, ALICE, FED.yes_token, BUY, "0.40", "5")  # YES bid 0.40
    place(ex, BOB, FED.no_token, BUY, "0.55", "7")  # NO bid 0.55 = YES ask 0.45
    place(ex, CAROL, FED.no_token, SELL, "0.70", "6")  # NO ask 0.70 = YES bid 0.30
    place(ex, CAROL, FED.yes_token, SELL, "0.80", "8")  # YES ask 0.80 = NO bid 0.20

    yes_bids, yes_asks = ex.book_levels(FED.yes_token)
    no_bids, no_asks = ex.book_levels(FED.no_token)

    assert yes_bids == [(D("0.40"), D(5)), (D("0.30"), D(6))]
    assert yes_asks == [(D("0.45"), D(7)), (D("0.80"), D(8))]
    assert no_bids == [(D("0.55"), D(7)), (D("0.20"), D(8))]
    assert no_asks == [(D("0.60"), D(5)), (D("0.70"), D(6))]
    assert ex.best_bid_ask(FED.no_token) == (D("0.55"), D("0.60"))


# -- order types -----------------------------------------------------------------------------------


def test_fok_that_cannot_fill_completely_is_killed_and_changes_nothing(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "5")
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, FED.yes_token, BUY, "0.50", "10", FOK)

    assert caught.value.message == "order couldn't be fully filled. FOK orders are fully filled or killed."
    assert caught.value.status == 400
    assert frozen(ex) == before


def test_fok_that_can_fill_completely_fills_at_once(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "5")
    place(ex, CAROL, FED.yes_token, SELL, "0.52", "5")

    result = place(ex, ALICE, FED.yes_token, BUY, "0.52", "8", FOK)

    assert ex.get_order(result.order_id).status == "MATCHED"
    assert shares(ex, ALICE, FED.yes_token) == 8
    assert ex.open_orders(ALICE.owner) == []


def test_fak_fills_what_it_can_and_cancels_the_rest(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "5")

    result = place(ex, ALICE, FED.yes_token, BUY, "0.50", "10", FAK)

    order = ex.get_order(result.order_id)
    assert order.status == "CANCELED" and order.size_matched == 5
    assert ex.open_orders(ALICE.owner) == []
    assert ex.account(ALICE.address).reserved(COLLATERAL) == 0
    assert cash(ex, ALICE) == 100 - D("2.5") - fee("5", "0.50")
    assert ex.book_levels(FED.yes_token) == ([], [])


def test_fak_with_nothing_to_hit_is_refused(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.60", "5")
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, FED.yes_token, BUY, "0.50", "10", FAK)

    assert caught.value.message == (
        "no orders found to match with FAK order. "
        "FAK orders are partially filled or killed if no match is found."
    )
    assert frozen(ex) == before


def test_gtc_fills_what_crosses_and_rests_the_remainder(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "5")

    result = place(ex, ALICE, FED.yes_token, BUY, "0.50", "8")

    assert result.status == "matched"
    [open_order] = ex.open_orders(ALICE.owner)
    assert open_order.order_id == result.order_id and open_order.size_matched == 5
    assert open_order.original_size - open_order.size_matched == 3
    assert ex.account(ALICE.address).reserved(COLLATERAL) == D("1.50")
    assert ex.book_levels(FED.yes_token) == ([(D("0.50"), D(3))], [])


def test_gtd_closer_than_the_security_threshold_is_refused(clock: ManualClock) -> None:
    ex = funded(clock)
    now = int(clock.now())
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, FED.yes_token, BUY, "0.30", "5", GTD, expiration=now + 59)

    assert caught.value.message == "invalid expiration"
    assert frozen(ex) == before
    with pytest.raises(ExchangeRejection, match=r"^invalid expiration$"):
        place(ex, ALICE, FED.yes_token, BUY, "0.30", "5", GTC, expiration=now + 600)  # non-GTD must say 0


def test_gtd_is_cancelled_as_expired_a_minute_before_its_expiration(clock: ManualClock) -> None:
    ex = funded(clock)
    events = Recorder(ex)
    expiration = int(clock.now()) + 60 + 30  # the docs' recipe: now + 60 s threshold + 30 s lifetime
    result = place(ex, ALICE, FED.yes_token, BUY, "0.30", "5", GTD, expiration=expiration)

    clock.advance(29)
    ex.advance()
    assert [o.order_id for o in ex.open_orders(ALICE.owner)] == [result.order_id]

    clock.advance(1)
    ex.advance()
    assert ex.open_orders(ALICE.owner) == []
    assert ex.get_order(result.order_id).status == "CANCELED_EXPIRED_ORDER"
    [cancel] = events.orders("CANCELLATION")
    assert cancel.order.order_id == result.order_id and cancel.order.status == "CANCELED_EXPIRED_ORDER"
    assert ex.account(ALICE.address).reserved(COLLATERAL) == 0
    assert ex.book_levels(FED.yes_token) == ([], [])


def test_post_only_that_would_cross_is_refused_not_repriced(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "5")
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, FED.yes_token, BUY, "0.50", "5", post_only=True)

    assert caught.value.message == "invalid post-only order: order crosses book"
    assert frozen(ex) == before
    assert place(ex, ALICE, FED.yes_token, BUY, "0.49", "5", post_only=True).status == "live"


@pytest.mark.parametrize("order_type", [FOK, FAK])
def test_post_only_is_only_for_resting_order_types(clock: ManualClock, order_type: OrderType) -> None:
    ex = funded(clock, split=20)
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "5")
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, FED.yes_token, BUY, "0.50", "5", order_type, post_only=True)

    assert caught.value.message == "invalid post-only order: only GTC and GTD order types are allowed"
    assert frozen(ex) == before


# -- validation wording; a refused request changes nothing ------------------------------------------

BAD = "0x" + "ba" * 32


def _resting_alice_order(ex: LocalExchange) -> str:
    return ex.open_orders(ALICE.owner)[0].order_id


REFUSALS: list[tuple[str, Any, str]] = [
    (
        "price-off-grid",
        lambda ex: request(ALICE, FED.yes_token, BUY, "0.555", "10", order_id=BAD),
        f"order {BAD} is invalid. Price (0.555) breaks minimum tick size rule: 0.01",
    ),
    (
        "limit-price-a-hair-off-the-grid",  # 0.520001 used to be rounded to 0.52 (within 1e-5)
        lambda ex: request(ALICE, FED.yes_token, BUY, "0.520001", "10", order_id=BAD),
        f"order {BAD} is invalid. Price (0.520001) breaks minimum tick size rule: 0.01",
    ),
    (
        "gtd-price-a-hair-off-the-grid",
        lambda ex: request(
            ALICE,
            FED.yes_token,
            SELL,
            "0.639999",
            "10",
            GTD,
            order_id=BAD,
            expiration=int(ex.clock.now()) + 600,
        ),
        f"order {BAD} is invalid. Price (0.639999) breaks minimum tick size rule: 0.01",
    ),
    (
        "price-one",
        lambda ex: request(ALICE, FED.yes_token, BUY, "1.00", "10", order_id=BAD),
        f"order {BAD} is invalid. Price (1) breaks minimum tick size rule: 0.01",
    ),
    (
        "price-zero",
        lambda ex: request(ALICE, FED.yes_token, SELL, "0.00", "10", order_id=BAD),
        f"order {BAD} is invalid. Price (0) breaks minimum tick size rule: 0.01",
    ),
    (
        "size-below-minimum",
        lambda ex: request(ALICE, FED.yes_token, BUY, "0.30", "3", order_id=BAD),
        f"order {BAD} is invalid. Size (3) lower than the minimum: 5",
    ),
    (
        "marketable-buy-under-a-dollar",
        lambda ex: request(ALICE, FED.yes_token, BUY, "0.15", "5", FAK, order_id=BAD),
        "invalid amount for a marketable BUY order ($0.75), min size: $1",
    ),
    (
        "duplicated",
        lambda ex: request(ALICE, FED.yes_token, BUY, "0.20", "5", order_id=_resting_alice_order(ex)),
        "order {dup} is invalid. Duplicated.",
    ),
    (
        "unknown-token",
        lambda ex: request(ALICE, "12345", BUY, "0.30", "10", order_id=BAD),
        "Invalid token id",
    ),
    (
        "balance-without-open-orders",
        lambda ex: request(BOB, FED.yes_token, BUY, "0.30", "50", order_id=BAD),
        "not enough balance / allowance: the balance is not enough -> "
        "balance: 10000000, order amount: 15000000",
    ),
    (
        "balance-with-open-orders",
        lambda ex: request(ALICE, FED.yes_token, BUY, "0.50", "193", order_id=BAD),
        "not enough balance / allowance: the balance is not enough -> balance: 100000000, "
        "sum of active orders: 4000000, order amount (inc. fees): 96500000",
    ),
    (
        "shares-without-any",
        lambda ex: request(BOB, FED.yes_token, SELL, "0.70", "5", order_id=BAD),
        "not enough balance / allowance: the balance is not enough -> balance: 0, order amount: 5000000",
    ),
    (
        "shares-with-open-sells",
        lambda ex: request(CAROL, FED.yes_token, SELL, "0.70", "16", order_id=BAD),
        "not enough balance / allowance: the balance is not enough -> balance: 20000000, "
        "sum of active orders: 5000000, order amount (inc. fees): 16000000",
    ),
]


@pytest.mark.parametrize(
    ("build", "wording"), [(b, w) for _, b, w in REFUSALS], ids=[n for n, _, _ in REFUSALS]
)
def test_a_refused_order_gets_the_real_wording_and_changes_nothing(
    clock: ManualClock, build: Any, wording: str
) -> None:
    ex = new_exchange(clock)
    ex.fund(ALICE.address, D(100))
    ex.fund(BOB.address, D(10))
    ex.fund(CAROL.address, D(100))
    ex.split(CAROL.address, FED.condition_id, D(20))
    place(ex, ALICE, FED.yes_token, BUY, "0.40", "10")  # reserves 4 pUSD
    place(ex, CAROL, FED.yes_token, SELL, "0.60", "5")  # reserves 5 YES
    req = build(ex)
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        ex.submit(req)

    assert caught.value.message == wording.replace("{dup}", req.order_id)
    assert caught.value.status == 400
    assert frozen(ex) == before


def test_a_market_orders_amount_rounding_noise_is_snapped_to_the_grid(clock: ManualClock) -> None:
    """py-clob-client-v2's market BUY of $10 at 0.52 signs 10 pUSD for 19.2307 shares (reference §4.2):
    its implied price 0.520002... is not a limit price, and it fills at 0.52."""
    ex = new_exchange(clock)
    ex.fund(ALICE.address, D(100))
    ex.fund(CAROL.address, D(100))
    ex.split(CAROL.address, FED.condition_id, D(30))
    place(ex, CAROL, FED.yes_token, SELL, "0.52", "30")

    result = place(ex, ALICE, FED.yes_token, BUY, str(D(10) / D("19.2307")), "19.2307", FOK)

    trade = ex.trades[result.trade_ids[0]]
    assert (trade.price, trade.size) == (D("0.52"), D("19.2307"))


# -- reservations ------------------------------------------------------------------------------------


def test_open_buys_reserve_their_cost_and_a_second_order_over_the_free_balance_is_refused(
    clock: ManualClock,
) -> None:
    ex = new_exchange(clock)
    ex.fund(ALICE.address, D(10))
    first = place(ex, ALICE, FED.yes_token, BUY, "0.40", "20")
    acct = ex.account(ALICE.address)
    assert acct.reserved(COLLATERAL) == 8 and acct.free(COLLATERAL) == 2

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, FED.yes_token, BUY, "0.50", "5")
    assert caught.value.message == (
        "not enough balance / allowance: the balance is not enough -> balance: 10000000, "
        "sum of active orders: 8000000, order amount (inc. fees): 2500000"
    )

    assert ex.cancel(ALICE.owner, [first.order_id]) == ([first.order_id], {})
    assert acct.reserved(COLLATERAL) == 0 and acct.free(COLLATERAL) == 10
    assert place(ex, ALICE, FED.yes_token, BUY, "0.50", "5").status == "live"


def test_a_partial_fill_frees_the_filled_part_of_the_reservation(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    ex.account(ALICE.address).collateral = D(10)
    place(ex, ALICE, FED.yes_token, BUY, "0.40", "20")

    place(ex, CAROL, FED.yes_token, SELL, "0.40", "5")

    acct = ex.account(ALICE.address)
    assert acct.collateral == 8 and acct.reserved(COLLATERAL) == 6 and acct.free(COLLATERAL) == 2
    assert ex.account(CAROL.address).reserved(FED.yes_token) == 0


def test_open_sells_reserve_shares(clock: ManualClock) -> None:
    ex = funded(clock, split=20)
    sell = place(ex, CAROL, FED.yes_token, SELL, "0.70", "15")
    acct = ex.account(CAROL.address)
    assert acct.free(FED.yes_token) == 5

    with pytest.raises(ExchangeRejection, match="sum of active orders: 15000000"):
        place(ex, CAROL, FED.yes_token, SELL, "0.75", "6")
    ex.cancel(CAROL.owner, [sell.order_id])
    assert acct.free(FED.yes_token) == 20


# -- settlement ----------------------------------------------------------------------------------


def test_a_trade_goes_matched_mined_confirmed_and_bought_shares_stay_pending_until_then(
    clock: ManualClock,
) -> None:
    ex = funded(clock, split=20, settlement=SettlementConfig(delay_s=2))
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "10")
    events = Recorder(ex)
    t0 = clock.now()

    result = place(ex, ALICE, FED.yes_token, BUY, "0.50", "10")

    alice, carol = ex.account(ALICE.address), ex.account(CAROL.address)
    assert alice.balance(FED.yes_token) == 0 and alice.pending_tokens[FED.yes_token] == 10
    assert alice.collateral == 100 - 5 - fee("10", "0.50")
    assert carol.balance(FED.yes_token) == 10 and carol.pending_collateral == 5 and carol.collateral == 80
    for _ in range(2):  # matched, then mined: the shares are still not Alice's to sell
        with pytest.raises(ExchangeRejection) as caught:
            place(ex, ALICE, FED.yes_token, SELL, "0.55", "10")
        assert caught.value.message == (
            "not enough balance / allowance: the balance is not enough -> balance: 0, order amount: 10000000"
        )
        for _ in range(2):
            clock.advance(0.5)
            ex.advance()

    trade_events = [(e.trade.trade_id, e.trade.status, e.timestamp) for e in events.trades()]
    [trade_id] = result.trade_ids
    assert trade_events == [
        (trade_id, TradeStatus.MATCHED, t0),
        (trade_id, TradeStatus.MINED, t0 + 1),
        (trade_id, TradeStatus.CONFIRMED, t0 + 2),
    ]
    assert alice.balance(FED.yes_token) == 10 and alice.pending_tokens[FED.yes_token] == 0
    assert carol.collateral == 85 and carol.pending_collateral == 0
    assert place(ex, ALICE, FED.yes_token, SELL, "0.55", "10").status == "live"


def _balances(ex: LocalExchange, who: Trader) -> tuple[Decimal, ...]:
    acct = ex.account(who.address)
    return (
        acct.collateral,
        acct.pending_collateral,
        *(acct.balance(t) for t in FED.tokens),
        *(acct.pending_tokens.get(t, D(0)) for t in FED.tokens),
    )


def test_a_failed_settlement_rolls_both_sides_back_exactly(clock: ManualClock) -> None:
    ex = funded(clock, split=20, settlement=SettlementConfig(delay_s=2, fail_rate=1.0))
    place(ex, CAROL, FED.yes_token, SELL, "0.50", "10")
    before = {who: _balances(ex, who) for who in (ALICE, CAROL)}
    events = Recorder(ex)
    t0 = clock.now()

    place(ex, ALICE, FED.yes_token, BUY, "0.50", "10")
    assert _balances(ex, ALICE) != before[ALICE]  # the ghost fill: cash gone, shares pending
    for _ in range(4):
        clock.advance(0.5)
        ex.advance()

    assert [(e.trade.status, e.timestamp) for e in events.trades()] == [
        (TradeStatus.MATCHED, t0),
        (TradeStatus.RETRYING, t0 + 1),
        (TradeStatus.FAILED, t0 + 2),
    ]
    assert {who: _balances(ex, who) for who in (ALICE, CAROL)} == before


# -- fees ----------------------------------------------------------------------------------------


def test_taker_fee_formula_rounding_and_minimum() -> None:
    rate = D("0.04")
    assert taker_fee(D(100), D("0.50"), rate, 1) == D("1.00000")  # the reference's worked example
    assert taker_fee(D(7), D("0.33"), rate, 1) == D("0.06191")  # 0.061908 -> 5 dp
    assert taker_fee(D("0.01"), D("0.01"), rate, 1) == D("0.00001")  # never below the minimum when charged
    assert taker_fee(D(10), D("0.50"), D(0), 1) == 0


def test_only_the_taker_pays_the_fee_whichever_side_it_is_on(clock: ManualClock) -> None:
    ex = funded(clock, split=40)
    place(ex, ALICE, FED.yes_token, BUY, "0.33", "7")  # maker buyer
    buy_side = place(ex, CAROL, FED.yes_token, SELL, "0.33", "7")  # taker seller
    assert cash(ex, ALICE) == 100 - D("2.31")
    assert cash(ex, CAROL) == 60 + D("2.31") - D("0.06191")
    assert ex.trades[buy_side.trade_ids[0]].taker_fee == D("0.06191")

    place(ex, CAROL, FED.yes_token, SELL, "0.70", "10")  # maker seller
    carol_before = cash(ex, CAROL)
    sell_side = place(ex, BOB, FED.yes_token, BUY, "0.70", "10")  # taker buyer
    assert cash(ex, BOB) == 100 - 7 - D("0.08400")
    assert cash(ex, CAROL) - carol_before == 7
    assert ex.trades[sell_side.trade_ids[0]].taker_fee == D("0.08400")


def test_a_fee_free_market_charges_nobody(clock: ManualClock) -> None:
    ex = funded(clock)
    ex.split(CAROL.address, SUN.condition_id, D(10))
    place(ex, CAROL, SUN.yes_token, SELL, "0.95", "10")

    result = place(ex, ALICE, SUN.yes_token, BUY, "0.95", "10")

    assert ex.trades[result.trade_ids[0]].taker_fee == 0
    assert cash(ex, ALICE) == D("90.5") and cash(ex, CAROL) == D("99.5")


# -- heartbeats -------------------------------------------------------------------------------------


def test_heartbeat_chain_and_a_stale_id_carries_the_expected_one(clock: ManualClock) -> None:
    ex = funded(clock)
    first = ex.heartbeat(ALICE.owner, "")
    second = ex.heartbeat(ALICE.owner, first)
    assert first and second and second != first

    with pytest.raises(HeartbeatMismatch) as caught:
        ex.heartbeat(ALICE.owner, first)

    assert caught.value.expected == second
    assert caught.value.message == "Invalid Heartbeat ID" and caught.value.status == 400
    assert ex.heartbeat(ALICE.owner, second)


def test_ten_seconds_of_silence_cancels_that_keys_orders_only(clock: ManualClock) -> None:
    ex = funded(clock)
    a1 = place(ex, ALICE, FED.yes_token, BUY, "0.30", "5").order_id
    a2 = place(ex, ALICE, BTC.yes_token, BUY, "0.301", "5").order_id
    b1 = place(ex, BOB, FED.yes_token, BUY, "0.31", "5").order_id
    ex.heartbeat(ALICE.owner, "")  # arms Alice's switch; Bob never sends one
    events = Recorder(ex)

    clock.advance(10)
    ex.advance()
    assert len(ex.open_orders(ALICE.owner)) == 2  # exactly 10 s is not yet a timeout

    clock.advance(0.5)
    ex.advance()

    assert ex.open_orders(ALICE.owner) == []
    assert sorted(e.order.order_id for e in events.orders("CANCELLATION")) == sorted([a1, a2])
    assert [o.order_id for o in ex.open_orders(BOB.owner)] == [b1]
    assert ex.account(ALICE.address).reserved(COLLATERAL) == 0


def test_regular_heartbeats_keep_the_orders_alive(clock: ManualClock) -> None:
    ex = funded(clock)
    place(ex, ALICE, FED.yes_token, BUY, "0.30", "5")
    beat = ex.heartbeat(ALICE.owner, "")
    for _ in range(5):
        clock.advance(8)
        beat = ex.heartbeat(ALICE.owner, beat)
        ex.advance()
    assert len(ex.open_orders(ALICE.owner)) == 1


# -- split / merge ----------------------------------------------------------------------------------


def test_split_and_merge_move_balances_one_to_one(clock: ManualClock) -> None:
    ex = funded(clock)
    ex.split(ALICE.address, FED.condition_id, D("12.5"))
    assert (cash(ex, ALICE), shares(ex, ALICE, FED.yes_token), shares(ex, ALICE, FED.no_token)) == (
        D("87.5"),
        D("12.5"),
        D("12.5"),
    )
    ex.merge(ALICE.address, FED.condition_id, D(10))
    assert (cash(ex, ALICE), shares(ex, ALICE, FED.yes_token), shares(ex, ALICE, FED.no_token)) == (
        D("97.5"),
        D("2.5"),
        D("2.5"),
    )


def test_split_refuses_more_than_the_free_cash(clock: ManualClock) -> None:
    ex = funded(clock)
    place(ex, ALICE, FED.yes_token, BUY, "0.50", "100")  # reserves 50
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        ex.split(ALICE.address, FED.condition_id, D(60))

    assert caught.value.message == (
        "not enough balance / allowance: the balance is not enough -> balance: 100000000, "
        "sum of active orders: 50000000, order amount (inc. fees): 60000000"
    )
    assert frozen(ex) == before


def test_merge_refuses_more_than_the_free_pairs(clock: ManualClock) -> None:
    ex = funded(clock, split=10)
    place(ex, CAROL, FED.no_token, SELL, "0.90", "5")  # reserves 5 NO
    before = frozen(ex)

    with pytest.raises(ExchangeRejection) as caught:
        ex.merge(CAROL.address, FED.condition_id, D(6))

    assert caught.value.message == (
        "not enough balance / allowance: the balance is not enough -> balance: 10000000, "
        "sum of active orders: 5000000, order amount (inc. fees): 6000000"
    )
    assert frozen(ex) == before
    ex.merge(CAROL.address, FED.condition_id, D(5))
    assert shares(ex, CAROL, FED.yes_token) == 5 and cash(ex, CAROL) == 95


# -- tick size changes --------------------------------------------------------------------------------


def test_a_finer_tick_is_announced_for_both_tokens_and_then_accepted(clock: ManualClock) -> None:
    ex = funded(clock)
    events = Recorder(ex)
    with pytest.raises(ExchangeRejection, match=r"breaks minimum tick size rule: 0\.01$"):
        place(ex, ALICE, FED.yes_token, BUY, "0.555", "10")

    ex.set_tick_size(FED.condition_id, D("0.001"))

    ticks = [e for e in events.events if isinstance(e, TickSizeEvent)]
    assert [(e.market, e.token_id, e.old_tick, e.new_tick) for e in ticks] == [
        (FED.condition_id, FED.yes_token, D("0.01"), D("0.001")),
        (FED.condition_id, FED.no_token, D("0.01"), D("0.001")),
    ]
    assert place(ex, ALICE, FED.yes_token, BUY, "0.555", "10").status == "live"
    assert ex.book_levels(FED.no_token)[1] == [(D("0.445"), D(10))]


def test_a_coarser_tick_refuses_orders_on_the_old_grid(clock: ManualClock) -> None:
    ex = funded(clock)
    place(ex, ALICE, BTC.yes_token, BUY, "0.123", "10")

    ex.set_tick_size(BTC.condition_id, D("0.01"))

    with pytest.raises(ExchangeRejection) as caught:
        place(ex, ALICE, BTC.yes_token, BUY, "0.124", "10", order_id=BAD)
    assert (
        caught.value.message == f"order {BAD} is invalid. Price (0.124) breaks minimum tick size rule: 0.01"
    )
    assert place(ex, ALICE, BTC.yes_token, BUY, "0.12", "10").status == "live"


# -- conservation property ---------------------------------------------------------------------------

TRADERS = (ALICE, BOB, CAROL)
FUNDED = D(100)

submits = st.tuples(
    st.just("submit"),
    st.integers(0, 2),  # who
    st.booleans(),  # YES token?
    st.sampled_from([BUY, SELL]),
    st.one_of(st.integers(45, 55), st.integers(1, 99)),  # cents: FED's 0.01 grid, crowded near 0.50
    st.integers(500, 2000),  # size in hundredths of a share, >= the minimum 5
    st.sampled_from([GTC, GTC, GTC, FAK, FOK]),
)
cancels = st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 50))
splits = st.tuples(st.just("split"), st.integers(0, 2), st.integers(1, 30))


def _check_books_balance(ex: LocalExchange, market: Market) -> None:
    accounts = list(ex.accounts.values())
    fees = sum((t.taker_fee for t in ex.trades.values()), D(0))
    yes = sum(
        (a.balance(market.yes_token) + a.pending_tokens.get(market.yes_token, D(0)) for a in accounts), D(0)
    )
    no = sum(
        (a.balance(market.no_token) + a.pending_tokens.get(market.no_token, D(0)) for a in accounts), D(0)
    )
    pusd = sum((a.collateral + a.pending_collateral for a in accounts), D(0))
    assert yes == no
    assert pusd + yes + fees == FUNDED * len(TRADERS)
    for acct in accounts:
        for asset in (COLLATERAL, *market.tokens):
            assert acct.balance(asset) >= 0 and acct.free(asset) >= 0, (acct.address, asset)
        open_orders = [o for o in ex.orders.values() if o.status == "LIVE" and o.address == acct.address]
        cost = sum((o.remaining * o.price for o in open_orders if o.side is BUY), D(0))
        assert acct.reserved(COLLATERAL) == cost
        for token in market.tokens:
            held = sum((o.remaining for o in open_orders if o.side is SELL and o.token_id == token), D(0))
            assert acct.reserved(token) == held


@settings(max_examples=200, deadline=None)
@given(actions=st.lists(st.one_of(submits, submits, submits, cancels, splits), min_size=10, max_size=40))
def test_random_order_flow_never_creates_or_destroys_value(actions: list[tuple[Any, ...]]) -> None:
    """Three traders funded with 100 pUSD each (30 of it split into YES+NO) trade FED (0.01 tick,
    4% taker fee) with instant settlement.

    Fee bookkeeping (core.py `_leg`): a BUY taker gives price x size + fee, a SELL taker receives
    price x size - fee, makers give/receive exactly price x size, and no account receives the fee.
    Shares come into existence only in YES+NO pairs (split, mint match) and leave only in pairs (merge
    match), each pair backed by exactly 1 pUSD. So after every step, over all accounts:

        sum(YES held + pending) == sum(NO held + pending)
        sum(pUSD held + pending) + sum(YES held + pending) + sum(taker fees of all trades) == 300

    and every balance and every free balance (balance - reservations) is >= 0, reservations equal
    remaining x price of open BUYs (pUSD) and remaining of open SELLs (shares), and a refused request
    leaves the state untouched. Sizes have 2 decimals and prices 2, so no amount needs rounding.
    """
    clock = ManualClock()
    ex = new_exchange(clock)
    for who in TRADERS:
        ex.fund(who.address, FUNDED)
        ex.split(who.address, FED.condition_id, D(30))
    placed: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for action in actions:
        before = frozen(ex)
        try:
            if action[0] == "submit":
                _, who, yes, side, cents, hundredths, order_type = action
                token = FED.yes_token if yes else FED.no_token
                price, size = str(D(cents) / 100), str(D(hundredths) / 100)
                result = place(ex, TRADERS[who], token, side, price, size, order_type)
                placed[who].append(result.order_id)
            elif action[0] == "cancel":
                _, who, index = action
                if placed[who]:
                    ex.cancel(TRADERS[who].owner, [placed[who][index % len(placed[who])]])
            else:
                _, who, amount = action
                ex.split(TRADERS[who].address, FED.condition_id, D(amount))
        except ExchangeRejection:
            assert frozen(ex) == before
        clock.advance(1)
        ex.advance()
        _check_books_balance(ex, FED)


# -- bugs found once, kept as regression tests ----------------------------------------------------


def test_a_cancelled_order_replayed_after_an_hour_is_still_refused(clock: ManualClock) -> None:
    ex = funded(clock)
    original = request(ALICE, FED.yes_token, BUY, "0.20", "5")
    ex.submit(original)
    ex.cancel(ALICE.owner, [original.order_id])
    clock.advance(3601)
    ex.advance()

    with pytest.raises(ExchangeRejection):
        ex.submit(original)  # a replay of an order its signer already cancelled


def test_an_absurdly_large_buy_is_refused_for_balance_not_crashed(clock: ManualClock) -> None:
    ex = funded(clock)
    with pytest.raises(ExchangeRejection, match=r"^not enough balance / allowance"):
        place(ex, ALICE, FED.yes_token, BUY, "0.50", "1e64")


def test_a_tiny_marketable_sell_never_drives_the_sellers_cash_negative(clock: ManualClock) -> None:
    ex = funded(clock, split=10)
    place(ex, ALICE, FED.yes_token, BUY, "0.01", "100")
    ex.account(CAROL.address).collateral = D(0)  # Carol holds shares only

    with contextlib.suppress(ExchangeRejection):  # refusing it is fine too
        place(ex, CAROL, FED.yes_token, SELL, "0.01", "0.0001", FAK)

    assert ex.account(CAROL.address).free(COLLATERAL) >= 0


def test_a_refused_order_from_an_unknown_address_leaves_no_account_behind(clock: ManualClock) -> None:
    ex = funded(clock)
    stranger = Trader("key-stranger", "0x" + "5e" * 20)
    before = frozen(ex)

    with pytest.raises(ExchangeRejection, match="allowance: 0"):
        place(ex, stranger, FED.yes_token, BUY, "0.50", "10")

    assert frozen(ex) == before
