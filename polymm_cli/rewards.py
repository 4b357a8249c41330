"""Polymarket liquidity-reward scoring (docs/protocol.md §11): what a resting order, a side and a book score.

Owns the documented scoring maths, restated:

- the order score `S(v, s) = ((v - s) / v)^2 * b`: `v` = the market's max spread in cents, `s` = the
  order's distance in cents from the midpoint of ITS OWN token (the NO token's mid is 1 - the YES
  mid), `b` = an in-game multiplier (1 outside live sports); 0 when `s >= v`, when `v <= 0`, or
  when the order is smaller than the reward min size;
- `Q_one = Σ S·BidSize(m) + Σ S·AskSize(m')` (liquidity that buys m) and
  `Q_two = Σ S·AskSize(m) + Σ S·BidSize(m')` (liquidity that sells m), with m = YES and m' = NO;
- two-sidedness, c = 3: a midpoint in [0.10, 0.90] (inclusive) gives
  `Q_min = max(min(Q_one, Q_two), max(Q_one / c, Q_two / c))` (one-sided quoting earns a third),
  outside it `Q_min = min(Q_one, Q_two)` (both sides required);
- our share of the daily pool as a snapshot: `daily_rate x ours / (ours + others)`.

YES terms. A bid on YES at p (BUY YES) and an ask on NO at 1 - p (SELL NO) both sit in Q_one at
the same distance |p - mid| (|(1 - p) - (1 - mid)| = |p - mid|); an ask on YES at p and a bid on NO
at 1 - p both sit in Q_two. So any order can be scored from its YES-terms side and price alone,
which is how `scoring_status` and `book_q_min` work (the caller converts a NO order at q to YES
price 1 - q, as `TargetQuote.yes_price` already does). `RewardOrder` keeps the documented
per-token shape for the worked example and for callers that hold raw orders.

The distance is |price - token mid|, whichever side of the mid the order is on: the documented
worked example scores a 0.485 order as an ask on m for Q_two, 1.5c from the 0.50 mid.

Open point (docs/protocol.md §11, UNCONFIRMED): the venue scores against a "size-cutoff-adjusted" midpoint;
callers pass the mid they have (the book mid), so a status here is an estimate, and
`GET /order-scoring` is the venue's own answer.

Must not: import anything but stdlib, decimal and `polymm_cli.model`; do I/O; read a clock. Money
is `Decimal` throughout; values are quantized only for display (`display`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from polymm_cli.model import ONE, ZERO, RewardParams

RewardSide = Literal["bid", "ask"]
RewardToken = Literal["m", "m'"]

C_DEFAULT = Decimal(3)  # the documented two-sidedness divisor
BAND_LOW = Decimal("0.10")  # inside [BAND_LOW, BAND_HIGH] one-sided liquidity still earns Q / c
BAND_HIGH = Decimal("0.90")

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RewardOrder:
    """Size resting on one side of one of the two complementary tokens, in that token's own terms.

    `token` "m" is the YES token, "m'" the NO token; `side` and `price` are the order's on that token
    (a SELL NO at 0.51 is `RewardOrder("ask", "m'", 0.51, size)`).
    """

    side: RewardSide
    token: RewardToken
    price: Decimal
    size: Decimal


def order_score(max_spread_cents: Decimal, distance_cents: Decimal, multiplier: Decimal = ONE) -> Decimal:
    """S(v, s) = ((v - s) / v)^2 * b; 0 when s >= v or v <= 0.

    A distance is a magnitude: a negative `distance_cents` counts as its absolute value.
    """
    v = max_spread_cents
    s = abs(distance_cents)
    if v <= ZERO or s >= v:
        return ZERO
    ratio = (v - s) / v
    return ratio * ratio * multiplier


def distance_cents(price: Decimal, mid: Decimal) -> Decimal:
    """|price - mid| in cents (both in the same token's terms)."""
    return abs(price - mid) * _HUNDRED


def _token_mid(token: RewardToken, mid: Decimal) -> Decimal:
    return mid if token == "m" else ONE - mid


def _q(
    orders: Iterable[RewardOrder],
    mid: Decimal,
    max_spread_cents: Decimal,
    min_size: Decimal,
    multiplier: Decimal,
    wanted: tuple[tuple[RewardSide, RewardToken], tuple[RewardSide, RewardToken]],
) -> Decimal:
    total = ZERO
    for o in orders:
        if (o.side, o.token) not in wanted or o.size < min_size or o.size <= ZERO:
            continue
        s = distance_cents(o.price, _token_mid(o.token, mid))
        total += order_score(max_spread_cents, s, multiplier) * o.size
    return total


def q_one(
    orders: Iterable[RewardOrder],
    mid: Decimal,
    max_spread_cents: Decimal,
    *,
    min_size: Decimal = ZERO,
    multiplier: Decimal = ONE,
) -> Decimal:
    """Q_one = Σ S·BidSize(m) + Σ S·AskSize(m'): the scored liquidity that buys m.

    `mid` is m's (YES) midpoint; m' orders are measured from 1 - mid. Orders below `min_size` (the
    market's reward min size) score 0; other orders in `orders` (asks on m, bids on m') are ignored.
    """
    return _q(orders, mid, max_spread_cents, min_size, multiplier, (("bid", "m"), ("ask", "m'")))


def q_two(
    orders: Iterable[RewardOrder],
    mid: Decimal,
    max_spread_cents: Decimal,
    *,
    min_size: Decimal = ZERO,
    multiplier: Decimal = ONE,
) -> Decimal:
    """Q_two = Σ S·AskSize(m) + Σ S·BidSize(m'): the scored liquidity that sells m (see `q_one`)."""
    return _q(orders, mid, max_spread_cents, min_size, multiplier, (("ask", "m"), ("bid", "m'")))


def q_min(q_one: Decimal, q_two: Decimal, midpoint: Decimal, c: Decimal = C_DEFAULT) -> Decimal:
    """The two-sidedness rule: inside [0.10, 0.90] max(min(Q1, Q2), max(Q1/c, Q2/c)), else min(Q1, Q2)."""
    low = min(q_one, q_two)
    if BAND_LOW <= midpoint <= BAND_HIGH:
        return max(low, q_one / c, q_two / c)
    return low


def scoring_status(
    order_yes_price: Decimal,
    order_size: Decimal,
    side: RewardSide,
    mid: Decimal,
    rewards: RewardParams,
) -> tuple[bool, str]:
    """Whether one of our orders scores for liquidity rewards, and why (not), in YES terms.

    An order on NO at q is a YES-side order at 1 - q (a BUY NO is an ask, a SELL NO a bid): the
    caller converts. Checks, in order: the market pays rewards; the size reaches the reward min
    size; the distance from `mid` is strictly inside the max spread. A scoring order whose mid is
    outside [0.10, 0.90] is flagged: there it counts only if the other side is quoted too.
    """
    price_txt = display(order_yes_price, 4)
    if not rewards.active:
        return False, "market pays no liquidity rewards"
    if order_size < rewards.min_size:
        return False, (
            f"{side} size {display(order_size)} below the reward min size {display(rewards.min_size)}"
        )
    dist = distance_cents(order_yes_price, mid)
    v = rewards.max_spread_cents
    if dist >= v:
        return False, (
            f"{side} {price_txt} is {display(dist)}c from the mid {display(mid, 4)}: "
            f"at or beyond the max spread {display(v)}c"
        )
    why = (
        f"{side} {price_txt} is {display(dist)}c from the mid {display(mid, 4)} (max spread {display(v)}c), "
        f"size {display(order_size)} >= reward min {display(rewards.min_size)}"
    )
    if not BAND_LOW <= mid <= BAND_HIGH:
        why += "; mid outside [0.10, 0.90]: it counts only if the other side is quoted too"
    return True, why


def estimated_reward_rate(our_q_min: Decimal, others_q_min: Decimal, daily_rate: Decimal) -> Decimal:
    """Our share of the daily pool per day: daily_rate x ours / (ours + others); 0 when both are 0.

    A snapshot: it assumes this sample's shares hold for every sample of the day (the venue pays
    the average of per-minute shares).
    """
    total = our_q_min + others_q_min
    if total <= ZERO:
        return ZERO
    return daily_rate * our_q_min / total


def book_q_min(
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    rewards: RewardParams,
    mid: Decimal,
    *,
    c: Decimal = C_DEFAULT,
    multiplier: Decimal = ONE,
) -> Decimal:
    """Q_min of a whole YES book: the liquidity we compete with for the pool.

    `bids` and `asks` are the YES book's levels, best first, as (price, size). The NO book is the
    mirror of the YES book (a resting NO bid at 1 - p is shown as a YES ask at p and vice versa:
    one order, two views), so counting both books would count every order twice. The YES book is
    therefore the whole picture: Q_one = Σ S·size over the YES bids (BidSize(m), which already
    includes the NO asks) and Q_two = Σ S·size over the YES asks (AskSize(m), which includes the NO
    bids), each measured from the YES `mid`.

    A level's size is the sum of many orders, whose individual sizes a book does not show: a level
    smaller than the reward min size cannot hold a scoring order and is left out, a larger one is
    counted whole. That over-counts others (some of their orders may be too small), so a share
    computed from it errs low. The same function scores OUR orders exactly when given one
    (yes_price, size) pair per order. 0 when the market pays no rewards.
    """
    if not rewards.active:
        return ZERO
    v = rewards.max_spread_cents
    min_size = rewards.min_size
    one = ZERO
    for price, size in bids:
        dist = (mid - price) * _HUNDRED
        if dist >= v:
            break  # best first: every later bid is further from the mid
        if size >= min_size and size > ZERO:
            one += order_score(v, dist, multiplier) * size
    two = ZERO
    for price, size in asks:
        dist = (price - mid) * _HUNDRED
        if dist >= v:
            break
        if size >= min_size and size > ZERO:
            two += order_score(v, dist, multiplier) * size
    return q_min(one, two, mid, c)


def display(value: Decimal, places: int = 2) -> str:
    """A value for people: quantized to `places` decimals, trailing zeros dropped ("111.11", "3.5")."""
    text = f"{value.quantize(ONE.scaleb(-places)):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
