"""The calibration check: tape statistics on inputs with a known answer, the real figures behind the
bands, and every regime preset of the synthetic flow measured in virtual time inside its bands.

The Tickscope sample in tests/fixtures runs on a fresh clone; the band sources need the team's capture
collection (../shared/data) and skip without it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random

import pytest

from bench.calibration_sources import READERS, SourceFigures, figures, fine_tick_spreads, tickscope_tapes
from polymm_cli.exchange.calibration import (
    BANDS,
    FINE_TICK_SPREAD_CENTS,
    REAL_RANGES,
    Band,
    measure,
    out_of_band,
    record,
)
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.regimes import REGIMES
from polymm_cli.exchange.tapestats import (
    Print,
    Tape,
    Top,
    autocorrelation,
    count_jumps,
    hill_tail_index,
    mid_volatility,
    percentile,
    taker_events,
    tape_stats,
)
from tests.conftest import SHARED_DATA, fixture_path, shared_capture


@functools.cache
def _figures(capture: str) -> SourceFigures:
    shared_capture("MANIFEST.md")
    return figures(capture, SHARED_DATA)


PRESET_MINUTES = 30.0  # per preset: long enough for 300 s volatility and 60 s Fano windows


def _flat_tops(start: float, end: float, bid: float = 0.48, ask: float = 0.50) -> list[Top]:
    return [Top(start, bid, ask, 100.0, 300.0), Top(end, bid, ask, 100.0, 300.0)]


# -- (a) each statistic on inputs with a known answer ----------------------------------------------------


def test_percentile_interpolates_and_hill_recovers_a_pareto_index() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([0.0, 10.0], 0.9) == pytest.approx(9.0)
    assert percentile([], 0.5) is None
    rng = random.Random(7)
    for alpha in (0.8, 1.5):
        sample = [5.0 * (1.0 - rng.random()) ** (-1.0 / alpha) for _ in range(20_000)]
        assert hill_tail_index(sample) == pytest.approx(alpha, rel=0.08)


def test_sign_autocorrelation_of_alternating_and_persistent_signs() -> None:
    alternating = [(-1.0) ** i for i in range(1000)]
    assert autocorrelation(alternating) == pytest.approx(-1.0, abs=0.01)
    runs = [1.0] * 500 + [-1.0] * 500
    assert autocorrelation(runs) == pytest.approx(1.0, abs=0.01)
    assert autocorrelation([1.0] * 10) is None


def test_poisson_arrivals_have_cv_and_fano_near_one_and_bursts_more() -> None:
    rng = random.Random(3)
    t, prints = 0.0, []
    for _ in range(6000):
        t += rng.expovariate(0.1)  # 6 a minute
        prints.append(Print(t, 0.5, 10.0, rng.choice((1, -1))))
    stats = tape_stats(Tape(0.0, t, 0.01, prints, _flat_tops(0.0, t), 0))
    assert stats.interarrival_cv == pytest.approx(1.0, abs=0.05)
    assert stats.fano_60s == pytest.approx(1.0, abs=0.2)
    assert stats.trades_per_min == pytest.approx(6.0, rel=0.05)
    assert abs(stats.sign_ac1_prints or 0.0) < 0.05
    # Bursts of 5 prints 0.1 s apart every ~60 s: gaps far more variable than Poisson.
    starts = [60.0 * k + rng.random() * 10 for k in range(200)]
    bursty = [Print(start + 0.1 * i, 0.5, 1.0, 1) for start in starts for i in range(5)]
    cv = tape_stats(Tape(0.0, 12_000.0, 0.01, bursty, [], 0)).interarrival_cv
    assert cv is not None and cv > 1.5


def test_taker_events_merge_same_side_prints_within_5_ms() -> None:
    prints = [
        Print(0.0, 0.5, 1, 1),
        Print(0.004, 0.51, 1, 1),
        Print(0.006, 0.5, 1, -1),
        Print(1.0, 0.5, 1, -1),
    ]
    assert [len(e) for e in taker_events(prints)] == [2, 1, 1]
    stats = tape_stats(Tape(0.0, 60.0, 0.01, prints, _flat_tops(0.0, 60.0), 0))
    assert stats.prints_per_event == pytest.approx(4 / 3)
    assert stats.size_median == 1.0


def test_mid_random_walk_volatility_scales_with_the_square_root_of_the_horizon() -> None:
    rng = random.Random(11)
    mid, tops = 0.5, []
    for k in range(40_000):
        mid += rng.choice((0.01, -0.01))
        tops.append(Top(float(k), mid - 0.01, mid + 0.01, 50.0, 50.0))
    stats = tape_stats(Tape(0.0, 39_999.0, 0.01, [], tops, 80_000))
    assert stats.mid_vol_1s == pytest.approx(1.0, rel=0.02)
    assert stats.mid_vol_10s == pytest.approx(math.sqrt(10), rel=0.05)
    assert stats.mid_vol_60s == pytest.approx(math.sqrt(60), rel=0.1)
    assert stats.mid_vol_300s == pytest.approx(math.sqrt(300), rel=0.2)
    assert stats.spread_cents == pytest.approx(2.0)
    assert stats.spread_ticks == 2 and stats.spread_ticks_mean == pytest.approx(2.0)
    assert stats.depth_at_best == 50.0
    assert stats.book_updates_per_min == pytest.approx(120.0, rel=0.01)
    assert mid_volatility([0.5], 1) is None


def test_jumps_count_moves_of_3_cents_within_10_seconds_once() -> None:
    mids = [0.50] * 100 + [0.54] * 100 + [0.52] * 100 + [0.49] * 100  # +4 c, -2 c (no), -3 c
    assert count_jumps(mids) == 2
    tops = [Top(float(k), m - 0.005, m + 0.005) for k, m in enumerate(mids)]
    stats = tape_stats(Tape(0.0, 399.0, 0.01, [], tops, 0))
    assert stats.jumps_per_hour == pytest.approx(2 / (399 / 3600))


def test_impact_is_the_mid_move_after_a_print_in_its_direction() -> None:
    # Each print moves the mid 1 c its way 0.2 s later; half of that reverts 5 s after.
    tops, prints, mid = [Top(0.0, 0.49, 0.51)], [], 0.50
    for k in range(1, 50):
        sign = 1 if k % 3 else -1
        t = 100.0 * k
        prints.append(Print(t, mid, 10.0, sign))
        mid += 0.01 * sign
        tops.append(Top(t + 0.2, mid - 0.01, mid + 0.01))
        mid -= 0.005 * sign
        tops.append(Top(t + 5.0, mid - 0.01, mid + 0.01))
    stats = tape_stats(Tape(0.0, 5000.0, 0.01, prints, tops, 0))
    assert stats.impact_0_5s == pytest.approx(1.0)
    assert stats.impact_10s == pytest.approx(0.5)
    assert stats.impact_60s == pytest.approx(0.5)


def test_an_empty_tape_measures_nothing_rather_than_zero() -> None:
    stats = tape_stats(Tape(0.0, 60.0, 0.01, [], [], 0))
    assert stats.size_median is None and stats.tail_index is None and stats.mid_vol_1s is None
    assert stats.trades_per_min == 0.0


# -- the band machinery ---------------------------------------------------------------------------------


def test_every_band_is_a_real_range_widened_and_named() -> None:
    for regime, table in BANDS.items():
        for stat, band in table.items():
            real = REAL_RANGES[regime][stat]
            assert band.low <= real.low <= real.high <= band.high, (regime, stat)
            assert band.source.startswith("the ") or band.source.startswith("every "), band.source
    assert set(BANDS) == {"quiet", "active", "in-play", "crypto-short"}


def test_out_of_band_lists_the_misses_and_a_figure_not_measured() -> None:
    stats = tape_stats(Tape(0.0, 600.0, 0.01, [], _flat_tops(0.0, 600.0), 0))
    bands = {"r": {"spread_cents": Band(1.0, 3.0, "s"), "size_median": Band(1.0, 9.0, "s")}}
    misses = out_of_band(stats, "r", bands)
    assert [(m.stat, m.value) for m in misses] == [("size_median", None)]
    assert "not measured" in str(misses[0])


# -- (b) the copied Tickscope sample lands in the in-play bands -----------------------------------------

# The sample is 3 minutes (36 prints) of the busiest pair at a violent moment of the game. Too short
# for some figures: 300 s volatility, a 60 s Fano factor or an hourly jump rate on 3 windows, a p99 or
# a top-10% tail index on 36 prints. Of the rest, these land near their band (within a factor of 2:
# smaller trades and a faster mid than the game's 20-minute average); all others land inside.
_SAMPLE_TOO_SHORT = {"mid_vol_300s", "fano_60s", "jumps_per_hour", "size_p99", "tail_index"}
_SAMPLE_NEAR = {
    "size_median",
    "size_p90",
    "depth_at_best",
    "mid_vol_1s",
    "mid_vol_10s",
    "mid_vol_60s",
    "impact_10s",
}


def test_the_tickscope_sample_lands_in_or_near_the_in_play_bands() -> None:
    tapes = tickscope_tapes(
        [fixture_path("03_normalized_ticks/tickscope__polymarket_20260607_0130_sample.parquet")]
    )
    assert len(tapes) == 1
    stats = tape_stats(next(iter(tapes.values())))
    misses = {m.stat: m for m in out_of_band(stats, "in-play") if m.stat not in _SAMPLE_TOO_SHORT}
    assert set(misses) <= _SAMPLE_NEAR, "\n".join(str(m) for s, m in misses.items() if s not in _SAMPLE_NEAR)
    for miss in misses.values():
        value = miss.value
        assert value is not None and miss.band.low / 2 <= value <= miss.band.high * 2, str(miss)
    inside = set(BANDS["in-play"]) - set(misses) - _SAMPLE_TOO_SHORT
    assert {"trades_per_min", "sign_ac1_prints", "interarrival_cv", "spread_cents", "impact_0_5s"} <= inside


# -- (c) the band sources recompute to the documented figures -------------------------------------------


@pytest.mark.parametrize("capture", sorted(READERS))
def test_the_band_sources_recompute_to_the_documented_figures(capture: str) -> None:
    source = _figures(capture)
    documented = [(s, r) for table in REAL_RANGES.values() for s, r in table.items() if r.capture == capture]
    assert documented
    for stat, real in documented:
        summary = source.summary(stat)
        assert summary is not None, stat
        assert (summary[1], summary[2]) == pytest.approx((real.low, real.high), rel=2e-3), stat


def test_the_pooled_book_figures_and_fine_tick_spreads_recompute() -> None:
    sources = [_figures(c) for c in ("tickscope", "crypto-books", "fed")]
    for stat, real in REAL_RANGES["active"].items():
        if real.capture != "books-0.01":
            continue
        values = [v for s in sources for v in s.values(stat)]
        assert (min(values), max(values)) == pytest.approx((real.low, real.high), rel=2e-3), stat
    books = sorted(SHARED_DATA.glob("0[125]_*/*.json"))
    spreads = sorted(fine_tick_spreads(books).values())
    assert spreads == [0.1, 0.3, 9.7, 15.5]


# -- (d) every preset, measured in virtual time, inside its bands ---------------------------------------


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_every_regime_preset_is_inside_its_bands(regime: str) -> None:
    stats = measure(REGIMES[regime], minutes=PRESET_MINUTES, seed=1)
    misses = out_of_band(stats, regime)
    assert not misses, f"{regime} out of band:\n" + "\n".join(map(str, misses))


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_every_preset_quotes_real_spreads_on_a_fine_tick_market(regime: str) -> None:
    fine = sample_markets()[1]
    assert fine.tick_size == sample_markets()[1].tick_size and str(fine.tick_size) == "0.001"
    spread = measure(REGIMES[regime], minutes=2, seed=1, market=fine).spread_cents
    assert FINE_TICK_SPREAD_CENTS.holds(spread), f"{regime}: {spread} c, band {FINE_TICK_SPREAD_CENTS}"


def test_the_check_bites_when_a_preset_is_moved_out_of_its_band() -> None:
    planted = dataclasses.replace(REGIMES["crypto-short"], taker_rate_per_min=2.0)
    misses = {m.stat for m in out_of_band(measure(planted, minutes=10, seed=1), "crypto-short")}
    assert "trades_per_min" in misses


def test_the_measurement_is_deterministic_and_starts_after_the_warm_up() -> None:
    config = REGIMES["active"]
    tape = record(config, minutes=3, seed=5)
    assert tape.end - tape.start == pytest.approx(180.0)
    assert all(tape.start <= p.time <= tape.end for p in tape.prints)
    assert measure(config, minutes=3, seed=5) == tape_stats(tape)
