"""Choosing markets by rule (`polymm run --select ... --top N`): the rule language, ranking, re-selection.

A selection is comma-separated rules `FIELD OP VALUE` (`rewards>=50,volume>=10000,spread<=0.03`); a
market is chosen when it passes every rule. Operators: `>=` `<=` `>` `<` `=` `!=`; text and yes/no
fields take `=` and `!=` only. A figure a market does not have (no two-sided book: no spread, no
mid; no end date) fails every rule on it. `parse_rules` is strict: an unknown field, operator or
value is one line naming it (`SelectionError`).

Ranking (`--rank FIELD`, default `ours`) orders the markets that pass, highest first (`-FIELD`:
lowest first). Re-selection keeps every market already quoted that still passes (no churn from
rank shuffles: a wind-down costs cancels and maybe a liquidation) and fills the free slots best
first; a market is dropped when it fails a rule or is no longer listed (closed, not accepting
orders). Pure: figures in, choices out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from polymm_cli.model import Market, decimal_str

DAY_S = Decimal(86_400)


class SelectionError(ValueError):
    """A rule, rank or count that cannot be used; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A listed market with the figures rules read; the book's are without our own orders."""

    market: Market
    mid: Decimal | None = None
    spread: Decimal | None = None
    liquidity: Decimal | None = None  # pUSD resting in the top 10 levels of the YES book, both sides
    ours: Decimal | None = None  # pUSD/day our configured quotes would earn from the pool at this book


@dataclass(frozen=True, slots=True)
class Field:
    kind: str  # "number", "text" or "bool"
    needs_book: bool
    meaning: str
    read: Callable[[Candidate, float], Decimal | str | bool | None]


def _days_left(c: Candidate, now: float) -> Decimal | None:
    end = c.market.end_date
    if not end:
        return None
    try:
        ends = datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return (Decimal(str(ends)) - Decimal(str(now))) / DAY_S


FIELDS: dict[str, Field] = {
    "rewards": Field(
        "number", False, "the reward pool's daily rate, pUSD/day", lambda c, _: c.market.rewards.daily_rate
    ),
    "reward_band": Field(
        "number",
        False,
        "the reward band: max spread from the mid that scores, in cents",
        lambda c, _: c.market.rewards.max_spread_cents,
    ),
    "reward_min": Field(
        "number", False, "the reward's minimum order size, shares", lambda c, _: c.market.rewards.min_size
    ),
    "ours": Field(
        "number",
        True,
        "pUSD/day our configured quotes would earn from the pool at this book",
        lambda c, _: c.ours,
    ),
    "volume": Field("number", False, "volume as the listing reports it, pUSD", lambda c, _: c.market.volume),
    "liquidity": Field(
        "number", True, "pUSD resting in the top 10 levels of the YES book", lambda c, _: c.liquidity
    ),
    "spread": Field("number", True, "YES best ask - best bid (without our orders)", lambda c, _: c.spread),
    "mid": Field("number", True, "the YES mid (without our orders)", lambda c, _: c.mid),
    "tick": Field("number", False, "the tick size", lambda c, _: c.market.tick_size),
    "min_size": Field(
        "number", False, "the minimum order size, shares", lambda c, _: c.market.min_order_size
    ),
    "fee": Field("number", False, "the taker fee rate", lambda c, _: c.market.taker_fee_rate),
    "rebate": Field(
        "number",
        False,
        "the share of taker fees paid back to makers",
        lambda c, _: c.market.maker_rebate_rate,
    ),
    "days_left": Field("number", False, "days until the end date", _days_left),
    "category": Field(
        "text", False, "the listing's category (any case)", lambda c, _: c.market.category.lower()
    ),
    "neg_risk": Field(
        "bool", False, "a neg-risk (multi-outcome) market: true or false", lambda c, _: c.market.neg_risk
    ),
}

OPERATORS: dict[str, Callable[[object, object], bool]] = {
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "=": lambda a, b: a == b,
}
_RULE = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|!=|=|>|<)\s*([^\s<>=!].*?)\s*$")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}


@dataclass(frozen=True, slots=True)
class Rule:
    field: str
    op: str
    value: Decimal | str | bool

    def __str__(self) -> str:
        value = decimal_str(self.value) if isinstance(self.value, Decimal) else str(self.value).lower()
        return f"{self.field}{self.op}{value}"

    @property
    def needs_book(self) -> bool:
        return FIELDS[self.field].needs_book

    def figure(self, c: Candidate, now: float) -> Decimal | str | bool | None:
        return FIELDS[self.field].read(c, now)

    def holds(self, c: Candidate, now: float) -> bool:
        figure = self.figure(c, now)
        return figure is not None and OPERATORS[self.op](figure, self.value)


def fields_help() -> str:
    return ", ".join(FIELDS)


def parse_rules(text: str) -> tuple[Rule, ...]:
    """`rewards>=50,spread<=0.03` -> rules; SelectionError (one line) for anything it cannot read."""
    if not text.strip():
        raise SelectionError("--select is empty: give rules like 'rewards>=50,spread<=0.03'")
    return tuple(_parse_rule(part) for part in text.split(","))


