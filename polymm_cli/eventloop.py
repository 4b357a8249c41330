"""The event loop every polymm process runs on: uvloop where it is installed, asyncio's otherwise.

uvloop (a dependency everywhere but Windows) runs the same asyncio code with a faster loop and
faster sockets: every hop of the order path (a WebSocket frame in, an HTTP request out, its answer)
goes through it. Signal handlers (`loop.add_signal_handler`), websockets, aiohttp, httpx and the Rich
dashboard work on it unchanged. The engine's loop (`polymm run` and every command through
services/venues.on_venue), the local exchange and the tick-to-quote bench all start here, so the
bench measures the loop the product runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new uvloop loop where uvloop is installed, asyncio's default loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop of `new_event_loop` (cancels what is left, closes the loop)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
