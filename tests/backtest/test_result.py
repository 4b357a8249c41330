"""BacktestResult figures on hand-built sessions, each worked out by hand in the comments."""

from __future__ import annotations

import io
import json
import random
import statistics
from dataclasses import replace
from decimal import Decimal

import pytest
from rich.console import Console

from bench.backtest import _Samples
from polymm_cli.backtest.result import (
    BacktestResult,
    FillPoint,
    Sample,
    auto_bucket,
    bucket_changes,
    drawdowns,
    estimated_reward,
    fill_points,
    flat_pnl,
    pnl_per_hour_std,
    rank,
    reward_rate,
    sample_from_snapshot,
    summarize,
)
from polymm_cli.cli import views
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import (
    FillRecord,
    Market,
    MarketSnapshot,
    PriceLevel,
    QuoteOrderView,
    Side,
    TradeStatus,
)
from polymm_cli.pnl import project

FED = sample_markets()[0]  # tick 0.01; rewards: 3.5c max spread, min size 20, 50 pUSD/day
SUN = next(m for m in sample_markets() if not m.rewards.active)
D = Decimal
T0 = 1_780_000_000.0

# One sample a minute for 10 minutes (11 samples, t = 0..600 s).
PNL = ["0", "1", "3", "2", "-1", "0", "4", "3", "5", "5", "6"]
NET = ["0", "10", "20", "20", "-20", "-10", "0", "10", "20", "-25", "0"]


def session(rate: str = "0") -> list[Sample]:
    return [
        Sample(
            t=T0 + 60 * i,
            mid=D("0.50"),
            bid=D("0.48"),
            ask=D("0.52") if i % 2 else None,
            net_position=D(NET[i]),
            pnl=D(PNL[i]),
            reward_rate=D(rate),
        )
        for i in range(11)
    ]


FILLS = [
    FillPoint(t=T0 + 30, is_bid=True, yes_price=D("0.48"), size=D(10), liquidity="MAKER", notional=D("4.8")),
    FillPoint(t=T0 + 90, is_bid=False, yes_price=D("0.52"), size=D(5), liquidity="MAKER", notional=D("2.4")),
    FillPoint(t=T0 + 95, is_bid=False, yes_price=D("0.49"), size=D(7), liquidity="TAKER", notional=D("3.43")),
]


def result(samples: list[Sample] | None = None, **kw: object) -> BacktestResult:
    args: dict[str, object] = {"limit": D(20), "events": 1234, "params": {"spread": "0.04"}} | kw
    return summarize(FED, session() if samples is None else samples, FILLS, flat_pnl(FED), **args)  # type: ignore[arg-type]


def test_max_drawdown_is_the_largest_fall_below_the_running_peak() -> None:
    # peaks 0 1 3 3 3 3 4 4 5 5 6 -> falls 0 0 0 1 4 3 0 1 0 0 0: the worst is 3 -> -1
    assert drawdowns(session()) == [D(x) for x in "00014301000"]
    assert result().max_drawdown == D(4)


def test_the_first_sample_is_the_first_peak_as_in_the_bench() -> None:
    falling = [Sample(t=T0 + i, mid=None, bid=None, ask=None, net_position=D(0), pnl=D(-i)) for i in range(3)]
    assert result(falling).max_drawdown == D(2)  # from -0 to -2, not from 0 before the session


def test_inventory_std_is_the_population_std_of_net_position() -> None:
    # sum 0+10+20+20-20-10+0+10+20-25+0 = 25, squares 100+400+400+400+100+100+400+625 = 2525:
    # population variance (/ n, as statistics.pstdev in the bench) 2525/11 - (25/11)^2 = 27150/121
    nets = [D(n) for n in NET]
    assert sum(nets) == 25 and sum(n * n for n in nets) == 2525
    assert abs(result().inventory_std - (D(27150) / 121).sqrt()) < D("1e-20")  # 14.979...


def test_time_at_limit_counts_samples_at_or_past_the_limit_either_way() -> None:
    # |net| >= 20 at 20, 20, -20, 20, -25: 5 of 11 samples
    assert result().time_at_limit == pytest.approx(5 / 11)
    assert result(limit=D(25)).time_at_limit == pytest.approx(1 / 11)
    assert result(limit=D(26)).time_at_limit == 0.0


