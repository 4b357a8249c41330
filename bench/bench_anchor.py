"""Validation against the anchor: polymm's backtest and hftbacktest, same strategy, same data, same models.

The strategy is the simple fixed-spread market maker (bench/anchor_hbt.py says exactly what it does):
in polymm through `replay_session` with every optional rule off (no skew, microprice, regime rule,
reward fitting, dust or trust rule); in hftbacktest 2.4 as a numba strategy. Both use a risk-averse
queue, the same constant latencies (order entry and cancel 100 ms, market data 50 ms) and the same
recorded events: the replay's own timeline is converted for hftbacktest.

Two polymm runs per market: with hftbacktest's assumptions (the queue's match window at 0: a level
decrease just before the trade print that caused it is taken for a cancel, as hftbacktest takes it)
and with polymm's defaults (a 0.25 s window: Polymarket sends the level change before the trade, and
polymm counts that trade once). The first is held to the tolerance below; the second shows what the
window changes. P&L is marked for both at the recorded book's final mid (cash + net YES position x mid -
fees; polymm's asks are BUYs of NO in its ledger, taken in YES terms: a short YES at the ask).

Data: the 3-minute Tickscope sample in tests/fixtures (always there), the nautilus crossing burst (a
real 166 s capture with both tokens, copied there too) and, when ../shared/data is beside the
repository, the full Tickscope capture (an NHL game, two files, 20 min, six markets). Run on its own:
`.venv/bin/python -m bench.bench_anchor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.anchor_hbt import AnchorResult, StrategyParams, run_anchor, to_feed
from polymm_cli.backtest.fills import FillSimulator
from polymm_cli.backtest.importers import import_capture
from polymm_cli.backtest.queue import MATCH_WINDOW_S, RiskAverseQueue
from polymm_cli.backtest.recording import recording_markets, replay_events
from polymm_cli.backtest.replay import ReplayConfig, monotone, replay_session
from polymm_cli.backtest.result import BacktestResult
from polymm_cli.engine import EngineConfig
from polymm_cli.model import Market
from polymm_cli.quoter import QuoteParams
from polymm_cli.regime import RegimeParams
from polymm_cli.trust import TrustParams
from polymm_cli.venues.paper import Latency

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared" / "data"
SAMPLE = FIXTURES / "03_normalized_ticks" / "tickscope__polymarket_20260607_0130_sample.parquet"
BURST = FIXTURES / "01_ws_current_format" / "nautilus__ws_market_price_change_crossing_burst.json"
FULL = ("tickscope__polymarket_20260607_0130.parquet", "tickscope__polymarket_20260607_0145.parquet")

SPREAD = Decimal("0.04")  # full width: 2c each side of the mid
LIMIT_QUOTES = 4  # position limit = 4 quotes' size
LATENCY = Latency(order_entry_s=0.1, cancel_s=0.1, market_data_s=0.05)
WARMUP_S = 30.0

# The tolerance held, with hftbacktest's queue assumptions (docs/backtesting.md, "Validation against
# hftbacktest", says why): fills and volume per market and in total, P&L in total, and most fills
# identical.
FILLS_REL, FILLS_ABS = 0.10, 2  # fills within 10% or 2 fills, whichever is larger
VOLUME_REL, VOLUME_ABS = 0.10, 10.0  # shares
PNL_REL, PNL_ABS = 0.10, 0.5  # pUSD, in total
SAME_SHARE = 0.8  # of the fills (the side with more), identical in time (1 ms), side and price


@dataclass(frozen=True)
class Figures:
    fills: int
    volume: float  # shares
    pnl: float  # pUSD at the final mid, net of fees
    position: float  # net YES shares at the end


@dataclass(frozen=True)
class Comparison:
    case: str
    market: str
    events: int
    mid: float
    polymm: Figures  # hftbacktest's queue assumptions (match window 0)
    anchor: Figures
    polymm_default: Figures  # polymm's own queue (0.25 s match window)
    same_fills: int  # fills of both at the same time (1 ms), side and price
    polymm_s: float
    anchor_s: float

    def within(self) -> bool:
        """A market's part of the tolerance: fills and volume."""
        return within_tolerance(self.polymm, self.anchor, pnl=False)


def within_tolerance(ours: Figures, anchor: Figures, *, pnl: bool = True) -> bool:
    """Fills, volume (and P&L) each within the larger of a share and an amount of the anchor's."""
    return (
        abs(ours.fills - anchor.fills) <= max(FILLS_ABS, FILLS_REL * anchor.fills)
        and abs(ours.volume - anchor.volume) <= max(VOLUME_ABS, VOLUME_REL * anchor.volume)
        and (not pnl or abs(ours.pnl - anchor.pnl) <= max(PNL_ABS, PNL_REL * abs(anchor.pnl)))
    )


