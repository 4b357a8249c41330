"""The chain fixture itself: Anvil answers as Polygon, the real CTF and the stand-ins sit at the real
addresses, and a split through the stand-in adapter mints the USDC.e positions the market names."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from polymm_cli.venues.polymarket import contracts as c
from tests.chain import anvil as anvil_module
from tests.chain.anvil import AnvilChain
from tests.chain.conftest import ChainMarket


def test_anvil_is_polygon_with_the_contracts_at_their_real_addresses(anvil: AnvilChain) -> None:
    assert anvil.w3.eth.chain_id == 137
    for address in (c.CTF, c.PUSD, c.USDC_E, c.CTF_COLLATERAL_ADAPTER, c.NEG_RISK_CTF_COLLATERAL_ADAPTER):
        assert len(anvil.w3.eth.get_code(address)) > 100, address


def test_the_condition_id_is_the_ctfs_derivation(anvil: AnvilChain, chain_market: ChainMarket) -> None:
    condition = chain_market.condition
    assert anvil.ctf.functions.getOutcomeSlotCount(condition.condition_id).call() == 2
    assert chain_market.market.condition_id == condition.condition_id
    assert chain_market.market.yes_token != chain_market.market.no_token


def test_a_split_through_the_adapter_gives_the_markets_positions(
    anvil: AnvilChain, chain_market: ChainMarket
) -> None:
    address, _ = anvil.new_wallet("fixture", pusd=Decimal(100))
    market = chain_market.market
    pusd = anvil.w3.eth.contract(address=c.PUSD, abi=c.ERC20_ABI)
    adapter = anvil.w3.eth.contract(address=c.CTF_COLLATERAL_ADAPTER, abi=c.COLLATERAL_ADAPTER_ABI)
    anvil.rpc("anvil_impersonateAccount", address)
    tx = pusd.functions.approve(c.CTF_COLLATERAL_ADAPTER, c.MAX_UINT256).transact({"from": address})
    anvil.w3.eth.wait_for_transaction_receipt(tx)
    split = adapter.functions.splitPosition(c.PUSD, bytes(32), market.condition_id, [1, 2], 30 * c.UNIT)
    anvil.w3.eth.wait_for_transaction_receipt(split.transact({"from": address}))

    assert anvil.pusd_of(address) == Decimal(70)
    assert anvil.shares_of(address, market.yes_token) == Decimal(30)
    assert anvil.shares_of(address, market.no_token) == Decimal(30)
    # the positions are USDC.e positions (the ones Polymarket trades), not pUSD ones
    collection = anvil.ctf.functions.getCollectionId(bytes(32), market.condition_id, 1).call()
    assert anvil.ctf.functions.getPositionId(c.PUSD, collection).call() != int(market.yes_token)
    assert Web3.is_checksum_address(address)


def test_without_npm_the_chain_tests_skip_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(anvil_module, "TOOLS", tmp_path / ".tools")
    monkeypatch.setattr(anvil_module, "CTF_ARTIFACT", tmp_path / "missing.json")
    monkeypatch.setattr(anvil_module.shutil, "which", lambda name: None)
    with pytest.raises(anvil_module.AnvilMissing, match="npm not found"):
        anvil_module.ensure_anvil()
