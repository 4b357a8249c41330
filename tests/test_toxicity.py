"""Toxicity from our own fills' markouts: a side run over is widened, then pulled, and recovers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from polymm_cli.regime import MarketRegime, RegimeParams
from polymm_cli.toxicity import FillToxicity, ToxicityParams


def toxicity(**overrides: float) -> FillToxicity:
    params = {"horizon_s": 5.0, "halflife_s": 60.0, "min_fills": 2.0, "widen_at": 0.8, "pull_at": 1.5}
    params.update(overrides)
    return FillToxicity(ToxicityParams(**params))  # type: ignore[arg-type]


def bid_fill_then_mid(
    tox: FillToxicity, t: float, after: str, mid: str = "0.50", price: str = "0.49"
) -> None:
    """Mid `mid`, our bid fills at `price`, and `horizon` later the mid is `after`."""
    tox.observe_mid(t, D(mid))
    tox.observe_fill(t + 0.1, "bid", D(price), D(10))
    tox.observe_mid(t + 5.2, D(after))


def test_benign_fills_change_nothing() -> None:
    tox = toxicity()
    for i in range(6):  # the mid comes back to 0.50 after each fill: no move against us
        bid_fill_then_mid(tox, i * 10.0, after="0.50")
    bid = tox.side("bid", 60.0)
    assert bid.toxicity == 0 and bid.widen == 1 and bid.pulled == "" and bid.note == ""
    assert bid.fills == pytest.approx(6 * 0.5 ** (27 / 60), rel=0.2)  # evidence, fading


def test_adverse_markouts_widen_the_side_that_was_run_over_and_only_it() -> None:
    tox = toxicity(pull_at=5.0)
    for i in range(4):  # the mid falls 1c after each bid fill: the whole 1c edge is lost (toxicity 1)
        bid_fill_then_mid(tox, i * 10.0, after="0.49")
    bid, ask = tox.side("bid", 40.0), tox.side("ask", 40.0)
    assert bid.toxicity == pytest.approx(1.0)
    assert bid.widen == pytest.approx(1.0 / 0.8)
    assert "toxic flow: bid fills lost 1.00x their edge" in bid.note
    assert bid.adverse == pytest.approx(0.01) and bid.edge == pytest.approx(0.01)
    assert bid.fill_rate > 0
    assert ask.widen == 1 and ask.fills == 0


def test_the_maker_rebate_is_part_of_the_edge() -> None:
    """On a fee-enabled market a fill that loses its whole spread edge to the mid's run still earns
    the rebate: judged without it, a side that makes money would be widened away from its flow."""
    plain, rebated = toxicity(pull_at=5.0), toxicity(pull_at=5.0)
    for i in range(4):  # the mid falls 1c after each bid fill at 1c from the mid
        bid_fill_then_mid(plain, i * 10.0, after="0.49")
        rebated.observe_mid(i * 10.0, D("0.50"))
        rebated.observe_fill(i * 10.0 + 0.1, "bid", D("0.49"), D(10), rebate=D("0.01"))
        rebated.observe_mid(i * 10.0 + 5.2, D("0.49"))
    bid = rebated.side("bid", 40.0)
    assert bid.edge == pytest.approx(0.02) and bid.adverse == pytest.approx(0.01)
    assert bid.toxicity == pytest.approx(0.5) and bid.widen == 1 and bid.note == ""
    assert plain.side("bid", 40.0).widen > 1  # the same fills without the rebate: widened


def test_an_ask_fill_s_rebate_raises_what_it_got() -> None:
    tox = toxicity()
    tox.observe_mid(0.0, D("0.50"))
    tox.observe_fill(0.1, "ask", D("0.51"), D(10), rebate=D("0.004"))
    tox.observe_mid(5.2, D("0.50"))
    assert tox.side("ask", 5.2).edge == pytest.approx(0.014)


def test_too_few_fills_are_not_judged() -> None:
    tox = toxicity(pull_at=5.0)
    for i in range(1):  # one run-over fill: below min_fills 2
        bid_fill_then_mid(tox, i * 10.0, after="0.48")
    assert tox.side("bid", 20.0).widen == 1


def test_past_the_second_threshold_the_side_is_pulled_for_a_while_then_recovers() -> None:
    tox = toxicity(pull_s=30.0)
    for i in range(4):  # the mid falls 2c after each fill: toxicity 2 >= 1.5
        bid_fill_then_mid(tox, i * 10.0, after="0.48")
    last_markout = 35.2
    assert "bid pulled for 30s" in tox.side("bid", last_markout + 1).pulled
    after_pull = tox.side("bid", last_markout + 31)
    assert after_pull.pulled == ""  # the pull is over, the side is back, still wide
    assert after_pull.widen == pytest.approx(min(3.0, 2.0 / 0.8))
    # no new fill runs it over: the evidence fades below min_fills and the widening ends too
    assert tox.side("bid", last_markout + 200).widen == 1


def test_benign_fills_bring_a_widened_side_back() -> None:
    tox = toxicity(pull_at=5.0)
    for i in range(3):
        bid_fill_then_mid(tox, i * 10.0, after="0.49")
    assert tox.side("bid", 30.0).widen > 1
    for i in range(3, 12):  # the mid stays after every later fill
        bid_fill_then_mid(tox, i * 10.0, after="0.50")
    assert tox.side("bid", 120.0).widen == 1


def test_the_ask_is_marked_out_in_its_own_direction() -> None:
    tox = toxicity(pull_at=5.0)
    for i in range(3):  # our ask sold at 0.51 and the mid rose 1c: run over
        tox.observe_mid(i * 10.0, D("0.50"))
        tox.observe_fill(i * 10.0 + 0.1, "ask", D("0.51"), D(10))
        tox.observe_mid(i * 10.0 + 5.2, D("0.51"))
    assert tox.side("ask", 30.0).toxicity == pytest.approx(1.0)
    assert tox.side("bid", 30.0).fills == 0


def test_a_fill_is_marked_out_only_once_its_horizon_has_passed() -> None:
    tox = toxicity()
    tox.observe_mid(0.0, D("0.50"))
    tox.observe_fill(0.1, "bid", D("0.49"), D(10))
    tox.observe_mid(3.0, D("0.40"))  # before the horizon: not a markout
    assert not tox.fills_seen
    tox.observe_mid(5.1, D("0.50"))
    assert tox.fills_seen and tox.side("bid", 5.1).toxicity == 0


def test_off_measures_nothing() -> None:
    tox = toxicity(pull_s=30.0)
    off = FillToxicity(ToxicityParams(enabled=False))
    for t in (tox, off):
        for i in range(5):
            bid_fill_then_mid(t, i * 10.0, after="0.45")
    assert tox.side("bid", 50.0).pulled
    assert not off.fills_seen and off.side("bid", 50.0).pulled == ""


@pytest.mark.parametrize(
    "bad",
    [{"horizon_s": 0.0}, {"widen_at": 2.0, "pull_at": 1.0}, {"max_widen": 0.5}, {"min_fills": -1.0}],
)
def test_bad_params_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ToxicityParams(**bad)  # type: ignore[arg-type]


def test_the_regime_reports_a_toxic_side_as_pulled_and_both_sides() -> None:
    regime = MarketRegime(RegimeParams(vol_enabled=False, jump_enabled=False, trend_enabled=False))
    for i in range(4):
        regime.observe_mid(i * 10.0, D("0.50"))
        regime.observe_fill(i * 10.0 + 0.1, "bid", D("0.49"), D(10))
        regime.observe_mid(i * 10.0 + 5.2, D("0.47"))
        regime.observe_mid(i * 10.0 + 5.3, D("0.50"))  # back: the jump rule is off anyway
    view = regime.assess(36.0)
    assert view.blocked == ()  # the quoter pulls: it knows whether the side reduces exposure
    assert view.toxic is not None
    assert "toxic flow" in view.toxic[0].pulled and not view.toxic[1].pulled


def test_the_seed_design_measures_no_toxicity() -> None:
    regime = MarketRegime(RegimeParams.off())
    regime.observe_mid(0.0, D("0.50"))
    regime.observe_fill(0.1, "bid", D("0.49"), D(10))
    regime.observe_mid(6.0, D("0.40"))
    assert regime.assess(6.0).toxic is None


def test_the_settings_reach_the_rules_and_out_of_order_thresholds_are_one_line() -> None:
    from polymm_cli.errors import UsageError
    from polymm_cli.services.trading import engine_config
    from polymm_cli.settings import load_settings

    config = engine_config(
        load_settings(toxicity_horizon=10.0, toxicity_pull_at=2.5, skew_gamma=D("0.2"), reward_gate=False)
    )
    assert (config.regime.toxicity.horizon_s, config.regime.toxicity.pull_at) == (10.0, 2.5)
    assert config.regime.toxicity.enabled
    assert (config.params.skew_gamma, config.params.reward_gate) == (D("0.2"), False)
    assert not engine_config(load_settings(toxicity_filter=False)).regime.toxicity.enabled
    with pytest.raises(UsageError, match="POLYMM_TOXICITY_WIDEN_AT <= POLYMM_TOXICITY_PULL_AT"):
        engine_config(load_settings(toxicity_widen_at=2.0, toxicity_pull_at=1.0))


def test_noisy_markouts_are_not_acted_on_until_they_are_clear() -> None:
    noisy, clear = toxicity(pull_at=5.0), toxicity(pull_at=5.0)
    # about the same mean run after a fill against a 1c edge, once from wild swings, once steady
    for i, after in enumerate(("0.45", "0.525", "0.45", "0.525")):
        bid_fill_then_mid(noisy, i * 10.0, after=after)
    for i in range(4):
        bid_fill_then_mid(clear, i * 10.0, after="0.4875")
    assert noisy.side("bid", 40.0).toxicity > 0.8 and clear.side("bid", 40.0).toxicity > 0.8  # both past
    assert noisy.side("bid", 40.0).widen == 1  # 5c swings either way: 4 fills say little
    assert clear.side("bid", 40.0).widen > 1


@pytest.mark.parametrize(("liquidity", "edge"), [("MAKER", 0.01 + 0.0034986), ("TAKER", 0.01)])
def test_the_engine_marks_out_a_maker_fill_with_the_market_s_rebate(liquidity: str, edge: float) -> None:
    """The engine hands the regime what a maker fill earns a share on the fee-enabled crypto market
    (feeSchedule rebate rate 0.20 x taker fee 0.07 x p(1 - p): 0.0034986 at 0.49); a taker fill earns none."""
    from polymm_cli.engine.loop import _observe_fill
    from polymm_cli.exchange.markets import sample_markets
    from polymm_cli.model import Side
    from polymm_cli.venues.base import Fill

    market = next(m for m in sample_markets() if m.maker_rebate_rate)
    regime = MarketRegime(RegimeParams(toxicity=ToxicityParams(horizon_s=5.0)))
    regime.observe_mid(0.0, D("0.50"))
    fill = Fill(
        trade_id="t1",
        order_id="o1",
        token_id=market.no_token,  # SELL NO at 0.51 = the YES bid at 0.49
        side=Side.SELL,
        price=D("0.51"),
        size=D(10),
        fee_rate_bps=D(0),
        liquidity=liquidity,  # type: ignore[arg-type]
    )
    _observe_fill(regime, market, fill, 0.1)
    regime.observe_mid(5.2, D("0.50"))
    assert regime.assess(5.2).toxic is not None
    bid = regime.assess(5.2).toxic[0]  # type: ignore[index]
    assert bid.edge == pytest.approx(edge, abs=1e-6)
