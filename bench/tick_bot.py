"""The bot process of the tick-to-quote bench: the real engine and Polymarket adapter, with probes.

Run by bench/bench_tick.py as its own process (`python bench/tick_bot.py URL CONDITION_ID`), beside the
exchange in a second process and the mover in a third. It prints one JSON line when its first quotes
rest, then one per decision that placed orders, with CLOCK_MONOTONIC nanoseconds of every stage of
that decision (comparable with the exchange's stamps: one clock for every process on a Linux machine):

    published   the exchange published the book change (`published_ns` on the price_change event)
    ws_sent     the exchange wrote the frame to our socket (`sent_ns`)
    arrived     the frame reached the market stream (it enters MarketStream._handle)
    parsed      the frame is parsed into typed events
    decided     the engine calls the venue: the decision is made (quoter, reconcile, risk)
    place_call  the engine calls venue.place (after the cancel is confirmed, when it must be)
    sign_start, sign_end   the order signer's batch
    sent, answered         the POST /order(s) request leaving the client and its answer read
    exch_recv, exch_resp   the exchange's own stamps of that request (X-Polymm-Timing)
    acked       venue.place returned: our new orders are acknowledged

The probes wrap from outside (the stream's `_handle`, the adapter's batch signer, its HTTP observer,
or httpx event hooks on a checkout that predates the observer), so the same file measures an older
checkout of polymm_cli for a before/after comparison. It stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from polymm_cli.clock import SystemClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account
from polymm_cli.quoter import QuoteParams
from polymm_cli.venues.polymarket import streams
from polymm_cli.venues.polymarket.adapter import PolymarketVenue
from polymm_cli.venues.polymarket.config import PolymarketConfig

PARAMS = QuoteParams(
    spread=Decimal("0.02"), size=Decimal(10), position_limit=Decimal(100), skew_enabled=False
)
PUBLISHED = re.compile(r'"published_ns":(\d+)')
WRITTEN = re.compile(r'"sent_ns":(\d+)')  # the exchange wrote the frame (an older one: absent)
ORDER_POSTS = ("POST /order", "POST /orders")


class Probe:
    """Stamps of the decision in flight; `emit` prints them once the places are acknowledged."""

    def __init__(self) -> None:
        self.frame: dict[str, int] = {}  # the last market frame: published, ws_sent, arrived, parsed
        self.current: dict[str, int] = {}

    def on_frame(self, stamps: dict[str, int]) -> None:
        self.frame = stamps

    def decided(self) -> None:
        if not self.current:
            self.current = {**self.frame, "decided": time.monotonic_ns()}

    def mark(self, name: str, value: int | None = None) -> None:
        if self.current:
            self.current.setdefault(name, value if value is not None else time.monotonic_ns())

    def on_http(self, key: str, sent: int, answered: int, headers: Mapping[str, str]) -> None:
        if not self.current or key not in ORDER_POSTS or "sent" in self.current:
            return
        self.current["sent"], self.current["answered"] = sent, answered
        stamps = headers.get("x-polymm-timing", "")
        if stamps:
            received, responded = stamps.split(",")
            self.current["exch_recv"], self.current["exch_resp"] = int(received), int(responded)

    def emit(self, places: int) -> None:
        if self.current and "acked" in self.current:
            print(json.dumps({"move": self.current, "places": places}), flush=True)
        self.current = {}


class ProbedVenue:
    """The adapter, with the engine's order calls stamped; everything else passes through."""

    def __init__(self, venue: PolymarketVenue, probe: Probe) -> None:
        self._venue, self._probe = venue, probe

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)

    async def cancel(self, order_ids: Sequence[str]) -> Any:
        self._probe.decided()
        return await self._venue.cancel(order_ids)

    async def place(self, intents: Sequence[Any]) -> Any:
        self._probe.decided()
        self._probe.mark("place_call")
        results = await self._venue.place(intents)
        self._probe.mark("acked")
        return results


