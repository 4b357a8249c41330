"""Fault injection for the local exchange, off by default, switchable at start and at run time.

Mirrors real incidents (reference §13.4): added latency; HTTP 425 (matching-engine restart window),
429 with Retry-After and 5xx bursts; silent WebSocket stalls and drops; settlement failures; a
tick-size change at a given time. The control plane (`/_local/faults`) is never affected.
`validated_changes` checks a whole control-plane request before any of it is applied.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from polymm_cli.model import TICK_SIZES

# 425 (engine restart), 429 and 5xx are what Polymarket answers under stress; 400 is kept so a
# client's "never retry a 400" rule can be exercised (tests/venues/test_venue_contract.py).
INJECTABLE_STATUSES = frozenset({400, 425, 429, *range(500, 600)})
MAX_LATENCY_MS = 30_000
MAX_ERROR_COUNT = 1_000_000
MAX_WINDOW_S = 3600  # restart windows, Retry-After, settlement delays
MAX_TICK_CHANGE_DELAY_S = 86_400


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
        """Apply a control-plane request that `validated_changes` returned."""
        if "latency_ms" in changes:
            self.latency_ms = float(changes["latency_ms"])
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
            self.tick_change_market = spec["market"]
            self.tick_change_to = spec["tick_size"]
            self.tick_change_at = now + spec["after_s"]

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


class FaultRefused(ValueError):
    """A control-plane request with a bad value; its message is one line naming the value."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(low: float, high: float) -> Callable[[str, Any], float]:
    def check(key: str, value: Any) -> float:
        if not _is_number(value) or not low <= value <= high:
            raise FaultRefused(f"{key} must be a number from {low:g} to {high:g}, got {_shown(value)}")
        return float(value)

    return check


def _count(high: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if not (_is_number(value) and value == int(value) and 0 <= value <= high):
            raise FaultRefused(f"{key} must be a whole number from 0 to {high}, got {_shown(value)}")
        return int(value)

    return check


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FaultRefused(f"{key} must be true or false, got {_shown(value)}")
    return value


def _status(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (value and value not in INJECTABLE_STATUSES):
        raise FaultRefused(f"{key} must be 0 (off), 400, 425, 429 or 500-599, got {_shown(value)}")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "latency_ms": _number(0, MAX_LATENCY_MS),
    "error_status": _status,
    "error_count": _count(MAX_ERROR_COUNT),
    "error_rate": _number(0, 1),
    "retry_after_s": _count(MAX_WINDOW_S),
    "restart_for_s": _number(0, MAX_WINDOW_S),
    "ws_stall": _flag,
    "ws_drop": _flag,
    "settlement_fail_rate": _number(0, 1),
    "settlement_delay_s": _number(0, MAX_WINDOW_S),
}


def _tick_change(spec: Any, markets: Container[str]) -> dict[str, Any]:
    if not isinstance(spec, dict) or not {"market", "tick_size"} <= spec.keys() <= {
        "market",
        "tick_size",
        "after_s",
    }:
        raise FaultRefused("tick_change must be {market, tick_size[, after_s]}")
    if not isinstance(spec["market"], str) or spec["market"] not in markets:
        raise FaultRefused(f"tick_change market is not a market of this exchange: {_shown(spec['market'])}")
    raw = spec["tick_size"]
    try:
        tick = Decimal(str(raw)) if _is_number(raw) or isinstance(raw, str) else None
    except InvalidOperation:
        tick = None
    if tick is None or tick not in TICK_SIZES:
        raise FaultRefused(
            f"tick_change tick_size must be one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001, got {_shown(raw)}"
        )
    after_s = _number(0, MAX_TICK_CHANGE_DELAY_S)("tick_change after_s", spec.get("after_s", 0))
    return {"market": spec["market"], "tick_size": tick, "after_s": after_s}


def validated_changes(changes: Any, markets: Container[str]) -> dict[str, Any]:
    """The request's changes as typed values once every one of them is known and in range;
    raises FaultRefused otherwise, so a refused request changes nothing."""
    if not isinstance(changes, dict) or not set(changes) <= FAULT_KEYS:
        raise FaultRefused(f"unknown fault; known: {', '.join(sorted(FAULT_KEYS))}")
    if ("error_count" in changes or "error_rate" in changes) and "error_status" not in changes:
        raise FaultRefused("error_count and error_rate go with an error_status")
    checked = {key: check(key, changes[key]) for key, check in _CHECKS.items() if key in changes}
    if "tick_change" in changes:
        checked["tick_change"] = _tick_change(changes["tick_change"], markets)
    return checked
