"""The Venue port's contract: what every venue must do, run against each venue factory.

Three factories: the Polymarket adapter over loopback to a local exchange started by this module
(no synthetic flow, instant settlement), the in-process SimVenue over the same exchange, and the
PaperVenue whose market data is that adapter's (its orders never reach the exchange). Another
venue joins with one line in VENUE_FACTORIES: an async context-manager factory
`(exchange, label, knobs) -> Venue`. Tests that inject HTTP or
WebSocket faults at the exchange apply only to factories with `wire=True`; tests where another
account trades against our resting order apply only to factories with `shared_book=True` (a paper
venue's orders rest in its own simulator: no other account can see or take them), and the
heartbeat chain only to factories with `heartbeat_chain=True` (a paper venue has no dead-man's
switch to feed: its heartbeat is a no-op).

Each test trades with its own keys (the label) and, where it rests orders, in its own market and
price range, so the tests share one exchange without seeing each other's orders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.clock import SystemClock
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Side, TradeStatus
from polymm_cli.venues.base import (
    BookSnapshot,
    OrderIntent,
    OrderUpdate,
    PriceChange,
    StreamStatus,
    TradeUpdate,
    Venue,
    VenueEvents,
)
from polymm_cli.venues.paper import PaperVenue
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from polymm_cli.venues.sim import SimVenue
from tests.conftest import fund, start_exchange, throwaway_key

FED, BTC, CUP, SUN = sample_markets()  # 0.01 tick; 0.001 tick; neg risk; fee-free near 0.95
D = Decimal

# ------------------------------------------------------------------------------------------------
# Venue factories
# ------------------------------------------------------------------------------------------------

VenueOpener = Callable[[ExchangeThread, str, Mapping[str, Any]], AbstractAsyncContextManager[Venue]]

# Knobs that keep the suite fast: short backoffs; the documented 10 s / 30 s keepalive otherwise.
TEST_KNOBS: dict[str, Any] = {
    "reconnect_backoff_base_s": 0.05,
    "reconnect_backoff_cap_s": 0.5,
    "http_backoff_base_s": 0.05,
    "http_backoff_cap_s": 0.5,
    "resync_margin_s": 5.0,
}


@asynccontextmanager
async def polymarket_venue(
    exchange: ExchangeThread, label: str, knobs: Mapping[str, Any]
) -> AsyncIterator[Venue]:
    """The real adapter pointed at the local exchange; it derives its own API credentials."""
    config = PolymarketConfig.for_local_exchange(
        exchange.url, SecretStr(throwaway_key(label)), **{**TEST_KNOBS, **knobs}
    )
    venue = PolymarketVenue(config, SystemClock())
    await venue.start()
    try:
        yield venue
    finally:
        await venue.close()


class _OnExchangeThread:
    """The served exchange's LocalExchange, every call run on the exchange's own thread."""

    def __init__(self, server: ExchangeThread) -> None:
        self._server = server
        self._exchange = server.server.exchange

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._exchange, name)
        if not callable(value):
            return value
        return lambda *args, **kwargs: self._server.call(lambda: value(*args, **kwargs))


@asynccontextmanager
async def sim_venue(exchange: ExchangeThread, label: str, knobs: Mapping[str, Any]) -> AsyncIterator[Venue]:
    """The in-process venue on the same exchange (no HTTP, no signatures), for the same contract."""
    address = signing.address_from_private_key(throwaway_key(label))
    venue = SimVenue(_OnExchangeThread(exchange), SystemClock(), address=address, owner=f"sim:{label}")  # type: ignore[arg-type]
    await venue.start()
    try:
        yield venue
    finally:
        await venue.close()


@asynccontextmanager
async def paper_venue(exchange: ExchangeThread, label: str, knobs: Mapping[str, Any]) -> AsyncIterator[Venue]:
    """Paper trading on the exchange's market data: the adapter is the data venue and is never
    started (starting derives API credentials; market data needs none), its orders are simulated."""
    config = PolymarketConfig.for_local_exchange(
        exchange.url, SecretStr(throwaway_key(label)), **{**TEST_KNOBS, **knobs}
    )
    data = PolymarketVenue(config, SystemClock())
    venue = PaperVenue(data, SystemClock(), collateral=D(1000), address=data.address)
    await venue.start()
    try:
        yield venue
    finally:
        await venue.close()


@dataclass(frozen=True)
class VenueFactory:
    name: str
    open: VenueOpener
    wire: bool  # talks HTTP/WebSocket to the exchange, so the exchange's fault injection applies
    shared_book: bool = True  # our orders rest in the exchange's book, where other accounts meet them
    heartbeat_chain: bool = True  # the exchange's dead-man's switch guards our orders (paper: a no-op)


VENUE_FACTORIES = [
    VenueFactory("polymarket", polymarket_venue, wire=True),
    VenueFactory("sim", sim_venue, wire=False),
    VenueFactory("paper", paper_venue, wire=False, shared_book=False, heartbeat_chain=False),
]


@pytest.fixture(params=VENUE_FACTORIES, ids=lambda f: f.name)
def factory(request: pytest.FixtureRequest) -> VenueFactory:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[f for f in VENUE_FACTORIES if f.heartbeat_chain], ids=lambda f: f.name)
def beating_factory(request: pytest.FixtureRequest) -> VenueFactory:
    """Venues with a dead-man's switch at the exchange (not paper: nothing rests there to guard)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[f for f in VENUE_FACTORIES if f.shared_book], ids=lambda f: f.name)