def install_probes(venue: PolymarketVenue, probe: Probe) -> None:
    """Stamp frames (around the stream's parse), the signer's batches and the order POSTs."""
    handle = streams.MarketStream._handle

    def probed_handle(self: Any, frame: str | bytes, recv_ts: float) -> Any:
        arrived = time.monotonic_ns()
        events = handle(self, frame, recv_ts)
        parsed = time.monotonic_ns()
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        found = PUBLISHED.search(text)
        if found:
            written = WRITTEN.search(text)
            stamps = {"published": int(found[1]), "arrived": arrived, "parsed": parsed}
            probe.on_frame(stamps | ({"ws_sent": int(written[1])} if written else {}))
        return events

    streams.MarketStream._handle = probed_handle  # type: ignore[method-assign]
    signer = venue._batch_signer
    assert signer is not None
    sign_batch = signer.sign_batch

    def probed_sign(jobs: Sequence[Any]) -> Any:
        probe.mark("sign_start")
        out = sign_batch(jobs)
        probe.mark("sign_end")
        return out

    signer.sign_batch = probed_sign  # type: ignore[method-assign]
    if hasattr(venue, "observe_http"):
        venue.observe_http(probe.on_http)
    else:  # an older checkout on httpx: its event hooks stamp the same moments
        _hook_httpx(venue._http, probe)


def _hook_httpx(http: Any, probe: Probe) -> None:
    client = http._http()
    sent: dict[int, int] = {}

    async def on_request(request: Any) -> None:
        sent[id(request)] = time.monotonic_ns()

    async def on_response(response: Any) -> None:
        request = response.request
        key = f"{request.method} {request.url.path}"
        probe.on_http(key, sent.pop(id(request), 0), time.monotonic_ns(), response.headers)

    client.event_hooks = {"request": [on_request], "response": [on_response]}


def engine_config() -> EngineConfig:
    """The engine's defaults, with what `polymm run` sets for the process (`freeze_heap`, where this
    checkout has it); POLYMM_BENCH_OVERLAP=1 / 0 turns overlapping cancels and places on / off."""
    config = EngineConfig(params=PARAMS)
    if hasattr(config, "freeze_heap"):
        config = replace(config, freeze_heap=True)
    overlap = os.environ.get("POLYMM_BENCH_OVERLAP")
    if overlap in ("0", "1"):
        config = replace(config, overlap_cancels=overlap == "1")
    return config


def _stop_on_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    def wait() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait, daemon=True).start()


async def run(url: str, condition_id: str) -> None:
    venue = PolymarketVenue(
        PolymarketConfig.for_local_exchange(url, SecretStr("0x" + "e1" * 32)), SystemClock()
    )
    await venue.start()
    await venue._http.request("POST", "/_local/fund", body={"address": venue.address, "amount": "100000"})
    market = await venue.market(condition_id)
    probe = Probe()
    install_probes(venue, probe)
    stop = asyncio.Event()
    _stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    ready = False

    def on_decision(decision: Mapping[str, Any]) -> None:
        nonlocal ready
        places = int(decision["places"])
        if not ready and engine.orders_placed >= 2:
            ready = True
            print(json.dumps({"ready": True}), flush=True)
            probe.current = {}
            return
        probe.emit(places)

    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger.open(Path(tmp), account=Account("local", venue.address)) as ledger,
    ):
        engine = QuotingEngine(
            ProbedVenue(venue, probe),
            ledger,
            SystemClock(),
            [market],
            engine_config(),
            on_decision=on_decision,
        )
        await engine.run(stop=stop)
    await venue.close()


if __name__ == "__main__":
    try:  # the loop `polymm run` runs on (uvloop where installed): the bench measures the product's
        from polymm_cli.eventloop import run as run_on_loop
    except ImportError:  # an older checkout: it ran on asyncio's loop
        run_on_loop = asyncio.run
    run_on_loop(run(sys.argv[1], sys.argv[2]))
