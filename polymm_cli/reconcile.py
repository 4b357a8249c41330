"""Reconciliation: the smallest set of cancels and places that turns our live orders into the targets.

Owns the matching of target quotes (from `quoter`) against the orders we have resting: a live
order is KEPT for a target when it is on the same token and side, its price is within
`price_ticks` ticks of the target's, and its remaining size is within `size_fraction` of the
target's size - so a partly filled order that is still close enough keeps its queue position
instead of being cancelled and re-placed. Each live order serves at most one target and each target
at most one live order; every live order that serves no target (stale, duplicate, off-market) is
cancelled. Nothing is ever silently left resting: every live order is either kept or cancelled.

One deliberate tightening of the size tolerance: a live order LARGER than its target is never
kept. The quoter's size is a cap (the position limit cut of the 2026-01-16 post-mortem, or the
inventory actually held for a SELL), so keeping a bigger order could let one fill overshoot the
limit or sell tokens we no longer hold. Partly filled orders (smaller than the target) are the
case the tolerance is for.

Matching is a maximum bipartite matching (augmenting paths) over the admissible (target, order)
pairs, so as many targets as possible keep an order (the smallest plan); each target prefers the
closest order (price distance, then size distance, then order id) and targets are served in
their order, so the result is deterministic and does not depend on the order the venue listed
the live orders in. Output order: `places` and `keeps` follow the targets' order, `cancels` are
sorted by order id.

Must not: import anything but stdlib, decimal and `polymm_cli.model` (and the `TargetQuote`
record of `quoter`); do I/O; read a clock; judge risk (that is `risk.vet`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.model import ZERO, OurOrder, Side
from polymm_cli.quoter import TargetQuote


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a live order may differ from its target and still be kept."""

    price_ticks: int = 0  # |price - target.price| <= price_ticks x tick
    size_fraction: Decimal = Decimal("0.2")  # target.size x (1 - f) <= remaining <= target.size

    def __post_init__(self) -> None:
        if self.price_ticks < 0:
            raise ValueError(f"price_ticks must be >= 0, got {self.price_ticks}")
        if self.size_fraction < ZERO:
            raise ValueError(f"size_fraction must be >= 0, got {self.size_fraction}")


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """Orders to cancel (ids), targets to place, and live orders kept as they are (ids)."""

    cancels: tuple[str, ...] = ()
    places: tuple[TargetQuote, ...] = ()
    keeps: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the plan changes nothing at the venue (kept orders need no action)."""
        return not self.cancels and not self.places


_EMPTY_PLAN = ReconcilePlan()


def empty_plan() -> ReconcilePlan:
    """A plan that does nothing."""
    return _EMPTY_PLAN


def within_tolerance(order: OurOrder, target: TargetQuote, *, tick: Decimal, tolerance: Tolerance) -> bool:
    """Whether `order` may stand for `target` (same token and side, price and size close enough)."""
    if order.token_id != target.token_id or order.side is not target.order_side:
        return False
    if abs(order.price - target.price) > tolerance.price_ticks * tick:
        return False
    remaining = order.remaining
    return target.size - tolerance.size_fraction * target.size <= remaining <= target.size


def reconcile(
    targets: Sequence[TargetQuote],
    live: Sequence[OurOrder],
    *,
    tick: Decimal,
    tolerance: Tolerance,
) -> ReconcilePlan:
    """The smallest cancel/place plan that leaves exactly one order per target within tolerance.

    Live orders listed twice under one id count once. See the module docstring for the matching
    rule and the output order.
    """
    if not live:
        return ReconcilePlan(places=tuple(targets)) if targets else _EMPTY_PLAN
    by_key, ids = _index(live)
    options = [_candidates(t, by_key.get((t.token_id, t.order_side), ()), tick, tolerance) for t in targets]
    kept_for = _match(options)
    places = tuple(t for ti, t in enumerate(targets) if ti not in kept_for)
    keeps = tuple(kept_for[ti] for ti in sorted(kept_for))
    kept_ids = set(keeps)
    cancels = tuple(sorted(oid for oid in ids if oid not in kept_ids))
    return ReconcilePlan(cancels=cancels, places=places, keeps=keeps)


def _index(live: Sequence[OurOrder]) -> tuple[dict[tuple[str, Side], list[OurOrder]], set[str]]:
    """Live orders by (token, side), and their ids; an id listed twice counts once."""
    by_key: dict[tuple[str, Side], list[OurOrder]] = {}
    seen: set[str] = set()
    for order in live:
        if order.order_id not in seen:
            seen.add(order.order_id)
            by_key.setdefault((order.token_id, order.side), []).append(order)
    return by_key, seen


def _candidates(
    target: TargetQuote, orders: Sequence[OurOrder], tick: Decimal, tolerance: Tolerance
) -> list[str]:
    """The live orders that may stand for `target` (same token and side, within tolerance), closest
    first: by price distance, then by how much less than the target's size they rest."""
    max_dp = tolerance.price_ticks * tick
    size = target.size
    floor = size - tolerance.size_fraction * size
    ranked: list[tuple[Decimal, Decimal, str]] = []
    for order in orders:
        dp = abs(order.price - target.price)
        if dp <= max_dp and floor <= order.remaining <= size:
            ranked.append((dp, size - order.remaining, order.order_id))
    if len(ranked) > 1:
        ranked.sort()
    return [oid for _dp, _ds, oid in ranked]


def _match(options: list[list[str]]) -> dict[int, str]:
    """Maximum matching (augmenting paths): as many targets as possible keep a live order, each
    taking its closest free one unless a later target has no other choice. Target index -> order id."""
    owner: dict[str, int] = {}  # order id -> target index

    def assign(ti: int, visited: set[str]) -> bool:
        for oid in options[ti]:
            if oid in visited:
                continue
            visited.add(oid)
            holder = owner.get(oid)
            if holder is None or assign(holder, visited):
                owner[oid] = ti
                return True
        return False

    for ti, opts in enumerate(options):
        if opts:
            assign(ti, set())
    return {ti: oid for oid, ti in owner.items()}
