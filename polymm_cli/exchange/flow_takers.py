"""The synthetic takers' process, pure: when they arrive, which side they take, how much, and how far
their fills move the latent value.

- Arrivals are self-exciting (Hawkes, exponential kernel): each arrival adds intensity that decays,
  so trades come in bursts; the baseline is scaled down by the branching ratio so the mean rate is
  the configured one. Waits are drawn exactly (Dassios and Zhao, 2013), two uniforms each.
- Sides persist: an uninformed arrival is, with probability `meta_share`, the next child of the
  market's running meta-order (a parent with one side and a geometric number of children).
- Sizes are a lognormal body with a Pareto tail above its p90 (one normal draw, mapped).
- Impact is square-root in the filled size, capped; the flow splits it into a permanent and a
  transient part.

Owns these formulas and the small per-market state they carry (`TakerState`). Must not touch the
exchange, a clock or any random stream but the one it is handed: the flow calls these in event
order, which keeps it deterministic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from polymm_cli.exchange.flow_config import FlowConfig

Z90 = 1.2815515655446004  # the standard normal's 90th percentile: where the size tail starts
TAIL_PROB = 0.1


@dataclass(slots=True)
class MetaOrder:
    """The market's running meta-order: its side and how many children it still sends."""

    up: bool = True
    children_left: int = 0


@dataclass(slots=True)
class TakerState:
    """Per-market state of the taker process."""

    excitation: float = 0.0  # arrival intensity above the baseline, per second, as of `at`
    at: float = 0.0
    meta: MetaOrder = field(default_factory=MetaOrder)


def baseline_per_s(cfg: FlowConfig) -> float:
    """The Hawkes baseline intensity: the mean rate times (1 - branching ratio)."""
    return cfg.taker_rate_per_min / 60.0 * (1.0 - cfg.taker_branching)


def decay_excitation(state: TakerState, cfg: FlowConfig, now: float) -> None:
    """Let the extra intensity decay from `state.at` to `now`."""
    if now > state.at:
        state.excitation *= math.exp(-(now - state.at) / cfg.taker_excitation_s)
        state.at = now


def excite(state: TakerState, cfg: FlowConfig, now: float) -> None:
    """An arrival at `now`: its kernel (integral = the branching ratio) adds to the intensity."""
    decay_excitation(state, cfg, now)
    state.excitation += cfg.taker_branching / cfg.taker_excitation_s


def next_wait(rng: random.Random, cfg: FlowConfig, excitation: float) -> float:
    """Seconds from now to the next arrival, given the extra intensity now (math.inf: none ever).

    The first arrival of the baseline (exponential) and of the decaying excitation (which may never
    fire: its total mass is finite), whichever comes first. Always two draws."""
    u_base, u_excited = rng.random(), rng.random()
    baseline = baseline_per_s(cfg)
    wait = -math.log(1.0 - u_base) / baseline if baseline > 0 else math.inf
    if excitation > 0:
        decay = 1.0 / cfg.taker_excitation_s
        d = 1.0 + decay * math.log(1.0 - u_excited) / excitation
        if d > 0:
            wait = min(wait, -math.log(d) / decay)
    return wait


def next_side(rng: random.Random, cfg: FlowConfig, meta: MetaOrder) -> tuple[bool, bool]:
    """(buys YES?, is a meta-order child?) of an uninformed arrival. Always three draws."""
    u_meta, u_side, u_length = rng.random(), rng.random(), rng.random()
    if u_meta >= cfg.meta_share:
        return u_side < 0.5, False
    if meta.children_left <= 0:
        meta.up = u_side < 0.5
        meta.children_left = geometric(u_length, cfg.meta_children)
    meta.children_left -= 1
    return meta.up, True


def geometric(u: float, mean: float) -> int:
    """A geometric count >= 1 with this mean, from one uniform draw in [0, 1)."""
    if mean <= 1:
        return 1
    return 1 + int(math.log(1.0 - u) / math.log(1.0 - 1.0 / mean))


def taker_size(z: float, cfg: FlowConfig) -> float:
    """A taker order's shares from one standard normal draw (see `spliced_size`)."""
    return spliced_size(z, cfg.taker_size_median, cfg.taker_size_sigma, cfg.taker_size_tail_index)


def spliced_size(z: float, median: float, sigma: float, tail_index: float) -> float:
    """A size from one standard normal draw: lognormal (median, sigma) up to its p90, a Pareto tail
    with `tail_index` above (same quantile, so the body is untouched; math.inf: no tail)."""
    body = median * math.exp(sigma * z)
    if z <= Z90 or math.isinf(tail_index):
        return body
    threshold = median * math.exp(sigma * Z90)
    beyond = 0.5 * math.erfc(z / math.sqrt(2.0)) / TAIL_PROB  # P(Z > z | Z > Z90), in (0, 1]
    return threshold * math.pow(max(beyond, 1e-300), -1.0 / tail_index)


def impact_logit(filled: float, cfg: FlowConfig) -> float:
    """How far a fill of `filled` shares moves the latent value (logit units, unsigned): square root."""
    if filled <= 0:
        return 0.0
    return min(cfg.impact_per_sqrt_share * math.sqrt(filled), cfg.impact_max_logit)
