"""L2 order book of one token: levels, top of book, derived prices, tick-change epochs.

Owns the book state and its invariants: one size per price per side, no zero-size levels, the
sorted price index used for O(1) best bid/ask. Inputs are plain values (already validated at the
wire boundary); the wire's best-LAST ordering does not matter here because levels are keyed by
price. Pure core: stdlib, decimal and `model` only - it must not import venues (the event -> book
glue is `polymm_cli/venues/books.py`), do I/O or read a clock (callers pass timestamps in).

Tick change: Polymarket voids the book's grid when the tick changes, so `reset_for_tick_change`
clears both sides, bumps `epoch` and marks the book unsynced until the next snapshot. Quoting
should ignore a book that is not `synced`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.model import Market, PriceLevel, Side

_TWO = Decimal(2)
_ZERO = Decimal(0)
_BUY = Side.BUY  # Why: `Side.BUY` is an enum class attribute lookup (~0.3 us), a global is ~0.04 us


class OrderBook:
    """L2 book of one token.

    Each side is a dict price -> size plus an ascending list of its prices, touched only when a
    level appears or disappears (a size change is a dict write). Best bid is the last bid price,
    best ask the first ask price, so top-of-book queries are O(1).
    """

    __slots__ = (
        "_ask_px",
        "_asks",
        "_bid_px",
        "_bids",
        "epoch",
        "last_update_ts",
        "synced",
        "tick_size",
        "token_id",
        "version",
    )

    def __init__(self, token_id: str, tick_size: Decimal | None = None) -> None:
        self.token_id = token_id
        self.tick_size: Decimal | None = tick_size
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._bid_px: list[Decimal] = []  # ascending; best bid is the last
        self._ask_px: list[Decimal] = []  # ascending; best ask is the first
        self.epoch = 0  # bumped by every tick change
        self.version = 0  # bumped by every mutation
        self.synced = False  # True once a snapshot arrived (and since the last tick change)
        self.last_update_ts: float | None = None

    # -- mutation -----------------------------------------------------------------------------

    def apply_snapshot(
        self,
        bids: Iterable[PriceLevel],
        asks: Iterable[PriceLevel],
        tick: Decimal | None = None,
        ts: float | None = None,
    ) -> None:
        """Replace the whole book. Levels may come in any order; zero sizes are dropped.

        `tick` None keeps the current tick size. A snapshot makes the book `synced`.
        """
        self._bids = {lvl.price: lvl.size for lvl in bids if lvl.size}
        self._asks = {lvl.price: lvl.size for lvl in asks if lvl.size}
        self._bid_px = sorted(self._bids)
        self._ask_px = sorted(self._asks)
        if tick is not None:
            self.tick_size = tick
        self.synced = True
        self.version += 1
        if ts is not None:
            self.last_update_ts = ts

    def apply_level(self, side: Side, price: Decimal, size: Decimal, ts: float | None = None) -> None:
        """Set the total size resting at `price` on `side` (BUY = bid); size zero removes the level."""
        if side is _BUY:
            levels, prices = self._bids, self._bid_px
        else:
            levels, prices = self._asks, self._ask_px
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif price in levels:
            del levels[price]
            del prices[bisect_left(prices, price)]
        self.version += 1
        if ts is not None:
            self.last_update_ts = ts

    def reset_for_tick_change(self, new_tick: Decimal, ts: float | None = None) -> None:
        """Clear the book for a new price grid: bump `epoch`, unsync until the next snapshot."""
        self._bids = {}
        self._asks = {}
        self._bid_px = []
        self._ask_px = []
        self.tick_size = new_tick
        self.epoch += 1
        self.version += 1
        self.synced = False
        if ts is not None:
            self.last_update_ts = ts

    def clear(self) -> None:
        """Forget every level (e.g. after a disconnect) and wait for a new snapshot."""
        self._bids = {}
        self._asks = {}
        self._bid_px = []
        self._ask_px = []
        self.version += 1
        self.synced = False

    # -- queries ------------------------------------------------------------------------------

    @property
    def best_bid(self) -> Decimal | None:
        px = self._bid_px
        return px[-1] if px else None

    @property
    def best_ask(self) -> Decimal | None:
        px = self._ask_px
        return px[0] if px else None

    @property
    def best_bid_level(self) -> PriceLevel | None:
        px = self._bid_px
        return PriceLevel(px[-1], self._bids[px[-1]]) if px else None

    @property
    def best_ask_level(self) -> PriceLevel | None:
        px = self._ask_px
        return PriceLevel(px[0], self._asks[px[0]]) if px else None

    @property
    def mid(self) -> Decimal | None:
        """(best bid + best ask) / 2, or None unless both sides have a level."""
        if not self._bid_px or not self._ask_px:
            return None
        return (self._bid_px[-1] + self._ask_px[0]) / _TWO

    @property
    def microprice(self) -> Decimal | None:
        """Size-weighted mid: leans toward the side with less size (the one more likely to go).

        (bid * ask_size + ask * bid_size) / (bid_size + ask_size); None unless both sides exist.
        """
        if not self._bid_px or not self._ask_px:
            return None
        bid = self._bid_px[-1]
        ask = self._ask_px[0]
        bid_size = self._bids[bid]
        ask_size = self._asks[ask]
        return (bid * ask_size + ask * bid_size) / (bid_size + ask_size)

    @property
    def spread(self) -> Decimal | None:
        """best ask - best bid (negative when crossed), or None unless both sides exist."""
        if not self._bid_px or not self._ask_px:
            return None
        return self._ask_px[0] - self._bid_px[-1]

    @property
    def is_crossed(self) -> bool:
        """True when best bid >= best ask (crossed or locked); happens briefly mid-burst."""
        return bool(self._bid_px and self._ask_px and self._bid_px[-1] >= self._ask_px[0])

    @property
    def is_empty(self) -> bool:
        return not self._bid_px and not self._ask_px

    def size_at(self, side: Side, price: Decimal) -> Decimal:
        """Total size resting at `price` on `side` (zero when there is no level)."""
        levels = self._bids if side is _BUY else self._asks
        return levels.get(price, Decimal(0))

    def depth(self, side: Side) -> int:
        """Number of levels on `side`."""
        return len(self._bid_px if side is _BUY else self._ask_px)

    def levels(self, side: Side, depth: int | None = None) -> tuple[PriceLevel, ...]:
        """The levels of `side`, best first (bids descending, asks ascending), at most `depth`."""
        n = len(self._bid_px if side is _BUY else self._ask_px)
        if depth is not None:
            n = min(n, max(depth, 0))
        if side is _BUY:
            bids = self._bids
            return tuple(PriceLevel(p, bids[p]) for p in reversed(self._bid_px[len(self._bid_px) - n :]))
        asks = self._asks
        return tuple(PriceLevel(p, asks[p]) for p in self._ask_px[:n])

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.token_id[:12]}..., bid={self.best_bid}, ask={self.best_ask}, "
            f"levels={len(self._bid_px)}/{len(self._ask_px)}, tick={self.tick_size}, epoch={self.epoch})"
        )


# -- the market as we should read it: without our own orders, without dust -----------------------


def own_levels(
    market: Market, orders: Iterable[tuple[str, Side, Decimal, Decimal]]
) -> dict[tuple[bool, Decimal], Decimal]:
    """Our resting size per (is it a bid, YES price), from (token id, side, price, remaining) of each
    of our orders: what to take out of the YES book before reading the market off it."""
    ours: dict[tuple[bool, Decimal], Decimal] = {}
    for token_id, side, price, remaining in orders:
        key = (market.is_bid(token_id, side), market.yes_price(token_id, price))
        ours[key] = ours.get(key, _ZERO) + remaining
    return ours


def external_levels(
    bids: Iterable[PriceLevel],
    asks: Iterable[PriceLevel],
    ours: Mapping[tuple[bool, Decimal], Decimal],
    dust: Decimal,
) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
    """The YES book (best first) without our own size and without levels smaller than `dust`.
    Quoting around, marking to or selling into a book our own quotes make would anchor us to
    ourselves; a level below the dust size is not the market."""

    def side(levels: Iterable[PriceLevel], is_bid: bool) -> tuple[PriceLevel, ...]:
        out = []
        for level in levels:
            left = level.size - ours.get((is_bid, level.price), _ZERO)
            if left >= dust and left > 0:
                out.append(PriceLevel(level.price, left))
        return tuple(out)

    return side(bids, True), side(asks, False)


@dataclass(frozen=True, slots=True)
class BookTop:
    """What the quoter reads off a YES book: the best real levels (without our size, without dust)
    to price around, and the raw touch (dust included) that a post-only quote must stay short of."""

    bid: PriceLevel | None
    ask: PriceLevel | None
    touch_bid: Decimal | None
    touch_ask: Decimal | None


def book_top(
    bids: Iterable[PriceLevel],
    asks: Iterable[PriceLevel],
    ours: Mapping[tuple[bool, Decimal], Decimal],
    dust: Decimal,
) -> BookTop:
    raw_bids, raw_asks = external_levels(bids, asks, ours, _ZERO)
    return BookTop(
        next((level for level in raw_bids if level.size >= dust), None),
        next((level for level in raw_asks if level.size >= dust), None),
        raw_bids[0].price if raw_bids else None,
        raw_asks[0].price if raw_asks else None,
    )


def mark(bids: tuple[PriceLevel, ...], asks: tuple[PriceLevel, ...]) -> Decimal | None:
    """The YES price positions are marked at: the mid of the external book's best levels; None
    without a two-sided, uncrossed book. The engine, the dashboard and `polymm pnl` all use it."""
    if not bids or not asks or bids[0].price >= asks[0].price:
        return None
    return (bids[0].price + asks[0].price) / _TWO
