"""The Polymarket adapter's market-data-only mode (no key): what `--venue paper` reads its market from.

It lists markets, reads books and streams the market channel like the keyed adapter, and refuses,
before any request, everything that would sign: orders, cancels, account reads, heartbeats, the
user stream. The exchange's request log shows it never even asked for API credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from polymm_cli.clock import SystemClock
from polymm_cli.errors import ConfigError, UsageError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.app import route_key
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Side
from polymm_cli.venues.base import BookSnapshot, OrderIntent
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from polymm_cli.venues.polymarket.adapter import MarketDataOnly
from polymm_cli.venues.polymarket.config import POLYMARKET_CLOB_URL, POLYMARKET_GAMMA_URL, POLYMARKET_WS_URL
from tests.conftest import start_exchange

FED = sample_markets()[0]
MARKET_DATA_ROUTES = {"GET /gamma/markets", "GET /book", "POST /books", "WS /ws/market", "GET /markets/{id}"}


@pytest.fixture(scope="module")
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


def requests_seen(server: ExchangeThread) -> dict[str, int]:
    return server.call(lambda: dict(server.server.state.requests))


def test_market_data_config_has_no_key_and_takes_no_credentials() -> None:
    real = PolymarketConfig.for_market_data()
    local = PolymarketConfig.for_market_data("http://127.0.0.1:8080/")

    assert real.market_data_only and local.market_data_only
    assert (real.clob_url, real.ws_url, real.gamma_url) == (
        POLYMARKET_CLOB_URL,
        POLYMARKET_WS_URL,
        POLYMARKET_GAMMA_URL,
    )
    assert (local.clob_url, local.market_ws_url) == ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws/market")
    with pytest.raises(ConfigError, match="takes no API credentials"):
        real.with_changes(api_key="k", api_secret=SecretStr("s"), api_passphrase=SecretStr("p"))
    assert "market data only" in repr(PolymarketVenue(local, SystemClock()))


async def test_it_reads_markets_books_and_the_market_stream_without_a_key(exchange: ExchangeThread) -> None:
    # Arrange
    before = requests_seen(exchange)
    venue = PolymarketVenue(PolymarketConfig.for_market_data(exchange.url), SystemClock())
    await venue.start()
    try:
        # Act
        listed = await venue.markets()
        market = await venue.market(FED.slug)
        book = await venue.book(market.yes_token)
        stream = venue.market_events([market.yes_token])
        first = await asyncio.wait_for(anext(e async for e in stream if isinstance(e, BookSnapshot)), 10)
        await stream.close()
    finally:
        await venue.close()

    # Assert: the market as the keyed adapter sees it, and only market-data requests were made
    assert FED.condition_id in {m.condition_id for m in listed}
    assert market.condition_id == FED.condition_id and book.token_id == FED.yes_token
    assert first.token_id == FED.yes_token
    seen = requests_seen(exchange)
    made = {key for key in seen if seen[key] != before.get(key, 0)}
    assert made and made <= MARKET_DATA_ROUTES, made


@pytest.mark.parametrize(
    "call",
    [
        "place",
        "place-nothing",
        "cancel",
        "cancel_all",
        "open_orders",
        "trades",
        "balances",
        "heartbeat",
        "user_events",
        "address",
    ],
)
async def test_everything_that_signs_is_refused_before_any_request(
    exchange: ExchangeThread, call: str
) -> None:
    # Arrange
    venue = PolymarketVenue(PolymarketConfig.for_market_data(exchange.url), SystemClock())
    await venue.start()
    intent = OrderIntent(
        market=FED.condition_id, token_id=FED.yes_token, side=Side.BUY, price=Decimal("0.40"), size=Decimal(5)
    )
    actions = {
        "place": lambda: venue.place([intent]),
        "place-nothing": lambda: venue.place([]),
        "cancel": lambda: venue.cancel(["0xabc"]),
        "cancel_all": lambda: venue.cancel_all(),
        "open_orders": lambda: venue.open_orders(),
        "trades": lambda: venue.trades(),
        "balances": lambda: venue.balances(),
        "heartbeat": lambda: venue.heartbeat(),
    }
    before = requests_seen(exchange)
    try:
        # Act / Assert: one clear line, a usage error (never retried as a venue failure)
        with pytest.raises(MarketDataOnly, match="market data only \\(no key\\)") as caught:
            if call == "user_events":
                venue.user_events([FED.condition_id])
            elif call == "address":
                _ = venue.address
            else:
                await actions[call]()
    finally:
        await venue.close()
    assert isinstance(caught.value, UsageError)
    assert "\n" not in str(caught.value)
    assert requests_seen(exchange) == before  # nothing reached the exchange, not even an auth call


def test_route_keys_fold_ids() -> None:
    assert route_key("GET", f"/markets/{FED.condition_id}") == "GET /markets/{id}"
    assert route_key("POST", "/order") == "POST /order"
