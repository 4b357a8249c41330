"""`polymm record` on a local exchange, then `polymm backtest` on that recording and on the real
captures in tests/fixtures, as a user runs them: subprocesses, their output, their files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from polymm_cli.exchange.flow import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fixture_path, start_exchange
from tests.e2e.support import polymm

pytestmark = pytest.mark.slow

FED = sample_markets()[0]
TICKSCOPE = "03_normalized_ticks/tickscope__polymarket_20260607_0130_sample.parquet"
BURST = "01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Twelve seconds of the local exchange's lively synthetic flow, recorded by `polymm record`."""
    server: ExchangeThread = start_exchange(
        flow=True, flow_config=FlowConfig(taker_rate_per_min=240, maker_requote_s=0.5)
    )
    home = tmp_path_factory.mktemp("bt")
    out = home / "rec"
    try:
        done = polymm(
            "record",
            FED.slug,
            *("--out", str(out), "--exchange-url", server.url, "--duration", "12"),
            cwd=home,
            POLYMM_DATA_DIR=str(home / "polymm-data"),
        )
        assert done.returncode == 0, done.stderr
    finally:
        server.stop()
    yield out


def _json(*args: str) -> list[dict[str, object]]:
    done = polymm("backtest", *args, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert isinstance(rows, list)
    return rows


def test_a_recording_of_the_local_exchange_backtests_with_a_report(recording: Path, tmp_path: Path) -> None:
    report = tmp_path / "bt.html"
    done = polymm("backtest", str(recording), "--warmup", "2", "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert "total P&L" in done.stdout and f"report: {report}" in done.stdout
    page = report.read_text()
    assert page.startswith("<html") or "<!DOCTYPE html>" in page[:200]
    [row] = _json(str(recording), "--warmup", "2")
    assert row["market_id"] == FED.condition_id
    assert int(str(row["events"])) > 50  # the lively flow moves the book several times a second


def test_a_backtest_is_the_same_twice(recording: Path) -> None:
    assert _json(str(recording), "--warmup", "2") == _json(str(recording), "--warmup", "2")


def test_real_captures_backtest_directly(tmp_path: Path) -> None:
    for capture in (TICKSCOPE, BURST):
        [row] = _json(str(fixture_path(capture)), "--warmup", "5")
        assert int(str(row["events"])) > 0, capture


def test_a_grid_is_ranked_best_first(recording: Path) -> None:
    rows = _json(str(recording), "--warmup", "2", "--grid", "spread=0.02,0.04", "--workers", "2")
    assert sorted(r["params"]["spread"] for r in rows) == ["0.02", "0.04"]  # type: ignore[index]
    totals = [float(str(r["total"])) for r in rows]
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["/no/such/recording"], "no/such/recording"),
        (["{rec}", "--grid", "sprad=0.02"], "not a setting a grid can vary"),
        (["{rec}", "--grid", "spread=0.0001"], "below one tick"),
        (["{rec}", "--market", "no-such-market"], "not in the recording"),
        (["{rec}", "--spread", "0.001"], "below one tick"),
        (["{rec}", "--latency-ms", "fast"], "latency"),
        (["{rec}", "--report", "/no/such/folder/r.html"], "no folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(recording: Path, args: list[str], says: str) -> None:
    done = polymm("backtest", *(a.replace("{rec}", str(recording)) for a in args))
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
