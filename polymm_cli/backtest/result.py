"""What a backtest found: headline figures and the series behind them, from samples and fills (pure).

A driver (replay or paper) samples the engine at a steady virtual-time interval (`Sample`: the mid,
our best bid and ask in YES terms, net position, cumulative P&L, estimated reward rate) and keeps
our fills (`FillPoint`, from the ledger's records by `fill_points`). `summarize` turns them and the
final P&L - the ledger projection of `pnl.py` (`MarketPnl`, as `QuotingEngine.market_pnl` or
`pnl.project` gives it), never a second bookkeeping - into a `BacktestResult`.

Definitions (docs/backtesting.md, "Reading the results"; the first four are bench/backtest.py's
`SessionStats` definitions, so the synthetic-flow bench and a replay agree on what they mean):

- max drawdown: the largest fall of the sampled cumulative P&L below its running peak, the peak
  starting at the first sample (>= 0, pUSD);
- inventory std: the population standard deviation of the sampled net position (YES - NO);
- time at limit: the share of samples with |net position| >= the position limit;
- fills and maker volume: effective fills (FAILED excluded); maker volume is the size (tokens) of
  our MAKER fills, maker notional their pUSD (own-token price x size);
- realised, unrealised, fees, total: the final projection's figures (`pnl.py`), total = realised
  + unrealised - fees; unrealised is None when the final mark was missing;
- P&L per hour: total x 3600 / duration (0 for a session without duration);
- P&L per hour std: the cumulative P&L, read as a step function of the samples, is cut into
  complete buckets of `bucket_s` seconds from the first sample (a trailing partial bucket is
  dropped); the sample standard deviation (n - 1) of the per-bucket P&L changes is scaled to an
  hour by sqrt(3600 / bucket_s) (independent increments: variances add). None with fewer than two
  complete buckets. By default (`auto_bucket`) the bucket is an hour when the session holds at
  least 10 of them, else 5 minutes when it holds 10 of those, else a minute;
- estimated reward: each sample's estimated reward rate (pUSD/day, `reward_rate`: our share of the
  market's daily pool by rewards.py's Q_min scoring of our quotes against the book) held until the
  next sample, integrated over the session: sum rate_i x (t_{i+1} - t_i) / 86400. 0 when the market
  pays no rewards.

Must not: read a clock, a venue or the ledger; use floats for money (times and shares are floats).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeVar

from polymm_cli.model import ZERO, FillRecord, Market, MarketSnapshot, PriceLevel
from polymm_cli.pnl import MarketPnl, MarketProjection
from polymm_cli.rewards import book_q_min, estimated_reward_rate

SECONDS_PER_DAY = Decimal(86_400)
BUCKETS_S = (3600.0, 300.0, 60.0)  # the P&L std's bucket: the longest of which a session holds MIN_BUCKETS
MIN_BUCKETS = 10
_R = TypeVar("_R")
_EPS = 1e-9  # a sample stamped at a bucket boundary by float arithmetic still belongs to it


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """The session at one instant: what the charts draw and the path metrics read."""

    t: float  # unix seconds (virtual time)
    mid: Decimal | None  # the YES book's mid, None without a two-sided book
    bid: Decimal | None  # our best bid in YES terms, None when we had none resting
    ask: Decimal | None  # our best ask in YES terms
    net_position: Decimal  # YES - NO
    pnl: Decimal  # cumulative total P&L, marked (the projection's total_pnl)
    reward_rate: Decimal = ZERO  # estimated pUSD/day from the reward pool at this instant


@dataclass(frozen=True, slots=True, kw_only=True)
class FillPoint:
    """One of our fills in YES terms: a bid fill raised net position, an ask fill lowered it."""

    t: float  # unix seconds (the fill's venue time)
    is_bid: bool
    yes_price: Decimal
    size: Decimal
    liquidity: str  # "MAKER" or "TAKER"
    notional: Decimal = ZERO  # pUSD: own-token price x size


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """A backtest's headline figures, what produced them, and the series for the report."""

    market_id: str
    question: str
    slug: str
    tick_size: Decimal
    params: dict[str, str] = field(hash=False)  # what was run: quote params, queue model, latency, seed
    duration_s: float
    events: int  # market events replayed
    position_limit: Decimal
    realised: Decimal
    unrealised: Decimal | None
    fees: Decimal
    total: Decimal
    max_drawdown: Decimal
    pnl_per_hour: Decimal
    pnl_per_hour_std: Decimal | None
    pnl_bucket_s: float
    fills: int
    maker_volume: Decimal
    maker_notional: Decimal
    inventory_std: Decimal
    time_at_limit: float
    estimated_reward: Decimal
    samples: tuple[Sample, ...] = ()
    fill_points: tuple[FillPoint, ...] = ()

    def to_json(self, *, series: bool = True) -> dict[str, Any]:
        """A JSON-safe dict: Decimals as decimal strings, times as numbers; `series` adds the samples
        and fills (large: `--json` leaves them out, the report and a grid worker keep them)."""
        return _to_json(self, series)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BacktestResult:
        """The inverse of `to_json` (a result without series gets empty ones)."""
        return _from_json(data)


