"""Service for `polymm markets list`: tradable markets with their book, tick, size and reward terms."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.clock import SystemClock
from polymm_cli.errors import UsageError
from polymm_cli.model import Market
from polymm_cli.services.venues import local_exchange, open_venue
from polymm_cli.settings import Settings, VenueName

SORT_KEYS = ("volume", "liquidity", "rewards")


@dataclass(frozen=True)
class MarketRow:
    market: Market
    mid: Decimal | None
    spread: Decimal | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    liquidity: Decimal  # pUSD resting in the top levels of the YES book, both sides
    volume: Decimal


def list_markets(settings: Settings, *, sort: str = "volume", limit: int = 20) -> list[MarketRow]:
    if sort not in SORT_KEYS:
        raise UsageError(f"--sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
    if limit < 1:
        raise UsageError("--limit must be at least 1")

    async def main(url: str | None) -> list[MarketRow]:
        async with open_venue(settings, SystemClock(), url) as handle:
            venue = handle.venue
            rows = []
            for market in await venue.markets():
                book = await venue.book(market.yes_token)
                bid = book.bids[0].price if book.bids else None
                ask = book.asks[0].price if book.asks else None
                liquidity = sum((lv.price * lv.size for lv in book.bids[:10]), Decimal(0)) + sum(
                    ((1 - lv.price) * lv.size for lv in book.asks[:10]), Decimal(0)
                )
                rows.append(
                    MarketRow(
                        market=market,
                        mid=(bid + ask) / 2 if bid is not None and ask is not None else None,
                        spread=ask - bid if bid is not None and ask is not None else None,
                        best_bid=bid,
                        best_ask=ask,
                        liquidity=liquidity,
                        volume=getattr(market, "volume", Decimal(0)),
                    )
                )
            return rows

    with (
        local_exchange(settings, flow=False, publish=False)
        if settings.venue is VenueName.LOCAL
        else contextlib.nullcontext(None) as url
    ):
        rows = asyncio.run(main(url))
    key = {
        "volume": lambda r: r.volume,
        "liquidity": lambda r: r.liquidity,
        "rewards": lambda r: r.market.rewards.daily_rate,
    }[sort]
    return sorted(rows, key=key, reverse=True)[:limit]
