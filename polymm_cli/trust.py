"""Whether the book's mid can be quoted around: dust, a fresh book, and jumps nobody confirmed.

A market maker's quotes hang off one number, so that number must not be moved by noise or by one
unconfirmed print:

- **dust**: levels smaller than `min_top_size` (default: the market's minimum order size) are not the
  market; they are skipped when the top of the book is read, so one 1-share order never moves our
  quotes;
- **a fresh book**: after the feed connects or reconnects nothing is quoted until a full snapshot of
  the book has arrived; for the first `warmup_updates` updates after it the mid is the
  depth-weighted one (the size-weighted average price of the best `warmup_depth` shares a side),
  which a thin level at the top cannot drag;
- **jumps**: a mid more than `jump_bound` away from both the mid we last trusted and the last trade
  is not quoted around until it is confirmed: by a trade within the bound of it, or by the new mid
  holding (within the bound) for `confirm_s` seconds and `confirm_updates` book updates.

Pure: stdlib, decimal and `model` only; every time is a monotonic `now` the caller read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.model import ZERO, PriceLevel


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustParams:
    min_top_size: Decimal | None = None  # None: the market's minimum order size
    warmup_updates: int = 3
    warmup_depth: Decimal = Decimal(50)  # shares a side the warm-up mid averages over
    jump_bound: Decimal = Decimal("0.05")
    confirm_s: float = 3.0
    confirm_updates: int = 2

    def __post_init__(self) -> None:
        if self.warmup_updates < 0 or self.confirm_updates < 0 or self.confirm_s < 0:
            raise ValueError("warm-up and confirmation counts and times must be >= 0")
        if self.jump_bound <= ZERO or self.warmup_depth <= ZERO:
            raise ValueError("jump_bound and warmup_depth must be > 0")


def without_dust(levels: Sequence[PriceLevel], min_size: Decimal) -> tuple[PriceLevel, ...]:
    """The levels that are the market: those of at least `min_size` shares (best first, as given)."""
    return tuple(level for level in levels if level.size >= min_size)


def depth_weighted_mid(
    bids: Sequence[PriceLevel], asks: Sequence[PriceLevel], depth: Decimal
) -> Decimal | None:
    """The average of each side's size-weighted price over its best `depth` shares; None when a
    side is empty."""
    bid, ask = _vwap(bids, depth), _vwap(asks, depth)
    return None if bid is None or ask is None else (bid + ask) / 2


def _vwap(levels: Sequence[PriceLevel], depth: Decimal) -> Decimal | None:
    taken, cost = ZERO, ZERO
    for level in levels:
        take = min(level.size, depth - taken)
        taken += take
        cost += take * level.price
        if taken >= depth:
            break
    return cost / taken if taken > 0 else None


class MidTrust:
    """One market's trust in its book: fed book and trade events, asked about each new mid."""

    __slots__ = (
        "_pending",
        "_pending_since",
        "_pending_updates",
        "fresh",
        "last_trade",
        "params",
        "trusted_mid",
        "updates",
    )

    def __init__(self, params: TrustParams) -> None:
        self.params = params
        self.fresh = False  # a full snapshot arrived since the feed last (re)connected
        self.updates = 0  # book updates since that snapshot
        self.trusted_mid: Decimal | None = None
        self.last_trade: Decimal | None = None  # YES price of the last trade seen
        self._pending: Decimal | None = None  # a jumped mid waiting for confirmation
        self._pending_since = 0.0
        self._pending_updates = 0

    # -- events -------------------------------------------------------------------------------------

    def on_snapshot(self) -> None:
        self.fresh, self.updates = True, 0

    def on_update(self) -> None:
        self.updates += 1
        if self._pending is not None:
            self._pending_updates += 1

    def on_trade(self, yes_price: Decimal) -> None:
        self.last_trade = yes_price

    def on_feed_lost(self) -> None:
        self.fresh, self.updates = False, 0

    @property
    def warming_up(self) -> bool:
        return self.updates < self.params.warmup_updates

    # -- the question -------------------------------------------------------------------------------

    def judge(self, mid: Decimal, now: float) -> str | None:
        """None when `mid` may be quoted around (it becomes the trusted mid), else why not."""
        if not self.fresh:
            return "no fresh book since the feed (re)connected"
        bound = self.params.jump_bound
        if self.trusted_mid is None or abs(mid - self.trusted_mid) <= bound or self._traded_near(mid):
            self._trust(mid)
            return None
        if self._pending is None or abs(mid - self._pending) > bound:
            self._pending, self._pending_since, self._pending_updates = mid, now, 0
        held = now - self._pending_since >= self.params.confirm_s
        if held and self._pending_updates >= self.params.confirm_updates:
            self._trust(mid)
            return None
        trade = f"{self.last_trade}" if self.last_trade is not None else "none"
        return (
            f"mid jumped from {self.trusted_mid} to {mid} (last trade {trade}): waiting for a trade near"
            f" it or {self.params.confirm_s:g} s and {self.params.confirm_updates} updates of it"
        )

    def _traded_near(self, mid: Decimal) -> bool:
        return self.last_trade is not None and abs(mid - self.last_trade) <= self.params.jump_bound

    def _trust(self, mid: Decimal) -> None:
        self.trusted_mid = mid
        self._pending = None
