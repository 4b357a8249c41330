"""The quality bench's textbook makers: their formulas against hand-computed values, the rule that
sets gamma, the table's intervals, and a short virtual session with each (bench/baselines.py)."""

from __future__ import annotations

import asyncio
import math
import statistics

import pytest

from bench.backtest import simulate
from bench.baselines import (
    BASELINE_REGIME,
    AvellanedaStoikov,
    Glft,
    as_gamma,
    as_quote,
    glft_deltas,
    glft_gamma,
    glft_omega,
)
from bench.bench_quality import FLOW, SEED_DESIGN
from bench.intervals import mean_interval, risk_ratio, risk_ratio_interval, t_quantile
from polymm_cli.model import Market


def test_avellaneda_stoikov_by_hand() -> None:
    # s 0.5, q 10 shares, gamma 0.1, sigma 0.002/sqrt(s), tau 300 s, k 100/pUSD:
    # sigma^2 tau = 0.0012; r = 0.5 - 10 x 0.1 x 0.0012 = 0.4988;
    # spread = 0.1 x 0.0012 + (2 / 0.1) ln(1.001) = 0.00012 + 0.0199900067 = 0.0201100067
    r, half = as_quote(0.5, 10.0, 0.1, 0.002, 300.0, 100.0)
    assert r == pytest.approx(0.4988, abs=1e-12)
    assert half == pytest.approx(0.0201100067 / 2, rel=1e-8)


def test_glft_by_hand() -> None:
    # q 2 lots, gamma 10, sigma 0.002, A 0.5/s, k 100: gamma/k = 0.1, base = ln(1.1)/10 = 0.0095310180;
    # omega = sqrt(0.002^2 x 10 / (2 x 100 x 0.5) x 1.1^11) = sqrt(4e-7 x 2.8531167) = 0.0010682915;
    # delta_bid = base + 2.5 omega = 0.0122017467, delta_ask = base - 1.5 omega = 0.0079285808
    assert glft_omega(10.0, 0.002, 0.5, 100.0) == pytest.approx(0.0010682915, rel=1e-7)
    bid, ask = glft_deltas(2.0, 10.0, 0.002, 0.5, 100.0)
    assert bid == pytest.approx(0.0122017467, rel=1e-7)
    assert ask == pytest.approx(0.0079285808, rel=1e-7)
    flat_bid, flat_ask = glft_deltas(0.0, 10.0, 0.002, 0.5, 100.0)
    assert flat_bid == pytest.approx(flat_ask)  # flat: symmetric around the mid


def test_gamma_puts_the_reducing_side_at_the_mid_at_the_limit() -> None:
    gamma = as_gamma(30.0, 0.003, 300.0, 120.0)
    r, half = as_quote(0.5, 30.0, gamma, 0.003, 300.0, 120.0)
    assert r + half == pytest.approx(0.5, abs=1e-9)  # long 30 = L: the ask sits at the mid
    lots = 3.0
    g = glft_gamma(lots, 0.003, 0.3, 120.0)
    assert glft_deltas(lots, g, 0.003, 0.3, 120.0)[1] == pytest.approx(0.0, abs=1e-9)
    assert glft_deltas(lots - 1, g, 0.003, 0.3, 120.0)[1] > 0  # inside the limit it is still out


def test_intervals() -> None:
    assert t_quantile(49) == pytest.approx(2.009575, abs=1e-5)  # the table's 50 seeds
    assert t_quantile(9) == pytest.approx(2.262157, abs=5e-4)
    values = [1.0, 2.0, 3.0, 4.0]
    mean, low, high = mean_interval(values)
    half = 3.182446 * statistics.stdev(values) / 2  # t(0.975, 3) x s / sqrt(4)
    assert (
        mean == 2.5
        and low == pytest.approx(2.5 - half, rel=1e-6)
        and high == pytest.approx(2.5 + half, rel=1e-6)
    )
    # 15-minute sessions: hourly = x4 in the mean, x2 in the sd, so the ratio doubles
    assert risk_ratio(values, 15.0) == pytest.approx(2 * 2.5 / statistics.stdev(values))
    assert risk_ratio([1.0, 1.0, 1.0], 60.0) is None  # no spread, no ratio
    ratio, lo, hi = risk_ratio_interval([0.5 + 0.1 * math.sin(i) for i in range(50)], 60.0)
    assert ratio is not None and lo is not None and hi is not None and lo < ratio < hi


@pytest.mark.parametrize("kind", [AvellanedaStoikov, Glft])
def test_a_short_session_with_each_baseline_calibrates_and_trades(
    kind: type[AvellanedaStoikov | Glft],
) -> None:
    made: list[AvellanedaStoikov | Glft] = []

    def factory(market: Market) -> AvellanedaStoikov | Glft:
        made.append(kind(tick=float(market.tick_size)))
        return made[-1]

    stats = asyncio.run(simulate(1, 2.0, SEED_DESIGN, flow=FLOW, regime=BASELINE_REGIME, pricer=factory))

    (pricer,) = made
    assert pricer.gamma is not None and pricer.gamma > 0  # calibrated from the session's own trades
    assert stats.fills > 0


def test_the_bench_polymm_chooses_its_own_width_and_the_others_are_given_0_02() -> None:
    """polymm in the quality table is polymm's defaults (no --spread: its own width, tapered sizes);
    the seed design and the textbook makers keep the seed design's fixed 0.02."""
    from decimal import Decimal

    from bench.quality_regimes import STRATEGIES

    ours = STRATEGIES["polymm"].params
    assert ours.adaptive_spread and ours.taper
    for name in ("seed design", "Avellaneda-Stoikov", "GLFT"):
        given = STRATEGIES[name].params
        assert not given.adaptive_spread and not given.taper
        assert given.spread == Decimal("0.02")