def shared_factory(request: pytest.FixtureRequest) -> VenueFactory:
    """Venues whose resting orders another account on the exchange can trade against (not paper)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[f for f in VENUE_FACTORIES if f.wire], ids=lambda f: f.name)
def wire_factory(request: pytest.FixtureRequest) -> VenueFactory:
    """Venues that talk HTTP and WebSocket to the exchange: its fault injection applies to them."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


@pytest.fixture
def label(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A key label unique to this test (and factory) and a role in it."""
    return lambda role: f"contract:{request.node.name}:{role}"


@asynccontextmanager
async def funded(
    factory: VenueFactory,
    exchange: ExchangeThread,
    label: str,
    amount: int = 1000,
    **knobs: Any,
) -> AsyncIterator[Venue]:
    async with factory.open(exchange, label, knobs) as venue:
        if amount:
            await asyncio.to_thread(fund, exchange, venue.address, amount)
        yield venue


def set_faults(exchange: ExchangeThread, **changes: object) -> None:
    httpx.post(f"{exchange.url}/_local/faults", json=changes).raise_for_status()


def bid(market: Any, token: str, price: str, size: str = "5", **extra: Any) -> OrderIntent:
    return OrderIntent(
        market=market.condition_id, token_id=token, side=Side.BUY, price=D(price), size=D(size), **extra
    )


def fak_buy(market: Any, token: str, price: str, size: str) -> OrderIntent:
    return bid(market, token, price, size, order_type="FAK", post_only=False)


Event = Any


async def next_event(
    stream: VenueEvents, match: Callable[[Event], bool], seen: list[Event], timeout: float = 10.0
) -> Event:
    """Read the stream until an event matches (everything read goes to `seen`)."""
    async with asyncio.timeout(timeout):
        async for event in stream:
            seen.append(event)
            if match(event):
                return event
    raise AssertionError("the stream ended before the expected event")


def connected(event: Event) -> bool:
    return isinstance(event, StreamStatus) and event.connected


def disconnected(event: Event) -> bool:
    return isinstance(event, StreamStatus) and not event.connected


def trade_updates(events: list[Event], trade_id: str) -> list[TradeUpdate]:
    return [e for e in events if isinstance(e, TradeUpdate) and e.trade_id == trade_id]


# ------------------------------------------------------------------------------------------------
# Markets and books
# ------------------------------------------------------------------------------------------------


async def test_markets_lists_the_four_sample_markets_with_their_trading_rules(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with funded(factory, exchange, label("reader"), amount=0) as venue:
        listed = {m.condition_id: m for m in await venue.markets()}

    assert set(listed) == {m.condition_id for m in (FED, BTC, CUP, SUN)}
    for expected in (FED, BTC, CUP, SUN):
        market = listed[expected.condition_id]
        assert (market.slug, market.yes_token, market.no_token) == (
            expected.slug,
            expected.yes_token,
            expected.no_token,
        )
        assert market.tick_size == expected.tick_size
        assert market.min_order_size == expected.min_order_size
        assert market.neg_risk is expected.neg_risk
    assert listed[BTC.condition_id].tick_size == D("0.001")
    assert listed[CUP.condition_id].neg_risk is True
    assert listed[FED.condition_id].taker_fee_rate == D("0.04")
    assert listed[FED.condition_id].rewards.max_spread_cents == D("3.5")


async def test_market_is_found_by_condition_id_slug_and_either_token(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with funded(factory, exchange, label("reader"), amount=0) as venue:
        found = [
            await venue.market(ident) for ident in (CUP.condition_id, CUP.slug, CUP.yes_token, CUP.no_token)
        ]

    assert {m.condition_id for m in found} == {CUP.condition_id}
    assert all(m.neg_risk and m.tokens == CUP.tokens for m in found)


async def test_an_unknown_market_is_a_one_line_usage_error(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with funded(factory, exchange, label("reader"), amount=0) as venue:
        for ident in ("no-such-market-slug", "0x" + "ab" * 32, "123456789"):
            with pytest.raises(UsageError) as caught:
                await venue.market(ident)
            assert "unknown market" in str(caught.value) and "\n" not in str(caught.value)


async def test_book_is_a_best_first_snapshot_with_our_resting_bid(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with funded(factory, exchange, label("maker")) as venue:
        [placed] = await venue.place([bid(SUN, SUN.yes_token, "0.07", "6")])
        book = await venue.book(SUN.yes_token)
        mirrored = await venue.book(SUN.no_token)
        await venue.cancel_all()

    assert placed.ok
    assert isinstance(book, BookSnapshot) and book.token_id == SUN.yes_token
    assert book.market == SUN.condition_id and book.tick_size == D("0.01")
    assert (D("0.07"), D("6")) in [(level.price, level.size) for level in book.bids]
    assert [level.price for level in book.bids] == sorted((level.price for level in book.bids), reverse=True)
    assert (D("0.93"), D("6")) in [(level.price, level.size) for level in mirrored.asks]


# ------------------------------------------------------------------------------------------------
# Orders
# ------------------------------------------------------------------------------------------------


async def test_a_batch_of_three_post_only_bids_rests_in_order_and_is_listed(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    intents = [
        bid(FED, FED.yes_token, price, size) for price, size in (("0.10", "5"), ("0.11", "6"), ("0.12", "7"))
    ]
    async with funded(factory, exchange, label("maker")) as venue:
        results = await venue.place(intents)
        listed = {o.order_id: o for o in await venue.open_orders(FED.condition_id)}
        await venue.cancel_all()

    assert [r.intent for r in results] == intents
    assert all(r.ok and r.status == "live" and not r.error for r in results), results
    assert len({r.order_id for r in results}) == 3
    for result in results:
        order = listed[result.order_id]
        assert (order.token_id, order.side, order.price, order.original_size, order.size_matched) == (
            FED.yes_token,
            Side.BUY,
            result.intent.price,
            result.intent.size,
            D(0),
        )
        assert order.market == FED.condition_id


async def test_a_post_only_order_that_would_cross_is_refused_with_the_venues_reason(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with funded(factory, exchange, label("maker")) as venue:
        [resting] = await venue.place([bid(SUN, SUN.yes_token, "0.50")])
        # a NO bid at 0.55 meets the YES bid at 0.50 (a NO ask at 0.50): it would take
        [crossing] = await venue.place([bid(SUN, SUN.no_token, "0.55")])
        await venue.cancel_all()

    assert resting.ok
    assert not crossing.ok and crossing.order_id == ""
    assert "post-only" in crossing.error and "cross" in crossing.error


async def test_a_batch_of_twenty_is_split_into_fifteen_and_five(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    intents = [bid(BTC, BTC.yes_token, f"0.{100 + i:03d}") for i in range(20)]
    async with funded(factory, exchange, label("maker")) as venue:
        posts_before = getattr(venue, "http_attempts", {}).get("POST /orders", 0)
        results = await venue.place(intents)
        posts = getattr(venue, "http_attempts", {}).get("POST /orders", 0) - posts_before
        listed = {o.order_id for o in await venue.open_orders(BTC.condition_id)}
        await venue.cancel_all()

    assert [r.intent for r in results] == intents
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert {r.order_id for r in results} <= listed
    if factory.wire:
        assert posts == 2  # 15 + 5: the venue refuses more than 15 per POST /orders


async def test_cancel_by_id_then_cancel_all_of_a_market_then_everything(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with funded(factory, exchange, label("maker")) as venue:
        placed = await venue.place([bid(CUP, CUP.yes_token, f"0.0{i}") for i in range(2, 6)])
        ids = [r.order_id for r in placed]
        by_id = await venue.cancel([*ids[:2], "0x" + "0" * 64])
        left_after_cancel = {o.order_id for o in await venue.open_orders(CUP.condition_id)}
        by_market = await venue.cancel_all(CUP.condition_id)
        left_after_market = await venue.open_orders(CUP.condition_id)
        [other] = await venue.place([bid(FED, FED.yes_token, "0.02")])
        everything = await venue.cancel_all()
        left_at_all = await venue.open_orders()

    assert all(r.ok for r in placed)
    assert set(by_id.canceled) == set(ids[:2])
    assert "0x" + "0" * 64 in by_id.not_canceled
    assert left_after_cancel == set(ids[2:])
    assert set(by_market.canceled) == set(ids[2:]) and left_after_market == []
    assert everything.canceled == (other.order_id,) and left_at_all == []


async def test_a_cross_fills_the_maker_at_its_own_token_side_and_price_and_moves_balances(
    shared_factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = shared_factory
    async with (
        funded(factory, exchange, label("maker")) as maker,
        funded(factory, exchange, label("taker")) as taker,
    ):
        before = await maker.balances([FED.yes_token])
        [rest] = await maker.place([bid(FED, FED.yes_token, "0.40", "10")])
        # a NO buyer at 0.60 meets the YES bid at 0.40: a mint match
        [take] = await taker.place([fak_buy(FED, FED.no_token, "0.60", "10")])
        maker_trades = await maker.trades(FED.condition_id)
        taker_trades = await taker.trades(FED.condition_id)
        after = await maker.balances([FED.yes_token])

    assert rest.ok and take.ok and take.status == "matched"
    [maker_fill] = [f for t in maker_trades for f in t.fills if f.order_id == rest.order_id]
    assert (maker_fill.token_id, maker_fill.side, maker_fill.price, maker_fill.size) == (
        FED.yes_token,
        Side.BUY,
        D("0.40"),
        D("10"),
    )
    assert maker_fill.liquidity == "MAKER"
    [maker_trade] = [t for t in maker_trades if maker_fill in t.fills]
    assert maker_trade.status is TradeStatus.CONFIRMED and maker_trade.trader_side == "MAKER"
    [taker_fill] = [f for t in taker_trades for f in t.fills if f.order_id == take.order_id]
    assert (taker_fill.token_id, taker_fill.side, taker_fill.price, taker_fill.liquidity) == (
        FED.no_token,
        Side.BUY,
        D("0.60"),
        "TAKER",
    )
    assert before.collateral == D(1000) and before.tokens[FED.yes_token] == 0
    assert after.collateral == D(996) and after.tokens[FED.yes_token] == D(10)


async def test_heartbeats_chain_and_a_fresh_session_resyncs_the_chain(
    beating_factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = beating_factory
    # This key's dead-man's switch arms here: it must never rest orders in this module.
    async with funded(factory, exchange, label("beater"), amount=0) as venue:
        await venue.heartbeat()
        await venue.heartbeat()
    async with funded(factory, exchange, label("beater"), amount=0) as restarted:
        await restarted.heartbeat()  # starts from "" while the venue expects the chain's next id
        await restarted.heartbeat()


async def test_a_paper_venue_never_sends_an_order_to_the_exchange(
    exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    async with (
        funded(VENUE_FACTORIES[1], exchange, label("real-maker")) as real,
        paper_venue(exchange, label("paper"), {}) as paper,
    ):
        [real_bid] = await real.place([bid(FED, FED.yes_token, "0.17", "10")])
        assert isinstance(paper, PaperVenue)
        await paper.split(FED, D(20))
        [rest] = await paper.place([bid(FED, FED.yes_token, "0.03", "10")])
        [take] = await paper.place(
            [
                OrderIntent(
                    market=FED.condition_id,
                    token_id=FED.yes_token,
                    side=Side.SELL,
                    price=D("0.17"),
                    size=D(5),
                    order_type="FAK",
                    post_only=False,
                )
            ]
        )
        await paper.cancel([rest.order_id])
        await paper.cancel_all()
        await paper.heartbeat()
        paper_trades = await paper.trades()
        real_left = {o.order_id: o for o in await real.open_orders(FED.condition_id)}
        await real.cancel_all()
        calls = dict(paper.data.http_attempts)  # type: ignore[attr-defined]

    ex = exchange.server.exchange
    address = paper.address.lower()
    orders_of_paper = exchange.call(lambda: [o for o in ex.orders.values() if o.address.lower() == address])
    trades_of_paper = exchange.call(
        lambda: [t for t in ex.trades.values() if t.taker.address.lower() == address]
    )
    assert rest.ok and take.ok and take.status == "matched"  # simulated against the real bid
    assert [f.size for t in paper_trades for f in t.fills] == [D(5)]
    assert orders_of_paper == [] and trades_of_paper == []  # the exchange's order count stays 0
    assert real_left[real_bid.order_id].size_matched == 0  # the real bid was never touched
    assert calls and all(call.startswith("GET ") for call in calls), calls


# ------------------------------------------------------------------------------------------------
# Streams
# ------------------------------------------------------------------------------------------------


async def test_market_events_start_with_a_snapshot_per_token_then_carry_price_changes(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    seen: list[Event] = []
    async with funded(factory, exchange, label("maker")) as venue:
        stream = venue.market_events([SUN.yes_token, SUN.no_token])
        await next_event(stream, connected, seen)
        [placed] = await venue.place([bid(SUN, SUN.yes_token, "0.21", "8")])
        change = await next_event(
            stream,
            lambda e: (
                isinstance(e, PriceChange)
                and any(u.token_id == SUN.yes_token and u.price == D("0.21") for u in e.updates)
            ),
            seen,
        )
        await venue.cancel_all()
        await stream.close()

    assert placed.ok
    first_two = seen[:2]
    assert all(isinstance(e, BookSnapshot) for e in first_two)
    assert {e.token_id for e in first_two} == {SUN.yes_token, SUN.no_token}
    [update] = [u for u in change.updates if u.token_id == SUN.yes_token and u.price == D("0.21")]
    assert (update.side, update.size) == (Side.BUY, D("8"))


async def test_user_events_carry_our_placement_and_the_fill_from_matched_to_confirmed(
    shared_factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = shared_factory
    seen: list[Event] = []
    async with (
        funded(factory, exchange, label("maker")) as maker,
        funded(factory, exchange, label("taker")) as taker,
    ):
        stream = maker.user_events([CUP.condition_id])
        await next_event(stream, connected, seen)
        [rest] = await maker.place([bid(CUP, CUP.yes_token, "0.30", "10")])
        placement = await next_event(
            stream, lambda e: isinstance(e, OrderUpdate) and e.order_id == rest.order_id, seen
        )
        [take] = await taker.place([fak_buy(CUP, CUP.no_token, "0.70", "10")])
        final = await next_event(
            stream,
            lambda e: (
                isinstance(e, TradeUpdate)
                and any(f.order_id == rest.order_id for f in e.fills)
                and e.status is TradeStatus.CONFIRMED
            ),
            seen,
        )
        await stream.close()

    assert rest.ok and take.ok
    assert placement.kind == "PLACEMENT" and placement.status == "LIVE"
    assert (placement.token_id, placement.side, placement.price) == (CUP.yes_token, Side.BUY, D("0.30"))
    statuses = [u.status for u in trade_updates(seen, final.trade_id)]
    assert statuses[0] is TradeStatus.MATCHED and statuses[-1] is TradeStatus.CONFIRMED
    assert len(statuses) == len(set(statuses))
    [fill] = [f for f in final.fills if f.order_id == rest.order_id]
    assert (fill.token_id, fill.side, fill.price, fill.size, fill.liquidity) == (
        CUP.yes_token,
        Side.BUY,
        D("0.30"),
        D("10"),
        "MAKER",
    )


async def test_closing_the_venue_ends_both_streams(
    factory: VenueFactory, exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    seen: list[Event] = []
    async with funded(factory, exchange, label("watcher"), amount=0) as venue:
        market_stream = venue.market_events([FED.yes_token])
        user_stream = venue.user_events([])
        await next_event(market_stream, connected, seen)
        await next_event(user_stream, connected, seen)
        pending = asyncio.ensure_future(anext(aiter(user_stream)))
        await asyncio.sleep(0)  # let it block on the socket (a scheduling step, not a wait for time)
    async with asyncio.timeout(5):
        with pytest.raises(StopAsyncIteration):
            await pending
        with pytest.raises(StopAsyncIteration):
            await anext(aiter(market_stream))


# ------------------------------------------------------------------------------------------------
# Resilience (venues that talk to the exchange over the wire)
# ------------------------------------------------------------------------------------------------


async def _fill_while_away(taker: Venue, market: Any, yes_price: str, size: str) -> str:
    no_price = str(D(1) - D(yes_price))
    [take] = await taker.place([fak_buy(market, market.no_token, no_price, size)])
    assert take.ok and take.status == "matched", take
    return take.order_id


async def test_a_dropped_user_stream_reconnects_and_delivers_the_fill_it_missed_once(
    wire_factory: VenueFactory, fresh_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = wire_factory
    seen: list[Event] = []
    async with (
        funded(factory, fresh_exchange, label("maker")) as maker,
        funded(factory, fresh_exchange, label("taker")) as taker,
    ):
        [rest] = await maker.place([bid(FED, FED.yes_token, "0.45", "10")])
        stream = maker.user_events([FED.condition_id])
        await next_event(stream, connected, seen)

        set_faults(fresh_exchange, ws_drop=True)
        lost = await next_event(stream, disconnected, seen)
        await _fill_while_away(taker, FED, "0.45", "10")  # nobody is listening now
        back = await next_event(stream, connected, seen)
        [sentinel] = await maker.place([bid(FED, FED.yes_token, "0.05")])
        await next_event(
            stream, lambda e: isinstance(e, OrderUpdate) and e.order_id == sentinel.order_id, seen
        )
        await stream.close()

    assert "closed" in lost.reason
    missed = [u for u in seen[seen.index(lost) :] if isinstance(u, TradeUpdate)]
    [fill_update] = [u for u in missed if any(f.order_id == rest.order_id for f in u.fills)]
    assert seen.index(fill_update) < seen.index(back)  # resynced before the stream says it is back
    assert fill_update.status is TradeStatus.CONFIRMED
    keys = [(u.trade_id, u.status) for u in seen if isinstance(u, TradeUpdate)]
    assert len(keys) == len(set(keys))


async def test_a_stalled_user_stream_is_detected_by_its_watchdog_and_resynced(
    wire_factory: VenueFactory, fresh_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = wire_factory
    seen: list[Event] = []
    knobs: dict[str, Any] = {"ws_watchdog_s": 1.0, "ws_ping_interval_s": 0.25}
    async with (
        funded(factory, fresh_exchange, label("maker"), **knobs) as maker,
        funded(factory, fresh_exchange, label("taker")) as taker,
    ):
        [rest] = await maker.place([bid(FED, FED.yes_token, "0.35", "10")])
        stream = maker.user_events([FED.condition_id])
        await next_event(stream, connected, seen)

        set_faults(fresh_exchange, ws_stall=True)  # open socket, nothing delivered, not even PONG
        await _fill_while_away(taker, FED, "0.35", "10")
        started = time.monotonic()
        lost = await next_event(stream, disconnected, seen, timeout=5)
        silent_for = time.monotonic() - started
        set_faults(fresh_exchange, ws_stall=False)
        back = await next_event(stream, connected, seen)
        [sentinel] = await maker.place([bid(FED, FED.yes_token, "0.05")])
        await next_event(
            stream, lambda e: isinstance(e, OrderUpdate) and e.order_id == sentinel.order_id, seen
        )
        await stream.close()

    assert "watchdog" in lost.reason and silent_for < 4
    fills = [
        u for u in seen if isinstance(u, TradeUpdate) and any(f.order_id == rest.order_id for f in u.fills)
    ]
    assert [u.status for u in fills] == [TradeStatus.CONFIRMED]
    assert seen.index(fills[0]) < seen.index(back)


async def test_5xx_answers_are_retried_until_the_call_succeeds(
    wire_factory: VenueFactory, fresh_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = wire_factory
    async with funded(factory, fresh_exchange, label("reader"), amount=0) as venue:
        set_faults(fresh_exchange, error_status=503, error_count=2)
        book = await venue.book(FED.yes_token)
        attempts = getattr(venue, "http_attempts", {}).get("GET /book")

    assert book.token_id == FED.yes_token
    assert attempts in (3, None)


async def test_a_429_waits_at_least_the_retry_after_the_venue_asks_for(
    wire_factory: VenueFactory, fresh_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = wire_factory
    async with funded(factory, fresh_exchange, label("reader"), amount=0) as venue:
        set_faults(fresh_exchange, error_status=429, error_count=1, retry_after_s=1)
        started = time.monotonic()
        orders = await venue.open_orders()
        elapsed = time.monotonic() - started

    assert orders == []
    assert elapsed >= 1.0


async def test_a_400_is_not_retried(
    wire_factory: VenueFactory, fresh_exchange: ExchangeThread, label: Callable[[str], str]
) -> None:
    factory = wire_factory
    async with funded(factory, fresh_exchange, label("reader"), amount=0) as venue:
        set_faults(fresh_exchange, error_status=400, error_count=2)
        with pytest.raises(VenueError) as first:
            await venue.book(FED.yes_token)
        with pytest.raises(VenueError) as second:  # the second injected 400 is still waiting: not consumed
            await venue.book(FED.yes_token)
        book = await venue.book(FED.yes_token)

    assert first.value.status == 400 and second.value.status == 400
    assert "\n" not in str(first.value) and "injected fault" in str(first.value)
    assert book.token_id == FED.yes_token
