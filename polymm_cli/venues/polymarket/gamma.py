"""Market metadata: Gamma `/markets` items and CLOB `/markets/{condition_id}` objects -> `Market`.

Owns the quirks of the two listings (docs/protocol.md §3.4, §7.2): Gamma's `clobTokenIds` and `outcomes` are
JSON strings inside JSON; ticks arrive as JSON numbers (decoded as exact Decimals and snapped to the
canonical tick values, which the signers use as table keys); reward spreads are in cents; the taker
fee rate lives in `feeSchedule` (Gamma) or `/clob-markets` `fd` (CLOB). Pure functions: no I/O.
A market that does not parse raises `MarketParseError` and is skipped by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from polymm_cli.model import TICK_SIZES, ZERO, Market, RewardParams

_CANONICAL_TICKS = {t: t for t in TICK_SIZES}


class MarketParseError(ValueError):
    """A market object we cannot use (short message, safe to log)."""


def _decimal(value: Any, what: str, default: Decimal | None = None) -> Decimal:
    if value is None or value == "":
        if default is not None:
            return default
        raise MarketParseError(f"missing {what}")
    if isinstance(value, bool):
        raise MarketParseError(f"{what} is not a number")
    try:
        result = Decimal(value) if isinstance(value, Decimal | int) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MarketParseError(f"{what} is not a number: {str(value)[:24]!r}") from None
    if not result.is_finite() or result < 0:
        raise MarketParseError(f"{what} is not a non-negative number")
    return result


def canonical_tick(value: Any) -> Decimal:
    """A tick size as one of the venue's tick values (0.1 ... 0.0001); anything else is refused."""
    tick = _decimal(value, "tick size")
    canonical = _CANONICAL_TICKS.get(tick)
    if canonical is None:
        raise MarketParseError(f"unsupported tick size {tick}")
    return canonical


def _json_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise MarketParseError(f"{what} is not a JSON list") from None
    if not isinstance(value, list):
        raise MarketParseError(f"{what} is not a list")
    return value


