"""Order-flow statistics of a market tape: the figures the synthetic flow is calibrated against.

Owns the definitions (the same for the local exchange's tape and for real captures): a `Tape` of
trade prints and top-of-book snapshots of one YES book, and `tape_stats`, pure functions computing
trade rate, burstiness, size tails, sign persistence, spreads, depth, book-update rate, mid
volatility, jumps and the mid move after a trade. Definitions follow the real-market study the bands
in docs/market-world.md come from:

- a print is one trade (one price level of one match); a taker event merges consecutive prints of the
  same side less than 5 ms apart;
- sign is +1 when the taker bought YES (or sold NO), -1 otherwise, in YES terms;
- the mid is (best bid + best ask) / 2 of the YES book after every book change, carried forward, and
  sampled each second for volatility, spread, depth and jumps;
- impact at h is the mean over prints of sign x (mid at t + h - mid just before t), in cents.

Statistics are floats (measurements, not money); a figure the tape cannot give (no trades, too few
samples) is None. Must not: read the clock, touch an exchange, or import anything heavy.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, fields

EVENT_GAP_S = 0.005  # prints of one side closer than this are one taker event
JUMP_CENTS = 3.0  # a jump: the mid moves at least this much ...
JUMP_WINDOW_S = 10  # ... within this many seconds
FANO_WINDOW_S = 60
HILL_TOP_SHARE = 0.10
VOL_HORIZONS_S = (1, 10, 60, 300)
IMPACT_HORIZONS_S = (0.5, 10.0, 60.0)
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Print:
    """One trade print: time (s), YES-terms price, size (shares), sign (+1 taker bought YES)."""

    time: float
    price: float
    size: float
    sign: int


@dataclass(frozen=True, slots=True)
class Top:
    """The YES book's top after a change; sizes at the best levels are None when unknown."""

    time: float
    bid: float | None
    ask: float | None
    bid_size: float | None = None
    ask_size: float | None = None


@dataclass(frozen=True, slots=True)
class Tape:
    """What was seen of one market between `start` and `end` (seconds), prints and tops time-sorted."""

    start: float
    end: float
    tick: float
    prints: Sequence[Print]
    tops: Sequence[Top]
    book_updates: int  # level-update entries of the YES book (one per level changed)

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60.0


@dataclass(frozen=True, slots=True)
class TapeStats:
    """One tape's figures (None: the tape cannot measure it). Units in each name's comment."""

    trades_per_min: float | None  # prints per minute
    prints_per_event: float | None
    size_median: float | None  # shares
    size_p90: float | None
    size_p99: float | None
    tail_index: float | None  # Hill estimator on the top 10% of sizes
    sign_ac1_prints: float | None  # trade-sign autocorrelation at lag 1, prints
    sign_ac1_events: float | None  # the same over taker events
    interarrival_cv: float | None  # coefficient of variation of gaps between taker events
    fano_60s: float | None  # variance / mean of print counts in 60 s windows
    spread_cents: float | None  # median, sampled each second
    spread_ticks: float | None  # median
    spread_ticks_mean: float | None
    depth_at_best: float | None  # median shares at the best bid and the best ask
    book_updates_per_min: float | None
    mid_vol_1s: float | None  # cents: std of mid changes over the horizon, sampled each second
    mid_vol_10s: float | None
    mid_vol_60s: float | None
    mid_vol_300s: float | None
    jumps_per_hour: float | None  # mid moves of >= 3 c within 10 s
    impact_0_5s: float | None  # cents: mid move after a print, in its direction
    impact_10s: float | None
    impact_60s: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


STAT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(TapeStats))


# -- building blocks ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation between order statistics; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def hill_tail_index(sizes: Sequence[float], top_share: float = HILL_TOP_SHARE) -> float | None:
    """Hill's estimate of the Pareto tail index from the largest `top_share` of the sample."""
    ordered = sorted((s for s in sizes if s > 0), reverse=True)
    k = int(len(ordered) * top_share)
    if k < 2:
        return None
    threshold = ordered[k]
    mean_log = sum(math.log(x / threshold) for x in ordered[:k]) / k
    return 1.0 / mean_log if mean_log > 0 else None


def autocorrelation(series: Sequence[float], lag: int = 1) -> float | None:
    """Sample autocorrelation at `lag` (about the series' mean); None when constant or too short."""
    n = len(series)
    if n <= lag + 1:
        return None
    mean = sum(series) / n
    centred = [x - mean for x in series]
    denominator = sum(c * c for c in centred)
    if denominator <= 0:
        return None
    return sum(centred[i] * centred[i + lag] for i in range(n - lag)) / denominator


def taker_events(prints: Sequence[Print], gap_s: float = EVENT_GAP_S) -> list[list[Print]]:
    """Consecutive prints of one side less than `gap_s` apart, grouped."""
    events: list[list[Print]] = []
    for p in prints:
        if events and p.sign == events[-1][-1].sign and p.time - events[-1][-1].time < gap_s:
            events[-1].append(p)
        else:
            events.append([p])
    return events


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return statistics.pstdev(values) / mean if mean > 0 else None


