"""Behavioural specs of the synthetic flow: reproducible, calibrated to the recorded tapes, and hostile
in the right way (informed takers trade toward the fair value, so stale quotes get picked off).

Everything runs in virtual time (ManualClock) against an in-process LocalExchange.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from polymm_cli.clock import ManualClock
from polymm_cli.errors import ConfigError
from polymm_cli.exchange.core import LocalExchange, OrderRequest
from polymm_cli.exchange.events import ExchangeEvent, LastTradeEvent, OrderEvent, TradeEvent
from polymm_cli.exchange.flow import FlowConfig, SyntheticFlow
from polymm_cli.exchange.markets import condition_id_for, sample_markets
from polymm_cli.exchange.regimes import REGIMES
from polymm_cli.model import OrderType, Side, TradeStatus

FED = condition_id_for("fed-cut-rates-december-2026")  # tick 0.01, starts at 0.50
BTC = condition_id_for("btc-above-150k-end-of-2026")  # tick 0.001, starts at 0.312
BRAZIL = condition_id_for("world-cup-2026-winner-brazil")  # tick 0.01, starts at 0.18
TEST_ADDRESS = "0x" + "7e57" * 10


@dataclass
class World:
    clock: ManualClock
    exchange: LocalExchange
    flow: SyntheticFlow
    events: list[ExchangeEvent] = field(default_factory=list)

    def run(self, seconds: float, dt: float = 0.5, every: Callable[[], None] | None = None) -> None:
        """Step clock, exchange and flow as the server does (with a coarser tick, for speed)."""
        for i in range(round(seconds / dt)):
            self.clock.advance(dt)
            if i % 10 == 0:
                self.exchange.advance()
            self.flow.step(self.clock.now())
            if every is not None:
                every()

    def trades(self) -> list[TradeEvent]:
        return [e for e in self.events if isinstance(e, TradeEvent) and e.trade.status is TradeStatus.MATCHED]

    def last_trades(self, market: str | None = None) -> list[LastTradeEvent]:
        return [
            e for e in self.events if isinstance(e, LastTradeEvent) and (market is None or e.market == market)
        ]


def make_world(
    seed: int = 1,
    config: FlowConfig | None = None,
    markets: list[str] | None = None,
    start_prices: dict[str, Decimal] | None = None,
) -> World:
    clock = ManualClock()
    exchange = LocalExchange(sample_markets(), clock, seed=99)
    world = World(clock, exchange, SyntheticFlow(exchange, clock, config, seed, markets, start_prices))
    exchange.add_listener(world.events.append)
    return world


def trade_tuples(world: World) -> list[tuple[object, ...]]:
    return [
        (
            t.trade.market,
            t.trade.token_id,
            t.trade.side,
            t.trade.price,
            t.trade.size,
            t.trade.taker_owner,
            tuple((m.owner, m.price, m.size) for m in t.trade.maker_fills),
            t.timestamp,
        )
        for t in world.trades()
    ]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def yes_up(event: TradeEvent, world: World) -> bool:
    """Did the taker push YES up (buy YES or sell NO)?"""
    market = world.exchange.markets[event.trade.market]
    return (event.trade.token_id == market.yes_token) == (event.trade.side is Side.BUY)


def rest_order(world: World, market: str, side: Side, price: str, size: str = "20") -> str:
    """A test account's GTC order on the YES token (inventory split first so it can sell)."""
    ex = world.exchange
    ex.fund(TEST_ADDRESS, Decimal(1000))
    ex.split(TEST_ADDRESS, market, Decimal(100))
    order_id = f"0x{len(ex.orders):064x}"
    ex.submit(
        OrderRequest(
            order_id=order_id,
            owner="test-bot",
            address=TEST_ADDRESS,
            token_id=ex.markets[market].yes_token,
            side=side,
            price=Decimal(price),
            size=Decimal(size),
            order_type=OrderType.GTC,
        )
    )
    return order_id


def matched(world: World, order_id: str) -> Decimal:
    view = world.exchange.get_order(order_id)
    assert view is not None
    return view.size_matched


# -- reproducibility ---------------------------------------------------------------------------------


