"""The floor under tick-to-quote: the same hops, three bare processes, no polymm logic.

bench/bench_tick.py times a book change from the exchange's publication to our orders acknowledged.
Most of that is three hops between processes on one machine (a WebSocket frame, one or two HTTP
round trips), each paying the scheduler, the loopback and the libraries. This measures what those
hops cost on their own, on the same stack the product runs (uvloop; uvicorn with httptools,
websockets-sansio, TCP_NODELAY and one segment per answer on the exchange side; the websockets
client and aiohttp on the bot side; httpx for the mover), so the printed profile can tell the
machine + Python floor from polymm's own time:

    server  (`python -m bench.tick_floor serve`)  POST /move: stamp, send one frame to every WebSocket
            subscriber, answer; POST /order: answer at once with `X-Polymm-Timing: received,answered`
    bot     (`python -m bench.tick_floor bot URL`)  on each frame, POST /order (a body the size of a
            two-order batch) and print the stamps once the answer is read
    mover   this process: POST /move, wait for the bot's line, pause, again

Frames and bodies are the size of the real ones. No parsing, decision, signing or book: what is
left is the floor.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FRAME_PAD = "x" * 380  # a price_change frame of one level change is ~450 bytes
ORDER_BODY = json.dumps({"orders": ["o" * 700, "o" * 700]})  # two signed orders, ~1.5 KB
STAGES = (
    ("ws_receive", "published", "arrived"),
    ("request_sent", "arrived", "exch_recv"),
    ("exchange", "exch_recv", "exch_resp"),
    ("acknowledgement", "exch_resp", "acked"),
)


def _serve() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from polymm_cli import eventloop
    from polymm_cli.exchange.server.runner import bind_socket
    from polymm_cli.exchange.server.transport import OneSegmentHttpProtocol

    subscribers: set[WebSocket] = set()

    async def feed(ws: WebSocket) -> None:
        await ws.accept()
        subscribers.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            subscribers.discard(ws)

    async def move(request: Request) -> Response:
        await request.body()
        frame = json.dumps({"published_ns": time.monotonic_ns(), "pad": FRAME_PAD})
        for ws in list(subscribers):
            await ws.send_text(frame)
        return Response(b'{"ok":true}', media_type="application/json")

    async def order(request: Request) -> Response:
        received = time.monotonic_ns()
        await request.body()
        stamps = f"{received},{time.monotonic_ns()}"
        return Response(b'{"ok":true}', media_type="application/json", headers={"X-Polymm-Timing": stamps})

    app = Starlette(
        routes=[
            Route("/move", move, methods=["POST"]),
            Route("/order", order, methods=["POST"]),
            WebSocketRoute("/ws", feed),
        ]
    )
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        http=OneSegmentHttpProtocol,
        lifespan="off",
        ws_ping_interval=None,
    )
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    eventloop.run(uvicorn.Server(config).serve(sockets=[sock]))


async def _bot(url: str) -> None:
    import aiohttp
    from websockets.asyncio.client import connect

    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30)) as http,
        connect(url.replace("http", "ws") + "/ws", compression=None, ping_interval=None) as ws,
    ):
        print(json.dumps({"ready": True}), flush=True)
        while True:
            frame = await ws.recv()
            arrived = time.monotonic_ns()
            published = int(json.loads(frame)["published_ns"])
            async with http.post(url + "/order", data=ORDER_BODY) as answer:
                await answer.read()
                stamps = answer.headers["X-Polymm-Timing"]
            acked = time.monotonic_ns()
            received, responded = (int(s) for s in stamps.split(","))
            record = {
                "published": published,
                "arrived": arrived,
                "exch_recv": received,
                "exch_resp": responded,
                "acked": acked,
            }
            print(json.dumps(record), flush=True)


async def _measure(moves: int, gap_s: float) -> list[dict[str, int]]:
    import httpx

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    me = (sys.executable, "-m", "bench.tick_floor")
    server = await asyncio.create_subprocess_exec(*me, "serve", stdout=asyncio.subprocess.PIPE, env=env)
    bot: asyncio.subprocess.Process | None = None
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        found = re.search(r"(http://\S+)", line)
        if found is None:
            raise RuntimeError(f"the floor server did not start: {line.strip()!r}")
        url = found[1]
        bot = await asyncio.create_subprocess_exec(*me, "bot", url, stdout=asyncio.subprocess.PIPE, env=env)
        assert bot.stdout is not None
        await asyncio.wait_for(bot.stdout.readline(), 30)  # ready
        out: list[dict[str, int]] = []
        async with httpx.AsyncClient(base_url=url) as mover:
            for i in range(moves + 5):
                await mover.post("/move", content=b"{}")
                record = json.loads(await asyncio.wait_for(bot.stdout.readline(), 10))
                if i >= 5:  # the first five warm up
                    out.append(record)
                await asyncio.sleep(gap_s)
        return out
    finally:
        for proc in (bot, server):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()


def summary(records: list[dict[str, int]]) -> dict[str, Any]:
    """p50, p99 and mean of each hop and of the total (publication -> answer read), in ms."""
    from bench.bench_engine import percentile

    def figures(values: list[float]) -> dict[str, float]:
        return {
            "p50": statistics.median(values),
            "p99": percentile(values, 0.99),
            "mean": statistics.fmean(values),
        }

    stages = {name: figures([(r[end] - r[start]) / 1e6 for r in records]) for name, start, end in STAGES}
    total = figures([(r["acked"] - r["published"]) / 1e6 for r in records])
    return {"moves": len(records), "stages": stages, **total}


def bench_tick_floor(moves: int = 220, gap_s: float = 0.06) -> dict[str, Any]:
    """The floor of the tick-to-quote hops (see the module docstring), paced as the tick bench is."""
    started = time.perf_counter()
    result = summary(asyncio.run(_measure(moves, gap_s)))
    result["wall_s"] = time.perf_counter() - started
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve()
    elif sys.argv[1:2] == ["bot"]:
        from polymm_cli import eventloop

        eventloop.run(_bot(sys.argv[2]))
    else:
        print(json.dumps(bench_tick_floor(int(sys.argv[1]) if len(sys.argv) > 1 else 220), indent=1))