def fill_points(records: Iterable[FillRecord], market: Market) -> list[FillPoint]:
    """The ledger's fills of `market` in YES terms, in time order (FAILED fills moved nothing: left out)."""
    points = [
        FillPoint(
            t=f.venue_ts,
            is_bid=market.is_bid(f.token_id, f.side),
            yes_price=market.yes_price(f.token_id, f.price),
            size=f.size,
            liquidity=f.liquidity.upper(),
            notional=f.price * f.size,
        )
        for f in records
        if f.effective and f.market == market.condition_id
    ]
    points.sort(key=lambda p: p.t)
    return points


def flat_pnl(market: Market) -> MarketPnl:
    """The P&L of a market without records (a session that never filled): zeros, as `project` would."""
    return MarketProjection(market).pnl(None)


def sample_from_snapshot(
    t: float, snap: MarketSnapshot, *, previous: Sample | None = None, ours_in_book: bool = False
) -> Sample:
    """A sample of one market from the engine's snapshot: our best quotes, position, P&L, reward rate.

    Without a mark (no two-sided book: a gap in a recording) the P&L cannot be marked: the
    `previous` sample's is carried (the snapshot's realised - fees without one), so a missing book
    never shows as a loss. `ours_in_book`: whether the snapshot's book holds our own orders (a live
    venue's does; a replayed or paper book is the recording's, without them). The reward rate
    sees the snapshot's book levels only (`EngineConfig.book_depth_shown`): a backtest should give
    the engine enough depth to span the market's max spread, or the competition is undercounted.
    """
    market = snap.market
    bids = [o.yes_price for o in snap.orders if market.is_bid(o.token_id, o.side)]
    asks = [o.yes_price for o in snap.orders if not market.is_bid(o.token_id, o.side)]
    carried = snap.unrealized_pnl is None and previous is not None
    return Sample(
        t=t,
        mid=snap.mid,
        bid=max(bids) if bids else None,
        ask=min(asks) if asks else None,
        net_position=snap.net_position,
        pnl=previous.pnl if carried and previous is not None else snap.total_pnl,
        reward_rate=reward_rate(snap, ours_in_book=ours_in_book),
    )


def reward_rate(snap: MarketSnapshot, *, ours_in_book: bool = False) -> Decimal:
    """Our estimated pUSD/day from the market's reward pool, by rewards.py's scoring: Q_min of our
    orders (each scored on its own) against Q_min of the rest of the snapshot's book levels."""
    market = snap.market
    if not market.rewards.active or snap.mid is None:
        return ZERO
    our_bids = sorted(
        ((o.yes_price, o.remaining) for o in snap.orders if market.is_bid(o.token_id, o.side)), reverse=True
    )
    our_asks = sorted(
        (o.yes_price, o.remaining) for o in snap.orders if not market.is_bid(o.token_id, o.side)
    )
    mine = book_q_min(our_bids, our_asks, market.rewards, snap.mid)
    if mine <= ZERO:
        return ZERO
    others = book_q_min(
        _others(snap.bids, our_bids if ours_in_book else []),
        _others(snap.asks, our_asks if ours_in_book else []),
        market.rewards,
        snap.mid,
    )
    return estimated_reward_rate(mine, others, market.rewards.daily_rate)