def fano_factor(
    times: Sequence[float], start: float, end: float, window_s: float = FANO_WINDOW_S
) -> float | None:
    """Variance over mean of event counts in consecutive whole windows from `start`."""
    windows = int((end - start) // window_s)
    if windows < 2:
        return None
    counts = [0] * windows
    for t in times:
        index = int((t - start) // window_s)
        if 0 <= index < windows:
            counts[index] += 1
    mean = sum(counts) / windows
    return statistics.pvariance(counts) / mean if mean > 0 else None


@dataclass(frozen=True, slots=True)
class _Book:
    """Tops as parallel arrays, the mid carried forward over one-sided books."""

    times: list[float]
    mids: list[float | None]

    @classmethod
    def of(cls, tops: Sequence[Top]) -> _Book:
        times: list[float] = []
        mids: list[float | None] = []
        last: float | None = None
        for top in tops:
            if top.bid is not None and top.ask is not None:
                last = (top.bid + top.ask) / 2
            times.append(top.time)
            mids.append(last)
        return cls(times, mids)

    def before(self, t: float) -> float | None:
        i = bisect.bisect_left(self.times, t) - 1
        return self.mids[i] if i >= 0 else None

    def at(self, t: float) -> float | None:
        i = bisect.bisect_right(self.times, t) - 1
        return self.mids[i] if i >= 0 else None


@dataclass(frozen=True, slots=True)
class _Grid:
    """The book sampled each second (the last top at or before each second, both sides present)."""

    mids: list[float]
    spreads: list[float]
    depths: list[float]

    @classmethod
    def of(cls, tape: Tape) -> _Grid:
        mids: list[float] = []
        spreads: list[float] = []
        depths: list[float] = []
        tops = tape.tops
        i, current = 0, None
        for k in range(int(tape.end - tape.start) + 1):
            t = tape.start + k
            while i < len(tops) and tops[i].time <= t:
                if tops[i].bid is not None and tops[i].ask is not None:
                    current = tops[i]
                i += 1
            if current is None or current.bid is None or current.ask is None:
                continue
            mids.append((current.bid + current.ask) / 2)
            spreads.append(current.ask - current.bid)
            depths.extend(s for s in (current.bid_size, current.ask_size) if s is not None)
        return cls(mids, spreads, depths)


def mid_volatility(mids: Sequence[float], horizon: int) -> float | None:
    """Std of mid changes over `horizon` samples (cents), over every overlapping pair."""
    changes = [mids[k + horizon] - mids[k] for k in range(len(mids) - horizon)]
    if len(changes) < 2:
        return None
    return 100.0 * statistics.pstdev(changes)


def count_jumps(mids: Sequence[float], cents: float = JUMP_CENTS, window: int = JUMP_WINDOW_S) -> int:
    """Moves of at least `cents` within `window` samples; a counted jump's window is not rescanned."""
    jumps, k = 0, 0
    while k + window < len(mids):
        if 100.0 * abs(mids[k + window] - mids[k]) >= cents - _EPS:
            jumps += 1
            k += window
        else:
            k += 1
    return jumps


def impact(prints: Sequence[Print], book: _Book, horizon_s: float, end: float) -> float | None:
    """Mean of sign x (mid at t + h - mid just before t) in cents, over prints with both mids known."""
    moves: list[float] = []
    for p in prints:
        if p.time + horizon_s > end:
            break
        before, after = book.before(p.time), book.at(p.time + horizon_s)
        if before is not None and after is not None:
            moves.append(p.sign * (after - before))
    return 100.0 * sum(moves) / len(moves) if moves else None


# -- the whole table ------------------------------------------------------------------------------------


def _per(count: float, amount: float) -> float | None:
    return count / amount if amount > 0 else None


def _trade_stats(tape: Tape) -> dict[str, float | None]:
    prints = tape.prints
    sizes = [p.size for p in prints]
    events = taker_events(prints)
    event_times = [e[0].time for e in events]
    gaps = [b - a for a, b in itertools.pairwise(event_times)]
    return {
        "trades_per_min": _per(len(prints), tape.minutes),
        "prints_per_event": _per(len(prints), len(events)),
        "size_median": percentile(sizes, 0.5),
        "size_p90": percentile(sizes, 0.9),
        "size_p99": percentile(sizes, 0.99),
        "tail_index": hill_tail_index(sizes),
        "sign_ac1_prints": autocorrelation([p.sign for p in prints]),
        "sign_ac1_events": autocorrelation([e[0].sign for e in events]),
        "interarrival_cv": coefficient_of_variation(gaps),
        "fano_60s": fano_factor([p.time for p in prints], tape.start, tape.end) if prints else None,
    }


def _book_stats(tape: Tape) -> dict[str, float | None]:
    grid = _Grid.of(tape)
    book = _Book.of(tape.tops)
    ticks = [s / tape.tick for s in grid.spreads]
    hours = (tape.end - tape.start) / 3600.0
    stats: dict[str, float | None] = {
        "spread_cents": _scaled(percentile(grid.spreads, 0.5), 100.0),
        "spread_ticks": percentile([round(t) for t in ticks], 0.5),
        "spread_ticks_mean": sum(ticks) / len(ticks) if ticks else None,
        "depth_at_best": percentile(grid.depths, 0.5),
        "book_updates_per_min": _per(tape.book_updates, tape.minutes),
        "jumps_per_hour": _per(count_jumps(grid.mids), hours) if len(grid.mids) > JUMP_WINDOW_S else None,
    }
    for h in VOL_HORIZONS_S:
        stats[f"mid_vol_{h}s"] = mid_volatility(grid.mids, h)
    for h_s in IMPACT_HORIZONS_S:
        stats[f"impact_{h_s:g}s".replace(".", "_")] = impact(tape.prints, book, h_s, tape.end)
    return stats


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def tape_stats(tape: Tape) -> TapeStats:
    """Every figure of one tape (prints and tops must be sorted by time)."""
    return TapeStats(**_trade_stats(tape), **_book_stats(tape))
