"""REST and Gamma bodies write numbers as the captured Polymarket payloads do: whole numbers as JSON
integers (`"minimum_order_size": 5`), fractions as floats (`"minimum_tick_size": 0.01`). The captures
are nautilus_trader's, in tests/fixtures (see its README)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from tests.conftest import fixture_path

FED = sample_markets()[0]  # min size 5, rewards min size 20


def whole_floats(value: Any, path: str = "") -> list[str]:
    """Paths of floats holding a whole number (`5.0`), which Polymarket never writes."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in whole_floats(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in whole_floats(v, f"{path}[{i}]")]
    return [path] if isinstance(value, float) and value.is_integer() else []


def numeric_keys(value: dict[str, Any]) -> set[str]:
    return {k for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def real_clob_markets() -> list[dict[str, Any]]:
    """11 of the 100 markets of a captured CLOB `/markets` page (the cut: tests/fixtures/README.md)."""
    path = fixture_path("05_rest_and_metadata/nautilus__clob_rest_markets_page_sample.json")
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["data"]
    return data


def real_gamma_market() -> dict[str, Any]:
    path = fixture_path("05_rest_and_metadata/nautilus__gamma_market_btc-updown-5m_2026-03-11.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_the_captures_write_whole_numbers_as_integers() -> None:
    """The evidence the tests below hold the exchange to."""
    assert whole_floats(real_clob_markets()) == [] and whole_floats(real_gamma_market()) == []
    assert type(real_clob_markets()[0]["minimum_order_size"]) is int
    assert type(real_gamma_market()["orderMinSize"]) is int


def test_clob_markets_write_sizes_as_integers_like_the_capture(quiet_exchange: ExchangeThread) -> None:
    ours = httpx.get(f"{quiet_exchange.url}/markets").json()["data"]
    fed = next(m for m in ours if m["condition_id"] == FED.condition_id)

    assert whole_floats(ours) == []
    assert (type(fed["minimum_order_size"]), fed["minimum_order_size"]) == (int, 5)
    assert (type(fed["rewards"]["min_size"]), fed["rewards"]["min_size"]) == (int, 20)
    real = real_clob_markets()[0]
    assert numeric_keys(fed) == numeric_keys(real)  # the same fields are numbers, not strings
    assert numeric_keys(fed["rewards"]) == numeric_keys(real["rewards"])


def test_gamma_markets_write_sizes_as_integers_like_the_capture(quiet_exchange: ExchangeThread) -> None:
    ours = httpx.get(f"{quiet_exchange.url}/gamma/markets").json()
    fed = next(m for m in ours if m["conditionId"] == FED.condition_id)

    assert whole_floats(ours) == []
    assert (type(fed["orderMinSize"]), fed["orderMinSize"]) == (int, 5)
    assert (type(fed["rewardsMinSize"]), fed["rewardsMinSize"]) == (int, 20)
    real = real_gamma_market()
    shared = fed.keys() & real.keys()
    assert numeric_keys(fed) & shared == numeric_keys(real) & shared  # the same fields are numbers


def test_market_parameters_and_rewards_write_whole_numbers_as_integers(
    quiet_exchange: ExchangeThread,
) -> None:
    params = httpx.get(f"{quiet_exchange.url}/clob-markets/{FED.condition_id}").json()
    rewards = httpx.get(f"{quiet_exchange.url}/rewards/markets/current").json()["data"]

    assert whole_floats(params) == [] and whole_floats(rewards) == []
    assert (type(params["mos"]), params["mos"]) == (int, 5)
