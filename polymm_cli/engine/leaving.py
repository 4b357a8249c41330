"""Our cancelled orders the market feed still shows: kept out of the book without us until it drops them.

A cancel's answer comes back before the feed's book change does (on Polymarket, and on recorded data
replayed with feed latency). In that gap the order is no longer ours in `QuotingEngine.live`, yet the
feed's level still holds its size; read naively, the book without us would count it as someone
else's liquidity, and the next decision would quote around a level that is about to vanish (then
requote again when it does). So each confirmed cancel is remembered with the size the feed showed at
its level when the cancel was sent, and subtracted until the feed's level has dropped by the order's
size, or `hold_s` has passed (the feed may have dropped it before the cancel was sent, or another
order may have joined the level: the subtraction must never hide real size for long).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.model import OurOrder

HOLD_S = 1.0  # the longest a cancelled order is subtracted, in seconds of the engine's clock


@dataclass(frozen=True, slots=True)
class _Leaving:
    order: OurOrder
    level_before: Decimal  # the feed's size at the order's level when the cancel was sent
    until: float  # monotonic seconds


class LeavingOrders:
    """Cancelled orders per market, until the feed no longer shows them (or `hold_s` passes).

    Kept by market, then by order id, so reading one market's book walks only its own orders; a
    market's bucket is dropped once empty, so an empty `LeavingOrders` is falsy at no cost."""

    def __init__(self, hold_s: float = HOLD_S) -> None:
        self.hold_s = hold_s
        self._by_market: dict[str, dict[str, _Leaving]] = {}

    def __len__(self) -> int:
        return sum(len(orders) for orders in self._by_market.values())

    def __bool__(self) -> bool:
        return bool(self._by_market)

    def add(self, order: OurOrder, level_before: Decimal, now: float) -> None:
        """`order`'s cancel is confirmed; the feed showed `level_before` at its level when it was sent."""
        orders = self._by_market.setdefault(order.market, {})
        for oid in [oid for oid, left in orders.items() if now >= left.until]:
            del orders[oid]  # a market read rarely must not keep its cancelled orders
        orders[order.order_id] = _Leaving(order, level_before, now + self.hold_s)

    def forget(self, market: str) -> None:
        """`market` is no longer held: its cancelled orders go with it."""
        self._by_market.pop(market, None)

    def shown(self, market: str, feed_size: Callable[[OurOrder], Decimal], now: float) -> Sequence[OurOrder]:
        """The cancelled orders of `market` the feed still shows (`feed_size`: its level's size now);
        the others are forgotten."""
        orders = self._by_market.get(market)
        if not orders:
            return ()
        out: list[OurOrder] = []
        for oid, leaving in list(orders.items()):
            order = leaving.order
            if now >= leaving.until or feed_size(order) <= leaving.level_before - order.remaining:
                del orders[oid]
            else:
                out.append(order)
        if not orders:
            del self._by_market[market]
        return out
