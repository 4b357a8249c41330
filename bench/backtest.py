"""Backtest harness: the real engine against the in-process exchange and its synthetic flow, in virtual time.

A ManualClock drives the exchange and the flow in steps; between steps the event loop runs until the
engine has handled everything the step produced (the SimVenue delivers events through queues), so a
30-minute session takes seconds. Used by `make bench` (trading quality) and to calibrate the demo.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from polymm_cli.clock import ManualClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.engine.view import order_view, reward_rate
from polymm_cli.exchange.core import LocalExchange, SettlementConfig
from polymm_cli.exchange.flow import SyntheticFlow
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.payouts import IncomeConfig
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, Market
from polymm_cli.pnl import income_breakdown, project
from polymm_cli.pricing import PricerFactory
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams
from polymm_cli.venues.sim import SimVenue

BOT = "0x" + "b07" * 13 + "b"


@dataclass(frozen=True)
class SessionStats:
    seed: int
    pnl: float
    max_drawdown: float
    inventory_std: float
    time_at_limit: float  # share of samples with |net| >= limit
    fills: int
    volume: float
    pnl_mid: float = 0.0  # the same P&L marked at the mid of the book without us
    max_drawdown_mid: float = 0.0  # the drawdown of the P&L marked at the mid
    reward: float = 0.0  # reward flows in the ledger, else the engine's estimate integrated (pUSD)
    rewards_paid: float = 0.0  # liquidity rewards the exchange paid (in `pnl`)
    rebates_paid: float = 0.0  # maker rebates the exchange paid (in `pnl`)


async def _drain(rounds: int = 3) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def simulate(
    seed: int,
    minutes: float,
    params: QuoteParams,
    *,
    flow: FlowConfig | None = None,
    market: Market | None = None,
    step_s: float = 0.25,
    settlement_s: float = 2.0,
    collateral: Decimal = Decimal(10_000),
    regime: RegimeParams | None = None,
    pricer: PricerFactory | None = None,
    income_epoch_s: float | None = None,
) -> SessionStats:
    """One session; with `income_epoch_s` the exchange pays rewards and rebates every that many
    seconds and the engine records them (in the P&L), else nothing is paid."""
    market = market or sample_markets()[0]
    clock = ManualClock()
    income = IncomeConfig(epoch_s=income_epoch_s) if income_epoch_s else None
    exchange = LocalExchange(
        [market], clock, seed=seed, settlement=SettlementConfig(settlement_s), income=income
    )
    synthetic = SyntheticFlow(exchange, clock, flow or FlowConfig(), seed=seed)
    exchange.fund(BOT, collateral)
    venue = SimVenue(exchange, clock, address=BOT, owner="bot", dead_mans_switch=False)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(Path(tmp), account=Account("local", BOT)) as ledger,
    ):
        engine = QuotingEngine(
            venue,
            ledger,
            clock,
            [market],
            _engine_config(params, regime, pricer, income_epoch_s),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop=stop))
        for _ in range(int(20 / step_s)):  # warm up the flow's book before the bot starts quoting
            _step(clock, synthetic, exchange, step_s)
        await _drain(10)
        samples = _Samples()
        sample_every = max(1, int(1 / step_s))
        for i in range(int(minutes * 60 / step_s)):
            _step(clock, synthetic, exchange, step_s)
            await _drain()
            if i % sample_every == 0:
                samples.take(engine, market, synthetic.fair_value(market.condition_id), sample_every * step_s)
        stop.set()
        await task
        mid = _book_mid(exchange, market) or samples.last_mid
        return _session_stats(seed, ledger, market, synthetic.fair_value(market.condition_id), mid, samples)


def _session_stats(
    seed: int, ledger: Ledger, market: Market, fair: Decimal, mid: Decimal, samples: _Samples
) -> SessionStats:
    """The session's figures from its ledger (P&L at the fair value and at the mid) and samples."""
    cid = market.condition_id
    fills = [f for f in ledger.fills(cid) if f.effective]
    paid = income_breakdown(ledger.fills(cid), ledger.flows(cid), {cid: market}, {cid: fair})
    return SessionStats(
        seed=seed,
        pnl=_total_pnl(ledger, market, fair),
        max_drawdown=_max_drawdown(samples.pnl_path),
        inventory_std=statistics.pstdev(samples.inventory) if samples.inventory else 0.0,
        time_at_limit=samples.at_limit / max(1, len(samples.inventory)),
        fills=len(fills),
        volume=float(sum((f.size for f in fills), Decimal(0))),
        pnl_mid=_total_pnl(ledger, market, mid),
        max_drawdown_mid=_max_drawdown(samples.pnl_mid_path),
        reward=float(paid.rewards) if paid.rewards else samples.reward,
        rewards_paid=float(paid.rewards),
        rebates_paid=float(paid.rebates),
    )


