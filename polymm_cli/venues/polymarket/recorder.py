"""Raw market data for `polymm record`: the market channel's frames verbatim, REST books verbatim,
and where the feed was lost. No key: the market channel and `GET /book` are public.

`MarketRecorder(tokens, config, clock, rng)` is iterated with `items()`:

    connect -> subscribe (the message MarketStream sends) -> every frame, stamped on arrival
                                 \\-> REST GET /book per token: now, every `snapshot_every_s`, and
                                      when asked (`request_snapshot()`, e.g. on a new file)
    lost (closed, watchdog, error) -> RawGap(reason) -> reconnect with backoff -> ... books again

What it shares with the live streams (streams.py `_Connection`): the connection options, the text
PING every `ws_ping_interval_s` (its PONGs are not recorded: they are not market data), the watchdog
that calls a connection silent for `ws_watchdog_s` dead, the reconnect backoff with jitter, and
closing. Receive times are unix nanoseconds from the injected clock (`clock.now()`), taken as each
frame is read, in a task of its own, so a slow consumer never delays them. Frames are recorded as
received: an `{"error": ...}` frame or a frame that does not parse is data too (the replay skips
what it cannot parse). A gap is reported once per outage, when a connection that served is lost;
the iterator ends when the recorder is closed.

Must not: parse frames (the replay does, with wire.py), write files (backtest/recording.py does),
read the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from polymm_cli.clock import Clock
from polymm_cli.errors import VenueError
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.polymarket.rest import ClobHttp, one_line
from polymm_cli.venues.polymarket.streams import _Closed, _Connection, _Lost, market_subscription

log = logging.getLogger("polymm.venues.polymarket")

DEFAULT_SNAPSHOT_EVERY_S = 300.0
_BOOK_RETRY_S = 5.0  # a snapshot round with a failure is tried again this soon
_KEEPALIVE = frozenset({"PONG", "PING"})


@dataclass(frozen=True, slots=True)
class RawFrame:
    recv_ns: int
    text: str


@dataclass(frozen=True, slots=True)
class RawBook:
    recv_ns: int
    token_id: str
    text: str


@dataclass(frozen=True, slots=True)
class RawGap:
    recv_ns: int
    reason: str


RecorderItem = RawFrame | RawBook | RawGap


@dataclass(frozen=True, slots=True)
class _End:
    reason: str


class MarketRecorder(_Connection):
    """See the module docstring. Counters: `frames`, `books`, `gaps`, `book_errors`, `reconnects`;
    `connected` and `state` (what the connection is doing, for a status line)."""

    channel = "market"

    def __init__(
        self,
        token_ids: Sequence[str],
        config: PolymarketConfig,
        clock: Clock,
        rng: random.Random,
        *,
        snapshot_every_s: float = DEFAULT_SNAPSHOT_EVERY_S,
    ) -> None:
        if snapshot_every_s <= 0:
            raise ValueError("snapshot_every_s must be positive")
        super().__init__(config.market_ws_url, config, clock, rng)
        self._tokens = list(dict.fromkeys(token_ids))
        self._snapshot_every_s = snapshot_every_s
        self._http = ClobHttp(config, clock, random.Random(rng.getrandbits(64)))
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[RecorderItem | _End] | None = None
        self.connected = False
        self.state = "connecting"
        self.frames = self.books = self.gaps = self.book_errors = self.reconnects = 0

    def items(self) -> AsyncGenerator[RecorderItem, None]:
        if self._gen is None:
            self._gen = self._record()
        return self._gen

    def request_snapshot(self) -> None:
        """Fetch every token's REST book now (the next round), not only at the next period."""
        self._wake.set()

    async def close(self) -> None:
        self._closed.set()
        if self._queue is not None:
            self._queue.put_nowait(_End("closed"))  # wakes the iterator waiting for the next item
        await super().close()
        await self._http.close()

    def _now_ns(self) -> int:
        return int(self._clock.now() * 1e9)

    async def _record(self) -> AsyncGenerator[RecorderItem, None]:
        attempt = 0
        while not self._closed.is_set():
            try:
                if attempt:
                    await self._sleep(self._backoff(attempt))
                attempt += 1
                ws = await self._connect()
            except _Closed:
                return
            except _Lost as lost:
                self.state = f"reconnecting ({lost.reason})"
                continue
            self._ws = ws
            served = _Service()
            began = self._clock.monotonic()
            async with contextlib.aclosing(self._serve(ws, served)) as items:
                async for item in items:
                    yield item
            self.connected = False
            if self._closed.is_set():
                return
            if served.connected:
                # a connection that served a while starts the backoff over; one dropped at once
                # (a venue refusing us) keeps backing off
                if self._clock.monotonic() - began >= self._config.ws_watchdog_s:
                    attempt = 1
                self.reconnects, self.gaps = self.reconnects + 1, self.gaps + 1
                self.state = f"reconnecting ({served.reason})"
                log.info("market recorder lost the feed: %s; reconnecting", served.reason)
                yield RawGap(self._now_ns(), served.reason)

    async def _serve(self, ws: ClientConnection, served: _Service) -> AsyncGenerator[RecorderItem, None]:
        queue: asyncio.Queue[RecorderItem | _End] = asyncio.Queue()
        self._queue = queue
        tasks: list[asyncio.Task[None]] = []
        try:
            await ws.send(market_subscription(self._tokens))
            self.connected = served.connected = True
            self.state = "recording"
            tasks = [
                asyncio.create_task(self._read(ws, queue)),
                asyncio.create_task(self._pinger(ws)),
                asyncio.create_task(self._snapshots(queue)),
            ]
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    served.reason = item.reason
                    return
                yield item
        except ConnectionClosed:
            served.reason = "connection lost while subscribing"
        finally:
            self._queue = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._dispose(ws)

    async def _read(self, ws: ClientConnection, queue: asyncio.Queue[RecorderItem | _End]) -> None:
        try:
            while True:
                frame = await self._recv(ws)
                recv_ns = self._now_ns()
                text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")
                if len(text) <= 6 and text.strip() in _KEEPALIVE:
                    continue
                self.frames += 1
                queue.put_nowait(RawFrame(recv_ns, text))
        except _Lost as lost:
            queue.put_nowait(_End(lost.reason))

    async def _snapshots(self, queue: asyncio.Queue[RecorderItem | _End]) -> None:
        """Every token's REST book now, then every `snapshot_every_s` (or sooner when asked)."""
        while True:
            self._wake.clear()
            failed = 0
            for token in self._tokens:
                try:
                    body = await self._http.request("GET", "/book", params={"token_id": token}, raw=True)
                except VenueError as exc:
                    failed += 1
                    self.book_errors += 1
                    log.warning("book of %s not recorded: %s", token[:16], one_line(str(exc), 120))
                    continue
                self.books += 1
                queue.put_nowait(RawBook(self._now_ns(), token, body))
            wait = min(_BOOK_RETRY_S, self._snapshot_every_s) if failed else self._snapshot_every_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)


class _Service:
    """How one connection's service ended: whether it subscribed, and why it was lost."""

    __slots__ = ("connected", "reason")

    def __init__(self) -> None:
        self.connected = False
        self.reason = "connection lost"
