"""The chain ports of the Polymarket venue: split, merge and redeem on the local exchange
(`LocalChain`, its loopback-only endpoints) and on Polygon (`PolygonChain`, docs/protocol.md §12.4).

On Polygon, a plain EOA wallet (signature type 0) sends its own transactions with web3: the pUSD
collateral adapter of the market (CtfCollateralAdapter, or NegRiskCtfCollateralAdapter for a
neg-risk market) splits pUSD into the market's YES + NO positions, merges them back and redeems them
after resolution. Before each call polymm reads what the call needs and sends the approval that is
missing (pUSD `approve` of the adapter for a split, CTF `setApprovalForAll` for merge and redeem),
unless told not to. Each transaction: gas estimated (a revert is caught here, with its reason,
before anything is sent), EIP-1559 fees capped by `max_fee_gwei`, the POL for it checked, the
pending nonce, then the receipt awaited with a timeout. Every failure is one line (VenueError): no
POL for gas, not enough pUSD or pairs, a missing approval, a revert with its reason, an RPC that
does not answer, a fee above the cap, a receipt that does not come.

Proxy and Safe wallets (signature types 1, 2) and deposit wallets (3) hold their funds in a contract
wallet: their transactions go through Polymarket's relayer (`relayer.py`); `wallet_path` says which.

`PolygonChain` and `PolygonConfig` live in `polygon.py`, its reads and web3 client in `polygon_reads.py`
(web3 is slow to import, so they load only when an on-chain command runs); the port is reachable from here.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from polymm_cli.errors import UsageError, VenueError, describe
from polymm_cli.model import Market, decimal_str
from polymm_cli.venues.base import Balances, Chain, ChainResult, pair_result, redeem_result
from polymm_cli.venues.polymarket.adapter import PolymarketVenue

if TYPE_CHECKING:
    from polymm_cli.venues.polymarket.polygon import PolygonChain, PolygonConfig

log = logging.getLogger("polymm.venues.polymarket")
__all__ = [
    "ClobRefreshing",
    "LocalChain",
    "PolygonChain",
    "PolygonChainUnconfigured",
    "PolygonConfig",
    "wallet_path",
]

WalletPath = Literal["direct", "relayer"]
SIGNATURE_TYPES = {0: "EOA", 1: "Polymarket proxy", 2: "Gnosis Safe", 3: "deposit wallet"}


def wallet_path(signature_type: int) -> WalletPath:
    """How a wallet of this signature type sends split, merge and redeem: `direct` (an EOA signs and
    pays gas in POL itself) or `relayer` (the funds sit in a contract wallet, which Polymarket's
    relayer executes calls for, gasless, with builder API credentials)."""
    if signature_type not in SIGNATURE_TYPES:
        raise UsageError(f"signature type must be 0, 1, 2 or 3, got {signature_type}")
    return "direct" if signature_type == 0 else "relayer"


class LocalChain:
    """Split/merge/redeem on the local exchange, authenticated as the venue's account (L2)."""

    def __init__(self, venue: PolymarketVenue) -> None:
        self.venue = venue

    async def holdings(self, market: Market) -> Balances:
        return await self.venue.balances([market.yes_token, market.no_token])

    async def _call(self, path: str, market: Market, amount: Decimal) -> None:
        if amount <= 0:
            raise VenueError(f"amount must be positive, got {amount}")
        await self.venue.local_inventory(path, market.condition_id, decimal_str(amount))

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        await self._call("/_local/split", market, amount)
        return pair_result("split", amount)

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        await self._call("/_local/merge", market, amount)
        return pair_result("merge", amount)

    async def redeem(self, market: Market) -> ChainResult:
        """POST /_local/redeem {"condition_id"} -> {"payout": "<decimal>"}: every YES and NO held goes,
        the winning side's pays 1 pUSD a share."""
        held = await self.holdings(market)
        try:
            body = await self.venue.local_redeem(market.condition_id)
        except VenueError as exc:
            if exc.status == 400 and "not resolved" in str(exc):  # said as on Polygon, by the market's name
                name = market.slug or market.condition_id
                raise VenueError(f"{name} is not resolved yet: nothing to redeem", status=400) from None
            raise
        try:
            payout = Decimal(str(body["payout"]))
        except (KeyError, TypeError, ArithmeticError):
            raise VenueError(f"local exchange: unexpected redeem answer {str(body)[:120]}") from None
        return redeem_result(market, held, payout)


