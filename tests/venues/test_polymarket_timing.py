"""Latency stamps for benchmarks: the local exchange's `timing` setting (a `published_ns` and the
frame's write, `sent_ns`, on book events, an `X-Polymm-Timing` header on HTTP answers) and the
adapter's HTTP observer. Off, the exchange sends neither, as Polymarket does not. And what the
order path's HTTP client must not do per request (read the environment, hop to a thread)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
import websockets
from pydantic import SecretStr

from polymm_cli.clock import SystemClock, stamp_ns
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Side
from polymm_cli.venues.base import OrderIntent
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from tests.conftest import fund, start_exchange, throwaway_key

FED = sample_markets()[0]


async def place_and_watch(server: ExchangeThread) -> tuple[list[tuple[str, int, int, str]], dict[str, Any]]:
    """Place one bid with an HTTP observer on; what the observer saw and the book event it caused."""
    seen: list[tuple[str, int, int, str]] = []

    def observer(key: str, sent: int, answered: int, headers: Mapping[str, str]) -> None:
        seen.append((key, sent, answered, headers.get("X-Polymm-Timing", "")))

    config = PolymarketConfig.for_local_exchange(server.url, SecretStr(throwaway_key("timing")))
    async with PolymarketVenue(config, SystemClock()) as venue:
        await asyncio.to_thread(fund, server, venue.address, 100)
        venue.observe_http(observer)
        async with websockets.connect(f"{server.ws_url}/market") as ws:
            await ws.send(json.dumps({"type": "market", "assets_ids": [FED.yes_token]}))
            json.loads(await asyncio.wait_for(ws.recv(), 5))  # the book snapshot
            intent = OrderIntent(
                market=FED.condition_id,
                token_id=FED.yes_token,
                side=Side.BUY,
                price=Decimal("0.30"),
                size=Decimal(10),
            )
            assert (await venue.place([intent]))[0].ok
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return seen, event


async def test_with_timing_on_book_events_and_answers_carry_monotonic_stamps() -> None:
    server = start_exchange(timing=True)
    try:
        before = stamp_ns()
        seen, event = await place_and_watch(server)
    finally:
        server.stop()
    _, sent, answered, stamps = next(s for s in seen if s[0] == "POST /order")
    received, responded = (int(x) for x in stamps.split(","))
    assert before <= sent <= received <= responded <= answered  # one clock for client and exchange
    assert event["event_type"] == "price_change"
    assert received <= event["published_ns"] <= event["sent_ns"] <= stamp_ns()  # published, then written


async def test_by_default_the_exchange_stamps_nothing() -> None:
    server = start_exchange()
    try:
        seen, event = await place_and_watch(server)
    finally:
        server.stop()
    assert seen and all(stamps == "" for _, _, _, stamps in seen)
    assert event["event_type"] == "price_change" and "published_ns" not in event and "sent_ns" not in event


def test_proxies_come_from_the_environment_once_and_netrc_is_never_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP(S)_PROXY and NO_PROXY are honoured without aiohttp's trust_env, which reads ~/.netrc in
    a worker thread on every request (a thread hop on the order path)."""
    import random

    from yarl import URL

    from polymm_cli.clock import SystemClock
    from polymm_cli.venues.polymarket.config import PolymarketConfig
    from polymm_cli.venues.polymarket.rest import ClobHttp

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "gamma-api.polymarket.com")
    http = ClobHttp(PolymarketConfig.for_market_data(), SystemClock(), random.Random(1))
    assert http._proxy_of("clob") == (URL("http://proxy.example:3128"), None)
    assert http._proxy_of("gamma") == (None, None)  # NO_PROXY names it
    monkeypatch.delenv("HTTPS_PROXY")
    assert http._proxy_of("clob")[0] == URL("http://proxy.example:3128")  # looked up once
    local = ClobHttp(
        PolymarketConfig.for_local_exchange("http://127.0.0.1:1", None), SystemClock(), random.Random(1)
    )
    assert local._proxy_of("clob") == (None, None)


async def test_the_session_does_not_trust_the_environment() -> None:
    import random

    from polymm_cli.clock import SystemClock
    from polymm_cli.venues.polymarket.config import PolymarketConfig
    from polymm_cli.venues.polymarket.rest import ClobHttp

    http = ClobHttp(
        PolymarketConfig.for_local_exchange("http://127.0.0.1:1", None), SystemClock(), random.Random(1)
    )
    try:
        assert http._http().trust_env is False
    finally:
        await http.close()
