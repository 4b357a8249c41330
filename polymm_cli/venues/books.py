"""Applying normalised market events to L2 books: the one place a venue event becomes book state.

Owns the event -> `OrderBook` mapping (which event touches which book and how). It lives under
`venues/` because `book.py` is pure core and must not know the event types; it is venue-neutral
(any adapter's `MarketEvent`s apply the same way). Must not parse wire formats or read a clock: the
books' `last_update_ts` is the event's `recv_ts` (our clock, so staleness checks need no venue skew).

Books are created by the first snapshot of a token (or pre-created by the caller). Level updates and
tick changes for a token without a book are skipped: without a snapshot they would be a partial view.
"""

from __future__ import annotations

from polymm_cli.book import OrderBook
from polymm_cli.venues.base import BookSnapshot, MarketEvent, PriceChange, TickSizeChange


def apply_market_event(books: dict[str, OrderBook], event: MarketEvent) -> set[str]:
    """Apply one market event to `books` (token id -> book); return the token ids whose book changed.

    `BookSnapshot` replaces (or creates) the token's book; `PriceChange` sets each level it lists;
    `TickSizeChange` clears the book and starts a new epoch. `LastTrade` and `BestBidAsk` carry no
    level state and change nothing.
    """
    if type(event) is PriceChange:
        changed: set[str] = set()
        ts = event.recv_ts
        last_token = ""
        book: OrderBook | None = None
        for u in event.updates:
            token = u.token_id
            if token != last_token:  # entries come in runs per token: skip re-fetching the book
                book = books.get(token)
                last_token = token
                if book is not None:
                    changed.add(token)
            if book is not None:
                book.apply_level(u.side, u.price, u.size, ts)
        return changed
    if type(event) is BookSnapshot:
        book = books.get(event.token_id)
        if book is None:
            book = books[event.token_id] = OrderBook(event.token_id)
        book.apply_snapshot(event.bids, event.asks, event.tick_size, event.recv_ts)
        return {event.token_id}
    if type(event) is TickSizeChange:
        book = books.get(event.token_id)
        if book is None:
            return set()
        book.reset_for_tick_change(event.new_tick, event.recv_ts)
        return {event.token_id}
    return set()
