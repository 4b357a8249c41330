"""PolygonChain in process: the pieces of the port that the subprocess tests do not reach (the fee
cap, merge and redeem refusals, the neg-risk adapter, the gas paid), and what needs no chain at all
(the ledger key of an on-chain flow, the wallet path, the RPC host shown in messages)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from polymm_cli.errors import UsageError, VenueError
from polymm_cli.exchange.markets import make_market
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FlowKind, Market
from polymm_cli.venues.base import Balances, ChainResult, chain_flow, pair_result
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.chain import (
    ClobRefreshing,
    LocalChain,
    PolygonChain,
    PolygonConfig,
    revert_reason,
    rpc_host,
    wallet_path,
)
from tests.chain.anvil import AnvilChain
from tests.chain.conftest import ChainMarket, market_for


def polygon(anvil: AnvilChain, key: str, **changes: Any) -> PolygonChain:
    return PolygonChain(PolygonConfig(rpc_url=anvil.url, private_key=SecretStr(key), poll_s=0.05, **changes))


def run(chain: PolygonChain, coro: Any) -> Any:
    async def go() -> Any:
        try:
            return await coro
        finally:
            await chain.close()

    return asyncio.run(go())


def test_a_fee_above_the_cap_is_refused_before_sending(anvil: AnvilChain, chain_market: ChainMarket) -> None:
    address, key = anvil.new_wallet("fee-cap", pusd=Decimal(10))
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", hex(800 * 10**9))
    anvil.rpc("evm_mine")
    chain = polygon(anvil, key, max_fee_gwei=Decimal(500))

    with pytest.raises(
        VenueError, match=r"gas too expensive: base fee 800 \+ tip .* above the cap of 500 gwei"
    ):
        run(chain, chain.split(chain_market.market, Decimal(5)))
    assert anvil.pusd_of(address) == Decimal(10)
    assert anvil.w3.eth.get_transaction_count(address) == 0  # not even the approval went out


def test_split_then_merge_on_the_neg_risk_adapter_pays_gas_once_per_approval(anvil: AnvilChain) -> None:
    condition = anvil.prepare_condition("neg risk?")
    market = market_for(condition, "neg-risk-market", neg_risk=True)
    address, key = anvil.new_wallet("neg-risk", pusd=Decimal(10))
    chain = polygon(anvil, key)

    async def go() -> tuple[ChainResult, ChainResult, ChainResult, Balances]:
        try:
            first = await chain.split(market, Decimal(4))
            second = await chain.split(market, Decimal(1))  # the allowance is there now
            merged = await chain.merge(market, Decimal(2))
            return first, second, merged, await chain.holdings(market)
        finally:
            await chain.close()

    first, second, merged, held = asyncio.run(go())
    allowance = anvil.pusd.functions.allowance(address, c.NEG_RISK_CTF_COLLATERAL_ADAPTER).call()
    assert allowance == c.MAX_UINT256
    assert anvil.ctf.functions.isApprovedForAll(address, c.NEG_RISK_CTF_COLLATERAL_ADAPTER).call()
    assert held == Balances(
        collateral=Decimal(7), tokens={market.yes_token: Decimal(3), market.no_token: Decimal(3)}
    )
    assert first.tx_hash and second.tx_hash and merged.tx_hash
    assert len({first.tx_hash, second.tx_hash, merged.tx_hash}) == 3
    assert first.gas_pol > second.gas_pol > 0  # the first split paid for the approval too
    assert anvil.w3.eth.get_transaction_count(address) == 5  # approve, split, split, setApprovalForAll, merge


def test_merge_and_redeem_refuse_what_the_wallet_cannot_do(
    anvil: AnvilChain, chain_market: ChainMarket
) -> None:
    _, key = anvil.new_wallet("refusals", pusd=Decimal(10))
    market = chain_market.market
    chain = polygon(anvil, key)

    async def go() -> list[str]:
        errors = []
        for call in (chain.merge(market, Decimal(1)), chain.redeem(market), chain.split(market, Decimal(11))):
            try:
                await call
            except VenueError as exc:
                errors.append(str(exc))
        await chain.close()
        return errors

    merge, redeem, split = asyncio.run(go())
    assert merge.startswith("not enough YES+NO pairs to merge 1")
    assert "is not resolved on chain yet" in redeem
    assert split.startswith("not enough pUSD to split 11")


def test_an_rpc_on_another_chain_is_refused(anvil: AnvilChain, chain_market: ChainMarket) -> None:
    _, key = anvil.new_wallet("chain-id")
    anvil.rpc("anvil_setChainId", 1)
    chain = polygon(anvil, key)
    with pytest.raises(VenueError, match=r"is chain 1, not Polygon \(137\)"):
        run(chain, chain.holdings(chain_market.market))


# -- no chain needed ---------------------------------------------------------------------------------


def test_an_on_chain_flow_is_keyed_by_its_transaction_and_recorded_once(tmp_path: Path) -> None:
    result = pair_result("split", Decimal(50), "0x" + "12" * 32)
    with Ledger.open(tmp_path, account=Account("polymarket", "0x" + "ab" * 20)) as ledger:
        first = ledger.record_flow(chain_flow(FlowKind.SPLIT, "0xcid", result, 1.0, note="polymm seed"))
        # the same transaction recorded again later (another process, a retry): nothing new
        again = ledger.record_flow(chain_flow(FlowKind.SPLIT, "0xcid", result, 2.0, note="polymm seed"))
        flows = ledger.flows()
    assert (first, again) == (True, False)
    assert [f.flow_id for f in flows] == [f"split:0xcid:tx:{result.tx_hash}"]
    assert flows[0].collateral_delta == Decimal(-50) and flows[0].yes_delta == flows[0].no_delta == Decimal(
        50
    )


def test_which_wallets_go_through_the_relayer() -> None:
    assert wallet_path(0) == "direct"
    assert [wallet_path(t) for t in (1, 2, 3)] == ["relayer"] * 3
    with pytest.raises(UsageError):
        wallet_path(4)


def test_messages_name_the_rpc_host_never_its_path_or_credentials() -> None:
    assert rpc_host("https://polygon-mainnet.g.alchemy.com/v2/SECRETKEY") == "polygon-mainnet.g.alchemy.com"
    assert rpc_host("https://user:pass@rpc.example:8545/x?key=1") == "rpc.example:8545"


def test_revert_reasons_lose_the_nodes_prefix() -> None:
    assert revert_reason(Exception("execution reverted: ERC20: insufficient allowance")) == (
        "ERC20: insufficient allowance"
    )
    assert revert_reason(Exception("execution reverted")) == "no reason given"


class _LocalVenue:
    """What LocalChain uses of the Polymarket adapter: balances and the loopback redeem."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    async def balances(self, token_ids: list[str]) -> Balances:
        return Balances(collateral=Decimal(5), tokens={token_ids[0]: Decimal(7), token_ids[1]: Decimal(2)})

    async def local_redeem(self, condition_id: str) -> object:
        return self.answer


