"""What runs beside the bot during a soak: the observer, the second trader and the fault injector.

- `Observer` samples the bot's open orders at the exchange (the honest side) on its control plane
  (`GET /_local/orders?address=`, loopback only), which faults never touch: a 5xx storm or a
  latency spike fails the bot's requests, never the observer's view of them.
- `Taker` is a second, locally funded wallet that regularly hits one of the bot's resting quotes with
  a marketable (FAK) BUY, so fills happen whatever the synthetic flow does.
- `FaultInjector` applies one `FaultSpec` through `POST /_local/faults` (or kills and restarts the
  bot) and records when it started and ended, with the bot's orders open at that moment.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

import httpx

from bench.soak_procs import Bot, BotExit
from bench.soak_schedule import (
    HTTP_5XX,
    HTTP_429,
    KILL_9,
    LATENCY,
    RESTART_425,
    SLOW_SETTLEMENT,
    TICK_CHANGE,
    TICKS,
    WS_DROP,
    WS_STALL,
    FaultSpec,
)
from polymm_cli.errors import PolymmError
from polymm_cli.model import ONE, Market, Side
from polymm_cli.venues.base import OpenOrder, OrderIntent
from polymm_cli.venues.polymarket import PolymarketVenue
from polymm_cli.venues.polymarket.records import open_order_of, order_update_of

CLEAR_FAULTS: dict[str, Any] = {"latency_ms": 0, "error_status": 0, "ws_stall": False, "restart_for_s": 0}


@dataclass(frozen=True)
class Sample:
    """The bot's open orders as the exchange answered at `t` (unix seconds, when the answer came)."""

    t: float
    orders: tuple[OpenOrder, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(o.order_id for o in self.orders)


class Observer:
    def __init__(self, url: str, venue: PolymarketVenue, interval_s: float) -> None:
        self.url = url
        self.venue = venue  # the bot wallet's: its address and API key identify our orders
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.failures: Counter[str] = Counter()
        self._http = httpx.AsyncClient(timeout=5.0)

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    async def close(self) -> None:
        await self._http.aclose()

    async def sample(self) -> Sample | None:
        try:
            response = await self._http.get(
                f"{self.url}/_local/orders", params={"address": self.venue.address}
            )
            response.raise_for_status()
            now = time.time()
            key, address = self.venue.api_key, self.venue.address
            orders = [
                open_order_of(order_update_of(r, now, api_key=key, maker_address=address))
                for r in response.json()
            ]
        except (httpx.HTTPError, PolymmError) as exc:
            self.failures[_reason(exc)] += 1
            return None
        sample = Sample(time.time(), tuple(orders))
        self.samples.append(sample)
        return sample

    async def sample_until_answered(self, timeout_s: float = 30.0) -> Sample:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            sample = await self.sample()
            if sample is not None:
                return sample
            await asyncio.sleep(0.1)
        raise RuntimeError("the exchange did not answer the observer")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            answered = await self.sample()
            # after a refused sample, retry soon: a burst of faults must not blind us for long
            await asyncio.sleep(self.interval_s if answered else 0.05)

    async def wait_for_quotes(self, timeout_s: float) -> bool:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            latest = self.latest()
            if latest is not None and latest.orders:
                return True
            await asyncio.sleep(0.1)
        return False


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else type(exc).__name__


def marketable_size(price: Decimal, wanted: Decimal) -> Decimal:
    """The smallest whole number of shares >= wanted whose cost (price x size) has at most 2 decimals
    (the exchange's rule for marketable BUYs) and is at least $1."""
    size = max(wanted, (ONE / price).to_integral_value(ROUND_CEILING)).to_integral_value(ROUND_CEILING)
    while (price * size) % Decimal("0.01"):
        size += 1
    return size


@dataclass
class TakerStats:
    attempts: int = 0
    placed: int = 0
    skipped: int = 0  # every quote had more than max_size ahead of it
    refused: Counter[str] = field(default_factory=Counter)


class Taker:
    """Hits the bot's resting quotes: BUY the token the bot sells, or the complement of the one it buys."""

    def __init__(
        self,
        venue: PolymarketVenue,
        observer: Observer,
        markets: dict[str, Market],
        rng: random.Random,
        interval_s: tuple[float, float],
        max_size: Decimal,
    ) -> None:
        self.venue = venue
        self.observer = observer
        self.markets = markets
        self.rng = rng
        self.interval_s = interval_s
        self.max_size = max_size
        self.stats = TakerStats()
        # None: hit freely. A number: hit at most that many more times, and never the bot's last
        # quote (during a stall: a blind bot whose quotes were all filled would look as if it had
        # pulled them, and the stale-quoting check would prove nothing).
        self.hits_left: int | None = None

    def spare(self, hits: int | None) -> None:
        self.hits_left = hits

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.rng.uniform(*self.interval_s))
            latest = self.observer.latest()
            if latest is None or not latest.orders or time.time() - latest.t > 2.0:
                continue
            if self.hits_left is not None:
                if self.hits_left <= 0 or len(latest.orders) < 2:
                    continue
                self.hits_left -= 1
            try:
                await self.hit(latest.orders)
            except PolymmError as exc:
                self.stats.refused[str(exc)[:80]] += 1

    async def hit(self, orders: tuple[OpenOrder, ...]) -> None:
        """Take the quote with the least size ahead of it (the whole of its price level counts: our
        place in its queue is unknown), when that is within `max_size`."""
        plans = []
        for order in sorted(orders, key=lambda o: o.order_id):
            plan = await self._plan(order)
            if plan is not None:
                plans.append(plan)
        if not plans:
            self.stats.skipped += 1
            return
        intent = min(plans, key=lambda i: i.size)
        self.stats.attempts += 1
        [result] = await self.venue.place([intent])
        if result.ok:
            self.stats.placed += 1
        else:
            self.stats.refused[result.error[:80]] += 1

    async def _plan(self, order: OpenOrder) -> OrderIntent | None:
        market = self.markets.get(order.market)
        if market is None:
            return None
        if order.side is Side.SELL:
            token, price = order.token_id, order.price
        else:  # the bot buys this token: buying its complement at 1 - p is the same trade (a mint)
            token = market.no_token if order.token_id == market.yes_token else market.yes_token
            price = ONE - order.price
        book = await self.venue.book(token)
        through = sum((level.size for level in book.asks if level.price <= price), Decimal(0))
        if through > self.max_size:
            return None
        return OrderIntent(
            market=market.condition_id,
            token_id=token,
            side=Side.BUY,
            price=price,
            size=marketable_size(price, max(through, order.original_size - order.size_matched)),
            order_type="FAK",
            post_only=False,
            client_tag="soak-taker",
        )


