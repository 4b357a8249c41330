"""Hand-built market events and a small market for the fill simulator's scenarios."""

from __future__ import annotations

from decimal import Decimal

from polymm_cli.backtest.fills import FillSimulator
from polymm_cli.backtest.queue import QueueModel, RiskAverseQueue
from polymm_cli.model import Market, PriceLevel, Side
from polymm_cli.venues.base import BookSnapshot, LastTrade, LevelUpdate, OrderIntent, PriceChange

D = Decimal
MARKET = Market(
    condition_id="0xcond",
    question="Will it?",
    slug="will-it",
    yes_token="YES",
    no_token="NO",
    tick_size=D("0.01"),
    min_order_size=D(5),
    taker_fee_rate=D("0.04"),
)
YES, NO = MARKET.yes_token, MARKET.no_token


def simulator(queue: QueueModel | None = None, collateral: str = "1000", **tokens: str) -> FillSimulator:
    held = {YES if name == "yes" else NO: D(v) for name, v in tokens.items()}
    return FillSimulator(
        queue or RiskAverseQueue(), collateral=D(collateral), tokens=held, markets=[MARKET], id_seed="t"
    )


def levels(*pairs: tuple[str, str]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(D(p), D(s)) for p, s in pairs)


def snapshot(
    token: str = YES, bids: tuple[PriceLevel, ...] = (), asks: tuple[PriceLevel, ...] = (), ts: float = 0.0
) -> BookSnapshot:
    return BookSnapshot(
        market=MARKET.condition_id,
        token_id=token,
        bids=bids,
        asks=asks,
        tick_size=None,
        min_order_size=None,
        hash="",
        venue_ts=ts,
        recv_ts=ts,
    )


def change(side: Side, price: str, size: str, token: str = YES, ts: float = 0.0) -> PriceChange:
    update = LevelUpdate(token_id=token, side=side, price=D(price), size=D(size))
    return PriceChange(market=MARKET.condition_id, updates=(update,), venue_ts=ts, recv_ts=ts)


def trade(taker: Side, price: str, size: str, token: str = YES, ts: float = 0.0) -> LastTrade:
    return LastTrade(
        market=MARKET.condition_id,
        token_id=token,
        price=D(price),
        size=D(size),
        taker_side=taker,
        fee_rate_bps=D(0),
        venue_ts=ts,
        recv_ts=ts,
    )


def intent(
    side: Side, price: str, size: str, token: str = YES, order_type: str = "GTC", post_only: bool = True
) -> OrderIntent:
    return OrderIntent(
        market=MARKET.condition_id,
        token_id=token,
        side=side,
        price=D(price),
        size=D(size),
        order_type=order_type,
        post_only=post_only,
    )
