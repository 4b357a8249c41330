"""The chaos soak's figures, computed from what was observed (pure: no I/O, no clock).

- Fills: the exchange's (trade id, order id) set against the ledger's, with final statuses and terms.
- Money: the exchange's pUSD balance minus what was funded against the ledger's projected cash, and
  each token's balance against the ledger's position, to the micro-unit.
- Stale seconds: in each stall window [t0, t1], the time after t0 + B during which the bot still had
  an open order at the exchange (sample-and-hold between the observer's samples).
- Time to pull: from a fault's injection until none of the orders open at injection is still open.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from polymm_cli.model import FillRecord, Market, Side, TradeStatus
from polymm_cli.pnl import project
from polymm_cli.venues.base import TradeUpdate

FINAL = frozenset({TradeStatus.CONFIRMED, TradeStatus.FAILED})


@dataclass(frozen=True)
class FillView:
    """One of the bot's orders' part of a trade, as one side (exchange or ledger) sees it."""

    trade_id: str
    order_id: str
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    status: TradeStatus

    @property
    def key(self) -> tuple[str, str]:
        return (self.trade_id, self.order_id)

    def terms(self) -> tuple[str, str, Decimal, Decimal]:
        return (self.token_id, self.side.value, self.price, self.size)


def exchange_fills(updates: Iterable[TradeUpdate]) -> list[FillView]:
    return [
        FillView(u.trade_id, f.order_id, f.token_id, f.side, f.price, f.size, u.status)
        for u in updates
        for f in u.fills
    ]


def ledger_fills(records: Iterable[FillRecord]) -> list[FillView]:
    return [FillView(r.trade_id, r.order_id, r.token_id, r.side, r.price, r.size, r.status) for r in records]


def _duplicates(fills: Sequence[FillView]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    doubled = []
    for f in fills:
        if f.key in seen:
            doubled.append(f.key)
        seen.add(f.key)
    return doubled


def compare_fills(exchange: Sequence[FillView], ledger: Sequence[FillView]) -> list[dict[str, str]]:
    """Every difference between the two sides, trade for trade (empty: equal)."""
    diffs: list[dict[str, str]] = []
    for where, fills in (("exchange", exchange), ("ledger", ledger)):
        diffs += [
            {"what": f"listed twice in the {where}", "trade_id": t, "order_id": o}
            for t, o in _duplicates(fills)
        ]
    at_exchange = {f.key: f for f in exchange}
    in_ledger = {f.key: f for f in ledger}
    for key in sorted(at_exchange.keys() - in_ledger.keys()):
        f = at_exchange[key]
        diffs.append({"what": "missing from the ledger", **_describe(f)})
    for key in sorted(in_ledger.keys() - at_exchange.keys()):
        diffs.append({"what": "in the ledger, not at the exchange", **_describe(in_ledger[key])})
    for key in sorted(at_exchange.keys() & in_ledger.keys()):
        ex, led = at_exchange[key], in_ledger[key]
        if ex.status is not led.status:
            diffs.append({"what": "status differs", **_describe(ex), "ledger_status": led.status.value})
        if ex.terms() != led.terms():
            diffs.append({"what": "terms differ", **_describe(ex), "ledger_terms": repr(led.terms())})
    return diffs


def _describe(f: FillView) -> dict[str, str]:
    return {
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "side": f.side.value,
        "price": str(f.price),
        "size": str(f.size),
        "status": f.status.value,
    }


@dataclass(frozen=True)
class MoneyCheck:
    exchange_cash: Decimal  # balance minus funding
    ledger_cash: Decimal
    positions: dict[str, tuple[Decimal, Decimal]]  # token -> (exchange, ledger)

    @property
    def cash_equal(self) -> bool:
        return self.exchange_cash == self.ledger_cash

    @property
    def position_differences(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {t: pair for t, pair in self.positions.items() if pair[0] != pair[1]}


def check_money(
    collateral: Decimal,
    funded: Decimal,
    tokens: dict[str, Decimal],
    records: Sequence[FillRecord],
    markets: dict[str, Market],
) -> MoneyCheck:
    """The exchange's balances against the ledger's projection (every token of the markets)."""
    report = project(records, [], markets, {})
    positions: dict[str, tuple[Decimal, Decimal]] = {}
    for market in markets.values():
        item = report.market(market.condition_id)
        ledger_yes = item.yes_position if item else Decimal(0)
        ledger_no = item.no_position if item else Decimal(0)
        positions[market.yes_token] = (tokens.get(market.yes_token, Decimal(0)), ledger_yes)
        positions[market.no_token] = (tokens.get(market.no_token, Decimal(0)), ledger_no)
    return MoneyCheck(collateral - funded, report.cash_delta, positions)


# -- time figures over the observer's samples -------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """The observer's samples as parallel lists: answer times and the order ids open then."""

    times: list[float]
    ids: list[frozenset[str]]

    def index_at_or_before(self, t: float) -> int:
        return bisect.bisect_right(self.times, t) - 1

    def open_seconds(self, start: float, end: float) -> tuple[float, set[str]]:
        """Seconds within [start, end] the bot had any open order (each sample holds until the next),
        and the ids seen open then."""
        if end <= start or not self.times:
            return 0.0, set()
        total, seen = 0.0, set[str]()
        i = max(0, self.index_at_or_before(start))
        while i < len(self.times) and self.times[i] < end:
            held_from = max(self.times[i], start)
            held_to = min(self.times[i + 1] if i + 1 < len(self.times) else end, end)
            if self.ids[i] and held_to > held_from:
                total += held_to - held_from
                seen |= self.ids[i]
            i += 1
        return total, seen

    def time_to_pull(self, t0: float, open_at_t0: frozenset[str]) -> float | None:
        """Seconds from t0 until a sample shows none of `open_at_t0` open; None when nothing was open
        or it never happened within the observation."""
        if not open_at_t0:
            return None
        for i in range(self.index_at_or_before(t0) + 1, len(self.times)):
            if not open_at_t0 & self.ids[i]:
                return self.times[i] - t0
        return None

    def time_to_quote(self, t: float) -> float | None:
        """Seconds from t until a sample shows the bot quoting again (None: it never did)."""
        for i in range(self.index_at_or_before(t) + 1, len(self.times)):
            if self.ids[i]:
                return self.times[i] - t
        return None

    def largest_gap(self) -> float:
        return max((b - a for a, b in itertools.pairwise(self.times)), default=0.0)


def summarise(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "max": None, "mean": None}
    return {"count": len(values), "max": round(max(values), 3), "mean": round(sum(values) / len(values), 3)}
