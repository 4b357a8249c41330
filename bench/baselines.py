"""The textbook makers the quality bench measures polymm against, as pricers over the same engine.

Each is a `polymm_cli.pricing.Pricer`: per decision it sets the quotes' centre and half-spread; the
quoter still rounds to ticks (away from the centre), keeps post-only, cuts sizes at the position
limit. Units: prices and distances in pUSD per share (YES price); q in shares for
Avellaneda-Stoikov, in lots (one lot = the quote size) for GLFT; sigma in pUSD per sqrt(second);
tau in seconds; A in trades per second; k per pUSD; gamma per pUSD (AS) or per pUSD-lot (GLFT).

- **Avellaneda-Stoikov (2008)**: reservation price r = s - q gamma sigma^2 tau and spread
  gamma sigma^2 tau + (2 / gamma) ln(1 + gamma / k) around r. A continuous session has no terminal
  time, so tau is a constant rolling horizon (`TAU_S`, 300 s: as Hummingbot's
  avellaneda_market_making in its infinite-timeframe mode keeps time_left_fraction at 1).
- **Gueant-Lehalle-Fernandez-Tapia (2013)**, the closed-form asymptotic quotes:
  delta_bid = (1/gamma) ln(1 + gamma/k) + (2q + 1)/2 x omega, delta_ask = (1/gamma) ln(1 + gamma/k) -
  (2q - 1)/2 x omega, omega = sqrt(sigma^2 gamma / (2 k A) x (1 + gamma/k)^(1 + k/gamma)), q in lots:
  centre = s - q omega, half-spread = (1/gamma) ln(1 + gamma/k) + omega / 2.

Parameters, online as a practitioner estimates them: sigma is the engine's own volatility estimate
(`regime.MarketRegime`, an EWMA of squared mid changes per second, half-life `VOL_HALFLIFE_S`); A and
k are `pricing.TradeIntensity` fitted to the market trades' distances from the mid (refitted at
most once a second, 10-minute window). gamma is a preference, set once by a stated rule when the
estimates are first ready (`CALIBRATION_S` of trades, a fit, sigma > 0): **at the position limit the
side that reduces the position quotes at the mid** (AS: L gamma sigma^2 tau = the half-spread; GLFT:
delta_ask(Q) = 0 at Q = L / size lots), solved by bisection. Until then the pricer answers None and
the quoter quotes the seed design (its fixed spread around the mid).

Bench-only: the engine knows only the `Pricer` protocol.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from polymm_cli.model import Market
from polymm_cli.pricing import Intensity, PricingInput, PricingQuote, TradeIntensity
from polymm_cli.regime import RegimeParams

TAU_S = 300.0
VOL_HALFLIFE_S = 120.0
CALIBRATION_S = 30.0
REFIT_S = 1.0
# the engine's volatility estimate with a textbook maker: the regime's EWMA, every rule off
BASELINE_REGIME = RegimeParams(
    vol_enabled=False,
    vol_halflife_s=VOL_HALFLIFE_S,
    jump_enabled=False,
    trend_enabled=False,
    fill_cooldown_s=0.0,
)


# -- the formulas (pure) ------------------------------------------------------------------------


def as_quote(mid: float, q: float, gamma: float, sigma: float, tau: float, k: float) -> tuple[float, float]:
    """Avellaneda-Stoikov: (reservation price, half of the optimal spread); q in shares."""
    risk = gamma * sigma * sigma * tau
    return mid - q * risk, (risk + 2.0 / gamma * math.log1p(gamma / k)) / 2.0


def glft_omega(gamma: float, sigma: float, a: float, k: float) -> float:
    """GLFT's inventory term: sqrt(sigma^2 gamma / (2 k A) x (1 + gamma/k)^(1 + k/gamma))."""
    growth = math.exp((1.0 + k / gamma) * math.log1p(gamma / k))
    return math.sqrt(sigma * sigma * gamma / (2.0 * k * a) * growth)


def glft_deltas(q: float, gamma: float, sigma: float, a: float, k: float) -> tuple[float, float]:
    """GLFT closed-form asymptotic distances from the mid (delta_bid, delta_ask); q in lots."""
    base = math.log1p(gamma / k) / gamma
    omega = glft_omega(gamma, sigma, a, k)
    return base + (2.0 * q + 1.0) / 2.0 * omega, base - (2.0 * q - 1.0) / 2.0 * omega