def mostly_same(same: int, ours: Figures, anchor: Figures) -> bool:
    return same >= SAME_SHARE * max(ours.fills, anchor.fills)


def engine_config_for(market: Market) -> EngineConfig:
    """polymm's engine as the fixed-spread strategy: every rule beyond spread, size and limit off."""
    size = market.min_order_size
    params = QuoteParams(
        spread=max(SPREAD, 2 * market.tick_size),
        size=size,
        position_limit=LIMIT_QUOTES * size,
        requote_threshold=Decimal(0),  # any mid change re-prices; an unchanged price keeps its queue place
        use_microprice=False,
        skew_enabled=False,
        reward_band=False,
        reward_size=False,
    )
    trust = TrustParams(min_top_size=Decimal("0.000001"), warmup_updates=0, jump_bound=Decimal(1))
    return EngineConfig(params=params, regime=RegimeParams.off(), trust=trust)


def anchor_params(market: Market, config: EngineConfig, latency: Latency) -> StrategyParams:
    p = config.params
    md = latency.market_data_s or 0.0
    return StrategyParams(
        tick=market.tick_size,
        spread=p.spread,
        size=p.size,
        position_limit=p.position_limit,
        min_size=market.min_order_size,
        size_fraction=config.tolerance.size_fraction,
        entry_s=latency.order_entry_s,
        fill_notice_s=md,
        overlap=config.overlap_cancels,
        max_orders=config.max_orders_per_market,
    )


@contextlib.contextmanager
def match_window(seconds: float) -> Iterator[None]:
    """The paper venue's queue match window for the sessions run inside (replay_session does not
    take one: the default of `FillSimulator` is set for the while)."""
    defaults = FillSimulator.__init__.__kwdefaults__
    assert defaults is not None  # keyword-only parameters with defaults
    before = defaults["match_window_s"]
    defaults["match_window_s"] = seconds
    try:
        yield
    finally:
        defaults["match_window_s"] = before


def polymm_figures(result: BacktestResult, mid: float) -> Figures:
    cash, net, volume = 0.0, 0.0, 0.0
    for f in result.fill_points:
        size, price = float(f.size), float(f.yes_price)
        cash += -price * size if f.is_bid else price * size
        net += size if f.is_bid else -size
        volume += size
    return Figures(result.fills, volume, cash + net * mid - float(result.fees), net)


def anchor_figures(a: AnchorResult) -> Figures:
    return Figures(a.fills, a.volume, a.pnl, a.position)


def same_fills(result: BacktestResult, a: AnchorResult) -> int:
    """How many of polymm's fills hftbacktest has too: same millisecond, side and price."""
    theirs: dict[tuple[int, bool, float], int] = {}
    for f in a.fill_log:
        key = (round(f.t * 1000), f.is_bid, round(f.yes_price, 6))
        theirs[key] = theirs.get(key, 0) + 1
    same = 0
    for p in result.fill_points:
        key = (round(p.t * 1000), p.is_bid, round(float(p.yes_price), 6))
        if theirs.get(key, 0) > 0:
            theirs[key] -= 1
            same += 1
    return same


async def compare(case: str, recording: Path, market: Market, latency: Latency = LATENCY) -> Comparison:
    """Both backtests of one market of a recording."""
    config = engine_config_for(market)
    replay = ReplayConfig(
        engine=config,
        queue=RiskAverseQueue(),
        latency=latency,
        collateral=Decimal(1_000_000),
        market=market.condition_id,
        warmup_s=WARMUP_S,
    )
    started = time.perf_counter()
    with match_window(0.0):
        ours = await replay_session(recording, replay)
    polymm_s = time.perf_counter() - started
    with match_window(MATCH_WINDOW_S):
        default = await replay_session(recording, replay)
    timeline = monotone(replay_events(recording, market.tokens), latency.market_data_s)
    feed = to_feed(timeline, market, warmup_s=WARMUP_S, due=latency.due)
    started = time.perf_counter()
    anchor = run_anchor(feed, anchor_params(market, config, latency))
    anchor_s = time.perf_counter() - started
    return Comparison(
        case=case,
        market=market.slug or market.condition_id[:10],
        events=ours.events,
        mid=anchor.mid,
        polymm=polymm_figures(ours, anchor.mid),
        anchor=anchor_figures(anchor),
        polymm_default=polymm_figures(default, anchor.mid),
        same_fills=same_fills(ours, anchor),
        polymm_s=polymm_s,
        anchor_s=anchor_s,
    )


