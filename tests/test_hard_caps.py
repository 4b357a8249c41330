"""Hard caps: none on the local exchange unless set, conservative ones on real funds unless set,
and what the user sets is always what is used."""

from __future__ import annotations

from decimal import Decimal as D

from polymm_cli.services.trading import engine_config
from polymm_cli.settings import LIVE_CAPS, HardCaps, load_settings


def test_the_local_exchange_has_no_cap_the_user_did_not_set() -> None:
    assert load_settings().hard_caps() == HardCaps(None, None, None)


def test_real_funds_get_the_conservative_caps_when_none_is_set() -> None:
    caps = load_settings(venue="polymarket").hard_caps()

    assert caps == LIVE_CAPS
    config = engine_config(load_settings(venue="polymarket"))
    assert (config.max_order_size, config.max_order_notional, config.caps.max_total_exposure) == (
        LIVE_CAPS.order_size,
        LIVE_CAPS.order_notional,
        LIVE_CAPS.total_exposure,
    )


def test_an_explicit_cap_is_used_as_set_even_when_looser_than_the_live_default() -> None:
    settings = load_settings(venue="polymarket", max_order_size=D("400"), max_order_notional=D("1000"))

    caps = settings.hard_caps()

    assert (caps.order_size, caps.order_notional) == (D("400"), D("1000"))
    assert caps.total_exposure == LIVE_CAPS.total_exposure


def test_paper_on_polymarket_gets_the_live_caps_and_paper_on_the_local_exchange_none() -> None:
    assert load_settings(venue="paper", paper_feed="polymarket").hard_caps() == LIVE_CAPS
    assert load_settings(venue="paper").hard_caps() == HardCaps(None, None, None)
    assert load_settings(venue="paper", paper_feed="http://127.0.0.1:9").hard_caps() == HardCaps(
        None, None, None
    )
