"""Fixtures of the chain tests: Anvil with Polymarket's contracts (tests/chain/anvil.py), a prepared
condition, and a local exchange listing that condition as a market (for `--venue polymarket`'s
market lookup). Every fixture stops what it started."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from polymm_cli.exchange.markets import make_market
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.model import Market
from tests.chain.anvil import AnvilChain, AnvilMissing, Condition, ensure_anvil
from tests.conftest import start_exchange


@pytest.fixture(scope="session")
def anvil_binary() -> object:
    try:
        return ensure_anvil()
    except AnvilMissing as why:
        pytest.skip(str(why))


@pytest.fixture
def anvil(anvil_binary: object) -> Iterator[AnvilChain]:
    """A fresh Anvil (chain id 137) on a free port with the CTF and the stand-ins placed."""
    chain = AnvilChain(anvil_binary)  # type: ignore[arg-type]
    yield chain
    chain.stop()


@dataclass(frozen=True)
class ChainMarket:
    """A binary condition prepared on Anvil and the market (model) whose ids are its ids."""

    condition: Condition
    market: Market


def market_for(condition: Condition, slug: str = "anvil-market", *, neg_risk: bool = False) -> Market:
    """A local-exchange market whose condition id and token ids are the chain's."""
    template = make_market(slug, f"Anvil question {slug}?", tick="0.01", neg_risk=neg_risk)
    return replace(
        template,
        condition_id=condition.condition_id,
        yes_token=condition.yes_token,
        no_token=condition.no_token,
    )


@pytest.fixture
def chain_market(anvil: AnvilChain) -> ChainMarket:
    """A prepared condition (oracle: `anvil.oracle`) and its market."""
    condition = anvil.prepare_condition("Will the chain test pass?")
    return ChainMarket(condition, market_for(condition))


@pytest.fixture
def chain_exchange(chain_market: ChainMarket) -> Iterator[ExchangeThread]:
    """A quiet local exchange that also lists `chain_market.market` (for the CLOB market lookup)."""
    server = start_exchange()
    server.call(server.server.exchange.add_market, chain_market.market)
    yield server
    server.stop()
