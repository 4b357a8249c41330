"""Polygon over one JSON-RPC URL, read-only: the one place polymm builds its web3 client.

`PolygonReader` holds web3.py's async client (AsyncWeb3 over aiohttp) and the pUSD and CTF contracts
of `contracts.py`, and reads what polymm needs: the chain id (and that it is Polygon's), code, POL,
pUSD and CTF balances, a wallet's holdings in a market, and the trading approvals. The chain port
(`polygon.py`, which also sends transactions with this client), the relayer's port (balances of the
contract wallet) and `polymm doctor` all read through it. Amounts are base units (wei for POL,
6 decimals for pUSD and shares).

Every failed call is one line (`VenueError`) naming the call and the RPC's host; the RPC URL's path,
query and credentials never appear (providers put API keys there; an error may quote them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from eth_typing import ChecksumAddress
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError, Web3Exception

from polymm_cli.errors import VenueError
from polymm_cli.model import Market
from polymm_cli.venues.base import Balances
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.chain import revert_reason, rpc_host, scrub_rpc

T = TypeVar("T")
NETWORK_MODULES = ("aiohttp", "web3", "requests")  # whose other errors mean the RPC, not polymm


def checksum(address: str) -> ChecksumAddress:
    return AsyncWeb3.to_checksum_address(address)


class PolygonReader:
    """Reads of Polygon through one web3 client (close it with `close()`)."""

    def __init__(self, rpc_url: str, timeout_s: float = 15.0) -> None:
        self._rpc_url = rpc_url  # for scrubbing messages only: never shown
        self.host = rpc_host(rpc_url)
        self.timeout_s = timeout_s
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self.pusd = self.w3.eth.contract(address=checksum(c.PUSD), abi=c.ERC20_ABI)
        self.ctf = self.w3.eth.contract(address=checksum(c.CTF), abi=c.CTF_ABI)
        self._checked_chain = False

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    async def read(self, what: str, call: Awaitable[T]) -> T:
        """One RPC call; what can go wrong becomes one line naming `what` and the RPC's host."""
        try:
            return await asyncio.wait_for(call, self.timeout_s)
        except ContractLogicError as exc:
            raise VenueError(f"{what} reverted: {revert_reason(exc, self._rpc_url)}") from None
        except (TimeoutError, OSError) as exc:
            raise VenueError(f"Polygon RPC {self.host} unreachable ({what}): {type(exc).__name__}") from None
        except Web3Exception as exc:
            raise VenueError(
                f"Polygon RPC {self.host} refused {what}: {revert_reason(exc, self._rpc_url)}"
            ) from None
        except Exception as exc:  # aiohttp's errors and the like: the RPC, not polymm
            if not type(exc).__module__.startswith(NETWORK_MODULES):  # polymm's own: one scrubbed line
                raise VenueError(
                    f"{what} failed ({type(exc).__name__}): {self._scrub(str(exc))[:160]}"
                ) from None
            status = getattr(exc, "status", None)  # an HTTP refusal (a bad API key: 401, 403)
            how = f"answered HTTP {status}" if isinstance(status, int) else "unreachable"
            raise VenueError(f"Polygon RPC {self.host} {how} ({what}): {type(exc).__name__}") from None

    def _scrub(self, text: str) -> str:
        return scrub_rpc(text, self._rpc_url)

    # -- the chain and the accounts ---------------------------------------------------------------

    async def chain_id(self) -> int:
        return int(await self.read("eth_chainId", self.w3.eth.chain_id))

    async def check_chain(self) -> None:
        """VenueError unless the RPC is Polygon's (asked once per reader)."""
        if self._checked_chain:
            return
        chain_id = await self.chain_id()
        if chain_id != c.POLYGON_CHAIN_ID:
            raise VenueError(f"the RPC {self.host} is chain {chain_id}, not Polygon ({c.POLYGON_CHAIN_ID})")
        self._checked_chain = True

    async def code(self, address: str) -> bytes:
        return bytes(await self.read("eth_getCode", self.w3.eth.get_code(checksum(address))))

    async def native_balance(self, address: str) -> int:
        return int(await self.read("eth_getBalance", self.w3.eth.get_balance(checksum(address))))

    # -- balances ---------------------------------------------------------------------------------

    async def pusd_balance(self, owner: str) -> int:
        call = self.pusd.functions.balanceOf(checksum(owner)).call()
        return int(await self.read("pUSD balanceOf", call))

    async def shares(self, owner: str, token_id: str) -> int:
        call = self.ctf.functions.balanceOf(checksum(owner), int(token_id)).call()
        return int(await self.read("CTF balanceOf", call))

    async def holdings(self, market: Market, owner: str) -> Balances:
        """pUSD and the market's YES and NO as the contracts hold them for `owner` (on Polygon)."""
        await self.check_chain()
        pusd, yes, no = await asyncio.gather(
            self.pusd_balance(owner),
            self.shares(owner, market.yes_token),
            self.shares(owner, market.no_token),
        )
        return Balances(
            collateral=c.from_base_units(pusd),
            tokens={market.yes_token: c.from_base_units(yes), market.no_token: c.from_base_units(no)},
        )

    # -- approvals --------------------------------------------------------------------------------

    async def pusd_allowance(self, owner: str, spender: str) -> int:
        call = self.pusd.functions.allowance(checksum(owner), checksum(spender)).call()
        return int(await self.read("pUSD allowance", call))

    async def ctf_approved(self, owner: str, operator: str) -> bool:
        call = self.ctf.functions.isApprovedForAll(checksum(owner), checksum(operator)).call()
        return bool(await self.read("CTF isApprovedForAll", call))

    async def approval(self, owner: str, approval: c.Approval) -> int | bool:
        """What the chain says of one approval: the pUSD allowance (base units) or the CTF operator flag."""
        if approval.kind == "erc20":
            return await self.pusd_allowance(owner, approval.spender)
        return await self.ctf_approved(owner, approval.spender)

    async def approvals(self, owner: str) -> list[tuple[c.Approval, int | bool]]:
        """Each approval of `contracts.TRADING_APPROVALS` with what the chain says of it."""
        values: list[Any] = await asyncio.gather(*(self.approval(owner, a) for a in c.TRADING_APPROVALS))
        return list(zip(c.TRADING_APPROVALS, values, strict=True))
