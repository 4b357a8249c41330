"""Read-only Polygon reads for `polymm doctor`: chain id, code, POL, pUSD and the trading approvals.

web3.py's async client over one JSON-RPC URL, with the addresses, ABIs and approvals of
`contracts.py`. Never signs or sends anything; amounts are base units (wei for POL, 6 decimals for
pUSD). A failed read raises `VenueError` naming the call (the RPC URL is never put in a message:
providers put API keys in it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import Web3Exception

from polymm_cli.errors import VenueError, describe
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.chain import rpc_secret_parts

T = TypeVar("T")


class PolygonReads:
    """The `services.doctor.WalletReads` port over web3 (close it with `close()`)."""

    def __init__(self, rpc_url: str, timeout_s: float = 5.0) -> None:
        self._secret_parts = rpc_secret_parts(rpc_url)
        self._w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self._pusd = self._w3.eth.contract(address=to_checksum_address(c.PUSD), abi=c.ERC20_ABI)
        self._ctf = self._w3.eth.contract(address=to_checksum_address(c.CTF), abi=c.CTF_ABI)

    async def _read(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except (Web3Exception, OSError, ValueError) as exc:
            raise VenueError(f"{what}: {self._scrub(describe(exc, 160))}") from None
        except Exception as exc:  # aiohttp's errors are not OSErrors; one line, never the URL
            raise VenueError(f"{what}: {type(exc).__name__}") from None

    def _scrub(self, text: str) -> str:
        """A message without the RPC URL's path, query or credentials (an HTTP error may quote them)."""
        for part in self._secret_parts:
            text = text.replace(part, "…")
        return text

    async def chain_id(self) -> int:
        return int(await self._read("eth_chainId", self._w3.eth.chain_id))

    async def code(self, address: str) -> bytes:
        return bytes(await self._read("eth_getCode", self._w3.eth.get_code(to_checksum_address(address))))

    async def native_balance(self, address: str) -> int:
        return int(await self._read("eth_getBalance", self._w3.eth.get_balance(to_checksum_address(address))))

    async def pusd_balance(self, owner: str) -> int:
        call = self._pusd.functions.balanceOf(to_checksum_address(owner)).call()
        return int(await self._read("pUSD balanceOf", call))

    async def approvals(self, owner: str) -> list[tuple[c.Approval, int | bool]]:
        """Each approval of `contracts.TRADING_APPROVALS` with what the chain says of it: the pUSD
        allowance (base units) or whether the CTF operator is approved."""
        holder = to_checksum_address(owner)

        async def read(approval: c.Approval) -> int | bool:
            if approval.kind == "erc20":
                call: Any = self._pusd.functions.allowance(holder, approval.spender).call()
                return int(await self._read("pUSD allowance", call))
            call = self._ctf.functions.isApprovedForAll(holder, approval.spender).call()
            return bool(await self._read("CTF isApprovedForAll", call))

        values = await asyncio.gather(*(read(a) for a in c.TRADING_APPROVALS))
        return list(zip(c.TRADING_APPROVALS, values, strict=True))

    async def close(self) -> None:
        await self._w3.provider.disconnect()
