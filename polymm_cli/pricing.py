"""A pricing model's hook into the quoter, and the order-arrival intensity it can estimate online.

A `Pricer` (optional, `EngineConfig.pricer` makes one per market; None = polymm's own quoting) is
asked once per decision for the centre of the quotes (a reservation price) and the half-spread
around it, from what the engine already knows (`PricingInput`: the mid, the net position, the time,
the mid's volatility from `regime.MarketRegime`) and the market trades it was shown (`observe_trade`,
with the mid just before each). The quoter still does everything else: ticks (rounded away from the
centre), post-only, the position limit, sizes, which order carries a side. Any pair of distances
(delta_bid, delta_ask) from the mid is one centre and one half-spread: centre = mid + (delta_ask -
delta_bid) / 2, half-spread = (delta_bid + delta_ask) / 2, so two numbers carry every textbook maker.
Returning None leaves the decision to the quoter as configured (a model still warming up).

`TradeIntensity` estimates lambda(delta) = A exp(-k delta), the rate of market trades that reach a
quote delta away from the mid (the order-arrival intensity of Avellaneda-Stoikov and
Gueant-Lehalle-Fernandez-Tapia), from the trades of a rolling window: each trade's distance from
the mid before it, on a grid of `step` (half a tick: distances from a mid are multiples of it);
lambda at grid point j is the count of trades at least that far out per second; ln lambda = ln A -
k delta is fitted by least squares weighted by the counts (a count's log has variance ~ 1/count),
over the points beyond the mid where trades happened and that `min_count` trades reach.
Hummingbot's TradingIntensityIndicator fits the same curve to traded amounts per price level; counts
are used here because a quote is filled by a trade that reaches it, whatever its size.
Units: delta and the mid in pUSD per share (YES price), A in trades per second, k per pUSD.

Pure: stdlib, decimal and `model` only; times are seconds the caller read; floats for the model.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from polymm_cli.model import Market


@dataclass(frozen=True, slots=True, kw_only=True)
class PricingInput:
    """What the engine knows at a decision."""

    t: float  # seconds (the engine's monotonic clock)
    mid: Decimal  # the plain mid of the book without us (a warming-up book's depth-weighted mid)
    net_position: Decimal  # e = YES - NO shares, fills still settling included
    volatility: float  # the mid's volatility, pUSD per sqrt(second) (regime.MarketRegime.volatility)
    size: Decimal  # shares per quote (QuoteParams.size): one lot
    position_limit: Decimal  # L on |e|, shares


@dataclass(frozen=True, slots=True)
class PricingQuote:
    """Where to centre the quotes and how far each side sits from the centre (pUSD, > 0)."""

    centre: Decimal
    half_spread: Decimal
    note: str  # how they were made, for the decision's notes


class Pricer(Protocol):
    """One market's pricing model: sees the market's trades, answers each decision."""

    def observe_trade(self, t: float, yes_price: Decimal, size: Decimal, mid: Decimal | None) -> None:
        """A market trade at `yes_price` (YES terms) at time t, ours included; `mid` is the mid of the
        book without us just before it (None without a two-sided book)."""

    def price(self, inp: PricingInput) -> PricingQuote | None:
        """The centre and half-spread now, or None to leave the quotes to the quoter as configured."""


class PricerFactory(Protocol):
    """Makes each market its own pricer (estimators keep per-market state)."""

    def __call__(self, market: Market) -> Pricer: ...


@dataclass(frozen=True, slots=True)
class Intensity:
    """A fitted lambda(delta) = a x exp(-k x delta)."""

    a: float  # trades per second at delta = 0 (extrapolated)
    k: float  # per pUSD
    levels: int  # grid points the fit used

    def rate(self, delta: float) -> float:
        return self.a * math.exp(-self.k * delta)


@dataclass
class TradeIntensity:
    """lambda(delta) = A exp(-k delta) from the market's trades over a rolling window (see the module)."""

    step: float  # grid of distances from the mid, pUSD (half a tick)
    window_s: float = 600.0
    min_count: int = 3  # a grid point needs this many trades reaching it to enter the fit
    _trades: deque[tuple[float, int]] = field(default_factory=deque)  # (t, grid level of its distance)
    _first_t: float | None = None

    def observe(self, t: float, price: float, mid: float) -> None:
        """A trade at `price` when the mid was `mid`."""
        if self._first_t is None:
            self._first_t = t
        self._trades.append((t, round(abs(price - mid) / self.step)))
        self._trim(t)

    def _trim(self, now: float) -> None:
        while self._trades and self._trades[0][0] < now - self.window_s:
            self._trades.popleft()

    def fit(self, now: float) -> Intensity | None:
        """The fit over the window up to `now`; None until two grid points beyond the mid hold
        `min_count` trades each and the rate falls with the distance (k > 0)."""
        self._trim(now)
        if self._first_t is None or not self._trades:
            return None
        span = min(self.window_s, now - self._first_t)
        if span <= 0:
            return None
        counts: dict[int, int] = {}
        for _, level in self._trades:
            counts[level] = counts.get(level, 0) + 1
        reaching, points = 0, []
        for level in sorted(counts, reverse=True):  # cumulative from the far end: trades at >= level
            reaching += counts[level]
            if level >= 1 and reaching >= self.min_count:
                points.append((level * self.step, math.log(reaching / span), reaching))
        return _weighted_fit(points)


def _weighted_fit(points: list[tuple[float, float, int]]) -> Intensity | None:
    """Least squares of y = ln A - k x, each point weighted by its count."""
    if len(points) < 2:
        return None
    total = sum(w for _, _, w in points)
    mean_x = sum(w * x for x, _, w in points) / total
    mean_y = sum(w * y for _, y, w in points) / total
    sxx = sum(w * (x - mean_x) ** 2 for x, _, w in points)
    sxy = sum(w * (x - mean_x) * (y - mean_y) for x, y, w in points)
    slope = sxy / sxx
    if slope >= 0:
        return None
    return Intensity(a=math.exp(mean_y - slope * mean_x), k=-slope, levels=len(points))
