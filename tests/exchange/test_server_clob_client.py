"""The local exchange driven by py-clob-client-v2, unchanged: the client cannot tell it from Polymarket."""

from __future__ import annotations

from decimal import Decimal

import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fund, throwaway_key

FED = sample_markets()[0]  # 0.01 tick, min size 5
BTC = sample_markets()[1]  # 0.001 tick
CUP = sample_markets()[2]  # neg risk


def trader(server: ExchangeThread, label: str, pusd: int = 1000) -> ClobClient:
    client = ClobClient(host=server.url, chain_id=137, key=throwaway_key(label))
    client.set_api_creds(client.create_or_derive_api_key())
    if pusd:
        fund(server, client.get_address(), pusd)
    return client


def post_only_bid(client: ClobClient, token: str, price: float, size: float) -> dict:
    order = client.create_order(OrderArgsV2(token_id=token, price=price, size=size, side="BUY"))
    return client.post_order(order, OrderType.GTC, post_only=True)


def test_api_key_create_then_derive_returns_the_same_credentials(quiet_exchange: ExchangeThread) -> None:
    client = ClobClient(host=quiet_exchange.url, chain_id=137, key=throwaway_key("keys"))
    created = client.create_api_key()
    derived = client.create_or_derive_api_key()  # create fails (exists) -> derive
    assert created == derived
    client.set_api_creds(derived)
    assert client.get_api_keys() == {"apiKeys": [created.api_key]}


def test_derive_without_a_key_is_refused_with_the_real_wording(quiet_exchange: ExchangeThread) -> None:
    client = ClobClient(host=quiet_exchange.url, chain_id=137, key=throwaway_key("never-created"))
    with pytest.raises(PolyApiException) as caught:
        client.derive_api_key()
    assert caught.value.status_code == 400
    assert caught.value.error_msg == {"error": "Could not derive api key!"}


def test_server_info_matches_what_the_client_expects(quiet_exchange: ExchangeThread) -> None:
    client = ClobClient(host=quiet_exchange.url, chain_id=137)
    assert client.get_ok() == "OK"
    assert client.get_version() == 2
    assert isinstance(client.get_server_time(), int)
    assert client.get_tick_size(BTC.yes_token) == "0.001"
    assert client.get_neg_risk(CUP.yes_token) is True
    assert client.get_markets()["next_cursor"] == "LTE="


def test_post_only_gtc_rests_and_shows_in_the_book(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "rest-maker")
    response = post_only_bid(maker, FED.yes_token, 0.31, 10)
    assert response["success"] is True and response["status"] == "live"
    assert response["orderID"].startswith("0x") and len(response["orderID"]) == 66
    book = maker.get_order_book(FED.yes_token)
    assert {"price": "0.31", "size": "10"} in book["bids"]
    no_book = maker.get_order_book(FED.no_token)  # mirrored: a YES bid at 0.31 is a NO ask at 0.69
    assert {"price": "0.69", "size": "10"} in no_book["asks"]
    order = maker.get_order(response["orderID"])
    assert order["status"] == "LIVE" and order["original_size"] == "10" and order["price"] == "0.31"
    maker.cancel_all()


def test_book_levels_are_best_last_and_the_hash_is_the_clients(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "hash-maker")
    for price in (0.21, 0.23, 0.22):
        post_only_bid(maker, BTC.yes_token, price, 5)
    book = maker.get_order_book(BTC.yes_token)
    prices = [Decimal(b["price"]) for b in book["bids"]]
    assert prices == sorted(prices)  # ascending: best bid last
    assert maker.get_order_book_hash(dict(book)) == book["hash"]
    maker.cancel_all()


def test_batch_post_returns_one_result_per_order_in_request_order(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "batch-maker")
    orders = [
        PostOrdersV2Args(
            order=maker.create_order(OrderArgsV2(token_id=FED.yes_token, price=p, size=5, side="BUY"))
        )
        for p in (0.11, 0.12, 0.13)
    ]
    bad = maker.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.14, size=5, side="BUY"))
    bad.makerAmount = str(int(bad.makerAmount) + 3)  # tampered after signing
    results = maker.post_orders([*orders, PostOrdersV2Args(order=bad)], post_only=True)
    assert [r["success"] for r in results] == [True, True, True, False]
    assert results[3]["errorMsg"] == "invalid signature"
    assert len(maker.get_open_orders()) == 3
    maker.cancel_all()


