"""Paper vs real, short: a paper bot beside a real one on the local exchange fills what the real one fills.

The bench (`bench/bench_paper.py`, in `make bench`) runs 10 seeds of 10 minutes; this is 2 seeds of
3 minutes of the same setup (the real engine on a SimVenue, the paper engine on a PaperVenue over a
market-data-only SimVenue, same settings, same clock, virtual time), so a change that breaks the
fill simulation, the paper venue or the comparison shows here. The figures and the bounds are
explained in docs/backtesting.md ("Paper vs real").
"""

from __future__ import annotations

from typing import Any

from bench.bench_paper import Feed, session, summarise

SEEDS = (1, 2)
MINUTES = 3.0


async def _compare(feed: Feed) -> dict[str, Any]:
    return summarise([await session(seed, MINUTES, feed=feed) for seed in SEEDS])


def _within(ratio: float | None, bound: float) -> bool:
    return ratio is not None and abs(ratio - 1) <= bound


async def test_side_by_side_on_the_public_feed_paper_fills_agree_with_real_within_20_percent() -> None:
    # Act: the experiment, the paper bot reading the exchange's public feed (the real bot's
    # orders in it)
    result = await _compare("public")

    # Assert: enough fills to mean something, and the goal on fills (volume too)
    real, paper, agreement = result["real"], result["paper"], result["agreement"]
    assert real["fills"] >= 10, result
    assert _within(agreement["fills"], 0.20), (real, paper)
    assert _within(agreement["volume"], 0.20), (real, paper)


async def test_in_the_real_bots_place_the_paper_bot_fills_what_it_filled() -> None:
    # Act: the paper bot's feed without the real bot's orders, so it reads the market the real
    # bot's engine reads and stands where the real bot stands in the queue
    result = await _compare("without-real")

    # Assert: what is left is the simulator's own error (fill rules, instant settlement): small
    real, paper, agreement = result["real"], result["paper"], result["agreement"]
    assert real["fills"] >= 10, result
    assert _within(agreement["fills"], 0.10), (real, paper)
    assert _within(agreement["volume"], 0.10), (real, paper)
    assert _within(agreement["pnl"], 0.20), (real, paper)
