"""What the dashboard shows: the engine's state read into an `EngineSnapshot` (no I/O, no decisions).

Reads the engine's public state (its markets, our orders, books, health and counters); owns how an
order scores for rewards on screen and the estimated reward rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polymm_cli.book import OrderBook
from polymm_cli.engine.state import MarketState
from polymm_cli.model import (
    ZERO,
    EngineSnapshot,
    HealthSnapshot,
    Market,
    MarketSnapshot,
    OurOrder,
    QuoteOrderView,
    Side,
)
from polymm_cli.quoter import QuoteDecision, TargetQuote
from polymm_cli.reconcile import ReconcilePlan
from polymm_cli.rewards import book_q_min, estimated_reward_rate, scoring_status

if TYPE_CHECKING:
    from polymm_cli.engine.loop import QuotingEngine


def snapshot(engine: QuotingEngine) -> EngineSnapshot:
    """Every market's book, our orders, positions and P&L, and the engine's health and counters."""
    now = engine.clock.monotonic()
    ordered = sorted(engine.latencies_us)
    p50 = ordered[len(ordered) // 2] if ordered else None
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
    last_event = engine.last_market_event
    return EngineSnapshot(
        ts=engine.clock.now(),
        venue=engine.venue_name,
        address=engine.venue.address,
        markets=tuple(_market(engine, cid, state, now) for cid, state in engine.states.items()),
        health=HealthSnapshot(
            market_feed=engine.market_feed,
            feed_age_s=(now - last_event) if last_event is not None else None,
            user_stream=engine.user_stream,
            heartbeat=engine.heartbeat_ok,
            heartbeat_age_s=engine.heartbeat_age(now),
            last_error=engine.last_error,
            halted=engine.halted,
        ),
        decisions=engine.decisions,
        orders_placed=engine.orders_placed,
        orders_canceled=engine.orders_canceled,
        fills=engine.fill_count,
        latency_p50_us=p50,
        latency_p99_us=p99,
        reward_fit=engine.config.reward_fit,
        width=engine.config.width,
    )


def decision_record(
    engine: QuotingEngine,
    state: MarketState,
    plan: ReconcilePlan,
    note: str,
    decision: QuoteDecision | None,
    dropped: Sequence[tuple[TargetQuote, str]],
    errors: Sequence[str],
) -> dict[str, Any]:
    """One decision as `--headless` prints it (one JSON line): the quotes, what was sent, and why."""
    quotes = decision.quotes if decision is not None else ()
    return {
        "ts": engine.clock.now(),
        "market": state.market.condition_id,
        "mid": str(decision.mid) if decision is not None and decision.mid is not None else None,
        "quotes": [
            {
                "side": t.side,
                "token": t.token_id,
                "order_side": t.order_side.value,
                "price": str(t.price),
                "size": str(t.size),
            }
            for t in quotes
        ],
        "skipped": [{"side": s.side, "reason": s.reason} for s in (decision.skipped if decision else ())],
        "cancels": len(plan.cancels),
        "places": len(plan.places),
        "kept": len(plan.keeps),
        "dropped": [reason for _, reason in dropped],
        "errors": list(errors),
        "position": {"yes": str(state.yes_position), "no": str(state.no_position)},
        "note": note,
        "healthy": engine.healthy,
    }


def _market(engine: QuotingEngine, cid: str, state: MarketState, now: float) -> MarketSnapshot:
    m = state.market
    book = engine.books.get(m.yes_token)
    pnl = engine.market_pnl(cid)
    mine = [o for o in engine.live.values() if o.market == cid]
    ref_mid = engine.external_mid(m)
    orders = tuple(order_view(m, o, ref_mid) for o in mine)
    depth = engine.config.book_depth_shown
    return MarketSnapshot(
        market=m,
        bids=book.levels(Side.BUY, depth) if book else (),
        asks=book.levels(Side.SELL, depth) if book else (),
        mid=book.mid if book else None,
        orders=orders,
        yes_position=state.yes_position,
        no_position=state.no_position,
        position_limit=engine.config.params.position_limit,
        realized_pnl=pnl.realized_pnl,
        unrealized_pnl=pnl.unrealized_pnl,
        fees=pnl.fees,
        total_pnl=pnl.total_pnl,
        rewards=pnl.rewards,
        rebates=pnl.rebates,
        fills=tuple(view for _, view in list(state.fills)[: engine.config.fills_shown]),
        status=_status(engine, state, book),
        last_decision=state.last_decision,
        reward_rate=reward_rate(book, m, orders, ref_mid) if ref_mid is not None else None,
        volatility=state.regime.volatility(now) if state.regime is not None else 0.0,
    )


def _status(engine: QuotingEngine, state: MarketState, book: OrderBook | None) -> str:
    if state.closed:  # for good: "resolved: Yes won" or "closed: <why>", during the run and after
        return state.closed
    if state.retired:
        return f"wound down: {state.retired}"
    if engine.ended:
        return "stopped: " + (engine.stop_report.summary() if engine.stop_report else "")
    if engine.halted:
        return f"halted: {engine.halted}"
    if not engine.healthy:
        return engine.pause_reason()
    if book is None or book.mid is None:
        return "waiting for a two-sided book"
    return "quoting"


def order_view(m: Market, o: OurOrder, mid: Decimal | None) -> QuoteOrderView:
    """One of our orders as shown: in YES terms too, and whether it scores for rewards (and why)."""
    yes_price = m.yes_price(o.token_id, o.price)
    scoring, note = False, "no two-sided book"
    if mid is not None:
        scoring, note = scoring_status(
            yes_price, o.remaining, "ask" if o.tag == "ask" else "bid", mid, m.rewards
        )
    return QuoteOrderView(
        order_id=o.order_id,
        token_id=o.token_id,
        outcome=m.outcome_of(o.token_id),
        side=o.side,
        price=o.price,
        yes_price=yes_price,
        remaining=o.remaining,
        tag=o.tag,
        scoring=scoring,
        scoring_note=note,
    )


def reward_rate(
    book: OrderBook | None, m: Market, orders: Sequence[QuoteOrderView], mid: Decimal
) -> Decimal | None:
    """Our estimated share of the market's daily reward pool, from the book as it is now."""
    if not m.rewards.active or book is None:
        return None
    ours_bid = [(o.yes_price, o.remaining) for o in orders if o.tag == "bid" and o.scoring]
    ours_ask = [(o.yes_price, o.remaining) for o in orders if o.tag == "ask" and o.scoring]
    ours = book_q_min(ours_bid, ours_ask, m.rewards, mid)
    mine_at = {(True, p): s for p, s in ours_bid} | {(False, p): s for p, s in ours_ask}
    others_bid = [
        (lv.price, lv.size - mine_at.get((True, lv.price), ZERO)) for lv in book.levels(Side.BUY, 20)
    ]
    others_ask = [
        (lv.price, lv.size - mine_at.get((False, lv.price), ZERO)) for lv in book.levels(Side.SELL, 20)
    ]
    others = book_q_min(others_bid, others_ask, m.rewards, mid)
    return estimated_reward_rate(ours, others, m.rewards.daily_rate)