def cases() -> list[tuple[str, list[Path]]]:
    """(name, captures imported into one recording): the fixtures always, the full capture if here."""
    found = [("tickscope sample (3 min)", [SAMPLE]), ("nautilus burst (166 s)", [BURST])]
    full = [SHARED / "03_normalized_ticks" / name for name in FULL]
    if all(p.is_file() for p in full):
        found.append(("tickscope NHL (20 min)", full))
    return [(name, paths) for name, paths in found if all(p.is_file() for p in paths)]


async def compare_case(name: str, captures: Sequence[Path], latency: Latency = LATENCY) -> list[Comparison]:
    with tempfile.TemporaryDirectory(prefix="polymm-anchor-") as tmp:
        recording = Path(tmp) / "rec"
        for capture in captures:
            import_capture(capture, recording)
        return [await compare(name, recording, m, latency) for m in recording_markets(recording)]


def total(rows: Sequence[Comparison], pick: str) -> Figures:
    figures = [getattr(r, pick) for r in rows]
    return Figures(
        fills=sum(f.fills for f in figures),
        volume=sum(f.volume for f in figures),
        pnl=sum(f.pnl for f in figures),
        position=sum(f.position for f in figures),
    )


def bench_anchor() -> dict[str, Any]:
    """Every case, every market: the figures of both, the total, and whether the tolerance holds."""
    rows: list[Comparison] = []
    for name, captures in cases():
        rows += asyncio.run(compare_case(name, captures))
    ours, anchor, default = total(rows, "polymm"), total(rows, "anchor"), total(rows, "polymm_default")
    same = sum(r.same_fills for r in rows)
    return {
        "strategy": {
            "spread": str(SPREAD),
            "size": "market minimum",
            "position_limit": f"{LIMIT_QUOTES} x size",
            "latency": asdict(LATENCY),
            "queue": "risk-averse",
        },
        "tolerance": {
            "fills": f"{FILLS_REL:.0%} or {FILLS_ABS} (per market and in total)",
            "volume": f"{VOLUME_REL:.0%} or {VOLUME_ABS:g} shares (per market and in total)",
            "pnl": f"{PNL_REL:.0%} or {PNL_ABS:g} pUSD (in total)",
            "same_fills": f"{SAME_SHARE:.0%} of the fills identical",
        },
        "markets": [asdict(r) | {"within": r.within()} for r in rows],
        "total": {"polymm": asdict(ours), "hftbacktest": asdict(anchor), "polymm_default": asdict(default)},
        "same_fills": same,
        "within_tolerance": all(r.within() for r in rows)
        and within_tolerance(ours, anchor)
        and mostly_same(same, ours, anchor),
    }


def _cell(ours: float, anchor: float, fmt: str) -> str:
    return f"{ours:{fmt}} / {anchor:{fmt}} ({ours - anchor:+{fmt}})"


def _row(name: str, ours: dict[str, Any], anchor: dict[str, Any], default: dict[str, Any], note: str) -> str:
    fills = _cell(ours["fills"], anchor["fills"], "d")
    volume = _cell(ours["volume"], anchor["volume"], ".0f")
    pnl = _cell(ours["pnl"], anchor["pnl"], ".2f")
    return f"  {name[:44]:<44} {fills:>16} {volume:>22} {pnl:>26}  {default['fills']:>5}{note}"


def table(results: dict[str, Any]) -> str:
    """Per market: polymm / hftbacktest (difference) for fills, volume and P&L; then the total."""
    head = f"  {'case / market':<44} {'fills':>16} {'volume (shares)':>22} {'P&L (pUSD)':>26}  default fills"
    lines = [head]
    for r in results["markets"]:
        note = "" if r["within"] else "  OUTSIDE"
        lines.append(_row(f"{r['case']} {r['market']}", r["polymm"], r["anchor"], r["polymm_default"], note))
    t = results["total"]
    lines.append(_row("total", t["polymm"], t["hftbacktest"], t["polymm_default"], ""))
    tol = results["tolerance"]
    verdict = "within" if results["within_tolerance"] else "OUTSIDE"
    lines.append(f"  {results['same_fills']} fills identical (time, side, price); {verdict} the tolerance:")
    lines.append(f"  fills {tol['fills']}, volume {tol['volume']}, P&L {tol['pnl']}, {tol['same_fills']}")
    return "\n".join(lines)


def main() -> None:
    results = bench_anchor()
    print("polymm vs hftbacktest (polymm / hftbacktest (difference)), same strategy, data and models:")
    print(table(results))


if __name__ == "__main__":
    main()
