"""Latency stamps for benchmarks: the local exchange's `timing` setting (a `published_ns` and the
frame's write, `sent_ns`, on book events, an `X-Polymm-Timing` header on HTTP answers) and the adapter's HTTP observer. Off, the
exchange sends neither, as Polymarket does not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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
