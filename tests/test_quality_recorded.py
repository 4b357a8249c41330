"""The quality table on recorded data (bench/quality_recorded.py) on the copied Tickscope sample.

Every strategy of the regime table replays the 3-minute fixture through `polymm backtest`'s
simulated venue: each session must fill or say why it did not, and the table must render a sample of
one session (no interval, no ratio) without failing.
"""

from __future__ import annotations

import pytest

from bench.intervals import risk_ratio, risk_ratio_mixed, risk_ratio_mixed_interval
from bench.quality_recorded import FIXTURE, bench_quality_recorded, table
from bench.quality_regimes import STRATEGIES


def test_every_strategy_replays_the_fixture_and_fills_or_says_why() -> None:
    out = bench_quality_recorded([FIXTURE], min_trades=1, workers=1)

    sessions = out["sessions"]
    assert sorted(s["strategy"] for s in sessions) == sorted(STRATEGIES)
    for s in sessions:
        assert s["minutes"] == pytest.approx(2.5, abs=0.1)  # 3 minutes less the 30 s warm-up
        assert s["fills"] > 0 or s["note"].startswith("no fill"), s
    assert any(s["fills"] > 0 for s in sessions)
    row = out["strategies"]["polymm"]
    assert row["rewards"] is None and row["rebates"] is None  # the replay venue pays neither
    assert row["mid"]["pnl_per_risk"] == (None, None, None)  # one session: no spread to divide by
    printed = table(out)
    assert all(name in printed for name in STRATEGIES)
    assert "n/a" in printed


def test_the_mixed_length_ratio_is_the_regime_tables_ratio_for_equal_lengths() -> None:
    pnls = [1.0, -0.5, 2.0, 0.25]
    assert risk_ratio_mixed(pnls, [15.0] * 4) == pytest.approx(risk_ratio(pnls, 15.0))


def test_the_mixed_length_ratio_weighs_each_session_by_its_length() -> None:
    # the same P&L per minute in a 10- and a 40-minute session: no dispersion around the rate
    assert risk_ratio_mixed([1.0, 4.0], [10.0, 40.0]) is None
    # by hand: rate 3 / 50 a minute; variance (1.4^2 / 10 + 1.4^2 / 40) / 1 a minute; ratio x sqrt(60)
    assert risk_ratio_mixed([2.0, 1.0], [10.0, 40.0]) == pytest.approx(0.06 / 0.245**0.5 * 60**0.5)
    ratio, low, high = risk_ratio_mixed_interval([3.0, -2.0, 1.0, 0.5], [5.0, 60.0, 5.0, 20.0])
    assert ratio is not None and low is not None and high is not None
    assert low <= ratio <= high
