"""Ours and the official client's signed orders are both accepted by the local exchange, for every
tick size, side and signature type 0-2 (type 3 needs a deposit-wallet binding the exchange does not
model: its recovery is tested in test_signing.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from polymm_cli import signing
from polymm_cli.exchange.markets import make_market
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Side
from tests.conftest import fund, start_exchange, throwaway_key

TICKS = ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")
MARKETS = {tick: make_market(f"signing-{tick}", f"Tick {tick}?", tick=tick, min_size="1") for tick in TICKS}
NEG_MARKETS = {
    tick: make_market(f"signing-neg-{tick}", f"Neg {tick}?", tick=tick, min_size="1", neg_risk=True)
    for tick in TICKS
}
KEY = throwaway_key("signing-exchange")
PROXY = "0x" + "5a" * 20  # a funder for signature types 1 and 2


@st.composite
def cases(draw: st.DrawFn) -> dict[str, object]:
    tick = draw(st.sampled_from(TICKS))
    steps = int(Decimal(1) / Decimal(tick))
    price = Decimal(tick) * draw(
        st.integers(min_value=1, max_value=max(1, steps // 3))
    )  # bids far below any ask
    return {
        "tick": tick,
        "price": price,
        "size": Decimal(draw(st.integers(min_value=100, max_value=5000))).scaleb(-2),
        "neg_risk": draw(st.booleans()),
        "signature_type": draw(st.sampled_from([0, 1, 2])),
    }


def post(
    server: ExchangeThread, creds: dict[str, str], address: str, body: dict[str, object]
) -> httpx.Response:
    text = json.dumps(body, separators=(",", ":"))
    headers = signing.l2_headers(
        address,
        creds["apiKey"],
        creds["secret"],
        creds["passphrase"],
        int(time.time()),
        "POST",
        "/order",
        text,
    )
    return httpx.post(f"{server.url}/order", content=text, headers=headers)


@dataclass
class Venue:
    server: ExchangeThread
    creds: dict[str, str]
    address: str


@pytest.fixture(scope="module")
def venue() -> Iterator[Venue]:
    server = start_exchange()
    for m in (*MARKETS.values(), *NEG_MARKETS.values()):
        server.call(server.server.exchange.add_market, m)
    signer = signing.OrderSigner(KEY)
    creds = httpx.post(f"{server.url}/auth/api-key", headers=signer.l1_headers(int(time.time()))).json()
    for funder in (signer.address, PROXY):
        fund(server, funder, 10**9)
    yield Venue(server, creds, signer.address)
    server.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_both_signers_orders_are_accepted_by_the_local_exchange(
    venue: Venue, case: dict[str, object]
) -> None:
    sig_type = int(case["signature_type"])  # type: ignore[call-overload]
    funder = venue.address if sig_type == 0 else PROXY
    market = (NEG_MARKETS if case["neg_risk"] else MARKETS)[str(case["tick"])]
    price, size = case["price"], case["size"]
    assert isinstance(price, Decimal) and isinstance(size, Decimal)

    ours = signing.OrderSigner(KEY, signature_type=sig_type, funder=funder).sign_limit_order(
        market.yes_token,
        Side.BUY,
        price,
        size,
        market.tick_size,
        market.neg_risk,
        salt=time.time_ns() % 10**12,
        timestamp_ms=int(time.time() * 1000),
    )
    official = OrderBuilder(Signer(KEY, 137), sig_type, funder).build_order(
        OrderArgsV2(token_id=market.yes_token, price=float(price), size=float(size), side="BUY"),
        CreateOrderOptions(tick_size=str(case["tick"]), neg_risk=market.neg_risk),
    )
    for body in (
        signing.order_wire(ours, venue.creds["apiKey"], "GTC", post_only=True),
        order_to_json_v2(official, venue.creds["apiKey"], "GTC", True),
    ):
        response = post(venue.server, venue.creds, venue.address, body)
        assert response.status_code == 200, response.text
        assert response.json()["success"] is True and response.json()["status"] == "live"
