"""Service for `polymm markets list`: tradable markets with their book, tick, size and reward terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from polymm_cli.book import book_top
from polymm_cli.clock import SystemClock
from polymm_cli.errors import UsageError
from polymm_cli.model import Market, PriceLevel
from polymm_cli.quoter import QuoteInput, QuoteParams, quote
from polymm_cli.rewards import book_q_min, estimated_reward_rate
from polymm_cli.services.guard import Action
from polymm_cli.services.trading import quote_params
from polymm_cli.services.venues import on_venue, open_venue
from polymm_cli.settings import Settings

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
    est_reward: Decimal  # pUSD/day our configured quotes would earn from the reward pool, given this book


def list_markets(settings: Settings, *, sort: str = "volume", limit: int = 20) -> list[MarketRow]:
    if sort not in SORT_KEYS:
        raise UsageError(f"--sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
    if limit < 1:
        raise UsageError("--limit must be at least 1")

    params = quote_params(settings)

    async def main(url: str | None) -> list[MarketRow]:
        async with open_venue(settings, SystemClock(), url) as handle:
            venue = handle.venue
            rows = []
            for market in await venue.markets():
                book = await venue.book(market.yes_token)
                bid = book.bids[0].price if book.bids else None
                ask = book.asks[0].price if book.asks else None
                liquidity = book_liquidity(book.bids, book.asks)
                rows.append(
                    MarketRow(
                        est_reward=estimate_reward(market, book.bids, book.asks, params),
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

    rows = on_venue(settings, main, action=Action.READ)
    key = {
        "volume": lambda r: r.volume,
        "liquidity": lambda r: r.liquidity,
        "rewards": lambda r: r.est_reward,
    }[sort]
    return sorted(rows, key=key, reverse=True)[:limit]


BOOK_DEPTH = 10  # levels a side that count as a market's liquidity


def book_liquidity(bids: Sequence[PriceLevel], asks: Sequence[PriceLevel]) -> Decimal:
    """pUSD resting in the top levels of the YES book, both sides (asks as the NO bids they are)."""
    bid_side = sum((lv.price * lv.size for lv in bids[:BOOK_DEPTH]), Decimal(0))
    return bid_side + sum(((1 - lv.price) * lv.size for lv in asks[:BOOK_DEPTH]), Decimal(0))


def estimate_reward(
    market: Market, bids: tuple[PriceLevel, ...], asks: tuple[PriceLevel, ...], params: QuoteParams
) -> Decimal:
    """pUSD/day our quotes (at the configured size and spread) would earn from this market's pool now."""
    if not market.rewards.active or not bids or not asks:
        return Decimal(0)
    decision = quote(QuoteInput.at(market, book_top(bids, asks, {}, market.min_order_size)), params)
    mid = (bids[0].price + asks[0].price) / 2
    ours_bid = [(q.yes_price, q.size) for q in decision.quotes if q.side == "bid"]
    ours_ask = [(q.yes_price, q.size) for q in decision.quotes if q.side == "ask"]
    ours = book_q_min(ours_bid, ours_ask, market.rewards, mid)
    others = book_q_min(
        [(lv.price, lv.size) for lv in bids], [(lv.price, lv.size) for lv in asks], market.rewards, mid
    )
    return estimated_reward_rate(ours, others, market.rewards.daily_rate)
