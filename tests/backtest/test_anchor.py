"""The anchor: polymm's events as hftbacktest reads them, and the fixed-spread strategy written for
hftbacktest (bench/anchor_hbt.py), which bench/bench_anchor.py compares polymm's backtest with."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

pytest.importorskip("hftbacktest", reason="the anchor needs hftbacktest (the dev extra)")

from hftbacktest import BUY_EVENT as HBT_BUY
from hftbacktest import (
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EXCH_EVENT,
    LOCAL_EVENT,
    TRADE_EVENT,
)
from hftbacktest import SELL_EVENT as HBT_SELL

from bench.anchor_hbt import Feed, to_feed
from polymm_cli.model import Side
from polymm_cli.venues.paper import Latency
from tests.backtest.sim_events import MARKET, NO, YES, change, levels, snapshot, trade


@dataclass(frozen=True)
class Timed:
    at: float
    event: Any
    gap: str = ""


def timeline(*events: Any, md: float = 0.01) -> list[Timed]:
    """Items one second apart from t = 100, each delivered `md` after its exchange time; None = gap."""
    out = []
    for i, ev in enumerate(events):
        at = 100.0 + i
        out.append(Timed(at, None, "lost") if ev is None else Timed(at, replace(ev, recv_ts=at + md)))
    return out


def rows(feed: Feed) -> list[tuple[int, int, int, float, float]]:
    r = feed.rows
    return [
        (int(e), int(x), int(loc), round(float(p), 6), float(q))
        for e, x, loc, p, q in zip(r["ev"], r["exch_ts"], r["local_ts"], r["px"], r["qty"], strict=True)
    ]


S = 1_000_000_000
BOTH = EXCH_EVENT | LOCAL_EVENT


def test_a_yes_book_snapshot_clears_the_book_then_sets_every_level() -> None:
    snap = snapshot(YES, bids=levels(("0.40", "10"), ("0.41", "20")), asks=levels(("0.45", "30")))
    feed = to_feed(timeline(snap), MARKET)
    assert rows(feed) == [
        (DEPTH_CLEAR_EVENT | BOTH, 100 * S, 100 * S + S // 100, 0.0, 0.0),
        (DEPTH_SNAPSHOT_EVENT | HBT_BUY | BOTH, 100 * S, 100 * S + S // 100, 0.40, 10.0),
        (DEPTH_SNAPSHOT_EVENT | HBT_BUY | BOTH, 100 * S, 100 * S + S // 100, 0.41, 20.0),
        (DEPTH_SNAPSHOT_EVENT | HBT_SELL | BOTH, 100 * S, 100 * S + S // 100, 0.45, 30.0),
    ]
    assert feed.rows.dtype.names is not None and "ival" in feed.rows.dtype.names  # hftbacktest's dtype


def test_yes_level_updates_are_depth_events_and_no_token_book_data_is_left_out() -> None:
    feed = to_feed(
        timeline(
            change(Side.BUY, "0.42", "15"),
            change(Side.SELL, "0.46", "0"),
            change(Side.BUY, "0.55", "99", token=NO),  # the YES book is kept: NO entries only mirror it
            snapshot(NO, bids=levels(("0.5", "1"))),
        ),
        MARKET,
    )
    assert [(e, p, q) for e, _, _, p, q in rows(feed)] == [
        (DEPTH_EVENT | HBT_BUY | BOTH, 0.42, 15.0),
        (DEPTH_EVENT | HBT_SELL | BOTH, 0.46, 0.0),
    ]


def test_without_any_yes_book_data_the_no_book_is_mirrored() -> None:
    feed = to_feed(timeline(change(Side.BUY, "0.55", "99", token=NO)), MARKET)
    assert [(e, p, q) for e, _, _, p, q in rows(feed)] == [(DEPTH_EVENT | HBT_SELL | BOTH, 0.45, 99.0)]


def test_a_no_trade_is_a_yes_trade_at_the_complement_with_the_other_taker_side() -> None:
    feed = to_feed(
        timeline(trade(Side.BUY, "0.44", "7"), trade(Side.BUY, "0.58", "3", token=NO)),
        MARKET,
    )
    assert [(e, p, q) for e, _, _, p, q in rows(feed)] == [
        (TRADE_EVENT | HBT_BUY | BOTH, 0.44, 7.0),
        (TRADE_EVENT | HBT_SELL | BOTH, 0.42, 3.0),  # a taker buying NO sells YES
    ]


def test_times_are_exchange_time_and_delivery_time_in_ns_never_stepping_back() -> None:
    items = [
        Timed(100.0, replace(change(Side.BUY, "0.40", "1"), recv_ts=100.25)),
        Timed(99.5, replace(change(Side.BUY, "0.41", "1"), recv_ts=100.1)),  # steps back: held
    ]
    feed = to_feed(items, MARKET)
    assert [(x, loc) for _, x, loc, _, _ in rows(feed)] == [(100 * S, 100 * S + S // 4)] * 2


def test_the_quoting_window_starts_after_the_warm_up_closes_at_a_gap_and_reopens_at_a_snapshot() -> None:
    book = snapshot(YES, bids=levels(("0.40", "10")), asks=levels(("0.45", "30")))
    up = change(Side.BUY, "0.41", "5")
    feed = to_feed(timeline(book, up, up, None, up, book, up), MARKET, warmup_s=1.5)
    # the engine starts at the last item of the warm-up (t = 101), loses the feed at the gap (103)
    # and quotes again once a book snapshot came (105, delivered 10 ms later)
    assert feed.windows.tolist() == [[101 * S, 103 * S], [105 * S + S // 100, 1 << 62]]
    assert np.all(np.diff(feed.rows["local_ts"]) >= 0)


# -- the strategy in hftbacktest, and the comparison (numba compiles the strategy once: ~10 s) --------


@pytest.mark.slow
def test_the_anchor_quotes_the_mid_plus_minus_half_the_spread_and_a_trade_at_its_bid_fills_it() -> None:
    from bench.anchor_hbt import StrategyParams, run_anchor

    book = snapshot(YES, bids=levels(("0.40", "100")), asks=levels(("0.50", "100")))
    # the bid rests at 0.43 (mid 0.45 - 0.02) with nothing ahead; a taker selling 7 at 0.43 fills it
    feed = to_feed(timeline(book, change(Side.BUY, "0.40", "100"), trade(Side.SELL, "0.43", "7")), MARKET)
    params = StrategyParams(
        tick=MARKET.tick_size,
        spread=Decimal("0.04"),
        size=Decimal(5),
        position_limit=Decimal(20),
        min_size=MARKET.min_order_size,
        entry_s=0.1,
    )
    result = run_anchor(feed, params)
    assert [(f.is_bid, f.yes_price, f.size) for f in result.fill_log] == [(True, 0.43, 5.0)]
    assert (result.fills, result.volume, result.position, result.mid) == (1, 5.0, 5.0, 0.45)
    assert result.pnl == pytest.approx(5 * (0.45 - 0.43))


@pytest.mark.slow
async def test_without_latency_polymm_fills_where_hftbacktest_fills_on_the_real_tickscope_sample() -> None:
    """The queue model and the fill rules against the anchor, apart from the replay's timing: with no
    latency on either side every fill is the same (time, side, price, size)."""
    from bench.bench_anchor import SAMPLE, compare_case

    [row] = await compare_case("tickscope sample", [SAMPLE], Latency(0.0, 0.0, 0.0))
    assert row.anchor.fills >= 5  # the sample trades: a comparison of nothing proves nothing
    assert (row.polymm.fills, row.polymm.volume, row.polymm.position) == (
        row.anchor.fills,
        row.anchor.volume,
        row.anchor.position,
    )
    assert row.same_fills == row.anchor.fills
    assert row.polymm.pnl == pytest.approx(row.anchor.pnl, abs=1e-6)


@pytest.mark.slow
async def test_polymm_agrees_with_hftbacktest_on_the_real_tickscope_sample() -> None:
    """The anchor: a regression in the queue model, the fill rules or the replay's timing moves
    polymm's fills away from hftbacktest's on the same data (docs/backtesting.md, "Validation against
    hftbacktest", says what differs by design)."""
    from bench.bench_anchor import SAMPLE, compare_case, mostly_same, within_tolerance

    [row] = await compare_case("tickscope sample", [SAMPLE])
    assert row.anchor.fills >= 5  # the sample trades: a comparison of nothing proves nothing
    assert within_tolerance(row.polymm, row.anchor), (row.polymm, row.anchor)
    assert mostly_same(row.same_fills, row.polymm, row.anchor), (row.same_fills, row.polymm, row.anchor)


def test_the_anchor_overlaps_a_cancel_and_a_place_by_polymms_risk_rule() -> None:
    """bench/anchor_hbt.py `_may_overlap` mirrors the engine's: the places go out beside the cancels
    only if they pass with every order being cancelled still resting (limit, inventory, no cross)."""
    from bench.anchor_hbt import (
        G_ON,
        G_SELL,
        G_SIZE,
        G_TICK,
        T_ID,
        T_LEAVES,
        T_PRICE,
        T_SELL,
        T_SIDE,
        StrategyParams,
        _may_overlap,
    )

    params = StrategyParams(
        tick=Decimal("0.01"),
        spread=Decimal("0.04"),
        size=Decimal(5),
        position_limit=Decimal(20),
        min_size=Decimal(5),
    ).array()

    def case(new_bid_tick: float, hold: tuple[float, float] = (0.0, 0.0), ask_sells: bool = False) -> bool:
        trk = np.zeros((16, 7))
        for i, (side, tick) in enumerate(((1.0, 48.0), (-1.0, 52.0))):  # our live bid 0.48, ask 0.52
            trk[i, T_ID], trk[i, T_SIDE], trk[i, T_LEAVES], trk[i, T_PRICE] = i + 1, side, 5.0, tick
        trk[1, T_SELL] = 1.0 if ask_sells else 0.0
        tgt = np.zeros((2, 5))
        for k, tick in ((0, new_bid_tick), (1, new_bid_tick + 4)):  # both sides move
            tgt[k, G_ON], tgt[k, G_TICK], tgt[k, G_SIZE] = 1.0, tick, 5.0
        tgt[1, G_SELL] = 1.0 if ask_sells else 0.0
        return bool(_may_overlap(trk, np.array([*hold, *hold]), tgt, params))

    assert case(49.0)  # new 0.49 / 0.53 beside old 0.48 / 0.52: both sides at most 10 of 20
    assert not case(52.0)  # the new bid would meet our old ask
    assert not case(49.0, hold=(15.0, 0.0))  # 15 + old bid 5 + new bid 5 > 20
    assert case(49.0, hold=(10.0, 0.0), ask_sells=True)  # 10 YES cover the old SELL and the new
    assert not case(49.0, hold=(5.0, 0.0), ask_sells=True)  # 5 YES: the old SELL still locks them
