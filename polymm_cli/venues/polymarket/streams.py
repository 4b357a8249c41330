"""The market and user WebSocket streams: connect, subscribe, keep alive, resync, reconnect.

Owns one connection's life (docs/protocol.md §6): the subscription message (`assets_ids`, two s's, for the
market channel; the raw API credentials for the user channel), a text `PING` every
`ws_ping_interval_s`, a watchdog that treats `ws_watchdog_s` without any frame (PONG included) as a
dead connection, reconnects with exponential backoff and jitter, and the resync that makes a
reconnect lossless:

    connect -> subscribe -> PING/PONG barrier -> REST resync -> StreamStatus(True) -> live frames

The barrier proves the server has processed the subscription (it answers frames in order), so the
REST resync that follows cannot miss anything the live feed will not carry. Market: a REST snapshot
(POST /books) per token, yielded before any update; the subscription's own initial `book` dump, which
is older than those snapshots, is dropped. Level updates are absolute sizes, so updates buffered
during the resync apply cleanly on top. User: the open orders (as OrderUpdate kind UPDATE) and the
trades since the last trade seen minus `resync_margin_s` (and since the oldest trade still settling),
deduplicated with the live feed by (trade id, status); a status older than one already delivered
for that trade is dropped too, so a trade never goes backwards.

Iteration is lazy: the stream does nothing until iterated and, after yielding
`StreamStatus(connected=False)`, reconnects only when the consumer asks for the next event.
A frame that is not JSON is skipped and counted (`malformed_frames`); inside a frame, each malformed
element is logged once with its raw text (cut to `wire.RAW_TEXT_MAX`), on one line, and counted
(`malformed_events`) while the frame's good events are still yielded: one bad `order` must not hide
the `trade` beside it. An `{"error": ...}` frame is logged and counted (`error_frames`). Nothing
logged ever carries the subscription message (the user channel's carries the raw API secret; our
secret and passphrase are masked out of any logged raw text in case the venue echoes them).
Must not: hold books, touch the ledger, read the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Sequence
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from polymm_cli.clock import Clock
from polymm_cli.errors import VenueError, describe
from polymm_cli.model import TradeStatus
from polymm_cli.venues.base import (
    BookSnapshot,
    MarketEvent,
    OrderUpdate,
    StreamStatus,
    TickSizeChange,
    TradeUpdate,
    UserEvent,
)
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.polymarket.records import normalise_trade
from polymm_cli.venues.polymarket.rest import ApiCreds, one_line
from polymm_cli.venues.polymarket.wire import (
    RAW_TEXT_MAX,
    BadElement,
    WireError,
    parse_market_frame,
    parse_user_frame,
)

log = logging.getLogger("polymm.venues.polymarket")

StreamEvent = MarketEvent | UserEvent | StreamStatus
T = TypeVar("T")

_MAX_FRAME_BYTES = 16 * 1024 * 1024
_CLOSE_TIMEOUT_S = 1.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Settlement order of a trade's statuses: a lower rank after a higher one is stale.
_RANK = {
    TradeStatus.MATCHED: 0,
    TradeStatus.MINED: 1,
    TradeStatus.RETRYING: 1,
    TradeStatus.CONFIRMED: 2,
    TradeStatus.FAILED: 2,
}
_FINAL_RANK = 2
_SEEN_TRADES_MAX = 20_000
_RAW_LOG_CHARS = RAW_TEXT_MAX + 40  # the raw text wire.py keeps, with its "... (N chars)" note


class StreamHost(Protocol):
    """What a stream needs from its venue: REST resyncs, credentials and the tick cache."""

    @property
    def api_key(self) -> str: ...

    @property
    def address(self) -> str: ...

    async def ws_credentials(self) -> ApiCreds: ...

    async def snapshot_books(self, token_ids: Sequence[str]) -> list[BookSnapshot]: ...

    async def resync_orders(self, markets: Sequence[str]) -> list[OrderUpdate]: ...

    async def resync_trades(self, markets: Sequence[str], after: float) -> list[TradeUpdate]: ...

    def observe_market_event(self, event: MarketEvent) -> None: ...


class _Closed(Exception):
    """The stream was closed while waiting."""


class _Lost(Exception):
    """The connection failed during connect/subscribe/resync; `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


def _error_frame(frame: str) -> str | None:
    """The message of an `{"error": ...}` frame, or None for anything else (cheap on normal frames)."""
    head = frame[:48]
    if '"error"' not in head or not head.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(frame)
    except ValueError:
        return None
    if isinstance(obj, dict) and "error" in obj and "event_type" not in obj:
        return one_line(str(obj["error"]), 120)
    return None


def market_subscription(token_ids: Sequence[str]) -> str:
    """The market channel's subscription message (`assets_ids`, two s's: docs/protocol.md §6). The
    custom features are on for `market_resolved`, the one word that a market closed for good (their
    `best_bid_ask` events come too and change no book)."""
    return json.dumps({"type": "market", "assets_ids": list(token_ids), "custom_feature_enabled": True})


class _Connection:
    """One WebSocket at a time to `url`, with what every client of the venue's channels needs:
    connecting (or giving up when closed), reading under the watchdog, the text PING keepalive,
    the reconnect backoff and closing. Subclasses own the loop that uses them."""

    channel: Literal["market", "user"]

    def __init__(self, url: str, config: PolymarketConfig, clock: Clock, rng: random.Random) -> None:
        self._url = url
        self._config = config
        self._clock = clock
        self._rng = rng
        self._closed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._gen: AsyncGenerator[Any, None] | None = None

    async def close(self) -> None:
        """End the stream: the iterator stops (now, or at its next step) and the socket closes."""
        self._closed.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT_S * 2)
        gen = self._gen
        if gen is not None and not getattr(gen, "ag_running", False):
            with contextlib.suppress(Exception):
                await gen.aclose()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- machinery -----------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        cfg = self._config
        ceiling = min(
            cfg.reconnect_backoff_cap_s, cfg.reconnect_backoff_base_s * (2.0 ** max(0, attempt - 1))
        )
        return ceiling * (0.5 + 0.5 * self._rng.random())

    async def _until_closed(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` unless the stream is closed first (then raise _Closed)."""
        task = asyncio.ensure_future(awaitable)
        waiter = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            result = await task
            if isinstance(result, ClientConnection):
                await result.close()
        raise _Closed

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), seconds)
        if self._closed.is_set():
            raise _Closed

    async def _connect(self) -> ClientConnection:
        try:
            return await self._until_closed(
                connect(
                    self._url,
                    ping_interval=None,  # the venue's keepalive is the text PING below
                    open_timeout=self._config.http_timeout_s,
                    close_timeout=_CLOSE_TIMEOUT_S,
                    max_size=_MAX_FRAME_BYTES,
                    proxy=None if _is_loopback(self._url) else True,
                    compression=None,
                )
            )
        except InvalidURI:
            raise VenueError(f"invalid {self.channel} WebSocket URL") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise _Lost(f"connect failed: {type(exc).__name__}: {one_line(str(exc), 80)}") from None

    async def _recv(self, ws: ClientConnection) -> str | bytes:
        """The next frame; _Lost on silence past the watchdog or a closed connection."""
        try:
            async with asyncio.timeout(self._config.ws_watchdog_s):
                return await ws.recv()
        except TimeoutError:
            raise _Lost(f"watchdog: no frame for {self._config.ws_watchdog_s:g} s") from None
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            raise _Lost(
                f"connection closed (code {code})" if code is not None else "connection lost"
            ) from None

    async def _pinger(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed, OSError, asyncio.CancelledError):
            while True:
                await asyncio.sleep(self._config.ws_ping_interval_s)
                await ws.send("PING")

    async def _dispose(self, ws: ClientConnection) -> None:
        self._ws = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT_S * 2)


class _Stream(_Connection):
    """A reconnecting subscription; subclasses say what to subscribe, resync and parse."""

    def __init__(self, url: str, config: PolymarketConfig, clock: Clock, rng: random.Random) -> None:
        super().__init__(url, config, clock, rng)
        self.connected = False
        self.malformed_frames = 0  # frames that were not JSON at all: skipped whole
        self.malformed_events = 0  # bad elements of otherwise good frames: skipped alone
        self.error_frames = 0
        self._creds: ApiCreds | None = None  # their secrets are never logged, even echoed back
        self.reconnects = 0

    # -- the VenueEvents protocol --------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    # -- subclass hooks ------------------------------------------------------------------------------

    async def _subscription(self) -> str:
        raise NotImplementedError

    async def _resync(self, buffered: list[str | bytes]) -> list[StreamEvent]:
        raise NotImplementedError

    def _parse(self, frame: str | bytes, recv_ts: float) -> list[StreamEvent]:
        raise NotImplementedError

    def _keep_buffered(self, event: StreamEvent) -> bool:
        return True

    def _report(self, problems: Sequence[BadElement]) -> None:
        """Log each malformed element of a frame once, with its raw text, and count it."""
        for bad in problems:
            self.malformed_events += 1
            raw = bad.raw
            if self._creds is not None:
                for secret in (self._creds.secret, self._creds.passphrase):
                    if secret:
                        raw = raw.replace(secret, "[masked]")
            log.warning(
                "%s stream: skipped a malformed event (%s): %s",
                self.channel,
                one_line(bad.error, 160),
                one_line(raw, _RAW_LOG_CHARS),
            )

    # -- machinery -----------------------------------------------------------------------------------

    def _status(self, connected: bool, reason: str) -> StreamStatus:
        return StreamStatus(
            stream=self.channel, connected=connected, reason=reason, recv_ts=self._clock.now()
        )

    async def _barrier(self, ws: ClientConnection) -> list[str | bytes]:
        """PING, then the frames that arrive before its PONG (the subscription is in effect after).

        The PONG must come within the watchdog however many other frames arrive: a server that lost
        our PING (a stall that ended) while data flows again would otherwise hold the barrier - and
        our quotes - forever. Without it the connection is dropped and made again."""
        await ws.send("PING")
        buffered: list[str | bytes] = []
        try:
            async with asyncio.timeout(self._config.ws_watchdog_s):
                while True:
                    frame = await self._recv(ws)
                    text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")
                    if text.strip() == "PONG":
                        return buffered
                    buffered.append(frame)
        except TimeoutError:
            raise _Lost(
                f"no PONG to the subscription's PING within {self._config.ws_watchdog_s:g} s"
            ) from None

    def _handle(self, frame: str | bytes, recv_ts: float) -> list[StreamEvent]:
        text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")
        error = _error_frame(text)
        if error is not None:
            self.error_frames += 1
            log.warning("%s stream: the venue sent an error: %s", self.channel, error)
            return []
        try:
            return self._parse(text, recv_ts)
        except WireError as exc:
            self.malformed_frames += 1
            log.warning("%s stream: skipped a malformed frame: %s", self.channel, one_line(str(exc), 120))
            return []

    async def _open(self) -> tuple[ClientConnection, list[StreamEvent], list[str | bytes]]:
        """Connect, subscribe, pass the barrier and resync; raises _Lost or _Closed."""
        ws = await self._connect()
        self._ws = ws
        try:
            await ws.send(await self._subscription())
            buffered = await self._barrier(ws)
            resync = await self._until_closed(self._resync(buffered))
        except ConnectionClosed:
            await self._dispose(ws)
            raise _Lost("connection lost while subscribing") from None
        except VenueError as exc:
            await self._dispose(ws)
            if self._closed.is_set():
                raise _Closed from None
            raise _Lost(f"resync failed: {one_line(str(exc), 120)}") from None
        except BaseException:
            await self._dispose(ws)
            raise
        return ws, resync, buffered

    async def _run(self) -> AsyncGenerator[StreamEvent, None]:
        """Connect, serve, reconnect with backoff until closed; a status at every change of state."""
        attempt = 0
        reported: bool | None = None  # the last connection state we told the consumer
        while not self._closed.is_set():
            try:
                if attempt:
                    await self._sleep(self._backoff(attempt))
                attempt += 1
                ws, resync, buffered = await self._open()
            except _Closed:
                return
            except _Lost as lost:
                self.connected = False
                if reported is not False:
                    reported = False
                    yield self._status(False, lost.reason)
                continue
            served = _Served()
            # closed with its consumer: the socket and the pinger go when the stream is closed
            async with contextlib.aclosing(self._serve(ws, resync, buffered, served)) as events:
                async for event in events:
                    yield event
            attempt, reported = (1, True) if served.connected else (attempt, reported)
            if self._closed.is_set():
                return
            self.connected = False
            self.reconnects += 1
            reported = False
            log.info("%s stream lost: %s; reconnecting", self.channel, served.reason)
            yield self._status(False, served.reason)

    async def _serve(
        self, ws: ClientConnection, resync: list[StreamEvent], buffered: list[str | bytes], served: _Served
    ) -> AsyncGenerator[StreamEvent, None]:
        """One connection's life after its resync: the resynced state, "connected", what arrived
        during the resync, then live frames until the connection is lost (`served` says why)."""
        pinger = asyncio.create_task(self._pinger(ws))
        try:
            for event in resync:
                yield event
            self.connected = served.connected = True
            yield self._status(True, "reconnected and resynced" if self.reconnects else "connected")
            recv_ts = self._clock.now()
            for frame in buffered:
                for event in self._handle(frame, recv_ts):
                    if self._keep_buffered(event):
                        yield event
            while True:
                frame = await self._recv(ws)
                for event in self._handle(frame, self._clock.now()):
                    yield event
        except _Lost as lost:
            served.reason = lost.reason
        finally:
            pinger.cancel()
            await self._dispose(ws)


class _Served:
    """How a connection's service ended: whether it got as far as "connected", and why it was lost."""

    __slots__ = ("connected", "reason")

    def __init__(self) -> None:
        self.connected = False
        self.reason = "connection lost"


