"""Adverse selection measured on our own fills: how far the mid runs against a side after it trades.

Owns the markout of every fill of ours and what it asks of the quoter, per side:

- each fill is remembered with the mid when it happened (the last mid observed before it) and marked
  out at the first mid observed `horizon_s` or more later: the **adverse move** is how far the mid
  went against the fill (down after our bid bought, up after our ask sold), the **edge** how far the
  fill price sat from the mid plus the maker rebate the fill earns on a fee-enabled market (what the
  fill earned at once: on a 0.001-tick crypto market the rebate is as large as the spread, and a
  side judged without it looks run over while it makes money). Both are summed per side, weighted by
  the fill's size, and every sum fades with half-life `halflife_s`, so old fills stop counting;
- the side's **toxicity** is adverse / edge over those sums: 1 means the mid's run after a fill ate
  the whole edge (the side traded at break-even), above 1 it loses money at the horizon;
- with at least `min_fills` fills' worth of evidence left (the fading count), a toxicity at or above
  `widen_at` widens that side's offset by toxicity / widen_at (capped at `max_widen`): the edge
  grows with the move it has to pay for;
- a markout that leaves the toxicity at or above `pull_at` pulls the side for `pull_s` seconds (it
  is being run over: quoting it at any price we would pick is a loss);
- either only when the excess (mean adverse move - threshold x mean edge) is at least `z` standard
  errors of the mean adverse move: a handful of fills in a jumpy market measure mostly noise, and
  acting on noise widens and pulls at random;
- recovery: a pull ends after `pull_s`; the widening ends when benign fills bring the toxicity down,
  or when the evidence fades below `min_fills` (nothing new has run the side over for a while);
- the side's fill rate (shares per second, the fading sum of sizes over its mean age) and its
  adverse move per share: what the reward-fitting gate weighs against the reward.

Cost: O(1) per observation (a fill is queued once and marked out once, in time order); nothing is
recomputed over history. Time is passed in (seconds); nothing here reads a clock or does I/O.
Stdlib + decimal only: prices come in as Decimal and are kept as float (a statistic, not money).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

QuoteSide = Literal["bid", "ask"]
_LN2 = math.log(2)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicityParams:
    enabled: bool = True
    horizon_s: float = 5.0  # a fill is marked out at the first mid this long after it
    halflife_s: float = 300.0  # the sums fade: a fill this old counts half
    min_fills: float = 2.0  # fills' worth of (fading) evidence needed before the side is judged
    widen_at: float = 0.8  # toxicity where the side starts widening (by toxicity / widen_at)
    max_widen: float = 3.0  # widening cap (x the side's base offset)
    pull_at: float = 1.5  # toxicity that pulls the side
    pull_s: float = 30.0  # how long a pulled side stays out
    min_edge: float = 0.001  # the edge per share is floored here (a fill at or through the mid)
    z: float = 1.0  # standard errors the excess over a threshold must reach before it is acted on

    def __post_init__(self) -> None:
        if self.horizon_s <= 0 or self.halflife_s <= 0 or self.min_edge <= 0:
            raise ValueError("toxicity horizon, half-life and min edge must be > 0")
        if self.min_fills < 0 or self.pull_s < 0 or self.z < 0:
            raise ValueError("toxicity min fills and pull time must be >= 0")
        if not 0 < self.widen_at <= self.pull_at:
            raise ValueError("toxicity thresholds must satisfy 0 < widen_at <= pull_at")
        if self.max_widen < 1:
            raise ValueError("toxicity max_widen must be >= 1")


@dataclass(frozen=True, slots=True)
class SideToxicity:
    """One side as the markouts see it now."""

    toxicity: float  # adverse move / edge (0 with no evidence)
    fills: float  # fading count of marked-out fills
    adverse: float  # mean adverse mid move per share filled (price)
    edge: float  # mean edge per share filled (price)
    fill_rate: float  # shares filled per second (fading)
    widen: float  # multiplier on this side's base offset (1 = none)
    pulled: str  # why the side is pulled ("" = it is not)
    note: str  # what the rule did, for the decision notes ("" = nothing)


_NOTHING = SideToxicity(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, "", "")


@dataclass(slots=True)
class _Side:
    adverse: float = 0.0  # fading sum of size x adverse move
    adverse_sq: float = 0.0  # fading sum of size x adverse move^2 (its spread: the noise)
    edge: float = 0.0  # fading sum of size x edge
    shares: float = 0.0  # fading sum of sizes
    count: float = 0.0  # fading count of fills
    at: float = 0.0  # when the sums were last brought up to date
    pulled_until: float = -math.inf
    pull_note: str = ""

    def fade(self, now: float, halflife: float) -> None:
        if now > self.at:
            keep = math.exp(-_LN2 * (now - self.at) / halflife)
            self.adverse *= keep
            self.adverse_sq *= keep
            self.edge *= keep
            self.shares *= keep
            self.count *= keep
            self.at = now


@dataclass
class FillToxicity:
    """The markouts of one market's fills, per side, and the rules applied to them."""

    params: ToxicityParams
    # (due, side, mid at the fill, price net of the rebate, size)
    _pending: deque[tuple[float, QuoteSide, float, float, float]] = field(default_factory=deque)
    _sides: dict[QuoteSide, _Side] = field(default_factory=lambda: {"bid": _Side(), "ask": _Side()})
    _mid: float | None = None
    fills_seen: bool = False  # a fill has been marked out: until then there is nothing to judge

    def observe_fill(
        self, t: float, side: QuoteSide, price: Decimal, size: Decimal, rebate: Decimal = Decimal(0)
    ) -> None:
        """One fill of ours (YES-terms side and price; `rebate` per share earned as the maker): marked
        out `horizon_s` later. A fill before any mid was seen has nothing to be marked against and is
        not counted."""
        if self.params.enabled and self._mid is not None:
            # the rebate lowers what a bid paid and raises what an ask got: the edge grows by it
            net = float(price - rebate if side == "bid" else price + rebate)
            self._pending.append((t + self.params.horizon_s, side, self._mid, net, float(size)))

    def observe_mid(self, t: float, mid: Decimal) -> None:
        """A mid at time t: marks out every fill whose horizon has passed (O(1) when none has)."""
        value = float(mid)
        pending = self._pending
        while pending and pending[0][0] <= t:
            _, side, mid0, price, size = pending.popleft()
            self._mark_out(t, side, mid0, price, size, value)
        self._mid = value

    def _mark_out(
        self, t: float, side: QuoteSide, mid0: float, price: float, size: float, mid: float
    ) -> None:
        p = self.params
        s = self._sides[side]
        s.fade(t, p.halflife_s)
        sign = 1.0 if side == "bid" else -1.0  # a bid bought: the mid falling is against it
        move = sign * (mid0 - mid)
        s.adverse += size * move
        s.adverse_sq += size * move * move
        s.edge += size * sign * (mid0 - price)
        s.shares += size
        s.count += 1.0
        self.fills_seen = True
        toxicity = self._toxicity(s)
        if s.count >= p.min_fills and toxicity >= p.pull_at and p.pull_s > 0 and self._clear(s, p.pull_at):
            s.pulled_until = t + p.pull_s
            s.pull_note = (
                f"toxic flow: {side} fills lost {toxicity:.2f}x their edge to the mid's run within "
                f"{p.horizon_s:g}s (pull at {p.pull_at:g}): {side} pulled for {p.pull_s:g}s"
            )

    def _clear(self, s: _Side, threshold: float) -> bool:
        """Whether the mean adverse move beats threshold x the mean edge by `z` standard errors."""
        mean = s.adverse / s.shares
        edge = max(s.edge / s.shares, self.params.min_edge)
        variance = max(0.0, s.adverse_sq / s.shares - mean * mean)
        return mean - threshold * edge >= self.params.z * math.sqrt(variance / max(s.count, 1.0))

    def _toxicity(self, s: _Side) -> float:
        if s.shares <= 0:
            return 0.0
        return s.adverse / max(s.edge, s.shares * self.params.min_edge)

    def side(self, side: QuoteSide, now: float) -> SideToxicity:
        """What the markouts ask of `side` at `now` (the sums faded to now; read-only)."""
        p = self.params
        s = self._sides[side]
        if not s.count and now >= s.pulled_until:
            return _NOTHING  # never filled (or marked out) on this side: the common case, kept cheap
        keep = math.exp(-_LN2 * max(0.0, now - s.at) / p.halflife_s)
        count, shares = s.count * keep, s.shares * keep
        toxicity = self._toxicity(s)
        per_share = shares if shares > 0 else 1.0
        adverse, edge = s.adverse * keep / per_share, s.edge * keep / per_share
        rate = shares * _LN2 / p.halflife_s  # a fading sum with half-life H holds rate x H / ln 2
        pulled = s.pull_note if p.enabled and now < s.pulled_until else ""
        widen, note = 1.0, ""
        if p.enabled and count >= p.min_fills and toxicity >= p.widen_at and self._clear(s, p.widen_at):
            widen = min(p.max_widen, toxicity / p.widen_at)
            note = (
                f"toxic flow: {side} fills lost {toxicity:.2f}x their edge within {p.horizon_s:g}s "
                f"({count:.1f} fills' evidence; widen at {p.widen_at:g}): {side} offset x{widen:.2f}"
            )
        return SideToxicity(toxicity, count, adverse, edge, rate, widen, pulled, note)