def test_same_seed_and_steps_give_the_same_trades_and_another_seed_does_not() -> None:
    first, again, other = make_world(seed=11), make_world(seed=11), make_world(seed=12)

    for world in (first, again, other):
        world.run(300)

    assert len(trade_tuples(first)) > 20
    assert trade_tuples(first) == trade_tuples(again)
    assert [e.order.order_id for e in first.events if isinstance(e, OrderEvent)] == [
        e.order.order_id for e in again.events if isinstance(e, OrderEvent)
    ]
    assert trade_tuples(first) != trade_tuples(other)


def test_the_latent_path_does_not_depend_on_how_time_is_chunked_into_steps() -> None:
    fine, coarse = make_world(seed=5), make_world(seed=5)

    fine.run(120, dt=0.1)
    coarse.run(120, dt=1.0)

    assert fine.flow.fair_value(FED) == coarse.flow.fair_value(FED)
    assert fine.flow.fair_value(BTC) == coarse.flow.fair_value(BTC)


def test_accounts_and_order_ids_are_valid_looking_and_derived_from_the_seed() -> None:
    world = make_world(seed=3)
    world.run(10)

    assert world.flow.owners[0] == "flow-maker-1"
    assert all(re.fullmatch(r"0xf10[0-9a-f]{37}", a) for a in world.flow.addresses)
    assert world.flow.addresses == make_world(seed=3).flow.addresses
    assert world.flow.addresses != make_world(seed=4).flow.addresses
    placed = [e.order.order_id for e in world.events if isinstance(e, OrderEvent) and e.kind == "PLACEMENT"]
    assert placed and all(re.fullmatch(r"0x[0-9a-f]{64}", oid) for oid in placed)
    assert len(set(placed)) == len(placed)


# -- calibration against the recorded tapes ------------------------------------------------------------


@dataclass
class Sample:
    market: str
    bid: Decimal | None
    ask: Decimal | None
    fair: Decimal
    tick: Decimal


@pytest.fixture(scope="module")
def thirty_minutes() -> tuple[World, list[Sample]]:
    world = make_world(seed=2026)
    samples: list[Sample] = []
    ticks = iter(range(10**9))

    def sample() -> None:
        if next(ticks) % 10:  # every 5 s
            return
        for cid, market in world.exchange.markets.items():
            bid, ask = world.exchange.best_bid_ask(market.yes_token)
            samples.append(Sample(cid, bid, ask, world.flow.fair_value(cid), market.tick_size))

    world.run(30 * 60, every=sample)
    return world, samples


def test_each_market_trades_several_times_a_minute_with_tape_like_sizes(
    thirty_minutes: tuple[World, list[Sample]],
) -> None:
    world, _ = thirty_minutes

    for cid in world.exchange.markets:
        trades = world.last_trades(cid)
        sizes = [float(t.size) for t in trades]
        assert 1 <= len(trades) / 30 <= 20, cid
        assert 6 <= statistics.median(sizes) <= 76, cid  # tapes: 6 (crypto) to 76 (politics)
        assert 40 <= quantile(sizes, 0.9) <= 1_200, cid
        assert world.flow.stats.markets[cid].trades == len(trades)  # every trade here is the flow's


def test_books_stay_two_sided_with_cent_wide_spreads_around_the_fair_value(
    thirty_minutes: tuple[World, list[Sample]],
) -> None:
    _, samples = thirty_minutes

    two_sided = [s for s in samples if s.bid is not None and s.ask is not None]
    assert len(two_sided) >= 0.99 * len(samples)
    coarse = [(s.ask - s.bid) / s.tick for s in two_sided if s.ask and s.bid and s.tick == Decimal("0.01")]
    assert sum(1 for sp in coarse if 1 <= sp <= 2) >= 0.9 * len(coarse)  # one or two ticks
    fine = [s.ask - s.bid for s in two_sided if s.ask and s.bid and s.tick == Decimal("0.001")]
    assert fine and Decimal("0.009") <= statistics.median(fine) <= Decimal("0.04")  # tapes: 0.9 to 4 c
    assert all(s.tick < s.fair < 1 - s.tick for s in samples)
    for cid in (FED, BRAZIL):
        gaps = [
            abs((s.bid + s.ask) / 2 - s.fair) / s.tick
            for s in two_sided
            if s.market == cid and s.bid is not None and s.ask is not None
        ]
        assert statistics.mean(gaps) < 3, cid


