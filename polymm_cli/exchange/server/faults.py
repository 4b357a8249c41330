"""Fault injection for the local exchange, off by default, switchable at start and at run time.

Mirrors real incidents (reference §13.4): added latency; HTTP 425 (matching-engine restart window),
429 with Retry-After and 5xx bursts; silent WebSocket stalls and drops; settlement failures; a
tick-size change at a given time. The control plane (`/_local/faults`) is never affected.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class Faults:
    latency_ms: float = 0.0
    # Each of the next N HTTP requests answers this status (425, 429 or 5xx), then normal service.
    error_status: int = 0
    error_count: int = 0
    error_rate: float = 0.0  # or: every request fails with this probability while error_status is set
    retry_after_s: int = 1
    restart_until: float = 0.0  # matching engine "restarting" (425 on order endpoints) until this time
    ws_stalled: bool = False  # sockets stay open but nothing is sent (no data, no PONG)
    ws_drop_requested: int = 0  # bumped to ask the hub to close every socket now
    tick_change_at: float = 0.0
    tick_change_market: str = ""
    tick_change_to: Decimal = Decimal(0)
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def http_error(self) -> int:
        """The status to fail this request with, or 0."""
        if not self.error_status:
            return 0
        if self.error_count > 0:
            self.error_count -= 1
            if self.error_count == 0 and self.error_rate <= 0:
                status, self.error_status = self.error_status, 0
                return status
            return self.error_status
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            return self.error_status
        return 0

    def update(self, changes: dict[str, Any], now: float) -> None:
        """Apply a control-plane request; unknown keys are refused by the caller."""
        if "latency_ms" in changes:
            self.latency_ms = max(0.0, float(changes["latency_ms"]))
        if "error_status" in changes:
            self.error_status = int(changes["error_status"])
            self.error_count = int(changes.get("error_count", 0))
            self.error_rate = float(changes.get("error_rate", 0.0))
        if "retry_after_s" in changes:
            self.retry_after_s = int(changes["retry_after_s"])
        if "restart_for_s" in changes:
            self.restart_until = now + float(changes["restart_for_s"])
        if "ws_stall" in changes:
            self.ws_stalled = bool(changes["ws_stall"])
        if changes.get("ws_drop"):
            self.ws_drop_requested += 1
        if "tick_change" in changes:
            spec = changes["tick_change"]
            self.tick_change_market = str(spec["market"])
            self.tick_change_to = Decimal(str(spec["tick_size"]))
            self.tick_change_at = now + float(spec.get("after_s", 0))

    def snapshot(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "error_status": self.error_status,
            "error_count": self.error_count,
            "error_rate": self.error_rate,
            "retry_after_s": self.retry_after_s,
            "restart_until": self.restart_until,
            "ws_stall": self.ws_stalled,
            "tick_change_at": self.tick_change_at,
        }


FAULT_KEYS = frozenset(
    {
        "latency_ms",
        "error_status",
        "error_count",
        "error_rate",
        "retry_after_s",
        "restart_for_s",
        "ws_stall",
        "ws_drop",
        "tick_change",
        "settlement_fail_rate",
        "settlement_delay_s",
    }
)