@dataclass
class FaultRecord:
    kind: str
    start: float
    end: float
    params: dict[str, Any]
    open_at_start: frozenset[str]


class FaultInjector:
    """Applies faults through the exchange's control plane (never faulted) and kills/restarts the bot."""

    def __init__(
        self,
        url: str,
        bot: Bot,
        observer: Observer,
        market: Market,
        settlement_delay_s: float,
        taker: Taker | None = None,
        restart_grace_s: float = 1.0,
    ) -> None:
        self.url = url
        self.taker = taker
        self.settlement_delay_s = settlement_delay_s  # the exchange's own, restored after a slow chain
        self.bot = bot
        self.observer = observer
        self.market = market
        self.tick = market.tick_size
        self.restart_grace_s = restart_grace_s
        self.records: list[FaultRecord] = []
        self.unexpected_exits: list[BotExit] = []
        self._http = httpx.AsyncClient(timeout=10)

    async def close(self) -> None:
        await self._http.aclose()

    async def control(self, changes: dict[str, Any]) -> None:
        response = await self._http.post(f"{self.url}/_local/faults", json=changes)
        response.raise_for_status()

    async def clear(self) -> None:
        await self.control({**CLEAR_FAULTS, "settlement_delay_s": self.settlement_delay_s})

    async def watch(self, seconds: float) -> None:
        """Sleep, restarting the bot if it exits on its own (recorded: a bot must survive faults)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            gone = self.bot.reap_unexpected_exit()
            if gone is not None:
                self.unexpected_exits.append(gone)
                await asyncio.sleep(self.restart_grace_s)
                self.bot.start()
            await asyncio.sleep(min(0.2, max(0.0, deadline - time.time())))

    async def wait_for_quotes(self, timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            latest = self.observer.latest()
            if latest is not None and latest.orders:
                return
            await self.watch(0.2)

    async def inject(self, spec: FaultSpec) -> FaultRecord:
        # a fresh sample, not the last one: orders the bot replaced since would look pulled at once
        fresh = await self.observer.sample() or self.observer.latest()
        open_now = fresh.ids if fresh is not None else frozenset()
        start = time.time()
        params = dict(spec.params)
        if spec.kind == KILL_9:
            self.bot.kill9()
            await asyncio.sleep(spec.duration_s)
            self.bot.start()
        elif spec.kind == SLOW_SETTLEMENT:
            await self._slow_chain_then_crash(spec)
        elif spec.kind == TICK_CHANGE:
            self.tick = next(t for t in TICKS if t != self.tick)
            params = {"market": self.market.condition_id, "tick_size": str(self.tick)}
            await self.control({"tick_change": params})
        else:
            sparing = self.taker if spec.kind == WS_STALL else None
            if sparing is not None:
                sparing.spare(1)  # one fill in the blind window, and a quote left to pull
            await self.control(self._switch_on(spec))
            if spec.duration_s:
                await self.watch(spec.duration_s)
                await self.control(self._switch_off(spec.kind))
            if sparing is not None:
                sparing.spare(None)
        record = FaultRecord(spec.kind, start, time.time(), params, open_now)
        self.records.append(record)
        return record

    async def _slow_chain_then_crash(self, spec: FaultSpec) -> None:
        """Trades stop settling; at the end the bot is killed and the chain catches up while it is down."""
        await self.control({"settlement_delay_s": spec.params["settlement_delay_s"]})
        await self.watch(spec.params["slow_for_s"])
        self.bot.kill9()
        await self.control({"settlement_delay_s": self.settlement_delay_s})
        await asyncio.sleep(spec.params["downtime_s"])
        self.bot.start()

    @staticmethod
    def _switch_on(spec: FaultSpec) -> dict[str, Any]:
        if spec.kind == WS_STALL:
            return {"ws_stall": True}
        if spec.kind == WS_DROP:
            return {"ws_drop": True}
        if spec.kind == RESTART_425:
            return {"restart_for_s": spec.duration_s}
        return dict(spec.params)  # 5xx, 429 and latency: the control-plane keys themselves

    @staticmethod
    def _switch_off(kind: str) -> dict[str, Any]:
        off: dict[str, dict[str, Any]] = {
            WS_STALL: {"ws_stall": False},
            HTTP_5XX: {"error_status": 0},
            HTTP_429: {"error_status": 0},
            RESTART_425: {"restart_for_s": 0},
            LATENCY: {"latency_ms": 0},
        }
        return off[kind]