def test_pnl_per_hour_std_from_complete_buckets_scaled_to_an_hour() -> None:
    # 120 s buckets over 600 s: P&L at 0,120,240,360,480,600 s = 0,3,-1,4,5,6 -> changes 3,-4,5,1,1
    assert bucket_changes(session(), 120) == [D(3), D(-4), D(5), D(1), D(1)]
    # mean 6/5 = 1.2; squared deviations 3.24+27.04+14.44+0.04+0.04 = 44.8; sample variance 44.8/4 = 11.2
    # per hour: sqrt(11.2) x sqrt(3600/120) = sqrt(11.2 x 30) = sqrt(336)
    std = pnl_per_hour_std(session(), 120)
    assert std is not None
    assert abs(std - D(336).sqrt()) < D("1e-20")
    assert result(bucket_s=120).pnl_per_hour_std == std


def test_a_trailing_partial_bucket_is_dropped_and_one_bucket_gives_no_std() -> None:
    # 240 s buckets over 600 s: two complete, P&L 0 -> -1 (at 240 s) -> 5 (at 480 s); 480-600 s dropped
    assert bucket_changes(session(), 240) == [D(-1), D(6)]
    # 400 s: one bucket, read at 400 s from the last sample before it (360 s: 4)
    assert bucket_changes(session(), 400) == [D(4)]
    assert pnl_per_hour_std(session(), 400) is None
    # 300 s: 0 -> 0 (at 300 s) -> 6; sample std of (0, 6) = sqrt(18), x sqrt(12) an hour
    assert bucket_changes(session(), 300) == [D(0), D(6)]
    std = pnl_per_hour_std(session(), 300)
    assert std is not None and abs(std - D(216).sqrt()) < D("1e-20")


def test_the_default_bucket_is_the_longest_the_session_holds_ten_times() -> None:
    spans = (0, 599, 600, 2999.9, 3000, 35_999, 36_000, 86_400)
    assert [auto_bucket(s) for s in spans] == [60, 60, 60, 60, 300, 300, 3600, 3600]
    # 10 minutes: 60 s buckets, changes 1 2 -1 -3 1 4 -1 2 0 1 (mean 0.6, squared deviations 34.4)
    assert bucket_changes(session(), 60) == [D(x) for x in (1, 2, -1, -3, 1, 4, -1, 2, 0, 1)]
    r = result()
    assert r.pnl_bucket_s == 60
    assert r.pnl_per_hour_std is not None
    assert abs(r.pnl_per_hour_std - (D("34.4") / 9 * 60).sqrt()) < D("1e-20")


def test_pnl_per_hour_is_the_final_total_over_the_duration() -> None:
    fill = FillRecord(
        trade_id="t1",
        order_id="o1",
        market=FED.condition_id,
        token_id=FED.yes_token,
        side=Side.BUY,
        price=D("0.48"),
        size=D(10),
        fee=D(0),
        liquidity="MAKER",
        status=TradeStatus.CONFIRMED,
        venue_ts=T0,
        recv_ts=T0,
    )
    final = project([fill], [], {FED.condition_id: FED}, {FED.condition_id: D("0.51")}).market(
        FED.condition_id
    )
    assert final is not None
    r = summarize(FED, session(), FILLS, final, limit=D(20), duration_s=1800)
    # bought 10 at 0.48, marked 0.51: unrealised +0.30, total 0.30 over half an hour: 0.60 an hour
    assert (r.realised, r.unrealised, r.fees, r.total) == (D(0), D("0.3"), D(0), D("0.3"))
    assert r.pnl_per_hour == D("0.6")
    assert r.duration_s == 1800
    assert result().duration_s == 600  # first to last sample by default


def test_fills_and_maker_volume_count_maker_fills_only_for_volume() -> None:
    r = result()
    assert r.fills == 3
    assert r.maker_volume == D(15)  # 10 + 5; the taker fill of 7 is not maker volume
    assert r.maker_notional == D("7.2")  # 4.8 + 2.4


def test_fill_points_from_the_ledger_in_yes_terms() -> None:
    def record(token: str, side: Side, price: str, status: TradeStatus = TradeStatus.CONFIRMED) -> FillRecord:
        return FillRecord(
            trade_id=f"t-{token}-{side}-{price}",
            order_id="o",
            market=FED.condition_id,
            token_id=token,
            side=side,
            price=D(price),
            size=D(10),
            fee=D(0),
            liquidity="maker",
            status=status,
            venue_ts=T0 + float(price),
            recv_ts=T0,
        )

    points = fill_points(
        [
            record(FED.no_token, Side.BUY, "0.47"),  # BUY NO at 0.47 = an ask at YES 0.53
            record(FED.yes_token, Side.BUY, "0.48"),
            record(FED.no_token, Side.SELL, "0.5"),  # SELL NO at 0.50 = a bid at YES 0.50
            record(FED.yes_token, Side.SELL, "0.6", TradeStatus.FAILED),  # reversed: moved nothing
        ],
        FED,
    )
    assert [(p.is_bid, p.yes_price, p.notional, p.liquidity) for p in points] == [
        (False, D("0.53"), D("4.7"), "MAKER"),
        (True, D("0.48"), D("4.8"), "MAKER"),
        (True, D("0.5"), D("5"), "MAKER"),
    ]


