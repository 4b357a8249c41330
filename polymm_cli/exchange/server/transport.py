"""uvicorn's HTTP protocol, with each answer's status line and headers sent together with its body.

uvicorn writes a response in two calls (the head at `http.response.start`, the body after), and
with TCP_NODELAY each goes out as its own segment: the client wakes up for the head, then waits for
the body. On a busy machine the second write waits for the exchange to be scheduled again, so a
bot's every cancel and place paid that twice (`bench/bench_tick.py`). `OneSegmentTransport` holds a
response head until the next write (the body, right after it in the same task) and sends both in one
call; a head that no write follows within the loop iteration goes out on its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD_START, _HEAD_END = b"HTTP/1.1 ", b"\r\n\r\n"


class OneSegmentTransport:
    """The connection's transport, but a response head waits for the write that follows it.
    Everything else is the transport's own; every write and close sends what is held first, so
    the bytes leave in the order they were written."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        elif data[:9] == _HEAD_START and data[-4:] == _HEAD_END:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._transport.write(held)

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = b""
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSegmentHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `OneSegmentTransport` (a WebSocket upgrade keeps it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSegmentTransport(transport, self.loop))  # type: ignore[arg-type]
