"""One market's state inside the engine, and the views of it risk reads (exposure, holding)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from polymm_cli.liquidation import LiquidationMode
from polymm_cli.model import ZERO, FillView, Market, OurOrder, Side
from polymm_cli.pnl import MarketPnl, MarketProjection
from polymm_cli.pricing import Pricer
from polymm_cli.regime import MarketRegime
from polymm_cli.risk import Exposure, Holding
from polymm_cli.trust import MidTrust, TrustParams


@dataclass(slots=True)
class MarketState:
    """One market as the engine tracks it: positions, the last decision, its rules' state, a stop."""

    market: Market
    yes_position: Decimal = ZERO  # every effective fill (MATCHED counts: it will most likely settle)
    no_position: Decimal = ZERO
    sellable_yes: Decimal = ZERO  # settled shares only: unsettled ones cannot be sold (ghost fills)
    sellable_no: Decimal = ZERO
    pnl: MarketPnl | None = None
    fills: deque[tuple[tuple[str, str], FillView]] = field(default_factory=lambda: deque(maxlen=50))
    last_mid: Decimal | None = None
    last_inputs: tuple[Any, ...] = ()
    last_decision: str = ""
    event_t0: float | None = None  # when the oldest unhandled book update arrived (monotonic)
    regime: MarketRegime | None = None
    pricer: Pricer | None = None  # a pricing model's per-market state (EngineConfig.pricer)
    trust: MidTrust = field(default_factory=lambda: MidTrust(TrustParams()))
    projection: MarketProjection | None = None  # positions and P&L, kept current fill by fill
    stopped: str | None = None  # a stop-loss fired: why; quotes stay pulled while set
    closed: str | None = None  # the market closed or resolved ("resolved: Yes won"): never quoted again
    closed_at: float = 0.0  # monotonic time it closed
    resume_at: float | None = None  # monotonic time the stop-loss lets quoting resume (None: never)
    exit_rounds: int = 0
    exit_mode: LiquidationMode = "market"  # the mode this exit uses (`liquidation.exit_mode`)
    exit_anchor: Decimal | None = (
        None  # the YES mid when the stop fired: the exit's slippage floor hangs off it
    )
    # dropped from a `--select` selection: why; quotes stay pulled, the holding still counts in
    # the portfolio caps until it is flat (then the market leaves the engine)
    retired: str | None = None


def exposure(state: MarketState, kept: Sequence[OurOrder]) -> Exposure:
    """What risk vets a plan against: positions held and what the KEPT orders still rest."""

    def open_size(token: str, side: Side) -> Decimal:
        return sum((o.remaining for o in kept if o.token_id == token and o.side is side), ZERO)

    m = state.market
    return Exposure(
        yes_position=state.yes_position,
        no_position=state.no_position,
        open_buy_yes=open_size(m.yes_token, Side.BUY),
        open_buy_no=open_size(m.no_token, Side.BUY),
        open_sell_yes=open_size(m.yes_token, Side.SELL),
        open_sell_no=open_size(m.no_token, Side.SELL),
        sellable_yes=state.sellable_yes,
        sellable_no=state.sellable_no,
    )


def holding(state: MarketState, mark: Decimal | None) -> Holding:
    """The market as the portfolio caps see it: positions, what they cost, and the mark."""
    pnl = state.pnl
    cost = ZERO
    if pnl is not None:
        cost = (pnl.avg_cost_yes or ZERO) * state.yes_position + (pnl.avg_cost_no or ZERO) * state.no_position
    return Holding(market=state.market, yes=state.yes_position, no=state.no_position, cost=cost, mark=mark)