def test_flow_orders_are_on_the_grid_and_never_rejected(thirty_minutes: tuple[World, list[Sample]]) -> None:
    world, _ = thirty_minutes
    owners = set(world.flow.owners)

    placed = [e.order for e in world.events if isinstance(e, OrderEvent) and e.order.owner in owners]
    assert placed
    for order in placed:
        tick = world.exchange.markets[order.market].tick_size
        assert order.price % tick == 0 and tick <= order.price <= 1 - tick
        assert order.original_size == order.original_size.quantize(Decimal("0.01"))
    assert world.flow.stats.rejected == 0
    assert world.flow.stats.taker_volume > 0


# -- informed and uninformed takers --------------------------------------------------------------------


def test_informed_takers_hit_mispriced_orders_and_leave_fair_ones_alone() -> None:
    config = FlowConfig(makers=0, informed_share=1.0, jump_rate_per_hour=0, taker_rate_per_min=6)
    world = make_world(config=config, markets=[FED, BRAZIL])
    cheap_ask = rest_order(world, FED, Side.SELL, "0.40")  # fair 0.50: a gift to buyers
    dear_ask = rest_order(world, FED, Side.SELL, "0.70")
    rich_bid = rest_order(world, BRAZIL, Side.BUY, "0.30")  # fair 0.18: a gift to sellers
    poor_bid = rest_order(world, BRAZIL, Side.BUY, "0.05")

    world.run(300)

    assert matched(world, cheap_ask) == Decimal(20)
    assert matched(world, rich_bid) == Decimal(20)
    assert matched(world, dear_ask) == 0
    assert matched(world, poor_bid) == 0
    assert world.flow.stats.markets[FED].informed_idle > 0  # once the gift was gone, they waited


def test_with_no_informed_takers_the_trade_direction_is_balanced() -> None:
    config = FlowConfig(informed_share=0.0, taker_rate_per_min=20)
    world = make_world(seed=8, config=config)

    world.run(600)

    trades = world.trades()
    ups = sum(1 for t in trades if yes_up(t, world))
    assert len(trades) > 400
    assert 0.42 <= ups / len(trades) <= 0.58
    assert sum(s.informed_trades for s in world.flow.stats.markets.values()) == 0


def test_after_a_shock_informed_takers_pick_off_a_stale_quote() -> None:
    world = make_world(seed=4, markets=[FED])
    world.run(30)
    best_bid, _ = world.exchange.best_bid_ask(world.exchange.markets[FED].yes_token)
    assert best_bid is not None
    stale_bid = rest_order(world, FED, Side.BUY, str(best_bid), size="40")

    world.flow.shock(FED, Decimal("0.35"))
    world.run(120)

    assert matched(world, stale_bid) == Decimal(40)  # picked off...
    fills = [m for t in world.trades() for m in t.trade.maker_fills if m.order_id == stale_bid]
    assert fills and all(m.price == best_bid for m in fills)
    assert world.flow.fair_value(FED) < best_bid - Decimal("0.05")  # ...at a loss to its owner
    assert world.flow.stats.markets[FED].informed_trades > 0
    mid = sum(p for p in world.exchange.best_bid_ask(world.exchange.markets[FED].yes_token) if p) / 2
    assert abs(mid - world.flow.fair_value(FED)) < Decimal("0.03")  # the book followed the news


# -- robustness ----------------------------------------------------------------------------------------


