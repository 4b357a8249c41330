"""The local exchange's WebSocket channels, `/ws/market` and `/ws/user` (reference §6, §13.3).

Exchange events arrive synchronously from `LocalExchange` listeners; each is rendered once per
audience and queued on every interested connection; one sender task per connection drains its
queue. Hostile or malformed frames get an `{"error": ...}` reply and never reach the exchange.
A stall fault swallows everything (no data, no PONG) without closing, as real stalls do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from polymm_cli.clock import stamp_ns
from polymm_cli.exchange.core import LocalExchange
from polymm_cli.exchange.events import (
    BookEvent,
    ExchangeEvent,
    LastTradeEvent,
    MarketResolvedEvent,
    OrderEvent,
    TickSizeEvent,
    TradeEvent,
)
from polymm_cli.exchange.server import render, strict_json
from polymm_cli.exchange.server.faults import Faults

MAX_FRAME_BYTES = 64 * 1024
MAX_ASSETS_PER_CONNECTION = 500
QUEUE_LIMIT = 10_000


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    channel: str
    # a rendered frame; with timing on, a price_change stays a dict until its write (`sent_ns`)
    queue: asyncio.Queue[str | dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    assets: set[str] = field(default_factory=set)
    markets: set[str] = field(default_factory=set)  # user channel filter; empty = all
    api_key: str = ""
    custom_features: bool = False
    subscribed: bool = False

    def send(self, message: dict[str, Any] | list[dict[str, Any]] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        self.send_rendered(text)

    def send_rendered(self, text: str | dict[str, Any]) -> None:
        """Queue a frame for the sender; a dict (timing on) is rendered there, stamped `sent_ns`."""
        with contextlib.suppress(asyncio.QueueFull):  # a consumer this far behind will resync anyway
            self.queue.put_nowait(text)


class WsHub:
    def __init__(self, exchange: LocalExchange, faults: Faults, *, timing: bool = False) -> None:
        self.exchange = exchange
        self.faults = faults
        self.timing = timing  # stamp `published_ns` (CLOCK_MONOTONIC) on price_change events
        self.connections: set[Connection] = set()
        self._drops_seen = 0
        exchange.add_listener(self.on_event)

    def connection_count(self) -> int:
        return len(self.connections)

    # -- fan-out ----------------------------------------------------------------------------------

    def on_event(self, event: ExchangeEvent) -> None:
        if not self.connections:
            return
        if isinstance(event, BookEvent):
            self._book_event(event)
        elif isinstance(event, LastTradeEvent):
            self._to_market(event.token_id, render.ws_last_trade(event))
        elif isinstance(event, TickSizeEvent):
            self._to_market(event.token_id, render.ws_tick_size_change(event))
        elif isinstance(event, MarketResolvedEvent):
            self._market_resolved(event)
        else:
            self._to_users(event)

    def _to_users(self, event: ExchangeEvent) -> None:
        """An order or trade event, to the user channels of the accounts it concerns."""
        if isinstance(event, OrderEvent):
            owners = [c for c in self._user_conns(event.order.market) if c.api_key == event.order.owner]
            if owners:  # rendered only for an owner listening (not for every other trader's order)
                message = json.dumps(render.ws_order(event), separators=(",", ":"))
                for conn in owners:
                    conn.send(message)
        elif isinstance(event, TradeEvent):
            trade = event.trade
            for conn in self._user_conns(trade.market):
                if trade.involves(conn.api_key):
                    conn.send(render.trade_record(trade, conn.api_key, ws=True, timestamp=event.timestamp))

    def _user_conns(self, market: str) -> list[Connection]:
        return [
            c
            for c in self.connections
            if c.channel == "user" and c.subscribed and (not c.markets or market in c.markets)
        ]

    def _market_resolved(self, event: MarketResolvedEvent) -> None:
        """`market_resolved`, as Polymarket sends it: to the market channels that enabled the custom
        features and subscribed either token of the market, once per connection."""
        market_id = str(500000 + list(self.exchange.markets).index(event.market))  # its Gamma id
        message = render.ws_market_resolved(event, self.exchange.markets[event.market], market_id)
        for conn in self.connections:
            if conn.channel == "market" and conn.custom_features and conn.assets.intersection(event.tokens):
                conn.send(message)

    def _to_market(self, token_id: str, message: dict[str, Any]) -> None:
        for conn in self.connections:
            if conn.channel == "market" and token_id in conn.assets:
                conn.send(message)

    def _book_event(self, event: BookEvent) -> None:
        book_hash = hashlib.sha1(
            f"{event.market}:{event.timestamp}:{self.exchange.version}".encode()
        ).hexdigest()
        full = render.ws_price_change(event, book_hash)
        if self.timing:  # the moment the exchange publishes the change, for latency benchmarks
            full["published_ns"] = stamp_ns()
        tokens = [
            t for t in self.exchange.markets[event.market].tokens if t in {c.token_id for c in event.changes}
        ]
        books: dict[str, dict[str, Any]] = {}  # rendered once per token, for whoever wants it
        for conn in self.connections:
            if conn.channel != "market" or not conn.assets.intersection(tokens):
                continue
            self._send_price_change(conn, full, tokens)
            mine = [t for t in tokens if t in conn.assets]
            if conn.custom_features:
                for token in mine:
                    bid, ask = self.exchange.best_bid_ask(token)
                    conn.send(render.ws_best_bid_ask(event.market, token, bid, ask, event.timestamp))
            if event.traded:
                for token in mine:
                    if token not in books:
                        books[token] = render.ws_book_after_trade(self._book_body(token, event.timestamp))
                    conn.send(books[token])

    def _send_price_change(self, conn: Connection, full: dict[str, Any], tokens: list[str]) -> None:
        """The change of the tokens `conn` listens to (all of them, usually: the message as it is)."""
        message = full
        if not conn.assets.issuperset(tokens):
            entries = [e for e in full["price_changes"] if e["asset_id"] in conn.assets]
            message = {**full, "price_changes": entries}
        if self.timing:  # rendered by the sender, which stamps the write (`sent_ns`)
            conn.send_rendered(message)
        else:
            conn.send(message)

    def _book_body(self, token: str, now: float) -> dict[str, Any]:
        market = self.exchange.market_for_token(token)
        assert market is not None
        bids, asks = self.exchange.book_levels(token)
        last = self.exchange.last_trade.get(token)
        return render.book_body(market, token, bids, asks, now, last[0] if last else None)

    def drop_all(self) -> None:
        """Close every socket (a fault: the client must reconnect and resync)."""
        for conn in list(self.connections):
            conn.send("__close__")

    def check_faults(self) -> None:
        if self.faults.ws_drop_requested != self._drops_seen:
            self._drops_seen = self.faults.ws_drop_requested
            self.drop_all()

    # -- endpoints --------------------------------------------------------------------------------

    async def market_endpoint(self, websocket: WebSocket) -> None:
        await self._serve(Connection(websocket, "market"))

    async def user_endpoint(self, websocket: WebSocket) -> None:
        await self._serve(Connection(websocket, "user"))

    async def _serve(self, conn: Connection) -> None:
        await conn.websocket.accept()
        self.connections.add(conn)
        sender = asyncio.create_task(self._sender(conn))
        try:
            while True:
                message = await conn.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                if text is not None:
                    self._handle_frame(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.connections.discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _sender(self, conn: Connection) -> None:
        while True:
            queued = await conn.queue.get()
            if isinstance(queued, dict):  # timing on: when the frame is written, for the benchmarks
                queued = json.dumps({**queued, "sent_ns": stamp_ns()}, separators=(",", ":"))
            text = queued
            if text == "__close__":
                with contextlib.suppress(Exception):
                    await conn.websocket.close(code=1012)
                return
            if self.faults.ws_stalled:
                continue
            try:
                await conn.websocket.send_text(text)
            except Exception:
                return

    def _handle_frame(self, conn: Connection, text: str) -> None:
        if text.strip().upper() == "PING":
            conn.send("PONG")
            return
        if len(text) > MAX_FRAME_BYTES:
            conn.send({"error": "message too large"})
            return
        try:
            payload = strict_json.loads(text)
        except strict_json.InvalidJson as exc:
            conn.send({"error": f"invalid message: {exc}"})
            return
        if not isinstance(payload, dict):
            conn.send({"error": "invalid message: expected a JSON object"})
            return
        try:
            if conn.channel == "market":
                self._market_message(conn, payload)
            else:
                self._user_message(conn, payload)
        except (TypeError, ValueError) as exc:
            conn.send({"error": f"invalid message: {exc}"})

    @staticmethod
    def _string_list(payload: dict[str, Any], key: str) -> list[str]:
        value = payload.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} must be a list of strings")
        return value

    def _market_message(self, conn: Connection, payload: dict[str, Any]) -> None:
        assets = self._string_list(payload, "assets_ids")
        if "custom_feature_enabled" in payload:
            conn.custom_features = bool(payload["custom_feature_enabled"])
        operation = str(payload.get("operation", "")).lower()
        if operation == "unsubscribe":
            conn.assets.difference_update(assets)
            return
        if operation != "subscribe" and str(payload.get("type", "")).lower() != "market":
            raise ValueError("expected type 'market' or an operation")
        unknown = [a for a in assets if self.exchange.market_for_token(a) is None]
        if unknown:
            raise ValueError(f"unknown asset id {unknown[0][:20]}")
        new = [a for a in assets if a not in conn.assets]
        if len(conn.assets) + len(new) > MAX_ASSETS_PER_CONNECTION:
            raise ValueError(f"too many assets (max {MAX_ASSETS_PER_CONNECTION})")
        conn.assets.update(new)
        conn.subscribed = True
        if new and payload.get("initial_dump", True) is not False:
            now = self.exchange.clock.now()
            conn.send([render.ws_book(self._book_body(token, now)) for token in new])

    def _user_message(self, conn: Connection, payload: dict[str, Any]) -> None:
        operation = str(payload.get("operation", "")).lower()
        markets = self._string_list(payload, "markets")
        if operation in ("subscribe", "unsubscribe"):
            if not conn.subscribed:
                raise ValueError("authenticate first")
            if operation == "subscribe":
                conn.markets.update(markets)
            else:
                conn.markets.difference_update(markets)
            return
        if str(payload.get("type", "")).lower() != "user":
            raise ValueError("expected type 'user'")
        auth = payload.get("auth")
        if not isinstance(auth, dict):
            raise ValueError("missing auth")
        key = self.exchange.api_keys.by_key.get(str(auth.get("apiKey", "")))
        if (
            key is None
            or not hmac.compare_digest(str(auth.get("passphrase", "")), key.passphrase)
            or not hmac.compare_digest(str(auth.get("secret", "")), key.secret)
        ):
            conn.send({"error": "Unauthorized/Invalid api key"})
            conn.send("__close__")
            return
        conn.api_key = key.key
        conn.markets = set(markets)
        conn.subscribed = True
