"""Local exchange throughput: orders accepted per second over HTTP (signature + HMAC checked) and in process.

HTTP: orders are signed up front with the fast signer, so the figure is the server's: one keep-alive
connection, requests one after another, every order verified (EIP-712 recovery, HMAC, balance, book).
In process: `LocalExchange.submit` with no transport and no signatures, half the orders crossing.
"""

from __future__ import annotations

import json
import socket
import time
from decimal import Decimal

import httpx

from polymm_cli import signing
from polymm_cli.clock import SystemClock
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.model import OrderType, Side

BENCH_KEY = "0x" + "5eed" * 16  # a throwaway benchmark key


def _signed_orders(
    signer: signing.OrderSigner, owner: str, count: int, token: str, tick: Decimal
) -> list[dict[str, object]]:
    orders = []
    for i in range(count):
        price = Decimal("0.01") + tick * (i % 40)
        signed = signer.sign_limit_order(
            token,
            Side.BUY,
            price,
            Decimal(5 + i % 7),
            tick,
            False,
            salt=1_000_000 + i,
            timestamp_ms=1_777_000_000_000 + i,
        )
        orders.append(signing.order_wire(signed, owner, "GTC", post_only=True))
    return orders


def bench_exchange_http(single: int = 1500, batches: int = 150) -> dict[str, float]:
    market = sample_markets()[1]
    signer = signing.OrderSigner(BENCH_KEY)
    with ExchangeThread(ExchangeConfig(flow=False, settlement=SettlementConfig(0.0))) as server:
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        with httpx.Client(base_url=server.url, transport=transport) as http:
            nonce_headers = signer.l1_headers(int(time.time()))
            creds = http.post("/auth/api-key", headers=nonce_headers).json()
            http.post(
                "/_local/fund", json={"address": signer.address, "amount": "100000000"}
            ).raise_for_status()
            orders = _signed_orders(
                signer, creds["apiKey"], single + batches * 15, market.yes_token, market.tick_size
            )

            def post(path: str, payload: object) -> httpx.Response:
                body = json.dumps(payload, separators=(",", ":"))
                headers = signing.l2_headers(
                    signer.address,
                    creds["apiKey"],
                    creds["secret"],
                    creds["passphrase"],
                    int(time.time()),
                    "POST",
                    path,
                    body,
                )
                return http.post(path, content=body, headers=headers)

            started = time.perf_counter()
            for order in orders[:single]:
                assert post("/order", order).status_code == 200
            single_s = time.perf_counter() - started
            rest = orders[single:]
            started = time.perf_counter()
            for i in range(batches):
                response = post("/orders", rest[i * 15 : (i + 1) * 15])
                assert response.status_code == 200 and all(r["success"] for r in response.json())
            batch_s = time.perf_counter() - started
    return {"orders_per_s_single": single / single_s, "orders_per_s_batch": batches * 15 / batch_s}


def bench_matching(orders: int = 40_000) -> dict[str, float]:
    market = sample_markets()[0]
    exchange = LocalExchange([market], SystemClock(), settlement=SettlementConfig(0.0))
    for name in ("a", "b"):
        exchange.fund(f"0x{name * 40}", Decimal(10**9))
    requests = []
    for i in range(orders):
        maker = i % 2 == 0
        token = market.yes_token if i % 4 < 2 else market.no_token
        price = Decimal("0.40") + Decimal("0.01") * (i % 5) if maker else Decimal("0.70")
        requests.append(
            OrderRequest(
                order_id=f"0x{i:064x}",
                owner="a" if maker else "b",
                address=f"0x{('a' if maker else 'b') * 40}",
                token_id=token,
                side=Side.BUY,
                price=price,
                size=Decimal(10),
                order_type=OrderType.GTC if maker else OrderType.FAK,
            )
        )
    rejected = 0
    started = time.perf_counter()
    for request in requests:
        try:
            exchange.submit(request)
        except Exception:
            rejected += 1
    elapsed = time.perf_counter() - started
    return {
        "orders_per_s": orders / elapsed,
        "trades": float(len(exchange.trades)),
        "rejected": float(rejected),
    }


if __name__ == "__main__":
    print(bench_matching())
    print(bench_exchange_http())
