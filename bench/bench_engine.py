"""The hot path, measured: book update -> decision -> orders handed to the venue.

decision latency (in process): the real engine on a SimVenue over the in-process exchange; another
account moves the book of a random market, the engine decides and places; the engine records, for
every decision that changed orders, the time from the book event's arrival to the hand-off.

tick-to-quote (over loopback): the real engine and Polymarket adapter against the local exchange
server; another account moves the book over HTTP; the time from that request to the engine's new
order resting at the exchange. Beside it, the seed design's baseline: a 1-second polling loop
(GET /book, then cancel and place) against the same exchange, timed the same way.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.clock import SystemClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import make_market
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, Market, Side
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.base import OrderIntent
from polymm_cli.venues.polymarket.adapter import PolymarketVenue
from polymm_cli.venues.polymarket.config import PolymarketConfig
from polymm_cli.venues.sim import SimVenue

BOT = "0x" + "b0" * 20
MOVER = "0x" + "30" * 20
PARAMS = QuoteParams(
    spread=Decimal("0.02"), size=Decimal(10), position_limit=Decimal(100), skew_enabled=False
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def bench_markets(count: int) -> list[Market]:
    return [make_market(f"bench-market-{i}", f"Bench market {i}?", tick="0.01") for i in range(count)]


async def _decision_latency(markets: list[Market], moves: int) -> list[float]:
    clock = SystemClock()
    exchange = LocalExchange(markets, clock, settlement=SettlementConfig(0.0))
    exchange.fund(BOT, Decimal(10**7))
    exchange.fund(MOVER, Decimal(10**8))
    for m in markets:
        exchange.split(MOVER, m.condition_id, Decimal(100_000))
    ids = iter(range(10**9))

    def rest(m: Market, side: Side, price: str) -> str:
        oid = f"0x{next(ids):064x}"
        exchange.submit(OrderRequest(oid, "mover", MOVER, m.yes_token, side, Decimal(price), Decimal(50)))
        return oid

    books = {m.condition_id: [rest(m, Side.BUY, "0.40"), rest(m, Side.SELL, "0.60")] for m in markets}
    venue = SimVenue(exchange, clock, address=BOT, owner="bot", dead_mans_switch=False)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(Path(tmp), account=Account("local", BOT)) as ledger,
    ):
        engine = QuotingEngine(
            venue, ledger, clock, markets, EngineConfig(params=PARAMS, max_orders_per_market=4)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop=stop))
        while engine.orders_placed < 2 * len(markets):
            await asyncio.sleep(0.01)
        engine.latencies_us.clear()
        for i in range(moves):
            m = markets[i % len(markets)]
            # widen or narrow the bid side: the mid moves 0.02, past the requote threshold, nobody trades
            exchange.cancel("mover", [books[m.condition_id][0]])
            books[m.condition_id][0] = rest(m, Side.BUY, "0.44" if i // len(markets) % 2 == 0 else "0.40")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        while len(engine.latencies_us) < moves * 0.9:
            await asyncio.sleep(0.01)
        stop.set()
        await task
        return list(engine.latencies_us)


def bench_decision_latency(moves: int = 2000) -> dict[str, float]:
    one = asyncio.run(_decision_latency(bench_markets(1), moves))
    hundred = asyncio.run(_decision_latency(bench_markets(100), moves))
    return {
        "p50": statistics.median(one),
        "p99": percentile(one, 0.99),
        "p50_100_markets": statistics.median(hundred),
        "p99_100_markets": percentile(hundred, 0.99),
        "samples": float(len(one)),
    }


# -- tick to quote over loopback ---------------------------------------------------------------------


class Mover:
    """Another account moving the book over HTTP with signed orders."""

    def __init__(self, url: str, key: str, market: Market) -> None:
        self.url, self.market = url, market
        self.signer = signing.OrderSigner(key)
        self.http = httpx.AsyncClient(base_url=url)
        self.salt = 0

    async def start(self) -> None:
        headers = self.signer.l1_headers(int(time.time()))
        creds = (await self.http.post("/auth/api-key", headers=headers)).json()
        self.key, self.secret, self.passphrase = creds["apiKey"], creds["secret"], creds["passphrase"]
        await self.http.post("/_local/fund", json={"address": self.signer.address, "amount": "1000000"})

    async def _signed(self, method: str, path: str, body: str) -> httpx.Response:
        headers = signing.l2_headers(
            self.signer.address, self.key, self.secret, self.passphrase, int(time.time()), method, path, body
        )
        return await self.http.request(method, path, content=body, headers=headers)

    async def bid(self, price: str, token: str | None = None) -> str:
        """A resting BUY (of YES by default; a BUY of NO at q is a YES ask at 1 - q)."""
        self.salt += 1
        signed = self.signer.sign_limit_order(
            token or self.market.yes_token,
            Side.BUY,
            Decimal(price),
            Decimal(50),
            self.market.tick_size,
            False,
            salt=self.salt,
            timestamp_ms=int(time.time() * 1000),
        )
        body = json.dumps(signing.order_wire(signed, self.key, "GTC", post_only=True), separators=(",", ":"))
        response = await self._signed("POST", "/order", body)
        return str(response.json()["orderID"])

    async def cancel(self, order_id: str) -> None:
        await self._signed("DELETE", "/order", json.dumps({"orderID": order_id}, separators=(",", ":")))


async def _tick_to_quote_engine(url: str, market: Market, moves: int) -> list[float]:
    venue = PolymarketVenue(
        PolymarketConfig.for_local_exchange(url, SecretStr("0x" + "e1" * 32)), SystemClock()
    )
    await venue.start()
    httpx.post(f"{url}/_local/fund", json={"address": venue.address, "amount": "100000"})
    mover = Mover(url, "0x" + "ab" * 32, market)
    await mover.start()
    placed: list[float] = []

    def on_decision(decision: dict[str, object]) -> None:
        if decision["places"]:
            placed.append(time.perf_counter())

    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(Path(tmp), account=Account("local", venue.address)) as ledger,
    ):
        engine = QuotingEngine(
            venue, ledger, SystemClock(), [market], EngineConfig(params=PARAMS), on_decision=on_decision
        )
        stop = asyncio.Event()
        await mover.bid("0.40", market.no_token)  # the YES ask at 0.60
        resting = await mover.bid("0.40")
        task = asyncio.create_task(engine.run(stop=stop))
        await _until(lambda: engine.orders_placed >= 2)
        samples = []
        for i in range(moves):
            before = len(placed)
            started = time.perf_counter()
            new = await mover.bid("0.44" if i % 2 == 0 else "0.40")
            await mover.cancel(resting)
            resting = new
            await _until(lambda n=before: len(placed) > n)
            samples.append((placed[before] - started) * 1000)
            await asyncio.sleep(0.05)
        stop.set()
        await task
    await venue.close()
    await mover.http.aclose()
    return samples


async def _tick_to_quote_polling(url: str, market: Market, moves: int) -> list[float]:
    """The seed design: every second, read the book over REST and requote if the mid moved."""
    venue = PolymarketVenue(
        PolymarketConfig.for_local_exchange(url, SecretStr("0x" + "e2" * 32)), SystemClock()
    )
    await venue.start()
    httpx.post(f"{url}/_local/fund", json={"address": venue.address, "amount": "100000"})
    mover = Mover(url, "0x" + "ac" * 32, market)
    await mover.start()
    requoted: list[float] = []
    await mover.bid("0.40", market.no_token)  # the YES ask at 0.60
    resting = await mover.bid("0.40")
    task = asyncio.create_task(_seed_polling_loop(venue, market, requoted))
    await _until(lambda: len(requoted) >= 1, timeout=5)
    samples = []
    for i in range(moves):
        before = len(requoted)
        await asyncio.sleep(0.137 * (i % 7))  # land at different phases of the polling cycle
        started = time.perf_counter()
        new = await mover.bid("0.44" if i % 2 == 0 else "0.40")
        await mover.cancel(resting)
        resting = new
        await _until(lambda n=before: len(requoted) > n, timeout=5)
        samples.append((requoted[before] - started) * 1000)
    task.cancel()
    await venue.close()
    await mover.http.aclose()
    return samples


async def _seed_polling_loop(venue: PolymarketVenue, market: Market, requoted: list[float]) -> None:
    """Every second: read the book; if the mid moved, cancel and place a bid; note when it did."""
    last_mid: Decimal | None = None
    live: list[str] = []
    while True:
        await asyncio.sleep(1.0)
        book = await venue.book(market.yes_token)
        if not book.bids or not book.asks:
            continue
        mid = (book.bids[0].price + book.asks[0].price) / 2
        if last_mid is not None and abs(mid - last_mid) < PARAMS.requote_threshold:
            continue
        if live:
            await venue.cancel(live)
        # deep enough never to be the best bid itself (the seed reads its own quotes as the book)
        bid = (mid - Decimal("0.15")).quantize(market.tick_size)
        intent = OrderIntent(
            market=market.condition_id, token_id=market.yes_token, side=Side.BUY, price=bid, size=PARAMS.size
        )
        live = [r.order_id for r in await venue.place([intent]) if r.ok]
        requoted.append(time.perf_counter())
        last_mid = mid


async def _until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.0005)


def bench_tick_to_quote(moves: int = 100, polling_moves: int = 12) -> dict[str, float]:
    market = make_market("tick-to-quote", "Tick to quote?", tick="0.01")
    with ExchangeThread(ExchangeConfig(flow=False, settlement=SettlementConfig(0.0))) as server:
        server.call(server.server.exchange.add_market, market)
        ours = asyncio.run(_tick_to_quote_engine(server.url, market, moves))
    with ExchangeThread(ExchangeConfig(flow=False, settlement=SettlementConfig(0.0))) as server:
        server.call(server.server.exchange.add_market, market)
        polling = asyncio.run(_tick_to_quote_polling(server.url, market, polling_moves))
    return {
        "p50": statistics.median(ours),
        "p99": percentile(ours, 0.99),
        "polling_baseline_p50": statistics.median(polling),
        "polling_baseline_p99": percentile(polling, 0.99),
    }


if __name__ == "__main__":
    print(bench_decision_latency(500))
    print(bench_tick_to_quote(30, 6))
