"""Exchange state and events rendered in Polymarket's wire shapes (REST bodies and WebSocket messages).

Field names, key order and value types follow reference §3, §6 and real captures (tests/fixtures,
checked by the conformance tests): prices and sizes as decimal strings, book levels best-LAST,
timestamps as strings of unix milliseconds on the WebSocket and unix seconds in REST records.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from polymm_cli.exchange.events import (
    BookEvent,
    LastTradeEvent,
    MakerFillView,
    MarketResolvedEvent,
    OrderEvent,
    OrderView,
    TickSizeEvent,
    TradeView,
)
from polymm_cli.exchange.payouts import PayoutRecord
from polymm_cli.model import Market, decimal_str


def ms(ts: float) -> str:
    return str(int(ts * 1000))


def secs(ts: float) -> str:
    return str(int(ts))


def number(value: Decimal) -> int | float:
    """A JSON number as Polymarket's encoder writes it: integral values as integers (`5`, never
    `5.0`), others as floats (`1.5`), as in every captured CLOB and Gamma payload."""
    return int(value) if value == value.to_integral_value() else float(value)


def tick_number(tick: Decimal) -> float:
    """The tick as a JSON number whose str() is exactly a key of the client's rounding table."""
    return float(tick)


def book_body(
    market: Market,
    token_id: str,
    bids_best_first: list[tuple[Decimal, Decimal]],
    asks_best_first: list[tuple[Decimal, Decimal]],
    timestamp: float,
    last_trade_price: Decimal | None,
) -> dict[str, Any]:
    """GET /book and the WS `book` event share this shape; the hash is computed as the client does."""
    body: dict[str, Any] = {
        "market": market.condition_id,
        "asset_id": token_id,
        "timestamp": ms(timestamp),
        "hash": "",
        "bids": [{"price": decimal_str(p), "size": decimal_str(s)} for p, s in reversed(bids_best_first)],
        "asks": [{"price": decimal_str(p), "size": decimal_str(s)} for p, s in reversed(asks_best_first)],
        "min_order_size": decimal_str(market.min_order_size),
        "tick_size": decimal_str(market.tick_size),
        "neg_risk": market.neg_risk,
        "last_trade_price": decimal_str(last_trade_price) if last_trade_price is not None else "",
    }
    body["hash"] = hashlib.sha1(json.dumps(body, separators=(",", ":")).encode()).hexdigest()
    return body


WS_BOOK_KEYS = ("market", "asset_id", "timestamp", "hash", "bids", "asks", "tick_size", "last_trade_price")


def ws_book(body: dict[str, Any]) -> dict[str, Any]:
    """The subscription `book` event: the REST book's fields as the 2026 captures carry them."""
    return {"event_type": "book", **{k: body[k] for k in WS_BOOK_KEYS}}


WS_BOOK_AFTER_TRADE_KEYS = ("market", "asset_id", "bids", "asks", "hash", "timestamp")


def ws_book_after_trade(body: dict[str, Any]) -> dict[str, Any]:
    """The `book` sent after a trade: the 2026 capture's keys in its order, no tick_size or last price."""
    return {**{k: body[k] for k in WS_BOOK_AFTER_TRADE_KEYS}, "event_type": "book"}


def ws_price_change(event: BookEvent, book_hash: str) -> dict[str, Any]:
    return {
        "event_type": "price_change",
        "market": event.market,
        "price_changes": [
            {
                "asset_id": c.token_id,
                "price": decimal_str(c.price),
                "size": decimal_str(c.size),
                "side": c.side.value,
                "hash": book_hash,
                "best_bid": decimal_str(c.best_bid) if c.best_bid is not None else "0",
                "best_ask": decimal_str(c.best_ask) if c.best_ask is not None else "1",
            }
            for c in event.changes
        ],
        "timestamp": ms(event.timestamp),
    }


def ws_last_trade(event: LastTradeEvent) -> dict[str, Any]:
    return {
        "event_type": "last_trade_price",
        "market": event.market,
        "asset_id": event.token_id,
        "price": decimal_str(event.price),
        "size": decimal_str(event.size),
        "side": event.side.value,
        "fee_rate_bps": str(event.fee_rate_bps),
        "timestamp": ms(event.timestamp),
        "transaction_hash": event.transaction_hash,
    }


def ws_tick_size_change(event: TickSizeEvent) -> dict[str, Any]:
    return {
        "event_type": "tick_size_change",
        "market": event.market,
        "asset_id": event.token_id,
        "old_tick_size": decimal_str(event.old_tick),
        "new_tick_size": decimal_str(event.new_tick),
        "timestamp": ms(event.timestamp),
    }