def test_more_than_fifteen_orders_in_a_batch_is_refused(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "big-batch")
    orders = [
        PostOrdersV2Args(
            order=maker.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.05, size=5, side="BUY"))
        )
        for _ in range(16)
    ]
    with pytest.raises(PolyApiException) as caught:
        maker.post_orders(orders)
    assert caught.value.error_msg == {"error": "Too many orders in payload: 16, max allowed: 15"}


def test_open_orders_are_read_over_several_pages(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "pages")  # the fixture serves pages of 5
    placed = {post_only_bid(maker, BTC.no_token, 0.1 + i / 1000, 5)["orderID"] for i in range(12)}
    listed = maker.get_open_orders()
    assert {o["id"] for o in listed} == placed
    first = maker.get_open_orders(only_first_page=True)
    assert len(first) == 5
    only_one = maker.get_open_orders(OpenOrderParams(id=sorted(placed)[0]))
    assert [o["id"] for o in only_one] == [sorted(placed)[0]]
    maker.cancel_all()


def test_cancel_single_batch_market_and_all(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "cancels")
    ids = [post_only_bid(maker, FED.yes_token, 0.05 + i / 100, 5)["orderID"] for i in range(4)]
    btc_id = post_only_bid(maker, BTC.yes_token, 0.05, 5)["orderID"]
    cup_id = post_only_bid(maker, CUP.yes_token, 0.05, 5)["orderID"]

    assert maker.cancel_order(OrderPayload(orderID=ids[0])) == {"canceled": [ids[0]], "not_canceled": {}}
    again = maker.cancel_order(OrderPayload(orderID=ids[0]))
    assert again == {"canceled": [], "not_canceled": {ids[0]: "Order already canceled"}}
    batch = maker.cancel_orders([ids[1], ids[2], "0x" + "ab" * 32])
    assert sorted(batch["canceled"]) == sorted([ids[1], ids[2]])
    assert batch["not_canceled"] == {"0x" + "ab" * 32: "Order not found"}
    assert maker.cancel_market_orders(OrderMarketCancelParams(market=FED.condition_id))["canceled"] == [
        ids[3]
    ]
    assert maker.cancel_market_orders(OrderMarketCancelParams(asset_id=BTC.yes_token))["canceled"] == [btc_id]
    assert maker.cancel_all()["canceled"] == [cup_id]
    assert maker.get_open_orders() == []


def test_someone_elses_order_cannot_be_canceled(quiet_exchange: ExchangeThread) -> None:
    owner = trader(quiet_exchange, "owner")
    other = trader(quiet_exchange, "other")
    oid = post_only_bid(owner, FED.yes_token, 0.07, 5)["orderID"]
    assert other.cancel_order(OrderPayload(orderID=oid))["not_canceled"] == {oid: "Order not found"}
    assert [o["id"] for o in owner.get_open_orders()] == [oid]
    owner.cancel_all()


def test_normal_match_moves_shares_and_cash_at_the_makers_price(fresh_exchange: ExchangeThread) -> None:
    maker = trader(fresh_exchange, "normal-maker")
    taker = trader(fresh_exchange, "normal-taker")
    seller = trader(fresh_exchange, "normal-seller")
    # the seller needs shares to sell: buy them via a mint first (seller BUY YES vs maker BUY NO)
    post_only_bid(maker, FED.no_token, 0.55, 20)  # YES ask at 0.45
    seller.create_and_post_order(OrderArgsV2(token_id=FED.yes_token, price=0.45, size=20, side="BUY"))
    ask = seller.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.60, size=10, side="SELL"))
    assert seller.post_order(ask, OrderType.GTC, post_only=True)["status"] == "live"

    result = taker.create_and_post_order(
        OrderArgsV2(token_id=FED.yes_token, price=0.65, size=10, side="BUY"), order_type=OrderType.GTC
    )
    assert result["status"] == "matched"
    assert result["makingAmount"] == "6" and result["takingAmount"] == "10"  # paid the maker's 0.60
    assert len(result["transactionsHashes"]) == 1 == len(result["tradeIDs"])
    trades = taker.get_trades(TradeParams(market=FED.condition_id))
    assert len(trades) == 1
    trade = trades[0]
    assert trade["trader_side"] == "TAKER" and trade["side"] == "BUY" and trade["price"] == "0.6"
    assert trade["status"] == "CONFIRMED"
    seller_view = seller.get_trades(TradeParams(id=trade["id"]))[0]
    assert seller_view["trader_side"] == "MAKER"
    assert seller_view["maker_orders"][0]["side"] == "SELL"
    assert seller_view["maker_orders"][0]["matched_amount"] == "10"
    shares = taker.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=FED.yes_token)
    )
    assert shares["balance"] == "10000000"
    fee = Decimal(10) * Decimal("0.04") * Decimal("0.6") * Decimal("0.4")  # taker fee at 0.60
    cash = taker.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    assert Decimal(cash["balance"]) == (Decimal(1000) - 6 - fee) * 1_000_000


