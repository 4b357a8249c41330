"""Market regime: when to widen, when to stand aside. Pure state fed with observations.

Four rules, each configurable and off-able, each explaining itself:

- volatility: an EWMA of squared mid changes per second (half-life `vol_halflife_s`) gives the
  mid's volatility; above `vol_reference` the spread widens by
  1 + sensitivity x (vol / reference - 1), capped at `max_widen`;
- jump (or sweep): the mid moved at least `jump_threshold` within `jump_window_s` -> both sides
  stand aside for `jump_cooldown_s` (quotes left in the book during a jump are what informed
  traders pick off);
- trend: the mid drifted at least `trend_threshold` over `trend_window_s` -> the side that trades
  against the drift stands aside (in a rising market our asks are lifted one after another: a
  one-way market fills only the losing side);
- after a fill, that side waits `fill_cooldown_s` before it quotes again;
- toxic flow (`toxicity.py`): our fills are marked out against the mid a few seconds later, per
  side; a side being run over is widened, and pulled for a while past a second threshold (both
  done by the quoter, which knows whether the side reduces our exposure).

Time is passed in (seconds); nothing here reads a clock or does I/O. Stdlib + decimal + model only.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from polymm_cli.model import ONE, ZERO
from polymm_cli.toxicity import FillToxicity, SideToxicity, ToxicityParams

QuoteSide = Literal["bid", "ask"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeParams:
    vol_enabled: bool = True
    vol_halflife_s: float = 30.0
    # Mid change per sqrt(second) that still counts as normal: 0.8c/sqrt(s). Calibrated on the local
    # exchange's flow (bench/bench_quality.py): lower references widen in ordinary markets and
    # cost more fills than they save.
    vol_reference: float = 0.008
    vol_sensitivity: float = 1.0
    max_widen: float = 3.0
    # Off by default: a 3c move within 5 s is ordinary in the calibrated busy regimes, and standing
    # aside for 15 s after each cost more than it saved (docs/strategy.md#defaults-measured).
    jump_enabled: bool = False
    jump_threshold: Decimal = Decimal("0.03")
    jump_window_s: float = 5.0
    jump_cooldown_s: float = 15.0
    trend_enabled: bool = True
    trend_threshold: Decimal = Decimal("0.04")
    trend_window_s: float = 60.0
    fill_cooldown_s: float = 0.0  # 0 = off
    toxicity: ToxicityParams = field(default_factory=ToxicityParams)

    def __post_init__(self) -> None:
        for name in ("vol_halflife_s", "jump_window_s", "trend_window_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("vol_reference",):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_widen < 1:
            raise ValueError("max_widen must be >= 1")
        if self.vol_sensitivity < 0 or self.jump_cooldown_s < 0 or self.fill_cooldown_s < 0:
            raise ValueError("sensitivity and cool-downs must be >= 0")
        if self.jump_threshold <= 0 or self.trend_threshold <= 0:
            raise ValueError("jump and trend thresholds must be > 0")

    @classmethod
    def off(cls) -> RegimeParams:
        """Every rule disabled: the seed design's behaviour."""
        return cls(
            vol_enabled=False,
            jump_enabled=False,
            trend_enabled=False,
            fill_cooldown_s=0.0,
            toxicity=ToxicityParams(enabled=False),
        )


@dataclass(frozen=True, slots=True)
class RegimeView:
    """What the regime asks of the quoter now."""

    spread_multiplier: Decimal
    blocked: tuple[tuple[QuoteSide, str], ...]
    notes: tuple[str, ...]
    volatility: float  # mid change per sqrt(second): the dashboard, the volatility-scaled skew
    toxic: tuple[SideToxicity, SideToxicity] | None = None  # bid, ask markouts (None: no evidence yet)