def ws_market_resolved(event: MarketResolvedEvent, market: Market, market_id: str) -> dict[str, Any]:
    """A `market_resolved` market-channel event in the shape of Polymarket's documented example
    (reference §6.2, custom feature only): `id` is the market's Gamma id; the local exchange has no
    events, so `event_message` describes the market itself."""
    return {
        "event_type": "market_resolved",
        "id": market_id,
        "question": market.question,
        "market": event.market,
        "slug": market.slug,
        "description": market.question,
        "assets_ids": list(event.tokens),
        "winning_asset_id": event.winning_token,
        "winning_outcome": event.winning_outcome,
        "event_message": {
            "id": market_id,
            "ticker": market.slug,
            "slug": market.slug,
            "title": market.question,
            "description": market.question,
        },
        "timestamp": ms(event.timestamp),
        "tags": [market.category] if market.category else [],
    }


def _clob_rewards(market: Market) -> dict[str, Any]:
    rates = [{"asset_address": COLLATERAL_ADDRESS, "rewards_daily_rate": number(market.rewards.daily_rate)}]
    return {
        "rates": rates if market.rewards.active else None,
        "min_size": number(market.rewards.min_size),
        "max_spread": number(market.rewards.max_spread_cents),
    }


def _clob_tokens(market: Market, yes_price: Decimal | None, no_price: Decimal | None) -> list[dict[str, Any]]:
    return [
        {
            "token_id": token,
            "outcome": outcome,
            "price": number(price or Decimal(0)),
            "winner": market.winner == token,
        }
        for token, outcome, price in (
            (market.yes_token, "Yes", yes_price),
            (market.no_token, "No", no_price),
        )
    ]


def ws_best_bid_ask(
    market: str, token_id: str, bid: Decimal | None, ask: Decimal | None, ts: float
) -> dict[str, Any]:
    spread = (ask - bid) if bid is not None and ask is not None else None
    return {
        "event_type": "best_bid_ask",
        "market": market,
        "asset_id": token_id,
        "best_bid": decimal_str(bid) if bid is not None else "0",
        "best_ask": decimal_str(ask) if ask is not None else "1",
        "spread": decimal_str(spread) if spread is not None else "1",
        "timestamp": ms(ts),
    }


def open_order(order: OrderView) -> dict[str, Any]:
    """The REST OpenOrder record (`/data/orders`, `/data/order/{id}`)."""
    return {
        "id": order.order_id,
        "status": order.status,
        "owner": order.owner,
        "maker_address": order.address,
        "market": order.market,
        "asset_id": order.token_id,
        "side": order.side.value,
        "original_size": decimal_str(order.original_size),
        "size_matched": decimal_str(order.size_matched),
        "price": decimal_str(order.price),
        "outcome": order.outcome,
        "expiration": str(order.expiration),
        "order_type": order.order_type.value,
        "associate_trades": list(order.associate_trades),
        "created_at": int(order.created_at),
    }


def ws_order(event: OrderEvent) -> dict[str, Any]:
    order = event.order
    return {
        "event_type": "order",
        "type": event.kind,
        "id": order.order_id,
        "owner": order.owner,
        "order_owner": order.owner,
        "market": order.market,
        "asset_id": order.token_id,
        "side": order.side.value,
        "price": decimal_str(order.price),
        "original_size": decimal_str(order.original_size),
        "size_matched": decimal_str(order.size_matched),
        "outcome": order.outcome,
        "order_type": order.order_type.value,
        "expiration": str(order.expiration),
        "status": order.status,
        "maker_address": order.address,
        "associate_trades": list(order.associate_trades) or None,
        "created_at": secs(order.created_at),
        "timestamp": ms(event.timestamp),
    }


def _maker_order(fill: MakerFillView) -> dict[str, Any]:
    return {
        "order_id": fill.order_id,
        "owner": fill.owner,
        "maker_address": fill.address,
        "matched_amount": decimal_str(fill.size),
        "price": decimal_str(fill.price),
        "fee_rate_bps": "0",
        "asset_id": fill.token_id,
        "outcome": fill.outcome,
        "outcome_index": 0 if fill.outcome == "Yes" else 1,
        "side": fill.side.value,
    }


