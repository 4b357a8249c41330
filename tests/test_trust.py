"""polymm_cli/trust.py: dust, the depth-weighted mid, and the jump confirmation, in plain values."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from polymm_cli.model import PriceLevel
from polymm_cli.trust import MidTrust, TrustParams, depth_weighted_mid, without_dust


def levels(*pairs: tuple[str, str]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(D(p), D(s)) for p, s in pairs)


def fresh(**params: object) -> MidTrust:
    trust = MidTrust(TrustParams(**params))  # type: ignore[arg-type]
    trust.on_snapshot()
    return trust


def test_dust_levels_are_not_the_market() -> None:
    book = levels(("0.50", "1"), ("0.49", "4.99"), ("0.48", "5"), ("0.47", "100"))

    assert without_dust(book, D(5)) == levels(("0.48", "5"), ("0.47", "100"))


def test_the_depth_weighted_mid_averages_the_best_shares_of_each_side() -> None:
    bids = levels(("0.49", "6"), ("0.40", "100"))
    asks = levels(("0.55", "100"))

    assert depth_weighted_mid(bids, asks, D(50)) == (D("0.4108") + D("0.55")) / 2
    assert depth_weighted_mid(bids, (), D(50)) is None


def test_a_thin_side_averages_what_it_has() -> None:
    assert depth_weighted_mid(levels(("0.40", "10")), levels(("0.60", "10")), D(50)) == D("0.50")


def test_nothing_is_trusted_before_a_snapshot_or_after_the_feed_is_lost() -> None:
    trust = MidTrust(TrustParams())
    assert trust.judge(D("0.5"), 0.0) == "no fresh book since the feed (re)connected"

    trust.on_snapshot()
    assert trust.judge(D("0.5"), 0.0) is None
    trust.on_feed_lost()
    assert trust.judge(D("0.5"), 0.0) == "no fresh book since the feed (re)connected"


def test_the_warm_up_lasts_the_configured_number_of_updates() -> None:
    trust = fresh(warmup_updates=2)

    states = []
    for _ in range(3):
        states.append(trust.warming_up)
        trust.on_update()

    assert states == [True, True, False]


def test_moves_within_the_bound_are_trusted_one_after_another() -> None:
    trust = fresh(jump_bound=D("0.05"))

    verdicts = [trust.judge(D(m), 0.0) for m in ("0.50", "0.54", "0.58", "0.62")]

    assert verdicts == [None, None, None, None] and trust.trusted_mid == D("0.62")


def test_a_jump_waits_for_a_trade_near_the_new_mid() -> None:
    trust = fresh(jump_bound=D("0.05"))
    trust.judge(D("0.50"), 0.0)
    trust.on_trade(D("0.50"))

    why = trust.judge(D("0.70"), 1.0)
    assert why is not None and why.startswith("mid jumped from 0.50 to 0.70 (last trade 0.50)")

    trust.on_trade(D("0.69"))
    assert trust.judge(D("0.70"), 1.1) is None and trust.trusted_mid == D("0.70")


def test_a_jump_is_trusted_once_it_held_for_the_time_and_the_updates() -> None:
    trust = fresh(jump_bound=D("0.05"), confirm_s=3.0, confirm_updates=2)
    trust.judge(D("0.50"), 0.0)

    assert trust.judge(D("0.70"), 10.0) is not None
    trust.on_update()
    assert trust.judge(D("0.70"), 13.5) is not None  # held 3.5 s but one update only
    trust.on_update()
    assert trust.judge(D("0.71"), 12.9) is not None  # two updates, not yet 3 s
    assert trust.judge(D("0.71"), 13.0) is None


def test_a_jump_that_moves_again_starts_its_confirmation_over() -> None:
    trust = fresh(jump_bound=D("0.05"), confirm_s=1.0, confirm_updates=0)
    trust.judge(D("0.50"), 0.0)

    assert trust.judge(D("0.70"), 0.0) is not None
    assert trust.judge(D("0.90"), 0.5) is not None  # a new level: the clock restarts
    assert trust.judge(D("0.90"), 1.25) is not None
    assert trust.judge(D("0.90"), 1.5) is None


@pytest.mark.parametrize(
    "params",
    [{"warmup_updates": -1}, {"confirm_s": -1.0}, {"jump_bound": D(0)}, {"warmup_depth": D(0)}],
)
def test_nonsense_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TrustParams(**params)  # type: ignore[arg-type]
