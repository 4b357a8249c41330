"""The pricing hook: a pricer's centre and half-spread reach the quotes, the quoter's rules still
apply, and the online estimators (the trades' intensity, the mid's volatility) recover known values."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from polymm_cli.engine import QuotingEngine
from polymm_cli.model import Market
from polymm_cli.pricing import PricingInput, PricingQuote, TradeIntensity
from polymm_cli.regime import MarketRegime, RegimeParams
from tests.sim_world import SimWorld, market

M = market("pricing")  # tick 0.01, min size 5


class FixedPricer:
    """Centre = mid + `shift`, a fixed half-spread; None when `answer` is off. Records what it saw."""

    def __init__(self, shift: str, half: str, *, answer: bool = True) -> None:
        self.shift, self.half, self.answer = D(shift), D(half), answer
        self.inputs: list[PricingInput] = []

    def observe_trade(self, t: float, yes_price: D, size: D, mid: D | None) -> None:
        pass

    def price(self, inp: PricingInput) -> PricingQuote | None:
        self.inputs.append(inp)
        return PricingQuote(inp.mid + self.shift, self.half, "fixed") if self.answer else None


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SimWorld]:
    w = SimWorld(tmp_path, [M])
    yield w
    if w.task is not None and not w.task.done():
        await w.finish()
    w.close()


def with_pricer(w: SimWorld, pricer: FixedPricer) -> QuotingEngine:
    base = w.make_engine(spread="0.04")

    def factory(m: Market) -> FixedPricer:
        return pricer

    return QuotingEngine(w.venue, w.ledger, w.clock, [M], replace(base.config, pricer=factory))


def ours(w: SimWorld) -> set[tuple[str, str]]:
    return {(q.side, str(q.yes_price)) for q in w.quotes(M)}


async def test_the_pricer_sets_the_centre_and_the_half_spread(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    pricer = FixedPricer("-0.01", "0.03")

    await world.start(with_pricer(world, pricer))

    # centre 0.49, 3c a side: 0.46 / 0.52, not the configured spread's 0.48 / 0.52 around 0.50
    assert ours(world) == {("bid", "0.46"), ("ask", "0.52")}
    seen = pricer.inputs[-1]
    assert seen.mid == D("0.5") and seen.net_position == 0 and seen.size == 10


async def test_post_only_still_applies_to_a_pricer_centre(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    await world.start(with_pricer(world, FixedPricer("+0.05", "0.01")))

    # centre 0.55: the bid 0.54 would cross the best ask 0.51, so the quoter moves it below it
    assert ours(world) == {("bid", "0.50"), ("ask", "0.56")}


async def test_a_pricer_without_an_answer_leaves_the_quoter_as_configured(world: SimWorld) -> None:
    world.book(M, "0.49", "0.51")
    await world.start(with_pricer(world, FixedPricer("-0.05", "0.03", answer=False)))

    assert ours(world) == {("bid", "0.48"), ("ask", "0.52")}


def geometric_trades(a: float, k: float, step: float, seconds: float, seed: int) -> TradeIntensity:
    """Trades arriving at rate a x exp(-k x step) (those beyond the mid) whose grid level j >= 1
    is reached with probability exp(-k step (j - 1)): lambda(j step) = a exp(-k j step) exactly."""
    rng = random.Random(seed)
    estimator = TradeIntensity(step=step, window_s=seconds * 2)
    rate, p_next = a * math.exp(-k * step), math.exp(-k * step)
    t = 0.0
    while t < seconds:
        t += rng.expovariate(rate)
        level = 1
        while rng.random() < p_next:
            level += 1
        estimator.observe(t, 0.5 + level * step, 0.5)
    return estimator


def test_the_intensity_fit_recovers_a_and_k() -> None:
    a, k, step = 0.4, 150.0, 0.005  # 0.4 trades/s extrapolated to the mid; half the rate every 0.46c
    fit = geometric_trades(a, k, step, seconds=20_000, seed=7).fit(20_000)

    assert fit is not None
    assert fit.k == pytest.approx(k, rel=0.1)
    assert fit.a == pytest.approx(a, rel=0.1)
    assert fit.rate(0.01) == pytest.approx(a * math.exp(-k * 0.01), rel=0.1)


def test_the_intensity_needs_two_levels_and_a_falling_rate() -> None:
    one_level = TradeIntensity(step=0.005)
    for i in range(20):
        one_level.observe(float(i), 0.51, 0.50)  # every trade at 1c: no slope to fit
    assert one_level.fit(20.0) is None

    flat = TradeIntensity(step=0.005)
    for i in range(20):
        flat.observe(float(i), 0.51, 0.50)  # all at 2 half-ticks: as many reach 0.5c as 1c, k = 0
    assert flat.fit(20.0) is None
    flat.observe(20.0, 0.505, 0.50)
    flat.observe(21.0, 0.505, 0.50)
    flat.observe(22.0, 0.505, 0.50)
    fit = flat.fit(22.0)
    assert fit is not None and fit.k > 0  # a few trades at 0.5c: now the rate falls with the distance
    assert TradeIntensity(step=0.005).fit(1.0) is None  # no trades yet


def test_the_window_forgets_old_trades() -> None:
    estimator = TradeIntensity(step=0.005, window_s=60.0)
    for i in range(30):
        estimator.observe(float(i), 0.51 if i % 2 else 0.52, 0.50)
    assert estimator.fit(30.0) is not None
    assert estimator.fit(200.0) is None  # all older than the window


def test_the_regime_volatility_recovers_sigma_of_a_random_walk() -> None:
    sigma = 0.003  # pUSD per sqrt(second)
    regime = MarketRegime(RegimeParams(vol_halflife_s=600.0))
    rng = random.Random(3)
    mid = 0.5
    for t in range(6000):
        mid += rng.gauss(0.0, sigma)
        regime.observe_mid(float(t), D(f"{mid:.6f}"))

    assert regime.volatility(5999.0) == pytest.approx(sigma, rel=0.1)
