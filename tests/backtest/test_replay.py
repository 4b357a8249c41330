"""The replay driver: a hand-built recording through the real engine, with figures worked out by hand."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from polymm_cli.backtest.queue import RiskAverseQueue
from polymm_cli.backtest.recording import Frame, RecordingWriter, ReplayItem
from polymm_cli.backtest.replay import (
    ReplayConfig,
    ReplayVenue,
    Timed,
    advance_to,
    monotone,
    replay_session,
    run_until_idle,
)
from polymm_cli.clock import ManualClock
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import Side
from polymm_cli.services.trading import engine_config
from polymm_cli.settings import Settings
from polymm_cli.venues.base import LastTrade, OrderIntent
from polymm_cli.venues.paper import Latency

D = Decimal
FED = sample_markets()[0]  # tick 0.01, min size 5
NS = 1_000_000_000
T0 = 1_796_000_000.0


def _book(t: float, bids: dict[str, str], asks: dict[str, str]) -> str:
    """A wire `book` frame (levels best-last, as Polymarket sends them)."""
    return json.dumps(
        {
            "event_type": "book",
            "market": FED.condition_id,
            "asset_id": FED.yes_token,
            "bids": [{"price": p, "size": s} for p, s in sorted(bids.items())],
            "asks": [{"price": p, "size": s} for p, s in sorted(asks.items(), reverse=True)],
            "timestamp": str(int(t * 1000)),
            "hash": "h",
        }
    )


def _trade(t: float, price: str, size: str, side: str) -> str:
    return json.dumps(
        {
            "event_type": "last_trade_price",
            "market": FED.condition_id,
            "asset_id": FED.yes_token,
            "price": price,
            "size": size,
            "side": side,
            "fee_rate_bps": "0",
            "timestamp": str(int(t * 1000)),
        }
    )


def _recording(tmp_path: Path, frames: list[tuple[float, str]]) -> Path:
    out = tmp_path / "rec"
    with RecordingWriter(out, source="test", markets=[FED]) as writer:
        for t, text in frames:
            writer.write(Frame(recv_ns=int(t * NS), text=text))
    return out


def _config(**settings: str) -> ReplayConfig:
    quiet = Settings(spread="0.02", microprice=False, **settings)  # type: ignore[arg-type]
    return ReplayConfig(
        engine=engine_config(quiet),
        queue=RiskAverseQueue(),
        latency=Latency(order_entry_s=0.05, cancel_s=0.05, market_data_s=None),
        warmup_s=1.0,
    )


def _quiet_market(tmp_path: Path, trade: tuple[str, str, str] | None) -> Path:
    """A 0.48/0.52 book for a minute, refreshed every 5 s; one trade at t0 + 30 s if given."""
    frames = [(T0 + s, _book(T0 + s, {"0.48": "100"}, {"0.52": "100"})) for s in range(0, 61, 5)]
    if trade is not None:
        frames.append((T0 + 30.5, _trade(T0 + 30.5, *trade)))
        frames.sort(key=lambda f: f[0])
    return _recording(tmp_path, frames)


async def test_a_taker_selling_through_our_bid_fills_it_in_full(tmp_path: Path) -> None:
    # mid 0.50, spread 0.02: we bid 0.49 and ask 0.51 (a BUY NO at 0.49). A taker sells 200 at 0.47:
    # it traded through our bid, so the bid (10 shares) fills in full at 0.49; marked at 0.50: +0.10.
    result = await replay_session(_quiet_market(tmp_path, ("0.47", "200", "SELL")), _config())
    assert result.fills == 1
    assert [(p.is_bid, p.yes_price, p.size) for p in result.fill_points] == [(True, D("0.49"), D(10))]
    assert result.total == D("0.10")
    assert result.samples[-1].net_position == D(10)
    # marked at the book without us, as the samples are: after the fill the skew moves our quotes
    # off-centre (bid 0.48, ask 0.51), so a mid read from the book with them would be 0.495
    assert result.samples[-1].pnl == result.total and result.samples[-1].mid == D("0.495")


async def test_without_a_trade_nothing_fills_and_quotes_rest_at_one_cent_a_side(tmp_path: Path) -> None:
    result = await replay_session(_quiet_market(tmp_path, None), _config())
    assert result.fills == 0 and result.total == 0
    quoted = [(s.bid, s.ask) for s in result.samples if s.bid is not None]
    assert quoted and set(quoted) == {(D("0.49"), D("0.51"))}


async def test_a_trade_at_a_worse_price_than_our_bid_does_not_fill_it(tmp_path: Path) -> None:
    # a taker BUY at 0.52 lifts the asks: our bid is not touched, our ask at 0.51 would have been
    # hit first (a trade through our ask): the ask fills, a short of 10 YES marked at 0.50: +0.10
    result = await replay_session(_quiet_market(tmp_path, ("0.52", "50", "BUY")), _config())
    assert [(p.is_bid, p.yes_price) for p in result.fill_points] == [(False, D("0.51"))]
    assert result.total == D("0.10")


async def test_the_driver_wakes_each_waiting_task_at_its_own_due_time() -> None:
    # an order's entry latency (50 ms) and a cancel's (300 ms) end before the next recorded event
    # (at +0.5 s): each must resume at its own time, not when the clock jumps to the event
    clock = ManualClock(T0)
    woke: list[float] = []

    async def waits(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(round(clock.now() - T0, 6))

    tasks = [asyncio.create_task(waits(s)) for s in (0.05, 0.3)]
    await run_until_idle()
    await advance_to(clock, T0 + 0.5)
    assert woke == [0.05, 0.3]
    assert all(t.done() for t in tasks) and clock.now() == T0 + 0.5


async def test_the_same_recording_gives_the_same_result_twice(tmp_path: Path) -> None:
    source = _quiet_market(tmp_path, ("0.47", "200", "SELL"))
    first = await replay_session(source, _config())
    second = await replay_session(source, _config())
    assert first.to_json() == second.to_json()


async def test_a_market_not_in_the_recording_is_a_one_line_usage_error(tmp_path: Path) -> None:
    source = _quiet_market(tmp_path, None)
    with pytest.raises(UsageError, match="not in the recording"):
        await replay_session(source, replace(_config(), market="no-such-market"))


async def test_a_recording_shorter_than_the_warm_up_is_a_one_line_usage_error(tmp_path: Path) -> None:
    source = _quiet_market(tmp_path, None)  # a minute of data
    with pytest.raises(UsageError, match="within the warm-up of 120 s: nothing is left to replay"):
        await replay_session(source, replace(_config(), warmup_s=120.0))


async def test_the_replay_venue_places_nothing() -> None:
    venue = ReplayVenue([FED], ManualClock(T0))
    intent = OrderIntent(
        market=FED.condition_id, token_id=FED.yes_token, side=Side.BUY, price=D("0.4"), size=D(5)
    )
    with pytest.raises(VenueError, match="market data only"):
        await venue.place([intent])


def test_the_timeline_never_steps_back_and_a_constant_feed_delay_counts_from_exchange_time() -> None:
    def trade(venue_ts: float, recv_ts: float) -> LastTrade:
        return LastTrade(
            market=FED.condition_id,
            token_id=FED.yes_token,
            price=D("0.5"),
            size=D(1),
            taker_side=Side.BUY,
            fee_rate_bps=D(0),
            venue_ts=venue_ts,
            recv_ts=recv_ts,
        )

    items = [ReplayItem(e.recv_ts, e) for e in (trade(10.0, 10.2), trade(9.0, 10.3), trade(11.0, 11.1))]
    recorded = list(monotone(items, None))
    assert [t.at for t in recorded] == [10.0, 10.0, 11.0]  # the regression is held at 10
    assert [t.event.recv_ts for t in recorded if t.event] == [10.2, 10.3, 11.1]
    delayed = list(monotone(items, 0.1))  # the paper venue adds the 0.1 s once (Latency.due)
    assert [t.event.recv_ts for t in delayed if t.event] == [10.0, 10.0, 11.0]
    assert all(isinstance(t, Timed) for t in delayed)