def test_mint_match_pairs_a_yes_buyer_with_a_no_buyer(fresh_exchange: ExchangeThread) -> None:
    yes_buyer = trader(fresh_exchange, "mint-yes")
    no_buyer = trader(fresh_exchange, "mint-no")
    post_only_bid(no_buyer, FED.no_token, 0.42, 10)  # a YES ask at 0.58
    result = yes_buyer.create_and_post_order(
        OrderArgsV2(token_id=FED.yes_token, price=0.58, size=10, side="BUY")
    )
    assert result["status"] == "matched"
    maker_side = no_buyer.get_trades()[0]["maker_orders"][0]
    assert (
        maker_side["asset_id"] == FED.no_token
        and maker_side["side"] == "BUY"
        and maker_side["price"] == "0.42"
    )
    for client, token in ((yes_buyer, FED.yes_token), (no_buyer, FED.no_token)):
        got = client.get_balance_allowance(
            BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token)
        )
        assert got["balance"] == "10000000"


def test_merge_match_pairs_a_yes_seller_with_a_no_seller(fresh_exchange: ExchangeThread) -> None:
    yes_holder = trader(fresh_exchange, "merge-yes")
    no_holder = trader(fresh_exchange, "merge-no")
    # give each holder shares by minting between them
    post_only_bid(no_holder, FED.no_token, 0.50, 10)
    yes_holder.create_and_post_order(OrderArgsV2(token_id=FED.yes_token, price=0.50, size=10, side="BUY"))
    yes_before = Decimal(
        yes_holder.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))["balance"]
    )

    no_ask = no_holder.create_order(OrderArgsV2(token_id=FED.no_token, price=0.45, size=10, side="SELL"))
    assert no_holder.post_order(no_ask, OrderType.GTC, post_only=True)["status"] == "live"  # = YES bid 0.55
    sell = yes_holder.create_and_post_order(
        OrderArgsV2(token_id=FED.yes_token, price=0.55, size=10, side="SELL")
    )
    assert sell["status"] == "matched"
    maker_side = no_holder.get_trades(TradeParams(id=sell["tradeIDs"][0]))[0]["maker_orders"][0]
    assert maker_side["asset_id"] == FED.no_token and maker_side["side"] == "SELL"
    yes_after = Decimal(
        yes_holder.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))["balance"]
    )
    fee = Decimal(10) * Decimal("0.04") * Decimal("0.55") * Decimal("0.45")
    assert yes_after - yes_before == (Decimal("5.5") - fee) * 1_000_000


def test_heartbeat_chain_and_resync(quiet_exchange: ExchangeThread) -> None:
    client = trader(quiet_exchange, "heartbeat")
    first = client.post_heartbeat("")["heartbeat_id"]
    second = client.post_heartbeat(first)["heartbeat_id"]
    assert second != first
    with pytest.raises(PolyApiException) as caught:
        client.post_heartbeat(first)  # stale id
    assert caught.value.status_code == 400
    assert caught.value.error_msg == {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": second}
    assert client.post_heartbeat(second)["heartbeat_id"]


def test_balance_allowance_reports_base_units_and_three_spenders(quiet_exchange: ExchangeThread) -> None:
    client = trader(quiet_exchange, "balance", pusd=250)
    got = client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    assert got["balance"] == "250000000"
    assert len(got["allowances"]) == 3
    assert client.update_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)) == ""
    with pytest.raises(PolyApiException) as caught:
        client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL))
    assert caught.value.error_msg == {"error": "assetId invalid value -1"}


def test_neg_risk_market_orders_are_signed_for_the_neg_risk_exchange(quiet_exchange: ExchangeThread) -> None:
    maker = trader(quiet_exchange, "neg-risk")
    response = post_only_bid(maker, CUP.yes_token, 0.12, 5)
    assert response["success"] is True
    # the same order signed for the standard exchange does not verify on a neg-risk market
    wrong = maker.create_order(
        OrderArgsV2(token_id=CUP.yes_token, price=0.13, size=5, side="BUY"),
        PartialCreateOrderOptions(neg_risk=False),
    )
    with pytest.raises(PolyApiException) as caught:
        maker.post_order(wrong, OrderType.GTC, post_only=True)
    assert caught.value.error_msg == {"error": "invalid signature"}
    maker.cancel_all()
