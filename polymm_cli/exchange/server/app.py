"""The local exchange's HTTP face: a Polymarket CLOB V2-compatible REST API (Starlette).

What py-clob-client-v2 needs to run unchanged (reference §13): every success is HTTP 200 JSON,
errors are `{"error": "<real wording>"}` with the real status, DELETE bodies are read, the HMAC is
checked over the path without its query string, pagination runs from `MA==` to `LTE=`.
Signature and HMAC checks happen here; trading rules live in `LocalExchange`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polymm_cli import signing
from polymm_cli.clock import stamp_ns
from polymm_cli.errors import ExchangeRejection
from polymm_cli.exchange.accounts import COLLATERAL, MAX_ALLOWANCE, ApiKey
from polymm_cli.exchange.core import HeartbeatMismatch, LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.server import render, strict_json
from polymm_cli.exchange.server.faults import FaultRefused, Faults, validated_changes
from polymm_cli.exchange.server.ws import WsHub
from polymm_cli.model import ONE, Market, OrderType, Side, decimal_str

START_CURSOR = "MA=="
END_CURSOR = "LTE="
MAX_BATCH = 15
MAX_CANCEL_BATCH = 1000
EXCHANGE_SPENDERS = (
    "0xE111180000d2663C0091e4f400237545B87B996B",
    "0xe2222d279d744050d28e00520010520000310F59",
    "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296",
)
V2_ORDER_KEYS = frozenset(
    {
        "salt",
        "maker",
        "signer",
        "tokenId",
        "makerAmount",
        "takerAmount",
        "side",
        "signatureType",
        "timestamp",
        "metadata",
        "builder",
        "signature",
    }
)
V1_ONLY_KEYS = frozenset({"nonce", "feeRateBps", "taker"})
ORDER_ROUTES = frozenset({"/order", "/orders"})
MAX_BODY_BYTES = 1 << 20  # 1 MiB; the largest real body, a batch of 15 signed orders, is about 20 KB
AUTH_TIMESTAMP_WINDOW_S = 60
"""How far an L1 (ClobAuth) or L2 (HMAC) POLY_TIMESTAMP may lie from the exchange's clock, either
way, before the request is refused with 401. Polymarket does not publish its window (reference §2.1,
§10: community reports about one minute); the local exchange uses that minute, so a bot whose clock
drifts fails here first rather than only against real money, and a captured request stops being
replayable a minute later."""


@dataclass
class ServerState:
    exchange: LocalExchange
    faults: Faults = field(default_factory=Faults)
    page_size: int = 500
    # The local world's own domain first (what polymm signs with), then Polygon's, so the unmodified
    # py-clob-client-v2 (it knows 137 and 80002 only) trades here too.
    chain_ids: tuple[int, ...] = (signing.LOCAL_CHAIN_ID, signing.POLYGON_CHAIN_ID)
    hub: WsHub = field(init=False)
    # Requests served, per "METHOD /route" (ids folded to {id}; WebSocket connections as "WS /ws/..."):
    # what a test reads to show that a client sent nothing but market-data requests.
    requests: Counter[str] = field(default_factory=Counter)
    # Latency benchmarks: stamp CLOCK_MONOTONIC nanoseconds on market-channel book events
    # (`published_ns`) and on HTTP answers (TIMING_HEADER). Off by default: real venues send neither.
    timing: bool = False

    def __post_init__(self) -> None:
        self.hub = WsHub(self.exchange, self.faults, timing=self.timing)


class Unauthorized(Exception):
    def __init__(self, message: str = "Unauthorized/Invalid api key") -> None:
        super().__init__(message)
        self.message = message


def error(message: str, status: int = 400, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("testclient", "localhost")


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback_authority(authority: str) -> bool:
    """`host[:port]` naming this machine by a loopback name: 127.0.0.1, localhost or [::1], any port."""
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return False
        port = rest[1:]
    else:
        host, _, port = authority.partition(":")
    return host.lower() in LOOPBACK_HOSTS and (port == "" or (port.isascii() and port.isdigit()))


def is_loopback_origin(origin: str) -> bool:
    """A browser Origin (`scheme://host[:port]`, nothing more) on a loopback host."""
    scheme, sep, authority = origin.partition("://")
    return scheme.lower() in ("http", "https") and bool(sep) and is_loopback_authority(authority)


def is_control_plane_caller(request: Request) -> bool:
    """Loopback peer, loopback Host, and a loopback Origin if a browser sent one. The Host check
    stops DNS rebinding (a page on evil.example re-pointed at 127.0.0.1 still says Host:
    evil.example); the Origin check stops other pages' cross-site requests to 127.0.0.1 itself."""
    origins = request.headers.getlist("origin")
    return (
        _is_loopback(request)
        and is_loopback_authority(request.headers.get("host", ""))
        and all(is_loopback_origin(o) for o in origins)
    )


def _cursor_offset(cursor: str | None) -> int:
    if not cursor or cursor == START_CURSOR:
        return 0
    try:
        return max(0, int(base64.b64decode(cursor).decode()))
    except (ValueError, UnicodeDecodeError):
        return 0


def _is_address(text: str) -> bool:
    return len(text) == 42 and text.startswith("0x") and all(c in "0123456789abcdefABCDEF" for c in text[2:])


def paginate(items: list[Any], cursor: str | None, page_size: int) -> dict[str, Any]:
    if cursor == END_CURSOR:
        return {"limit": page_size, "count": 0, "next_cursor": END_CURSOR, "data": []}
    offset = _cursor_offset(cursor)
    page = items[offset : offset + page_size]
    end = offset + len(page)
    next_cursor = base64.b64encode(str(end).encode()).decode() if end < len(items) else END_CURSOR
    return {"limit": page_size, "count": len(page), "next_cursor": next_cursor, "data": page}


