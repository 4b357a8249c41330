"""Queue-position models: how much resting size stands ahead of one of our orders at its price level.

An L2 feed says how much rests at a price, never where in the FIFO queue our order would be. As in
hftbacktest (`backtest/models/queue.rs`), we estimate it:

- our order joins the back: `ahead` = the level's size (without us) when it arrives;
- a taker trade at our price of size T takes from the front: `ahead -= T`; whatever it takes beyond
  `ahead` (and beyond our own earlier orders at that price) fills us;
- a decrease of the level that no trade explains is a cancel somewhere in the queue: the model says
  which share of it was ahead of us. `RiskAverseQueue`: none (only `ahead = min(ahead, level)`),
  hftbacktest's `RiskAdverseQueueModel`. `PowerProbQueue(n)`: hftbacktest's `ProbQueueModel` with
  `PowerProbQueueFunc(n)`: with f(x) = x**n, the share ahead is f(ahead) / (f(ahead) + f(behind)) and
      ahead' = ahead - share*d + min(behind - (1 - share)*d, 0), at most the new level size.

Trades and level changes of one match can arrive in either order: the local exchange (and the
feeds hftbacktest assumes) send the trade first, real Polymarket usually sends the `price_change`
some 20 ms before the `last_trade_price`. Each position therefore keeps both credits: trade size not
yet seen as a level decrease (the level's next decrease is explained by it, as hftbacktest's
`cum_trade_qty`), and a level decrease taken for a cancel that a trade arriving within
`match_window_s` reinterprets (the part of our advance that decrease gave is taken back and the
trade applied in full). Either order gives the same queue position.

Pure: Decimal, stdlib, no clock (times are passed in).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

ZERO = Decimal(0)
ONE = Decimal(1)
# How long a trade and the level change of the same match may lie apart. In the tickscope capture
# (real Polymarket, June 2026) the price_change precedes its last_trade_price by a median 20 ms, 95%
# within 35 ms, 99% within 0.3 s; a longer window would read a real cancel before an unrelated
# trade as that trade's level change.
MATCH_WINDOW_S = 0.25


class QueueModel(Protocol):
    """Which share of a level decrease not explained by trades happened ahead of our order."""

    @property
    def name(self) -> str: ...

    def front_share(self, ahead: Decimal, behind: Decimal) -> Decimal:
        """The share (0..1) of a cancel at our level that was ahead of us."""
        ...


@dataclass(frozen=True, slots=True)
class RiskAverseQueue:
    """Cancels never move us forward: ahead shrinks only by trades (and to the level's size)."""

    @property
    def name(self) -> str:
        return "risk-averse"

    def front_share(self, ahead: Decimal, behind: Decimal) -> Decimal:
        return ZERO


@dataclass(frozen=True, slots=True)
class PowerProbQueue:
    """hftbacktest's ProbQueueModel with PowerProbQueueFunc(n): a cancel is ahead of us with the
    share f(ahead) / (f(ahead) + f(behind)), f(x) = x**n. n = 1 splits it pro rata; a larger n puts
    more of it on the longer side of us."""

    n: Decimal = Decimal(3)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", Decimal(str(self.n)))
        if self.n <= 0:
            raise ValueError(f"the power of a probabilistic queue must be positive, got {self.n}")

    @property
    def name(self) -> str:
        return f"power-prob({self.n.normalize():f})"

    def front_share(self, ahead: Decimal, behind: Decimal) -> Decimal:
        if ahead <= 0:
            return ZERO
        if behind <= 0:
            return ONE
        front, back = ahead**self.n, behind**self.n
        return front / (front + back)


def after_cancel(model: QueueModel, ahead: Decimal, level_before: Decimal, decrease: Decimal) -> Decimal:
    """The size ahead of us after `decrease` left a level of `level_before` without a trade."""
    behind = max(level_before - ahead, ZERO)
    share = model.front_share(ahead, behind)
    estimate = ahead - share * decrease + min(behind - (ONE - share) * decrease, ZERO)
    return min(max(estimate, ZERO), max(level_before - decrease, ZERO))


@dataclass(slots=True)
class QueuePosition:
    """One of our orders in its level's queue. `ahead` is external size only (our own earlier
    orders at the price are counted by `LevelQueue`)."""

    order_id: str
    ahead: Decimal
    trade_credit: Decimal = ZERO  # trade size at the level not yet seen as a level decrease
    drop: Decimal = ZERO  # level decrease taken for cancels, a later trade may still explain
    moved: Decimal = ZERO  # how far that decrease moved us forward
    drop_ts: float = 0.0


class LevelQueue:
    """Our orders at one price level of one side (in arrival order) and the model that moves them.

    `on_depth(before, after, ts)` for every change of the level's external size, `on_trade(size,
    ts, remaining)` for every taker trade at the level's price; `on_trade` says how much of each of
    our orders it fills. Our orders' sizes never appear in the external sizes passed in.
    """

    __slots__ = ("match_window_s", "model", "positions")

    def __init__(self, model: QueueModel, match_window_s: float = MATCH_WINDOW_S) -> None:
        self.model = model
        self.match_window_s = match_window_s
        self.positions: list[QueuePosition] = []

    def join(self, order_id: str, level_size: Decimal) -> QueuePosition:
        """Our order arrives at the back of the level."""
        position = QueuePosition(order_id, max(level_size, ZERO))
        self.positions.append(position)
        return position

    def leave(self, order_id: str) -> None:
        self.positions = [p for p in self.positions if p.order_id != order_id]

    def ahead_of(self, order_id: str) -> Decimal | None:
        return next((p.ahead for p in self.positions if p.order_id == order_id), None)

    def on_depth(self, before: Decimal, after: Decimal, ts: float) -> None:
        """The level's external size went from `before` to `after`."""
        for p in self.positions:
            self._expire(p, ts)
            decrease = before - after
            explained = min(max(decrease, ZERO), p.trade_credit)
            p.trade_credit = ZERO  # a level change reflects every trade before it (hftbacktest)
            unexplained = decrease - explained
            if unexplained <= 0:
                p.ahead = min(p.ahead, max(after, ZERO))
                continue
            moved_to = after_cancel(self.model, p.ahead, before - explained, unexplained)
            p.moved += p.ahead - moved_to
            p.drop += unexplained
            p.drop_ts = ts
            p.ahead = moved_to

    def on_trade(self, size: Decimal, ts: float, remaining: dict[str, Decimal]) -> list[tuple[str, Decimal]]:
        """A taker trade of `size` at the level's price: (order id, size filled) for each of our
        orders it reaches; `remaining` is each order's open size before the trade."""
        fills: list[tuple[str, Decimal]] = []
        ours_ahead = ZERO
        for p in self.positions:
            self._expire(p, ts)
            already, took_back = self._explain_drop(p, size)
            reach = size - took_back - p.ahead  # how far past the external size ahead it reaches
            p.trade_credit += size - already  # the part no level decrease has shown yet
            p.ahead = max(p.ahead - size + took_back, ZERO)
            left = remaining.get(p.order_id, ZERO)
            filled = min(left, max(reach - ours_ahead, ZERO))
            if filled > 0:
                fills.append((p.order_id, filled))
            ours_ahead += left
        return fills

    def _explain_drop(self, p: QueuePosition, size: Decimal) -> tuple[Decimal, Decimal]:
        """The part of a trade an earlier level decrease already showed, and how much of the advance
        that decrease gave us (as a cancel) the trade takes back, since the trade then applies in
        full; the decrease is consumed."""
        if p.drop <= 0:
            return ZERO, ZERO
        already = min(size, p.drop)
        took_back = p.moved * already / p.drop
        p.moved -= took_back
        p.drop -= already
        return already, took_back

    def _expire(self, p: QueuePosition, ts: float) -> None:
        """A decrease no trade explained within the window was a cancel after all. (Trade size
        waits for the level's next change however late, as in hftbacktest.)"""
        if p.drop and ts - p.drop_ts > self.match_window_s:
            p.drop = p.moved = ZERO
