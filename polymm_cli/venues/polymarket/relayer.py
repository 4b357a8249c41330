"""Proxy and Safe wallets on Polygon: split, merge and redeem through Polymarket's relayer.

A Polymarket proxy wallet (signature type 1) or Gnosis Safe (type 2) holds the funds in a contract
wallet, so the calls must be executed BY that wallet: polymm builds them (the adapter approval, idempotent,
then the adapter's splitPosition / mergePositions / redeemPositions, docs/protocol.md §12.4), and the
official relayer client (`py-builder-relayer-client`) wraps them (the proxy factory's
`proxy((uint8,address,uint256,bytes)[])`, or a Safe `multiSend`), signs them with the owner key and
submits them gasless with the builder API credentials (`POLY_BUILDER_*` headers). polymm then polls
the relayer until the transaction is mined (or failed), without blocking the event loop: the client
is synchronous and runs in a worker thread.

Balances are read from the contracts for the contract wallet (the funder) over the same RPC as an
EOA's. Deposit wallets (type 3) need the relayer's WALLET batch with a deadline and are not driven.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from py_builder_relayer_client.client import RelayClient
from py_builder_relayer_client.exceptions import RelayerClientException
from py_builder_relayer_client.models import RelayerTxType, Transaction
from py_builder_signing_sdk.config import BuilderConfig
from py_builder_signing_sdk.sdk_types import BuilderApiKeyCreds
from pydantic import SecretStr
from web3 import Web3

from polymm_cli.errors import UsageError, VenueError
from polymm_cli.model import Market, decimal_str
from polymm_cli.venues.base import Balances, ChainResult, pair_result
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.polygon import positive_units
from polymm_cli.venues.polymarket.polygon_reads import PolygonReader, checksum
from polymm_cli.venues.polymarket.wallets import expected_wallets

Operation = Literal["split", "merge", "redeem"]
DONE_STATES = frozenset({"STATE_MINED", "STATE_CONFIRMED"})
FAILED_STATES = frozenset({"STATE_FAILED", "STATE_INVALID"})
_ENCODER = Web3()  # no provider: only encodes calldata


def adapter_calls(market: Market, operation: Operation, units: int) -> list[Transaction]:
    """The calls a contract wallet makes for one operation: the approval the adapter needs (set again
    when already set: harmless, and no read is needed), then the operation on the market's adapter."""
    adapter = c.collateral_adapter(market.neg_risk)
    if operation == "split":
        token = _ENCODER.eth.contract(address=checksum(c.PUSD), abi=c.ERC20_ABI)
        approve = token.encode_abi("approve", args=[checksum(adapter), c.MAX_UINT256])
        approval = Transaction(to=c.PUSD, data=approve, value="0")
    else:
        ctf = _ENCODER.eth.contract(address=checksum(c.CTF), abi=c.CTF_ABI)
        approve = ctf.encode_abi("setApprovalForAll", args=[checksum(adapter), True])
        approval = Transaction(to=c.CTF, data=approve, value="0")
    contract = _ENCODER.eth.contract(address=checksum(adapter), abi=c.COLLATERAL_ADAPTER_ABI)
    condition = bytes.fromhex(market.condition_id.removeprefix("0x"))
    partition = list(c.BINARY_PARTITION)
    if operation == "redeem":
        data = contract.encode_abi(
            "redeemPositions", args=[checksum(c.PUSD), bytes(32), condition, partition]
        )
    else:
        name = "splitPosition" if operation == "split" else "mergePositions"
        data = contract.encode_abi(name, args=[checksum(c.PUSD), bytes(32), condition, partition, units])
    return [approval, Transaction(to=adapter, data=data, value="0")]


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayerConfig:
    """The relayer, the owner key, the builder credentials and the wallet the key owns."""

    relayer_url: str
    rpc_url: str
    private_key: SecretStr
    signature_type: int  # 1 proxy, 2 Safe
    funder: str | None  # the contract wallet; None: the one the key derives
    builder_api_key: str
    builder_secret: SecretStr
    builder_passphrase: SecretStr
    timeout_s: float = 120.0
    poll_s: float = 2.0


