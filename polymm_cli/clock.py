"""Time, injected. The only module that reads the wall clock.

`Clock.now()` is unix seconds as a float (venue timestamps are built from it), `Clock.monotonic()`
is for durations, and `await Clock.sleep(s)` is the one way the engine's timers wait (heartbeats,
the halt poll, time-driven rules, a run's duration). `ManualClock` is virtual time for tests and
backtests: `advance()` moves it and fires any timer that came due, in due order, so a sleeper wakes
exactly when virtual time reaches its deadline and never otherwise.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix time in seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def stamp_ns() -> int:
    """CLOCK_MONOTONIC in nanoseconds, the one clock two processes on one Linux machine share: for
    latency stamps that cross a process boundary (benchmarks), never for a decision (use a Clock)."""
    return time.monotonic_ns()


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class ManualClock:
    """Virtual time that only moves when told to; timers fire during `advance`."""

    def __init__(self, start: float = 1_777_370_400.0) -> None:
        self._now = start
        self._start_mono = start
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start_mono

    async def sleep(self, seconds: float) -> None:
        """Wait until virtual time has moved `seconds` on (a test's `advance` moves it)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_at(self._now + seconds, wake)
        try:
            await woken
        finally:
            timer.cancelled = True

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def next_due(self) -> float | None:
        """When the earliest pending timer fires (None: none pending)."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].due if self._timers else None

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due on the way at its own due time."""
        if seconds < 0:
            raise ValueError("time does not go back")
        target = self._now + seconds
        while self._timers and self._timers[0].due <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.due)
            timer.callback()
        self._now = target

    def set(self, when: float) -> None:
        self.advance(when - self._now)
