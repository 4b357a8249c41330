"""Health rules the engine applies to its connections, as small pure state machines (time passed in).

- `OrderPathBreaker`: after `limit` consecutive failed order calls (places or cancels that raised: a
  5xx storm, timeouts, a restart window), the order path is paused for a cool-down; while paused
  the engine counts as unhealthy (it keeps trying to cancel its quotes: those attempts do not
  lengthen the pause) and withholds its heartbeat, so the exchange's dead-man's switch removes any
  order we could not cancel. When the cool-down ends the next call decides: a success closes the
  breaker, a failure opens it again for twice as long (up to `max_pause_s`). Refusals of single
  orders (post-only, balance) are answers, not failures.
- `HeartbeatWatch`: healthy while the last acknowledged heartbeat is younger than `stale_s`. The
  exchange cancels everything about 10 s after the last heartbeat it accepted; 8 s leaves us time
  to pull quotes ourselves first.

Stdlib only: no asyncio, no I/O, no clock (every `now` is a monotonic time the caller read).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class OrderPathBreaker:
    """Consecutive order-call failures -> a paused order path; see the module docstring."""

    limit: int = 5
    base_pause_s: float = 2.0
    max_pause_s: float = 30.0
    failures: int = 0
    opens: int = 0  # times it opened since the last success: each reopening doubles the pause
    paused_until: float | None = None
    last_error: str = field(default="")

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if not 0 < self.base_pause_s <= self.max_pause_s:
            raise ValueError("pauses must satisfy 0 < base_pause_s <= max_pause_s")

    def failed(self, now: float, error: str) -> bool:
        """Count one failed call; True when this failure (re)opens the breaker."""
        self.failures += 1
        self.last_error = error
        if self.failures < self.limit or self.paused(now):
            return False
        self.opens += 1
        self.paused_until = now + min(self.max_pause_s, self.base_pause_s * 2 ** (self.opens - 1))
        return True

    def succeeded(self) -> bool:
        """A call went through; True when that closes an open (or half-open) breaker."""
        was_open = self.paused_until is not None
        self.failures = self.opens = 0
        self.paused_until = None
        return was_open

    def paused(self, now: float) -> bool:
        """True while the cool-down runs (after it, calls are tried again: half-open)."""
        return self.paused_until is not None and now < self.paused_until

    def tripped(self) -> bool:
        """True from the failure that opened it until a call succeeds (half-open included)."""
        return self.paused_until is not None

    def reason(self, now: float) -> str:
        left = max(0.0, (self.paused_until or now) - now)
        return (
            f"order path failing ({self.failures} consecutive errors, last: {self.last_error}); "
            f"trying again in {left:.0f} s"
        )


@dataclass(slots=True)
class HeartbeatWatch:
    """Healthy while the last acknowledged heartbeat is younger than `stale_s`."""

    stale_s: float = 8.0
    last_ack: float | None = None

    def acked(self, now: float) -> None:
        self.last_ack = now

    def ok(self, now: float) -> bool:
        return self.last_ack is not None and now - self.last_ack < self.stale_s

    def age(self, now: float) -> float | None:
        return None if self.last_ack is None else now - self.last_ack
