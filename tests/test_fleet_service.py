"""`MarketSelector`: the venue's listing read into selection candidates, on the in-process exchange.

Book figures must be those of the book WITHOUT our orders (our quotes must not tighten the spread a
rule reads), a market our settings cannot quote is never chosen, and rules on the listing's own
figures are applied before any book is fetched (a venue lists thousands of markets).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.errors import UsageError
from polymm_cli.model import Market, OrderType, Side
from polymm_cli.quoter import QuoteParams
from polymm_cli.selection import parse_rank, parse_rules
from polymm_cli.services.fleet import MarketSelector, SelectOptions
from polymm_cli.venues.base import BookSnapshot
from polymm_cli.venues.sim import SimVenue
from tests.sim_world import BOT, SimWorld, market

POOL = market("pool", reward_spread_cents="3", reward_min_size="5", reward_daily_rate="50")
BIG_MIN = market(
    "big-min", min_size="50", reward_spread_cents="3", reward_min_size="5", reward_daily_rate="80"
)
PLAIN = market("plain")
PARAMS = QuoteParams(spread=D("0.04"), size=D("10"), position_limit=D("100"))


class CountingVenue(SimVenue):
    """The bot's venue, counting book requests."""

    books_read: list[str]

    async def book(self, token_id: str) -> BookSnapshot:
        self.books_read.append(token_id)
        return await super().book(token_id)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SimWorld]:
    w = SimWorld(tmp_path, [POOL, BIG_MIN, PLAIN])
    for m in (POOL, BIG_MIN, PLAIN):
        w.book(m, "0.45", "0.55")
    w.venue = CountingVenue(w.exchange, w.clock, address=BOT, owner="bot", dead_mans_switch=False)
    w.venue.books_read = []
    yield w
    w.close()


def selector(world: SimWorld, rules: str, top: int = 5) -> MarketSelector:
    options = SelectOptions(rules=parse_rules(rules), top=top, ranking=parse_rank("rewards"))
    return MarketSelector(world.venue, world.clock, PARAMS, options)


def our_quote(world: SimWorld, m: Market, side: Side, price: str) -> None:
    world._submit("bot", BOT, m.yes_token, side, D(price), D("10"), OrderType.GTC)


async def test_the_spread_a_rule_reads_is_the_books_without_our_quotes(world: SimWorld) -> None:
    # Arrange: our own quotes tighten POOL's book from 0.45/0.55 to 0.49/0.51
    world.exchange.split(BOT, POOL.condition_id, D(100))
    our_quote(world, POOL, Side.BUY, "0.49")
    our_quote(world, POOL, Side.SELL, "0.51")

    # Act
    choice = await selector(world, "spread>=0.1").choose()

    # Assert: 0.10 wide without us, so it passes; with us it would read 0.02
    [pool] = [c for c in choice.chosen if c.market.slug == "pool"]
    assert pool.spread == D("0.10") and pool.mid == D("0.50")


async def test_a_market_whose_minimum_size_is_above_ours_is_never_chosen(world: SimWorld) -> None:
    choice = await selector(world, "rewards>=50").choose()

    assert [c.market.slug for c in choice.chosen] == ["pool"]  # big-min pays more, but size 10 < 50
    assert "size 10 is below the minimum order size (50)" in choice.rejected[BIG_MIN.condition_id]


async def test_listing_rules_are_applied_before_any_book_is_fetched(world: SimWorld) -> None:
    choice = await selector(world, "rewards>=60,spread<=0.2").choose()

    # pool (50) fails the listing's rule, big-min (80) cannot be quoted: no book is worth reading
    assert choice.ids == ()
    assert world.venue.books_read == []  # type: ignore[attr-defined]
    await selector(world, "rewards>=50,spread<=0.2").choose()
    assert world.venue.books_read == [POOL.yes_token]  # type: ignore[attr-defined]


async def test_a_first_selection_with_no_market_is_one_line_naming_one(world: SimWorld) -> None:
    with pytest.raises(UsageError) as caught:
        await selector(world, "rewards>=500").first()

    message = str(caught.value)
    assert message.startswith(
        "no listed market passes --select rewards>=500 --top 5 --rank rewards (3 listed; e.g. "
    )
    assert "fails rewards>=500" in message