def _engine_config(
    params: QuoteParams,
    regime: RegimeParams | None,
    pricer: PricerFactory | None = None,
    income_epoch_s: float | None = None,
) -> EngineConfig:
    """No settle wait, no halt polling, no timer ticks: the session drives the clock itself; payouts
    are read once an epoch."""
    return EngineConfig(
        params=params,
        settle_timeout_s=0,
        halt_poll_s=3600,
        tick_s=3600,
        regime=regime or RegimeParams.off(),
        pricer=pricer,
        payout_poll_s=income_epoch_s or 3600,
    )


def _step(clock: ManualClock, synthetic: SyntheticFlow, exchange: LocalExchange, step_s: float) -> None:
    clock.advance(step_s)
    synthetic.step(clock.now())
    exchange.advance()


@dataclass
class _Samples:
    """Once-a-second samples of a session: net inventory, time at the limit, the P&L paths (marked
    at the fair value and at the mid of the book without us), the estimated reward."""

    inventory: list[float] = field(default_factory=list)
    pnl_path: list[float] = field(default_factory=list)
    pnl_mid_path: list[float] = field(default_factory=list)
    at_limit: int = 0
    reward: float = 0.0  # pUSD: the engine's estimated reward rate held for each sample's interval
    last_mid: Decimal = Decimal("0.5")

    def add(self, net: Decimal, limit: Decimal, pnl: float) -> None:
        self.inventory.append(float(net))
        self.at_limit += abs(net) >= limit
        self.pnl_path.append(pnl)

    def max_drawdown(self) -> float:
        return _max_drawdown(self.pnl_path)

    def take(self, engine: QuotingEngine, market: Market, fair: Decimal, every_s: float) -> None:
        """One sample of the running session (the P&L from the engine's own projection of the
        ledger, kept fill by fill: a full projection every second is slow)."""
        state = engine.states[market.condition_id]
        assert state.projection is not None
        limit = engine.config.params.position_limit
        self.add(state.yes_position - state.no_position, limit, float(state.projection.pnl(fair).total_pnl))
        mid = engine.external_mid(market)
        self.last_mid = mid if mid is not None else self.last_mid
        self.pnl_mid_path.append(float(state.projection.pnl(self.last_mid).total_pnl))
        if mid is not None and market.rewards.active:
            mine = [o for o in engine.live.values() if o.market == market.condition_id]
            orders = [order_view(market, o, mid) for o in mine]
            rate = reward_rate(engine.books.get(market.yes_token), market, orders, mid)
            self.reward += float(rate or 0) * every_s / 86_400


def _max_drawdown(path: list[float]) -> float:
    """The largest fall of the path below its running peak (>= 0)."""
    peak, drawdown = -math.inf, 0.0
    for value in path:
        peak = max(peak, value)
        drawdown = max(drawdown, peak - value)
    return drawdown


def _book_mid(exchange: LocalExchange, market: Market) -> Decimal | None:
    """The YES mid of the exchange's book (ours cancelled at the end of a session)."""
    bid, ask = exchange.best_bid_ask(market.yes_token)
    return (bid + ask) / 2 if bid is not None and ask is not None else None


def _total_pnl(ledger: Ledger, market: Market, fair: Decimal) -> float:
    """P&L marked at `fair`: the latent fair value (the honest mark: the book mid can be pushed
    around), or the mid for the second mark."""
    report = project(
        ledger.fills(market.condition_id),
        ledger.flows(market.condition_id),
        {market.condition_id: market},
        {market.condition_id: fair},
    )
    return float(report.total_pnl)


if __name__ == "__main__":
    import sys

    spread = Decimal(sys.argv[1]) if len(sys.argv) > 1 else Decimal("0.04")
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    params = QuoteParams(spread=spread, size=Decimal(10), position_limit=Decimal(50))
    print(asyncio.run(simulate(1, minutes, params)))
