"""MarketRecorder against a local exchange, in process: what it yields, when, and after faults."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from polymm_cli.clock import SystemClock
from polymm_cli.exchange.flow import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.venues.polymarket import PolymarketConfig
from polymm_cli.venues.polymarket.recorder import MarketRecorder, RawBook, RawFrame, RawGap, RecorderItem
from polymm_cli.venues.polymarket.wire import parse_rest_book
from tests.conftest import start_exchange, throwaway_key

pytestmark = pytest.mark.slow

FED = sample_markets()[0]
KNOBS: dict[str, Any] = {
    "ws_ping_interval_s": 0.3,
    "ws_watchdog_s": 1.0,
    "reconnect_backoff_base_s": 0.05,
    "reconnect_backoff_cap_s": 0.3,
    "http_backoff_base_s": 0.05,
    "http_backoff_cap_s": 0.3,
}
SKEW_S = 1000.0  # the injected clock runs this far ahead of the wall clock


class AheadClock(SystemClock):
    def now(self) -> float:
        return super().now() + SKEW_S


@pytest.fixture
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange(flow=True, flow_config=FlowConfig(taker_rate_per_min=120, maker_requote_s=0.5))
    yield server
    server.stop()


@asynccontextmanager
async def recording(
    exchange: ExchangeThread, **options: Any
) -> AsyncIterator[tuple[MarketRecorder, list[RecorderItem]]]:
    config = PolymarketConfig.for_local_exchange(exchange.url, SecretStr(throwaway_key("recorder")), **KNOBS)
    recorder = MarketRecorder(FED.tokens, config, AheadClock(), random.Random(1), **options)
    items: list[RecorderItem] = []

    async def consume() -> None:
        async for item in recorder.items():
            items.append(item)

    task = asyncio.create_task(consume())
    try:
        yield recorder, items
    finally:
        await recorder.close()
        await asyncio.wait_for(task, 5)  # closing ends the iteration


async def until(condition: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def set_faults(exchange: ExchangeThread, **changes: object) -> None:
    httpx.post(f"{exchange.url}/_local/faults", json=changes).raise_for_status()


async def test_it_yields_raw_frames_and_books_stamped_by_the_injected_clock(exchange: ExchangeThread) -> None:
    wall = SystemClock().now()
    async with recording(exchange) as (recorder, items):
        await until(lambda: sum(isinstance(i, RawFrame) for i in items) >= 3, 15, "frames")

    books = [i for i in items if isinstance(i, RawBook)]
    frames = [i for i in items if isinstance(i, RawFrame)]
    assert {b.token_id for b in books} == set(FED.tokens)  # a REST book of each token at start
    for book in books:
        snapshot = parse_rest_book(json.loads(book.text), book.recv_ns / 1e9)
        assert snapshot.token_id == book.token_id and snapshot.bids
    assert all(f.text.strip() not in ("PONG", "PING") for f in frames)  # keepalives are not data
    assert all(json.loads(f.text) for f in frames)  # the venue's own frames, verbatim
    assert all(i.recv_ns / 1e9 > wall + SKEW_S - 1 for i in items)  # the injected clock's time
    assert (recorder.frames, recorder.books, recorder.gaps) == (len(frames), len(books), 0)


async def test_a_silent_stall_is_a_gap_then_it_reconnects_with_fresh_books(exchange: ExchangeThread) -> None:
    async with recording(exchange) as (recorder, items):
        await until(lambda: any(isinstance(i, RawFrame) for i in items), 15, "frames")
        set_faults(exchange, ws_stall=True)
        await until(lambda: any(isinstance(i, RawGap) for i in items), 10, "the watchdog's gap")
        set_faults(exchange, ws_stall=False)
        await until(lambda: recorder.connected and recorder.reconnects == 1, 10, "the reconnect")
        gap_at = next(n for n, i in enumerate(items) if isinstance(i, RawGap))
        await until(
            lambda: {i.token_id for i in items[gap_at:] if isinstance(i, RawBook)} == set(FED.tokens),
            10,
            "books",
        )

    [gap] = [i for i in items if isinstance(i, RawGap)]
    assert gap.reason.startswith("watchdog")
    assert recorder.gaps == 1


async def test_a_snapshot_can_be_asked_for_between_periods(exchange: ExchangeThread) -> None:
    async with recording(exchange, snapshot_every_s=3600) as (recorder, _items):
        await until(lambda: recorder.books == 2, 10, "the books at start")
        recorder.request_snapshot()
        await until(lambda: recorder.books == 4, 10, "the books asked for")


def test_a_snapshot_period_must_be_positive() -> None:
    config = PolymarketConfig.for_local_exchange("http://127.0.0.1:1", SecretStr(throwaway_key("x")))
    with pytest.raises(ValueError, match="positive"):
        MarketRecorder(FED.tokens, config, SystemClock(), random.Random(), snapshot_every_s=0)
