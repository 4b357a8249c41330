"""The Polygon chain port for an EOA wallet (signature type 0): web3 transactions through the pUSD
collateral adapters (what `chain.py` describes; loaded only when an on-chain command runs, since
importing web3 is slow). Its reads and its web3 client are `polygon_reads.PolygonReader`'s.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from eth_account import Account
from pydantic import SecretStr
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from polymm_cli import signing
from polymm_cli.errors import UsageError, VenueError
from polymm_cli.model import Market, decimal_str
from polymm_cli.venues.base import Balances, ChainResult, pair_result
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.chain import revert_reason
from polymm_cli.venues.polymarket.polygon_reads import PolygonReader, checksum

GWEI = 10**9
GAS_HEADROOM = Decimal("1.25")  # on the estimate: a state change between estimate and mining
TRANSFER_TOPIC = "0x" + signing.keccak256(b"Transfer(address,address,uint256)").hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class PolygonConfig:
    """What `PolygonChain` needs: the RPC, the EOA's key, the fee cap and the waits."""

    rpc_url: str
    private_key: SecretStr
    max_fee_gwei: Decimal = Decimal(500)
    approve: bool = True  # send a missing adapter approval (False: name it and stop)
    receipt_timeout_s: float = 120.0
    rpc_timeout_s: float = 15.0
    poll_s: float = 0.5


@dataclass(frozen=True, slots=True)
class Fees:
    max_fee: int  # wei per gas
    tip: int


