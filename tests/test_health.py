"""The order-path breaker and the heartbeat watch (polymm_cli/health.py), in plain time values."""

from __future__ import annotations

import pytest

from polymm_cli.health import HeartbeatWatch, OrderPathBreaker


def test_the_breaker_opens_at_the_limit_and_not_before() -> None:
    breaker = OrderPathBreaker(limit=3, base_pause_s=2.0)

    opened = [breaker.failed(10.0, "HTTP 503") for _ in range(3)]

    assert opened == [False, False, True]
    assert breaker.paused(11.9) and not breaker.paused(12.0)
    assert breaker.tripped()


def test_failures_during_the_pause_do_not_lengthen_it() -> None:
    breaker = OrderPathBreaker(limit=1, base_pause_s=2.0)
    breaker.failed(0.0, "timeout")

    assert breaker.failed(1.0, "timeout") is False  # a cancel attempt while paused
    assert breaker.paused_until == 2.0


def test_each_reopening_after_a_pause_doubles_it_up_to_the_cap() -> None:
    breaker = OrderPathBreaker(limit=1, base_pause_s=2.0, max_pause_s=5.0)

    pauses = []
    now = 0.0
    for _ in range(4):
        breaker.failed(now, "timeout")  # the first call after each cool-down fails again
        assert breaker.paused_until is not None
        pauses.append(breaker.paused_until - now)
        now = breaker.paused_until

    assert pauses == [2.0, 4.0, 5.0, 5.0]


def test_a_success_closes_the_breaker_and_resets_the_count() -> None:
    breaker = OrderPathBreaker(limit=2)
    breaker.failed(0.0, "x")
    breaker.failed(0.0, "x")

    assert breaker.succeeded() is True
    assert not breaker.tripped() and breaker.failures == 0
    assert breaker.succeeded() is False  # nothing to close any more
    assert breaker.failed(1.0, "y") is False  # counting starts again


def test_the_reason_names_the_count_the_last_error_and_the_wait() -> None:
    breaker = OrderPathBreaker(limit=1, base_pause_s=4.0)
    breaker.failed(100.0, "VenueError: HTTP 502")

    assert breaker.reason(101.0) == (
        "order path failing (1 consecutive errors, last: VenueError: HTTP 502); trying again in 3 s"
    )


@pytest.mark.parametrize(("limit", "base", "cap"), [(0, 1.0, 2.0), (1, 0.0, 2.0), (1, 3.0, 2.0)])
def test_a_breaker_with_nonsense_settings_is_refused(limit: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        OrderPathBreaker(limit=limit, base_pause_s=base, max_pause_s=cap)


def test_the_heartbeat_watch_is_unhealthy_before_the_first_ack_and_after_the_stale_bound() -> None:
    watch = HeartbeatWatch(stale_s=8.0)
    assert not watch.ok(0.0) and watch.age(0.0) is None

    watch.acked(10.0)

    assert watch.ok(17.9) and not watch.ok(18.0)
    assert watch.age(12.5) == 2.5
