"""Deterministic price-time matching for one binary market's YES/NO pair.

Every order is kept in one book in YES terms, so the complement rules of a binary market fall out
of ordinary matching (reference §5):

    BUY YES @ p  -> YES bid @ p          SELL YES @ p -> YES ask @ p
    SELL NO @ q  -> YES bid @ 1 - q      BUY NO @ q   -> YES ask @ 1 - q

A YES bid crossing a YES ask is a *normal* match when both orders are on the same token, a *mint*
when both are BUYs (YES buyer + NO buyer put up 1 pUSD per pair) and a *merge* when both are SELLs.
Fills execute at the resting order's price. The public book of each token is a projection of this
one book (the NO book mirrors the YES book), which is why `level_sizes` answers for either token.

Pure: no I/O, no clock; balances and settlement are `accounts.py`'s business.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from polymm_cli.model import ONE, ZERO, Market, OrderType, Side


class MatchKind(StrEnum):
    NORMAL = "normal"
    MINT = "mint"
    MERGE = "merge"


@dataclass(slots=True)
class RestingOrder:
    """An order known to the exchange. Mutable: `size_matched` and `status` move as it trades."""

    order_id: str
    owner: str  # API key of the account (synthetic traders use their own label)
    address: str  # funder address whose balances back the order
    market: str
    token_id: str
    side: Side
    price: Decimal  # in the order's own token terms
    original_size: Decimal
    order_type: OrderType
    is_yes: bool
    seq: int
    created_at: float
    expiration: int = 0
    size_matched: Decimal = ZERO
    status: str = "LIVE"
    associate_trades: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.original_size - self.size_matched

    @property
    def yes_is_bid(self) -> bool:
        """True when the order sits on the YES bid side (BUY YES or SELL NO)."""
        return (self.side is Side.BUY) == self.is_yes

    @property
    def yes_price(self) -> Decimal:
        return self.price if self.is_yes else ONE - self.price


@dataclass(frozen=True, slots=True)
class Fill:
    """One maker order filled (partly) by a taker at the maker's price."""

    maker: RestingOrder
    size: Decimal
    yes_price: Decimal
    kind: MatchKind


def match_kind(taker: RestingOrder, maker: RestingOrder) -> MatchKind:
    if taker.token_id == maker.token_id:
        return MatchKind.NORMAL
    return MatchKind.MINT if taker.side is Side.BUY else MatchKind.MERGE


