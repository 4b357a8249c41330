"""PolymarketConfig and the adapter's identity: hosts, validation, secrets kept out of every repr,
and the reference signer (py-clob-client-v2's builder) producing what the fast signer produces."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from polymm_cli.clock import SystemClock
from polymm_cli.errors import ConfigError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Side
from polymm_cli.signing import LOCAL_CHAIN_ID, OrderSigner
from polymm_cli.venues.base import OrderIntent
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from polymm_cli.venues.polymarket.orders import FastSigner, ReferenceSigner, SignedEnvelope, SignJob
from tests.conftest import fund, start_exchange, throwaway_key

FED, BTC, CUP, SUN = sample_markets()
KEY = throwaway_key("config-secrets")
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
PASSPHRASE = "pass-phrase-never-shown"


@pytest.fixture(scope="module")
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


def secrets_in(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s and s in text]


def test_local_exchange_config_derives_the_websocket_and_gamma_urls() -> None:
    config = PolymarketConfig.for_local_exchange("http://127.0.0.1:8080/", SecretStr(KEY))

    assert config.clob_url == "http://127.0.0.1:8080"
    assert config.ws_url == "ws://127.0.0.1:8080/ws"
    assert config.market_ws_url == "ws://127.0.0.1:8080/ws/market"
    assert config.user_ws_url == "ws://127.0.0.1:8080/ws/user"
    assert config.gamma_url == "http://127.0.0.1:8080/gamma"
    assert (config.signer, config.chain_id, config.ws_ping_interval_s, config.ws_watchdog_s) == (
        "fast",
        LOCAL_CHAIN_ID,  # a chain of its own: nothing signed for the local exchange is valid on Polygon
        2.0,
        5.0,
    )


def test_polymarket_config_uses_the_real_hosts() -> None:
    config = PolymarketConfig.for_polymarket(SecretStr(KEY), signature_type=2, funder="0x" + "1" * 40)

    assert config.clob_url == "https://clob.polymarket.com"
    assert config.user_ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    assert config.gamma_url == "https://gamma-api.polymarket.com"
    assert config.signature_type == 2 and not config.has_api_creds


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signer": "turbo"}, "unknown signer"),
        ({"signature_type": 7}, "signature_type"),
        ({"api_key": "k"}, "together"),
        ({"ws_watchdog_s": 0}, "ws_watchdog_s"),
        ({"clob_url": "clob.polymarket.com"}, "absolute URL"),
    ],
)
def test_a_bad_config_is_a_one_line_config_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PolymarketConfig.for_local_exchange("http://127.0.0.1:1", SecretStr(KEY)).with_changes(**changes)

    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_malformed_private_key_is_refused_without_echoing_it() -> None:
    bad = "0x" + "zz" * 32
    config = PolymarketConfig.for_local_exchange("http://127.0.0.1:1", SecretStr(bad))

    with pytest.raises(ConfigError) as caught:
        PolymarketVenue(config, SystemClock())

    assert bad not in str(caught.value) and "zz" not in str(caught.value)


async def test_secrets_never_appear_in_the_repr_or_str_of_config_or_venue(exchange: ExchangeThread) -> None:
    configured = PolymarketConfig.for_local_exchange(
        exchange.url,
        SecretStr(KEY),
        api_key="11111111-2222-3333-4444-555555555555",
        api_secret=SecretStr(API_SECRET),
        api_passphrase=SecretStr(PASSPHRASE),
    )
    derived = PolymarketConfig.for_local_exchange(
        exchange.url, SecretStr(KEY), signer="reference", chain_id=137
    )
    venue = PolymarketVenue(derived, SystemClock())
    await venue.start()  # derives real credentials from the exchange
    try:
        creds = await venue.ws_credentials()
        texts = [repr(configured), str(configured), repr(derived), repr(venue), str(venue), repr(creds)]
        secrets = (KEY, KEY.removeprefix("0x"), API_SECRET, PASSPHRASE, creds.secret, creds.passphrase)
        for text in texts:
            assert secrets_in(text, *secrets) == [], text
        assert venue.address in repr(venue)
        with pytest.raises(TypeError):
            import pickle

            pickle.dumps(venue)
    finally:
        await venue.close()


def test_fast_and_reference_signers_build_the_same_envelope() -> None:
    jobs = [
        SignJob(
            0, intent, tick, neg_risk, salt=123456789 + i, timestamp_ms=1_777_370_400_123, owner="owner-key"
        )
        for i, (intent, tick, neg_risk) in enumerate(
            [
                (
                    OrderIntent(
                        market=FED.condition_id,
                        token_id=FED.yes_token,
                        side=Side.BUY,
                        price=Decimal("0.45"),
                        size=Decimal("10"),
                    ),
                    Decimal("0.01"),
                    False,
                ),
                (
                    OrderIntent(
                        market=BTC.condition_id,
                        token_id=BTC.no_token,
                        side=Side.SELL,
                        price=Decimal("0.687"),
                        size=Decimal("12.5"),
                    ),
                    Decimal("0.001"),
                    False,
                ),
                (
                    OrderIntent(
                        market=CUP.condition_id,
                        token_id=CUP.yes_token,
                        side=Side.BUY,
                        price=Decimal("0.18"),
                        size=Decimal("25"),
                        post_only=False,
                        order_type="FAK",
                    ),
                    Decimal("0.01"),
                    True,
                ),
            ]
        )
    ]
    fast = FastSigner(OrderSigner(KEY)).sign_batch(jobs)
    reference = ReferenceSigner(SecretStr(KEY), 137, 0, None).sign_batch(jobs)

    assert all(isinstance(o, SignedEnvelope) for o in fast + reference)
    for ours, theirs in zip(fast, reference, strict=True):
        assert isinstance(ours, SignedEnvelope) and isinstance(theirs, SignedEnvelope)
        assert ours.envelope == theirs.envelope
        assert ours.order_id == theirs.order_id


@pytest.mark.parametrize("signer", ["fast", "reference"])
async def test_orders_from_either_signer_are_accepted_by_the_exchange(
    exchange: ExchangeThread, signer: str
) -> None:
    config = PolymarketConfig.for_local_exchange(  # the official builder knows Polygon's domain only
        exchange.url, SecretStr(throwaway_key(f"signer:{signer}")), signer=signer, chain_id=137
    )
    intents = [
        OrderIntent(
            market=FED.condition_id,
            token_id=FED.yes_token,
            side=Side.BUY,
            price=Decimal("0.21"),
            size=Decimal("5"),
        ),
        OrderIntent(
            market=BTC.condition_id,
            token_id=BTC.yes_token,
            side=Side.BUY,
            price=Decimal("0.123"),
            size=Decimal("7.5"),
        ),
        OrderIntent(
            market=CUP.condition_id,
            token_id=CUP.no_token,
            side=Side.BUY,
            price=Decimal("0.44"),
            size=Decimal("6"),
        ),
    ]
    async with PolymarketVenue(config, SystemClock()) as venue:
        fund(exchange, venue.address, 100)
        results = await venue.place(intents)
        open_ids = {o.order_id for o in await venue.open_orders()}
        await venue.cancel_all()

    assert all(r.ok and r.status == "live" for r in results), [r.error for r in results]
    assert {r.order_id for r in results} == open_ids
