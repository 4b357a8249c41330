"""The synthetic takers' process on its own (pure functions, no exchange): self-exciting arrivals with
the configured mean rate, meta-orders that keep their side, a heavy size tail, square-root impact."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.flow_takers import (
    MetaOrder,
    TakerState,
    excite,
    geometric,
    impact_logit,
    next_side,
    next_wait,
    taker_size,
)


def arrivals(cfg: FlowConfig, seconds: float, seed: int = 1) -> list[float]:
    """Arrival times over `seconds`, driven exactly as the flow drives them."""
    rng, state, now, times = random.Random(seed), TakerState(), 0.0, []
    while True:
        now += next_wait(rng, cfg, state.excitation)
        if now > seconds:
            return times
        times.append(now)
        excite(state, cfg, now)


def gaps_cv(times: list[float]) -> float:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return statistics.pstdev(gaps) / statistics.mean(gaps)


def lag1(signs: list[int]) -> float:
    return statistics.correlation(signs[:-1], signs[1:])


def hill(sizes: list[float], top: float = 0.1) -> float:
    ordered = sorted(sizes, reverse=True)
    k = int(len(ordered) * top)
    return 1.0 / statistics.mean(math.log(x / ordered[k]) for x in ordered[:k])


def test_self_exciting_arrivals_keep_the_mean_rate_and_come_in_bursts() -> None:
    hours = 60 * 3600.0
    bursty = arrivals(FlowConfig(taker_rate_per_min=6.0, taker_branching=0.6, taker_excitation_s=2.0), hours)
    poisson = arrivals(FlowConfig(taker_rate_per_min=6.0, taker_branching=0.0), hours)

    assert len(bursty) / (hours / 60) == pytest.approx(6.0, rel=0.05)  # baseline x (1 - branching)
    assert len(poisson) / (hours / 60) == pytest.approx(6.0, rel=0.05)
    assert gaps_cv(bursty) > 1.5  # real tapes: about 2
    assert gaps_cv(poisson) == pytest.approx(1.0, abs=0.05)


def test_no_rate_means_no_arrival_ever() -> None:
    assert next_wait(random.Random(1), FlowConfig(taker_rate_per_min=0.0), 0.0) == math.inf


def test_meta_order_children_keep_their_parents_side() -> None:
    rng = random.Random(3)
    cfg = FlowConfig(meta_share=1.0, meta_children=8.0)
    meta = MetaOrder()
    runs: list[tuple[bool, int]] = []  # (side, children) per parent
    for _ in range(20_000):
        starts = meta.children_left == 0
        up, child = next_side(rng, cfg, meta)
        assert child
        if starts:
            runs.append((up, 0))
        assert up == runs[-1][0]  # every child on its parent's side
        runs[-1] = (up, runs[-1][1] + 1)
    assert statistics.mean(n for _, n in runs) == pytest.approx(8.0, rel=0.1)


def test_meta_orders_make_trade_signs_persist_and_without_them_signs_are_independent() -> None:
    def signs(meta_share: float) -> list[int]:
        rng, meta, cfg = random.Random(5), MetaOrder(), FlowConfig(meta_share=meta_share, meta_children=8.0)
        return [1 if next_side(rng, cfg, meta)[0] else -1 for _ in range(40_000)]

    assert 0.15 <= lag1(signs(0.5)) <= 0.35  # real tapes: 0.2 to 0.3
    assert abs(lag1(signs(0.0))) < 0.02


def test_geometric_counts_have_the_asked_mean_and_are_at_least_one() -> None:
    rng = random.Random(2)
    counts = [geometric(rng.random(), 5.0) for _ in range(50_000)]
    assert min(counts) == 1
    assert statistics.mean(counts) == pytest.approx(5.0, rel=0.03)
    assert geometric(0.99, 1.0) == 1


def test_sizes_have_the_configured_median_and_a_pareto_tail_above_the_p90() -> None:
    rng = random.Random(7)
    zs = [rng.gauss(0.0, 1.0) for _ in range(200_000)]
    cfg = FlowConfig(taker_size_median=23.0, taker_size_sigma=1.9, taker_size_tail_index=1.0)
    heavy = [taker_size(z, cfg) for z in zs]
    before = FlowConfig(taker_size_median=12.0, taker_size_sigma=1.3, taker_size_tail_index=math.inf)
    lognormal = [taker_size(z, before) for z in zs]  # the flow's sizes before the tail (Hill ~1.6)
    assert statistics.median(heavy) == pytest.approx(23.0, rel=0.03)
    assert hill(heavy) == pytest.approx(1.0, rel=0.1)  # the tail index asked for
    assert hill(lognormal) > 1.5  # a lognormal alone: thinner
    p90, p99 = statistics.quantiles(heavy, n=100)[89], statistics.quantiles(heavy, n=100)[98]
    assert p99 / p90 == pytest.approx(10.0, rel=0.1)  # 10^(1/index)


def test_impact_follows_the_square_root_of_size_up_to_its_cap() -> None:
    cfg = FlowConfig(impact_per_sqrt_share=0.002, impact_max_logit=0.05)

    assert impact_logit(100, cfg) == pytest.approx(0.02)
    assert impact_logit(400, cfg) == pytest.approx(2 * impact_logit(100, cfg))  # 4x size, 2x move
    assert impact_logit(100_000, cfg) == 0.05
    assert impact_logit(0, cfg) == 0.0
    assert impact_logit(100, FlowConfig(impact_per_sqrt_share=0.0)) == 0.0
