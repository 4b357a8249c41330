"""The chaos soak's fault schedule: which fault, when, for how long, drawn from one seeded RNG.

Faults never overlap: each is followed by a quiet period so the bot can recover and trade, and so
every figure (stale seconds, time to pull quotes) is attributable to one fault. A schedule first
places the required count of each kind (shuffled), then, while the horizon allows, draws more.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WS_STALL = "ws_stall"
WS_DROP = "ws_drop"
HTTP_5XX = "http_5xx"
HTTP_429 = "http_429"
RESTART_425 = "restart_425"
LATENCY = "latency"
TICK_CHANGE = "tick_change"
KILL_9 = "kill_9"
# The chain is slow (trades take longer than the bot's resync margin to settle), the bot dies at the
# end of it, and the trades settle while it is down: its restart must still learn their final status.
SLOW_SETTLEMENT = "slow_settlement"

KINDS = (WS_STALL, WS_DROP, HTTP_5XX, HTTP_429, RESTART_425, LATENCY, TICK_CHANGE, KILL_9, SLOW_SETTLEMENT)
RESTARTS_BOT = frozenset({KILL_9, SLOW_SETTLEMENT})
# Faults after which the bot must not keep its quotes: it is blind, cannot reach the order path, or
# is dead (then the exchange's dead-man's switch pulls them).
PULLS_QUOTES = frozenset({WS_STALL, WS_DROP, HTTP_5XX, RESTART_425, KILL_9})
# Relative weights of the extra faults drawn once the required ones are placed.
FILL_WEIGHTS: Mapping[str, float] = {
    WS_STALL: 1.0,
    WS_DROP: 2.0,
    HTTP_5XX: 2.0,
    HTTP_429: 2.0,
    RESTART_425: 2.0,
    LATENCY: 2.0,
    TICK_CHANGE: 0.3,
    KILL_9: 0.7,
    SLOW_SETTLEMENT: 0.2,
}
TICKS = (Decimal("0.01"), Decimal("0.001"))  # valid Polymarket ticks; a change moves to the other one


@dataclass(frozen=True)
class ScheduleParams:
    """How long faults last and how long the quiet between them is (seconds)."""

    horizon_s: float
    detection_bound_s: float  # a stall must outlast this, so the bot has to notice on its own
    quiet_s: tuple[float, float] = (3.0, 8.0)
    stall_extra_s: tuple[float, float] = (3.0, 12.0)  # a stall lasts the bound plus this
    # a stall's reconnect and resync take the bot ~10 s after the feed comes back (measured): a
    # longer quiet after it, so the next fault finds the bot quoting
    after_stall_s: float = 12.0
    http_fault_s: tuple[float, float] = (6.0, 18.0)  # 5xx storms, 429 bursts, 425 windows, latency
    kill_downtime_s: tuple[float, float] = (12.0, 16.0)  # past the dead-man's switch (10 s + a beat)
    slow_settlement_s: tuple[float, float] = (75.0, 95.0)  # longer than the bot's 60 s resync margin
    counts: Mapping[str, int] = field(default_factory=dict)  # required faults of each kind
    shuffle: bool = True  # False: the required faults in the order `counts` lists them
    fill: bool = True  # draw more faults while the horizon allows


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    at_s: float  # offset from the start of the schedule
    duration_s: float  # 0 for instant faults (drop, tick change)
    params: dict[str, Any]


def default_counts(minutes: float) -> dict[str, int]:
    """Required faults for a run of this length: every kind at least once, stalls and kills often."""
    each = max(1, round(minutes / 10))
    return {
        **dict.fromkeys(KINDS, each),
        WS_STALL: max(1, round(minutes / 7)),
        KILL_9: max(1, round(minutes / 7)),
        TICK_CHANGE: max(1, round(minutes / 15)),
        SLOW_SETTLEMENT: max(1, round(minutes / 15)) if minutes >= 3 else 0,
    }


def draw_fault(kind: str, params: ScheduleParams, rng: random.Random) -> tuple[float, dict[str, Any]]:
    """The duration and the control-plane parameters of one fault of this kind."""
    low, high = params.http_fault_s
    if kind == WS_STALL:
        return params.detection_bound_s + rng.uniform(*params.stall_extra_s), {}
    if kind == HTTP_5XX:
        return rng.uniform(low, high), {
            "error_status": rng.choice((500, 502, 503)),
            "error_rate": round(rng.uniform(0.7, 0.95), 2),
        }
    if kind == HTTP_429:
        return rng.uniform(low, high), {
            "error_status": 429,
            "error_rate": round(rng.uniform(0.6, 0.9), 2),
            "retry_after_s": rng.choice((1, 2)),
        }
    if kind == RESTART_425:
        return rng.uniform(low, high), {}
    if kind == LATENCY:
        return rng.uniform(low, high), {"latency_ms": rng.choice((300, 600, 1000, 1500))}
    if kind == KILL_9:
        return rng.uniform(*params.kill_downtime_s), {}
    if kind == SLOW_SETTLEMENT:
        slow, down = rng.uniform(*params.slow_settlement_s), rng.uniform(*params.kill_downtime_s)
        delay = round(slow + rng.uniform(10.0, 30.0))  # nothing settles during the window
        return slow + down, {"settlement_delay_s": delay, "slow_for_s": slow, "downtime_s": down}
    return 0.0, {}  # ws_drop, tick_change: instant


def _quiet_after(kind: str, params: ScheduleParams, rng: random.Random) -> float:
    return rng.uniform(*params.quiet_s) + (params.after_stall_s if kind == WS_STALL else 0.0)


def plan_faults(params: ScheduleParams, rng: random.Random) -> list[FaultSpec]:
    """Required faults (shuffled unless told not to), then random ones while the horizon allows; each
    is followed by a quiet gap."""
    kinds = [kind for kind, n in params.counts.items() for _ in range(n)]
    if params.shuffle:
        rng.shuffle(kinds)
    plan: list[FaultSpec] = []
    clock = rng.uniform(*params.quiet_s)
    for kind in kinds:
        duration, extra = draw_fault(kind, params, rng)
        plan.append(FaultSpec(kind, clock, duration, extra))
        clock += duration + _quiet_after(kind, params, rng)
    names, weights = list(FILL_WEIGHTS), list(FILL_WEIGHTS.values())
    while params.fill:
        kind = rng.choices(names, weights)[0]
        duration, extra = draw_fault(kind, params, rng)
        gap = _quiet_after(kind, params, rng)
        if clock + duration + gap > params.horizon_s:
            break
        plan.append(FaultSpec(kind, clock, duration, extra))
        clock += duration + gap
    return plan


def schedule_length_s(plan: list[FaultSpec], quiet_s: tuple[float, float]) -> float:
    """When the last fault ends, plus the longest quiet gap (the bot's last recovery)."""
    if not plan:
        return quiet_s[1]
    last = plan[-1]
    return last.at_s + last.duration_s + quiet_s[1]
