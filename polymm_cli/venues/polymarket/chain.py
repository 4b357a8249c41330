"""The chain port for the local exchange: split and merge through its loopback-only endpoints.

The real Polygon path (pUSD through the collateral adapters, web3, gas or the relayer; docs/protocol.md
§12.4) is a later piece of work: `PolygonChainUnavailable` says so in one line instead of pretending.
"""

from __future__ import annotations

from decimal import Decimal

from polymm_cli.errors import VenueError
from polymm_cli.model import Market, decimal_str
from polymm_cli.venues.polymarket.adapter import PolymarketVenue


class LocalChain:
    """Split/merge on the local exchange, authenticated as the venue's account (L2)."""

    def __init__(self, venue: PolymarketVenue) -> None:
        self.venue = venue

    async def _call(self, path: str, market: Market, amount: Decimal) -> None:
        if amount <= 0:
            raise VenueError(f"amount must be positive, got {amount}")
        await self.venue.local_inventory(path, market.condition_id, decimal_str(amount))

    async def split(self, market: Market, amount: Decimal) -> None:
        await self._call("/_local/split", market, amount)

    async def merge(self, market: Market, amount: Decimal) -> None:
        await self._call("/_local/merge", market, amount)


class PolygonChainUnavailable:
    """Polymarket's real split/merge needs on-chain transactions, which polymm does not send yet."""

    async def split(self, market: Market, amount: Decimal) -> None:
        raise VenueError("split on Polygon is not available yet: split in the Polymarket UI, then run polymm")

    async def merge(self, market: Market, amount: Decimal) -> None:
        raise VenueError("merge on Polygon is not available yet: merge in the Polymarket UI")