class _Side:
    """One side of the YES book: price levels with FIFO queues, best price first on iteration."""

    __slots__ = ("_prices", "descending", "levels", "totals")

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.levels: dict[Decimal, deque[RestingOrder]] = {}
        self.totals: dict[Decimal, Decimal] = {}
        self._prices: list[Decimal] = []  # ascending

    def add(self, order: RestingOrder, yes_price: Decimal) -> None:
        queue = self.levels.get(yes_price)
        if queue is None:
            queue = self.levels[yes_price] = deque()
            self.totals[yes_price] = ZERO
            bisect.insort(self._prices, yes_price)
        queue.append(order)
        self.totals[yes_price] += order.remaining

    def reduce(self, yes_price: Decimal, size: Decimal) -> None:
        self.totals[yes_price] -= size

    def remove(self, order: RestingOrder, yes_price: Decimal) -> None:
        queue = self.levels.get(yes_price)
        if queue is None:
            return
        try:
            queue.remove(order)
        except ValueError:
            return
        self.totals[yes_price] -= order.remaining
        if not queue:
            self._drop_level(yes_price)

    def pop_filled(self, yes_price: Decimal) -> None:
        queue = self.levels[yes_price]
        while queue and queue[0].remaining <= 0:
            queue.popleft()
        if not queue:
            self._drop_level(yes_price)

    def _drop_level(self, yes_price: Decimal) -> None:
        del self.levels[yes_price]
        del self.totals[yes_price]
        index = bisect.bisect_left(self._prices, yes_price)
        del self._prices[index]

    def best(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.descending else self._prices[0]

    def prices_best_first(self) -> Iterator[Decimal]:
        return iter(reversed(self._prices) if self.descending else list(self._prices))

    def total(self, yes_price: Decimal) -> Decimal:
        return self.totals.get(yes_price, ZERO)


class MarketBook:
    """The single YES-terms book of one market, and matching against it."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.bids = _Side(descending=True)
        self.asks = _Side(descending=False)

    # -- queries -----------------------------------------------------------------------------

    def best_yes_bid(self) -> Decimal | None:
        return self.bids.best()

    def best_yes_ask(self) -> Decimal | None:
        return self.asks.best()

    def crosses(self, order: RestingOrder) -> bool:
        """Would this order match anything resting right now?"""
        yes_price = order.yes_price
        if order.yes_is_bid:
            best = self.asks.best()
            return best is not None and best <= yes_price
        best = self.bids.best()
        return best is not None and best >= yes_price

    def fillable(self, order: RestingOrder) -> Decimal:
        """How much of `order` could fill immediately at its limit."""
        total = ZERO
        opposite = self.asks if order.yes_is_bid else self.bids
        yes_price = order.yes_price
        for price in opposite.prices_best_first():
            if (order.yes_is_bid and price > yes_price) or (not order.yes_is_bid and price < yes_price):
                break
            total += opposite.totals[price]
            if total >= order.remaining:
                break
        return total

    def token_levels(
        self, token_id: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks) of one token's public book, best first, as (price, size) in that token's terms."""
        yes_bids = [(p, self.bids.totals[p]) for p in self.bids.prices_best_first()]
        yes_asks = [(p, self.asks.totals[p]) for p in self.asks.prices_best_first()]
        if token_id == self.market.yes_token:
            return yes_bids, yes_asks
        # NO bid at 1 - p for every YES ask at p, and the reverse: the mirror keeps best-first order.
        return [(ONE - p, s) for p, s in yes_asks], [(ONE - p, s) for p, s in yes_bids]

    def level_size(self, token_id: str, side: Side, price: Decimal) -> Decimal:
        """Aggregate size resting at one level of one token's public book."""
        is_yes = token_id == self.market.yes_token
        yes_price = price if is_yes else ONE - price
        yes_bid_side = (side is Side.BUY) == is_yes
        return (self.bids if yes_bid_side else self.asks).total(yes_price)

    def orders(self) -> Iterator[RestingOrder]:
        for book_side in (self.bids, self.asks):
            for queue in book_side.levels.values():
                yield from queue

    # -- changes -----------------------------------------------------------------------------

    def rest(self, order: RestingOrder) -> None:
        (self.bids if order.yes_is_bid else self.asks).add(order, order.yes_price)

    def remove(self, order: RestingOrder) -> None:
        (self.bids if order.yes_is_bid else self.asks).remove(order, order.yes_price)

    def match(self, taker: RestingOrder) -> list[Fill]:
        """Fill `taker` against resting orders in price-time priority, up to its limit and size.

        Resting orders are updated in place (size_matched); fully filled ones leave the book. The
        taker's own size_matched is updated too. Returns the fills in execution order.
        """
        fills: list[Fill] = []
        opposite = self.asks if taker.yes_is_bid else self.bids
        limit = taker.yes_price
        while taker.remaining > 0:
            best = opposite.best()
            if best is None or (best > limit if taker.yes_is_bid else best < limit):
                break
            queue = opposite.levels[best]
            for maker in queue:
                if taker.remaining <= 0:
                    break
                if maker.remaining <= 0:
                    continue
                size = min(taker.remaining, maker.remaining)
                maker.size_matched += size
                taker.size_matched += size
                opposite.reduce(best, size)
                fills.append(Fill(maker, size, best, match_kind(taker, maker)))
            opposite.pop_filled(best)
        return fills
