"""Every polymm process runs its asyncio code on uvloop where it is installed (polymm_cli/eventloop.py)."""

from __future__ import annotations

import asyncio
import signal

import pytest
import uvloop

from polymm_cli import eventloop


def test_run_is_on_uvloop_and_signal_handlers_work_there() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        got = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, got.set)  # how `polymm run` hears Ctrl+C and SIGTERM
        try:
            signal.raise_signal(signal.SIGUSR1)
            await asyncio.wait_for(got.wait(), 5)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)
        return type(loop).__module__

    assert eventloop.run(main()).startswith("uvloop")


def test_without_uvloop_it_is_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "uvloop", None)  # as on Windows: not installed

    async def main() -> type:
        return type(asyncio.get_running_loop())

    assert not issubclass(eventloop.run(main()), uvloop.Loop)


def test_every_command_runs_on_it() -> None:
    """`on_venue` (every command's service: `polymm run`, `quote`, `cancel-all`, ...) starts its loop here."""
    import inspect

    from polymm_cli.services import venues

    assert "eventloop.run(" in inspect.getsource(venues.on_venue)
