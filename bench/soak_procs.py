"""The benches' subprocesses: `polymm exchange serve` (`start_exchange`, and `exchange_serving` for
synchronous code: every bench that needs the exchange in its own process starts it here) and the
chaos soak's `polymm run --headless`.

Each runs in its own session (process group), with its output in files of the soak's work dir, its
own environment (no POLYMM_* of the developer's, no .env: the cwd is the work dir) and is always
stopped: SIGTERM, then SIGKILL of the whole group when it does not exit in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

READY = re.compile(r"local exchange ready at (http://\S+)")


def child_env(data_dir: Path | None = None, pythonpath: str | None = None) -> dict[str, str]:
    """This environment without POLYMM_*; `pythonpath`: the source tree the child runs (None: ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMM_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="140")
    if data_dir is not None:
        env["POLYMM_DATA_DIR"] = str(data_dir)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


def polymm_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "polymm_cli", *args]


def tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Child:
    """One subprocess in its own process group, output to `<name>.out` / `<name>.err` in `workdir`."""

    def __init__(self, name: str, command: list[str], workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.workdir = workdir
        self.env = env
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                env=self.env,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def signal_group(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group and reap it."""
        self.signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    async def stop(self, timeout_s: float) -> tuple[int | None, float]:
        """SIGTERM and wait; SIGKILL after `timeout_s`. Returns (exit code, seconds it took)."""
        started = time.time()
        self.signal_group(signal.SIGTERM)
        while self.running and time.time() - started < timeout_s:
            await asyncio.sleep(0.05)
        if self.running:
            self.kill()
        return self.returncode, time.time() - started


async def start_exchange(
    workdir: Path, options: list[str], timeout_s: float = 30.0, *, pythonpath: str | None = None
) -> tuple[Child, str]:
    """`polymm exchange serve --port 0 OPTIONS` (e.g. `--flow off`, `--timing`), once it prints the
    URL it listens on; `pythonpath`: the source tree it runs (None: this environment's)."""
    command = polymm_command("exchange", "serve", "--port", "0", *options)
    child = Child("exchange", command, workdir, child_env(pythonpath=pythonpath))
    child.start()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        match = READY.search(child.stdout_path.read_text(errors="replace"))
        if match:
            return child, match.group(1)
        if not child.running:
            break
        await asyncio.sleep(0.05)
    child.kill()
    raise RuntimeError(f"the exchange did not start: {tail(child.stderr_path)}")


@contextlib.contextmanager
def exchange_serving(
    options: list[str], *, pythonpath: str | None = None, stop_timeout_s: float = 10.0
) -> Iterator[tuple[str, int]]:
    """`start_exchange` for synchronous code, in a temporary work dir: yields the URL and the pid, and
    stops the exchange on leaving (SIGTERM, SIGKILL after `stop_timeout_s`)."""
    with tempfile.TemporaryDirectory(prefix="polymm-exchange-") as workdir:
        child, url = asyncio.run(start_exchange(Path(workdir), options, pythonpath=pythonpath))
        assert child.process is not None  # started: it printed its URL
        try:
            yield url, child.process.pid
        finally:
            asyncio.run(child.stop(stop_timeout_s))


@dataclass
class BotExit:
    """A bot incarnation that ended: how, when, and the last lines it wrote."""

    incarnation: int
    at: float
    exit_code: int | None
    expected: bool  # killed by the soak (kill -9, final SIGTERM) rather than exiting on its own
    stderr_tail: str
    stdout_tail: str


class Bot:
    """`polymm run --headless --exchange-url URL MARKETS`; every (re)start is a new incarnation."""

    def __init__(self, workdir: Path, data_dir: Path, url: str, markets: list[str]) -> None:
        self.workdir = workdir
        self.data_dir = data_dir
        self.url = url
        self.markets = markets
        self.incarnation = 0
        self.child: Child | None = None
        self.exits: list[BotExit] = []

    def start(self) -> None:
        self.incarnation += 1
        command = polymm_command("run", "--headless", "--exchange-url", self.url, *self.markets)
        self.child = Child(f"bot-{self.incarnation}", command, self.workdir, child_env(self.data_dir))
        self.child.start()

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.running

    def _record_exit(self, expected: bool) -> None:
        assert self.child is not None
        self.exits.append(
            BotExit(
                self.incarnation,
                time.time(),
                self.child.returncode,
                expected,
                tail(self.child.stderr_path),
                tail(self.child.stdout_path, 2),
            )
        )

    def kill9(self) -> None:
        if self.child is not None:
            self.child.kill()
            self._record_exit(expected=True)

    def reap_unexpected_exit(self) -> BotExit | None:
        """The exit of a bot that stopped on its own since the last look, if it did."""
        if self.child is None or self.child.running or self._seen_exit():
            return None
        self._record_exit(expected=False)
        return self.exits[-1]

    def _seen_exit(self) -> bool:
        return bool(self.exits) and self.exits[-1].incarnation == self.incarnation

    async def stop(self, timeout_s: float) -> tuple[int | None, float]:
        """SIGTERM: the bot's normal stop (cancel everything, wait for settlement)."""
        if self.child is None or self._seen_exit():
            return None, 0.0
        code, took = await self.child.stop(timeout_s)
        self._record_exit(expected=True)
        return code, took

    def kill_quietly(self) -> None:
        """Cleanup on any failure: no bot outlives the soak."""
        if self.child is not None:
            self.child.kill()