def _bisect_increasing(f: Callable[[float], float], low: float = 1e-6, high: float = 1e6) -> float:
    """The root of an increasing f between low and high, in log space (gamma spans decades)."""
    lo, hi = math.log(low), math.log(high)
    for _ in range(100):
        mid = (lo + hi) / 2
        if f(math.exp(mid)) < 0:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2)


def as_gamma(limit: float, sigma: float, tau: float, k: float) -> float:
    """gamma at which, with q = L shares, the reducing side's quote r -/+ half-spread sits at the mid."""
    return _bisect_increasing(
        lambda g: limit * g * sigma * sigma * tau - as_quote(0.0, 0.0, g, sigma, tau, k)[1]
    )


def glft_gamma(lots: float, sigma: float, a: float, k: float) -> float:
    """gamma at which, with q = Q lots, delta_ask (the reducing side) is zero."""
    return _bisect_increasing(lambda g: -glft_deltas(lots, g, sigma, a, k)[1])


# -- the pricers --------------------------------------------------------------------------------


@dataclass
class _Textbook:
    """What both textbook makers share: the intensity fit from the trades, gamma set once."""

    tick: float
    name: str = ""
    gamma: float | None = None
    intensity: TradeIntensity = field(init=False)
    _fit: Intensity | None = None
    _fitted_at: float = -math.inf
    _started: float | None = None

    def __post_init__(self) -> None:
        self.intensity = TradeIntensity(step=self.tick / 2)

    def observe_trade(self, t: float, yes_price: Decimal, size: Decimal, mid: Decimal | None) -> None:
        if mid is not None:
            self.intensity.observe(t, float(yes_price), float(mid))

    def price(self, inp: PricingInput) -> PricingQuote | None:
        mid = float(inp.mid)
        self._started = inp.t if self._started is None else self._started
        if inp.t - self._fitted_at >= REFIT_S:
            self._fit = self.intensity.fit(inp.t) or self._fit
            self._fitted_at = inp.t
        fit, sigma = self._fit, inp.volatility
        if fit is None:
            return None
        if self.gamma is None:
            if inp.t - self._started < CALIBRATION_S or sigma <= 0:
                return None
            self.gamma = self.calibrate(inp, sigma, fit)
        centre, half = self.quote(inp, mid, sigma, fit, self.gamma)
        note = f"{self.name}: centre {centre:.4f}, half-spread {half:.4f} (A {fit.a:.3g}/s, k {fit.k:.3g}, "
        note += f"sigma {sigma:.3g}, gamma {self.gamma:.3g})"
        return PricingQuote(Decimal(f"{centre:.6f}"), Decimal(f"{max(half, 1e-6):.6f}"), note)

    def calibrate(self, inp: PricingInput, sigma: float, fit: Intensity) -> float:
        raise NotImplementedError

    def quote(
        self, inp: PricingInput, mid: float, sigma: float, fit: Intensity, gamma: float
    ) -> tuple[float, float]:
        raise NotImplementedError


@dataclass
class AvellanedaStoikov(_Textbook):
    name: str = "Avellaneda-Stoikov"
    tau_s: float = TAU_S

    def calibrate(self, inp: PricingInput, sigma: float, fit: Intensity) -> float:
        return as_gamma(float(inp.position_limit), sigma, self.tau_s, fit.k)

    def quote(
        self, inp: PricingInput, mid: float, sigma: float, fit: Intensity, gamma: float
    ) -> tuple[float, float]:
        return as_quote(mid, float(inp.net_position), gamma, sigma, self.tau_s, fit.k)


@dataclass
class Glft(_Textbook):
    name: str = "GLFT"

    def calibrate(self, inp: PricingInput, sigma: float, fit: Intensity) -> float:
        return glft_gamma(float(inp.position_limit / inp.size), sigma, fit.a, fit.k)

    def quote(
        self, inp: PricingInput, mid: float, sigma: float, fit: Intensity, gamma: float
    ) -> tuple[float, float]:
        bid, ask = glft_deltas(float(inp.net_position / inp.size), gamma, sigma, fit.a, fit.k)
        return mid + (ask - bid) / 2.0, (bid + ask) / 2.0


def avellaneda_stoikov(market: Market) -> AvellanedaStoikov:
    """`EngineConfig.pricer` for Avellaneda-Stoikov."""
    return AvellanedaStoikov(tick=float(market.tick_size))


def glft(market: Market) -> Glft:
    """`EngineConfig.pricer` for GLFT."""
    return Glft(tick=float(market.tick_size))
