"""Market regime rules: volatility widening, jump cool-down, trend filter, after-fill cool-down."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from polymm_cli.regime import MarketRegime, RegimeParams


def regime(**overrides: object) -> MarketRegime:
    return MarketRegime(RegimeParams(**overrides))  # type: ignore[arg-type]


def test_a_quiet_market_changes_nothing() -> None:
    r = regime()
    for i in range(100):
        r.observe_mid(float(i), D("0.50"))
    view = r.assess(100.0)
    assert view.spread_multiplier == 1 and view.blocked == () and view.notes == ()


def test_volatility_widens_the_spread_and_decays_when_the_market_calms() -> None:
    r = regime(vol_reference=0.002, vol_halflife_s=10, jump_enabled=False, trend_enabled=False)
    for i in range(60):  # a 1c zig-zag every second: 0.01/sqrt(s), five times the reference
        r.observe_mid(float(i), D("0.50") if i % 2 else D("0.51"))
    busy = r.assess(60.0)
    assert D("3") >= busy.spread_multiplier > D("2")
    assert "volatility" in busy.notes[0]
    calm = r.assess(60.0 + 120)  # two minutes without a change: twelve half-lives
    assert calm.spread_multiplier == 1


def test_widening_is_capped() -> None:
    r = regime(vol_reference=0.0001, max_widen=2.5, jump_enabled=False, trend_enabled=False)
    for i in range(20):
        r.observe_mid(float(i), D("0.40") if i % 2 else D("0.45"))
    assert r.assess(20.0).spread_multiplier == D("2.5")


def test_a_jump_pulls_both_sides_for_the_cool_down() -> None:
    r = regime(
        jump_enabled=True,
        jump_threshold=D("0.03"),
        jump_window_s=5,
        jump_cooldown_s=15,
        trend_enabled=False,
        vol_enabled=False,
    )
    r.observe_mid(0.0, D("0.50"))
    r.observe_mid(2.0, D("0.54"))
    during = r.assess(10.0)
    assert {side for side, _ in during.blocked} == {"bid", "ask"}
    assert "jump" in during.blocked[0][1]
    assert r.assess(17.5).blocked == ()


def test_a_slow_move_is_not_a_jump() -> None:
    r = regime(
        jump_enabled=True, jump_threshold=D("0.03"), jump_window_s=5, trend_enabled=False, vol_enabled=False
    )
    for i in range(10):
        r.observe_mid(float(i * 3), D("0.50") + D("0.01") * i)  # 4c over 27 s
    assert r.assess(28.0).blocked == ()


@pytest.mark.parametrize(
    ("start", "end", "blocked_side"), [("0.40", "0.45", "ask"), ("0.60", "0.55", "bid")], ids=["up", "down"]
)
def test_a_trend_blocks_the_side_that_trades_against_it(start: str, end: str, blocked_side: str) -> None:
    r = regime(trend_threshold=D("0.04"), trend_window_s=60, jump_enabled=False, vol_enabled=False)
    a, b = D(start), D(end)
    for i in range(11):
        r.observe_mid(float(i * 6), a + (b - a) * i / 10)
    view = r.assess(60.0)
    assert [side for side, _ in view.blocked] == [blocked_side]
    assert "trend" in view.blocked[0][1]


def test_after_a_fill_that_side_waits_for_its_cool_down() -> None:
    r = regime(fill_cooldown_s=3, jump_enabled=False, trend_enabled=False, vol_enabled=False)
    r.observe_mid(0.0, D("0.5"))
    r.observe_fill(1.0, "bid")
    assert [side for side, _ in r.assess(2.0).blocked] == ["bid"]
    assert r.assess(4.5).blocked == ()


def test_every_rule_can_be_turned_off() -> None:
    r = MarketRegime(RegimeParams.off())
    r.observe_mid(0.0, D("0.30"))
    r.observe_fill(0.0, "ask")
    r.observe_mid(1.0, D("0.60"))
    view = r.assess(1.5)
    assert view.spread_multiplier == 1 and view.blocked == ()


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="max_widen"):
        RegimeParams(max_widen=0.5)
    with pytest.raises(ValueError, match="thresholds"):
        RegimeParams(jump_threshold=D(0))
