"""Polymarket adapter behaviour beyond the Venue contract: the tick cache, hostile frames, request
pacing, retry exhaustion, dust in fill sizes and where the reference signer runs."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from websockets.asyncio.server import ServerConnection, serve

from polymm_cli.clock import SystemClock
from polymm_cli.errors import VenueError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Side, TradeStatus
from polymm_cli.venues.base import (
    BookSnapshot,
    Fill,
    OrderIntent,
    OrderUpdate,
    PriceChange,
    StreamStatus,
    TickSizeChange,
    TradeUpdate,
)
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue
from polymm_cli.venues.polymarket.orders import ReferenceSigner
from polymm_cli.venues.polymarket.ratelimit import TokenBucket
from polymm_cli.venues.polymarket.records import normalise_trade, snap_size
from polymm_cli.venues.polymarket.rest import ApiCreds
from polymm_cli.venues.polymarket.streams import UserStream
from tests.conftest import fund, start_exchange, throwaway_key

FED, BTC, CUP, SUN = sample_markets()
D = Decimal
FAST = {"http_backoff_base_s": 0.02, "http_backoff_cap_s": 0.1, "reconnect_backoff_base_s": 0.05}


@pytest.fixture(scope="module")
def exchange() -> Iterator[ExchangeThread]:
    server = start_exchange()
    yield server
    server.stop()


@asynccontextmanager
async def venue_on(
    server: ExchangeThread, label: str, funds: int = 100, **knobs: Any
) -> AsyncIterator[PolymarketVenue]:
    config = PolymarketConfig.for_local_exchange(
        server.url, SecretStr(throwaway_key(label)), **{**FAST, **knobs}
    )
    async with PolymarketVenue(config, SystemClock()) as venue:
        if funds:
            await asyncio.to_thread(fund, server, venue.address, funds)
        yield venue


def change_tick(server: ExchangeThread, market: Any, tick: str) -> None:
    httpx.post(
        f"{server.url}/_local/faults",
        json={"tick_change": {"market": market.condition_id, "tick_size": tick}},
    ).raise_for_status()
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.url}/tick-size", params={"token_id": market.yes_token}).json()[
        "minimum_tick_size"
    ] != float(tick):
        assert time.monotonic() < deadline, "the exchange never changed the tick"
        time.sleep(0.02)


def bid(market: Any, price: str, size: str = "5") -> OrderIntent:
    return OrderIntent(
        market=market.condition_id, token_id=market.yes_token, side=Side.BUY, price=D(price), size=D(size)
    )


# -- ticks -------------------------------------------------------------------------------------------


async def test_a_tick_size_change_on_the_stream_updates_the_tick_used_for_orders(
    fresh_exchange: ExchangeThread,
) -> None:
    async with venue_on(fresh_exchange, "tick-stream") as venue:
        stream = venue.market_events(FED.tokens)
        async with asyncio.timeout(10):
            async for event in stream:
                if isinstance(event, StreamStatus) and event.connected:
                    break
            await asyncio.to_thread(change_tick, fresh_exchange, FED, "0.001")
            async for event in stream:
                if isinstance(event, TickSizeChange) and event.token_id == FED.yes_token:
                    break
        [placed] = await venue.place([bid(FED, "0.123")])
        market = await venue.market(FED.slug)
        await stream.close()

    assert market.tick_size == D("0.001")
    assert placed.ok, placed.error
    assert venue.http_attempts.get("GET /tick-size", 0) == 0  # the stream told it; no look-up needed


async def test_an_order_off_the_cached_grid_rereads_the_tick_before_refusing(
    fresh_exchange: ExchangeThread,
) -> None:
    async with venue_on(fresh_exchange, "tick-finer") as venue:
        await venue.markets()
        await asyncio.to_thread(change_tick, fresh_exchange, FED, "0.001")  # the venue is not told
        [finer] = await venue.place([bid(FED, "0.123")])
        [off_grid] = await venue.place([bid(FED, "0.1234")])

    assert finer.ok, finer.error
    assert not off_grid.ok and "tick grid" in off_grid.error
    assert venue.http_attempts["GET /tick-size"] == 2


async def test_an_order_refused_for_the_tick_rule_rereads_the_tick_and_is_refused_clearly(
    fresh_exchange: ExchangeThread,
) -> None:
    async with venue_on(fresh_exchange, "tick-coarser") as venue:
        await venue.markets()
        await asyncio.to_thread(change_tick, fresh_exchange, BTC, "0.01")  # the venue still thinks 0.001
        [stale] = await venue.place([bid(BTC, "0.123")])
        [fine] = await venue.place([bid(BTC, "0.12")])
        market = await venue.market(BTC.condition_id)

    assert not stale.ok and "tick grid (0.01)" in stale.error
    assert venue.http_attempts["POST /order"] == 2  # the stale order was sent once, never re-sent
    assert fine.ok, fine.error
    assert market.tick_size == D("0.01")


# -- hostile frames ----------------------------------------------------------------------------------


async def test_malformed_and_error_frames_are_skipped_and_counted_and_the_stream_lives_on(
    exchange: ExchangeThread,
) -> None:
    valid: dict[str, Any] = {
        "event_type": "price_change",
        "market": FED.condition_id,
        "timestamp": "1777370400123",
        "price_changes": [
            {"asset_id": FED.yes_token, "price": "0.42", "size": "3", "side": "BUY", "hash": "h"},
        ],
    }
    hostile = [
        "not json {",
        json.dumps({"error": "invalid message: bad subscription"}),
        json.dumps({**valid, "price_changes": [{**valid["price_changes"][0], "price": "2.5"}]}),  # price > 1
        "[" * 5000,
        json.dumps(valid),
    ]
    subscriptions: list[Any] = []

    async def handler(ws: ServerConnection) -> None:
        subscriptions.append(json.loads(await ws.recv()))
        assert await ws.recv() == "PING"
        await ws.send("PONG")
        for frame in hostile:
            await ws.send(frame)
        async for message in ws:
            if message == "PING":
                await ws.send("PONG")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = PolymarketConfig.for_local_exchange(
            exchange.url, SecretStr(throwaway_key("hostile"))
        ).with_changes(ws_url=f"ws://127.0.0.1:{port}")
        async with PolymarketVenue(config, SystemClock()) as venue:
            stream = venue.market_events([FED.yes_token])
            seen: list[Any] = []
            async with asyncio.timeout(10):
                async for event in stream:
                    seen.append(event)
                    if isinstance(event, PriceChange):
                        break
            counts = (getattr(stream, "malformed_frames", None), getattr(stream, "error_frames", None))
            await stream.close()

    assert subscriptions == [
        {"type": "market", "assets_ids": [FED.yes_token], "custom_feature_enabled": True}
    ]
    assert isinstance(seen[0], BookSnapshot) and isinstance(seen[1], StreamStatus) and seen[1].connected
    assert [type(e) for e in seen[2:]] == [PriceChange]
    assert seen[-1].updates[0].price == D("0.42")
    assert counts == (2, 1)  # not JSON, too deep; the error frame
    assert stream.malformed_events == 1  # the price_change at 2.5, alone in its frame


# A user-channel frame as the venue batches it (docs/protocol.md §6.3 shapes): our order's PLACEMENT, an
# UPDATE of it that does not parse, and the trade that filled it.
OUR_KEY = "11111111-2222-3333-4444-555555555555"
OUR_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
OUR_PASSPHRASE = "passphrase-of-the-test-account"
ORDER = {
    "event_type": "order", "type": "PLACEMENT", "id": "0x8f3a", "owner": OUR_KEY, "market": FED.condition_id,
    "asset_id": FED.yes_token, "side": "BUY", "price": "0.52", "original_size": "100", "size_matched": "0",
    "outcome": "Yes", "order_type": "GTC", "status": "LIVE", "associate_trades": None,
    "created_at": "1777370400", "timestamp": "1777370400123",
}  # fmt: skip
TRADE = {
    "event_type": "trade", "type": "TRADE", "id": "a1b2c3d4", "taker_order_id": "0x77aa",
    "market": FED.condition_id, "asset_id": FED.yes_token, "side": "SELL", "size": "75", "price": "0.52",
    "fee_rate_bps": "0", "status": "MATCHED", "matchtime": "1777370400", "owner": "someone-else",
    "trader_side": "MAKER", "timestamp": "1777370400123",
    "maker_orders": [{"order_id": "0x8f3a", "owner": OUR_KEY, "matched_amount": "75", "price": "0.52",
                      "asset_id": FED.yes_token, "side": "BUY"}],
}  # fmt: skip


class UserHost:
    """What a user stream needs from its venue, with nothing to resync."""

    api_key = OUR_KEY
    address = "0x" + "ab" * 20

    async def ws_credentials(self) -> ApiCreds:
        return ApiCreds(OUR_KEY, SecretStr(OUR_SECRET), SecretStr(OUR_PASSPHRASE))

    async def snapshot_books(self, token_ids: Any) -> list[BookSnapshot]:
        return []

    async def resync_orders(self, markets: Any) -> list[Any]:
        return []

    async def resync_trades(self, markets: Any, after: float) -> list[TradeUpdate]:
        return []

    def observe_market_event(self, event: Any) -> None:
        pass


async def user_stream_events(frames: list[str], wanted: int) -> tuple[list[Any], UserStream]:
    """The first `wanted` events (after "connected") of a user stream whose server sends `frames`."""

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the subscription
        assert await ws.recv() == "PING"
        await ws.send("PONG")
        for frame in frames:
            await ws.send(frame)
        async for message in ws:
            if message == "PING":
                await ws.send("PONG")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = PolymarketConfig.for_local_exchange(
            "http://127.0.0.1:1", SecretStr(throwaway_key("user-stream"))
        ).with_changes(ws_url=f"ws://127.0.0.1:{port}")
        stream = UserStream([FED.condition_id], UserHost(), config, SystemClock(), random.Random(1))
        seen: list[Any] = []
        async with asyncio.timeout(10):
            async for event in stream:
                if not isinstance(event, StreamStatus):
                    seen.append(event)
                if len(seen) == wanted:
                    break
        await stream.close()
    return seen, stream


async def test_a_bad_order_in_a_user_frame_is_logged_with_its_text_and_the_trade_beside_it_still_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = json.dumps({**ORDER, "type": "UPDATE", "price": "1.52"})
    frame = f"[{json.dumps(ORDER)}, {bad}, {json.dumps(TRADE)}]"

    with caplog.at_level(logging.WARNING, logger="polymm.venues.polymarket"):
        seen, stream = await user_stream_events([frame], wanted=2)

    order, trade = seen
    assert isinstance(order, OrderUpdate) and order.order_id == "0x8f3a"
    assert isinstance(trade, TradeUpdate) and [f.key for f in trade.fills] == [("a1b2c3d4", "0x8f3a")]
    assert (stream.malformed_events, stream.malformed_frames) == (1, 0)
    [record] = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert bad in record.getMessage()
    assert "order: field 'price' is not a price in [0, 1]: 1.52" in record.getMessage()


async def test_our_api_secret_echoed_in_a_bad_element_is_masked_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    echoed = {**ORDER, "price": "9", "note": f"auth {OUR_SECRET} / {OUR_PASSPHRASE}"}
    frame = json.dumps([echoed, TRADE])

    with caplog.at_level(logging.WARNING, logger="polymm.venues.polymarket"):
        seen, _ = await user_stream_events([frame], wanted=1)

    assert [type(e) for e in seen] == [TradeUpdate]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "auth [masked] / [masked]" in logged
    assert OUR_SECRET not in logged and OUR_PASSPHRASE not in logged


# -- HTTP ---------------------------------------------------------------------------------------------


async def test_a_persistent_5xx_gives_up_after_the_attempt_limit_with_one_line(
    fresh_exchange: ExchangeThread,
) -> None:
    async with venue_on(fresh_exchange, "gives-up", funds=0, http_max_attempts=3) as venue:
        httpx.post(
            f"{fresh_exchange.url}/_local/faults", json={"error_status": 502, "error_count": 50}
        ).raise_for_status()
        with pytest.raises(VenueError) as caught:
            await venue.book(FED.yes_token)
        httpx.post(f"{fresh_exchange.url}/_local/faults", json={"error_status": 0}).raise_for_status()

    message = str(caught.value)
    assert caught.value.status == 502 and "\n" not in message
    assert message.startswith("GET /book failed: HTTP 502") and "gave up after 3 attempts" in message
    assert venue.http_attempts["GET /book"] == 3


async def test_a_5xx_storm_fails_the_order_path_within_its_short_budget_not_the_general_one(
    fresh_exchange: ExchangeThread,
) -> None:
    """Places and cancels give up within `order_retry_budget_s` (the engine then pauses and pulls
    quotes), while other calls keep the patient general budget."""
    knobs = {"http_retry_budget_s": 30.0, "order_retry_budget_s": 1.0, "http_max_attempts": 50}
    async with venue_on(fresh_exchange, "order-budget", **knobs) as venue:
        await venue.market(FED.condition_id)  # known before the storm, as in a running engine
        httpx.post(
            f"{fresh_exchange.url}/_local/faults", json={"error_status": 503, "error_count": 10_000}
        ).raise_for_status()
        timings = []
        try:
            for call in (lambda: venue.place([bid(FED, "0.30")]), lambda: venue.cancel(["0xabc"])):
                started = time.monotonic()
                with pytest.raises(VenueError, match="HTTP 503"):
                    await call()
                timings.append(time.monotonic() - started)
        finally:
            httpx.post(f"{fresh_exchange.url}/_local/faults", json={"error_status": 0}).raise_for_status()

    assert all(t < 1.6 for t in timings), timings
    assert venue.http_attempts["POST /order"] >= 2  # it did retry, within the budget


async def test_the_token_bucket_paces_a_burst_instead_of_failing() -> None:
    bucket = TokenBucket(rate=100.0, burst=5.0, clock=SystemClock())
    started = time.monotonic()
    await bucket.acquire(5)  # the burst: immediate
    burst_done = time.monotonic() - started
    await bucket.acquire(5)  # 5 more tokens at 100/s: about 50 ms
    paced = time.monotonic() - started
    await bucket.acquire(20)  # above the burst: waits for a full bucket, then goes into debt
    assert bucket.tokens < 0

    assert burst_done < 0.02
    assert 0.04 <= paced < 0.5


# -- fills and signing ----------------------------------------------------------------------------------


def test_fill_sizes_within_a_micro_unit_of_a_cent_are_snapped() -> None:
    assert snap_size(D("4.999999")) == D("5.00")
    assert snap_size(D("10.000001")) == D("10.00")
    assert snap_size(D("4.5")) == D("4.5")
    assert snap_size(D("4.99999")) == D("4.99999")  # 1e-5 away: real size, left alone
    fill = Fill(
        trade_id="t",
        order_id="o",
        token_id="1",
        side=Side.BUY,
        price=D("0.5"),
        size=D("2.999999"),
        fee_rate_bps=D(0),
        liquidity="MAKER",
    )
    update = TradeUpdate(
        trade_id="t",
        market="m",
        status=TradeStatus.MATCHED,
        taker_order_id="x",
        trader_side="MAKER",
        fills=(fill,),
        venue_ts=1.0,
        recv_ts=1.0,
    )
    assert normalise_trade(update).fills[0].size == D("3.00")
    clean = TradeUpdate(**{**{f: getattr(update, f) for f in update.__dataclass_fields__}, "fills": ()})
    assert normalise_trade(clean) is clean


async def test_the_reference_signer_runs_off_the_event_loop_thread(
    exchange: ExchangeThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = ReferenceSigner.sign_batch

    def spy(self: ReferenceSigner, jobs: Any) -> Any:
        threads.append(threading.get_ident())
        return original(self, jobs)

    monkeypatch.setattr(ReferenceSigner, "sign_batch", spy)
    # the official builder knows Polygon only; the local exchange accepts that domain too
    async with venue_on(exchange, "reference-thread", signer="reference", chain_id=137) as venue:
        [placed] = await venue.place([bid(SUN, "0.03")])
        await venue.cancel_all()

    assert placed.ok, placed.error
    assert threads and threading.get_ident() not in threads


# -- markets ---------------------------------------------------------------------------------------


async def test_a_market_gamma_does_not_list_is_found_on_the_clob_by_condition_id_or_token(
    exchange: ExchangeThread,
) -> None:
    config = PolymarketConfig.for_local_exchange(
        exchange.url, SecretStr(throwaway_key("clob-only"))
    ).with_changes(gamma_url=f"{exchange.url}/no-gamma-here", **FAST)
    async with PolymarketVenue(config, SystemClock()) as venue:
        by_id = await venue.market(CUP.condition_id)
        by_token = await venue.market(BTC.no_token)
        with pytest.raises(VenueError):  # a slug needs Gamma, which is down: a venue error, not "unknown"
            await venue.market(FED.slug)

    assert (by_id.slug, by_id.tokens, by_id.tick_size, by_id.min_order_size, by_id.neg_risk) == (
        CUP.slug,
        CUP.tokens,
        CUP.tick_size,
        CUP.min_order_size,
        True,
    )
    assert by_id.taker_fee_rate == D("0.05") and by_id.rewards.daily_rate == D("100")
    assert by_token.condition_id == BTC.condition_id and by_token.tick_size == D("0.001")


def test_post_answers_map_to_results_and_a_retried_duplicate_counts_as_placed() -> None:
    from polymm_cli.venues.polymarket.orders import SignedEnvelope, SignJob, refusal_of, result_of

    intent = bid(FED, "0.2")
    signed = SignedEnvelope(SignJob(0, intent, D("0.01"), False, 1, 1, "owner"), {}, "0xabc")
    live = result_of(signed, {"success": True, "errorMsg": "", "orderID": "0xabc", "status": "live"})
    delayed = result_of(
        signed,
        {
            "success": True,
            "errorMsg": "order match delayed due to market conditions",
            "orderID": "0xabc",
            "status": "delayed",
        },
    )
    refused = result_of(signed, {"success": False, "errorMsg": "invalid post-only order: order crosses book"})
    duplicate = refusal_of(signed, "order 0xabc is invalid. Duplicated.")

    assert (live.ok, live.order_id, live.status) == (True, "0xabc", "live")
    assert (delayed.ok, delayed.status) == (True, "delayed")
    assert (refused.ok, refused.error) == (False, "invalid post-only order: order crosses book")
    assert (duplicate.ok, duplicate.order_id, duplicate.status) == (True, "0xabc", "live")


async def test_refresh_balances_asks_the_clob_to_reread_collateral_and_each_token(
    exchange: ExchangeThread,
) -> None:
    async with venue_on(exchange, "refresher", funds=0) as venue:
        await venue.refresh_balances([FED.yes_token, FED.no_token])
        balances = await venue.balances([FED.yes_token])

    assert venue.http_attempts["GET /balance-allowance/update"] == 3
    assert balances.collateral == 0 and balances.tokens == {FED.yes_token: 0}


async def test_a_lost_pong_during_the_subscription_does_not_keep_the_stream_down_while_data_flows(
    exchange: ExchangeThread,
) -> None:
    """A stall that ends: the server dropped the PONG of our first connection's PING but streams data
    again. Frames keep arriving, so only a deadline on the PONG itself gets the stream back."""
    connections: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(1)
        await ws.recv()  # the subscription
        first = len(connections) == 1
        async for message in ws:
            if message == "PING" and not first:
                await ws.send("PONG")
                return await ws.wait_closed()
            if first:  # no PONG, ever; a busy book instead
                while True:
                    await ws.send(json.dumps({"event_type": "unknown_but_valid"}))
                    await asyncio.sleep(0.05)
        return None

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = PolymarketConfig.for_local_exchange(
            exchange.url,
            SecretStr(throwaway_key("lost-pong")),
            ws_watchdog_s=0.5,
            reconnect_backoff_base_s=0.05,
        ).with_changes(ws_url=f"ws://127.0.0.1:{port}")
        async with PolymarketVenue(config, SystemClock()) as venue:
            stream = venue.market_events([FED.yes_token])
            statuses: list[StreamStatus] = []
            async with asyncio.timeout(5):
                async for event in stream:
                    if isinstance(event, StreamStatus):
                        statuses.append(event)
                        if event.connected:
                            break
            await stream.close()

    assert len(connections) == 2
    assert (
        not statuses[0].connected and "no PONG to the subscription's PING within 0.5 s" in statuses[0].reason
    )
    assert statuses[-1].connected