def trade_record(
    trade: TradeView, viewer: str, *, ws: bool = False, timestamp: float = 0.0
) -> dict[str, Any]:
    """A trade as `viewer` (an API key) sees it: REST `/data/trades` item or WS `trade` event."""
    trader_side = "TAKER" if trade.taker_owner == viewer else "MAKER"
    viewer_address = trade.taker_address
    if trader_side == "MAKER":
        viewer_address = next(
            (m.address for m in trade.maker_fills if m.owner == viewer), trade.taker_address
        )
    record: dict[str, Any] = {
        "id": trade.trade_id,
        "taker_order_id": trade.taker_order_id,
        "market": trade.market,
        "asset_id": trade.token_id,
        "side": trade.side.value,
        "size": decimal_str(trade.size),
        "fee_rate_bps": str(trade.fee_rate_bps),
        "price": decimal_str(trade.price),
        "status": trade.status.value,
        "match_time": secs(trade.match_time),
        "last_update": secs(trade.last_update),
        "outcome": trade.outcome,
        "bucket_index": trade.bucket_index,
        "owner": viewer,
        "maker_address": viewer_address,
        "transaction_hash": trade.transaction_hash,
        "trader_side": trader_side,
        "maker_orders": [_maker_order(m) for m in trade.maker_fills],
    }
    if ws:  # the user channel spells it `match_time` (unix seconds) like REST; older docs said `matchtime`
        record = {
            "event_type": "trade",
            "type": "TRADE",
            **record,
            "trade_owner": viewer,
            "timestamp": ms(timestamp),
        }
    else:
        record["err_msg"] = ""
    return record


def clob_market(market: Market, prices: tuple[Decimal | None, Decimal | None]) -> dict[str, Any]:
    """A CLOB `/markets` item (reference §3.4); a resolved market's tokens are priced 1 / 0 and the
    winning one says `winner: true`."""
    yes_price, no_price = _resolved_prices(market) or prices
    return {
        "enable_order_book": True,
        "active": market.active,
        "closed": market.closed,
        "archived": False,
        "accepting_orders": market.accepting_orders,
        "accepting_order_timestamp": "2026-04-28T11:00:00Z",
        "minimum_order_size": number(market.min_order_size),
        "minimum_tick_size": tick_number(market.tick_size),
        "condition_id": market.condition_id,
        "question_id": "0x" + hashlib.sha3_256(market.slug.encode()).hexdigest(),
        "question": market.question,
        "description": market.question,
        "market_slug": market.slug,
        "end_date_iso": market.end_date,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": 1000,
        "taker_base_fee": 1000,
        "notifications_enabled": True,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": market.neg_risk_market_id,
        "neg_risk_request_id": "",
        "icon": "",
        "image": "",
        "rewards": _clob_rewards(market),
        "is_50_50_outcome": False,
        "tokens": _clob_tokens(market, yes_price, no_price),
        "tags": [market.category] if market.category else [],
    }


COLLATERAL_ADDRESS = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"


def payout_item(payout: PayoutRecord, market: Market | None) -> dict[str, Any]:
    """One payout as `GET /rewards/user` (reference §3.10) or `GET /rebates/current` lists it. The
    documented keys first; then the local exchange's own: the payout's id and its epoch, since a short
    epoch pays several times a day (Polymarket pays once a day and gives no id)."""
    date = datetime.fromtimestamp(payout.epoch_start, UTC).strftime("%Y-%m-%d")
    amount = number(payout.amount)
    item: dict[str, Any] = {
        "asset_address": COLLATERAL_ADDRESS,
        "condition_id": payout.condition_id,
        "date": date,
        "maker_address": payout.maker,
    }
    if payout.kind == "reward":
        item["asset_rate"] = number(market.rewards.daily_rate) if market else 0
        item["earnings"] = amount
    else:
        item["rebated_fees_usdc"] = amount
    return {
        **item,
        "payout_id": payout.payout_id,
        "epoch_start": payout.epoch_start,
        "epoch_end": payout.epoch_end,
    }


def clob_market_params(market: Market) -> dict[str, Any]:
    """`/clob-markets/{cid}`: the compact parameters the client caches per token (reference §3.4)."""
    return {
        "t": [{"t": market.yes_token, "o": "Yes"}, {"t": market.no_token, "o": "No"}],
        "mts": tick_number(market.tick_size),
        "mos": number(market.min_order_size),
        "nr": market.neg_risk,
        "fd": {"r": number(market.taker_fee_rate), "e": market.fee_exponent, "to": True},
        "mbf": 1000,
        "tbf": 1000,
        "gst": None,
        "r": {
            "max_spread": number(market.rewards.max_spread_cents),
            "min_size": number(market.rewards.min_size),
            "daily_rate": number(market.rewards.daily_rate),
        },
        "rfqe": False,
        "itode": False,
        "ibce": False,
        "oas": 0,
    }


