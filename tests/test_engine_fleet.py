"""Re-selection in one engine, in virtual time: markets dropped are wound down (cancelled, confirmed,
optionally liquidated), new ones quoted, a failed listing changes nothing.

The chooser is a hand-written fake (what `--select` would answer); the clock is the world's
ManualClock, so "every 60 s" is exactly 60 virtual seconds of the engine's own timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.engine.fleet import Reselection, Reselector
from polymm_cli.errors import VenueError
from polymm_cli.model import FlowKind, Market
from polymm_cli.risk import PortfolioCaps
from tests.sim_world import SimWorld, market, until

A, B, C = market("fleet-a"), market("fleet-b"), market("fleet-c")
EVERY_S = 60.0


class FakeChooser:
    """Answers what the test set; counts the calls; raises a venue error when told to."""

    def __init__(self, chosen: list[Market], dropped: dict[str, str] | None = None) -> None:
        self.answer = Reselection(chosen, dropped or {})
        self.fail = False
        self.asked: list[tuple[str, ...]] = []

    async def __call__(self, held: tuple[str, ...]) -> Reselection:
        self.asked.append(held)
        if self.fail:
            raise VenueError("listing failed: 503")
        return self.answer


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [A, B, C])
    for m in (A, B, C):
        w.book(m, "0.49", "0.51")
    yield w
    if w.task is not None and not w.task.done():
        await w.finish()
    w.close()


async def start(
    world: SimWorld, chooser: FakeChooser, *, liquidate: bool = False, caps: PortfolioCaps | None = None
) -> tuple[Reselector, list[dict[str, object]]]:
    engine = world.make_engine(markets=[A, B], caps=caps)
    lines: list[dict[str, object]] = []
    reselector = Reselector(engine, chooser, every_s=EVERY_S, liquidate=liquidate, on_change=lines.append)
    engine.also_run("re-selection", reselector.run, keeps_run_alive=True)
    await world.start(engine)
    return reselector, lines


async def test_a_dropped_market_is_cancelled_and_a_new_one_quoted_at_the_next_reselection(
    world: SimWorld,
) -> None:
    # Arrange: quoting A and B; the next selection is A and C (B's spread failed its rule)
    chooser = FakeChooser([A, C], {B.condition_id: "spread 0.05 fails spread<=0.03"})
    _, lines = await start(world, chooser)
    assert world.quotes(A) and world.quotes(B) and not world.quotes(C)

    # Act: just before the period nothing happens; at it, the re-selection
    await world.advance(EVERY_S - 1)
    assert chooser.asked == [] and world.quotes(B)
    await world.advance(1)
    await world.run_until(lambda: bool(world.quotes(C)), limit_s=5, what="C quoted")

    # Assert: B has no order left at the exchange and left the engine (flat); A untouched; C quoted
    assert world.quotes(B) == []
    engine = world.engine
    assert engine is not None
    assert set(engine.states) == {A.condition_id, C.condition_id}
    assert world.quotes(A)
    [line] = lines
    assert line["added"] == ["fleet-c"]
    assert line["dropped"] == [
        {
            "market": B.condition_id,
            "reason": "spread 0.05 fails spread<=0.03",
            "cancelled": 2,
            "confirmed": True,
            "left_engine": True,
        }
    ]
    # a book update for the market that left reaches nobody (and breaks nothing)
    world.book(B, "0.40", "0.60")
    await world.advance(2)
    assert world.quotes(B) == [] and engine.failure is None


async def test_a_dropped_market_still_held_stays_unquoted_and_counts_in_the_caps(world: SimWorld) -> None:
    # Arrange: we hold 40 YES of B
    world.we_buy(B, "YES", "0.50", "40")
    chooser = FakeChooser([A], {B.condition_id: "rewards 0 fails rewards>=50"})
    reselector, _ = await start(world, chooser)

    # Act
    await world.advance(EVERY_S)
    await world.run_until(lambda: not world.quotes(B), limit_s=5)

    # Assert: no order in B, the position kept, B stays in the engine as wound down
    engine = world.engine
    assert engine is not None
    assert world.held(B, "YES") == D(40)
    state = engine.states[B.condition_id]
    assert state.retired == "rewards 0 fails rewards>=50"
    [snap_b] = [m for m in engine.snapshot().markets if m.market == B]
    assert snap_b.status == "wound down: rewards 0 fails rewards>=50"
    assert reselector.quoted() == (A.condition_id,)
    # its holding is still one the portfolio caps see
    assert [h.market for h in engine._other_holdings(A.condition_id)] == [B]
    # and nothing is placed in B however its book moves
    world.book(B, "0.45", "0.47")
    await world.advance(5)
    assert world.quotes(B) == []


async def test_with_liquidate_dropped_the_position_is_sold_and_the_market_leaves(world: SimWorld) -> None:
    world.we_buy(B, "YES", "0.50", "20")
    chooser = FakeChooser([A], {B.condition_id: "volume 0 fails volume>=10000"})
    _, lines = await start(world, chooser, liquidate=True)

    await world.advance(EVERY_S)
    await until(lambda: bool(lines), timeout=10, what="the wind-down to finish")

    engine = world.engine
    assert engine is not None
    assert world.held(B, "YES") < B.min_order_size  # sold into OTHER's bids
    assert B.condition_id not in engine.states
    assert lines[0]["dropped"][0]["left_engine"] is True  # type: ignore[index]


async def test_a_failed_listing_keeps_every_market_as_it_is(world: SimWorld) -> None:
    chooser = FakeChooser([A], {B.condition_id: "would be dropped"})
    chooser.fail = True
    _, lines = await start(world, chooser)

    await world.advance(EVERY_S)
    await world.advance(2)

    engine = world.engine
    assert engine is not None
    assert len(chooser.asked) == 1
    assert world.quotes(B) and lines == []
    kept = "re-selection: VenueError: listing failed: 503; keeping the markets as they are"
    assert kept in engine.last_error


async def test_a_wound_down_market_still_held_is_taken_back_when_chosen_again(world: SimWorld) -> None:
    # Arrange: B held and dropped at the first round
    world.we_buy(B, "YES", "0.50", "40")
    chooser = FakeChooser([A], {B.condition_id: "spread 0.05 fails spread<=0.03"})
    reselector, lines = await start(world, chooser)
    await world.advance(EVERY_S)
    await world.run_until(lambda: not world.quotes(B), limit_s=5)
    assert reselector.quoted() == (A.condition_id,)

    # Act: the next round chooses it again
    chooser.answer = Reselection([A, B], {})
    await world.advance(EVERY_S)
    await world.run_until(lambda: bool(world.quotes(B)), limit_s=5, what="B quoted again")

    # Assert: quoted again, in the engine as a market like any other
    engine = world.engine
    assert engine is not None
    assert engine.states[B.condition_id].retired is None
    assert set(reselector.quoted()) == {A.condition_id, B.condition_id}
    assert [line["added"] for line in lines] == [[], ["fleet-b"]]
    assert reselector.rounds == 2


async def test_each_merge_of_a_wind_down_is_recorded_as_its_own_flow(
    world: SimWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wind-down merges at each of its rounds: every merge is a flow of the ledger, even at one
    clock reading (the stop-loss exit's round counter, which keyed them once, never moves here)."""
    # Arrange: 40 pairs of B held, a chain that merges at most 10 pairs a call
    world.we_buy(B, "YES", "0.50", "40")
    world.we_buy(B, "NO", "0.50", "40")
    world.book(B, "0.49", "0.51", size="20")  # thin: each exit round sells only part of it
    merge = world.venue.merge

    async def merge_at_most_10(market: Market, amount: D) -> object:
        return await merge(market, min(amount, D(10)))

    monkeypatch.setattr(world.venue, "merge", merge_at_most_10)
    engine = world.make_engine(markets=[A, B], chain=True)
    chooser = FakeChooser([A], {B.condition_id: "volume 0 fails volume>=10000"})
    lines: list[dict[str, object]] = []
    reselector = Reselector(engine, chooser, every_s=EVERY_S, liquidate=True, on_change=lines.append)
    engine.also_run("re-selection", reselector.run, keeps_run_alive=True)
    await world.start(engine)

    # Act
    await world.advance(EVERY_S)
    await until(lambda: bool(lines), timeout=10, what="the wind-down to finish")

    # Assert: every pair merged is in the ledger, one flow per merge
    merges = [f for f in world.ledger.flows(B.condition_id) if f.kind is FlowKind.MERGE]
    assert len(merges) >= 2
    assert [m.collateral_delta for m in merges] == [D(10)] * len(merges)
    assert {m.note for m in merges} == {"wind-down exit"}
