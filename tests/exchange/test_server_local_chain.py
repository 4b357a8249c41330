"""The local world signs for its own chain id: the local exchange trades such orders (and keeps
trading Polygon-signed ones, for the official client), and they are worthless on Polygon."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from polymm_cli import signing
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Market, Side
from tests.conftest import fund, throwaway_key

FED = sample_markets()[0]  # 0.01 tick
CUP = sample_markets()[2]  # neg risk
WALLET = "0x" + "de" * 20  # a deposit wallet for signature type 3
AMOY_CHAIN_ID = 80002


def api_creds(server: ExchangeThread, signer: signing.OrderSigner) -> dict[str, str]:
    response = httpx.post(f"{server.url}/auth/api-key", headers=signer.l1_headers(int(time.time())))
    assert response.status_code == 200, response.text
    creds: dict[str, str] = response.json()
    return creds


def post_order(
    server: ExchangeThread, creds: dict[str, str], address: str, order: signing.SignedOrder
) -> httpx.Response:
    body = json.dumps(
        signing.order_wire(order, creds["apiKey"], "GTC", post_only=True), separators=(",", ":")
    )
    headers = signing.l2_headers(
        address,
        creds["apiKey"],
        creds["secret"],
        creds["passphrase"],
        int(time.time()),
        "POST",
        "/order",
        body,
    )
    return httpx.post(f"{server.url}/order", content=body, headers=headers)


def bid(signer: signing.OrderSigner, market: Market, price: str) -> signing.SignedOrder:
    return signer.sign_limit_order(
        market.yes_token,
        Side.BUY,
        Decimal(price),
        Decimal(10),
        market.tick_size,
        market.neg_risk,
        salt=time.time_ns() % 10**12,
        timestamp_ms=int(time.time() * 1000),
    )


@pytest.mark.parametrize("market", [FED, CUP], ids=["ctf-exchange", "neg-risk-exchange"])
def test_an_order_signed_for_the_local_chain_trades_here_and_does_not_verify_on_polygon(
    quiet_exchange: ExchangeThread, market: Market
) -> None:
    signer = signing.OrderSigner(throwaway_key(f"local-chain-{market.slug}"), chain_id=signing.LOCAL_CHAIN_ID)
    creds = api_creds(quiet_exchange, signer)  # L1 signed for the local chain, too
    fund(quiet_exchange, signer.address, 100)
    order = bid(signer, market, "0.11")
    neg_risk = market.neg_risk

    response = post_order(quiet_exchange, creds, signer.address, order)

    assert response.status_code == 200, response.text
    assert response.json()["orderID"] == order.order_id
    assert signing.recover_order_signer(order, neg_risk, signing.LOCAL_CHAIN_ID) == signer.address
    assert signing.recover_order_signer(order, neg_risk, signing.POLYGON_CHAIN_ID) != signer.address
    polygon_id = signing.parse_wire_order(signing.order_wire(order, "k", "GTC", False), neg_risk).order_id
    assert polygon_id != order.order_id  # another domain, another digest


def test_l1_auth_signed_for_the_local_chain_does_not_verify_on_polygon() -> None:
    signer = signing.OrderSigner(throwaway_key("local-chain-l1"), chain_id=signing.LOCAL_CHAIN_ID)
    now = int(time.time())
    signature = signer.sign_clob_auth(now)

    assert signing.recover_clob_auth_signer(signature, signer.address, now, 0, signing.LOCAL_CHAIN_ID) == (
        signer.address
    )
    assert signing.recover_clob_auth_signer(signature, signer.address, now, 0, signing.POLYGON_CHAIN_ID) != (
        signer.address
    )


@pytest.mark.parametrize("chain_id", [signing.LOCAL_CHAIN_ID, signing.POLYGON_CHAIN_ID])
def test_a_deposit_wallet_order_trades_under_either_domain(
    quiet_exchange: ExchangeThread, chain_id: int
) -> None:
    """POLY_1271 signatures wrap the domain separator: the wrong domain is skipped, the right one verifies."""
    key = throwaway_key(f"local-chain-1271-{chain_id}")
    owner = signing.OrderSigner(key, chain_id=chain_id)
    creds = api_creds(quiet_exchange, owner)
    fund(quiet_exchange, WALLET, 100)
    wallet = signing.OrderSigner(key, chain_id, signature_type=3, funder=WALLET)

    response = post_order(quiet_exchange, creds, owner.address, bid(wallet, FED, "0.12"))

    assert response.status_code == 200, response.text


def test_an_order_signed_for_another_chain_is_refused(quiet_exchange: ExchangeThread) -> None:
    local = signing.OrderSigner(throwaway_key("local-chain-amoy"), chain_id=signing.LOCAL_CHAIN_ID)
    creds = api_creds(quiet_exchange, local)
    fund(quiet_exchange, local.address, 100)
    amoy = signing.OrderSigner(throwaway_key("local-chain-amoy"), chain_id=AMOY_CHAIN_ID)

    response = post_order(quiet_exchange, creds, local.address, bid(amoy, FED, "0.13"))

    assert (response.status_code, response.json()) == (400, {"error": "invalid signature"})