def gamma_market(
    market: Market,
    index: int,
    prices: tuple[Decimal | None, Decimal | None],
    volume: Decimal,
    liquidity: Decimal,
    best: tuple[Decimal | None, Decimal | None],
    last: Decimal | None,
) -> dict[str, Any]:
    """A Gamma `/markets` item with its JSON-strings-inside-JSON quirks (reference §7.2). Built from
    its parts in key order: the item's keys come out in the order the real API writes them."""
    return {
        **_gamma_identity(market, index),
        **_gamma_activity(market, volume, liquidity),
        **_gamma_tokens(market, prices),
        **_gamma_order_and_reward_rules(market, index),
        **_gamma_quotes(best, last),
        **_gamma_fees(market),
        "umaResolutionStatus": "resolved" if market.resolved else "",
        "version": "v1",
    }


def _gamma_identity(market: Market, index: int) -> dict[str, Any]:
    return {
        "id": str(500000 + index),
        "question": market.question,
        "conditionId": market.condition_id,
        "slug": market.slug,
        "endDate": market.end_date,
        "startDate": "2026-05-01T00:00:00Z",
        "category": market.category,
    }


def _gamma_activity(market: Market, volume: Decimal, liquidity: Decimal) -> dict[str, Any]:
    """Liquidity and volume (each as a string and as a number), and the market's state flags."""
    return {
        "liquidity": decimal_str(liquidity),
        "liquidityNum": number(liquidity),
        "volume": decimal_str(volume),
        "volumeNum": number(volume),
        "volume24hr": number(volume),
        "active": market.active,
        "closed": market.closed,
        "archived": False,
        "acceptingOrders": market.accepting_orders,
        "enableOrderBook": True,
    }


def _resolved_prices(market: Market) -> tuple[Decimal, Decimal] | None:
    """(YES, NO) prices of a resolved market: what each token pays; None while unresolved."""
    mark = market.payout_mark
    return None if mark is None else (mark, Decimal(1) - mark)


def _gamma_tokens(market: Market, prices: tuple[Decimal | None, Decimal | None]) -> dict[str, Any]:
    """Outcomes, their prices and token ids as JSON strings inside the JSON, and the neg-risk ids."""
    yes_price, no_price = _resolved_prices(market) or prices
    return {
        "outcomes": json.dumps(["Yes", "No"]),
        "outcomePrices": json.dumps(
            [decimal_str(yes_price or Decimal(0)), decimal_str(no_price or Decimal(0))]
        ),
        "clobTokenIds": json.dumps([market.yes_token, market.no_token]),
        "questionID": "0x" + hashlib.sha3_256(market.slug.encode()).hexdigest(),
        "negRisk": market.neg_risk,
        "negRiskMarketID": market.neg_risk_market_id,
        "negRiskRequestID": "",
    }


def _gamma_order_and_reward_rules(market: Market, index: int) -> dict[str, Any]:
    """Tick and minimum size, the liquidity-reward terms, and the reward programme when active."""
    return {
        "orderPriceMinTickSize": tick_number(market.tick_size),
        "orderMinSize": number(market.min_order_size),
        "rewardsMinSize": number(market.rewards.min_size),
        "rewardsMaxSpread": number(market.rewards.max_spread_cents),
        "clobRewards": (
            [
                {
                    "id": str(index),
                    "conditionId": market.condition_id,
                    "assetAddress": COLLATERAL_ADDRESS,
                    "rewardsAmount": 0,
                    "rewardsDailyRate": number(market.rewards.daily_rate),
                    "startDate": "2026-05-01",
                    "endDate": "2500-12-31",
                }
            ]
            if market.rewards.active
            else []
        ),
        "holdingRewardsEnabled": False,
    }


def _gamma_quotes(best: tuple[Decimal | None, Decimal | None], last: Decimal | None) -> dict[str, Any]:
    """Top of book and last trade; an empty side reads as bid 0 / ask 1, as Gamma writes it."""
    bid, ask = best
    return {
        "bestBid": number(bid) if bid is not None else 0,
        "bestAsk": number(ask) if ask is not None else 1,
        "lastTradePrice": number(last) if last is not None else 0,
        "spread": number(ask - bid) if bid is not None and ask is not None else 1,
        "secondsDelay": 0,
    }


def _gamma_fees(market: Market) -> dict[str, Any]:
    return {
        "feesEnabled": market.taker_fee_rate > 0,
        "feeSchedule": {
            "exponent": market.fee_exponent,
            "rate": number(market.taker_fee_rate),
            "takerOnly": True,
            "rebateRate": number(market.maker_rebate_rate),
        },
    }
