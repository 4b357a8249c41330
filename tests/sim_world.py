"""A deterministic world for engine scenario tests: the in-process exchange in virtual time.

`SimWorld` holds a `ManualClock`, a quiet `LocalExchange` (no synthetic flow: one other trader, OTHER,
makes and moves the book on command), our bot's `SimVenue` and a ledger. Time only moves when a test
says so (`advance`, `run_until`), and the engine's timers run on that clock: engines made here beat
every 5 virtual seconds, never poll the halt file (an hour), and run their time-driven rules
(`tick_s`) every virtual second when a test asks for them (`ticks=True`).

Every helper reads what the EXCHANGE holds (our resting orders, our balances) so assertions are about
behaviour, not about the engine's internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

from polymm_cli.clock import ManualClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.errors import ExchangeRejection
from polymm_cli.exchange.accounts import COLLATERAL
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import make_market
from polymm_cli.ledger import Ledger
from polymm_cli.liquidation import StopLossParams
from polymm_cli.model import ONE, ZERO, Account, Market, OrderType, Side
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams
from polymm_cli.risk import PortfolioCaps
from polymm_cli.venues.sim import SimVenue

BOT = "0x" + "b0" * 20
OTHER = "0x" + "0e" * 20
TICK_S = 1.0  # virtual seconds between the engine's time-driven checks, when a test turns them on


def market(slug: str, **kw: object) -> Market:
    """A plain 0.01-tick market with a minimum size of 5 and no taker fee (P&L stays round)."""
    return make_market(slug, f"Test market {slug}?", tick="0.01", **kw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Quote:
    """One of our resting orders in YES terms: `side` "bid" raises e (BUY YES, SELL NO)."""

    side: str
    yes_price: D
    size: D
    token: str  # "YES" or "NO"
    order_side: Side


class SimWorld:
    def __init__(self, tmp_path: Path, markets: Sequence[Market], *, collateral: D = D(10_000)) -> None:
        self.clock = ManualClock()
        self.markets = {m.condition_id: m for m in markets}
        self.exchange = LocalExchange(markets, self.clock, settlement=SettlementConfig(0.0))
        self.exchange.fund(BOT, collateral)
        self.exchange.fund(OTHER, D(1_000_000))
        for m in markets:
            self.exchange.split(OTHER, m.condition_id, D(100_000))
        self.venue = SimVenue(self.exchange, self.clock, address=BOT, owner="bot", dead_mans_switch=False)
        self.ledger = Ledger.open(tmp_path, account=Account("local", BOT))
        self._ids = 0
        self.engine: QuotingEngine | None = None
        self.halt_reason: str | None = None  # what `polymm halt` would have written (the halt file)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[str] | None = None

    # -- the other trader -------------------------------------------------------------------------

    def _submit(
        self, owner: str, address: str, token: str, side: Side, price: D, size: D, kind: OrderType
    ) -> str:
        self._ids += 1
        oid = f"0x{self._ids:064x}"
        self.exchange.submit(OrderRequest(oid, owner, address, token, side, price, size, order_type=kind))
        return oid

    def other(
        self, m: Market, outcome: str, side: Side, price: str, size: str, kind: OrderType = OrderType.GTC
    ) -> str:
        token = m.yes_token if outcome == "YES" else m.no_token
        return self._submit("other", OTHER, token, side, D(price), D(size), kind)

    def other_take(self, m: Market, outcome: str, side: Side, price: str, size: str) -> bool:
        """OTHER sends a FAK; False when there was nothing to match."""
        try:
            self.other(m, outcome, side, price, size, OrderType.FAK)
        except ExchangeRejection:
            return False
        return True

    def book(
        self,
        m: Market,
        bids: Sequence[tuple[str, str]] | str,
        asks: Sequence[tuple[str, str]] | str,
        size: str = "100",
    ) -> None:
        """OTHER replaces its whole YES book of `m` (bids as BUY YES, asks as SELL YES), in one burst
        the engine sees only the end of."""
        self.exchange.cancel_where("other", market=m.condition_id)
        bid_levels = [(bids, size)] if isinstance(bids, str) else list(bids)
        ask_levels = [(asks, size)] if isinstance(asks, str) else list(asks)
        for price, qty in ask_levels:
            self.other(m, "YES", Side.SELL, price, qty)
        for price, qty in bid_levels:
            self.other(m, "YES", Side.BUY, price, qty)

    def other_orders(self, m: Market) -> list[tuple[Side, D, D]]:
        return [
            (o.side, o.price, o.original_size - o.size_matched)
            for o in self.exchange.open_orders("other", market=m.condition_id)
        ]

    # -- our account outside the engine ---------------------------------------------------------------

    def we_buy(self, m: Market, outcome: str, price: str, size: str) -> None:
        """Give the bot a position before the engine starts: OTHER rests a SELL, the bot takes it
        (the engine finds the fill at start-up, as after a restart)."""
        self.other(m, outcome, Side.SELL, price, size)
        token = m.yes_token if outcome == "YES" else m.no_token
        self._submit("bot", BOT, token, Side.BUY, D(price), D(size), OrderType.FAK)

    def held(self, m: Market, outcome: str) -> D:
        acct = self.exchange.account(BOT)
        return acct.balance(m.yes_token if outcome == "YES" else m.no_token)

    def net(self, m: Market) -> D:
        return self.held(m, "YES") - self.held(m, "NO")

    def collateral(self) -> D:
        return self.exchange.account(BOT).balance(COLLATERAL)

    def quotes(self, m: Market) -> list[Quote]:
        out = []
        for o in self.exchange.open_orders("bot", market=m.condition_id):
            is_yes = o.token_id == m.yes_token
            out.append(
                Quote(
                    side="bid" if (o.side is Side.BUY) == is_yes else "ask",
                    yes_price=o.price if is_yes else ONE - o.price,
                    size=o.original_size - o.size_matched,
                    token="YES" if is_yes else "NO",
                    order_side=o.side,
                )
            )
        return out

    def bids(self, m: Market) -> list[Quote]:
        return sorted((q for q in self.quotes(m) if q.side == "bid"), key=lambda q: -q.yes_price)

    def asks(self, m: Market) -> list[Quote]:
        return sorted((q for q in self.quotes(m) if q.side == "ask"), key=lambda q: q.yes_price)

    def worst_case(self, m: Market) -> tuple[D, D]:
        """Net exposure e if every resting order of ours on one side filled completely: (up, down)."""
        e = self.net(m)
        up = e + sum((q.size for q in self.quotes(m) if q.side == "bid"), ZERO)
        down = e - sum((q.size for q in self.quotes(m) if q.side == "ask"), ZERO)
        return up, down

    # -- the engine -----------------------------------------------------------------------------------

    def make_engine(
        self,
        *,
        spread: str = "0.04",
        adaptive_spread: bool = False,
        size: str = "10",
        position_limit: str = "100",
        requote_threshold: str = "0.005",
        levels: int = 1,
        level_spacing_ticks: int = 1,
        regime: RegimeParams | None = None,
        caps: PortfolioCaps | None = None,
        stop_loss: StopLossParams | None = None,
        ticks: bool = False,
        chain: bool = False,
        markets: Sequence[Market] | None = None,
    ) -> QuotingEngine:
        params = QuoteParams(
            spread=D(spread),
            size=D(size),
            position_limit=D(position_limit),
            requote_threshold=D(requote_threshold),
            skew_enabled=False,
            levels=levels,
            level_spacing_ticks=level_spacing_ticks,
            adaptive_spread=adaptive_spread,
        )
        self.engine = QuotingEngine(
            self.venue,
            self.ledger,
            self.clock,
            list(markets or self.markets.values()),
            EngineConfig(
                params=params,
                heartbeat_interval_s=5.0,
                heartbeat_stale_s=8.0,
                halt_poll_s=0.25,
                stop_timeout_s=1.0,
                tick_s=TICK_S if ticks else 3600,
                regime=regime or RegimeParams.off(),
                caps=caps or PortfolioCaps(),
                stop_loss=stop_loss or StopLossParams(),
            ),
            chain=self.venue if chain else None,
            halt_check=lambda: self.halt_reason,
        )
        return self.engine

    async def start(self, engine: QuotingEngine | None = None) -> QuotingEngine:
        engine = engine or self.engine or self.make_engine()
        self.engine = engine
        self.task = asyncio.create_task(engine.run(stop=self.stop))
        await until(lambda: engine.healthy)
        await settle()
        return engine

    async def finish(self) -> str:
        """Stop the run (if it has not ended by itself) and return what run() returned."""
        assert self.task is not None
        self.stop.set()
        return await asyncio.wait_for(self.task, 5)

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move virtual time forward in steps; after each the exchange does what is due and the
        engine gets the chance to handle its events and to run a tick."""
        left = seconds
        while True:
            dt = min(step, left)
            self.clock.advance(dt)
            self.exchange.advance()
            left -= dt
            await pause()
            if left <= 1e-9:
                return

    async def run_until(
        self, condition: Callable[[], bool], *, limit_s: float = 300.0, step: float = 1.0, what: str = ""
    ) -> None:
        """Advance virtual time step by step until `condition` holds (at most `limit_s`)."""
        waited = 0.0
        while not condition():
            if waited >= limit_s:
                raise AssertionError(f"not within {limit_s:g} virtual s{': ' + what if what else ''}")
            await self.advance(step, step)
            waited += step

    def close(self) -> None:
        self.ledger.close()


async def settle(rounds: int = 30) -> None:
    """Let the engine handle everything queued (it reacts within a few event-loop turns)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def pause() -> None:
    """Let the engine handle what a step of virtual time woke (its timers, the exchange's events)."""
    await settle()
    await settle()


async def until(condition: Callable[[], bool], timeout: float = 3.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met in time{': ' + what if what else ''}")
        await asyncio.sleep(0.001)
