"""Resolution over HTTP and WebSocket: `POST /_local/resolve` (loopback only) stops trading, the user
channel sees the cancellations, the market channel a `market_resolved` (custom feature only, as on
Polymarket), the listing the winner; `POST /_local/redeem` (L2) pays the winning tokens once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import websockets

from polymm_cli import signing
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fund, throwaway_key
from tests.exchange.test_server_local_chain import api_creds, bid, post_order

FED = sample_markets()[0]
SUN = sample_markets()[3]
CLOSED_MARKET = "the market is not yet ready to process new orders"


def l2_post(
    server: ExchangeThread, creds: dict[str, str], address: str, path: str, payload: Any
) -> httpx.Response:
    body = json.dumps(payload, separators=(",", ":"))
    headers = signing.l2_headers(
        address, creds["apiKey"], creds["secret"], creds["passphrase"], int(time.time()), "POST", path, body
    )
    return httpx.post(f"{server.url}{path}", content=body, headers=headers)


async def _events_until(ws: Any, wanted: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every event up to and including the first of type `wanted`."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.recv()
            if frame == "PONG":
                continue
            payload = json.loads(frame)
            for event in payload if isinstance(payload, list) else [payload]:
                seen.append(event)
                if event.get("event_type") == wanted:
                    return seen


async def _market_ws(server: ExchangeThread, custom: bool) -> Any:
    ws = await websockets.connect(f"{server.ws_url}/market")
    await ws.send(
        json.dumps({"type": "market", "assets_ids": [FED.yes_token], "custom_feature_enabled": custom})
    )
    await _events_until(ws, "book")
    return ws


async def test_resolving_over_http_stops_trading_and_tells_both_channels(
    fresh_exchange: ExchangeThread,
) -> None:
    signer = signing.OrderSigner(throwaway_key("resolve-http"), chain_id=signing.LOCAL_CHAIN_ID)
    creds = api_creds(fresh_exchange, signer)
    fund(fresh_exchange, signer.address, 100)
    assert (
        l2_post(
            fresh_exchange,
            creds,
            signer.address,
            "/_local/split",
            {"market": FED.condition_id, "amount": "10"},
        ).status_code
        == 200
    )
    order = bid(signer, FED, "0.20")
    assert post_order(fresh_exchange, creds, signer.address, order).status_code == 200

    user = await websockets.connect(f"{fresh_exchange.ws_url}/user")
    auth = {"apiKey": creds["apiKey"], "secret": creds["secret"], "passphrase": creds["passphrase"]}
    await user.send(json.dumps({"type": "user", "auth": auth}))
    await user.send("PING")
    assert await asyncio.wait_for(user.recv(), 5) == "PONG"
    custom, plain = await _market_ws(fresh_exchange, True), await _market_ws(fresh_exchange, False)

    early = l2_post(
        fresh_exchange, creds, signer.address, "/_local/redeem", {"condition_id": FED.condition_id}
    )
    assert (early.status_code, early.json()) == (
        400,
        {"error": f"market {FED.condition_id} is not resolved yet"},
    )

    response = httpx.post(
        f"{fresh_exchange.url}/_local/resolve", json={"condition_id": FED.condition_id, "winner": "YES"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "condition_id": FED.condition_id,
        "winner": FED.yes_token,
        "winning_outcome": "Yes",
    }
    [cancel] = [e for e in await _events_until(user, "order") if e["event_type"] == "order"]
    assert (cancel["id"], cancel["type"], cancel["status"]) == (
        order.order_id,
        "CANCELLATION",
        "CANCELED_MARKET_RESOLVED",
    )
    resolved = (await _events_until(custom, "market_resolved"))[-1]
    assert {k: resolved[k] for k in ("market", "assets_ids", "winning_asset_id", "winning_outcome")} == {
        "market": FED.condition_id,
        "assets_ids": [FED.yes_token, FED.no_token],
        "winning_asset_id": FED.yes_token,
        "winning_outcome": "Yes",
    }
    assert set(resolved) == {
        *("event_type", "id", "question", "market", "slug", "description", "assets_ids"),
        *("winning_asset_id", "winning_outcome", "event_message", "timestamp", "tags"),
    }
    await plain.send("PING")  # frames are handled in order: all it was sent comes before the PONG
    frames = []
    async with asyncio.timeout(5):
        while (frame := await plain.recv()) != "PONG":
            frames.append(json.loads(frame))
    assert "market_resolved" not in json.dumps(frames)  # custom feature only
    for ws in (user, custom, plain):
        await ws.close()

    listing = httpx.get(f"{fresh_exchange.url}/markets/{FED.condition_id}").json()
    assert (listing["closed"], listing["accepting_orders"]) == (True, False)
    assert [(t["outcome"], t["winner"]) for t in listing["tokens"]] == [("Yes", True), ("No", False)]
    refused = post_order(fresh_exchange, creds, signer.address, bid(signer, FED, "0.21"))
    assert (refused.status_code, refused.json()) == (400, {"error": CLOSED_MARKET})

    paid = l2_post(
        fresh_exchange, creds, signer.address, "/_local/redeem", {"condition_id": FED.condition_id}
    )
    again = l2_post(
        fresh_exchange, creds, signer.address, "/_local/redeem", {"condition_id": FED.condition_id}
    )
    assert (paid.status_code, paid.json()) == (200, {"payout": "10"})
    assert (again.status_code, again.json()) == (200, {"payout": "0"})
    twice = httpx.post(
        f"{fresh_exchange.url}/_local/resolve", json={"condition_id": FED.condition_id, "winner": "NO"}
    )
    assert twice.status_code == 409


def test_resolve_and_redeem_refuse_unknown_markets_and_bad_bodies(fresh_exchange: ExchangeThread) -> None:
    signer = signing.OrderSigner(throwaway_key("resolve-bad"), chain_id=signing.LOCAL_CHAIN_ID)
    creds = api_creds(fresh_exchange, signer)
    unknown = "0x" + "00" * 32
    url = f"{fresh_exchange.url}/_local/resolve"

    answers = [
        httpx.post(url, json={"condition_id": unknown, "winner": "YES"}),
        httpx.post(url, json={"condition_id": SUN.condition_id, "winner": "MAYBE"}),
        httpx.post(url, json={"condition_id": SUN.condition_id}),
        l2_post(fresh_exchange, creds, signer.address, "/_local/redeem", {"condition_id": unknown}),
        httpx.post(f"{fresh_exchange.url}/_local/redeem", json={"condition_id": SUN.condition_id}),  # no L2
    ]

    assert [r.status_code for r in answers] == [404, 400, 400, 404, 401]
    assert answers[0].json() == {"error": f"market not found: {unknown}"}
    assert answers[1].json()["error"].startswith("invalid winner 'MAYBE'")
    assert not fresh_exchange.call(lambda: fresh_exchange.server.exchange.markets[SUN.condition_id].resolved)


def test_resolve_answers_loopback_callers_only(fresh_exchange: ExchangeThread) -> None:
    response = httpx.post(
        f"{fresh_exchange.url}/_local/resolve",
        json={"condition_id": SUN.condition_id, "winner": "YES"},
        headers={"Host": "evil.example"},
    )

    assert (response.status_code, response.json()) == (403, {"error": "forbidden: loopback only"})
    assert not fresh_exchange.call(lambda: fresh_exchange.server.exchange.markets[SUN.condition_id].resolved)
