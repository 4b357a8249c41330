"""Bad input through the `polymm` command as a user meets it: one line on stderr, the documented exit
code (errors.py: 2 usage or configuration), and nothing written to the ledger."""

from __future__ import annotations

from subprocess import CompletedProcess

import pytest

from polymm_cli.errors import EXIT_USAGE
from tests.e2e.support import assert_stopped_cleanly, ledger_contents, polymm, start_polymm


def assert_one_line_error(result: CompletedProcess[str], code: int, message: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def assert_ledger_untouched() -> None:
    ledger = ledger_contents()
    assert ledger is None or (ledger.runs == [] and ledger.fills == [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "no-such-market", "--duration", "5"],
            "unknown market 'no-such-market': no condition id, slug or token id matches",
        ),
        (["quote", "no-such-market"], "unknown market 'no-such-market'"),
        (
            ["run", "fed-cut-rates-december-2026", "--spread", "0.001", "--duration", "5"],
            "spread 0.001 is below one tick (0.01) of fed-cut-rates-december-2026",
        ),
        (
            ["run", "fed-cut-rates-december-2026", "--size", "1", "--duration", "5"],
            "size 1 is below the minimum order size (5) of fed-cut-rates-december-2026",
        ),
        (["run", "--venue", "polymarket", "--live", "--duration", "5"], "--live needs POLYMM_PRIVATE_KEY"),
        (["run", "--venue", "polymarket", "--duration", "5"], "add --live to do it"),
        (["run", "--duration", "-1"], "--duration must be positive, got -1"),
        (["quote", "fed-cut-rates-december-2026", "--mid", "1.5"], "--mid must be strictly between 0 and 1"),
    ],
    ids=[
        "run-unknown-market",
        "quote-unknown-market",
        "spread-below-one-tick",
        "size-below-market-minimum",
        "polymarket-live-without-a-key",
        "polymarket-without-live",
        "negative-duration",
        "mid-outside-the-unit-interval",
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_ledger_entry(args: list[str], message: str) -> None:
    # Act
    result = polymm(*args)

    # Assert
    assert_one_line_error(result, EXIT_USAGE, message)
    assert_ledger_untouched()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("POLYMM_SPREAD", "abc", "invalid setting POLYMM_SPREAD: Input should be a valid decimal"),
        (
            "POLYMM_POSITION_LIMIT",
            "-5",
            "invalid setting POLYMM_POSITION_LIMIT: Input should be greater than 0",
        ),
    ],
)
def test_a_malformed_setting_in_the_environment_is_one_line_exit_2(
    variable: str, value: str, message: str
) -> None:
    # Act
    result = polymm("run", "--duration", "5", **{variable: value})

    # Assert
    assert_one_line_error(result, EXIT_USAGE, message)
    assert_ledger_untouched()


@pytest.mark.slow
def test_a_second_run_on_the_same_wallet_is_refused_while_the_first_runs() -> None:
    # Arrange: a first run, quoting
    first = start_polymm("run", "--headless", "--duration", "30", POLYMM_EXCHANGE_TAKER_RATE="0.01")
    try:
        assert first.stdout is not None
        assert '"places"' in first.stdout.readline()
        [running] = (ledger_contents() or pytest.fail("no ledger")).runs

        # Act
        second = polymm("run", "--duration", "5")

        # Assert: refused while the first keeps trading
        assert_one_line_error(second, EXIT_USAGE, "another polymm run is already trading wallet 0x")
        assert first.poll() is None
    finally:
        first.terminate()  # SIGTERM: the first run stops cleanly
        out, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert_stopped_cleanly(out.splitlines()[-1], "stopped")
    ledger = ledger_contents()
    assert ledger is not None
    assert [r.run_id for r in ledger.runs] == [running.run_id]  # the refused run recorded nothing


def test_a_size_above_the_per_order_cap_is_refused_before_anything_is_placed() -> None:
    result = polymm("run", "fed-cut-rates-december-2026", "--size", "150", POLYMM_MAX_ORDER_SIZE="100")

    assert_one_line_error(result, EXIT_USAGE, "size 150 is above the per-order cap of 100 shares")
    assert_ledger_untouched()