def relay_client(config: RelayerConfig) -> RelayClient:
    """The official client for this wallet: PROXY transactions for type 1, SAFE for type 2."""
    if config.signature_type not in (1, 2):
        raise UsageError(
            f"signature type {config.signature_type}: polymm drives the relayer for proxy (1) and Safe (2)"
            " wallets only; do it in the Polymarket UI"
        )
    creds = BuilderApiKeyCreds(
        key=config.builder_api_key,
        secret=config.builder_secret.get_secret_value(),
        passphrase=config.builder_passphrase.get_secret_value(),
    )
    try:
        builder = BuilderConfig(local_builder_creds=creds)
    except ValueError:
        raise UsageError("the builder API credentials (POLYMM_BUILDER_*) are not valid") from None
    return RelayClient(
        config.relayer_url,
        c.POLYGON_CHAIN_ID,
        config.private_key.get_secret_value(),
        builder,
        relay_tx_type=RelayerTxType.PROXY if config.signature_type == 1 else RelayerTxType.SAFE,
        rpc_url=config.rpc_url,
    )


def check_funder(owner: str, signature_type: int, funder: str | None) -> str:
    """The proxy (1) or Safe (2) wallet `owner` controls (`wallets.expected_wallets`: the factories'
    CREATE2 derivation, no network); UsageError when `funder` is set and is not it."""
    derived = expected_wallets(owner)
    wallet = derived.proxy if signature_type == 1 else derived.safe
    if funder and funder.lower() != wallet.lower():
        raise UsageError(
            f"POLYMM_FUNDER {funder} is not the {_kind(signature_type)} of this key ({wallet}):"
            " check the funder and the signature type"
        )
    return wallet


class RelayerChain:
    """Split, merge and redeem for a proxy or Safe wallet, through the relayer."""

    def __init__(self, config: RelayerConfig, client: RelayClient | None = None) -> None:
        self.config = config
        self.client = client or relay_client(config)
        self.wallet = check_funder(str(self.client.signer.address()), config.signature_type, config.funder)
        self.reader = PolygonReader(config.rpc_url)

    async def close(self) -> None:
        await self.reader.close()

    async def holdings(self, market: Market) -> Balances:
        return await self.reader.holdings(market, self.wallet)

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        units = positive_units(amount)
        held = await self.holdings(market)
        if held.collateral < amount:
            raise VenueError(
                f"not enough pUSD to split {decimal_str(amount)}: the wallet {self.wallet} has "
                f"{decimal_str(held.collateral)}"
            )
        tx_hash = await self.execute("split", adapter_calls(market, "split", units))
        return pair_result("split", amount, tx_hash)

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        units = positive_units(amount)
        held = await self.holdings(market)
        pairs = min(held.tokens[market.yes_token], held.tokens[market.no_token])
        if pairs < amount:
            raise VenueError(
                f"not enough YES+NO pairs to merge {decimal_str(amount)}: the wallet holds "
                f"{decimal_str(pairs)}"
            )
        tx_hash = await self.execute("merge", adapter_calls(market, "merge", units))
        return pair_result("merge", amount, tx_hash)

    async def redeem(self, market: Market) -> ChainResult:
        before = await self.holdings(market)
        tx_hash = await self.execute("redeem", adapter_calls(market, "redeem", 0))
        after = await self.holdings(market)
        return ChainResult(
            tx_hash=tx_hash,
            collateral_delta=after.collateral - before.collateral,
            yes_delta=-before.tokens[market.yes_token],
            no_delta=-before.tokens[market.no_token],
        )

    async def execute(self, what: str, calls: list[Transaction]) -> str:
        """Submit the calls as one relayer transaction and wait until it is mined: its hash."""
        try:
            response = await asyncio.to_thread(self.client.execute, calls, f"polymm {what}")
        except RelayerClientException as exc:
            raise VenueError(f"relayer refused the {what}: {_line(exc)}") from None
        except Exception as exc:  # requests' errors and the like: the relayer, not polymm
            raise VenueError(f"relayer unreachable ({what}): {type(exc).__name__}") from None
        return await self._wait(what, str(response.transaction_id), response.transaction_hash)

    async def _wait(self, what: str, transaction_id: str, tx_hash: str | None) -> str:
        deadline = asyncio.get_running_loop().time() + self.config.timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                found = await asyncio.to_thread(self.client.get_transaction, transaction_id)
            except Exception:  # a poll that fails is retried until the deadline
                found = None
            txn = found[0] if isinstance(found, list) and found else {}
            state = str(txn.get("state", ""))
            tx_hash = txn.get("transactionHash") or tx_hash
            if state in DONE_STATES and tx_hash:
                return str(tx_hash)
            if state in FAILED_STATES:
                raise VenueError(f"{what} failed at the relayer ({state}, tx {tx_hash or 'none'})")
            await asyncio.sleep(self.config.poll_s)
        raise VenueError(
            f"{what}: relayer transaction {transaction_id} not mined within {self.config.timeout_s:g} s;"
            " check it before trying again (nothing was recorded)"
        )


def _kind(signature_type: int) -> str:
    return "Polymarket proxy" if signature_type == 1 else "Safe"


def _line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]
