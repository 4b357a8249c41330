"""The engine's risk behaviour as scenarios on the in-process exchange, in virtual time.

Volatility rules (widening, jump cool-down, trend filter, after-fill cool-down), the caps (position
limit, total exposure across markets, a neg-risk event's worst outcome), the stop-loss triggers
(unrealised and daily loss) and the liquidation modes (market ladder, resting limit, passive; merging
pairs first; resuming after a cool-down or ending the run halted), and quoting several levels.

Every assertion reads what rests at the exchange, what our account holds there, what the ledger
recorded or what `run()` returned. The world (`tests/sim_world.py`) moves time only when told; the
other trader, OTHER, makes and moves the book.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.liquidation import LiquidationMode, StopLossParams
from polymm_cli.model import FlowKind, Market, Side
from polymm_cli.regime import RegimeParams
from polymm_cli.risk import PortfolioCaps
from polymm_cli.toxicity import ToxicityParams
from tests.sim_world import SimWorld, market

A = market("risk-a")
B = market("risk-b")
EVENT = "0x" + "e1" * 32
C = market("risk-event-c", neg_risk=True, neg_risk_market_id=EVENT)
D_SAME = market("risk-event-d", neg_risk=True, neg_risk_market_id=EVENT)
D_OTHER = market("risk-event-d", neg_risk=True, neg_risk_market_id="0x" + "e2" * 32)
MIN = A.min_order_size  # 5 shares
NOT_FLAT = "; position not flat, see `polymm pnl`"  # how a halt says the exit left a position

ONLY_VOL = RegimeParams(jump_enabled=False, trend_enabled=False)
ONLY_JUMP = RegimeParams(
    jump_enabled=True,
    vol_enabled=False,
    trend_enabled=False,
    jump_threshold=D("0.03"),
    jump_window_s=5,
    jump_cooldown_s=15,
)
ONLY_TREND = RegimeParams(vol_enabled=False, jump_enabled=False, trend_threshold=D("0.04"), trend_window_s=60)


@pytest.fixture
async def new_world(tmp_path: Path) -> AsyncIterator[Callable[[Sequence[Market]], SimWorld]]:
    """Worlds over the given markets, each stopped and closed at the end of the test."""
    made: list[SimWorld] = []

    def make(markets: Sequence[Market]) -> SimWorld:
        w = SimWorld(tmp_path / f"world{len(made)}", markets)
        made.append(w)
        return w

    yield make
    for w in made:
        if w.task is not None and not w.task.done():
            await w.finish()
        w.close()


@pytest.fixture
def world(new_world: Callable[[Sequence[Market]], SimWorld]) -> SimWorld:
    return new_world([A])


# -- 1. the volatility rules change what we quote ----------------------------------------------------


@pytest.mark.parametrize("vol_enabled", [True, False], ids=["widening-on", "widening-off"])
async def test_a_zig_zagging_mid_widens_our_quotes_beyond_the_base_spread(
    world: SimWorld, vol_enabled: bool
) -> None:
    world.book(A, "0.49", "0.51")
    regime = ONLY_VOL if vol_enabled else RegimeParams.off()
    await world.start(world.make_engine(spread="0.04", regime=regime, ticks=True))
    assert [q.yes_price for q in world.bids(A) + world.asks(A)] == [D("0.48"), D("0.52")]
    mid = D("0.50")
    for i in range(40):  # another account moves the book 2c up and down every second for 40 s
        mid = D("0.52") if i % 2 == 0 else D("0.50")
        world.book(A, str(mid - D("0.01")), str(mid + D("0.01")))
        await world.advance(1.0)
    (bid,), (ask,) = world.bids(A), world.asks(A)
    if vol_enabled:
        # 2c a second is well above the 0.8c/sqrt(s) reference: both sides further out than mid -/+ 2c
        assert bid.yes_price <= mid - D("0.03") and ask.yes_price >= mid + D("0.03")
        assert ask.yes_price - bid.yes_price >= D("0.06")
    else:
        assert (bid.yes_price, ask.yes_price) == (mid - D("0.02"), mid + D("0.02"))
    assert await world.finish() == "stopped"


async def _jump(world: SimWorld) -> None:
    """Quotes at 0.45 / 0.55 (spread 0.10) around a 0.50 mid; then the mid jumps 4c to 0.54 (beyond
    the 3c threshold) without touching our quotes."""
    world.book(A, "0.49", "0.51")
    await world.start(world.make_engine(spread="0.10", regime=ONLY_JUMP, ticks=True))
    await world.advance(3.0)
    assert {(q.side, q.yes_price) for q in world.quotes(A)} == {("bid", D("0.45")), ("ask", D("0.55"))}
    world.book(A, "0.53", "0.55")
    await world.advance(0.0)


async def test_a_jump_pulls_every_quote_for_the_cool_down_then_quoting_resumes(world: SimWorld) -> None:
    await _jump(world)
    for second in range(15):  # the 15 s cool-down: not one order of ours rests
        assert world.quotes(A) == [], f"{second} s after the jump"
        await world.advance(1.0)
    await world.advance(10.0)  # well past it (cool-down + jump window)
    assert {(q.side, q.yes_price) for q in world.quotes(A)} == {("bid", D("0.49")), ("ask", D("0.59"))}
    assert await world.finish() == "stopped"


async def test_quotes_come_back_one_tick_after_the_jump_cool_down(world: SimWorld) -> None:
    await _jump(world)
    await world.advance(16.0)  # the 15 s cool-down and one more second of ticks
    assert {q.side for q in world.quotes(A)} == {"bid", "ask"}


@pytest.mark.parametrize("trend_enabled", [True, False], ids=["trend-on", "trend-off"])
async def test_a_steadily_rising_mid_stops_our_asks_but_not_our_bids(
    world: SimWorld, trend_enabled: bool
) -> None:
    world.book(A, "0.49", "0.51")
    regime = ONLY_TREND if trend_enabled else RegimeParams.off()
    await world.start(world.make_engine(regime=regime, ticks=True))
    mid = D("0.50")
    for _ in range(3):  # +3c over 18 s: under the 4c threshold, both sides quoted
        await world.advance(6.0)
        mid += D("0.01")
        world.book(A, str(mid - D("0.01")), str(mid + D("0.01")))
        await world.advance(0.0)
        assert {q.side for q in world.quotes(A)} == {"bid", "ask"}
    for _ in range(2):  # +4c, +5c within the 60 s window: a one-way market
        await world.advance(6.0)
        mid += D("0.01")
        world.book(A, str(mid - D("0.01")), str(mid + D("0.01")))
        await world.advance(0.0)
        (bid,) = world.bids(A)
        assert bid.yes_price == mid - D("0.02")
        if trend_enabled:
            assert world.asks(A) == []  # no ask of ours to be lifted in a rising market
        else:
            assert [q.yes_price for q in world.asks(A)] == [mid + D("0.02")]
    assert await world.finish() == "stopped"


# -- 2. after-fill cool-down --------------------------------------------------------------------------


async def test_after_our_bid_is_filled_no_bid_for_the_cool_down_then_it_comes_back(world: SimWorld) -> None:
    world.book(A, "0.45", "0.55")  # our 0.48 / 0.52 are the best prices
    regime = RegimeParams(vol_enabled=False, jump_enabled=False, trend_enabled=False, fill_cooldown_s=5)
    await world.start(world.make_engine(regime=regime, ticks=True))
    assert [q.yes_price for q in world.bids(A)] == [D("0.48")]
    assert world.other_take(A, "YES", Side.SELL, "0.48", "10")  # fills our whole bid
    await world.advance(0.0)
    assert world.held(A, "YES") == D(10)
    for second in range(4):
        assert world.bids(A) == [], f"{second} s after the fill"
        assert [(q.yes_price, q.token) for q in world.asks(A)] == [(D("0.52"), "YES")]  # SELLs what we bought
        await world.advance(1.0)
    await world.advance(2.0)
    assert [q.yes_price for q in world.bids(A)] == [D("0.48")]
    assert await world.finish() == "stopped"


# -- 3. caps --------------------------------------------------------------------------------------------


async def test_no_resting_quote_can_take_the_position_past_the_limit(world: SimWorld) -> None:
    world.book(A, "0.45", "0.55")
    await world.start(world.make_engine(size="10", position_limit="15"))
    seen = []
    for _ in range(4):  # OTHER dumps 100 YES into our bid, again and again
        up, down = world.worst_case(A)
        assert up <= D(15) and down >= D(-15)
        seen.append((world.net(A), sum((q.size for q in world.bids(A)), D(0))))
        world.other_take(A, "YES", Side.SELL, "0.46", "100")
        await world.advance(1.0)
    assert world.net(A) == D(15)  # at the limit, never past it
    assert seen[:3] == [(D(0), D(10)), (D(10), D(5)), (D(15), D(0))]  # the bid shrinks to the room
    assert world.bids(A) == [] and [q.size for q in world.asks(A)] == [D(10)]
    assert await world.finish() == "stopped"


@pytest.mark.parametrize("a_holds", [True, False], ids=["A-long-20", "A-flat"])
async def test_the_total_exposure_cap_blocks_the_side_that_adds_exposure(
    new_world: Callable[[Sequence[Market]], SimWorld], a_holds: bool
) -> None:
    world = new_world([A, B])
    if a_holds:
        world.we_buy(A, "YES", "0.50", "20")  # 20 x 0.50 = 10 pUSD at risk
    world.we_buy(B, "NO", "0.50", "10")  # 10 x (1 - 0.50) = 5 pUSD at risk
    world.book(A, "0.49", "0.51")
    world.book(B, "0.49", "0.51")
    await world.start(world.make_engine(caps=PortfolioCaps(max_total_exposure=D(16))))
    sides_a = {q.side for q in world.quotes(A)}
    sides_b = {q.side for q in world.quotes(B)}
    if a_holds:  # 15 at risk: a fill of 10 more on the side adding exposure would make 20 > 16
        assert sides_a == {"ask"}  # selling A's YES brings it down
        assert sides_b == {"bid"}  # selling B's NO brings it down; a B ask would add NO exposure
    else:  # 5 at risk: every fill stays under 16
        assert sides_a == sides_b == {"bid", "ask"}
    assert await world.finish() == "stopped"


@pytest.mark.parametrize(
    ("d", "same_event"), [(D_SAME, True), (D_OTHER, False)], ids=["same-event", "other-event"]
)
async def test_the_neg_risk_event_cap_counts_every_market_of_the_event(
    new_world: Callable[[Sequence[Market]], SimWorld], d: Market, same_event: bool
) -> None:
    world = new_world([C, d])
    world.we_buy(C, "YES", "0.50", "20")  # cost 10: lost whole if any other outcome wins
    world.book(C, "0.49", "0.51")
    world.book(d, "0.49", "0.51")
    await world.start(world.make_engine(caps=PortfolioCaps(max_event_loss=D(12))))
    assert {q.side for q in world.quotes(C)} == {"ask"}  # a bid fill: worst outcome loses 14.80 > 12
    sides_d = {q.side for q in world.quotes(d)}
    if same_event:
        assert sides_d == set()  # either fill adds 4.80 to the event's worst outcome: 14.80 > 12
    else:
        assert sides_d == {"bid", "ask"}  # its own event: at most 4.80 at stake
    assert await world.finish() == "stopped"


# -- 4. stop-loss triggers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "why"),
    [
        (StopLossParams(enabled=True, max_unrealized_loss=D(5), mode="passive"), "unrealised"),
        (StopLossParams(enabled=True, max_daily_loss=D(5), mode="passive"), "daily"),
    ],
    ids=["unrealised-loss", "daily-loss"],
)
async def test_a_loss_past_the_stop_pulls_every_quote_and_ends_the_run(
    world: SimWorld, params: StopLossParams, why: str
) -> None:
    world.we_buy(A, "YES", "0.48", "50")  # bought high
    world.book(A, "0.47", "0.49")
    engine = world.make_engine(stop_loss=params, ticks=True)
    await world.start(engine)
    mid = D("0.48")
    while mid > D("0.38"):  # the market slides 1c a second; we lose 0.50 a cent, 5.00 at 0.38
        mid -= D("0.01")
        world.book(A, str(mid - D("0.01")), str(mid + D("0.01")))
        await world.advance(1.0)
        assert {q.side for q in world.quotes(A)} == {"bid", "ask"}, f"still quoting at mid {mid}"
        assert world.task is not None and not world.task.done()
    world.book(A, "0.36", "0.38")  # mid 0.37: -5.50 < -5
    await world.advance(1.0)
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    assert world.quotes(A) == []
    assert world.held(A, "YES") == D(50)  # passive: nothing sold
    result = await world.finish()
    assert result == f"halted: stop-loss: {why} P&L -5.50 below -5; liquidating (passive){NOT_FLAT}"


async def test_a_mark_move_on_yesterdays_inventory_is_not_a_daily_loss(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.clock.advance(86_400)  # a day later; the market has fallen: unrealised -8.50, daily 0
    world.book(A, "0.30", "0.32")
    engine = world.make_engine(
        stop_loss=StopLossParams(enabled=True, max_daily_loss=D(5), mode="passive"), ticks=True
    )
    await world.start(engine)
    await world.advance(5.0)
    assert {q.side for q in world.quotes(A)} == {"bid", "ask"}
    assert await world.finish() == "stopped"


# -- 5. liquidation -----------------------------------------------------------------------------------

LADDER = [("0.30", "20"), ("0.29", "20"), ("0.28", "20"), ("0.27", "20"), ("0.20", "1000")]


def stop(mode: LiquidationMode, resume_after_s: float | None = None) -> StopLossParams:
    """The stop-loss of the liquidation tests: 5 pUSD of unrealised loss."""
    return StopLossParams(enabled=True, max_unrealized_loss=D(5), mode=mode, resume_after_s=resume_after_s)


def our_sells(world: SimWorld, token: str) -> list[tuple[D, D]]:
    return [
        (f.price, f.size)
        for f in world.ledger.fills(A.condition_id)
        if f.side is Side.SELL and f.token_id == token
    ]


async def test_market_mode_ladders_out_to_flat_within_the_slippage_floor_then_ends_halted(
    world: SimWorld,
) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, LADDER, [("0.32", "100")])  # mid 0.31: the floor is 0.26, the 0.20 bid is below it
    await world.start(world.make_engine(stop_loss=stop("market"), ticks=True))
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    assert world.held(A, "YES") < MIN  # flat within one minimum order size
    sells = our_sells(world, A.yes_token)
    assert sells and all(price >= D("0.26") for price, _ in sells)
    assert sum(size for _, size in sells) == D(50) - world.held(A, "YES")
    assert (Side.BUY, D("0.20"), D(1000)) in world.other_orders(A)  # never sold into the far bid
    assert world.quotes(A) == []
    result = await world.finish()
    assert result == "halted: stop-loss: unrealised P&L -8.50 below -5; liquidating (market)"


async def test_market_mode_never_goes_below_the_floor_even_when_it_cannot_get_flat(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, [("0.30", "20"), ("0.20", "1000")], [("0.32", "100")])
    await world.start(world.make_engine(stop_loss=stop("market"), ticks=True))
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    sells = our_sells(world, A.yes_token)
    assert all(price == D("0.30") for price, _ in sells)
    assert (Side.BUY, D("0.20"), D(1000)) in world.other_orders(A)
    assert world.held(A, "YES") >= D(30)
    result = await world.finish()
    assert result.startswith("halted: stop-loss: unrealised P&L -8.50 below -5; liquidating (market)")
    assert result.endswith(NOT_FLAT)


async def test_one_ladder_round_takes_at_most_half_of_the_depth_within_the_floor(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    # Our quotes at 0.29 / 0.33 rest when the stop fires; OTHER's only bid within the floor is 0.30 x 10.
    world.book(A, [("0.30", "10"), ("0.20", "1000")], [("0.32", "100")])
    await world.start(world.make_engine(stop_loss=stop("market"), ticks=True))
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    assert sum(size for _, size in our_sells(world, A.yes_token)) <= D(5)


async def test_the_ladder_never_takes_the_whole_depth_and_never_sells_below_the_floor(
    world: SimWorld,
) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, [("0.30", "20"), ("0.28", "20"), ("0.25", "20"), ("0.10", "1000")], [("0.32", "100")])
    # At the position limit there is no bid of ours in the book to confuse the ladder: only our ask.
    engine = world.make_engine(position_limit="50", stop_loss=stop("market"), ticks=True)
    await world.start(engine)
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    within_floor = [
        size for side, price, size in world.other_orders(A) if side is Side.BUY and price >= D("0.26")
    ]
    assert sum(within_floor, D(0)) > 0  # some of the bids within the floor are always left
    assert all(price >= D("0.26") for price, _ in our_sells(world, A.yes_token))  # 0.31 - 0.05


async def test_limit_mode_rests_a_post_only_exit_at_the_mid_until_it_fills(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, "0.30", "0.32")
    await world.start(world.make_engine(stop_loss=stop("limit"), ticks=True))
    await world.advance(3.0)
    assert [(q.side, q.token, q.order_side, q.yes_price, q.size) for q in world.quotes(A)] == [
        ("ask", "YES", Side.SELL, D("0.31"), D(50))
    ]
    assert world.held(A, "YES") == D(50)
    assert world.task is not None and not world.task.done()  # waits for the exit to fill
    assert world.other_take(A, "YES", Side.BUY, "0.31", "50")
    await world.advance(1.0)
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    assert world.held(A, "YES") == 0
    assert our_sells(world, A.yes_token) == [(D("0.31"), D(50))]
    assert await world.finish() == "halted: stop-loss: unrealised P&L -8.50 below -5; liquidating (limit)"


async def test_passive_mode_only_cancels(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, LADDER, [("0.32", "100")])
    await world.start(world.make_engine(stop_loss=stop("passive"), ticks=True))
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    assert world.quotes(A) == []
    assert world.held(A, "YES") == D(50)
    assert our_sells(world, A.yes_token) == []
    assert (
        await world.finish()
        == "halted: stop-loss: unrealised P&L -8.50 below -5; liquidating (passive)" + NOT_FLAT
    )


@pytest.mark.parametrize("chain", [True, False], ids=["with-chain", "no-chain"])
async def test_yes_no_pairs_are_merged_before_anything_is_sold(world: SimWorld, chain: bool) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.we_buy(A, "NO", "0.55", "20")  # unrealised at mid 0.31: -8.50 + 2.80 = -5.70
    world.book(A, LADDER, [("0.32", "100")])
    cash = world.collateral()
    await world.start(world.make_engine(stop_loss=stop("market"), ticks=True, chain=chain))
    await world.run_until(lambda: world.task is not None and world.task.done(), what="the run ended")
    assert world.held(A, "YES") < MIN and world.held(A, "NO") < MIN
    merges = [f for f in world.ledger.flows(A.condition_id) if f.kind is FlowKind.MERGE]
    if chain:
        assert [m.collateral_delta for m in merges] == [D(20)]
        assert our_sells(world, A.no_token) == []  # the NO went back as pairs, none sold at a spread
        assert sum(size for _, size in our_sells(world, A.yes_token)) == D(30) - world.held(A, "YES")
        sold = sum((p * s for p, s in our_sells(world, A.yes_token)), D(0))
        assert world.collateral() == cash + D(20) + sold
    else:
        assert merges == []
        assert our_sells(world, A.no_token)  # sold into the NO bids instead
    assert (await world.finish()).startswith("halted: stop-loss")


async def test_with_resume_after_quoting_comes_back_after_the_cool_down(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, [("0.30", "200")], [("0.32", "200")])
    await world.start(world.make_engine(stop_loss=stop("market", resume_after_s=30), ticks=True))
    await world.advance(1.0)
    assert world.held(A, "YES") == 0  # one round: 50 of the 200 at 0.30
    for second in range(28):
        assert world.quotes(A) == [], f"{second} s into the cool-down"
        await world.advance(1.0)
    await world.advance(3.0)
    assert {(q.side, q.yes_price) for q in world.quotes(A)} == {("bid", D("0.29")), ("ask", D("0.33"))}
    assert await world.finish() == "stopped"


async def test_no_quote_goes_out_while_the_daily_loss_is_still_past_the_limit(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, [("0.30", "200")], [("0.32", "200")])
    params = StopLossParams(enabled=True, max_daily_loss=D(5), mode="market", resume_after_s=30)
    await world.start(world.make_engine(stop_loss=params, ticks=True))
    await world.advance(1.0)
    assert world.held(A, "YES") == 0  # sold at 0.30: the day's loss of 9.00 is realised, it stays
    stopped_at = world.clock.now()
    await world.advance(70.0)
    placed = [o for o in world.exchange.orders.values() if o.owner == "bot" and o.created_at > stopped_at]
    assert placed == []


async def test_our_own_quotes_do_not_move_the_stop_loss_mark(world: SimWorld) -> None:
    world.we_buy(A, "YES", "0.48", "50")
    world.book(A, "0.20", "0.60")  # everyone else: mid 0.40, so we are down 4.00
    params = StopLossParams(enabled=True, max_unrealized_loss=D(5), mode="passive")
    # At the limit (e = 50) we quote only an ask, 0.42: the public book is 0.20 / 0.42
    await world.start(world.make_engine(position_limit="50", stop_loss=params, ticks=True))
    await world.advance(3.0)
    assert [q.yes_price for q in world.asks(A)] == [D("0.42")]
    assert await world.finish() == "stopped"


# -- 6. levels --------------------------------------------------------------------------------------------


async def test_three_levels_rest_at_the_spacing_and_stay_within_the_limit_together(world: SimWorld) -> None:
    world.book(A, "0.40", "0.60")
    await world.start(world.make_engine(levels=3, level_spacing_ticks=2, size="10", position_limit="25"))
    assert [(q.yes_price, q.size) for q in world.bids(A)] == [
        (D("0.48"), D(10)),
        (D("0.46"), D(10)),
        (D("0.44"), D(5)),  # cut: the three together never take e past 25
    ]
    assert [(q.yes_price, q.size) for q in world.asks(A)] == [
        (D("0.52"), D(10)),
        (D("0.54"), D(10)),
        (D("0.56"), D(5)),
    ]
    assert world.worst_case(A) == (D(25), D(-25))
    assert world.other_take(A, "YES", Side.SELL, "0.46", "100")  # sweeps our two best bids
    await world.advance(1.0)
    assert world.net(A) == D(20)
    assert [(q.yes_price, q.size) for q in world.bids(A)] == [(D("0.48"), D(5))]
    assert [q.yes_price for q in world.asks(A)] == [D("0.52"), D("0.54"), D("0.56")]
    up, down = world.worst_case(A)
    assert up <= D(25) and down >= D(-25)
    assert world.other_take(A, "YES", Side.SELL, "0.41", "100")  # everything we bid: e = 25 at most
    await world.advance(1.0)
    assert world.net(A) == D(25) and world.bids(A) == []
    assert await world.finish() == "stopped"


def test_polymm_run_hands_the_engine_a_chain_so_a_stop_loss_can_merge_pairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stop-loss merges YES+NO pairs before it sells: only possible when `run` wires a chain."""
    from polymm_cli.services import trading
    from polymm_cli.services.guard import Consent
    from polymm_cli.settings import load_settings
    from polymm_cli.venues.polymarket.chain import LocalChain

    made: list[object] = []
    real = trading.QuotingEngine

    def recording(*args: object, **kwargs: object) -> object:
        made.append(kwargs.get("chain"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trading, "QuotingEngine", recording)
    settings = load_settings(exchange_flow=False)

    trading.run(settings, trading.RunOptions(duration=0.5), consent=Consent())

    assert len(made) == 1 and isinstance(made[0], LocalChain)


# -- 2b. toxic flow: our fills marked out ----------------------------------------------------------------


async def _bid_run_over(world: SimWorld) -> D:
    """Our bid is filled at 0.50 - offset, then the mid falls 4c for 6 s (twice our 2c edge)."""
    world.book(A, "0.45", "0.55")
    await world.advance(1.0)
    price = world.bids(A)[0].yes_price
    assert world.other_take(A, "YES", Side.SELL, str(price), "10")
    await world.advance(0.0)
    world.book(A, "0.41", "0.51")
    await world.advance(6.0)
    return price


async def test_a_bid_run_over_by_the_mid_after_its_fills_is_pulled_then_comes_back_wider(
    world: SimWorld,
) -> None:
    toxicity = ToxicityParams(min_fills=2.0, pull_s=30.0, halflife_s=300.0)
    regime = RegimeParams(vol_enabled=False, jump_enabled=False, trend_enabled=False, toxicity=toxicity)
    await world.start(world.make_engine(regime=regime, ticks=True))
    for _ in range(3):  # below 2 fills' (fading) evidence, nothing is judged: the bid stays at 0.48
        assert await _bid_run_over(world) == D("0.48")
    world.book(A, "0.45", "0.55")
    await world.advance(1.0)
    assert world.bids(A) == []  # pulled: the mid's run after its fills was twice its edge
    assert [q.yes_price for q in world.asks(A)] == [D("0.52")]  # the ask was not run over
    await world.advance(30.0)
    bid = world.bids(A)[0].yes_price
    assert bid < D("0.48")  # back after the pull, widened (x toxicity 2 / 0.8, capped at 3)
    assert bid == D("0.45")  # 0.50 - 0.02 x 2.5
    assert await world.finish() == "stopped"


async def test_the_seed_design_keeps_quoting_a_bid_that_is_run_over(world: SimWorld) -> None:
    await world.start(world.make_engine(regime=RegimeParams.off(), ticks=True))
    for _ in range(3):
        assert await _bid_run_over(world) == D("0.48")
    assert await world.finish() == "stopped"
