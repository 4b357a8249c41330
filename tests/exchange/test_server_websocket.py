"""The exchange's WebSocket channels: exact event sequences for placement, partial and full fill, cancel."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, OrderPayload, OrderType

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fund, throwaway_key

FED = sample_markets()[0]


def trader(server: ExchangeThread, label: str) -> ClobClient:
    client = ClobClient(host=server.url, chain_id=137, key=throwaway_key(label))
    client.set_api_creds(client.create_or_derive_api_key())
    fund(server, client.get_address(), 1000)
    return client


class Feed:
    """One WebSocket subscription, flattening array frames into single events."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def next_events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while len(events) < count:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            payload = json.loads(frame)
            events.extend(payload if isinstance(payload, list) else [payload])
        return events

    async def nothing_more(self, within: float = 0.3) -> bool:
        try:
            await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            return True
        return False


async def market_feed(server: ExchangeThread, assets: list[str]) -> Feed:
    ws = await websockets.connect(f"{server.ws_url}/market")
    await ws.send(json.dumps({"type": "market", "assets_ids": assets}))
    return Feed(ws)


async def user_feed(server: ExchangeThread, client: ClobClient) -> Feed:
    ws = await websockets.connect(f"{server.ws_url}/user")
    creds = client.creds
    await ws.send(
        json.dumps(
            {
                "type": "user",
                "auth": {
                    "apiKey": creds.api_key,
                    "secret": creds.api_secret,
                    "passphrase": creds.api_passphrase,
                },
                "markets": [],
            }
        )
    )
    return Feed(ws)


async def subscribed(feed: Feed) -> Feed:
    """Frames are handled in order, so a PONG means the subscription before it is in place."""
    await feed.ws.send("PING")
    while await asyncio.wait_for(feed.ws.recv(), 5) != "PONG":
        pass
    return feed


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    kind = event["event_type"]
    if kind == "price_change":
        return (
            kind,
            tuple(
                (c["asset_id"] == FED.yes_token, c["side"], c["price"], c["size"])
                for c in event["price_changes"]
            ),
        )
    if kind == "order":
        return (kind, event["type"], event["status"], event["size_matched"])
    if kind == "trade":
        return (kind, event["status"], event["trader_side"])
    if kind == "last_trade_price":
        return (kind, event["side"], event["price"], event["size"])
    if kind == "book":
        return (
            kind,
            event["asset_id"] == FED.yes_token,
            tuple((level["price"], level["size"]) for level in event["bids"]),
            tuple((level["price"], level["size"]) for level in event["asks"]),
        )
    return (kind,)


async def test_market_and_user_channels_follow_an_order_through_its_life(
    fresh_exchange: ExchangeThread,
) -> None:
    # Long on purpose: one journey end to end (arrange, act, assert); split, its order would be hidden.
    maker = trader(fresh_exchange, "ws-maker")
    taker = trader(fresh_exchange, "ws-taker")
    market = await market_feed(fresh_exchange, [FED.yes_token, FED.no_token])
    dump = await market.next_events(2)
    assert [e["event_type"] for e in dump] == ["book", "book"]
    assert {e["asset_id"] for e in dump} == {FED.yes_token, FED.no_token}
    mine = await user_feed(fresh_exchange, maker)
    theirs = await user_feed(fresh_exchange, taker)
    await asyncio.sleep(0.1)  # let both user subscriptions register before trading

    # placement
    bid = maker.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.40, size=10, side="BUY"))
    order_id = maker.post_order(bid, OrderType.GTC, post_only=True)["orderID"]
    assert [summary(e) for e in await mine.next_events(1)] == [("order", "PLACEMENT", "LIVE", "0")]
    assert [summary(e) for e in await market.next_events(1)] == [
        ("price_change", ((True, "BUY", "0.4", "10"), (False, "SELL", "0.6", "10")))
    ]

    # partial fill: BUY NO @ 0.60 is a YES ask at 0.40, so it meets our YES bid (a mint at our price)
    taker.create_and_post_order(
        OrderArgsV2(token_id=FED.no_token, price=0.60, size=4, side="BUY"), order_type=OrderType.FAK
    )
    assert [summary(e) for e in await mine.next_events(4)] == [
        ("trade", "MATCHED", "MAKER"),
        ("order", "UPDATE", "LIVE", "4"),
        ("trade", "MINED", "MAKER"),
        ("trade", "CONFIRMED", "MAKER"),
    ]
    assert [summary(e) for e in await theirs.next_events(4)] == [
        ("trade", "MATCHED", "TAKER"),
        ("order", "UPDATE", "MATCHED", "4"),
        ("trade", "MINED", "TAKER"),
        ("trade", "CONFIRMED", "TAKER"),
    ]
    assert [summary(e) for e in await market.next_events(4)] == [
        ("last_trade_price", "BUY", "0.6", "4"),
        ("price_change", ((True, "BUY", "0.4", "6"), (False, "SELL", "0.6", "6"))),
        ("book", True, (("0.4", "6"),), ()),  # a trade changed the book: a full book per token follows
        ("book", False, (), (("0.6", "6"),)),
    ]

    # full fill of the remaining 6
    taker.create_and_post_order(
        OrderArgsV2(token_id=FED.no_token, price=0.60, size=6, side="BUY"), order_type=OrderType.FAK
    )
    assert [summary(e) for e in await mine.next_events(4)] == [
        ("trade", "MATCHED", "MAKER"),
        ("order", "UPDATE", "MATCHED", "10"),
        ("trade", "MINED", "MAKER"),
        ("trade", "CONFIRMED", "MAKER"),
    ]
    assert [summary(e) for e in await market.next_events(4)] == [
        ("last_trade_price", "BUY", "0.6", "6"),
        ("price_change", ((True, "BUY", "0.4", "0"), (False, "SELL", "0.6", "0"))),
        ("book", True, (), ()),
        ("book", False, (), ()),
    ]
    assert maker.cancel_order(OrderPayload(orderID=order_id))["not_canceled"] == {
        order_id: "Order already matched"
    }

    # cancel
    ask = maker.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.70, size=5, side="BUY"))
    other_id = maker.post_order(ask, OrderType.GTC)["orderID"]
    await mine.next_events(1)
    await market.next_events(1)
    maker.cancel_order(OrderPayload(orderID=other_id))
    assert [summary(e) for e in await mine.next_events(1)] == [("order", "CANCELLATION", "CANCELED", "0")]
    assert [summary(e) for e in await market.next_events(1)] == [
        ("price_change", ((True, "BUY", "0.7", "0"), (False, "SELL", "0.3", "0")))
    ]
    assert await mine.nothing_more() and await market.nothing_more()  # no book without a trade
    for feed in (market, mine, theirs):
        await feed.ws.close()