class PolygonChain:
    """Split, merge and redeem for an EOA wallet (signature type 0), through the collateral adapters.

    Web3 is asynchronous here (AsyncWeb3 over aiohttp): nothing blocks the event loop. Transactions
    of one PolygonChain are sent one after the other (a lock), each with the pending nonce.
    """

    def __init__(self, config: PolygonConfig) -> None:
        self.config = config
        try:
            self.address = signing.address_from_private_key(config.private_key.get_secret_value())
        except ValueError:
            raise UsageError("POLYMM_PRIVATE_KEY is not a valid private key") from None
        self.reader = PolygonReader(config.rpc_url, config.rpc_timeout_s)
        self.host = self.reader.host
        self.w3 = self.reader.w3  # the reader's client sends the transactions too
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self.reader.close()

    async def holdings(self, market: Market) -> Balances:
        """pUSD and the market's YES and NO as the contracts hold them for this EOA."""
        return await self.reader.holdings(market, self.address)

    async def _pairs(self, market: Market) -> tuple[int, int]:
        """The market's YES and NO this EOA holds (base units)."""
        yes, no = await asyncio.gather(
            self.reader.shares(self.address, market.yes_token),
            self.reader.shares(self.address, market.no_token),
        )
        return yes, no

    # -- the three operations ---------------------------------------------------------------------

    def _adapter(self, market: Market) -> Any:
        return self.w3.eth.contract(
            address=checksum(c.collateral_adapter(market.neg_risk)), abi=c.COLLATERAL_ADAPTER_ABI
        )

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        units = positive_units(amount)
        async with self._lock:
            await self.reader.check_chain()
            have = await self.reader.pusd_balance(self.address)
            if have < units:
                raise VenueError(
                    f"not enough pUSD to split {decimal_str(amount)}: the wallet {self.address} has "
                    f"{decimal_str(c.from_base_units(have))}"
                )
            gas = await self._ensure_approval(market, "erc20", units)
            args = (c.PUSD, bytes(32), market.condition_id, list(c.BINARY_PARTITION), units)
            tx_hash, used = await self._transact(
                "split", self._adapter(market).functions.splitPosition(*args)
            )
        return replace(pair_result("split", amount, tx_hash), gas_pol=gas + used)

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        units = positive_units(amount)
        async with self._lock:
            await self.reader.check_chain()
            yes, no = await self._pairs(market)
            if min(yes, no) < units:
                raise VenueError(
                    f"not enough YES+NO pairs to merge {decimal_str(amount)}: the wallet holds "
                    f"{decimal_str(c.from_base_units(min(yes, no)))}"
                )
            gas = await self._ensure_approval(market, "erc1155", units)
            args = (c.PUSD, bytes(32), market.condition_id, list(c.BINARY_PARTITION), units)
            tx_hash, used = await self._transact(
                "merge", self._adapter(market).functions.mergePositions(*args)
            )
        return replace(pair_result("merge", amount, tx_hash), gas_pol=gas + used)

    async def redeem(self, market: Market) -> ChainResult:
        async with self._lock:
            await self.reader.check_chain()
            call = self.reader.ctf.functions.payoutDenominator(market.condition_id).call()
            if int(await self.reader.read("CTF payoutDenominator", call)) == 0:
                raise VenueError(
                    f"{market.slug or market.condition_id} is not resolved on chain yet: nothing to redeem"
                )
            # the tokens held (the service checked there are some): what the redeem burns
            yes, no = await self._pairs(market)
            gas = await self._ensure_approval(market, "erc1155", 0)
            fn = self._adapter(market).functions.redeemPositions(
                c.PUSD, bytes(32), market.condition_id, list(c.BINARY_PARTITION)
            )
            tx_hash, used, receipt = await self._transact_receipt("redeem", fn)
        return ChainResult(
            tx_hash=tx_hash,
            collateral_delta=c.from_base_units(self._pusd_received(receipt)),
            yes_delta=-c.from_base_units(yes),
            no_delta=-c.from_base_units(no),
            gas_pol=gas + used,
        )

    def _pusd_received(self, receipt: Any) -> int:
        """pUSD this wallet received in a transaction (its Transfer events to us, net of ours out)."""
        me = self.address.lower()
        received = 0
        for log in receipt["logs"]:
            topics = [bytes(t).hex().removeprefix("0x") for t in log["topics"]]
            if (
                log["address"].lower() != c.PUSD.lower()
                or len(topics) != 3
                or "0x" + topics[0] != TRANSFER_TOPIC
            ):
                continue
            value = int.from_bytes(bytes(log["data"]), "big")
            sender, recipient = ("0x" + t[-40:] for t in topics[1:])
            received += value if recipient == me else 0
            received -= value if sender == me else 0
        return received

    # -- approvals --------------------------------------------------------------------------------

    async def _ensure_approval(self, market: Market, kind: c.ApprovalKind, units: int) -> Decimal:
        """Make sure the market's adapter may take what the operation needs; POL spent on it."""
        erc20, erc1155 = c.adapter_approvals(market.neg_risk)
        approval = erc20 if kind == "erc20" else erc1155
        have = await self.reader.approval(self.address, approval)
        granted = have >= max(units, 1) if kind == "erc20" else bool(have)
        if granted:
            return Decimal(0)
        if not self.config.approve:
            raise VenueError(
                f"missing approval: {approval.token_name} for {approval.spender_name} ({approval.spender}),"
                f" needed for {approval.purpose}: run without --no-approve, or approve it in the"
                " Polymarket UI"
            )
        _, used = await self._transact(_approving(approval), self._approve_call(approval))
        return used

    def _approve_call(self, approval: c.Approval) -> Any:
        """The call that sets `approval`: pUSD `approve(spender, MAX)` or CTF `setApprovalForAll(spender,
        true)`."""
        spender = checksum(approval.spender)
        if approval.kind == "erc20":
            return self.reader.pusd.functions.approve(spender, c.MAX_UINT256)
        return self.reader.ctf.functions.setApprovalForAll(spender, True)

    # -- sending ----------------------------------------------------------------------------------

    async def _fees(self) -> Fees:
        """EIP-1559: max fee = 2 x base fee + tip, capped at `max_fee_gwei`; refused when the cap is
        below what the next block needs (base fee + tip)."""
        block = await self.reader.read("eth_getBlockByNumber", self.w3.eth.get_block("latest"))
        base = int(block.get("baseFeePerGas", 0))
        tip = int(await self.reader.read("eth_maxPriorityFeePerGas", self.w3.eth.max_priority_fee))
        cap = int(self.config.max_fee_gwei * GWEI)
        if base + tip > cap:
            raise VenueError(
                f"gas too expensive: base fee {_gwei(base)} + tip {_gwei(tip)} gwei is above the cap "
                f"of {_gwei(cap)} gwei (--max-fee-gwei, POLYMM_MAX_FEE_GWEI)"
            )
        return Fees(max_fee=min(2 * base + tip, cap), tip=min(tip, cap))

    async def _transact(self, what: str, fn: Any) -> tuple[str, Decimal]:
        tx_hash, used, _ = await self._transact_receipt(what, fn)
        return tx_hash, used

    async def _transact_receipt(self, what: str, fn: Any) -> tuple[str, Decimal, Any]:
        """Estimate, check the POL, sign, send and wait: (tx hash, POL paid, receipt)."""
        estimate = await self.reader.read(
            what, fn.estimate_gas({"from": self.address})
        )  # a revert shows here
        gas = int(Decimal(estimate) * GAS_HEADROOM)
        fees = await self._fees()
        pol = int(await self.reader.read("eth_getBalance", self.w3.eth.get_balance(checksum(self.address))))
        if pol < gas * fees.max_fee:
            raise VenueError(
                f"no POL for gas: {what} needs up to {_pol(gas * fees.max_fee)} POL ({gas} gas at "
                f"{_gwei(fees.max_fee)} gwei), the wallet {self.address} has {_pol(pol)} POL"
            )
        nonce = await self.reader.read(
            "eth_getTransactionCount", self.w3.eth.get_transaction_count(checksum(self.address), "pending")
        )
        tx = await self.reader.read(
            f"{what} (build)",
            fn.build_transaction(
                {
                    "from": self.address,
                    "gas": gas,
                    "nonce": nonce,
                    "maxFeePerGas": fees.max_fee,
                    "maxPriorityFeePerGas": fees.tip,
                    "chainId": c.POLYGON_CHAIN_ID,
                    "type": 2,
                }
            ),
        )
        signed = Account.sign_transaction(tx, self.config.private_key.get_secret_value())
        sent = await self.reader.read(
            f"{what} (send)", self.w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        tx_hash = "0x" + bytes(sent).hex().removeprefix("0x")
        receipt = await self._receipt(what, tx_hash)
        paid = Decimal(int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", fees.max_fee)))
        if int(receipt["status"]) != 1:
            reason = await self._replay_reason(tx, int(receipt["blockNumber"]))
            raise VenueError(f"{what} reverted on chain (tx {tx_hash}): {reason}")
        return tx_hash, paid / c.WEI_PER_POL, receipt

    async def _receipt(self, what: str, tx_hash: str) -> Any:
        try:
            return await self.w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=self.config.receipt_timeout_s,
                poll_latency=self.config.poll_s,
            )
        except TimeExhausted:
            raise VenueError(
                f"{what}: tx {tx_hash} not mined within {self.config.receipt_timeout_s:g} s; it may still be:"
                " check it on polygonscan before trying again (nothing was recorded)"
            ) from None
        except (OSError, TimeoutError, Web3Exception) as exc:
            raise VenueError(
                f"Polygon RPC {self.host} lost while waiting for {what} tx {tx_hash}: {type(exc).__name__}"
            ) from None

    async def _replay_reason(self, tx: Any, block: int) -> str:
        """Why a mined transaction reverted: the same call replayed at its block."""
        call = {k: tx[k] for k in ("from", "to", "data") if k in tx}
        try:
            await self.w3.eth.call(call, block)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return revert_reason(exc, self.config.rpc_url)
        except Exception:  # the replay is only for the message
            return "no reason given"
        return "no reason given"

    # -- one approval, asked for by name (`polymm doctor --fix-allowances`) -----------------------

    async def grant(self, approval: c.Approval) -> tuple[str, Decimal]:
        """Send one approval of `contracts.TRADING_APPROVALS` from this EOA (pUSD `approve(spender,
        MAX)` or CTF `setApprovalForAll(spender, true)`): (tx hash, POL paid)."""
        async with self._lock:
            await self.reader.check_chain()
            return await self._transact(_approving(approval), self._approve_call(approval))


def _approving(approval: c.Approval) -> str:
    return f"approve {approval.spender_name} on {approval.token_name}"


def positive_units(amount: Decimal) -> int:
    """`amount` pUSD (or shares) in base units; one line for a non-positive or over-precise amount."""
    if amount <= 0:
        raise VenueError(f"amount must be positive, got {amount}")
    try:
        return c.to_base_units(amount)
    except ValueError as exc:
        raise VenueError(str(exc)) from None


def _gwei(wei: int) -> str:
    return decimal_str((Decimal(wei) / GWEI).quantize(Decimal("0.001")).normalize())


def _pol(wei: int) -> str:
    return decimal_str((Decimal(wei) / c.WEI_PER_POL).quantize(Decimal("0.000001")).normalize())
