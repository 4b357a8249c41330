"""The kill switch: `polymm cancel-all` from a second terminal while `polymm run` trades the wallet."""

from __future__ import annotations

import asyncio
import re

import pytest

from polymm_cli.errors import VenueError
from polymm_cli.services.venues import EXCHANGE_INFO_FILE
from tests.e2e.support import (
    assert_stopped_cleanly,
    bot_venue,
    data_dir,
    ledger_contents,
    polymm,
    start_polymm,
)

pytestmark = pytest.mark.slow

RUN_SECONDS = 10


async def test_cancel_all_from_a_second_process_pulls_every_quote_for_good_and_the_run_ends_halted() -> None:
    """The run is made calm so its quotes hold still: a large requote threshold and almost no takers
    (POLYMM_EXCHANGE_TAKER_RATE=0.01); what is under test is the kill switch, not the quoting."""
    # Long on purpose: one journey end to end (arrange, act, assert); split, its order would be hidden.
    # Arrange: a run that is quoting (its exchange published in the data dir)
    run = start_polymm(
        "run",
        "--headless",
        "--duration",
        str(RUN_SECONDS),
        "--requote-threshold",
        "0.5",
        POLYMM_EXCHANGE_TAKER_RATE="0.01",
    )
    info = data_dir() / EXCHANGE_INFO_FILE
    try:
        assert run.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(run.stdout.readline), 30)
        assert '"places"' in first, run.communicate()  # quoting (so its wallet is funded)
        async with bot_venue() as venue:  # the bot's account at the run's own exchange
            seen: set[str] = set()

            async def poll_open() -> list[str]:
                ids = [o.order_id for o in await venue.open_orders()]
                seen.update(ids)
                return ids

            deadline = asyncio.get_running_loop().time() + 20
            while len(await poll_open()) < 2:
                assert asyncio.get_running_loop().time() < deadline, "the run never quoted both sides"
                await asyncio.sleep(0.05)

            # Act: the kill switch from another process, while we keep watching the exchange
            kill = asyncio.create_task(asyncio.to_thread(polymm, "cancel-all"))
            while not kill.done():
                await poll_open()
                await asyncio.sleep(0.05)
            cancel = kill.result()
            left_after = await poll_open()
            reappeared: list[str] = []
            # the rest of the run (until it withdraws its exchange to stop): nothing may come back
            while run.poll() is None and info.exists():
                try:
                    reappeared += await poll_open()
                except VenueError:
                    if info.exists() and run.poll() is None:
                        raise
                await asyncio.sleep(0.1)
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    # Assert: cancel-all said what it did and exited 0
    assert cancel.returncode == 0, cancel.stderr
    assert "halted the running engine of this wallet" in cancel.stdout
    count = re.search(r"cancelled (\d+) order\(s\)", cancel.stdout)
    assert count, cancel.stdout
    listed = re.findall(r"^\s+(0x[0-9a-f]+)$", cancel.stdout, flags=re.MULTILINE)
    assert int(count.group(1)) == len(listed) >= 1
    assert set(listed) <= seen  # it cancelled the bot's own quotes
    assert "nothing left open" in cancel.stdout

    # zero open orders at the exchange when it returned, and none reappeared while the run went on
    assert left_after == []
    assert reappeared == []

    # the run ended halted: exit code 4 (errors.EXIT_RISK_HALT), a one-line reason on stderr
    assert run.returncode == 4, err
    assert "error: run ended halted: cancel-all from another terminal" in err
    assert "Traceback" not in err
    ledger = ledger_contents()
    assert ledger is not None
    [recorded] = ledger.runs
    assert recorded.end_reason == "halted: cancel-all from another terminal"


def test_cancel_all_with_an_unknown_market_is_exit_2_and_leaves_the_running_engine_alone() -> None:
    """A typo in --market is a usage error (exit 2) that leaves a running engine alone."""
    # Arrange
    run = start_polymm("run", "--headless", "--duration", "4", POLYMM_EXCHANGE_TAKER_RATE="0.01")
    try:
        first = run.stdout.readline() if run.stdout else ""  # the first decision: it is quoting
        assert '"places"' in first, run.stderr.read() if run.stderr else ""

        # Act
        cancel = polymm("cancel-all", "--market", "no-such-market")

        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    # Assert
    assert cancel.returncode == 2
    assert cancel.stderr.strip().splitlines() == [
        "error: unknown market 'no-such-market': no condition id, slug or token id matches"
    ]
    assert run.returncode == 0, err  # not halted: it ran to its duration
    assert_stopped_cleanly(out.splitlines()[-1], "duration")
    assert list(data_dir().glob("halt-*.json")) == []
