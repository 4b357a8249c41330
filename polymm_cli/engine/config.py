"""What the engine is told (EngineConfig) and what its stop reports (StopReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polymm_cli.liquidation import StopLossParams
from polymm_cli.model import MARKET_RESOLVED_STATUS as MARKET_RESOLVED_STATUS  # re-exported
from polymm_cli.model import TradeStatus
from polymm_cli.pricing import PricerFactory
from polymm_cli.quoter import QuoteParams
from polymm_cli.reconcile import Tolerance
from polymm_cli.regime import RegimeParams
from polymm_cli.risk import PortfolioCaps
from polymm_cli.trust import TrustParams

CLOSED_STATUSES = ("MATCHED", "CANCELED", "INVALID")
# The venue's refusal of an order in a market that takes none (docs/protocol.md §4.4): the market
# is dropped from the run, never retried. (Its cancellation of orders when a market resolves:
# `MARKET_RESOLVED_STATUS`, from model, still importable from here.)
CLOSED_MARKET_ERROR = "the market is not yet ready to process new orders"
RESYNC_MARGIN_S = 60.0
FINAL = (TradeStatus.CONFIRMED, TradeStatus.FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    params: QuoteParams
    tolerance: Tolerance = field(default_factory=Tolerance)
    max_order_size: Decimal = Decimal("100000")
    max_order_notional: Decimal | None = None  # pUSD per order; None = no cap
    max_orders_per_market: int = 10
    # Send a requote's places beside its cancels when risk passes them with the old orders still
    # resting (engine `_may_overlap`: position limit, free inventory, no self-cross, order count and
    # the portfolio caps, each with the orders being cancelled counted), else confirm the cancels
    # first. It saves the cancel's round trip of the tick-to-quote; the hftbacktest validation
    # overlaps by the same rule (bench/anchor_hbt.py). False: the places always wait.
    overlap_cancels: bool = True
    # After start-up, move every object alive to the garbage collector's permanent generation
    # (gc.freeze), so a full collection while quoting scans only what the run allocated: over the
    # start-up heap (web3, the clients, the markets) one took ~100 ms in the tick-to-quote bench, a
    # stale quote for that long. `polymm run` turns it on; off for engines run many to a process
    # (tests, backtests), where it would keep each one's garbage.
    freeze_heap: bool = False
    heartbeat_interval_s: float = 5.0
    halt_poll_s: float = 0.25
    adopt_orders: bool = False
    stop_timeout_s: float = 10.0
    settle_timeout_s: float = 15.0  # at stop, how long to wait for the last fills to settle
    book_depth_shown: int = 5
    fills_shown: int = 8
    regime: RegimeParams = field(default_factory=RegimeParams)
    caps: PortfolioCaps = field(default_factory=PortfolioCaps)
    stop_loss: StopLossParams = field(default_factory=StopLossParams)
    tick_s: float = 1.0  # time-driven rules (cool-downs ending, stop-loss checks) are re-evaluated this often
    heartbeat_stale_s: float = (
        8.0  # no acknowledged heartbeat for this long: unhealthy (the venue cancels at 10)
    )
    order_failure_limit: int = 5  # consecutive failed order calls that pause the order path
    exit_rounds: int = 20  # market-mode liquidation rounds before giving up on an empty book
    trust: TrustParams = field(default_factory=TrustParams)  # dust, warm-up and jump confirmation
    reward_fit: str = ""  # shown on the dashboard: what reward fitting may do to the quotes
    width: str = ""  # shown on the dashboard: which width is in force and why (settings.width)
    venue_label: str = "the exchange"  # who confirms our cancels, in the stop's words
    payout_poll_s: float = 300.0  # how often rewards and rebates paid are read (paid once an epoch)
    # A market that closed without word of its winner (yet) counts as gone after this long: the
    # `market_resolved` event may trail the cancellations, and the P&L wants the winner.
    closed_grace_s: float = 5.0
    # A pricing model (pricing.py) that sets the quotes' centre and half-spread per decision; the
    # quoter still does ticks, post-only, limits and sizes. None: polymm's own quoting.
    pricer: PricerFactory | None = None


@dataclass(frozen=True, slots=True)
class StopReport:
    """How the final cancel went. `confirmed`: the exchange listed none of our orders afterwards.
    Otherwise `may_be_open` orders may still rest: as the exchange listed them when it answered
    (`reachable`), else counted by us (of the `known` orders we had when the stop began)."""

    cancelled: int
    may_be_open: int
    confirmed: bool
    reachable: bool = True
    known: int = 0
    venue_label: str = "the exchange"

    def summary(self) -> str:
        """What the stop did, in words a user can trust: never "cancelled" without the confirmation."""
        switch = (
            " (its dead-man's switch removes them about 10 s after our last heartbeat;"
            " check with `polymm cancel-all`)"
        )
        if not self.reachable:
            return (
                f"{self.venue_label} did not answer the cancels: {self.may_be_open} of the {self.known} "
                f"order{'' if self.known == 1 else 's'} we had may still be open{switch}"
            )
        done = f"{self.cancelled} order{'' if self.cancelled == 1 else 's'} cancelled"
        if self.confirmed:
            return f"{done}, confirmed by {self.venue_label}"
        return f"{done}, but {self.venue_label} still lists {self.may_be_open}{switch}"


@dataclass(frozen=True, slots=True)
class RetireReport:
    """How a market's wind-down went (re-selection): its orders cancelled and whether the venue
    confirmed none is left; `removed`: it was flat and left the engine (else it stays, unquoted)."""

    market: str
    reason: str
    cancelled: int
    confirmed: bool
    removed: bool