def _parse_rule(part: str) -> Rule:
    if not part.strip():
        raise SelectionError("--select has an empty rule (two commas, or one at an end)")
    match = _RULE.match(part)
    if match is None:
        raise SelectionError(f"--select: {part.strip()!r} is not FIELD OP VALUE (operators: >= <= > < = !=)")
    name, op, raw = match.group(1).lower(), match.group(2), match.group(3)
    spec = FIELDS.get(name)
    if spec is None:
        raise SelectionError(f"--select: unknown field {name!r} (fields: {fields_help()})")
    if spec.kind != "number" and op not in ("=", "!="):
        raise SelectionError(f"--select: {name} takes = or != only, got {op}")
    return Rule(name, op, _value(name, spec.kind, raw))


def _value(name: str, kind: str, raw: str) -> Decimal | str | bool:
    if kind == "text":
        return raw.lower()
    if kind == "bool":
        if raw.lower() not in _BOOLS:
            raise SelectionError(f"--select: {name} is true or false, got {raw!r}")
        return _BOOLS[raw.lower()]
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise SelectionError(f"--select: {name}: {raw!r} is not a number") from None
    if not number.is_finite():
        raise SelectionError(f"--select: {name}: {raw!r} is not a finite number")
    return number


@dataclass(frozen=True, slots=True)
class Ranking:
    field: str
    descending: bool = True

    def __str__(self) -> str:
        return self.field if self.descending else f"-{self.field}"


def parse_rank(text: str) -> Ranking:
    """`volume` (highest first) or `-spread` (lowest first): a numeric field."""
    raw = text.strip()
    name = raw.removeprefix("-").lower()
    spec = FIELDS.get(name)
    if spec is None or spec.kind != "number":
        numeric = ", ".join(k for k, f in FIELDS.items() if f.kind == "number")
        raise SelectionError(
            f"--rank: {raw!r} is not a numeric field (one of {numeric}; -FIELD ranks lowest first)"
        )
    return Ranking(name, descending=not raw.startswith("-"))


def ranked(candidates: Sequence[Candidate], ranking: Ranking, now: float) -> list[Candidate]:
    """Best first by the ranking's figure (markets without it last); ties go to the bigger reward
    pool, then the bigger volume, then the slug: deterministic."""
    read = FIELDS[ranking.field].read

    def key(c: Candidate) -> tuple[bool, float, float, float, str]:
        figure = read(c, now)
        pool, volume = -float(c.market.rewards.daily_rate), -float(c.market.volume)  # ties: bigger first
        if not isinstance(figure, Decimal):
            return (True, 0.0, pool, volume, c.market.slug)
        value = float(figure)
        return (False, -value if ranking.descending else value, pool, volume, c.market.slug)

    return sorted(candidates, key=key)


def failed_rule(c: Candidate, rules: Sequence[Rule], now: float) -> str | None:
    """Why a market does not pass ("spread 0.05 fails spread<=0.03"), or None when it passes all."""
    for rule in rules:
        if not rule.holds(c, now):
            figure = rule.figure(c, now)
            shown = (
                "n/a"
                if figure is None
                else decimal_str(figure)
                if isinstance(figure, Decimal)
                else str(figure)
            )
            return f"{rule.field} {shown} fails {rule}"
    return None


@dataclass(frozen=True, slots=True)
class Choice:
    """What a (re-)selection decided: the markets to quote (best first), and those to wind down."""

    chosen: tuple[Candidate, ...]
    dropped: dict[str, str]  # condition id -> why (of the markets held)
    rejected: dict[str, str] = field(default_factory=dict)  # condition id -> why, of those listed

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.market.condition_id for c in self.chosen)


def choose(
    candidates: Sequence[Candidate],
    rules: Sequence[Rule],
    *,
    top: int,
    ranking: Ranking,
    now: float,
    held: Sequence[str] = (),
    excluded: dict[str, str] | None = None,
) -> Choice:
    """The markets to quote: those `held` that still pass stay, free slots go best first; `excluded`
    (condition id -> why: a market we cannot quote) never passes."""
    if top < 1:
        raise SelectionError(f"--top must be at least 1, got {top}")
    excluded = excluded or {}
    why_not = {
        c.market.condition_id: excluded.get(c.market.condition_id) or failed_rule(c, rules, now)
        for c in candidates
    }
    passing = [c for c in candidates if why_not[c.market.condition_id] is None]
    kept = ranked([c for c in passing if c.market.condition_id in held], ranking, now)[:top]
    fresh = ranked([c for c in passing if c.market.condition_id not in held], ranking, now)
    chosen = ranked([*kept, *fresh[: top - len(kept)]], ranking, now)
    chosen_ids = {c.market.condition_id for c in chosen}
    dropped = {
        cid: why_not.get(cid)
        or ("no longer listed (closed or not accepting orders)" if cid not in why_not else "ranked out")
        for cid in held
        if cid not in chosen_ids
    }
    rejected = {cid: why for cid, why in why_not.items() if why is not None}
    return Choice(tuple(chosen), dropped, rejected)