def test_the_local_redeem_reads_the_payout_and_burns_what_was_held(chain_market: ChainMarket) -> None:
    market: Market = chain_market.market
    result = asyncio.run(LocalChain(_LocalVenue({"payout": "7"})).redeem(market))  # type: ignore[arg-type]
    assert result == ChainResult(
        tx_hash=None, collateral_delta=Decimal(7), yes_delta=Decimal(-7), no_delta=Decimal(-2)
    )
    with pytest.raises(VenueError, match="unexpected redeem answer"):
        asyncio.run(LocalChain(_LocalVenue({"paid": 7})).redeem(market))  # type: ignore[arg-type]


def test_an_rpc_error_never_shows_the_urls_path(anvil: AnvilChain, chain_market: ChainMarket) -> None:
    """An RPC URL often carries an API key in its path: a refusal names the host only."""
    _, key = anvil.new_wallet("url-key")
    url = f"{anvil.url}/v2/SECRET-API-KEY"  # Anvil answers on any path
    chain = PolygonChain(PolygonConfig(rpc_url=url, private_key=SecretStr(key), poll_s=0.05))

    async def go() -> str:
        try:
            await chain.reader.read("a call", chain.w3.eth.call({"to": c.CTF, "data": "0xdeadbeef"}))  # type: ignore[typeddict-item]
        except VenueError as exc:
            return str(exc)
        finally:
            await chain.close()
        return ""

    message = asyncio.run(go())
    assert message.startswith(f"Polygon RPC 127.0.0.1:{anvil.port}")
    assert "SECRET-API-KEY" not in message


def test_a_receipt_that_does_not_come_is_one_line_naming_the_transaction(
    anvil: AnvilChain, chain_market: ChainMarket
) -> None:
    _, key = anvil.new_wallet("stuck", pusd=Decimal(10))
    anvil.rpc("evm_setAutomine", False)  # the transaction waits in the pool, never mined
    chain = polygon(anvil, key, receipt_timeout_s=1.0)
    with pytest.raises(VenueError, match=r"tx 0x[0-9a-f]{64} not mined within 1 s; it may still be"):
        run(chain, chain.split(chain_market.market, Decimal(5)))


class _Inner:
    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        return pair_result("split", amount, "0x" + "ab" * 32)


class _Clob:
    def __init__(self, fail: bool) -> None:
        self.fail, self.refreshed = fail, []  # type: ignore[var-annotated]

    async def refresh_balances(self, token_ids: list[str]) -> None:
        self.refreshed.append(token_ids)
        if self.fail:
            raise VenueError("GET /balance-allowance/update failed: 503")


@pytest.mark.parametrize("fail", [False, True])
def test_after_an_operation_the_clob_is_asked_to_reread_and_its_failure_does_not_undo_it(fail: bool) -> None:
    market = make_market("refresh", "Refresh?", tick="0.01")
    clob = _Clob(fail)
    chain = ClobRefreshing(_Inner(), clob)  # type: ignore[arg-type]
    result = asyncio.run(chain.split(market, Decimal(3)))
    assert result.tx_hash == "0x" + "ab" * 32  # recorded by the caller even when the CLOB did not answer
    assert clob.refreshed == [[market.yes_token, market.no_token]]
