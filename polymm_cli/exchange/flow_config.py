"""Every knob of the synthetic flow (`FlowConfig`), validated at construction.

Owns the knobs and their meaning only; the flow (`exchange.flow`) and its taker process
(`exchange.flow_takers`) read them, and the named presets live in `exchange.regimes`. Prices and
spreads are probabilities in (0, 1): makers convert them to whole ticks of the market they quote, so
one config reads the same on a 0.01 and a 0.001 market. Must not import the exchange.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Every knob of the synthetic flow. Rates are per market; prices are probabilities in (0, 1).

    The defaults are a mid-activity market (close to the `active` regime); `exchange.regimes` holds the
    presets calibrated to kinds of real markets."""

    # -- latent fair value ---------------------------------------------------------------------------
    fair_vol: float = 0.005
    """Diffusion volatility in logit units per sqrt(second). 0.005 moves a 0.50 market by ~1 cent a
    minute (1 sd); the move in price shrinks near 0 and 1 by p(1-p), as on real markets."""
    jump_rate_per_hour: float = 6.0
    """Poisson intensity of news jumps in the fair value, per market per hour."""
    jump_logit_sd: float = 0.15
    """Jump sizes are normal in logit space with this standard deviation (~3.7 cents at 0.50)."""
    jump_informed_takers: int = 3
    """Informed takers who rush in after each jump (news traders), on top of the Poisson arrivals;
    they are what picks off stale quotes. None when `informed_share` is 0 (no informed flow at all)."""
    jump_informed_delay_s: float = 1.5
    """Mean (exponential) delay of each of those takers after the jump."""

    # -- price impact of flow takers -----------------------------------------------------------------
    impact_per_sqrt_share: float = 0.0015
    """Move of the latent value, in logit units, per sqrt(share) a flow taker fills, in the trade's
    direction: 0.0015 moves a 0.50 market by ~0.4 c for 100 shares (square-root impact). 0 = none."""
    impact_max_logit: float = 0.25
    """Cap of one order's impact in logit units (~6 c at 0.50), so a rare huge print is not a crash."""
    impact_transient_share: float = 0.3
    """Share of each impact that is transient: it decays back exponentially (the rest is permanent)."""
    impact_decay_s: float = 30.0
    """Mean lifetime, in seconds, of the transient part of the impact."""

    # -- background makers ---------------------------------------------------------------------------
    makers: int = 3
    """Background maker accounts; each quotes every market of the flow. 0 leaves the book to others."""
    maker_levels: int = 5
    """Price levels each maker keeps per side."""
    maker_level_step: float = 0.01
    """Distance between a maker's consecutive levels, in price (whole ticks, at least one)."""
    maker_level_size: float = 50.0
    """Median size (shares) of a maker's innermost order; whole shares, at least the market minimum."""
    maker_size_growth: float = 1.25
    """Each level further from the touch is this much larger than the previous one."""
    maker_size_jitter: float = 0.6
    """Lognormal sigma of each maker order's size around its level's median."""
    maker_size_tail_index: float = math.inf
    """Above the p90 of that lognormal, maker sizes follow a Pareto tail with this index: the rare
    large resting order that lets a large taker print thousands at once. math.inf = no tail."""
    maker_size_max: float = 50_000.0
    """Largest maker order in shares (cuts the far tail)."""
    maker_spread: tuple[float, ...] = (0.02,)
    """Quoted spread in price, rounded to whole ticks (at least one) of the market's tick: maker i uses
    entry i modulo the length. 0.02 is two ticks on a 0.01 market and 20 on a 0.001 market."""
    maker_noise: float = 0.0035
    """Standard deviation, in price, of a maker's error about the fair value."""
    maker_noise_persistence: float = 0.7
    """AR(1) coefficient of that error from one requote to the next (persistent makers churn less)."""
    maker_requote_s: float = 2.0
    """Mean seconds between a maker's requotes of one market (uniform in [0.5, 1.5] x this); the lag."""
    maker_refill_fraction: float = 0.5
    """An order filled down below this fraction of its original size is replaced (back of the queue)."""
    maker_collateral: Decimal = Decimal(50_000)
    """pUSD a maker is funded with, and topped up by whenever its free pUSD falls short."""
    maker_inventory: Decimal = Decimal(5_000)
    """YES+NO pairs split per market at start, and added whenever free YES falls short of the asks."""

    # -- takers: arrivals ----------------------------------------------------------------------------
    taker_accounts: int = 4
    """Taker accounts the arrivals are spread over (uniformly at random)."""
    taker_rate_per_min: float = 5.0
    """Mean arrival rate of taker orders, per market per minute (informed arrivals included)."""
    taker_branching: float = 0.6
    """Hawkes branching ratio: the share of arrivals triggered by an earlier one (bursts). The baseline
    rate is `taker_rate_per_min` x (1 - this), so the mean rate is unchanged; 0 = Poisson."""
    taker_excitation_s: float = 8.0
    """Mean lifetime, in seconds, of the extra intensity one arrival adds (exponential kernel)."""
    meta_share: float = 0.5
    """Probability that an uninformed arrival is the next child of the market's running meta-order
    (same side as its parent) rather than an independent taker with a random side."""
    meta_children: float = 8.0
    """Mean number of children of a meta-order (geometric): its side is drawn once, when it starts."""

    # -- takers: sizes and prices --------------------------------------------------------------------
    taker_size_median: float = 20.0
    """Median taker order size in shares (recorded tapes: 6 for crypto, 23 in play, 76 for politics)."""
    taker_size_sigma: float = 1.5
    """Lognormal sigma of the body of taker sizes (below their p90): p90 = median x e^(1.28 sigma)."""
    taker_size_tail_index: float = 1.1
    """Above the p90, sizes follow a Pareto tail with this index (recorded tapes: 0.8 to 1.3, Hill on
    the top 10%): p99 = p90 x 10^(1/index). math.inf = lognormal all the way."""
    taker_size_min: float = 1.0
    """Smallest taker order in shares (a BUY is also raised to the exchange's $1 marketable minimum)."""
    taker_size_max: float = 20_000.0
    """Largest taker order in shares (cuts the far tail)."""
    taker_slippage: float = 0.02
    """An uninformed taker's limit is this far through the best price (in price, whole ticks), so
    big orders walk the book."""
    taker_sweep_share: float = 0.0
    """Probability that an uninformed taker sizes to the book instead: it takes the whole best level
    (liquidity-seeking), so a large resting order prints whole; its drawn size is then unused."""
    taker_collateral: Decimal = Decimal(100_000)
    """pUSD a taker account is funded with, and topped up by when low."""
    informed_share: float = 0.2
    """Probability that an arriving taker is informed (knows the fair value)."""
    informed_edge_ticks: float = 1.0
    """An informed taker trades only when the best price is through the fair value by at least this
    many ticks (and `informed_min_edge`), and only up to fair value minus that edge."""
    informed_min_edge: float = 0.002
    """Floor of the informed edge in price units, so fine-tick markets are not arbitraged to the tick."""
    max_lag_s: float = 60.0
    """Events more than this far behind `step`'s `now` are skipped, not replayed, so a wall clock that
    jumps (a laptop waking from sleep) does not fire hours of flow in one tick. Step at least this often
    to get every event."""
    informed_size_scale: float = 5.0
    """An informed taker sends its drawn size times how many edges the book is off the value, capped
    at this multiple (1 = no scaling): the bigger the mispricing, the harder it is hit."""

    def __post_init__(self) -> None:
        bad = [name for name, ok in self._checks().items() if not ok]
        if bad:
            raise ConfigError(f"invalid flow config: {', '.join(bad)}")

    def _checks(self) -> dict[str, bool]:
        """Knob -> whether its value makes sense (NaN fails every comparison, so it is refused too)."""
        spreads = self.maker_spread
        return {
            "fair_vol": self.fair_vol >= 0,
            "jump_rate_per_hour": self.jump_rate_per_hour >= 0,
            "jump_logit_sd": self.jump_logit_sd >= 0,
            "jump_informed_takers": self.jump_informed_takers >= 0,
            "jump_informed_delay_s": self.jump_informed_delay_s > 0,
            "impact_per_sqrt_share": self.impact_per_sqrt_share >= 0,
            "impact_max_logit": self.impact_max_logit >= 0,
            "impact_transient_share": 0 <= self.impact_transient_share <= 1,
            "impact_decay_s": self.impact_decay_s > 0,
            "makers": self.makers >= 0,
            "maker_levels": self.maker_levels >= 1,
            "maker_level_step": 0 < self.maker_level_step < 1,
            "maker_level_size": self.maker_level_size > 0,
            "maker_size_growth": self.maker_size_growth > 0,
            "maker_size_jitter": self.maker_size_jitter >= 0,
            "maker_size_tail_index": self.maker_size_tail_index > 0,
            "maker_size_max": self.maker_size_max >= self.maker_level_size,
            "maker_spread": bool(spreads) and all(0 < s < 1 for s in spreads),
            "maker_noise": self.maker_noise >= 0,
            "maker_noise_persistence": 0 <= self.maker_noise_persistence < 1,
            "maker_requote_s": self.maker_requote_s > 0,
            "maker_refill_fraction": 0 <= self.maker_refill_fraction <= 1,
            "maker_collateral": self.maker_collateral > 0,
            "maker_inventory": self.maker_inventory > 0,
            **self._taker_checks(),
        }

    def _taker_checks(self) -> dict[str, bool]:
        return {
            "taker_accounts": self.taker_accounts >= 1,
            "taker_rate_per_min": 0 <= self.taker_rate_per_min < math.inf,
            "taker_branching": 0 <= self.taker_branching < 1,
            "taker_excitation_s": self.taker_excitation_s > 0,
            "meta_share": 0 <= self.meta_share <= 1,
            "meta_children": self.meta_children >= 1,
            "taker_size_median": self.taker_size_median > 0,
            "taker_size_sigma": self.taker_size_sigma >= 0,
            "taker_size_tail_index": self.taker_size_tail_index > 0,
            "taker_size_min": 0 < self.taker_size_min <= self.taker_size_max,
            "taker_slippage": 0 <= self.taker_slippage < 1,
            "taker_sweep_share": 0 <= self.taker_sweep_share <= 1,
            "taker_collateral": self.taker_collateral > 0,
            "informed_share": 0 <= self.informed_share <= 1,
            "informed_edge_ticks": self.informed_edge_ticks >= 0,
            "informed_min_edge": self.informed_min_edge >= 0,
            "informed_size_scale": self.informed_size_scale >= 1,
            "max_lag_s": self.max_lag_s > 0,
        }


def whole_ticks(price: float, tick: float, *, at_least: int = 1) -> int:
    """A distance in price as whole ticks of `tick` (nearest, at least `at_least`)."""
    return max(at_least, round(price / tick))