def test_makers_follow_a_tick_size_change_without_piling_up_rejections() -> None:
    world = make_world(seed=6)
    world.run(60)

    world.exchange.set_tick_size(FED, Decimal("0.001"))
    world.exchange.set_tick_size(BTC, Decimal("0.01"))
    before = world.flow.stats.markets[FED].trades
    world.run(180)

    assert world.flow.stats.rejected == 0
    assert world.flow.stats.markets[FED].trades > before
    owners = set(world.flow.owners)
    for cid, tick in ((FED, Decimal("0.001")), (BTC, Decimal("0.01"))):
        market = world.exchange.markets[cid]
        bid, ask = world.exchange.best_bid_ask(market.yes_token)
        assert bid is not None and ask is not None and ask - bid <= Decimal("0.03")  # spreads are prices
        resting = [o for o in world.exchange.open_orders("flow-maker-1", market=cid)]
        assert resting and all(o.price % tick == 0 for o in resting)
        assert all(o.owner in owners for o in resting)


def test_makers_top_up_instead_of_running_dry() -> None:
    config = FlowConfig(
        maker_collateral=Decimal(50), maker_inventory=Decimal(20), taker_rate_per_min=30, informed_share=0.5
    )
    world = make_world(seed=9, config=config)

    world.run(600)

    assert world.flow.stats.rejected == 0
    assert world.flow.stats.funded > 0 and world.flow.stats.splits > 4
    for market in world.exchange.markets.values():
        bid, ask = world.exchange.best_bid_ask(market.yes_token)
        assert bid is not None and ask is not None


def test_near_the_bounds_the_value_and_the_quotes_stay_inside_the_price_range() -> None:
    config = FlowConfig(fair_vol=0.05, jump_logit_sd=1.0, jump_rate_per_hour=60)
    prices = {
        "fed-cut-rates-december-2026": Decimal("0.985"),
        "world-cup-2026-winner-brazil": Decimal("0.02"),
    }
    world = make_world(seed=10, config=config, markets=[FED, BRAZIL], start_prices=prices)
    values: list[Decimal] = []

    world.run(600, every=lambda: values.extend(world.flow.fair_value(c) for c in (FED, BRAZIL)))

    assert all(Decimal("0.01") < v < Decimal("0.99") for v in values)
    assert max(values) > Decimal("0.97") and min(values) < Decimal("0.03")
    assert world.flow.stats.rejected == 0


def test_a_restarted_flow_over_the_same_exchange_starts_clean() -> None:
    world = make_world(seed=12)
    world.run(60)
    assert world.exchange.open_orders("flow-maker-1")

    restart_time = world.clock.now()
    restarted = SyntheticFlow(world.exchange, world.clock, None, seed=12)
    world.flow = restarted
    world.run(60)

    assert restarted.stats.rejected == 0  # no duplicate order ids, no balance surprises
    assert restarted.stats.funded == 0  # the saved accounts were still funded
    resting = [o for owner in restarted.owners for o in world.exchange.open_orders(owner)]
    assert resting and all(o.created_at >= restart_time for o in resting)  # the old ladders are gone


def test_a_wall_clock_jump_does_not_replay_hours_of_flow_in_one_step() -> None:
    world = make_world(seed=13)
    world.run(10)
    orders_before = sum(s.taker_orders for s in world.flow.stats.markets.values())

    world.clock.advance(8 * 3600)  # the laptop slept
    world.flow.step(world.clock.now())

    burst = sum(s.taker_orders for s in world.flow.stats.markets.values()) - orders_before
    assert burst < 60  # about a minute's worth at most, not eight hours' (~10,000)
    assert world.flow.next_event_time() is not None
    for market in world.exchange.markets.values():
        assert all(p is not None for p in world.exchange.best_bid_ask(market.yes_token))


def test_an_idle_step_is_cheap() -> None:
    world = make_world()
    world.run(5)
    now = world.clock.now()

    started = time.perf_counter()
    for _ in range(10_000):
        world.flow.step(now)
    per_step = (time.perf_counter() - started) / 10_000

    assert per_step < 1e-4  # budget: well under a millisecond for the four sample markets


def test_a_nonsensical_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="informed_share"):
        FlowConfig(informed_share=1.5)
    with pytest.raises(ConfigError, match="maker_spread"):
        FlowConfig(maker_spread=())
    with pytest.raises(ConfigError, match="maker_spread"):
        FlowConfig(maker_spread=(0.02, 1.5))
    with pytest.raises(ConfigError, match="taker_branching"):
        FlowConfig(taker_branching=1.0)  # explosive: the mean rate would be infinite
    with pytest.raises(ConfigError, match="taker_size_tail_index"):
        FlowConfig(taker_size_tail_index=float("nan"))