async def test_ping_gets_pong_and_hostile_frames_get_an_error_not_a_crash(
    quiet_exchange: ExchangeThread,
) -> None:
    async with websockets.connect(f"{quiet_exchange.ws_url}/market") as ws:
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
        for hostile in (
            "{not json",
            "[1,2,3]",
            '{"type":"market","assets_ids":"abc"}',
            "x" * 70_000,
            '{"type":"market","assets_ids":["123"]}',
            "[" * 5000 + "]" * 5000,
            '{"type":"market","assets_ids":[],"custom_feature_enabled":NaN}',
        ):
            await ws.send(hostile)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert set(reply) == {"error"}
        await ws.send(json.dumps({"type": "market", "assets_ids": [FED.yes_token]}))
        dump = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert dump[0]["event_type"] == "book"


async def test_user_channel_refuses_bad_credentials(quiet_exchange: ExchangeThread) -> None:
    async with websockets.connect(f"{quiet_exchange.ws_url}/user") as ws:
        await ws.send(
            json.dumps({"type": "user", "auth": {"apiKey": "nope", "secret": "x", "passphrase": "y"}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"error": "Unauthorized/Invalid api key"}
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def test_dynamic_subscribe_and_unsubscribe(quiet_exchange: ExchangeThread) -> None:
    btc = sample_markets()[1]
    async with websockets.connect(f"{quiet_exchange.ws_url}/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [FED.yes_token]}))
        await asyncio.wait_for(ws.recv(), 5)
        await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [btc.yes_token]}))
        added = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert [b["asset_id"] for b in added] == [btc.yes_token]
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [FED.yes_token, btc.yes_token]}))
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"


async def test_a_user_trade_event_carries_match_time_in_unix_seconds_as_rest_does(
    quiet_exchange: ExchangeThread,
) -> None:
    maker = trader(quiet_exchange, "ws-match-time-maker")
    taker = trader(quiet_exchange, "ws-match-time-taker")
    feed = await subscribed(await user_feed(quiet_exchange, taker))
    maker.post_order(
        maker.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.45, size=5, side="BUY")), OrderType.GTC
    )

    started = int(time.time())
    taker.create_and_post_order(
        OrderArgsV2(token_id=FED.no_token, price=0.55, size=5, side="BUY"), order_type=OrderType.FAK
    )
    event = (await feed.next_events(1))[0]

    assert event["event_type"] == "trade" and "matchtime" not in event
    assert started <= int(event["match_time"]) <= int(time.time())
    assert event["match_time"] == str(int(event["match_time"]))  # seconds, not milliseconds
    rest = next(t for t in taker.get_trades() if t["id"] == event["id"])
    assert rest["match_time"] == event["match_time"]
    await feed.ws.close()
