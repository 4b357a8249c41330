"""Proxy and Safe wallets: the relayer requests polymm makes, built by the official client
(`py-builder-relayer-client`) with its network calls replaced (nothing leaves the process). The
submitted body is decoded back into the calls polymm meant: the adapter approval, then the
adapter's splitPosition / mergePositions / redeemPositions for the market's condition."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from eth_abi import decode
from eth_account import Account
from eth_account.messages import encode_defunct
from py_builder_relayer_client.builder.proxy import create_proxy_struct_hash
from pydantic import SecretStr
from web3 import Web3

from polymm_cli.errors import UsageError, VenueError
from polymm_cli.exchange.markets import make_market
from polymm_cli.model import Market
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.relayer import RelayerChain, RelayerConfig, adapter_calls, relay_client
from tests.conftest import throwaway_key

KEY = throwaway_key("relayer-owner")
OWNER = Account.from_key(KEY).address
RELAY = "0x" + "42" * 20
MARKET = make_market("relayer-market", "Relayed?", tick="0.01")
NEG_RISK = make_market("relayer-neg-risk", "Relayed neg risk?", tick="0.01", neg_risk=True)
ADAPTER = Web3().eth.contract(abi=c.COLLATERAL_ADAPTER_ABI)
ERC20 = Web3().eth.contract(abi=c.ERC20_ABI)
CTF = Web3().eth.contract(abi=c.CTF_ABI)


def config(signature_type: int, **changes: Any) -> RelayerConfig:
    values: dict[str, Any] = {
        "relayer_url": "https://relayer.invalid",
        "rpc_url": "http://127.0.0.1:9",
        "private_key": SecretStr(KEY),
        "signature_type": signature_type,
        "funder": None,
        "builder_api_key": "builder-key",
        "builder_secret": SecretStr("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="),
        "builder_passphrase": SecretStr("passphrase"),
        "poll_s": 0.0,
        **changes,
    }
    return RelayerConfig(**values)


class OfflineRelayer:
    """Replaces the client's network calls; keeps what it was asked to submit."""

    def __init__(self, client: Any, states: list[str]) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.states = list(states)
        client.rpc_url = None  # the client's own gas estimate over RPC: its default limit instead
        client.get_relay_payload = lambda address, kind: {"nonce": "7", "address": RELAY}
        client.get_nonce = lambda address, kind: {"nonce": "3"}
        client.get_deployed = lambda address, kind=None: True
        client._post_request = self.post
        client.get_transaction = self.transaction

    def post(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert (method, path) == ("POST", "/submit")
        self.submitted.append(body)
        return {"transactionID": "relayer-tx-1", "transactionHash": "0x" + "99" * 32}

    def transaction(self, transaction_id: str) -> list[dict[str, Any]]:
        state = self.states.pop(0) if self.states else "STATE_MINED"
        return [{"state": state, "transactionHash": "0x" + "99" * 32, "transactionID": transaction_id}]


def relayed(signature_type: int, states: list[str] = ()) -> tuple[RelayerChain, OfflineRelayer]:  # type: ignore[assignment]
    cfg = config(signature_type)
    client = relay_client(cfg)
    offline = OfflineRelayer(client, states)
    return RelayerChain(cfg, client), offline


def run(chain: RelayerChain, operation: str, market: Market, units: int) -> str:
    async def go() -> str:
        try:
            return await chain.execute(operation, adapter_calls(market, operation, units))  # type: ignore[arg-type]
        finally:
            await chain.close()

    return asyncio.run(go())


def decode_call(contract: Any, data: bytes) -> tuple[str, dict[str, Any]]:
    fn, args = contract.decode_function_input(data)
    return fn.fn_name, dict(args)


def test_a_proxy_wallet_split_is_the_approval_then_the_adapter_call_wrapped_for_the_proxy_factory() -> None:
    chain, offline = relayed(1)
    tx_hash = run(chain, "split", MARKET, 50 * c.UNIT)

    assert tx_hash == "0x" + "99" * 32
    (body,) = offline.submitted
    assert body["type"] == "PROXY"
    assert body["from"] == OWNER
    assert body["to"] == c.PROXY_FACTORY
    assert body["proxyWallet"] == chain.wallet != OWNER
    assert body["nonce"] == "7" and body["signatureParams"]["relay"] == RELAY
    data = bytes.fromhex(body["data"].removeprefix("0x"))
    assert data[:4] == Web3.keccak(text="proxy((uint8,address,uint256,bytes)[])")[:4]
    (calls,) = decode(["(uint8,address,uint256,bytes)[]"], data[4:])
    (kind1, to1, value1, approve), (kind2, to2, value2, split) = calls
    assert (kind1, Web3.to_checksum_address(to1), value1) == (1, c.PUSD, 0)
    assert decode_call(ERC20, approve) == (
        "approve",
        {"spender": c.CTF_COLLATERAL_ADAPTER, "amount": c.MAX_UINT256},
    )
    assert (kind2, Web3.to_checksum_address(to2), value2) == (1, c.CTF_COLLATERAL_ADAPTER, 0)
    name, args = decode_call(ADAPTER, split)
    assert name == "splitPosition"
    assert args["collateralToken"] == c.PUSD and args["parentCollectionId"] == bytes(32)
    assert "0x" + args["conditionId"].hex() == MARKET.condition_id
    assert args["partition"] == [1, 2] and args["amount"] == 50 * c.UNIT
    # the owner signed exactly this request
    struct_hash = create_proxy_struct_hash(
        OWNER,
        c.PROXY_FACTORY,
        body["data"],
        "0",
        "0",
        body["signatureParams"]["gasLimit"],
        "7",
        body["signatureParams"]["relayHub"],
        RELAY,
    )
    signer = Account.recover_message(encode_defunct(hexstr=struct_hash), signature=body["signature"])
    assert signer == OWNER


def test_a_safe_merge_on_a_neg_risk_market_goes_to_its_adapter_in_one_multisend() -> None:
    chain, offline = relayed(2)
    run(chain, "merge", NEG_RISK, 20 * c.UNIT)

    (body,) = offline.submitted
    assert body["type"] == "SAFE"
    assert body["from"] == OWNER and body["proxyWallet"] == chain.wallet
    assert body["nonce"] == "3"
    approval, merge = adapter_calls(NEG_RISK, "merge", 20 * c.UNIT)
    assert decode_call(CTF, bytes.fromhex(approval.data[2:])) == (
        "setApprovalForAll",
        {"operator": c.NEG_RISK_CTF_COLLATERAL_ADAPTER, "approved": True},
    )
    assert merge.to == c.NEG_RISK_CTF_COLLATERAL_ADAPTER
    assert decode_call(ADAPTER, bytes.fromhex(merge.data[2:]))[0] == "mergePositions"
    # both calls, in order, inside the Safe's multiSend (a delegate call to the multisend contract)
    data = body["data"].lower()
    assert data.startswith("0x8d80ff0a")
    assert data.index(approval.data[2:].lower()) < data.index(merge.data[2:].lower())
    assert body["signatureParams"]["operation"] == "1"


def test_redeem_is_the_adapter_redeem_of_both_outcomes() -> None:
    approval, redeem = adapter_calls(MARKET, "redeem", 0)
    assert approval.to == c.CTF
    name, args = decode_call(ADAPTER, bytes.fromhex(redeem.data[2:]))
    assert name == "redeemPositions" and args["indexSets"] == [1, 2] and args["collateralToken"] == c.PUSD


def test_a_failed_relayer_transaction_is_one_line() -> None:
    chain, _ = relayed(1, ["STATE_NEW", "STATE_FAILED"])
    with pytest.raises(VenueError, match=r"split failed at the relayer \(STATE_FAILED"):
        run(chain, "split", MARKET, c.UNIT)


def test_a_funder_that_is_not_the_keys_wallet_is_refused() -> None:
    with pytest.raises(UsageError, match="is not the Polymarket proxy of this key"):
        RelayerChain(config(1, funder="0x" + "11" * 20))


@pytest.mark.parametrize("signature_type", [1, 2])
def test_the_wallet_checked_is_the_one_the_relayer_client_acts_for(signature_type: int) -> None:
    """The funder check derives with `wallets.expected_wallets`; the relayer client derives its own:
    the two must be the same wallet, or polymm would read one and the relayer move another."""
    client = relay_client(config(signature_type))
    acts_for = client.get_expected_proxy_wallet() if signature_type == 1 else client.get_expected_safe()
    chain = RelayerChain(config(signature_type), client)
    assert chain.wallet == acts_for
    asyncio.run(chain.close())


def test_deposit_wallets_and_eoas_are_not_relayed_here() -> None:
    for signature_type in (0, 3):
        with pytest.raises(UsageError, match="proxy \\(1\\) and Safe \\(2\\) wallets only"):
            relay_client(config(signature_type))


def test_the_wallets_amounts_are_checked_before_anything_is_submitted() -> None:
    chain, offline = relayed(1)

    async def go() -> None:
        async def empty(market: Market) -> Any:
            from polymm_cli.venues.base import Balances

            return Balances(
                collateral=Decimal(1), tokens={market.yes_token: Decimal(0), market.no_token: Decimal(0)}
            )

        chain.holdings = empty  # type: ignore[method-assign]
        try:
            with pytest.raises(VenueError, match="not enough pUSD to split 5"):
                await chain.split(MARKET, Decimal(5))
            with pytest.raises(VenueError, match="not enough YES\\+NO pairs to merge 1"):
                await chain.merge(MARKET, Decimal(1))
        finally:
            await chain.close()

    asyncio.run(go())
    assert offline.submitted == []


def test_a_relayed_wallet_without_builder_credentials_is_told_before_anything_is_sent() -> None:
    from polymm_cli.services.venues import check_chain_settings, polygon_chain
    from polymm_cli.settings import load_settings

    settings = load_settings(
        venue="polymarket", signature_type=2, rpc_url="http://127.0.0.1:9", private_key=SecretStr(KEY)
    )
    with pytest.raises(UsageError, match="POLYMM_BUILDER_API_KEY"):
        check_chain_settings(settings)
    with_creds = settings.model_copy(
        update={
            "builder_api_key": "k",
            "builder_secret": SecretStr("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="),
            "builder_passphrase": SecretStr("p"),
        }
    )
    check_chain_settings(with_creds)
    chain = polygon_chain(with_creds)
    assert isinstance(chain, RelayerChain) and chain.wallet != OWNER
    asyncio.run(chain.close())


def test_a_wrong_funder_stops_an_on_chain_command_but_never_opening_the_venue() -> None:
    """The kill switch opens the same chain port: a wrong funder must not fail it, only an
    on-chain command (before anything is sent)."""
    from polymm_cli.errors import VenueError as ChainRefused
    from polymm_cli.services.venues import check_chain_settings, polygon_chain
    from polymm_cli.settings import load_settings

    settings = load_settings(
        venue="polymarket",
        signature_type=1,
        rpc_url="http://127.0.0.1:9",
        private_key=SecretStr(KEY),
        funder="0x" + "11" * 20,
        builder_api_key="k",
        builder_secret=SecretStr("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="),
        builder_passphrase=SecretStr("p"),
    )
    with pytest.raises(UsageError, match="is not the Polymarket proxy of this key"):
        check_chain_settings(settings)
    chain = polygon_chain(settings)  # opening does not fail
    with pytest.raises(ChainRefused, match="is not the Polymarket proxy of this key"):
        asyncio.run(chain.split(MARKET, Decimal(1)))
