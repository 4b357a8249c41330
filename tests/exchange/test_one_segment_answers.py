"""An HTTP answer of the local exchange leaves in one write: head and body together.

uvicorn writes the head and the body in two calls; with TCP_NODELAY each would be its own segment,
and the client would wake up twice (exchange/server/transport.py).
"""

from __future__ import annotations

import asyncio
import socket

import httpx

from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.exchange.server.transport import OneSegmentTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorded:
    """A transport that records its writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_a_head_waits_for_its_body_and_both_leave_in_one_write() -> None:
    inner = Recorded()
    transport = OneSegmentTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b"{}")
    assert inner.writes == [HEAD + b"{}"]
    transport.write(b"\x81\x02hi")  # anything else (a WebSocket frame) goes at once
    assert inner.writes[-1] == b"\x81\x02hi"
    assert transport.is_closing() is False  # the rest is the transport's own


async def test_a_head_no_write_follows_goes_out_on_its_own_and_close_sends_what_is_held() -> None:
    inner = Recorded()
    transport = OneSegmentTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    await asyncio.sleep(0)  # the loop's next step
    assert inner.writes == [HEAD]
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD, HEAD] and inner.closed


def test_the_server_answers_whole_through_it() -> None:
    """The server runs on it: a whole answer on a kept-alive connection (the unit tests above are the
    guards; on loopback two back-to-back segments usually arrive before the first read too)."""
    with ExchangeThread(ExchangeConfig(flow=False)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        assert httpx.get(f"{server.url}/ok").status_code == 200  # warm: the first answer is the same
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sock.recv(65536)
        head, _, body = first.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        assert len(body) == length > 0