@dataclass
class MarketRegime:
    """The observations of one market, and the rules applied to them."""

    params: RegimeParams
    _history: deque[tuple[float, Decimal]] = field(default_factory=deque)  # the trend window's mids
    _highs: deque[tuple[float, Decimal]] = field(default_factory=deque)  # jump window: decreasing mids
    _lows: deque[tuple[float, Decimal]] = field(default_factory=deque)  # jump window: increasing mids
    _var_rate: float = 0.0  # EWMA of (dmid^2 / dt)
    _last: tuple[float, Decimal] | None = None
    _jump_until: float = 0.0
    _jump_seen_at: float = -math.inf
    _jump_note: str = ""
    _fill_until: dict[str, float] = field(default_factory=dict)
    _toxicity: FillToxicity | None = None

    def __post_init__(self) -> None:
        if self.params.toxicity.enabled:
            self._toxicity = FillToxicity(self.params.toxicity)

    def observe_mid(self, t: float, mid: Decimal) -> None:
        """A new mid at time t (seconds); repeated mids are fine."""
        p = self.params
        if self._toxicity is not None:
            self._toxicity.observe_mid(t, mid)
        if self._last is not None:
            last_t, last_mid = self._last
            dt = max(t - last_t, 1e-3)
            change = float(mid - last_mid)
            keep = math.exp(-math.log(2) * dt / p.vol_halflife_s)  # weight of the old estimate
            self._var_rate = keep * self._var_rate + (1.0 - keep) * (change * change / dt)
        self._last = (t, mid)
        if p.trend_enabled:
            self._history.append((t, mid))
            while self._history[0][0] < t - p.trend_window_s:
                self._history.popleft()
        if p.jump_enabled:
            self._observe_jump(t, mid)

    def _observe_jump(self, t: float, mid: Decimal) -> None:
        """Sliding-window min and max of the mid (monotonic deques: O(1) a observation, on the hot path)."""
        p = self.params
        highs, lows = self._highs, self._lows
        while highs and highs[-1][1] <= mid:
            highs.pop()
        highs.append((t, mid))
        while lows and lows[-1][1] >= mid:
            lows.pop()
        lows.append((t, mid))
        # only moves since the last jump count: re-observing the jumped-to mid must not re-arm it
        since = max(t - p.jump_window_s, self._jump_seen_at)
        while highs[0][0] < since:
            highs.popleft()
        while lows[0][0] < since:
            lows.popleft()
        low, high = lows[0][1], highs[0][1]
        if high - low >= p.jump_threshold:
            self._jump_seen_at = t
            self._jump_until = t + p.jump_cooldown_s
            self._jump_note = (
                f"jump: mid moved {high - low} within {p.jump_window_s:g}s (threshold "
                f"{p.jump_threshold}): standing aside for a {p.jump_cooldown_s:g}s cool-down"
            )
            highs.clear()
            lows.clear()
            highs.append((t, mid))
            lows.append((t, mid))

    def observe_fill(
        self,
        t: float,
        side: QuoteSide,
        price: Decimal | None = None,
        size: Decimal | None = None,
        rebate: Decimal = ZERO,
    ) -> None:
        """One fill of ours on `side` (YES terms); with its YES price and size it is marked out too
        (`rebate`: what it earns a share as the maker, part of its edge)."""
        if self._toxicity is not None and price is not None and size is not None:
            self._toxicity.observe_fill(t, side, price, size, rebate)
        if self.params.fill_cooldown_s > 0:
            self._fill_until[side] = t + self.params.fill_cooldown_s

    def volatility(self, now: float) -> float:
        """Mid change per sqrt(second), decayed over the quiet time since the last observation."""
        if self._last is None:
            return 0.0
        quiet = max(0.0, now - self._last[0])
        return math.sqrt(self._var_rate * math.exp(-math.log(2) * quiet / self.params.vol_halflife_s))

    def _trend_block(self, now: float, blocked: dict[QuoteSide, str]) -> None:
        """Block the side that would trade into a mid drifting past the threshold over the window."""
        p = self.params
        if len(self._history) < 2:
            return
        # observations are in time order and trimmed to the window as they arrive: only the few
        # that aged out since the last one need skipping
        first = next((m for t, m in self._history if t >= now - p.trend_window_s), None)
        if first is None:
            return
        drift = self._history[-1][1] - first
        if drift >= p.trend_threshold:
            blocked.setdefault(
                "ask", f"trend: mid up {drift} over {p.trend_window_s:g}s: not selling into a rising market"
            )
        elif drift <= -p.trend_threshold:
            blocked.setdefault(
                "bid",
                f"trend: mid down {-drift} over {p.trend_window_s:g}s: not buying into a falling market",
            )

    def assess(self, now: float) -> RegimeView:
        p = self.params
        blocked: dict[QuoteSide, str] = {}
        notes: list[str] = []
        multiplier = ONE
        vol = self.volatility(now)
        if p.vol_enabled and vol > p.vol_reference:
            widen = min(p.max_widen, 1.0 + p.vol_sensitivity * (vol / p.vol_reference - 1.0))
            multiplier = Decimal(str(round(widen, 3)))
            notes.append(f"volatility {vol:.4f}/sqrt(s) above {p.vol_reference:g}: spread x{multiplier}")
        if p.jump_enabled and now < self._jump_until:
            for side in ("bid", "ask"):
                blocked[side] = self._jump_note
        if p.trend_enabled:
            self._trend_block(now, blocked)
        for side, until in self._fill_until.items():
            if now < until:
                blocked.setdefault(
                    side,  # type: ignore[arg-type]
                    f"after-fill cool-down: {side} waits {until - now:.1f}s more",
                )
        toxic = self._toxic(now)
        for reason in dict.fromkeys(blocked.values()):
            notes.append(reason)
        return RegimeView(multiplier, tuple(blocked.items()), tuple(notes), vol, toxic)

    def _toxic(self, now: float) -> tuple[SideToxicity, SideToxicity] | None:
        """The markouts per side. Widening and pulling are the quoter's: it knows whether the side
        reduces our exposure (a side that does is never pulled: that would trap the inventory)."""
        toxicity = self._toxicity
        if toxicity is None or not toxicity.fills_seen:
            return None
        return toxicity.side("bid", now), toxicity.side("ask", now)
