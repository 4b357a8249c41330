"""Named regimes of the synthetic flow: presets calibrated to kinds of real Polymarket markets.

Each preset is a `FlowConfig` whose figures (trade rate, sizes, bursts, sign persistence, impact,
spreads, depth, book churn, volatility, jumps) were tuned to land inside the bands measured from real
captures (docs/market-world.md has the figures and where they come from):

- `quiet`: a long-dated macro or politics market (the Fed-decision market's top of book, October
  2025): few trades, deep books, one-tick spreads, a mid that barely moves (0.26 c over 5 minutes).
- `active`: a busy politics market (the NYC-mayor trade tapes, October 2025): ~4.4 prints a minute,
  large orders (median 76 shares, p99 in the thousands), bursty and persistent.
- `in-play`: a sports market during the game (the Tickscope NHL game tape, June 2026): violent mid
  (13.6 c over 5 minutes, ~27 jumps of 3 c an hour), trades that move it, two-tick spreads, a book
  that changes many times a second.
- `crypto-short`: a 5- or 15-minute crypto up/down market (March 2026 captures): ~100 small prints a
  minute (median 6 shares), one-tick spreads, ~130 shares at the best.

Each works on any market; the sample market it naturally goes with is in `NATURAL_MARKET` (e.g.
`crypto-short` on the fee-enabled 0.001-tick Bitcoin market, where the makers' price spreads become
whole cents of ticks). Owns the presets and `flow_for`; must not touch the exchange.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType

from polymm_cli.errors import ConfigError
from polymm_cli.exchange.flow_config import FlowConfig

QUIET = FlowConfig(
    fair_vol=0.0003,
    jump_rate_per_hour=0.5,
    jump_logit_sd=0.03,
    impact_per_sqrt_share=0.0002,
    impact_max_logit=0.02,
    maker_level_size=1500.0,
    maker_spread=(0.01,),
    maker_noise=0.0003,
    maker_requote_s=10.0,
    taker_rate_per_min=1.0,
    taker_size_median=30.0,
    taker_size_sigma=1.5,
    taker_size_tail_index=1.1,
    informed_share=0.1,
)
ACTIVE = FlowConfig(
    fair_vol=0.004,
    jump_rate_per_hour=4.0,
    jump_logit_sd=0.1,
    impact_per_sqrt_share=0.0015,
    maker_level_size=60.0,
    maker_size_jitter=1.0,
    maker_size_tail_index=0.9,
    maker_spread=(0.01, 0.02),
    taker_rate_per_min=3.5,
    taker_branching=0.5,
    taker_excitation_s=1.0,
    meta_share=0.55,
    taker_size_median=50.0,
    taker_size_sigma=2.0,
    taker_size_tail_index=1.0,
    taker_size_max=40_000.0,
    taker_sweep_share=0.3,
)
IN_PLAY = FlowConfig(
    fair_vol=0.012,
    jump_rate_per_hour=12.0,
    jump_logit_sd=0.5,
    jump_informed_takers=4,
    impact_per_sqrt_share=0.008,
    impact_max_logit=0.3,
    impact_transient_share=0.75,
    impact_decay_s=10.0,
    makers=4,
    maker_level_size=25.0,
    maker_size_jitter=1.0,
    maker_size_tail_index=0.85,
    maker_spread=(0.03, 0.04),
    maker_noise=0.004,
    maker_noise_persistence=0.5,
    maker_requote_s=0.3,
    taker_rate_per_min=4.0,
    meta_share=0.4,
    taker_branching=0.55,
    taker_excitation_s=1.0,
    taker_size_median=18.0,
    taker_size_sigma=1.9,
    taker_size_tail_index=0.85,
    taker_sweep_share=0.3,
    informed_share=0.25,
)
CRYPTO_SHORT = FlowConfig(
    fair_vol=0.01,
    jump_rate_per_hour=6.0,
    jump_logit_sd=0.1,
    impact_per_sqrt_share=0.002,
    maker_level_size=40.0,
    maker_size_jitter=0.8,
    maker_spread=(0.01,),
    maker_noise=0.002,
    maker_requote_s=1.0,
    taker_rate_per_min=130.0,
    taker_branching=0.5,
    taker_excitation_s=2.0,
    meta_children=6.0,
    taker_size_median=5.5,
    taker_size_sigma=1.1,
    taker_size_tail_index=1.3,
    taker_size_max=5_000.0,
)

REGIMES: Mapping[str, FlowConfig] = MappingProxyType(
    {"quiet": QUIET, "active": ACTIVE, "in-play": IN_PLAY, "crypto-short": CRYPTO_SHORT}
)
"""The presets by name, in order from the calmest to the busiest."""

DEFAULT_REGIME = "active"

NATURAL_MARKET: Mapping[str, str] = MappingProxyType(
    {
        "quiet": "fed-cut-rates-december-2026",
        "active": "fed-cut-rates-december-2026",
        "in-play": "world-cup-2026-winner-brazil",
        "crypto-short": "btc-above-150k-end-of-2026",
    }
)
"""The sample market (slug) each regime stands for best; documentation and benchmarks, not a rule."""


def flow_for(name: str, *, taker_rate_per_min: float | None = None, depth: float | None = None) -> FlowConfig:
    """The preset `name`, optionally busier or thinner.

    `taker_rate_per_min`: mean taker arrivals per market per minute (the preset's bursts and
    persistence are kept). `depth`: the median size, in shares, of each background maker's innermost
    order (outer levels keep the preset's growth), i.e. how much rests at and near the best."""
    preset = REGIMES.get(name)
    if preset is None:
        raise ConfigError(f"unknown regime {name!r}: choose {_choices()}")
    changes: dict[str, float] = {}
    if taker_rate_per_min is not None:
        if not 0 < taker_rate_per_min < math.inf:
            raise ConfigError(f"taker rate must be a positive number per minute, got {taker_rate_per_min}")
        changes["taker_rate_per_min"] = taker_rate_per_min
    if depth is not None:
        if not 0 < depth < math.inf:
            raise ConfigError(f"depth must be a positive number of shares, got {depth}")
        changes["maker_level_size"] = depth
    return dataclasses.replace(preset, **changes) if changes else preset


def _choices() -> str:
    names = list(REGIMES)
    return ", ".join(names[:-1]) + " or " + names[-1]
