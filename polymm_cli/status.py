"""The one projection the dashboard's overview and `polymm status` both show (pure).

`summarize` turns one market of an `EngineSnapshot` into a `MarketSummary` (mid, our best quote on
each side, position, P&L, rewards scoring, status, last decision); `status_document` turns a whole
snapshot into the JSON document the running engine rewrites in the data dir, and `read_document`
reads it back into the same summaries. The dashboard renders the summaries of the live snapshot, and
`polymm status` renders those read from the file, with the same table: the two cannot disagree.

Money is a decimal string in the document (never a float); `SCHEMA` changes only by adding keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from polymm_cli.model import ZERO, EngineSnapshot, MarketSnapshot, QuoteOrderView, decimal_str

SCHEMA = 1


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """One of our resting orders, in YES terms (what the overview and `status` list)."""

    side: str  # "bid", "ask" or "exit"
    yes_price: Decimal
    size: Decimal
    scoring: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSummary:
    """One market in one row: what an operator checks first."""

    condition_id: str
    slug: str
    question: str
    mid: Decimal | None
    quotes: tuple[QuoteLine, ...]
    yes_position: Decimal
    no_position: Decimal
    position_limit: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal | None
    fees: Decimal
    rewards: Decimal
    rebates: Decimal
    total_pnl: Decimal
    reward_rate: Decimal | None  # estimated pUSD/day from the pool now (None: not rewarded / no book)
    rewarded: bool  # the market has a reward pool
    status: str
    last_decision: str

    @property
    def net_position(self) -> Decimal:
        return self.yes_position - self.no_position

    @property
    def best_bid(self) -> QuoteLine | None:
        bids = [q for q in self.quotes if q.side == "bid"]
        return max(bids, key=lambda q: q.yes_price) if bids else None

    @property
    def best_ask(self) -> QuoteLine | None:
        asks = [q for q in self.quotes if q.side == "ask"]
        return min(asks, key=lambda q: q.yes_price) if asks else None

    @property
    def scoring(self) -> str:
        """ "2/2": orders earning rewards of our orders; "-" for a market with no reward pool."""
        if not self.rewarded:
            return "-"
        return f"{sum(1 for q in self.quotes if q.scoring)}/{len(self.quotes)}"


def summarize(m: MarketSnapshot) -> MarketSummary:
    return MarketSummary(
        condition_id=m.market.condition_id,
        slug=m.market.slug,
        question=m.market.question,
        mid=m.mid,
        quotes=tuple(_quote_line(o) for o in m.orders),
        yes_position=m.yes_position,
        no_position=m.no_position,
        position_limit=m.position_limit,
        realized_pnl=m.realized_pnl,
        unrealized_pnl=m.unrealized_pnl,
        fees=m.fees,
        rewards=m.rewards,
        rebates=m.rebates,
        total_pnl=m.total_pnl,
        reward_rate=m.reward_rate,
        rewarded=m.market.rewards.active,
        status=m.status,
        last_decision=m.last_decision,
    )


def _quote_line(o: QuoteOrderView) -> QuoteLine:
    return QuoteLine(side=o.tag or "-", yes_price=o.yes_price, size=o.remaining, scoring=o.scoring)


# -- the status document ------------------------------------------------------------------------------


def status_document(
    snap: EngineSnapshot, *, pid: int, started: float | None, running: bool, ended: str = ""
) -> dict[str, Any]:
    """What the running engine publishes for `polymm status` (JSON-ready, decimals as strings)."""
    h = snap.health
    return {
        "schema": SCHEMA,
        "running": running,
        "ended": ended,
        "pid": pid,
        "venue": snap.venue,
        "wallet": snap.address,
        "updated": snap.ts,
        "started": started,
        "uptime_s": round(snap.ts - started, 1) if started is not None else None,
        "health": {
            "healthy": h.healthy,
            "market_feed": h.market_feed,
            "feed_age_s": _round(h.feed_age_s),
            "user_stream": h.user_stream,
            "heartbeat": h.heartbeat,
            "heartbeat_age_s": _round(h.heartbeat_age_s),
            "halted": h.halted,
            "last_error": h.last_error,
        },
        "totals": {
            "total_pnl": decimal_str(snap.total_pnl),
            "fills": snap.fills,
            "orders_placed": snap.orders_placed,
            "orders_cancelled": snap.orders_canceled,
            "decisions": snap.decisions,
        },
        "markets": [market_json(summarize(m)) for m in snap.markets],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)


def market_json(s: MarketSummary) -> dict[str, Any]:
    return {
        "condition_id": s.condition_id,
        "slug": s.slug,
        "question": s.question,
        "mid": _dec(s.mid),
        "quotes": [
            {"side": q.side, "yes_price": _dec(q.yes_price), "size": _dec(q.size), "scoring": q.scoring}
            for q in s.quotes
        ],
        "yes_position": _dec(s.yes_position),
        "no_position": _dec(s.no_position),
        "net_position": _dec(s.net_position),
        "position_limit": _dec(s.position_limit),
        "realized_pnl": _dec(s.realized_pnl),
        "unrealized_pnl": _dec(s.unrealized_pnl),
        "fees": _dec(s.fees),
        "rewards": _dec(s.rewards),
        "rebates": _dec(s.rebates),
        "total_pnl": _dec(s.total_pnl),
        "reward_rate": _dec(s.reward_rate),
        "rewarded": s.rewarded,
        "scoring": s.scoring,
        "status": s.status,
        "last_decision": s.last_decision,
    }


class BadStatus(ValueError):
    """The status file is not a document this version can read."""


def read_summaries(doc: dict[str, Any]) -> list[MarketSummary]:
    """The market summaries of a status document (BadStatus when a field is missing or malformed)."""
    try:
        return [_summary(item) for item in doc["markets"]]
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise BadStatus(f"malformed market entry ({type(exc).__name__}: {exc})") from None


def _summary(item: dict[str, Any]) -> MarketSummary:
    def num(key: str) -> Decimal | None:
        value = item[key]
        return None if value is None else Decimal(str(value))

    def req(key: str) -> Decimal:
        value = num(key)
        return ZERO if value is None else value

    return MarketSummary(
        condition_id=str(item["condition_id"]),
        slug=str(item["slug"]),
        question=str(item["question"]),
        mid=num("mid"),
        quotes=tuple(
            QuoteLine(str(q["side"]), Decimal(q["yes_price"]), Decimal(q["size"]), bool(q["scoring"]))
            for q in item["quotes"]
        ),
        yes_position=req("yes_position"),
        no_position=req("no_position"),
        position_limit=req("position_limit"),
        realized_pnl=req("realized_pnl"),
        unrealized_pnl=num("unrealized_pnl"),
        fees=req("fees"),
        rewards=req("rewards"),
        rebates=req("rebates"),
        total_pnl=req("total_pnl"),
        reward_rate=num("reward_rate"),
        rewarded=bool(item["rewarded"]),
        status=str(item["status"]),
        last_decision=str(item["last_decision"]),
    )