# -- what real tapes show: impact, spreads in price, regimes -----------------------------------------


def _logit(p: Decimal) -> float:
    return math.log(float(p) / (1 - float(p)))


def test_every_taker_fill_moves_the_value_its_way_by_the_square_root_of_its_size() -> None:
    k = 0.003
    config = FlowConfig(
        fair_vol=0.0,
        jump_rate_per_hour=0.0,
        informed_share=0.0,
        impact_per_sqrt_share=k,
        impact_max_logit=10.0,
        impact_transient_share=0.0,
        taker_rate_per_min=20.0,
    )
    world = make_world(seed=21, config=config, markets=[FED])
    start = world.flow.fair_value(FED)

    world.run(300)

    by_order: dict[str, tuple[bool, Decimal]] = {}
    for event in world.trades():
        up = yes_up(event, world)
        _, size = by_order.get(event.trade.taker_order_id, (up, Decimal(0)))
        by_order[event.trade.taker_order_id] = (up, size + event.trade.size)
    assert len(by_order) > 30
    expected = sum(k * math.sqrt(size) * (1 if up else -1) for up, size in by_order.values())
    moved = _logit(world.flow.fair_value(FED)) - _logit(start)
    assert moved == pytest.approx(expected, abs=1e-4)  # nothing else moves it here
    assert abs(moved) > 0.01


def test_without_impact_uninformed_trades_leave_no_trace() -> None:
    config = FlowConfig(
        fair_vol=0.0,
        jump_rate_per_hour=0.0,
        informed_share=0.0,
        impact_per_sqrt_share=0.0,
        taker_rate_per_min=20.0,
    )
    world = make_world(seed=21, config=config, markets=[FED])

    world.run(120)

    assert len(world.trades()) > 10
    assert world.flow.fair_value(FED) == Decimal("0.500000")


def test_the_transient_part_of_impact_decays_back() -> None:
    config = FlowConfig(
        fair_vol=0.0,
        jump_rate_per_hour=0.0,
        informed_share=0.0,
        impact_per_sqrt_share=0.01,
        impact_transient_share=1.0,
        impact_decay_s=2.0,
        taker_rate_per_min=6.0,
        taker_branching=0.0,
    )
    world = make_world(seed=22, config=config, markets=[FED])
    gaps: list[float] = []

    world.run(600, every=lambda: gaps.append(abs(_logit(world.flow.fair_value(FED)))))

    assert max(gaps) > 0.02  # trades pushed it...
    assert statistics.median(gaps) < 0.002  # ...and it came back


def test_makers_spreads_are_prices_so_a_fine_tick_market_shows_cents() -> None:
    config = FlowConfig(
        makers=1, maker_noise=0.0, maker_spread=(0.02,), taker_rate_per_min=0.0, jump_rate_per_hour=0
    )
    world = make_world(seed=23, config=config, markets=[FED, BTC])

    world.run(10)

    for cid in (FED, BTC):  # 2 ticks of 0.01, 20 ticks of 0.001
        bid, ask = world.exchange.best_bid_ask(world.exchange.markets[cid].yes_token)
        assert bid is not None and ask is not None and ask - bid == Decimal("0.02"), cid
    steps = sorted(
        o.price for o in world.exchange.open_orders("flow-maker-1", market=BTC) if o.side is Side.BUY
    )
    assert {b - a for a, b in itertools.pairwise(steps)} == {Decimal("0.01")}  # levels a cent apart


@pytest.mark.parametrize("regime", list(REGIMES))
def test_every_regime_trades_cleanly_on_every_sample_market(regime: str) -> None:
    world = make_world(seed=24, config=REGIMES[regime])

    world.run(120)

    assert world.flow.stats.rejected == 0
    for market in world.exchange.markets.values():
        bid, ask = world.exchange.best_bid_ask(market.yes_token)
        assert bid is not None and ask is not None and bid < ask, (regime, market.slug)