class MarketStream(_Stream):
    """Book snapshots and updates for a set of tokens (see the module docstring)."""

    channel = "market"

    def __init__(
        self,
        token_ids: Sequence[str],
        host: StreamHost,
        config: PolymarketConfig,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        super().__init__(config.market_ws_url, config, clock, rng)
        self._tokens = list(dict.fromkeys(token_ids))
        self._host = host
        self._snapshotted: set[str] = set()

    async def _subscription(self) -> str:
        return market_subscription(self._tokens)

    async def _resync(self, buffered: list[str | bytes]) -> list[StreamEvent]:
        snapshots = await self._host.snapshot_books(self._tokens)
        self._snapshotted = {s.token_id for s in snapshots}
        return list(snapshots)

    def _keep_buffered(self, event: StreamEvent) -> bool:
        # The subscription's initial dump predates the REST snapshots just delivered.
        return not (type(event) is BookSnapshot and event.token_id in self._snapshotted)

    def _parse(self, frame: str | bytes, recv_ts: float) -> list[StreamEvent]:
        events, problems = parse_market_frame(frame, recv_ts)
        if problems:
            self._report(problems)
        for event in events:
            if type(event) is TickSizeChange or (type(event) is BookSnapshot and event.tick_size is not None):
                self._host.observe_market_event(event)
        return list(events)


class UserStream(_Stream):
    """Our order and trade updates for some markets (all when empty), resynced on every connect."""

    channel = "user"

    def __init__(
        self,
        markets: Sequence[str],
        host: StreamHost,
        config: PolymarketConfig,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        super().__init__(config.user_ws_url, config, clock, rng)
        self._markets = list(dict.fromkeys(markets))
        self._host = host
        self._started_at = clock.now()
        self._last_trade_ts: float | None = None
        self._settling: dict[str, float] = {}  # trade id -> match time, for trades not yet final
        self._seen: OrderedDict[str, tuple[int, frozenset[TradeStatus]]] = OrderedDict()
        self.duplicates_dropped = 0

    async def _subscription(self) -> str:
        creds = await self._host.ws_credentials()
        self._creds = creds
        # Carries the raw secret (docs/protocol.md §6.3): never logged.
        return json.dumps(
            {
                "type": "user",
                "auth": {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase},
                "markets": self._markets,
            }
        )

    def _resync_after(self) -> float:
        anchors = [self._started_at if self._last_trade_ts is None else self._last_trade_ts]
        anchors.extend(self._settling.values())
        return min(anchors) - self._config.resync_margin_s

    async def _resync(self, buffered: list[str | bytes]) -> list[StreamEvent]:
        orders = await self._host.resync_orders(self._markets)
        trades = await self._host.resync_trades(self._markets, self._resync_after())
        trades.sort(key=lambda t: (t.match_ts if t.match_ts is not None else t.venue_ts, t.venue_ts))
        events: list[StreamEvent] = list(orders)
        events.extend(t for t in trades if self._accept(t))
        return events

    def _accept(self, update: TradeUpdate) -> bool:
        """True the first time a (trade, status) is seen and the status is not older than one seen."""
        rank = _RANK[update.status]
        seen = self._seen.get(update.trade_id)
        if seen is not None:
            best, statuses = seen
            if update.status in statuses or rank < best:
                self.duplicates_dropped += 1
                return False
            self._seen[update.trade_id] = (max(best, rank), statuses | {update.status})
            self._seen.move_to_end(update.trade_id)
        else:
            self._seen[update.trade_id] = (rank, frozenset({update.status}))
            if len(self._seen) > _SEEN_TRADES_MAX:
                self._seen.popitem(last=False)
        ts = update.match_ts if update.match_ts is not None else update.venue_ts
        if self._last_trade_ts is None or ts > self._last_trade_ts:
            self._last_trade_ts = ts
        if rank >= _FINAL_RANK:
            self._settling.pop(update.trade_id, None)
        elif len(self._settling) < _SEEN_TRADES_MAX:
            self._settling.setdefault(update.trade_id, ts)
        return True

    def _parse(self, frame: str | bytes, recv_ts: float) -> list[StreamEvent]:
        host = self._host
        out: list[StreamEvent] = []
        events, problems = parse_user_frame(frame, recv_ts, api_key=host.api_key, maker_address=host.address)
        if problems:
            self._report(problems)
        for event in events:
            if type(event) is TradeUpdate:
                event = normalise_trade(event)
                if not self._accept(event):
                    continue
            out.append(event)
        return out


async def handshake(url: str, timeout_s: float) -> None:
    """Open a WebSocket to `url` and close it again (a reachability probe: `polymm doctor`). A refused
    handshake raises `VenueError` naming what the library said."""
    try:
        async with connect(url, open_timeout=timeout_s, close_timeout=1):
            return
    except WebSocketException as exc:
        raise VenueError(describe(exc, 160)) from None
