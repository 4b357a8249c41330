"""Pins of server output no other test holds whole: the route table `build_app` builds (paths,
methods, handlers, middleware order) and every key, value and JSON type of a Gamma `/markets` item.

Why: both are refactored for readability without any change of behaviour; these pins say so. A
deliberate change of either updates the pin (tests/exchange/golden/gamma_markets.json is rewritten by
running this module with REPIN_GOLDEN=1).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.routing import Route, WebSocketRoute

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.core import LocalExchange
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server import render
from polymm_cli.exchange.server.app import ServerState, build_app
from polymm_cli.model import RewardParams

GOLDEN_GAMMA = Path(__file__).parent / "golden" / "gamma_markets.json"
D = Decimal

ROUTES = [
    ("/ok", ["GET", "HEAD"], "ok"),
    ("/", ["GET", "HEAD"], "ok"),
    ("/time", ["GET", "HEAD"], "time"),
    ("/version", ["GET", "HEAD"], "version"),
    ("/api/geoblock", ["GET", "HEAD"], "geoblock"),
    ("/auth/api-key", ["POST"], "create_api_key"),
    ("/auth/derive-api-key", ["GET", "HEAD"], "derive_api_key"),
    ("/auth/api-keys", ["GET", "HEAD"], "api_keys"),
    ("/auth/ban-status/closed-only", ["GET", "HEAD"], "closed_only"),
    ("/markets", ["GET", "HEAD"], "markets"),
    ("/markets/{condition_id}", ["GET", "HEAD"], "market"),
    ("/simplified-markets", ["GET", "HEAD"], "simplified_markets"),
    ("/sampling-markets", ["GET", "HEAD"], "sampling_markets"),
    ("/sampling-simplified-markets", ["GET", "HEAD"], "sampling_simplified_markets"),
    ("/clob-markets/{condition_id}", ["GET", "HEAD"], "clob_market"),
    ("/markets-by-token/{token_id}", ["GET", "HEAD"], "market_by_token"),
    ("/book", ["GET", "HEAD"], "book"),
    ("/books", ["POST"], "books"),
    ("/midpoint", ["GET", "HEAD"], "midpoint"),
    ("/midpoints", ["POST"], "midpoints"),
    ("/price", ["GET", "HEAD"], "price"),
    ("/prices", ["POST"], "prices"),
    ("/spread", ["GET", "HEAD"], "spread"),
    ("/spreads", ["POST"], "spreads"),
    ("/last-trade-price", ["GET", "HEAD"], "last_trade_price"),
    ("/last-trades-prices", ["POST"], "last_trades_prices"),
    ("/tick-size", ["GET", "HEAD"], "tick_size"),
    ("/neg-risk", ["GET", "HEAD"], "neg_risk"),
    ("/fee-rate", ["GET", "HEAD"], "fee_rate"),
    ("/order", ["POST"], "post_order"),
    ("/order", ["DELETE"], "cancel_order"),
    ("/orders", ["POST"], "post_orders"),
    ("/orders", ["DELETE"], "cancel_orders"),
    ("/cancel-all", ["DELETE"], "cancel_all"),
    ("/cancel-market-orders", ["DELETE"], "cancel_market_orders"),
    ("/data/order/{order_id}", ["GET", "HEAD"], "get_order"),
    ("/data/orders", ["GET", "HEAD"], "open_orders"),
    ("/data/trades", ["GET", "HEAD"], "trades"),
    ("/trades", ["GET", "HEAD"], "trades"),
    ("/balance-allowance", ["GET", "HEAD"], "balance_allowance"),
    ("/balance-allowance/update", ["GET", "HEAD"], "balance_allowance_update"),
    ("/v1/heartbeats", ["POST"], "heartbeat"),
    ("/order-scoring", ["GET", "HEAD"], "order_scoring"),
    ("/orders-scoring", ["POST"], "orders_scoring"),
    ("/rewards/markets/current", ["GET", "HEAD"], "rewards_current"),
    ("/rewards/user", ["GET", "HEAD"], "rewards_user"),
    ("/rebates/current", ["GET", "HEAD"], "rebates_current"),
    ("/gamma/markets", ["GET", "HEAD"], "gamma_markets"),
    ("/_local/split", ["POST"], "local_split"),
    ("/_local/merge", ["POST"], "local_merge"),
    ("/_local/resolve", ["POST"], "local_resolve"),
    ("/_local/redeem", ["POST"], "local_redeem"),
    ("/_local/fund", ["POST"], "local_fund"),
    ("/_local/faults", ["GET", "HEAD", "POST"], "local_faults"),
    ("/_local/status", ["GET", "HEAD"], "local_status"),
    ("/_local/orders", ["GET", "HEAD"], "local_orders"),
    ("/ws/market", None, "market_endpoint"),
    ("/ws/user", None, "user_endpoint"),
]


def _handler_name(route: Route | WebSocketRoute) -> str:
    """The ExchangeApi method (or WsHub endpoint) behind a route; HTTP handlers are wrapped once."""
    endpoint: Any = route.endpoint
    if endpoint.__closure__:  # app._handler's wrapper: its one free variable is the handler
        endpoint = endpoint.__closure__[0].cell_contents
    return str(endpoint.__name__)


def test_build_app_serves_the_pinned_routes_behind_the_pinned_middleware() -> None:
    app = build_app(ServerState(LocalExchange(sample_markets(), ManualClock())))

    table = []
    for route in app.routes:
        assert isinstance(route, Route | WebSocketRoute)
        methods = sorted(route.methods) if isinstance(route, Route) and route.methods else None
        table.append((route.path, methods, _handler_name(route)))

    assert table == ROUTES
    assert [m.cls.__name__ for m in app.user_middleware] == [
        "ControlPlaneGuard",
        "RequestLog",
        "BodyLimitMiddleware",
        "FaultMiddleware",
    ]


def gamma_items() -> list[dict[str, Any]]:
    """Every sample market, plus fee-free and reward-less variants, with and without quotes."""
    markets = sample_markets()
    markets += [
        replace(markets[0], rewards=RewardParams(), taker_fee_rate=D(0), closed=True, category=""),
        replace(markets[1], active=False, accepting_orders=False, neg_risk_market_id="0x" + "12" * 32),
    ]
    items = []
    for index, market in enumerate(markets):
        items.append(render.gamma_market(market, index, (None, None), D(0), D(0), (None, None), None))
        items.append(
            render.gamma_market(
                market,
                index,
                (D("0.455"), D("0.545")),
                D("1234.5"),
                D("99"),
                (D("0.45"), D("0.46")),
                D("0.451"),
            )
        )
        items.append(render.gamma_market(market, index, (D(1), D(0)), D(7), D("0.5"), (D("0.2"), None), D(1)))
    return items


def test_gamma_market_items_match_the_pinned_json_key_for_key() -> None:
    text = json.dumps(gamma_items(), indent=1)  # key order, ints vs floats and strings all count

    if os.environ.get("REPIN_GOLDEN") == "1":  # pragma: no cover
        GOLDEN_GAMMA.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == GOLDEN_GAMMA.read_text(encoding="utf-8")