def test_estimated_reward_integrates_the_rate_over_the_session() -> None:
    # 43.2 pUSD/day held for 600 s: 43.2 x 600 / 86400 = 0.3
    assert estimated_reward(session("43.2")) == D("0.3")
    assert result(session("43.2")).estimated_reward == D("0.3")
    assert summarize(SUN, session("43.2"), [], flat_pnl(SUN), limit=D(20)).estimated_reward == 0


def snapshot(market: Market, orders: tuple[QuoteOrderView, ...]) -> MarketSnapshot:
    return MarketSnapshot(
        market=market,
        bids=(PriceLevel(D("0.49"), D(100)), PriceLevel(D("0.48"), D(50))),
        asks=(PriceLevel(D("0.51"), D(100)), PriceLevel(D("0.52"), D(60)), PriceLevel(D("0.53"), D(10))),
        mid=D("0.50"),
        orders=orders,
        yes_position=D(30),
        no_position=D(5),
        position_limit=D(50),
        realized_pnl=D(1),
        unrealized_pnl=D("0.5"),
        fees=D("0.1"),
        total_pnl=D("1.4"),
        fills=(),
        status="quoting",
        last_decision="",
    )


def order(token: str, side: Side, price: str, yes_price: str, size: str = "40") -> QuoteOrderView:
    return QuoteOrderView(
        order_id=f"{token}{price}",
        token_id=token,
        outcome="Yes" if token == FED.yes_token else "No",
        side=side,
        price=D(price),
        yes_price=D(yes_price),
        remaining=D(size),
        tag="",
    )


def test_a_sample_from_the_engine_snapshot() -> None:
    orders = (
        order(FED.yes_token, Side.BUY, "0.48", "0.48"),
        order(FED.yes_token, Side.BUY, "0.47", "0.47"),
        order(FED.no_token, Side.BUY, "0.48", "0.52"),  # a NO bid is our YES ask
    )
    s = sample_from_snapshot(T0, snapshot(FED, orders))
    assert (s.t, s.mid, s.bid, s.ask, s.net_position, s.pnl) == (
        T0,
        D("0.5"),
        D("0.48"),
        D("0.52"),
        D(25),
        D("1.4"),
    )
    assert s.reward_rate > 0
    assert sample_from_snapshot(T0, snapshot(FED, ())).bid is None


def test_reward_rate_scores_ours_against_the_book_with_rewards_py() -> None:
    # max spread 3.5c, min size 20; S at 1c = a = (2.5/3.5)^2, at 2c = b = (1.5/3.5)^2.
    # Ours: bid 40 @ 0.48 and ask 40 @ 0.52, both 2c from the 0.50 mid: Q_one = Q_two = 40b = Q_min.
    # The book (a recording: ours not in it): bids 100 @ 0.49, 50 @ 0.48 -> Q_one = 100a + 50b;
    # asks 100 @ 0.51, 60 @ 0.52, 10 @ 0.53 (below the min size) -> Q_two = 100a + 60b; Q_min = 100a + 50b.
    a, b = (D("2.5") / D("3.5")) ** 2, (D("1.5") / D("3.5")) ** 2
    orders = (order(FED.yes_token, Side.BUY, "0.48", "0.48"), order(FED.no_token, Side.BUY, "0.48", "0.52"))
    ours, others = 40 * b, 100 * a + 50 * b
    assert reward_rate(snapshot(FED, orders)) == D(50) * ours / (ours + others)
    # A live book holds ours: 0.48 keeps 10 of others (below min size), 0.52 keeps 20:
    # Q_one = 100a, Q_two = 100a + 20b -> Q_min = 100a.
    live = reward_rate(snapshot(FED, orders), ours_in_book=True)
    assert live == D(50) * ours / (ours + 100 * a)
    assert reward_rate(snapshot(SUN, orders)) == 0  # no rewards in that market
    small = (order(FED.yes_token, Side.BUY, "0.48", "0.48", size="10"),)  # below the min size
    assert reward_rate(snapshot(FED, small)) == 0


