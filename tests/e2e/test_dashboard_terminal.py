"""`polymm run` in a real terminal: the live dashboard on screen, then Ctrl+C stops it cleanly."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pexpect
import pyte
import pytest

from polymm_cli.exchange.markets import sample_markets
from tests.e2e.support import account_at_exchange, data_dir, ledger_contents, polymm_command, polymm_env

pytestmark = pytest.mark.slow

COLUMNS, ROWS = 140, 50


class Terminal:
    """A pseudo-terminal running one command, read through a VT100 screen emulator."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            argv[0], argv[1:], env=env, cwd=str(data_dir().parent), dimensions=(ROWS, COLUMNS)
        )

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self, timeout: float = 0.1) -> bool:
        """Feed what the program wrote to the screen; False once it has closed the terminal."""
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def wait_for(self, *texts: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(t in self.text() for t in texts):
            assert self.pump(), f"the program ended first:\n{self.text()}"
            assert time.monotonic() < deadline, f"not on screen: {texts}\n{self.text()}"

    def wait_for_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.pump():
            assert time.monotonic() < deadline, f"still running:\n{self.text()}"
        self.child.close()
        return self.child.exitstatus  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def test_the_dashboard_shows_in_a_terminal_and_ctrl_c_exits_130_leaving_no_order() -> None:
    # Arrange
    terminal = Terminal(
        polymm_command("run"), polymm_env(TERM="xterm", COLUMNS=str(COLUMNS), LINES=str(ROWS))
    )
    try:
        # Act: the dashboard comes up and quotes
        # the status line is drawn last in a frame: wait for it, not only for our quotes
        terminal.wait_for("book (YES)", "inventory and P&L", "last fills", "◀", "status: quoting", timeout=30)
        dashboard = terminal.text()
        terminal.child.sendintr()  # Ctrl+C
        code = terminal.wait_for_exit(timeout=30)
    finally:
        terminal.kill()

    # Assert: what was on screen
    fed = sample_markets()[0]
    assert "polymm — local — wallet 0x" in dashboard
    assert "market feed" in dashboard and "user stream" in dashboard and "heartbeat" in dashboard
    assert f"[{fed.slug}]" in dashboard
    assert "status: quoting" in dashboard
    # Ctrl+C: exit code 130 (errors.EXIT_INTERRUPTED) and the one-line reason, no traceback
    assert code == 130, terminal.text()
    # a requested stop is not an error: it says what was done, confirmed by the exchange
    stopped = r"stopped: \d+ orders? cancelled, confirmed by the exchange; P&L [+-]\d"
    assert re.search(stopped, terminal.text()), terminal.text()
    assert "error" not in terminal.text().split("stopped:")[-1]
    assert "Traceback" not in terminal.text()
    # nothing left at the exchange for this wallet (read from the state the run saved), run recorded
    assert account_at_exchange(sample_markets()).open_orders == []
    ledger = ledger_contents()
    assert ledger is not None
    [run] = ledger.runs
    assert run.ended


def test_make_run_then_ctrl_c_is_a_clean_stop_not_a_make_failure() -> None:
    """The README's first command as a new user tries it: `make run`, then Ctrl+C."""
    repo = Path(__file__).resolve().parents[2]
    terminal = Terminal(
        ["make", "-C", str(repo), "--no-print-directory", "run"],
        # a `make test ARGS=...` around this test must not reach the inner make
        {**polymm_env(TERM="xterm", COLUMNS=str(COLUMNS), LINES=str(ROWS)), "MAKEFLAGS": "", "ARGS": ""},
    )
    try:
        terminal.wait_for("book (YES)", "◀", timeout=60)
        terminal.child.sendintr()
        terminal.wait_for_exit(timeout=30)
    finally:
        terminal.kill()

    screen = terminal.text()
    assert re.search(r"stopped: \d+ orders? cancelled, confirmed by the exchange; P&L [+-]\d", screen), screen
    assert "make: ***" not in screen and "Error 130" not in screen and "Interrupt" not in screen, screen
