"""A running `polymm run` whose engine breaks: quotes gone within a second, exit code, one line.

Each test starts `polymm run --headless` as a subprocess against a local exchange with busy synthetic
flow, waits until it quotes, then arms one real failure inside it (`tests/e2e/inject_failure.py`): the
ledger refusing a fill ("database is locked"), the market-feed parser raising, a decision raising.
The exchange is watched from outside through the bot wallet's own credentials: the quotes resting
when the failure fired must be gone within a second of it, the command exits 1 and says, in one
line, which task failed, why, and how its cancels went.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from polymm_cli.clock import SystemClock
from polymm_cli.exchange.core import SettlementConfig
from polymm_cli.exchange.flow import FlowConfig
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.services.venues import local_private_key
from polymm_cli.venues.polymarket import PolymarketVenue
from polymm_cli.venues.polymarket.config import PolymarketConfig
from tests.e2e.support import data_dir, polymm_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LAUNCH = (
    "from tests.e2e import inject_failure; inject_failure.install(); "
    "from polymm_cli.cli.app import main; main()"
)


def exchange_with_takers(per_minute: float) -> Iterator[str]:
    server = ExchangeThread(
        ExchangeConfig(
            flow=True,
            settlement=SettlementConfig(delay_s=0.0),
            flow_config=FlowConfig(taker_rate_per_min=per_minute, maker_level_size=10.0),
        )
    ).start()
    yield server.url
    server.stop()


@pytest.fixture
def busy_exchange() -> Iterator[str]:
    """A local exchange with lively takers (fills within seconds) and instant settlement."""
    yield from exchange_with_takers(240.0)


@pytest.fixture
def calm_exchange() -> Iterator[str]:
    """Almost no takers: our quotes hold still (what is under test is the stop, not the quoting)."""
    yield from exchange_with_takers(0.01)


def start_broken_run(url: str, kind: str, tmp: Path, *extra: str) -> tuple[subprocess.Popen[str], Path, Path]:
    trigger, stamp = tmp / "armed", tmp / "failed-at"
    env = polymm_env(
        PYTHONPATH=str(REPO), INJECT_FAILURE=kind, INJECT_TRIGGER=str(trigger), INJECT_STAMP=str(stamp)
    )
    args = ["run", "--headless", "--duration", "60", "--exchange-url", url, *extra]
    run = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp,
    )
    return run, trigger, stamp


async def watch_until_pulled(venue: PolymarketVenue, stamp: Path, timeout: float = 30.0) -> float:
    """Seconds from the failure to the moment none of the orders resting then is still open."""
    deadline = time.monotonic() + timeout
    while not stamp.exists():
        assert time.monotonic() < deadline, "the armed failure never fired"
        resting = {o.order_id for o in await venue.open_orders()}
        await asyncio.sleep(0.01)
    failed_at = float(stamp.read_text())
    while resting & {o.order_id for o in await venue.open_orders()}:
        assert time.monotonic() < deadline, "quotes still resting long after the failure"
        await asyncio.sleep(0.02)
    return time.monotonic() - failed_at


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("ledger", "user stream failed: OperationalError: database is locked"),
        ("parser", "market feed failed: KeyError: 'asset_id'"),
        ("decision", "decisions failed: ValueError: a quote the validation refuses"),
    ],
)
async def test_a_failure_inside_a_running_engine_pulls_its_quotes_within_a_second_and_exits_1(
    busy_exchange: str, kind: str, cause: str, tmp_path: Path
) -> None:
    # Arrange: the run quotes; we watch its account at the exchange
    data_dir().mkdir(parents=True, exist_ok=True)
    key, _ = local_private_key(data_dir())  # made here, used by the run: the same wallet
    run, trigger, stamp = start_broken_run(busy_exchange, kind, tmp_path)
    try:
        config = PolymarketConfig.for_local_exchange(busy_exchange, key)
        async with PolymarketVenue(config, SystemClock()) as venue:
            deadline = time.monotonic() + 30
            while len(await venue.open_orders()) < 2:
                assert run.poll() is None, run.communicate()
                assert time.monotonic() < deadline, "the run never quoted"
                await asyncio.sleep(0.05)

            # Act: arm the failure, then watch the exchange
            trigger.touch()
            pulled_after = await watch_until_pulled(venue, stamp)
        out, err = await asyncio.to_thread(run.communicate, timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    # Assert: gone within a second, exit 1, one line naming the task and the cause
    assert pulled_after < 1.0, f"quotes pulled {pulled_after:.3f} s after the failure"
    assert run.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.fullmatch(
        rf"error: engine stopped: {re.escape(cause)}; \d+ orders? cancelled, confirmed by the exchange",
        lines[0],
    ), lines[0]
    assert '"exit_code": 1' in out.splitlines()[-1]


async def test_a_stop_the_exchange_does_not_confirm_says_what_may_be_open_and_exits_3(
    calm_exchange: str, tmp_path: Path
) -> None:
    """Every request fails when the run is asked to stop: it must not claim the orders were cancelled;
    it says how many may still rest and that the dead-man's switch removes them, and that is true."""
    # Arrange: a quoting run (no failure armed)
    data_dir().mkdir(parents=True, exist_ok=True)
    key, _ = local_private_key(data_dir())
    run, _, _ = start_broken_run(calm_exchange, "decision", tmp_path, "--requote-threshold", "0.5")
    try:
        config = PolymarketConfig.for_local_exchange(calm_exchange, key)
        async with PolymarketVenue(config, SystemClock()) as venue:
            deadline = time.monotonic() + 30
            while len(await venue.open_orders()) < 2:
                assert time.monotonic() < deadline, "the run never quoted"
                await asyncio.sleep(0.05)

            resting = len(await venue.open_orders())
            # Act: the exchange fails every request, and the run is told to stop (SIGTERM)
            storm = {"error_status": 503, "error_count": 1_000_000}
            httpx.post(f"{calm_exchange}/_local/faults", json=storm).raise_for_status()
            run.terminate()
            out, err = await asyncio.to_thread(run.communicate, timeout=60)
            httpx.post(f"{calm_exchange}/_local/faults", json={"error_status": 0}).raise_for_status()
            deadline = time.monotonic() + 15
            while await venue.open_orders():  # the switch: ~10 s after the run's last heartbeat
                assert time.monotonic() < deadline, "the dead-man's switch never removed the orders"
                await asyncio.sleep(0.2)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    # Assert
    assert run.returncode == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert re.fullmatch(
        rf"error: terminated \(SIGTERM\): the exchange did not answer the cancels: \d+ of the {resting} "
        r"orders we had may still be open \(its dead-man's switch removes them about 10 s after our "
        r"last heartbeat; check with `polymm cancel-all`\)",
        line,
    ), line
    assert "every order" not in out + err
