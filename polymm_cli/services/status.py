"""`polymm status`: the running engine's state, published in the data dir and read from another terminal.

Why a file and not a socket: the data dir already carries the run's lock and halt files, a file
needs no listener in the engine (nothing to bind, secure or keep alive), any tool can read it (`cat`,
`jq`, a monitoring agent), and the last state of a run that ended stays readable. The engine's
run rewrites `status-<wallet>.json` at most once a second, off the hot path (the snapshot is taken
on the loop, the fsynced write runs in a worker thread), whole or not at all (`files.write_atomic`),
and once more when it stops (`running: false`, why it ended).

An engine counts as running only when all hold: the document says `running`, its process is alive,
the wallet's run lock names that process, and the document was rewritten within `STALE_S` seconds
(a hung engine is not "running"). Otherwise `NoEngine` (exit 3) says which failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polymm_cli.clock import SystemClock
from polymm_cli.errors import EXIT_VENUE, PolymmError
from polymm_cli.files import write_atomic
from polymm_cli.services.venues import data_dir, pid_alive, run_key, run_lock_path, settings_account
from polymm_cli.settings import Settings
from polymm_cli.status import SCHEMA, BadStatus, MarketSummary, read_summaries, status_document

if TYPE_CHECKING:
    from polymm_cli.engine import QuotingEngine

log = logging.getLogger("polymm.status")

STATUS_FILE = "status-{key}.json"
PUBLISH_INTERVAL_S = 1.0
STALE_S = 5.0  # a running engine rewrites every second: 5 s without one is a hung (or gone) engine


class NoEngine(PolymmError):
    """No engine is running for this wallet (exit 3): why, and the last document if there was one."""

    exit_code = EXIT_VENUE

    def __init__(self, message: str, last: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.last = last


def status_path(directory: Path, key: str) -> Path:
    return directory / STATUS_FILE.format(key=key.lower())


# -- the writer (inside `polymm run`) -----------------------------------------------------------------


class StatusPublisher:
    """Rewrites the status file from the engine's snapshot every second, and a last time at the end."""

    def __init__(
        self,
        engine: QuotingEngine,
        path: Path,
        *,
        interval_s: float = PUBLISH_INTERVAL_S,
        selection: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.path = path
        self.interval_s = interval_s
        self.selection = selection  # `--select`: the rule and how re-selection goes

    def document(self, *, running: bool, ended: str = "") -> dict[str, Any]:
        engine = self.engine
        doc = status_document(
            engine.snapshot(), pid=os.getpid(), started=engine.run_started, running=running, ended=ended
        )
        doc["selection"] = self.selection() if self.selection is not None else None
        return doc

    async def publish_forever(self) -> None:
        """The publishing task; a failed write is retried next second (the status is not worth a stop)."""
        while True:
            try:
                text = json.dumps(self.document(running=True))
                await asyncio.to_thread(write_atomic, self.path, text)
            except Exception as exc:  # `status` then reports the engine hung: better than a stop
                log.warning("could not write the status file %s: %s", self.path.name, exc)
            await asyncio.sleep(self.interval_s)

    def final(self, ended: str) -> None:
        """The run is over: say so (a `status` after this exits 3 at once, showing how it ended)."""
        with contextlib.suppress(OSError, Exception):
            write_atomic(self.path, json.dumps(self.document(running=False, ended=ended)))


# -- the reader (`polymm status`) -----------------------------------------------------------------------


@dataclass(frozen=True)
class EngineStatus:
    document: dict[str, Any]
    markets: list[MarketSummary]
    age_s: float  # how old the document is


def read_status(settings: Settings, *, now: float | None = None) -> EngineStatus:
    """The running engine's published state for the settings' wallet; NoEngine when none runs."""
    directory = data_dir(settings)
    key = run_key(settings_account(settings))
    path = status_path(directory, key)
    none = f"no engine is running for wallet {key}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoEngine(f"{none}: no polymm run has published a status in {directory}") from None
    except (OSError, ValueError) as exc:
        raise NoEngine(f"{none}: unreadable status file {path.name} ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise NoEngine(f"status file {path.name} has an unknown format")
    age = (SystemClock().now() if now is None else now) - float(doc.get("updated", 0))
    _check_running(doc, directory, key, age)
    try:
        markets = read_summaries(doc)
    except BadStatus as exc:
        raise NoEngine(f"status file {path.name}: {exc}") from None
    return EngineStatus(doc, markets, age)


def _check_running(doc: dict[str, Any], directory: Path, key: str, age: float) -> None:
    pid = int(doc.get("pid", 0))
    if not doc.get("running"):
        raise NoEngine(f"no engine is running for wallet {key}: the last run (pid {pid}) {_ended(doc)}", doc)
    if not pid_alive(pid):
        raise NoEngine(
            f"no engine is running for wallet {key}: its process (pid {pid}) is gone without a clean "
            f"stop (last status {age:.0f}s ago; check with `polymm cancel-all`)",
            doc,
        )
    if _lock_holder(directory, key) != pid:
        raise NoEngine(f"no engine is running for wallet {key}: pid {pid} no longer holds the run lock", doc)
    if age > STALE_S:
        raise NoEngine(
            f"the engine of wallet {key} (pid {pid}) has not updated its status for {age:.0f}s: it is hung",
            doc,
        )


def _ended(doc: dict[str, Any]) -> str:
    return f"stopped: {doc.get('ended') or 'no reason recorded'}"


def _lock_holder(directory: Path, key: str) -> int | None:
    """The pid the wallet's run lock names ("pid N"), read without taking the lock (taking it, even
    for a moment, could make a `polymm run` starting at that instant refuse to start)."""
    try:
        text = run_lock_path(directory, key).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    head, _, number = text.partition(" ")
    return int(number) if head == "pid" and number.isdigit() else None