class ExchangeApi:
    """Route handlers over one ServerState."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.ex = state.exchange
        self._domains = tuple(state.chain_ids)  # most recently matched first (see _verified)

    # -- auth -------------------------------------------------------------------------------------

    def _l1_address(self, request: Request) -> tuple[str, int]:
        h = request.headers
        address, sig, ts, nonce = (
            h.get("POLY_ADDRESS"),
            h.get("POLY_SIGNATURE"),
            h.get("POLY_TIMESTAMP"),
            h.get("POLY_NONCE", "0"),
        )
        if not (address and sig and ts) or not self._fresh(ts):
            raise Unauthorized("Invalid L1 Request headers")
        for chain_id in self.state.chain_ids:
            try:
                recovered = signing.recover_clob_auth_signer(sig, address, int(ts), int(nonce), chain_id)
            except ValueError:
                raise Unauthorized("Invalid L1 Request headers") from None
            if recovered.lower() == address.lower():
                return recovered, int(nonce)
        raise Unauthorized("Invalid L1 Request headers")

    def _fresh(self, timestamp: str) -> bool:
        """A POLY_TIMESTAMP of plain unix seconds within AUTH_TIMESTAMP_WINDOW_S of now."""
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        return abs(self.ex.clock.now() - int(timestamp)) <= AUTH_TIMESTAMP_WINDOW_S

    async def _l2(self, request: Request) -> tuple[ApiKey, str]:
        """Verify the L2 headers; returns the key and the raw body text (what was signed)."""
        h = _poly_headers(request.scope)
        key = self.ex.api_keys.by_key.get(h.get("poly_api_key", ""))
        body = (await request.body()).decode("utf-8", errors="replace")
        if key is None or not hmac.compare_digest(h.get("poly_passphrase", ""), key.passphrase):
            raise Unauthorized()
        if h.get("poly_address", "").lower() != key.address.lower():
            raise Unauthorized()
        timestamp = h.get("poly_timestamp", "")
        if not self._fresh(timestamp):
            raise Unauthorized()
        expected = signing.hmac_signature(
            key.secret, timestamp, request.method, _url_path(request), body or None
        )
        if not hmac.compare_digest(expected, h.get("poly_signature", "")):
            raise Unauthorized()
        return key, body

    # -- server info and keys ----------------------------------------------------------------------

    async def ok(self, request: Request) -> Response:
        return JSONResponse("OK")

    async def time(self, request: Request) -> Response:
        return JSONResponse(int(self.ex.clock.now()))

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": 2})

    async def geoblock(self, request: Request) -> Response:
        """Polymarket's `GET https://polymarket.com/api/geoblock` shape. The local exchange moves
        play money only, so it blocks no one; it does not geolocate, so country and region are empty
        and `note` says why (not part of Polymarket's answer)."""
        peer = request.client.host if request.client else ""
        return JSONResponse(
            {
                "blocked": False,
                "ip": peer,
                "country": "",
                "region": "",
                "note": "the local exchange blocks no one: play money, no geolocation",
            }
        )

    @staticmethod
    def _creds(key: ApiKey) -> JSONResponse:
        return JSONResponse({"apiKey": key.key, "secret": key.secret, "passphrase": key.passphrase})

    async def create_api_key(self, request: Request) -> Response:
        address, nonce = self._l1_address(request)
        return self._creds(self.ex.create_api_key(address, nonce))

    async def derive_api_key(self, request: Request) -> Response:
        address, nonce = self._l1_address(request)
        return self._creds(self.ex.derive_api_key(address, nonce))

    async def api_keys(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        return JSONResponse({"apiKeys": [key.key]})

    async def closed_only(self, request: Request) -> Response:
        await self._l2(request)
        return JSONResponse({"closed_only": False})

    # -- markets ---------------------------------------------------------------------------------

    def _prices(self, market: Market) -> tuple[Decimal | None, Decimal | None]:
        yes_mid = self._mid(market.yes_token)
        return yes_mid, (ONE - yes_mid if yes_mid is not None else None)

    def _mid(self, token_id: str) -> Decimal | None:
        bid, ask = self.ex.best_bid_ask(token_id)
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def _market_or_404(self, condition_id: str) -> Market:
        market = self.ex.markets.get(condition_id)
        if market is None:
            raise ExchangeRejection("market not found", status=404)
        return market

    def _token_market(self, token_id: str | None) -> Market:
        market = self.ex.market_for_token(token_id or "")
        if market is None:
            raise ExchangeRejection("Invalid token id")
        return market

    async def markets(self, request: Request) -> Response:
        items = [render.clob_market(m, self._prices(m)) for m in self.ex.markets.values()]
        return JSONResponse(paginate(items, request.query_params.get("next_cursor"), 1000))

    async def sampling_markets(self, request: Request) -> Response:
        items = [render.clob_market(m, self._prices(m)) for m in self.ex.markets.values() if m.rewards.active]
        return JSONResponse(paginate(items, request.query_params.get("next_cursor"), 1000))

    def _simplified(self, market: Market) -> dict[str, Any]:
        full = render.clob_market(market, self._prices(market))
        keys = ("condition_id", "tokens", "rewards", "active", "closed", "archived", "accepting_orders")
        return {k: full[k] for k in keys}

    async def simplified_markets(self, request: Request) -> Response:
        items = [self._simplified(m) for m in self.ex.markets.values()]
        return JSONResponse(paginate(items, request.query_params.get("next_cursor"), 1000))

    async def sampling_simplified_markets(self, request: Request) -> Response:
        items = [self._simplified(m) for m in self.ex.markets.values() if m.rewards.active]
        return JSONResponse(paginate(items, request.query_params.get("next_cursor"), 1000))

    async def market(self, request: Request) -> Response:
        market = self._market_or_404(request.path_params["condition_id"])
        return JSONResponse(render.clob_market(market, self._prices(market)))

    async def clob_market(self, request: Request) -> Response:
        return JSONResponse(
            render.clob_market_params(self._market_or_404(request.path_params["condition_id"]))
        )

    async def market_by_token(self, request: Request) -> Response:
        market = self._token_market(request.path_params["token_id"])
        return JSONResponse({"condition_id": market.condition_id, **render.clob_market_params(market)})

    # -- books and prices --------------------------------------------------------------------------

    def book_body(self, token_id: str) -> dict[str, Any]:
        market = self._token_market(token_id)
        bids, asks = self.ex.book_levels(token_id)
        last = self.ex.last_trade.get(token_id)
        return render.book_body(market, token_id, bids, asks, self.ex.clock.now(), last[0] if last else None)

    async def book(self, request: Request) -> Response:
        return JSONResponse(self.book_body(request.query_params.get("token_id", "")))

    async def _token_list(self, request: Request) -> list[dict[str, Any]]:
        try:
            payload = self._json((await request.body()).decode("utf-8"))
        except UnicodeDecodeError:
            raise ExchangeRejection("Invalid payload") from None
        if not isinstance(payload, list) or not all(isinstance(p, dict) for p in payload):
            raise ExchangeRejection("Invalid payload")
        if len(payload) > 500:
            raise ExchangeRejection("Payload exceeds the limit")
        return payload

    async def books(self, request: Request) -> Response:
        out = []
        for item in await self._token_list(request):
            token = str(item.get("token_id", ""))
            if self.ex.market_for_token(token) is not None:
                out.append(self.book_body(token))
        return JSONResponse(out)

    async def midpoint(self, request: Request) -> Response:
        token = request.query_params.get("token_id", "")
        self._token_market(token)
        mid = self._mid(token)
        if mid is None:
            raise ExchangeRejection("No orderbook exists for the requested token id", status=404)
        return JSONResponse({"mid": decimal_str(mid)})

    async def midpoints(self, request: Request) -> Response:
        out = {}
        for item in await self._token_list(request):
            token = str(item.get("token_id", ""))
            if self.ex.market_for_token(token) and (mid := self._mid(token)) is not None:
                out[token] = decimal_str(mid)
        return JSONResponse(out)

    def _side_price(self, token: str, side: str) -> str:
        bid, ask = self.ex.best_bid_ask(token)
        value = bid if side.upper() == "BUY" else ask
        return decimal_str(value) if value is not None else "0"

    async def price(self, request: Request) -> Response:
        token = request.query_params.get("token_id", "")
        side = request.query_params.get("side", "")
        self._token_market(token)
        if side.upper() not in ("BUY", "SELL"):
            raise ExchangeRejection("Invalid side")
        return JSONResponse({"price": self._side_price(token, side)})

    async def prices(self, request: Request) -> Response:
        out: dict[str, dict[str, str]] = {}
        for item in await self._token_list(request):
            token, side = str(item.get("token_id", "")), str(item.get("side", "BUY")).upper()
            if self.ex.market_for_token(token) and side in ("BUY", "SELL"):
                out.setdefault(token, {})[side] = self._side_price(token, side)
        return JSONResponse(out)

    def _spread(self, token: str) -> str:
        bid, ask = self.ex.best_bid_ask(token)
        return decimal_str(ask - bid) if bid is not None and ask is not None else "0"

    async def spread(self, request: Request) -> Response:
        token = request.query_params.get("token_id", "")
        self._token_market(token)
        return JSONResponse({"spread": self._spread(token)})

    async def spreads(self, request: Request) -> Response:
        return JSONResponse(
            {
                str(i.get("token_id")): self._spread(str(i.get("token_id")))
                for i in await self._token_list(request)
                if self.ex.market_for_token(str(i.get("token_id", "")))
            }
        )

    def _last_trade(self, token: str) -> dict[str, str]:
        last = self.ex.last_trade.get(token)
        return (
            {"price": decimal_str(last[0]), "side": last[1].value} if last else {"price": "0.5", "side": ""}
        )

    async def last_trade_price(self, request: Request) -> Response:
        token = request.query_params.get("token_id", "")
        self._token_market(token)
        return JSONResponse(self._last_trade(token))

    async def last_trades_prices(self, request: Request) -> Response:
        return JSONResponse(
            [
                {"token_id": str(i.get("token_id")), **self._last_trade(str(i.get("token_id")))}
                for i in await self._token_list(request)
                if self.ex.market_for_token(str(i.get("token_id", "")))
            ]
        )

    async def tick_size(self, request: Request) -> Response:
        market = self._token_market(request.query_params.get("token_id"))
        return JSONResponse({"minimum_tick_size": render.tick_number(market.tick_size)})

    async def neg_risk(self, request: Request) -> Response:
        market = self._token_market(request.query_params.get("token_id"))
        return JSONResponse({"neg_risk": market.neg_risk})

    async def fee_rate(self, request: Request) -> Response:
        self._token_market(request.query_params.get("token_id"))
        return JSONResponse({"base_fee": 0})

    # -- orders ----------------------------------------------------------------------------------

    def _parse_order(self, envelope: Any, key: ApiKey) -> OrderRequest:
        """Check a POST /order envelope the way §13.2 lists and turn it into an OrderRequest."""
        wire = _v2_order(envelope)
        try:
            order_type = OrderType(str(envelope.get("orderType", "GTC")))
            side = Side(str(wire["side"]))
            maker_amount, taker_amount = int(wire["makerAmount"]), int(wire["takerAmount"])
            signature_type = int(wire["signatureType"])
            expiration = int(wire.get("expiration", "0") or 0)
            token_id = str(wire["tokenId"])
            int(token_id)
            int(wire["salt"])
            int(wire["timestamp"])
        except (ValueError, TypeError, KeyError, OverflowError):
            raise ExchangeRejection("Invalid order payload") from None
        if order_type in (OrderType.FOK, OrderType.FAK) and (maker_amount % 10_000 or taker_amount % 100):
            kind = "buy" if side is Side.BUY else "sell"
            raise ExchangeRejection(
                f"invalid amounts, the market {kind} orders maker amount supports a max accuracy of "
                "2 decimals, taker amount a max of 4 decimals"
            )
        if maker_amount <= 0 or taker_amount <= 0 or not 0 <= signature_type <= 3:
            raise ExchangeRejection("Invalid order payload")
        if envelope.get("owner") != key.key:
            raise ExchangeRejection("the order owner has to be the owner of the API KEY")
        market = self._token_market(token_id)
        try:  # every field well-formed, before who signed; parsed and hashed once for every domain
            parsed, struct_hash = signing.parse_wire_order_struct(wire)
        except ValueError:
            raise ExchangeRejection("Invalid order payload") from None
        signer = str(wire["signer"])
        if signature_type != 3 and signer.lower() != key.address.lower():
            raise ExchangeRejection("the order signer address has to be the address of the API KEY")
        order_id = self._verified(
            parsed, struct_hash, market.neg_risk, key.address if signature_type == 3 else signer
        )
        maker = str(wire["maker"])
        if signature_type in (0, 3) and maker.lower() != signer.lower():
            raise ExchangeRejection("invalid signature: maker must be the signer for this signature type")
        price, size = signing.implied_price_and_size(side, maker_amount, taker_amount)
        return OrderRequest(
            order_id=order_id,
            owner=key.key,
            address=maker,
            token_id=token_id,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            post_only=bool(envelope.get("postOnly", False)),
            expiration=expiration,
        )

    def _verified(
        self, parsed: signing.SignedOrder, struct_hash: bytes, neg_risk: bool, expected: str
    ) -> str:
        """The id of the order under the first of the exchange's domains (chain ids) in which its
        signature recovers `expected`. The domain that verified the last order is tried first:
        clients sign for one domain, so most orders cost one signature recovery, not one per domain
        (a signature recovers its signer under one digest only, so the order tried cannot change
        the answer)."""
        wanted = expected.lower()
        for chain_id in self._domains:
            try:
                order_id, recovered = signing.order_in_domain(parsed, struct_hash, neg_risk, chain_id)
            except ValueError:  # e.g. a POLY_1271 wrapper made for another domain
                continue
            if recovered == wanted:
                if chain_id != self._domains[0]:
                    self._domains = (chain_id, *(c for c in self._domains if c != chain_id))
                return order_id
        raise ExchangeRejection("invalid signature")

    def _place(self, envelope: Any, key: ApiKey) -> dict[str, Any]:
        result = self.ex.submit(self._parse_order(envelope, key))
        return {
            "success": True,
            "errorMsg": "",
            "orderID": result.order_id,
            "status": result.status,
            "makingAmount": decimal_str(result.making_amount) if result.trade_ids else "",
            "takingAmount": decimal_str(result.taking_amount) if result.trade_ids else "",
            "transactionsHashes": list(result.transaction_hashes),
            "tradeIDs": list(result.trade_ids),
        }

    @staticmethod
    def _json(body: str) -> Any:
        try:
            return strict_json.loads(body)
        except strict_json.InvalidJson:  # malformed, NaN/Infinity, nested too deeply
            raise ExchangeRejection("Invalid order payload") from None

    async def post_order(self, request: Request) -> Response:
        key, body = await self._l2(request)
        return JSONResponse(self._place(self._json(body), key))

    async def post_orders(self, request: Request) -> Response:
        key, body = await self._l2(request)
        envelopes = self._json(body)
        if not isinstance(envelopes, list):
            raise ExchangeRejection("Invalid order payload")
        if len(envelopes) > MAX_BATCH:
            raise ExchangeRejection(f"Too many orders in payload: {len(envelopes)}, max allowed: {MAX_BATCH}")
        results = []
        for envelope in envelopes:
            try:
                results.append(self._place(envelope, key))
            except ExchangeRejection as exc:
                order_id = ""
                results.append(
                    {
                        "success": False,
                        "errorMsg": exc.message,
                        "orderID": order_id,
                        "status": "",
                        "makingAmount": "",
                        "takingAmount": "",
                        "transactionsHashes": [],
                        "tradeIDs": [],
                    }
                )
        return JSONResponse(results)

    async def cancel_order(self, request: Request) -> Response:
        key, body = await self._l2(request)
        payload = self._json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            raise ExchangeRejection("Invalid order payload")
        canceled, not_canceled = self.ex.cancel(key.key, [payload["orderID"]])
        return JSONResponse({"canceled": canceled, "not_canceled": not_canceled})

    async def cancel_orders(self, request: Request) -> Response:
        key, body = await self._l2(request)
        ids = self._json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ExchangeRejection("Invalid order payload")
        if len(ids) > MAX_CANCEL_BATCH:
            raise ExchangeRejection(f"Too many orders in payload, max allowed: {MAX_CANCEL_BATCH}")
        canceled, not_canceled = self.ex.cancel(key.key, ids)
        return JSONResponse({"canceled": canceled, "not_canceled": not_canceled})

    async def cancel_all(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        return JSONResponse({"canceled": self.ex.cancel_where(key.key), "not_canceled": {}})

    async def cancel_market_orders(self, request: Request) -> Response:
        key, body = await self._l2(request)
        payload = self._json(body) if body else {}
        if not isinstance(payload, dict):
            raise ExchangeRejection("Invalid order payload")
        market, asset = payload.get("market") or None, payload.get("asset_id") or None
        canceled = self.ex.cancel_where(key.key, market=market, asset_id=asset)
        return JSONResponse({"canceled": canceled, "not_canceled": {}})

    async def get_order(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        order = self.ex.get_order(request.path_params["order_id"])
        if order is None or order.owner != key.key:
            raise ExchangeRejection("Order not found", status=404)
        return JSONResponse(render.open_order(order))

    async def open_orders(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        q = request.query_params
        orders = self.ex.open_orders(
            key.key,
            market=q.get("market") or None,
            asset_id=q.get("asset_id") or None,
            order_id=q.get("id") or None,
        )
        items = [render.open_order(o) for o in orders]
        return JSONResponse(paginate(items, q.get("next_cursor"), self.state.page_size))

    async def trades(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        q = request.query_params
        try:
            after = float(q["after"]) if q.get("after") else None
            before = float(q["before"]) if q.get("before") else None
        except ValueError:
            raise ExchangeRejection("Invalid payload") from None
        trades = self.ex.trades_for(
            key.key,
            market=q.get("market") or None,
            asset_id=q.get("asset_id") or None,
            trade_id=q.get("id") or None,
            after=after,
            before=before,
        )
        items = [render.trade_record(t, key.key) for t in trades]
        return JSONResponse(paginate(items, q.get("next_cursor"), self.state.page_size))

    # -- balances, heartbeats, rewards -------------------------------------------------------------

    async def balance_allowance(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        q = request.query_params
        asset_type = q.get("asset_type", "COLLATERAL").upper()
        acct = self.ex.account(key.address)
        if asset_type == "COLLATERAL":
            balance = acct.balance(COLLATERAL)
        elif asset_type == "CONDITIONAL":
            token = q.get("token_id")
            if not token:
                raise ExchangeRejection("assetId invalid value -1")
            self._token_market(token)
            balance = acct.balance(token)
        else:
            raise ExchangeRejection("Invalid asset type")
        allowance = MAX_ALLOWANCE if acct.allowance_set else "0"
        return JSONResponse(
            {
                "balance": str(int(balance * 1_000_000)),
                "allowances": dict.fromkeys(EXCHANGE_SPENDERS, allowance),
            }
        )

    async def balance_allowance_update(self, request: Request) -> Response:
        await self._l2(request)
        return JSONResponse("")

    async def heartbeat(self, request: Request) -> Response:
        key, body = await self._l2(request)
        payload = self._json(body) if body else {}
        hb_id = payload.get("heartbeat_id", "") if isinstance(payload, dict) else ""
        try:
            return JSONResponse({"heartbeat_id": self.ex.heartbeat(key.key, str(hb_id or ""))})
        except HeartbeatMismatch as exc:
            return JSONResponse({"error_msg": exc.message, "heartbeat_id": exc.expected}, status_code=400)

    def _scoring(self, order_id: str, owner: str) -> bool:
        order = self.ex.get_order(order_id)
        if order is None or order.owner != owner or order.status != "LIVE":
            return False
        market = self.ex.markets[order.market]
        mid = self._mid(order.token_id)
        if (
            not market.rewards.active
            or mid is None
            or order.original_size - order.size_matched < market.rewards.min_size
        ):
            return False
        return abs(order.price - mid) * 100 < market.rewards.max_spread_cents

    async def order_scoring(self, request: Request) -> Response:
        key, _ = await self._l2(request)
        return JSONResponse({"scoring": self._scoring(request.query_params.get("order_id", ""), key.key)})

    async def orders_scoring(self, request: Request) -> Response:
        key, body = await self._l2(request)
        ids = self._json(body)
        if not isinstance(ids, list):
            raise ExchangeRejection("Invalid payload")
        return JSONResponse({str(i): self._scoring(str(i), key.key) for i in ids})

    async def rewards_current(self, request: Request) -> Response:
        items = [
            {
                "condition_id": m.condition_id,
                "rewards_max_spread": render.number(m.rewards.max_spread_cents),
                "rewards_min_size": render.number(m.rewards.min_size),
                "rewards_config": [
                    {
                        "id": i,
                        "asset_address": render.COLLATERAL_ADDRESS,
                        "start_date": "2026-05-01",
                        "end_date": "2500-12-31",
                        "rate_per_day": render.number(m.rewards.daily_rate),
                        "total_rewards": 0,
                    }
                ],
                "sponsored_daily_rate": 0,
                "native_daily_rate": render.number(m.rewards.daily_rate),
                "total_daily_rate": render.number(m.rewards.daily_rate),
            }
            for i, m in enumerate(self.ex.markets.values())
            if m.rewards.active
        ]
        return JSONResponse(paginate(items, request.query_params.get("next_cursor"), 500))

    def _payouts(self, address: str, kind: str, date: str | None) -> list[dict[str, Any]]:
        """The exchange's payouts of one kind to `address`, of one UTC date (of the epoch's start)."""
        items = []
        for payout in self.ex.payouts_to(address):
            if payout.kind != kind:
                continue
            item = render.payout_item(payout, self.ex.markets.get(payout.condition_id))
            if date is None or item["date"] == date:
                items.append(item)
        return items

    async def rewards_user(self, request: Request) -> Response:
        """`GET /rewards/user?date=&signature_type=`: the liquidity rewards paid to the key's address."""
        key, _ = await self._l2(request)
        q = request.query_params
        items = self._payouts(key.address, "reward", q.get("date") or None)
        return JSONResponse(paginate(items, q.get("next_cursor"), self.state.page_size))

    async def rebates_current(self, request: Request) -> Response:
        """`GET /rebates/current?date=&maker_address=`: the maker rebates paid to the key's address."""
        key, _ = await self._l2(request)
        q = request.query_params
        maker = q.get("maker_address") or key.address
        if maker.lower() != key.address.lower():
            raise ExchangeRejection("maker_address is not the address of this API key")
        items = self._payouts(key.address, "rebate", q.get("date") or None)
        return JSONResponse(paginate(items, q.get("next_cursor"), self.state.page_size))

    # -- Gamma-style listing -------------------------------------------------------------------------

    async def gamma_markets(self, request: Request) -> Response:
        q = request.query_params
        markets = list(self.ex.markets.values())
        if (slug := q.get("slug")) is not None:
            markets = [m for m in markets if m.slug == slug]
        if ids := q.getlist("condition_ids"):
            markets = [m for m in markets if m.condition_id in ids]
        if tokens := q.getlist("clob_token_ids"):
            markets = [m for m in markets if set(m.tokens) & set(tokens)]
        if q.get("closed", "false").lower() == "false":
            markets = [m for m in markets if not m.closed]
        items = []
        for index, m in enumerate(markets):
            volume = sum(
                (t.size * t.price for t in self.ex.trades.values() if t.market == m.condition_id), Decimal(0)
            )
            bids, asks = self.ex.book_levels(m.yes_token)
            liquidity = sum((p * s for p, s in bids), Decimal(0)) + sum(
                ((ONE - p) * s for p, s in asks), Decimal(0)
            )
            last = self.ex.last_trade.get(m.yes_token)
            items.append(
                render.gamma_market(
                    m,
                    index,
                    self._prices(m),
                    volume,
                    liquidity,
                    self.ex.best_bid_ask(m.yes_token),
                    last[0] if last else None,
                )
            )
        try:
            offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 100)), 500)
        except ValueError:
            raise ExchangeRejection("Invalid payload") from None
        return JSONResponse(items[offset : offset + limit])

    # -- loopback-only control plane -----------------------------------------------------------------

    async def _amount_body(self, body: str) -> tuple[str, Decimal]:
        payload = self._json(body)
        try:
            market, amount = str(payload["market"]), Decimal(str(payload["amount"]))
        except (KeyError, TypeError, InvalidOperation):
            raise ExchangeRejection("Invalid payload: need market and amount") from None
        if not amount.is_finite():
            raise ExchangeRejection("Invalid payload: need market and amount")
        return market, amount

    async def local_split(self, request: Request) -> Response:
        key, body = await self._l2(request)
        market, amount = await self._amount_body(body)
        self.ex.split(key.address, market, amount)
        return JSONResponse({"ok": True})

    async def local_merge(self, request: Request) -> Response:
        key, body = await self._l2(request)
        market, amount = await self._amount_body(body)
        self.ex.merge(key.address, market, amount)
        return JSONResponse({"ok": True})

    def _condition_id_of(self, payload: Any) -> str:
        """The `condition_id` of a control-plane body; 404 when the exchange lists no such market."""
        cid = payload.get("condition_id") if isinstance(payload, dict) else None
        if not isinstance(cid, str) or not cid:
            raise ExchangeRejection("Invalid payload: need condition_id")
        if cid not in self.ex.markets:
            raise ExchangeRejection(f"market not found: {cid[:80]}", status=404)
        return cid

    async def local_resolve(self, request: Request) -> Response:
        """Resolve a market now: `{"condition_id", "winner": "YES" | "NO" | <token id>}`. Loopback
        only (the guard) and unauthenticated, like funding: it is the test's or operator's hand."""
        payload = self._json(await self._body_text(request))
        cid = self._condition_id_of(payload)
        winner = payload.get("winner")
        if not isinstance(winner, str) or not winner.strip():
            raise ExchangeRejection("Invalid payload: need winner (YES, NO or a token id)")
        market = self.ex.resolve(cid, winner)
        return JSONResponse(
            {
                "condition_id": cid,
                "winner": market.winner,
                "winning_outcome": market.outcome_of(market.winner),
            }
        )

    async def local_redeem(self, request: Request) -> Response:
        """Redeem the API key's account in a resolved market: `{"condition_id"}` ->
        `{"payout": "<pUSD>"}` (what the winning tokens paid; "0" when nothing is left to redeem)."""
        key, body = await self._l2(request)
        cid = self._condition_id_of(self._json(body))
        payout = self.ex.redeem(key.address, cid)
        return JSONResponse({"payout": decimal_str(payout)})

    async def _body_text(self, request: Request) -> str:
        try:
            return (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise ExchangeRejection("Invalid order payload") from None

    async def local_fund(self, request: Request) -> Response:
        payload = self._json(await self._body_text(request))
        try:
            address, amount = str(payload["address"]), Decimal(str(payload["amount"]))
        except (KeyError, TypeError, InvalidOperation):
            raise ExchangeRejection("Invalid payload: need address and amount") from None
        if not _is_address(address) or not amount.is_finite() or amount < 0:
            raise ExchangeRejection("Invalid payload: need a 0x address and a non-negative amount")
        if payload.get("once") and self.ex.account(address).allowance_set:
            return JSONResponse({"ok": True, "funded": False})  # funded before: a wallet is welcomed once
        self.ex.fund(address, amount)
        return JSONResponse({"ok": True, "funded": True})

    async def local_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = validated_changes(self._json(await self._body_text(request)), self.ex.markets)
            except FaultRefused as exc:
                raise ExchangeRejection(str(exc)) from None
            self.state.faults.update(changes, self.ex.clock.now())
            current = self.ex.settlement
            self.ex.settlement = SettlementConfig(
                delay_s=changes.get("settlement_delay_s", current.delay_s),
                fail_rate=changes.get("settlement_fail_rate", current.fail_rate),
            )
        return JSONResponse(self.state.faults.snapshot())

    async def local_orders(self, request: Request) -> Response:
        """The open orders of one address, read on the control plane: faults never apply here, so a
        test or the soak can watch a bot's quotes while its own requests are being failed."""
        address = request.query_params.get("address", "")
        if not _is_address(address):
            raise ExchangeRejection("Invalid payload: address must be 0x and 40 hex digits")
        return JSONResponse([render.open_order(o) for o in self.ex.open_orders_at(address)])

    async def local_status(self, request: Request) -> Response:
        return JSONResponse(
            {
                "markets": len(self.ex.markets),
                "orders_open": sum(1 for o in self.ex.orders.values() if o.status == "LIVE"),
                "trades": len(self.ex.trades),
                "ws_connections": self.state.hub.connection_count(),
                "requests": dict(sorted(self.state.requests.items())),
            }
        )


def _poly_headers(scope: Scope) -> dict[str, str]:
    """The request's POLY_* headers by lower-case name, the first of each (as Starlette's
    `Headers.get`), in one pass: `Headers.get` scans every header per lookup."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name[:5].lower() == b"poly_":
            found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _url_path(request: Request) -> str:
    """`request.url.path` (what the HMAC covers) without building the URL for a plain path."""
    path: str = request.scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        return request.url.path
    return path


class OrderRoutesFirstRouter(Router):
    """Starlette's router, but the order endpoints (POST /order(s), DELETE /order(s): the
    ones a bot calls per quote) find their route at once instead of after trying the ~30 routes
    listed before them (a tenth of such a request's CPU). The chosen route is matched and handled
    exactly as `Router.app` does it; everything else goes through `Router.app` unchanged."""

    HOT: tuple[tuple[str, str], ...] = (
        ("POST", "/order"),
        ("POST", "/orders"),
        ("DELETE", "/order"),
        ("DELETE", "/orders"),
    )

    def __init__(self, routes: list[BaseRoute]) -> None:
        super().__init__(routes)
        self._hot: dict[tuple[str, str], BaseRoute] = {}
        for method, path in self.HOT:
            probe: Scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            route = next((r for r in self.routes if r.matches(probe)[0] is Match.FULL), None)
            if route is not None:
                self._hot[(method, path)] = route

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self._hot.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if route is not None:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self)
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


class ControlPlaneGuard:
    """`/_local/*` (funding, faults, splits) answers control-plane callers only, else 403; checked
    here, before anything is read, so a route added later cannot forget it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        control_plane = scope["type"] == "http" and scope["path"].startswith("/_local")
        if control_plane and not is_control_plane_caller(Request(scope)):
            await error("forbidden: loopback only", 403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for a request body over MAX_BODY_BYTES: at once when Content-Length says so, else as soon
    as the streamed (chunked) body passes the limit, so no more than that is ever held. The body
    read here is handed on to the app unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or len(declared) > 12 or int(declared) > MAX_BODY_BYTES:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = error(f"request body too large: the limit is {MAX_BODY_BYTES} bytes", 413)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields the already-read body once, then whatever the connection says next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay


def route_key(method: str, path: str) -> str:
    """ "METHOD /path" with every id-like segment (over 24 characters: ids, hashes) folded to {id}."""
    segments = ("{id}" if len(part) > 24 else part for part in path.split("/"))
    return f"{method} {'/'.join(segments)}"


class RequestLog:
    """Counts every request but the control plane's into `ServerState.requests` (pure ASGI)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and not path.startswith("/_local"):
            method = "WS" if scope["type"] == "websocket" else scope.get("method", "")
            self.state.requests[route_key(method, path)] += 1
        await self.app(scope, receive, send)


TIMING_HEADER = "X-Polymm-Timing"
_TIMING_HEADER_BYTES = TIMING_HEADER.lower().encode()


class TimingMiddleware:
    """With `timing` on: every HTTP answer carries `X-Polymm-Timing: <received_ns>,<answered_ns>`,
    CLOCK_MONOTONIC nanoseconds (comparable across processes on one Linux machine) of the request
    reaching the app and its answer starting, so a benchmark can tell exchange time from transit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = stamp_ns()

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                stamp = f"{received},{stamp_ns()}".encode()
                headers = [*message.get("headers", []), (_TIMING_HEADER_BYTES, stamp)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


class FaultMiddleware:
    """Latency, restart windows and error bursts for every HTTP route but the control plane (pure ASGI)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_local"):
            await self.app(scope, receive, send)
            return
        faults = self.state.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        response: Response | None = None
        if path in ORDER_ROUTES and self.state.exchange.clock.now() < faults.restart_until:
            response = error("matching engine is restarting, retry shortly", 425)
        elif status := faults.http_error():
            headers = {"Retry-After": str(faults.retry_after_s)} if status == 429 else None
            message = "Too Many Requests" if status == 429 else "service unavailable (injected fault)"
            response = JSONResponse({"error": message}, status_code=status, headers=headers)
        if response is not None:
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)


Handler = Callable[[Request], Awaitable[Response]]
RouteSpec = tuple[str, Handler, list[str]]  # path, handler, methods


def _handler(fn: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ExchangeRejection as exc:
            return error(exc.message, exc.status)
        except Unauthorized as exc:
            return error(exc.message, 401)

    return wrapped


def _service_and_auth_routes(api: ExchangeApi) -> list[RouteSpec]:
    """Health, time and version, then the API-key endpoints (L1-signed) and the ban status."""
    return [
        ("/ok", api.ok, ["GET"]),
        ("/", api.ok, ["GET"]),
        ("/time", api.time, ["GET"]),
        ("/version", api.version, ["GET"]),
        ("/api/geoblock", api.geoblock, ["GET"]),
        ("/auth/api-key", api.create_api_key, ["POST"]),
        ("/auth/derive-api-key", api.derive_api_key, ["GET"]),
        ("/auth/api-keys", api.api_keys, ["GET"]),
        ("/auth/ban-status/closed-only", api.closed_only, ["GET"]),
    ]


def _market_data_routes(api: ExchangeApi) -> list[RouteSpec]:
    """Public CLOB market data: market listings and parameters, books, prices, tick, fees."""
    return [
        ("/markets", api.markets, ["GET"]),
        ("/markets/{condition_id}", api.market, ["GET"]),
        ("/simplified-markets", api.simplified_markets, ["GET"]),
        ("/sampling-markets", api.sampling_markets, ["GET"]),
        ("/sampling-simplified-markets", api.sampling_simplified_markets, ["GET"]),
        ("/clob-markets/{condition_id}", api.clob_market, ["GET"]),
        ("/markets-by-token/{token_id}", api.market_by_token, ["GET"]),
        ("/book", api.book, ["GET"]),
        ("/books", api.books, ["POST"]),
        ("/midpoint", api.midpoint, ["GET"]),
        ("/midpoints", api.midpoints, ["POST"]),
        ("/price", api.price, ["GET"]),
        ("/prices", api.prices, ["POST"]),
        ("/spread", api.spread, ["GET"]),
        ("/spreads", api.spreads, ["POST"]),
        ("/last-trade-price", api.last_trade_price, ["GET"]),
        ("/last-trades-prices", api.last_trades_prices, ["POST"]),
        ("/tick-size", api.tick_size, ["GET"]),
        ("/neg-risk", api.neg_risk, ["GET"]),
        ("/fee-rate", api.fee_rate, ["GET"]),
    ]


def _trading_routes(api: ExchangeApi) -> list[RouteSpec]:
    """Orders, cancels, the account's orders, trades, balances, heartbeats and reward scoring."""
    return [
        ("/order", api.post_order, ["POST"]),
        ("/order", api.cancel_order, ["DELETE"]),
        ("/orders", api.post_orders, ["POST"]),
        ("/orders", api.cancel_orders, ["DELETE"]),
        ("/cancel-all", api.cancel_all, ["DELETE"]),
        ("/cancel-market-orders", api.cancel_market_orders, ["DELETE"]),
        ("/data/order/{order_id}", api.get_order, ["GET"]),
        ("/data/orders", api.open_orders, ["GET"]),
        ("/data/trades", api.trades, ["GET"]),
        ("/trades", api.trades, ["GET"]),
        ("/balance-allowance", api.balance_allowance, ["GET"]),
        ("/balance-allowance/update", api.balance_allowance_update, ["GET"]),
        ("/v1/heartbeats", api.heartbeat, ["POST"]),
        ("/order-scoring", api.order_scoring, ["GET"]),
        ("/orders-scoring", api.orders_scoring, ["POST"]),
    ]


def _listing_and_control_routes(api: ExchangeApi) -> list[RouteSpec]:
    """The rewards and Gamma listings, then the loopback-only control plane (`/_local/*`)."""
    return [
        ("/rewards/markets/current", api.rewards_current, ["GET"]),
        ("/rewards/user", api.rewards_user, ["GET"]),
        ("/rebates/current", api.rebates_current, ["GET"]),
        ("/gamma/markets", api.gamma_markets, ["GET"]),
        ("/_local/split", api.local_split, ["POST"]),
        ("/_local/merge", api.local_merge, ["POST"]),
        ("/_local/resolve", api.local_resolve, ["POST"]),
        ("/_local/redeem", api.local_redeem, ["POST"]),
        ("/_local/fund", api.local_fund, ["POST"]),
        ("/_local/faults", api.local_faults, ["GET", "POST"]),
        ("/_local/status", api.local_status, ["GET"]),
        ("/_local/orders", api.local_orders, ["GET"]),
    ]


def build_app(state: ServerState) -> Starlette:
    """The REST routes (each handler maps rejections to the venue's error body), the two WebSocket
    channels, and the middleware: control-plane guard, request log, body limit, injected faults."""
    api = ExchangeApi(state)
    specs = [
        *_service_and_auth_routes(api),
        *_market_data_routes(api),
        *_trading_routes(api),
        *_listing_and_control_routes(api),
    ]
    routes: list[Route | WebSocketRoute] = [
        Route(path, _handler(fn), methods=methods) for path, fn, methods in specs
    ]
    routes.append(WebSocketRoute("/ws/market", state.hub.market_endpoint))
    routes.append(WebSocketRoute("/ws/user", state.hub.user_endpoint))
    middleware = [
        *([Middleware(TimingMiddleware)] if state.timing else []),
        Middleware(ControlPlaneGuard),
        Middleware(RequestLog, state=state),
        Middleware(BodyLimitMiddleware),
        Middleware(FaultMiddleware, state=state),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.router = OrderRoutesFirstRouter(app.router.routes)  # the same routes, the order ones found first
    return app


def _v2_order(envelope: Any) -> dict[str, Any]:
    """The signed order of a POST /order envelope, if it has the V2 shape (§13.2: a V1 order is an
    `order_version_mismatch`, anything else malformed an `Invalid order payload`)."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("order"), dict):
        raise ExchangeRejection("Invalid order payload")
    wire: dict[str, Any] = envelope["order"]
    if V1_ONLY_KEYS & wire.keys() or not {"timestamp", "metadata", "builder"} <= wire.keys():
        raise ExchangeRejection("order_version_mismatch")
    if not wire.keys() >= V2_ORDER_KEYS:
        raise ExchangeRejection("Invalid order payload")
    return wire
