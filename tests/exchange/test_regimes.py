"""The named regimes of the synthetic flow: the interface others build on, and what each preset is."""

from __future__ import annotations

import dataclasses

import pytest

from polymm_cli.errors import ConfigError
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.regimes import DEFAULT_REGIME, NATURAL_MARKET, REGIMES, flow_for
from polymm_cli.services.venues import in_process_flow
from polymm_cli.settings import load_settings


def test_the_four_regimes_and_the_default() -> None:
    assert list(REGIMES) == ["quiet", "active", "in-play", "crypto-short"]
    assert DEFAULT_REGIME == "active"
    assert all(isinstance(c, FlowConfig) for c in REGIMES.values())
    slugs = {m.slug for m in sample_markets()}
    assert set(NATURAL_MARKET) == set(REGIMES) and set(NATURAL_MARKET.values()) <= slugs


def test_regimes_differ_where_real_markets_do() -> None:
    quiet, active, in_play, crypto = (REGIMES[n] for n in REGIMES)
    assert quiet.fair_vol < active.fair_vol < in_play.fair_vol  # 0.26 c to 13.6 c over 5 minutes
    assert crypto.taker_rate_per_min > 10 * active.taker_rate_per_min > 10 * quiet.taker_rate_per_min
    assert crypto.taker_size_median < in_play.taker_size_median < active.taker_size_median
    assert quiet.maker_level_size > 3 * max(c.maker_level_size for c in (active, in_play, crypto))  # deep
    assert min(in_play.maker_spread) >= 0.02  # two-tick spreads in play


def test_flow_for_returns_the_preset_or_a_busier_or_thinner_copy() -> None:
    assert flow_for("quiet") is REGIMES["quiet"]
    busy = flow_for("active", taker_rate_per_min=60.0, depth=5.0)
    assert busy.taker_rate_per_min == 60.0 and busy.maker_level_size == 5.0
    unchanged = {"taker_rate_per_min", "maker_level_size"}
    for f in dataclasses.fields(FlowConfig):
        if f.name not in unchanged:
            assert getattr(busy, f.name) == getattr(REGIMES["active"], f.name), f.name


def test_a_bad_regime_or_rate_is_refused_with_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"^unknown regime 'x': choose quiet, active, in-play or crypto-short$"
    ):
        flow_for("x")
    with pytest.raises(ConfigError, match="taker rate"):
        flow_for("active", taker_rate_per_min=0.0)
    with pytest.raises(ConfigError, match="depth"):
        flow_for("active", depth=float("nan"))


def test_the_in_process_exchange_of_run_uses_the_configured_regime_and_overrides() -> None:
    assert in_process_flow(load_settings()) is REGIMES["active"]
    assert in_process_flow(load_settings(exchange_regime="in-play")) is REGIMES["in-play"]
    busy = in_process_flow(
        load_settings(exchange_regime="quiet", exchange_taker_rate=30.0, exchange_maker_depth=10.0)
    )
    assert (busy.taker_rate_per_min, busy.maker_level_size) == (30.0, 10.0)
    assert busy.fair_vol == REGIMES["quiet"].fair_vol
    with pytest.raises(ConfigError, match="POLYMM_EXCHANGE_REGIME"):
        load_settings(exchange_regime="frantic")
