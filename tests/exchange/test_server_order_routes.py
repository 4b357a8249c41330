"""The router that finds the order endpoints first picks the route Starlette's scan would pick, and
leaves every other request (another method on the same path, other paths) to the scan."""

from __future__ import annotations

import httpx
from starlette.routing import Match

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.core import LocalExchange
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.app import OrderRoutesFirstRouter, ServerState, build_app
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread


def test_the_hot_routes_are_the_ones_the_scan_finds() -> None:
    app = build_app(ServerState(LocalExchange(sample_markets(), ManualClock())))
    router = app.router
    assert isinstance(router, OrderRoutesFirstRouter)
    for method, path in OrderRoutesFirstRouter.HOT:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        scanned = next(r for r in router.routes if r.matches(scope)[0] is Match.FULL)
        assert router._hot[(method, path)] is scanned


def test_other_methods_and_paths_go_through_the_scan() -> None:
    with ExchangeThread(ExchangeConfig(flow=False)) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/order").status_code == 405  # a partial match: method not allowed
        assert client.get("/ok").json() == "OK"
        unauthorized = client.post("/order", content="{}")
        assert unauthorized.status_code == 401  # the hot path runs the same handler and error mapping
        assert unauthorized.json() == {"error": "Unauthorized/Invalid api key"}