class ClobRefreshing:
    """A Polygon chain port that, after each operation, asks the CLOB to re-read the wallet's pUSD and
    the market's tokens from chain (`GET /balance-allowance/update`, protocol §12.2), so orders can
    use them at once. Best effort: the operation happened on chain whatever the CLOB answers (a
    failed refresh is logged, and the CLOB catches up by itself)."""

    def __init__(self, inner: Chain, venue: PolymarketVenue) -> None:
        self.inner = inner
        self.venue = venue

    async def _refresh(self, market: Market) -> None:
        try:
            await self.venue.refresh_balances([market.yes_token, market.no_token])
        except Exception as exc:  # the chain operation stands; the CLOB re-reads later anyway
            log.warning("could not ask the CLOB to refresh balances: %s", describe(exc))

    async def holdings(self, market: Market) -> Balances:
        return await self.inner.holdings(market)

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        result = await self.inner.split(market, amount)
        await self._refresh(market)
        return result

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        result = await self.inner.merge(market, amount)
        await self._refresh(market)
        return result

    async def redeem(self, market: Market) -> ChainResult:
        result = await self.inner.redeem(market)
        await self._refresh(market)
        return result

    async def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()


class PolygonChainUnconfigured:
    """Polymarket without an RPC URL: every chain operation says how to configure one."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def holdings(self, market: Market) -> Balances:
        raise VenueError(self.reason)

    async def split(self, market: Market, amount: Decimal) -> ChainResult:
        raise VenueError(self.reason)

    async def merge(self, market: Market, amount: Decimal) -> ChainResult:
        raise VenueError(self.reason)

    async def redeem(self, market: Market) -> ChainResult:
        raise VenueError(self.reason)


def rpc_secret_parts(rpc_url: str) -> list[str]:
    """What of an RPC URL must not be shown: its path, query and user info, whole and piece by piece
    (providers put API keys there; an error may quote a key alone), longest first."""
    parts = urlsplit(rpc_url)
    pieces = [parts.path, parts.query, parts.username or "", parts.password or ""]
    pieces += parts.path.split("/") + [
        value for _, _, value in (q.partition("=") for q in parts.query.split("&"))
    ]
    return sorted({p for p in pieces if len(p) >= 6}, key=len, reverse=True)


def scrub_rpc(text: str, rpc_url: str) -> str:
    """`text` without the RPC URL's secret parts (an HTTP or node error may quote them)."""
    for part in rpc_secret_parts(rpc_url):
        text = text.replace(part, "…")
    return text


def rpc_host(url: str) -> str:
    """The RPC's host and port, never its path or query (an RPC URL often carries an API key)."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url[:40]


def revert_reason(error: BaseException, rpc_url: str = "") -> str:
    """A revert's reason as the node gives it, without the 'execution reverted' prefix; with
    `rpc_url`, scrubbed of it before it is cut (a secret across the cut would no longer match)."""
    text = " ".join(str(getattr(error, "message", None) or error).split())
    text = scrub_rpc(text, rpc_url) if rpc_url else text
    for prefix in ("execution reverted: ", "execution reverted:", "execution reverted"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    return text[:160] or "no reason given"


def __getattr__(name: str) -> Any:
    # The web3 implementation loads on first use: importing web3 costs every command about a second.
    if name in ("PolygonChain", "PolygonConfig"):
        from polymm_cli.venues.polymarket import polygon

        return getattr(polygon, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
