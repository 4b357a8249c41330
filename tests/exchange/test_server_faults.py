"""Fault injection: each fault is off by default, switchable at run time, and acts like the real incident."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams, OrderArgsV2, OrderType
from py_clob_client_v2.exceptions import PolyApiException

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fund, throwaway_key

FED = sample_markets()[0]


def set_faults(server: ExchangeThread, **changes: object) -> dict[str, object]:
    response = httpx.post(f"{server.url}/_local/faults", json=changes)
    response.raise_for_status()
    return response.json()


def test_no_fault_is_on_by_default(fresh_exchange: ExchangeThread) -> None:
    faults = httpx.get(f"{fresh_exchange.url}/_local/faults").json()
    assert faults["latency_ms"] == 0 and faults["error_status"] == 0 and faults["ws_stall"] is False


def test_unknown_fault_names_are_refused(fresh_exchange: ExchangeThread) -> None:
    response = httpx.post(f"{fresh_exchange.url}/_local/faults", json={"meteor": True})
    assert response.status_code == 400 and "unknown fault" in response.json()["error"]


def test_429_burst_carries_retry_after_then_service_resumes(fresh_exchange: ExchangeThread) -> None:
    set_faults(fresh_exchange, error_status=429, error_count=2, retry_after_s=3)
    first = httpx.get(f"{fresh_exchange.url}/book", params={"token_id": FED.yes_token})
    second = httpx.get(f"{fresh_exchange.url}/book", params={"token_id": FED.yes_token})
    third = httpx.get(f"{fresh_exchange.url}/book", params={"token_id": FED.yes_token})
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    assert first.json() == {"error": "Too Many Requests"}


def test_5xx_burst(fresh_exchange: ExchangeThread) -> None:
    set_faults(fresh_exchange, error_status=503, error_count=1)
    assert httpx.get(f"{fresh_exchange.url}/ok").status_code == 503
    assert httpx.get(f"{fresh_exchange.url}/ok").status_code == 200


def test_restart_window_answers_425_on_order_routes_only(fresh_exchange: ExchangeThread) -> None:
    client = ClobClient(host=fresh_exchange.url, chain_id=137, key=throwaway_key("restart-window"))
    client.set_api_creds(client.create_or_derive_api_key())
    fund(fresh_exchange, client.get_address(), 100)
    set_faults(fresh_exchange, restart_for_s=30)
    with pytest.raises(PolyApiException) as caught:
        client.create_and_post_order(OrderArgsV2(token_id=FED.yes_token, price=0.2, size=5, side="BUY"))
    assert caught.value.status_code == 425
    assert client.get_open_orders() == []  # reads still work
    set_faults(fresh_exchange, restart_for_s=0)
    assert client.create_and_post_order(OrderArgsV2(token_id=FED.yes_token, price=0.2, size=5, side="BUY"))[
        "success"
    ]


def test_added_latency_delays_every_request(fresh_exchange: ExchangeThread) -> None:
    set_faults(fresh_exchange, latency_ms=150)
    started = time.monotonic()
    httpx.get(f"{fresh_exchange.url}/ok")
    assert time.monotonic() - started >= 0.15


async def test_a_stalled_socket_stays_open_but_silent_and_a_drop_closes_it(
    fresh_exchange: ExchangeThread,
) -> None:
    async with websockets.connect(f"{fresh_exchange.ws_url}/market") as ws:
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
        set_faults(fresh_exchange, ws_stall=True)
        await ws.send("PING")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
        set_faults(fresh_exchange, ws_stall=False)
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
        set_faults(fresh_exchange, ws_drop=True)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


def test_failed_settlement_rolls_balances_back_after_showing_the_fill(fresh_exchange: ExchangeThread) -> None:
    maker = ClobClient(host=fresh_exchange.url, chain_id=137, key=throwaway_key("ghost-maker"))
    maker.set_api_creds(maker.create_or_derive_api_key())
    taker = ClobClient(host=fresh_exchange.url, chain_id=137, key=throwaway_key("ghost-taker"))
    taker.set_api_creds(taker.create_or_derive_api_key())
    for client in (maker, taker):
        fund(fresh_exchange, client.get_address(), 100)
    set_faults(fresh_exchange, settlement_fail_rate=1.0, settlement_delay_s=0.4)
    maker.post_order(
        maker.create_order(OrderArgsV2(token_id=FED.no_token, price=0.5, size=10, side="BUY")), OrderType.GTC
    )
    result = taker.create_and_post_order(
        OrderArgsV2(token_id=FED.yes_token, price=0.5, size=10, side="BUY"), order_type=OrderType.FAK
    )
    assert result["status"] == "matched"
    trade_id = result["tradeIDs"][0]
    assert taker.get_trades()[0]["status"] in ("MATCHED", "RETRYING")
    deadline = time.monotonic() + 5
    while taker.get_trades()[0]["status"] != "FAILED":
        assert time.monotonic() < deadline, "trade never failed"
        time.sleep(0.05)
    assert taker.get_trades()[0]["id"] == trade_id
    for client in (maker, taker):
        cash = client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        assert cash["balance"] == "100000000"  # the ghost fill: money back, no shares
    shares = taker.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=FED.yes_token)
    )
    assert shares["balance"] == "0"


def test_control_plane_answers_loopback_callers_only(fresh_exchange: ExchangeThread) -> None:
    # every test client is on loopback; the check itself is unit-tested on the helper
    from starlette.requests import Request

    from polymm_cli.exchange.server.app import _is_loopback

    def request_from(host: str) -> Request:
        return Request({"type": "http", "client": (host, 1234), "headers": [], "method": "GET", "path": "/"})

    assert _is_loopback(request_from("127.0.0.1")) and _is_loopback(request_from("::1"))
    assert not _is_loopback(request_from("10.1.2.3"))
    assert json.loads(httpx.get(f"{fresh_exchange.url}/_local/status").text)["markets"] == 4


def test_funding_once_credits_a_wallet_only_the_first_time(fresh_exchange: ExchangeThread) -> None:
    address = "0x" + "0f" * 20
    first = httpx.post(
        f"{fresh_exchange.url}/_local/fund", json={"address": address, "amount": "100", "once": True}
    )
    again = httpx.post(
        f"{fresh_exchange.url}/_local/fund", json={"address": address, "amount": "100", "once": True}
    )
    assert first.json() == {"ok": True, "funded": True}
    assert again.json() == {"ok": True, "funded": False}
    balance = fresh_exchange.call(lambda: fresh_exchange.server.exchange.account(address).collateral)
    assert balance == 100


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil:80", "[::2]:80", ""],
)
def test_control_plane_refuses_a_request_naming_another_host(
    fresh_exchange: ExchangeThread, host: str
) -> None:
    """DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 reaches the exchange from loopback,
    but its requests still say Host: evil.example."""
    address = "0x" + "e1" * 20
    headers = {"Host": host}

    status = httpx.get(f"{fresh_exchange.url}/_local/status", headers=headers)
    faults = httpx.post(f"{fresh_exchange.url}/_local/faults", json={"latency_ms": 5000}, headers=headers)
    funded = httpx.post(
        f"{fresh_exchange.url}/_local/fund", json={"address": address, "amount": "1000"}, headers=headers
    )

    assert [r.status_code for r in (status, faults, funded)] == [403, 403, 403]
    assert funded.json() == {"error": "forbidden: loopback only"}
    assert httpx.get(f"{fresh_exchange.url}/_local/faults").json()["latency_ms"] == 0
    assert fresh_exchange.call(lambda: fresh_exchange.server.exchange.accounts.get(address)) is None


@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example:443", "null", "file://"])
def test_control_plane_refuses_a_browser_page_from_another_origin(
    fresh_exchange: ExchangeThread, origin: str
) -> None:
    response = httpx.post(
        f"{fresh_exchange.url}/_local/faults", json={"ws_stall": True}, headers={"Origin": origin}
    )

    assert response.status_code == 403
    assert httpx.get(f"{fresh_exchange.url}/_local/faults").json()["ws_stall"] is False


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("127.0.0.1:1234", None),
        ("localhost", "http://localhost:3000"),
        ("LOCALHOST:80", "http://127.0.0.1"),
        ("[::1]:8080", "https://[::1]:8443"),
    ],
)
def test_control_plane_answers_loopback_names_and_origins(
    fresh_exchange: ExchangeThread, host: str, origin: str | None
) -> None:
    headers = {"Host": host} | ({"Origin": origin} if origin else {})

    assert httpx.get(f"{fresh_exchange.url}/_local/status", headers=headers).status_code == 200


def test_a_forwarded_for_header_does_not_change_who_is_calling(fresh_exchange: ExchangeThread) -> None:
    """Proxy headers are off: the peer that connected is the caller, whatever X-Forwarded-For says
    (with uvicorn's default, a loopback peer could name any address, and $FORWARDED_ALLOW_IPS=*
    would let a remote one claim 127.0.0.1)."""
    response = httpx.get(f"{fresh_exchange.url}/_local/faults", headers={"X-Forwarded-For": "203.0.113.9"})

    assert response.status_code == 200


BAD_FAULTS = [
    {"error_status": 200, "error_count": 1},
    {"error_status": 302, "error_count": 1},
    {"error_status": 600},
    {"error_status": "503"},
    {"error_status": 503, "error_count": -1},
    {"error_status": 503, "error_count": 10**9},
    {"error_status": 503, "error_count": 2.5},
    {"error_status": 503, "error_rate": 1.5},
    {"error_count": 3},
    {"latency_ms": -5},
    {"latency_ms": 10**9},
    {"latency_ms": "150"},
    {"latency_ms": True},
    {"retry_after_s": 86_400},
    {"restart_for_s": 10**7},
    {"ws_stall": "yes"},
    {"settlement_fail_rate": 2},
    {"settlement_delay_s": -1},
    {"tick_change": "soon"},
    {"tick_change": {"market": FED.condition_id, "tick_size": 0.02}},
    {"tick_change": {"market": "0x" + "00" * 32, "tick_size": 0.001}},
    {"tick_change": {"market": FED.condition_id, "tick_size": "0.001", "after_s": -1}},
    {"latency_ms": 100, "settlement_fail_rate": 1.0, "error_status": 200},  # good ones are not applied either
]


@pytest.mark.parametrize("changes", BAD_FAULTS, ids=[json.dumps(c)[:60] for c in BAD_FAULTS])
def test_an_out_of_range_fault_is_a_400_with_a_one_line_reason_and_changes_nothing(
    fresh_exchange: ExchangeThread, changes: dict[str, object]
) -> None:
    before = httpx.get(f"{fresh_exchange.url}/_local/faults").json()
    settlement = fresh_exchange.call(lambda: fresh_exchange.server.exchange.settlement)

    response = httpx.post(f"{fresh_exchange.url}/_local/faults", json=changes)

    assert response.status_code == 400
    reason = response.json()["error"]
    assert "\n" not in reason and any(key in reason for key in changes)
    assert httpx.get(f"{fresh_exchange.url}/_local/faults").json() == before
    assert fresh_exchange.call(lambda: fresh_exchange.server.exchange.settlement) == settlement


def test_faults_in_range_are_applied(fresh_exchange: ExchangeThread) -> None:
    applied = set_faults(
        fresh_exchange,
        latency_ms=0,
        error_status=500,
        error_count=0,
        error_rate=0.0,
        retry_after_s=2,
        ws_stall=False,
    )
    set_faults(
        fresh_exchange, tick_change={"market": FED.condition_id, "tick_size": "0.001", "after_s": 3600}
    )

    assert (applied["error_status"], applied["retry_after_s"]) == (500, 2)
    assert httpx.get(f"{fresh_exchange.url}/_local/faults").json()["tick_change_at"] > time.time()


def test_a_control_body_that_is_not_utf8_is_a_400(fresh_exchange: ExchangeThread) -> None:
    for path in ("/_local/fund", "/_local/faults"):
        assert httpx.post(f"{fresh_exchange.url}{path}", content=b'{"a":"\xff"}').status_code == 400


def test_funding_needs_a_hex_address(fresh_exchange: ExchangeThread) -> None:
    address = "0x" + "zz" * 20

    response = httpx.post(f"{fresh_exchange.url}/_local/fund", json={"address": address, "amount": "5"})

    assert response.status_code == 400
    assert fresh_exchange.call(lambda: fresh_exchange.server.exchange.accounts.get(address)) is None


def test_the_control_plane_lists_an_address_open_orders_while_every_other_route_fails(
    fresh_exchange: ExchangeThread,
) -> None:
    """What a test or the soak watches a bot through when its own requests are being failed."""
    key = throwaway_key("local-orders")
    client = ClobClient(host=fresh_exchange.url, chain_id=137, key=key)
    client.set_api_creds(client.create_or_derive_api_key())
    fund(fresh_exchange, client.get_address(), 100)
    client.create_and_post_order(OrderArgsV2(token_id=FED.yes_token, price=0.21, size=5, side="BUY"))
    set_faults(fresh_exchange, error_status=503, error_count=1000)
    try:
        listed = httpx.get(f"{fresh_exchange.url}/_local/orders", params={"address": client.get_address()})
        refused = httpx.get(f"{fresh_exchange.url}/_local/orders", params={"address": "0x12"})
        failing = httpx.get(f"{fresh_exchange.url}/book", params={"token_id": FED.yes_token})
    finally:
        set_faults(fresh_exchange, error_status=0)

    assert failing.status_code == 503
    [order] = listed.json()
    assert (order["price"], order["original_size"], order["asset_id"]) == ("0.21", "5", FED.yes_token)
    assert refused.status_code == 400