def _others(
    levels: Sequence[PriceLevel], ours: Sequence[tuple[Decimal, Decimal]]
) -> list[tuple[Decimal, Decimal]]:
    """Book levels less our own size at each price (best first, as the book gives them)."""
    at: dict[Decimal, Decimal] = {}
    for price, size in ours:
        at[price] = at.get(price, ZERO) + size
    return [(lv.price, lv.size - at.get(lv.price, ZERO)) for lv in levels]


# -- the figures ----------------------------------------------------------------------------------


def summarize(
    market: Market,
    samples: Sequence[Sample],
    fills: Sequence[FillPoint],
    pnl: MarketPnl,
    *,
    limit: Decimal,
    events: int = 0,
    params: Mapping[str, str] | None = None,
    duration_s: float | None = None,
    bucket_s: float | None = None,
) -> BacktestResult:
    """The result of one session (definitions in the module docstring).

    `samples` in time order (sample the end of the session too: the path metrics read only
    samples); `fills` our fills (`fill_points`); `pnl` the final projection of the ledger, marked;
    `limit` the position limit; `duration_s` the session's length (default: first to last sample);
    `bucket_s` the P&L std's bucket (default `auto_bucket`). ValueError when samples go back in
    time or `limit` / `bucket_s` is not positive.
    """
    if any(b.t < a.t for a, b in pairwise(samples)):
        raise ValueError("samples must be in time order")
    span = samples[-1].t - samples[0].t if samples else 0.0
    bucket_s = auto_bucket(span) if bucket_s is None else bucket_s
    if limit <= 0 or bucket_s <= 0:
        raise ValueError(f"limit and bucket_s must be positive, got {limit} and {bucket_s}")
    duration = span if duration_s is None else duration_s
    makers = [f for f in fills if f.liquidity.upper() == "MAKER"]
    nets = [s.net_position for s in samples]
    return BacktestResult(
        market_id=market.condition_id,
        question=market.question,
        slug=market.slug,
        tick_size=market.tick_size,
        params=dict(params or {}),
        duration_s=duration,
        events=events,
        position_limit=limit,
        realised=pnl.realized_pnl,
        unrealised=pnl.unrealized_pnl,
        fees=pnl.fees,
        total=pnl.total_pnl,
        max_drawdown=max_drawdown(samples),
        pnl_per_hour=per_hour(pnl.total_pnl, duration),
        pnl_per_hour_std=pnl_per_hour_std(samples, bucket_s),
        pnl_bucket_s=bucket_s,
        fills=len(fills),
        maker_volume=sum((f.size for f in makers), ZERO),
        maker_notional=sum((f.notional for f in makers), ZERO),
        inventory_std=statistics.pstdev(nets) if nets else ZERO,
        time_at_limit=sum(1 for n in nets if abs(n) >= limit) / len(nets) if nets else 0.0,
        estimated_reward=estimated_reward(samples) if market.rewards.active else ZERO,
        samples=tuple(samples),
        fill_points=tuple(fills),
    )


def drawdowns(samples: Sequence[Sample]) -> list[Decimal]:
    """Each sample's fall below the running peak of cumulative P&L (the peak starts at the first)."""
    out: list[Decimal] = []
    peak: Decimal | None = None
    for s in samples:
        peak = s.pnl if peak is None else max(peak, s.pnl)
        out.append(peak - s.pnl)
    return out


def max_drawdown(samples: Sequence[Sample]) -> Decimal:
    return max(drawdowns(samples), default=ZERO)


def per_hour(amount: Decimal, duration_s: float) -> Decimal:
    """`amount` over `duration_s` seconds, per hour; 0 without a duration."""
    if duration_s <= 0 or not amount:
        return ZERO
    return amount * 3600 / _dec(duration_s)


