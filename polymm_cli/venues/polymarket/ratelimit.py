"""Client-side token buckets for Polymarket's per-signer trading limits (docs/protocol.md §8).

Owns the pacing of order and cancel traffic so the venue is never the one to say 429: placing costs
one token per order (a batch costs its size), cancelling one per order id, and the cancel bucket is
twice the order bucket. A call that cannot be paid for waits (it never fails). A cost larger than the
bucket's burst waits for a full bucket and then goes into debt, which later calls pay back - the
venue lets cancels do the same. Time comes from the injected clock; waiting is `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio

from polymm_cli.clock import Clock


class TokenBucket:
    """`rate` tokens per second up to `burst`; `acquire(cost)` waits until the cost can be paid."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock.monotonic()
        self._lock = asyncio.Lock()  # first come, first served
        self.waited_s = 0.0  # total time callers spent waiting (observability)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    async def acquire(self, cost: float = 1.0) -> None:
        """Take `cost` tokens, waiting for them if needed; a cost above the burst waits for a full
        bucket and leaves it in debt."""
        if cost <= 0:
            return
        async with self._lock:
            need = min(cost, self.burst)
            while True:
                self._refill()
                if self._tokens >= need:
                    self._tokens -= cost
                    return
                wait = (need - self._tokens) / self.rate
                self.waited_s += wait
                await asyncio.sleep(wait)

    def debit(self, cost: float) -> None:
        """Charge tokens after the fact (e.g. the orders a cancel-all turned out to cancel)."""
        if cost > 0:
            self._refill()
            self._tokens -= cost


class TradingLimiter:
    """The two per-signer buckets of one venue: orders and cancels (twice the order rate)."""

    def __init__(self, order_rate: float, order_burst: float, clock: Clock) -> None:
        self.orders = TokenBucket(order_rate, order_burst, clock)
        self.cancels = TokenBucket(order_rate * 2, order_burst * 2, clock)
