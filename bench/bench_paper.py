"""Paper vs real: one strategy traded for real and on paper, side by side, on the same local market.

Two bots with the same settings (polymm's defaults at the quality bench's fixed spread 0.02, size and
limit, as `PAPER_PARAMS` says why)
quote the same market of one in-process LocalExchange, driven by its seeded synthetic flow in
virtual time (as `bench/backtest.py` does, so 10 minutes take about a second):

- the REAL bot: a `QuotingEngine` on a `SimVenue` of its own funded account; its orders rest in
  the exchange's book and the flow's takers trade with them;
- the PAPER bot: a `QuotingEngine` on a `PaperVenue` whose market data is a `SimVenue` of another
  (unfunded) account, used for market data only: the same clock, the same collateral, the
  risk-averse queue and Latency(0, 0, None) (no added delay: the SimVenue has none either).

Each bot has its own temporary ledger; fills, filled volume and P&L (marked at the flow's latent
fair value, like `bench/backtest.py`) are compared per seed and in total, and the agreement is the
ratio paper / real.

The paper bot's feed is one of:
- "public": the exchange's feed as anyone sees it, the real bot's resting orders included. This is
  the issue's experiment, and what a user gets running a paper bot beside a live one. It is biased
  against the paper bot: it sees the real bot as a competitor (at a shared price it queues behind
  the real bot's order, which is in the book before the paper bot's feed shows the change both
  react to), while the real bot never sees the paper bot.
- "without-real": the same feed with the real bot's resting orders taken out (`WithoutAccount`), so
  the paper bot reads the market the real bot's engine reads (the engine takes its own orders out
  of the book) and stands in its place in the queue. The trades are the same prints. What remains
  is the simulator's own error; the gap between the two rows is the interaction.

The figures, the biases and what is left (mostly settlement: 2 s on the exchange, instant on paper)
are in docs/backtesting.md, "Paper vs real"; tests/backtest/test_paper_fidelity.py runs it short.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bench.backtest import _drain, _engine_config, _step, _total_pnl
from bench.bench_quality import FLOW, OUR_REGIME, OURS
from polymm_cli.backtest.queue import RiskAverseQueue
from polymm_cli.clock import ManualClock
from polymm_cli.engine import QuotingEngine
from polymm_cli.exchange.core import LocalExchange, SettlementConfig
from polymm_cli.exchange.events import BookEvent, ExchangeEvent
from polymm_cli.exchange.flow import FlowConfig, SyntheticFlow
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.ledger import Ledger
from polymm_cli.model import ONE, ZERO, Account, Market, PriceLevel, Side
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams
from polymm_cli.venues.base import BookSnapshot, Venue
from polymm_cli.venues.paper import Latency, PaperVenue
from polymm_cli.venues.sim import SimEvents, SimVenue

Feed = Literal["public", "without-real"]
FEEDS: tuple[Feed, ...] = ("public", "without-real")
REAL = "0x" + "7ea1" * 10
PAPER = "0x" + "9a9e" * 10
DATA = "0x" + "da7a" * 10
COLLATERAL = Decimal(10_000)
PAPER_LATENCY = Latency(order_entry_s=0.0, cancel_s=0.0, market_data_s=None)
# Event-loop rounds after each flow step: enough for both engines to finish reacting to the step
# (the paper bot's events take one hop more, through the PaperVenue's pump). Every figure is the
# same from 8 rounds up; 3 (bench/backtest.py's) leaves some reactions to the next step.
ROUNDS = 10

# The fixed width the paper-vs-real figures were measured with (README, docs/backtesting.md): polymm's
# own width joins the touch, where the queue model's error is larger (2 seeds x 3 minutes: 19 paper
# fills against 16 real, outside the 10% the fidelity test holds); that is yet to be measured fully.
# The skew as it was then too (factor 0.5 from 0.6 of the limit, no volatility term): the default
# skew now moves both bots' quotes from the first share, so a single fill one bot gets and the other
# does not sets their paths apart (2 seeds x 3 minutes: 35 paper fills against 25 real). What this
# measures is the paper venue's fill model, on a strategy whose quotes do not follow the fill path
# until inventory builds.
PAPER_PARAMS = replace(
    OURS,
    adaptive_spread=False,
    taper=False,
    skew_factor=Decimal("0.5"),
    skew_start=Decimal("0.6"),
    skew_gamma=Decimal(0),
)


@dataclass(frozen=True)
class BotStats:
    fills: int
    volume: float  # shares filled
    pnl: float  # pUSD, marked at the flow's fair value at the end


@dataclass(frozen=True)
class SeedRun:
    seed: int
    real: BotStats
    paper: BotStats


class WithoutAccount(SimVenue):
    """A market-data venue whose books leave out one account's resting orders: the market as that
    account's own engine reads it. A level change that only moved that account's orders is not
    sent (it changes nothing the reader sees). Trades are sent as they are."""

    def __init__(
        self, exchange: LocalExchange, clock: ManualClock, *, address: str, hidden_owner: str
    ) -> None:
        super().__init__(exchange, clock, address=address, owner="paper-data", dead_mans_switch=False)
        self.hidden_owner = hidden_owner

    def _hidden(self) -> dict[tuple[str, Side, Decimal], Decimal]:
        """The hidden account's resting size per (token, side, price), on both tokens' books."""
        sizes: dict[tuple[str, Side, Decimal], Decimal] = {}
        for order in self.exchange.open_orders(self.hidden_owner):
            market = self.exchange.market_for_token(order.token_id)
            assert market is not None
            left = order.original_size - order.size_matched
            other = market.no_token if order.token_id == market.yes_token else market.yes_token
            for key in (
                (order.token_id, order.side, order.price),
                (other, order.side.opposite, ONE - order.price),
            ):
                sizes[key] = sizes.get(key, ZERO) + left
        return sizes

    def _snapshot(self, token_id: str) -> BookSnapshot:
        snapshot = super()._snapshot(token_id)
        hidden = self._hidden()

        def strip(levels: tuple[PriceLevel, ...], side: Side) -> tuple[PriceLevel, ...]:
            sizes = ((lvl.price, lvl.size - hidden.get((token_id, side, lvl.price), ZERO)) for lvl in levels)
            return tuple(PriceLevel(price, size) for price, size in sizes if size > 0)

        return replace(snapshot, bids=strip(snapshot.bids, Side.BUY), asks=strip(snapshot.asks, Side.SELL))

    def _shown(self) -> dict[tuple[str, Side, Decimal], Decimal]:
        """Every level as this venue shows it now, per (token, side, price)."""
        hidden, shown = self._hidden(), {}
        for token in (t for m in self.exchange.markets.values() for t in m.tokens):
            bids, asks = self.exchange.book_levels(token)
            for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
                for price, size in levels:
                    shown[(token, side, price)] = size - hidden.get((token, side, price), ZERO)
        return shown

    def _attach(self, stream: SimEvents, listener: Callable[[ExchangeEvent], None]) -> None:
        shown = self._shown()  # what the stream's first snapshots will show

        def without(event: ExchangeEvent) -> None:
            if isinstance(event, BookEvent):
                hidden, changes = self._hidden(), []
                for change in event.changes:
                    key = (change.token_id, change.side, change.price)
                    size = change.size - hidden.get(key, ZERO)
                    if shown.get(key, ZERO) != size:
                        shown[key] = size
                        changes.append(replace(change, size=size, best_bid=None, best_ask=None))
                if not changes:
                    return
                event = replace(event, changes=tuple(changes))
            listener(event)

        super()._attach(stream, without)


def _paper_venue(
    exchange: LocalExchange, clock: ManualClock, market: Market, seed: int, feed: Feed
) -> PaperVenue:
    data: SimVenue
    if feed == "public":
        data = SimVenue(exchange, clock, address=DATA, owner="paper-data", dead_mans_switch=False)
    else:
        data = WithoutAccount(exchange, clock, address=DATA, hidden_owner="real")
    return PaperVenue(
        data,
        clock,
        collateral=COLLATERAL,
        address=PAPER,
        markets=[market],
        queue=RiskAverseQueue(),
        latency=PAPER_LATENCY,
        id_seed=f"bench-paper-{seed}",
    )


def _stats(ledger: Ledger, market: Market, fair: Decimal) -> BotStats:
    fills = [f for f in ledger.fills(market.condition_id) if f.effective]
    return BotStats(
        fills=len(fills),
        volume=float(sum((f.size for f in fills), ZERO)),
        pnl=_total_pnl(ledger, market, fair),
    )


async def session(
    seed: int,
    minutes: float,
    *,
    feed: Feed = "public",
    params: QuoteParams = PAPER_PARAMS,
    regime: RegimeParams = OUR_REGIME,
    flow: FlowConfig = FLOW,
    step_s: float = 0.25,
    settlement_s: float = 2.0,
) -> SeedRun:
    """One seed: the real and the paper bot side by side on one market for `minutes`."""
    market = sample_markets()[0]
    clock = ManualClock()
    exchange = LocalExchange([market], clock, seed=seed, settlement=SettlementConfig(settlement_s))
    synthetic = SyntheticFlow(exchange, clock, flow, seed=seed)
    exchange.fund(REAL, COLLATERAL)
    bots: list[tuple[Venue, Account]] = [
        (
            SimVenue(exchange, clock, address=REAL, owner="real", dead_mans_switch=False),
            Account("local", REAL),
        ),
        (_paper_venue(exchange, clock, market, seed, feed), Account("paper", PAPER)),
    ]
    config = _engine_config(params, regime)
    with ExitStack() as stack:
        ledgers = [
            stack.enter_context(
                Ledger.open(Path(stack.enter_context(tempfile.TemporaryDirectory())), account=a)
            )
            for _, a in bots
        ]
        engines = [
            QuotingEngine(venue, ledger, clock, [market], config, venue_name=account.venue)
            for (venue, account), ledger in zip(bots, ledgers, strict=True)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(engine.run(stop=stop)) for engine in engines]
        for _ in range(int(20 / step_s)):  # warm up the flow's book before the bots start quoting
            _step(clock, synthetic, exchange, step_s)
        await _drain(2 * ROUNDS)
        for _ in range(int(minutes * 60 / step_s)):
            _step(clock, synthetic, exchange, step_s)
            await _drain(ROUNDS)
        clock.advance(settlement_s)  # the last fills settle (no flow: nothing trades meanwhile)
        exchange.advance()
        await _drain(ROUNDS)
        stop.set()
        await asyncio.gather(*tasks)
        fair = synthetic.fair_value(market.condition_id)
        real, paper = (_stats(ledger, market, fair) for ledger in ledgers)
    return SeedRun(seed, real, paper)


def _ratio(paper: float, real: float) -> float | None:
    return paper / real if real else None


def summarise(runs: list[SeedRun]) -> dict[str, Any]:
    """Totals over the seeds and the agreement (paper / real) of fills, volume and P&L."""
    total = {
        side: {
            "fills": sum(getattr(r, side).fills for r in runs),
            "volume": round(sum(getattr(r, side).volume for r in runs), 6),
            "pnl": round(sum(getattr(r, side).pnl for r in runs), 6),
        }
        for side in ("real", "paper")
    }
    real, paper = total["real"], total["paper"]
    return {
        "seeds": [{"seed": r.seed, "real": asdict(r.real), "paper": asdict(r.paper)} for r in runs],
        "real": real,
        "paper": paper,
        "agreement": {key: _ratio(paper[key], real[key]) for key in ("fills", "volume", "pnl")},
    }


def bench_paper(seeds: int = 10, minutes: float = 10.0) -> dict[str, Any]:
    started = time.perf_counter()
    feeds = {
        feed: summarise([asyncio.run(session(seed, minutes, feed=feed)) for seed in range(1, seeds + 1)])
        for feed in FEEDS
    }
    return {"seeds": seeds, "minutes": minutes, "feeds": feeds, "elapsed_s": time.perf_counter() - started}


FEED_LABELS = {"public": "side by side, public feed", "without-real": "feed without the real bot"}


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.0%}"


def table(result: dict[str, Any]) -> str:
    """The printed rows: per feed, real vs paper totals and the agreement, then fills per seed."""
    head = f"  {'paper feed':<27}{'fills real/paper':>18}{'volume real/paper':>20}{'P&L real/paper':>18}"
    lines = [head + "   agreement fills / volume / P&L"]
    for feed, s in result["feeds"].items():
        real, paper, agree = s["real"], s["paper"], s["agreement"]
        lines.append(
            f"  {FEED_LABELS[feed]:<27}{real['fills']:>10} / {paper['fills']:<5}"
            f"{real['volume']:>11,.1f} / {paper['volume']:<7,.1f}"
            f"{real['pnl']:>9.2f} / {paper['pnl']:<6.2f}"
            f"   {_pct(agree['fills'])} / {_pct(agree['volume'])} / {_pct(agree['pnl'])}"
        )
    for feed, s in result["feeds"].items():
        per_seed = "  ".join(f"{r['real']['fills']}/{r['paper']['fills']}" for r in s["seeds"])
        lines.append(f"  fills per seed, real/paper ({FEED_LABELS[feed]}): {per_seed}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    out = bench_paper(seeds, minutes)
    print(f"{seeds} seeds x {minutes:g} min, {out['elapsed_s']:.1f} s")
    print(table(out))