def auto_bucket(span_s: float) -> float:
    """The P&L std's bucket for a session of `span_s` seconds: the longest of an hour, 5 minutes and
    a minute that the session holds at least `MIN_BUCKETS` times (a minute when none is)."""
    for bucket in BUCKETS_S:
        if span_s + _EPS >= MIN_BUCKETS * bucket:
            return bucket
    return BUCKETS_S[-1]


def bucket_changes(samples: Sequence[Sample], bucket_s: float) -> list[Decimal]:
    """The P&L change over each complete `bucket_s` bucket from the first sample, the P&L read as a
    step function (its value at a boundary is the last sample's at or before it)."""
    if not samples:
        return []
    start = samples[0].t
    buckets = int((samples[-1].t - start + _EPS) // bucket_s)
    changes: list[Decimal] = []
    index, before = 0, samples[0].pnl
    for k in range(1, buckets + 1):
        boundary = start + k * bucket_s + _EPS
        while index + 1 < len(samples) and samples[index + 1].t <= boundary:
            index += 1
        changes.append(samples[index].pnl - before)
        before = samples[index].pnl
    return changes


def pnl_per_hour_std(samples: Sequence[Sample], bucket_s: float) -> Decimal | None:
    """The sample std of per-bucket P&L changes scaled to an hour; None under two complete buckets."""
    changes = bucket_changes(samples, bucket_s)
    if len(changes) < 2:
        return None
    return statistics.stdev(changes) * (Decimal(3600) / _dec(bucket_s)).sqrt()


def estimated_reward(samples: Sequence[Sample]) -> Decimal:
    """Each sample's reward rate (pUSD/day) held until the next sample, summed over the session."""
    total = ZERO
    for a, b in pairwise(samples):
        total += a.reward_rate * _dec(b.t - a.t)
    return total / SECONDS_PER_DAY


def rank(results: Iterable[BacktestResult]) -> list[BacktestResult]:
    """Best first: higher total P&L, then lower max drawdown, then the params (a deterministic order)."""
    return sorted(results, key=lambda r: (-r.total, r.max_drawdown, sorted(r.params.items())))


def _dec(value: float) -> Decimal:
    """A time (float seconds) as a Decimal, by its shortest repr (300.0 -> 300, 0.1 -> 0.1)."""
    return Decimal(repr(value))


# -- JSON -----------------------------------------------------------------------------------------

_SERIES = ("samples", "fill_points")


def _decimal_fields(cls: type) -> frozenset[str]:
    """The fields of one of this module's records that hold Decimals (annotations are strings here)."""
    return frozenset(f.name for f in fields(cls) if "Decimal" in str(f.type))


def _encode(record: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(record):
        if f.name in skip:
            continue
        value = getattr(record, f.name)
        out[f.name] = format(value, "f") if isinstance(value, Decimal) else value
    return out


def _decode(cls: type[_R], data: Mapping[str, Any], skip: tuple[str, ...] = ()) -> _R:
    decimals = _decimal_fields(cls)
    kwargs = {
        f.name: (None if data[f.name] is None else Decimal(data[f.name]))
        if f.name in decimals
        else data[f.name]
        for f in fields(cls)  # type: ignore[arg-type]
        if f.name not in skip and f.name in data
    }
    return cls(**kwargs)


def _to_json(result: BacktestResult, series: bool) -> dict[str, Any]:
    out = _encode(result, skip=_SERIES)
    out["params"] = dict(result.params)
    if series:
        out["samples"] = [_encode(s) for s in result.samples]
        out["fill_points"] = [_encode(f) for f in result.fill_points]
    return out


def _from_json(data: Mapping[str, Any]) -> BacktestResult:
    result = _decode(BacktestResult, data, skip=_SERIES)
    return replace(
        result,
        params={str(k): str(v) for k, v in result.params.items()},
        samples=tuple(_decode(Sample, s) for s in data.get("samples", ())),
        fill_points=tuple(_decode(FillPoint, f) for f in data.get("fill_points", ())),
    )