def _str(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def _bool(obj: Mapping[str, Any], key: str, default: bool) -> bool:
    value = obj.get(key)
    return value if isinstance(value, bool) else default


def _yes_no(tokens: list[str], outcomes: list[str]) -> tuple[str, str]:
    """(yes, no) token ids; names other than Yes/No keep the listing's order (first = "yes")."""
    if len(tokens) != 2 or not all(isinstance(t, str) and t.isdigit() for t in tokens):
        raise MarketParseError("not a two-outcome market with token ids")
    names = [str(o).strip().lower() for o in outcomes]
    if names == ["no", "yes"]:
        return tokens[1], tokens[0]
    return tokens[0], tokens[1]


def _condition_id(value: str) -> str:
    if not (value.startswith("0x") and len(value) == 66):
        raise MarketParseError("missing or malformed condition id")
    return value


def parse_gamma_market(obj: Any) -> Market:
    """A Gamma `/markets` item as a Market (raises MarketParseError)."""
    if not isinstance(obj, Mapping):
        raise MarketParseError("market is not an object")
    tokens = _json_list(obj.get("clobTokenIds"), "clobTokenIds")
    outcomes = _json_list(obj.get("outcomes", "[]"), "outcomes")
    if outcomes and len(outcomes) != len(tokens):
        raise MarketParseError("outcomes and clobTokenIds differ in length")
    yes, no = _yes_no(tokens, [str(o) for o in outcomes])
    daily = ZERO
    rewards = obj.get("clobRewards")
    if isinstance(rewards, list):
        for reward in rewards:
            if isinstance(reward, Mapping):
                daily += _decimal(reward.get("rewardsDailyRate"), "rewardsDailyRate", ZERO)
    fees = obj.get("feeSchedule")
    fee_rate, exponent, rebate_rate = ZERO, 1, ZERO
    if isinstance(fees, Mapping):
        fee_rate = _decimal(fees.get("rate"), "feeSchedule.rate", ZERO)
        rebate_rate = _decimal(fees.get("rebateRate"), "feeSchedule.rebateRate", ZERO)
        raw_exp = fees.get("exponent")
        if isinstance(raw_exp, int | Decimal) and not isinstance(raw_exp, bool):
            exponent = int(raw_exp)
    return Market(
        condition_id=_condition_id(_str(obj, "conditionId")),
        question=_str(obj, "question"),
        slug=_str(obj, "slug"),
        yes_token=yes,
        no_token=no,
        tick_size=canonical_tick(obj.get("orderPriceMinTickSize")),
        min_order_size=_decimal(obj.get("orderMinSize"), "orderMinSize", ZERO),
        neg_risk=_bool(obj, "negRisk", False),
        rewards=RewardParams(
            max_spread_cents=_decimal(obj.get("rewardsMaxSpread"), "rewardsMaxSpread", ZERO),
            min_size=_decimal(obj.get("rewardsMinSize"), "rewardsMinSize", ZERO),
            daily_rate=daily,
        ),
        taker_fee_rate=fee_rate,
        fee_exponent=exponent,
        maker_rebate_rate=rebate_rate,
        end_date=_str(obj, "endDate"),
        category=_str(obj, "category"),
        active=_bool(obj, "active", False),
        closed=_bool(obj, "closed", True),
        accepting_orders=_bool(obj, "acceptingOrders", False),
        neg_risk_market_id=_str(obj, "negRiskMarketID"),
        winner=_gamma_winner(obj, [str(t) for t in tokens]),
    )


def _gamma_winner(obj: Mapping[str, Any], tokens: list[str]) -> str:
    """The winning token of a market Gamma reports resolved (`umaResolutionStatus` "resolved",
    closed, outcome prices exactly 1 and 0); "" for any other market."""
    if _str(obj, "umaResolutionStatus") != "resolved" or not _bool(obj, "closed", False):
        return ""
    try:
        prices = [Decimal(str(p)) for p in _json_list(obj.get("outcomePrices", "[]"), "outcomePrices")]
    except (InvalidOperation, MarketParseError):
        return ""
    if len(prices) != 2 or sorted(prices) != [0, 1]:
        return ""
    return tokens[prices.index(Decimal(1))]  # outcomePrices run in clobTokenIds' order


def gamma_tradable(obj: Mapping[str, Any], market: Market) -> bool:
    """Active, not closed, accepting orders, with an order book."""
    return (
        market.active
        and not market.closed
        and market.accepting_orders
        and _bool(obj, "enableOrderBook", True)
        and not _bool(obj, "archived", False)
    )


def parse_clob_market(obj: Any, params: Any = None) -> Market:
    """A CLOB `/markets/{condition_id}` object as a Market; `params` is the optional
    `/clob-markets/{condition_id}` object, the only CLOB source of the taker fee rate."""
    if not isinstance(obj, Mapping):
        raise MarketParseError("market is not an object")
    raw_tokens = obj.get("tokens")
    if not isinstance(raw_tokens, list) or not all(isinstance(t, Mapping) for t in raw_tokens):
        raise MarketParseError("market has no token list")
    tokens = [_str(t, "token_id") for t in raw_tokens]
    yes, no = _yes_no(tokens, [_str(t, "outcome") for t in raw_tokens])
    rewards = obj.get("rewards") if isinstance(obj.get("rewards"), Mapping) else {}
    assert isinstance(rewards, Mapping)
    daily = ZERO
    rates = rewards.get("rates")
    if isinstance(rates, list):
        for rate in rates:
            if isinstance(rate, Mapping):
                daily += _decimal(rate.get("rewards_daily_rate"), "rewards_daily_rate", ZERO)
    fee_rate, exponent = ZERO, 1
    if isinstance(params, Mapping) and isinstance(params.get("fd"), Mapping):
        fd = params["fd"]
        fee_rate = _decimal(fd.get("r"), "fd.r", ZERO)
        raw_exp = fd.get("e")
        if isinstance(raw_exp, int | Decimal) and not isinstance(raw_exp, bool):
            exponent = int(raw_exp)
    tags = obj.get("tags")
    category = str(tags[0]) if isinstance(tags, list) and tags else ""
    return Market(
        condition_id=_condition_id(_str(obj, "condition_id")),
        question=_str(obj, "question"),
        slug=_str(obj, "market_slug"),
        yes_token=yes,
        no_token=no,
        tick_size=canonical_tick(obj.get("minimum_tick_size")),
        min_order_size=_decimal(obj.get("minimum_order_size"), "minimum_order_size", ZERO),
        neg_risk=_bool(obj, "neg_risk", False),
        rewards=RewardParams(
            max_spread_cents=_decimal(rewards.get("max_spread"), "rewards.max_spread", ZERO),
            min_size=_decimal(rewards.get("min_size"), "rewards.min_size", ZERO),
            daily_rate=daily,
        ),
        taker_fee_rate=fee_rate,
        fee_exponent=exponent,
        end_date=_str(obj, "end_date_iso"),
        category=category,
        active=_bool(obj, "active", False),
        closed=_bool(obj, "closed", True),
        accepting_orders=_bool(obj, "accepting_orders", False),
        neg_risk_market_id=_str(obj, "neg_risk_market_id"),
        winner=next((_str(t, "token_id") for t in raw_tokens if t.get("winner") is True), ""),
    )