def test_json_round_trip_is_exact_and_json_safe() -> None:
    r = result(session("43.2"))
    data = r.to_json()
    text = json.dumps(data)  # no Decimal, no custom encoder needed
    back = BacktestResult.from_json(json.loads(text))
    assert back == r
    assert data["total"] == "0" and data["max_drawdown"] == "4" and data["unrealised"] == "0"
    assert data["samples"][1]["ask"] == "0.52" and data["samples"][0]["ask"] is None
    assert data["fill_points"][2] == {
        "t": T0 + 95,
        "is_bid": False,
        "yes_price": "0.49",
        "size": "7",
        "liquidity": "TAKER",
        "notional": "3.43",
    }
    headline = r.to_json(series=False)
    assert "samples" not in headline and "fill_points" not in headline
    assert BacktestResult.from_json(json.loads(json.dumps(headline))).samples == ()


def test_rank_orders_by_total_then_lower_drawdown() -> None:
    base = result()
    a = replace(base, total=D(5), max_drawdown=D(3), params={"spread": "a"})
    b = replace(base, total=D(5), max_drawdown=D(1), params={"spread": "b"})
    c = replace(base, total=D(7), max_drawdown=D(9), params={"spread": "c"})
    d = replace(base, total=D(-1), max_drawdown=D(0), params={"spread": "d"})
    tie = replace(base, total=D(5), max_drawdown=D(1), params={"spread": "a2"})
    assert [r.params["spread"] for r in rank([a, b, c, d, tie])] == ["c", "a2", "b", "a", "d"]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        result(list(reversed(session())))
    with pytest.raises(ValueError, match="positive"):
        result(limit=D(0))


def test_an_empty_session_has_zero_figures() -> None:
    r = summarize(FED, [], [], flat_pnl(FED), limit=D(20))
    assert (r.max_drawdown, r.inventory_std, r.time_at_limit, r.pnl_per_hour, r.pnl_per_hour_std) == (
        0,
        0,
        0.0,
        0,
        None,
    )


def render(table: object) -> str:
    console = Console(width=120, record=True, color_system=None, file=io.StringIO())
    console.print(table)
    return console.export_text()


def test_the_cli_tables_render_the_headline_figures() -> None:
    screen = render(views.backtest_table(result(bucket_s=120)))
    assert "max drawdown" in screen and "-4.00" in screen
    assert "45.5%" in screen  # time at limit 5/11
    assert "1,234" in screen and "spread" in screen and "0.04" in screen
    assert "+0.00 ± 18.33" in screen  # per hour ± sqrt(336)
    base = result()
    worse = replace(base, total=D(-2), params={"spread": "0.02"})
    ranked = render(views.ranked_table(rank([worse, base])))
    lines = [ln for ln in ranked.splitlines() if ln.strip()[:1].isdigit()]
    assert "0.04" in lines[0] and "0.02" in lines[1] and "-2.00" in lines[1]


def test_drawdown_inventory_std_and_time_at_limit_agree_with_the_bench() -> None:
    """The synthetic-flow bench (bench/backtest.py) and a replay report the same figures for one path."""
    rng = random.Random(7)
    bench = _Samples()
    samples = []
    pnl = D(0)
    for i in range(500):
        pnl += D(rng.randint(-300, 310)) / 100
        net = D(rng.randint(-60, 60))
        bench.add(net, D(50), float(pnl))
        samples.append(Sample(t=T0 + i, mid=None, bid=None, ask=None, net_position=net, pnl=pnl))
    r = summarize(FED, samples, [], flat_pnl(FED), limit=D(50))
    assert float(r.max_drawdown) == pytest.approx(bench.max_drawdown(), abs=1e-9)
    assert float(r.inventory_std) == pytest.approx(statistics.pstdev(bench.inventory), rel=1e-12)
    assert r.time_at_limit == bench.at_limit / len(bench.inventory)
    assert 0 < r.time_at_limit < 1 and r.max_drawdown > 0


def test_a_sample_without_a_mark_carries_the_previous_pnl() -> None:
    blind = replace(snapshot(FED, ()), mid=None, unrealized_pnl=None, total_pnl=D("0.9"))
    before = Sample(t=T0, mid=D("0.5"), bid=None, ask=None, net_position=D(25), pnl=D("2.5"))
    assert sample_from_snapshot(T0 + 1, blind, previous=before).pnl == D("2.5")
    assert sample_from_snapshot(T0 + 1, blind).pnl == D("0.9")  # nothing to carry: realised - fees
    assert sample_from_snapshot(T0 + 1, snapshot(FED, ()), previous=before).pnl == D("1.4")  # marked: its own
