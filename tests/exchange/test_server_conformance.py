"""The exchange's market-channel messages have the keys and value types of real Polymarket captures
(nautilus_trader's, in tests/fixtures: see its README)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, OrderType

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fixture_path, fund, throwaway_key

BTC = sample_markets()[1]


def shape(value: Any) -> Any:
    """Keys and value types, recursively; lists by the shape of their first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def captured(relative: str) -> list[dict[str, Any]]:
    data = json.loads(fixture_path(relative).read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def first_of(messages: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(m for m in messages if m["event_type"] == kind)


async def collect_exchange_messages(server: ExchangeThread) -> list[dict[str, Any]]:
    maker = ClobClient(host=server.url, chain_id=137, key=throwaway_key("conformance-maker"))
    maker.set_api_creds(maker.create_or_derive_api_key())
    taker = ClobClient(host=server.url, chain_id=137, key=throwaway_key("conformance-taker"))
    taker.set_api_creds(taker.create_or_derive_api_key())
    for client in (maker, taker):
        fund(server, client.get_address(), 500)
    messages: list[dict[str, Any]] = []
    # both sides rest before we subscribe, so the snapshot has levels on each side
    maker.post_order(
        maker.create_order(OrderArgsV2(token_id=BTC.no_token, price=0.5, size=20, side="BUY")), OrderType.GTC
    )
    maker.post_order(
        maker.create_order(OrderArgsV2(token_id=BTC.yes_token, price=0.2, size=20, side="BUY")), OrderType.GTC
    )
    async with websockets.connect(f"{server.ws_url}/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [BTC.yes_token, BTC.no_token]}))
        maker.post_order(
            maker.create_order(OrderArgsV2(token_id=BTC.yes_token, price=0.301, size=20, side="BUY")),
            OrderType.GTC,
        )
        taker.create_and_post_order(
            OrderArgsV2(token_id=BTC.no_token, price=0.699, size=10, side="BUY"), order_type=OrderType.FAK
        )
        httpx.post(
            f"{server.url}/_local/faults",
            json={"tick_change": {"market": BTC.condition_id, "tick_size": 0.0001}},
        )
        while not any(m["event_type"] == "tick_size_change" for m in messages):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            messages.extend(frame if isinstance(frame, list) else [frame])
    return messages


@pytest.fixture(scope="module")
def exchange_messages() -> list[dict[str, Any]]:
    from tests.conftest import start_exchange

    server = start_exchange()
    try:
        return asyncio.run(collect_exchange_messages(server))
    finally:
        server.stop()


def test_book_event_matches_the_2026_subscription_snapshot(exchange_messages: list[dict[str, Any]]) -> None:
    real = first_of(captured("01_ws_current_format/nautilus__ws_book_snapshot_captured.json"), "book")
    ours = first_of(exchange_messages, "book")
    assert shape(ours) == shape(real)


def test_the_book_sent_after_a_trade_matches_the_2026_capture_key_for_key(
    exchange_messages: list[dict[str, Any]],
) -> None:
    real = captured("01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json")[-1]
    traded_at = next(i for i, m in enumerate(exchange_messages) if m["event_type"] == "last_trade_price")
    ours = first_of(exchange_messages[traded_at:], "book")
    assert list(ours) == list(real)  # same keys in the same order: no tick_size, no last_trade_price
    assert shape(ours) == shape(real)


def test_price_change_matches_the_current_format_capture(exchange_messages: list[dict[str, Any]]) -> None:
    real = first_of(
        captured("01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json"), "price_change"
    )
    ours = first_of(exchange_messages, "price_change")
    assert shape(ours) == shape(real)
    sides = {(c["asset_id"], c["side"]) for c in ours["price_changes"]}
    assert sides == {(BTC.yes_token, "BUY"), (BTC.no_token, "SELL")}  # mirrored entries, as in the capture


def test_last_trade_price_matches_the_capture_plus_the_2026_transaction_hash(
    exchange_messages: list[dict[str, Any]],
) -> None:
    real = captured("02_ws_legacy_format/nautilus__ws_last_trade_price_2024-08-25.json")[0]
    ours = first_of(exchange_messages, "last_trade_price")
    assert shape({k: v for k, v in ours.items() if k != "transaction_hash"}) == shape(real)
    assert isinstance(ours["transaction_hash"], str) and ours["transaction_hash"].startswith("0x")


def test_tick_size_change_matches_the_capture(exchange_messages: list[dict[str, Any]]) -> None:
    real = captured("02_ws_legacy_format/nautilus__ws_tick_size_change_2025-02-09.json")[0]
    ours = first_of(exchange_messages, "tick_size_change")
    assert shape(ours) == shape(real)
    assert (ours["old_tick_size"], ours["new_tick_size"]) == ("0.001", "0.0001")
