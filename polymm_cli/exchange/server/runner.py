"""Start and stop the local exchange server: uvicorn on a loopback socket, plus its heartbeat task.

The heartbeat task (every `tick_s`) advances settlement, GTD expiry and dead-man's switches, resolves
the markets whose end date has passed, drives the synthetic flow, applies scheduled faults and
persists the state file when it changed.
`ExchangeThread` runs the whole thing in a background thread for synchronous callers (tests using
py-clob-client-v2, benchmarks); `serve_forever` is `polymm exchange serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import uvicorn

from polymm_cli import eventloop
from polymm_cli.clock import Clock, SystemClock
from polymm_cli.exchange import state as state_file
from polymm_cli.exchange.core import LocalExchange, SettlementConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.payouts import IncomeConfig
from polymm_cli.exchange.server.app import ServerState, build_app
from polymm_cli.exchange.server.faults import Faults
from polymm_cli.exchange.server.transport import OneSegmentHttpProtocol

if TYPE_CHECKING:
    from polymm_cli.exchange.flow import FlowConfig, SyntheticFlow

log = logging.getLogger("polymm.exchange")
T = TypeVar("T")


@dataclass
class ExchangeConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    seed: int = 7
    flow: bool = True
    fund: list[tuple[str, Decimal]] = field(default_factory=list)
    state_path: Path | None = None
    settlement: SettlementConfig = field(default_factory=lambda: SettlementConfig(delay_s=2.0))
    faults: Faults = field(default_factory=Faults)
    page_size: int = 500
    tick_s: float = 0.1
    flow_config: FlowConfig | None = None
    income: IncomeConfig = field(default_factory=IncomeConfig)  # reward and rebate epoch, sampling
    resolve_at_end: bool = True  # markets resolve on their own at their end date (`resolve_due`)
    timing: bool = False  # stamp monotonic times on book events and HTTP answers (benchmarks)


def build_exchange(config: ExchangeConfig, clock: Clock) -> LocalExchange:
    """A fresh exchange with the sample markets, or the one saved in the state file."""
    if config.state_path is not None and config.state_path.exists():
        exchange = state_file.load(
            config.state_path, clock, settlement=config.settlement, income=config.income
        )
    else:
        exchange = LocalExchange(
            sample_markets(), clock, seed=config.seed, settlement=config.settlement, income=config.income
        )
    for address, amount in config.fund:
        exchange.fund(address, amount)
    exchange.advance()  # settle what came due while it was down, before anyone reads a balance
    return exchange


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this on Linux; without it a response written in two parts waits for
    # the client's delayed ACK (~40 ms per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: whoever runs the server decides how it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ExchangeServer:
    """One running exchange: state, app, uvicorn server and the heartbeat task, in one event loop."""

    def __init__(self, config: ExchangeConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.exchange = build_exchange(config, self.clock)
        self.state = ServerState(
            self.exchange, faults=config.faults, page_size=config.page_size, timing=config.timing
        )
        self.flow: SyntheticFlow | None = None
        if config.flow:
            from polymm_cli.exchange.flow import FlowConfig, SyntheticFlow  # only loaded when traders run

            self.flow = SyntheticFlow(
                self.exchange, self.clock, config.flow_config or FlowConfig(), seed=config.seed
            )
            self.flow.step(self.clock.now())  # the makers quote before the first request: no empty books
        self.app = build_app(self.state)
        self.socket = bind_socket(config.host, config.port)
        host, port = self.socket.getsockname()[:2]
        self.port: int = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self.ws_url = f"ws://{shown}:{port}/ws"
        self._server = _QuietServer(
            uvicorn.Config(
                self.app,
                log_level="warning",
                # Nothing of INFO is shown at "warning", but uvicorn still formats each request's
                # access-log arguments unless the access log is off
                access_log=False,
                ws="websockets-sansio",
                http=OneSegmentHttpProtocol,  # an answer's head and body in one segment
                lifespan="off",
                timeout_graceful_shutdown=2,
                ws_ping_interval=None,
                # The peer address is who connected: X-Forwarded-For must not make a caller loopback
                # (uvicorn trusts it by default, from the IPs in $FORWARDED_ALLOW_IPS).
                proxy_headers=False,
            )
        )
        self._saved_version = -1

    async def serve(self, started: threading.Event | None = None) -> None:
        ticker = asyncio.create_task(self._tick_forever())
        try:
            serve = asyncio.create_task(self._server.serve(sockets=[self.socket]))
            while not self._server.started and not serve.done():
                await asyncio.sleep(0.005)
            if started is not None:
                started.set()
            await serve
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.save()

    def request_stop(self) -> None:
        self._server.should_exit = True

    def save(self) -> None:
        if self.config.state_path is not None and self.exchange.version != self._saved_version:
            state_file.save(self.exchange, self.config.state_path)
            self._saved_version = self.exchange.version

    def tick(self) -> None:
        """Everything time-driven, once."""
        now = self.clock.now()
        faults = self.state.faults
        if faults.tick_change_at and now >= faults.tick_change_at:
            faults.tick_change_at = 0.0
            self.exchange.set_tick_size(faults.tick_change_market, faults.tick_change_to)
        self.exchange.advance()
        if self.config.resolve_at_end:
            for market in self.exchange.resolve_due():
                log.info(
                    "market %s resolved at its end date: %s won",
                    market.slug,
                    market.outcome_of(market.winner),
                )
        if self.flow is not None:
            self.flow.step(now)
        self.state.hub.check_faults()

    async def _tick_forever(self) -> None:
        last_save = self.clock.monotonic()
        while True:
            try:
                self.tick()
                if self.clock.monotonic() - last_save >= 1.0:
                    self.save()
                    last_save = self.clock.monotonic()
            except Exception:  # one bad tick must not stop settlement for everyone
                log.exception("exchange tick failed")
            await asyncio.sleep(self.config.tick_s)


class ExchangeThread:
    """The exchange served from a background thread; a context manager that stops it on exit."""

    def __init__(self, config: ExchangeConfig | None = None) -> None:
        self.server = ExchangeServer(config or ExchangeConfig())
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="local-exchange", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    def _run(self) -> None:
        self._loop = eventloop.new_event_loop()
        try:
            self._loop.run_until_complete(self.server.serve(self._started))
        finally:
            self._loop.close()

    def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(*args)` on the exchange's own thread and return its result (thread-safe access)."""
        assert self._loop is not None

        async def invoke() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=10)

    def start(self) -> ExchangeThread:
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError("local exchange did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.server.request_stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> ExchangeThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(config: ExchangeConfig, on_ready: Callable[[ExchangeServer], None] | None = None) -> None:
    """`polymm exchange serve`: run in the foreground until Ctrl+C or SIGTERM, then stop cleanly."""
    server = ExchangeServer(config)
    started = threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.request_stop)
        task = asyncio.create_task(server.serve(started))
        while not started.is_set() and not task.done():
            await asyncio.sleep(0.005)
        if on_ready is not None and not task.done():
            on_ready(server)
        await task

    eventloop.run(main())
