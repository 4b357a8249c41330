"""The anchor's side of the validation: polymm market events -> hftbacktest's event array, and a
fixed-spread market maker written as a numba strategy for hftbacktest (2.4, PyPI).

The converter keeps ONE token's book, the YES token's (the book polymm quotes and matches against):
- a YES `BookSnapshot` clears the book (DEPTH_CLEAR_EVENT) and sets every level (DEPTH_SNAPSHOT_EVENT);
- each YES `LevelUpdate` is a DEPTH_EVENT with the level's new total (BUY = bid side, SELL = ask side);
- NO-token book data is used only for a market without any YES book data: mirrored, a NO bid at p is a
  YES ask at 1 - p (as polymm's fill simulator does);
- a `LastTrade` is a TRADE_EVENT flagged with the taker's side; a NO trade at p is a YES trade at 1 - p
  with the other side (a taker buying NO sells YES);
- times: the exchange sees an event when it was received (`exch_ts` = recv_ts: polymm's simulator matches
  there too) and the strategy `market_data_ns` later (`local_ts`), in nanoseconds. The venue's own
  timestamp is not used: it has millisecond steps and runs backwards in captures.

The strategy is polymm's quoter with every optional rule off (no skew, microprice, regime rule, reward
fitting, dust or trust rule), so the two can be compared fill for fill: bid = mid - spread/2 rounded down,
ask = mid + spread/2 rounded up, clamped to [tick, 1 - tick] and one tick short of the other side's best
(post-only); a side at the position limit is not quoted and a size is cut so one fill cannot pass it; a
size below the market minimum is not quoted. Which order carries a side follows polymm too (the ask
SELLs held YES when that covers the minimum, else BUYs NO; the bid the mirror), because polymm replaces an
order whose carrier changed. A live order is kept while its price is the target's and its remaining size
is within 20% under the target's (reconcile's tolerance), else cancelled and replaced, as polymm's
engine does: the cancels and the places go out together and both take `entry_ns` (responses take
no time; the places are sent first) when the places pass polymm's risk rules with every order being
cancelled still resting (the engine's `_may_overlap`: position limit, free inventory, no self-cross,
order count), else the cancels go out, take `entry_ns`, then the places, which take `entry_ns` to
rest (`overlap` off: always so, the engine's `overlap_cancels` off). A decision is made at each feed
burst (all rows with one local time) and at each fill, and again right after acting, as polymm's
engine does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
from hftbacktest import BUY_EVENT as HBT_BUY
from hftbacktest import (
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EXCH_EVENT,
    GTX,
    LIMIT,
    LOCAL_EVENT,
    TRADE_EVENT,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest import SELL_EVENT as HBT_SELL
from hftbacktest.binding import event_dtype
from numba import njit

from polymm_cli.book import OrderBook
from polymm_cli.model import ONE, ZERO, Market, Side
from polymm_cli.venues.base import BookSnapshot, LastTrade, PriceChange

BOTH = EXCH_EVENT | LOCAL_EVENT
NS = 1_000_000_000


def ns(t: float) -> int:
    """Seconds -> nanoseconds, to the microsecond: exact for unix times in a float (a nanosecond is not)."""
    return round(t * 1_000_000) * 1000


_WAIT_NS = 60 * NS  # wait_next_feed's timeout: a quiet minute is not the end of the data
_BIG = 1 << 62


class TimedLike(Protocol):
    """One item of the replay's timeline (backtest.replay.monotone yields these): the exchange time
    `at` (seconds), the event with its delivery time in `recv_ts`, or a gap."""

    @property
    def at(self) -> float: ...
    @property
    def event(self) -> Any: ...
    @property
    def gap(self) -> str: ...


@dataclass(frozen=True)
class Feed:
    """The hftbacktest input for one market: the event rows and when quoting is allowed.

    `windows`: [start_ns, end_ns) local times in which polymm's engine would quote."""

    rows: np.ndarray[Any, Any]
    windows: np.ndarray[Any, Any]
    first_ns: int
    last_ns: int


@dataclass
class _Builder:
    """The rows of one market, and when polymm's engine would quote: its feed is live (from its start,
    until a gap, again from the next book snapshot) and its YES book is neither crossed nor locked
    (the quoter's rule; hftbacktest's depth hides crossed levels instead, so the book is kept here
    too, as polymm keeps it)."""

    market: Market
    mirror_no: bool  # no YES book data in the recording: use the NO book, mirrored
    rows: list[tuple[int, int, int, float, float]] = field(default_factory=list)
    windows: list[list[int]] = field(default_factory=list)  # [start, end): end -1 = still open
    book: OrderBook = field(default_factory=lambda: OrderBook("YES"))
    live: bool = True
    crossed: bool = False
    exch: int = 0  # the current item's exchange and local times (ns)
    local: int = 0

    def event(self, ev: Any) -> None:
        """One timeline item's rows; then whether the engine may quote from now on."""
        if ev is None:
            self.live = False
        elif isinstance(ev, BookSnapshot):
            self.live = self.live or ev.token_id in self.market.tokens
            self.snapshot(ev)
        elif isinstance(ev, PriceChange):
            self.changes(ev)
        elif isinstance(ev, LastTrade):
            self.trade(ev)
        crossed = self.book.is_crossed
        if self.crossed and not crossed:
            self.restate_top()
        self.crossed = crossed
        self.allow(self.live and not crossed)

    def restate_top(self) -> None:
        """A crossed book just cleared: hftbacktest's depth hid the levels the cross went through and
        does not bring them back; polymm's book kept them. Restating both best levels (same size)
        moves hftbacktest's best prices to polymm's."""
        for side, flag in ((Side.BUY, HBT_BUY), (Side.SELL, HBT_SELL)):
            top = self.book.levels(side, 1)
            if top:
                self.add(DEPTH_EVENT | flag, top[0].price, top[0].size)

    def allow(self, allowed: bool) -> None:
        is_open = bool(self.windows) and self.windows[-1][1] < 0
        if allowed and not is_open:
            self.windows.append([self.local, -1])
        elif not allowed and is_open:
            self.windows[-1][1] = self.local

    def add(self, ev: int, px: Decimal, qty: Decimal) -> None:
        self.rows.append((ev | BOTH, self.exch, self.local, float(px), float(qty)))
        kind = ev & 0xFF  # the event kind is a number in the low bits, not a flag
        if kind == DEPTH_CLEAR_EVENT:
            self.book.clear()
        elif kind in (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT):
            self.book.apply_level(Side.BUY if ev & HBT_BUY else Side.SELL, px, qty)

    def book_side(self, token: str, side: Side) -> tuple[int, bool] | None:
        """The YES-book side flag of a `side` level of `token`, and whether its price is mirrored."""
        if token == self.market.yes_token and not self.mirror_no:
            return (HBT_BUY if side is Side.BUY else HBT_SELL), False
        if token == self.market.no_token and self.mirror_no:
            return (HBT_SELL if side is Side.BUY else HBT_BUY), True
        return None

    def snapshot(self, snap: BookSnapshot) -> None:
        for levels, side in ((snap.bids, Side.BUY), (snap.asks, Side.SELL)):
            flag = self.book_side(snap.token_id, side)
            if flag is None:
                return
            if side is Side.BUY:
                self.add(DEPTH_CLEAR_EVENT, ZERO, ZERO)
            for level in levels:
                px = ONE - level.price if flag[1] else level.price
                self.add(DEPTH_SNAPSHOT_EVENT | flag[0], px, level.size)

    def changes(self, change: PriceChange) -> None:
        for u in change.updates:
            flag = self.book_side(u.token_id, u.side)
            if flag is not None:
                self.add(DEPTH_EVENT | flag[0], ONE - u.price if flag[1] else u.price, u.size)

    def trade(self, trade: LastTrade) -> None:
        if trade.token_id not in self.market.tokens:
            return
        taker_buys_yes = (trade.taker_side is Side.BUY) == (trade.token_id == self.market.yes_token)
        px = self.market.yes_price(trade.token_id, trade.price)
        self.add(TRADE_EVENT | (HBT_BUY if taker_buys_yes else HBT_SELL), px, trade.size)


def _has_yes_book(items: list[TimedLike], market: Market) -> bool:
    for item in items:
        ev = item.event
        if isinstance(ev, BookSnapshot) and ev.token_id == market.yes_token:
            return True
        if isinstance(ev, PriceChange) and any(u.token_id == market.yes_token for u in ev.updates):
            return True
    return False


def to_feed(
    timeline: Iterable[TimedLike],
    market: Market,
    *,
    warmup_s: float = 0.0,
    due: Callable[[float], float] = lambda recv_ts: recv_ts,
) -> Feed:
    """hftbacktest's rows for `market` from the replay's timeline (see the module docstring), and the
    windows in which polymm's engine would quote (see `_Builder`), from its start: the last item of
    the warm-up, when it subscribes and gets a snapshot of the books. `due`: when an event with
    this receive time reaches the engine (the paper venue's `Latency.due`)."""
    items = list(timeline)
    b = _Builder(market, not _has_yes_book(items, market))
    warm_until = items[0].at + warmup_s if items else 0.0
    start = 0
    for item in items:
        b.exch = max(ns(item.at), b.exch)  # both processors need monotone times
        ev = item.event
        b.local = max(ns(due(ev.recv_ts)), b.local, b.exch) if ev is not None else max(b.local, b.exch)
        if item.at < warm_until or not start:
            start, b.live = b.exch, True
        b.event(ev)
    rows = np.zeros(len(b.rows), dtype=event_dtype)
    if b.rows:
        ev_, exch, local, px, qty = zip(*b.rows, strict=True)
        rows["ev"], rows["exch_ts"], rows["local_ts"], rows["px"], rows["qty"] = ev_, exch, local, px, qty
    windows = [[max(s, start), e if e >= 0 else _BIG] for s, e in b.windows if e < 0 or e > start]
    first = ns(items[0].at) if items else 0
    return Feed(
        rows=rows, windows=np.array(windows, dtype=np.int64).reshape(-1, 2), first_ns=first, last_ns=b.exch
    )


# -- the strategy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrategyParams:
    tick: Decimal
    spread: Decimal
    size: Decimal
    position_limit: Decimal
    min_size: Decimal
    size_fraction: Decimal = Decimal("0.2")
    entry_s: float = 0.0  # order entry and cancel latency (constant)
    response_s: float = 0.0  # order responses (acks, fills) reach the strategy this much later
    fill_notice_s: float = 0.0  # the strategy acts on a fill this long after it (polymm: market_data_s)
    overlap: bool = True  # places beside the cancels when risk allows (polymm: overlap_cancels)
    max_orders: int = 10  # polymm: max_orders_per_market (risk rule 8, read by the overlap check)

    def array(self) -> np.ndarray[Any, Any]:
        half_ticks = self.spread / 2 / self.tick
        return np.array(
            [
                float(self.tick),
                float(half_ticks),
                float(self.size),
                float(self.position_limit),
                float(self.min_size),
                float(self.size_fraction),
                float(round(self.entry_s * NS)),
                float(round(1 / self.tick)),
                float(round(self.fill_notice_s * NS)),
                1.0 if self.overlap else 0.0,
                float(self.max_orders),
            ],
            dtype=np.float64,
        )


# params layout
P_TICK, P_HALF, P_SIZE, P_LIMIT, P_MIN, P_FRAC, P_ENTRY, P_NTICKS, P_NOTICE, P_OVERLAP, P_MAXORD = range(11)
# tracked orders: one row per order we placed and have not seen closed
T_ID, T_SIDE, T_SELL, T_LEAVES, T_PRICE, T_DEAD, T_DONE = range(7)
# targets: one row per side (0 = bid, 1 = ask)
G_ON, G_TICK, G_SIZE, G_SELL, G_CLAMPED = range(5)
# stats out
S_PLACED, S_CANCELLED, S_DECISIONS, S_MID, S_POSITION = range(5)
S_BALANCE, S_FEE, S_TRADES, S_VOLUME, S_LOGGED, S_WINDOW, S_WAKE = range(5, 12)
_NEW, _PARTIAL, _NONE = 1, 5, 0


@njit(cache=True)
def _floor2(x: float) -> float:
    return math.floor(x * 100.0 + 1e-7) / 100.0


@njit
def _sync(hbt: Any, trk: Any, hold: Any, p: Any, stats: Any, log: Any, force: bool) -> None:
    """What polymm's engine knows of our orders now: fills reach it `fill_notice_s` after they
    happen (user events come with the market-data delay), cancels and refusals at once. Known fills
    move the YES/NO holdings and are logged (exchange time, side +1 bid / -1 ask, price, size); a
    closed order is forgotten. `stats[S_WAKE]`: when the next fill not yet known becomes known.
    hold = [YES, NO as the engine knows them, YES, NO as they are]: the paper venue refuses a SELL
    of tokens we no longer hold, even when the engine does not know it yet."""
    orders = hbt.orders(0)
    now = hbt.current_timestamp
    stats[S_WAKE] = _BIG
    for i in range(trk.shape[0]):
        oid = int(trk[i, T_ID])
        o = orders.get(oid) if oid != 0 else None
        if o is None:
            trk[i, T_ID] = 0
            continue
        done = trk[i, T_DONE] - o.leaves_qty
        if done > 1e-9:
            _apply_fill(trk[i, T_SIDE], trk[i, T_SELL], done, hold[2:])
            trk[i, T_DONE] = o.leaves_qty
        filled = trk[i, T_LEAVES] - o.leaves_qty
        if filled > 1e-9:
            known_at = o.exch_timestamp + p[P_NOTICE]
            if now < known_at and not force:
                stats[S_WAKE] = min(stats[S_WAKE], known_at)
                continue
            _apply_fill(trk[i, T_SIDE], trk[i, T_SELL], filled, hold)
            trk[i, T_LEAVES] = o.leaves_qty
            _log_fill(log, stats, o.exch_timestamp, trk[i, T_SIDE], o.price, filled)
        if o.req == _NONE and o.status != _NEW and o.status != _PARTIAL:
            trk[i, T_ID] = 0


@njit(cache=True)
def _log_fill(log: Any, stats: Any, t: int, side: float, price: float, size: float) -> None:
    n = int(stats[S_LOGGED])
    if n < log.shape[0]:
        log[n, 0], log[n, 1], log[n, 2], log[n, 3] = t, side, price, size
        stats[S_LOGGED] = n + 1


@njit(cache=True)
def _apply_fill(side: float, sell: float, qty: float, hold: Any) -> None:
    """hold = [YES, NO]: a bid fill BUYs YES or SELLs NO, an ask fill SELLs YES or BUYs NO."""
    if side > 0:
        if sell > 0:
            hold[1] -= qty
        else:
            hold[0] += qty
    elif sell > 0:
        hold[0] -= qty
    else:
        hold[1] += qty


@njit(cache=True)
def _price_side(k: int, bb: int, ba: int, p: Any, tgt: Any) -> None:
    """One side's price (ticks): the mid -/+ half the spread rounded out (bid down, ask up), clamped
    to [tick, 1 - tick], then one tick short of the other side's best (post-only) if it reaches it."""
    n = p[P_NTICKS]
    mid = (bb + ba) / 2.0
    price = math.floor(mid - p[P_HALF] + 1e-9) if k == 0 else math.ceil(mid + p[P_HALF] - 1e-9)
    if price < 1 or price > n - 1:
        price = min(max(price, 1.0), n - 1.0)
        tgt[k, G_CLAMPED] = 1.0
    if (k == 0 and price >= ba) or (k == 1 and price <= bb):
        price = ba - 1.0 if k == 0 else bb + 1.0
        tgt[k, G_CLAMPED] = 1.0
        if price < 1 or price > n - 1:
            tgt[k, G_ON] = 0.0
    tgt[k, G_TICK] = price


@njit(cache=True)
def _size_side(k: int, e: float, hold: Any, p: Any, tgt: Any) -> None:
    """One side's size and carrier: the limit room, inventory held (SELL it when it covers the
    minimum, never more than held), cut to cents, not below the market minimum."""
    lean = e if k == 0 else -e
    size = min(p[P_SIZE], p[P_LIMIT] - lean)
    held = _floor2(hold[1] if k == 0 else hold[0])
    sell = held > 0 and held >= p[P_MIN] - 1e-9
    if sell and held < size:
        size = held
    size = _floor2(size)
    tgt[k, G_SIZE] = size
    tgt[k, G_SELL] = 1.0 if sell else 0.0
    if size <= 0 or size < p[P_MIN] - 1e-9:
        tgt[k, G_ON] = 0.0


@njit
def _targets(hbt: Any, hold: Any, p: Any, allowed: bool, tgt: Any) -> None:
    tgt[:, :] = 0.0
    depth = hbt.depth(0)
    bb, ba = depth.best_bid_tick, depth.best_ask_tick
    if not allowed or bb <= -_BIG or ba >= _BIG or bb >= ba or bb + ba <= 0 or bb + ba >= 2 * p[P_NTICKS]:
        return
    e = hold[0] - hold[1]
    for k in range(2):
        if (e if k == 0 else -e) < p[P_LIMIT]:  # at the limit: no quote that adds to it
            tgt[k, G_ON] = 1.0
            _price_side(k, bb, ba, p, tgt)
    if tgt[0, G_ON] > 0 and tgt[1, G_ON] > 0 and tgt[0, G_TICK] >= tgt[1, G_TICK]:
        tgt[0 if tgt[0, G_CLAMPED] > 0 else 1, G_ON] = 0.0  # only a clamp can cross us: it yields
    for k in range(2):
        if tgt[k, G_ON] > 0:
            _size_side(k, e, hold, p, tgt)


@njit(cache=True)
def _matches(row: Any, tgt: Any, k: int, frac: float) -> bool:
    if tgt[k, G_ON] <= 0 or row[T_SELL] != tgt[k, G_SELL] or row[T_PRICE] != tgt[k, G_TICK]:
        return False
    size: float = tgt[k, G_SIZE]
    leaves: float = row[T_LEAVES]
    return size * (1.0 - frac) - 1e-9 <= leaves <= size + 1e-9


@njit(cache=True)
def _keeps(trk: Any, tgt: Any, p: Any, kept: Any) -> None:
    """Mark in `kept` the sides a live order stands for: the first live order matching its side's
    target (reconcile's rule); every other live order is to be cancelled."""
    kept[:] = 0
    for i in range(trk.shape[0]):
        if trk[i, T_ID] == 0 or trk[i, T_DEAD] > 0:
            continue
        k = 0 if trk[i, T_SIDE] > 0 else 1
        if kept[k] == 0 and _matches(trk[i], tgt, k, p[P_FRAC]):
            kept[k] = 1


@njit(cache=True)
def _may_overlap(trk: Any, hold: Any, tgt: Any, p: Any) -> bool:
    """polymm's engine `_may_overlap`: whether the places pass risk with every live order (kept or
    about to be cancelled) still resting: worst-case position within the limit, SELLs covered by
    the free inventory, no self-cross (YES ticks), at most `max_orders` resting. Call before
    `_cancel_stale`, which marks the cancelled orders dead."""
    kept = np.zeros(2, dtype=np.int64)
    _keeps(trk, tgt, p, kept)
    up = down = hold[0] - hold[1]
    free = np.array([hold[1], hold[0]])  # what a SELL of each side sells: the bid NO, the ask YES
    top = np.array([-1.0, 1e9])  # our best bid and ask in YES ticks
    resting = 0
    for i in range(trk.shape[0]):
        if trk[i, T_ID] == 0 or trk[i, T_DEAD] > 0:
            continue
        k = 0 if trk[i, T_SIDE] > 0 else 1
        resting += 1
        up, down = (up + trk[i, T_LEAVES], down) if k == 0 else (up, down - trk[i, T_LEAVES])
        top[k] = max(top[k], trk[i, T_PRICE]) if k == 0 else min(top[k], trk[i, T_PRICE])
        free[k] -= trk[i, T_LEAVES] if trk[i, T_SELL] > 0 else 0.0
    for k in range(2):
        if tgt[k, G_ON] <= 0 or kept[k] > 0:
            continue
        size, price = tgt[k, G_SIZE], tgt[k, G_TICK]
        if (tgt[k, G_SELL] > 0 and size > free[k] + 1e-9) or resting >= p[P_MAXORD]:
            return False
        if k == 0 and (up + size > p[P_LIMIT] + 1e-9 or price >= top[1]):
            return False
        if k == 1 and (down - size < -p[P_LIMIT] - 1e-9 or price <= top[0]):
            return False
        up, down = (up + size, down) if k == 0 else (up, down - size)
        top[k] = max(top[k], price) if k == 0 else min(top[k], price)
        free[k] -= size if tgt[k, G_SELL] > 0 else 0.0
        resting += 1
    return True


@njit
def _cancel_stale(hbt: Any, trk: Any, tgt: Any, p: Any, kept: Any) -> int:
    """Cancel every live order no target keeps; mark in `kept` the sides a live order stands for.
    A cancelled order stands for nothing any more (as polymm's engine forgets it when the cancel
    returns, cancelled or already matched), but is still tracked for a fill not yet known. An order
    hftbacktest already filled is not sent a cancel: its rejection would count the fill twice in
    hftbacktest's state (2.4.4: the local side applies a response with status FILLED again)."""
    n = 0
    kept[:] = 0
    orders = hbt.orders(0)
    for i in range(trk.shape[0]):
        if trk[i, T_ID] == 0 or trk[i, T_DEAD] > 0:
            continue
        k = 0 if trk[i, T_SIDE] > 0 else 1
        if kept[k] == 0 and _matches(trk[i], tgt, k, p[P_FRAC]):  # as `_keeps` marks it
            kept[k] = 1
            continue
        o = orders.get(int(trk[i, T_ID]))
        if o is not None and o.req == _NONE and (o.status == _NEW or o.status == _PARTIAL):
            hbt.cancel(0, int(trk[i, T_ID]), False)
        trk[i, T_DEAD] = 1.0
        n += 1
    return n


@njit
def _place(hbt: Any, trk: Any, hold: Any, tgt: Any, p: Any, kept: Any, next_id: int) -> int:
    """Place the targets no live order stands for (post-only limit orders); the next free id."""
    for k in range(2):
        if tgt[k, G_ON] <= 0 or kept[k] > 0:
            continue
        price = tgt[k, G_TICK] * p[P_TICK]
        if tgt[k, G_SELL] > 0 and hold[3 if k == 0 else 2] < tgt[k, G_SIZE] - 1e-9:
            continue  # refused: not enough balance (the engine did not know a fill took the tokens)
        if k == 0:
            hbt.submit_buy_order(0, next_id, price, tgt[k, G_SIZE], GTX, LIMIT, False)
        else:
            hbt.submit_sell_order(0, next_id, price, tgt[k, G_SIZE], GTX, LIMIT, False)
        for i in range(trk.shape[0]):
            if trk[i, T_ID] == 0:
                trk[i, T_ID], trk[i, T_SIDE], trk[i, T_SELL] = next_id, 1.0 - 2.0 * k, tgt[k, G_SELL]
                trk[i, T_LEAVES], trk[i, T_PRICE], trk[i, T_DEAD] = tgt[k, G_SIZE], tgt[k, G_TICK], 0.0
                trk[i, T_DONE] = tgt[k, G_SIZE]
                break
        next_id += 1
    return next_id


@njit(cache=True)
def _allowed(now: int, windows: Any, stats: Any) -> bool:
    """Whether `now` is in a quoting window (times only move on: a cursor in `stats` remembers where)."""
    i = int(stats[S_WINDOW])
    while i < windows.shape[0] and windows[i, 1] <= now:
        i += 1
    stats[S_WINDOW] = i
    return bool(i < windows.shape[0] and windows[i, 0] <= now)


@njit
def _decide(hbt: Any, trk: Any, hold: Any, p: Any, windows: Any, stats: Any, log: Any, next_id: int) -> int:
    """One decision: targets, then the places and the cancels together when `_may_overlap` allows
    it (the places first, as polymm's engine sends them), else the cancels (then wait), then the
    places (then wait). The next free order id, negated when nothing was done."""
    tgt = np.zeros((2, 5))
    kept = np.zeros(2, dtype=np.int64)
    _sync(hbt, trk, hold, p, stats, log, False)
    _targets(hbt, hold, p, _allowed(hbt.current_timestamp, windows, stats), tgt)
    stats[S_DECISIONS] += 1
    together = p[P_OVERLAP] > 0 and _may_overlap(trk, hold, tgt, p)
    _keeps(trk, tgt, p, kept)
    places = int(tgt[0, G_ON] > 0 and kept[0] == 0) + int(tgt[1, G_ON] > 0 and kept[1] == 0)
    if together and places > 0:
        next_id = _place(hbt, trk, hold, tgt, p, kept, next_id)
        cancels = _cancel_stale(hbt, trk, tgt, p, kept)  # the new orders stand for their sides now
    else:
        cancels = _cancel_stale(hbt, trk, tgt, p, kept)
        if cancels > 0:
            hbt.elapse(int(p[P_ENTRY]))
            _sync(hbt, trk, hold, p, stats, log, False)
        if places > 0:
            next_id = _place(hbt, trk, hold, tgt, p, kept, next_id)
    stats[S_CANCELLED] += cancels
    if places > 0:
        stats[S_PLACED] += places
        hbt.elapse(int(p[P_ENTRY]))
    return next_id if cancels + places > 0 else -next_id


@njit
def _run(hbt: Any, p: Any, windows: Any, stats: Any, log: Any) -> None:
    trk = np.zeros((16, 7))
    hold = np.zeros(4)
    stats[S_WAKE] = _BIG
    next_id = 1
    while True:
        wait = min(_WAIT_NS, max(int(stats[S_WAKE]) - hbt.current_timestamp, 1))
        r = hbt.wait_next_feed(True, wait)
        if r == 1:
            break
        while True:  # decide again right after acting: the world moved while we waited
            nxt = _decide(hbt, trk, hold, p, windows, stats, log, next_id)
            if nxt < 0:
                next_id = -nxt
                break
            next_id = nxt
    _sync(hbt, trk, hold, p, stats, log, True)
    _final_stats(hbt, stats)


@njit
def _final_stats(hbt: Any, stats: Any) -> None:
    depth = hbt.depth(0)
    sv = hbt.state_values(0)
    stats[S_MID] = (depth.best_bid + depth.best_ask) / 2.0
    stats[S_POSITION], stats[S_BALANCE], stats[S_FEE] = sv.position, sv.balance, sv.fee
    stats[S_TRADES], stats[S_VOLUME] = sv.num_trades, sv.trading_volume


@dataclass(frozen=True)
class FillLog:
    t: float  # exchange time, seconds
    is_bid: bool
    yes_price: float
    size: float


@dataclass(frozen=True)
class AnchorResult:
    fills: int
    volume: float  # shares filled
    pnl: float  # pUSD: cash + position x final mid - fees
    position: float  # net YES shares at the end
    mid: float  # the final mid the position is marked at
    placed: int
    cancelled: int
    decisions: int
    fill_log: tuple[FillLog, ...] = ()  # our fills as the strategy saw them (partials seen at once merged)


def run_anchor(feed: Feed, params: StrategyParams, *, queue: str = "risk_averse") -> AnchorResult:
    """The fixed-spread strategy on `feed` in hftbacktest: risk-averse queue (or `power2`: the power-2
    probabilistic queue), partial fills, constant order latency, no fees (makers pay none)."""
    asset = (
        BacktestAsset()
        .data(feed.rows)
        .linear_asset(1.0)
        .constant_order_latency(round(params.entry_s * NS), round(params.response_s * NS))
        .partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(float(params.tick))
        .lot_size(0.000001)
        .last_trades_capacity(0)
    )
    asset = asset.risk_adverse_queue_model() if queue == "risk_averse" else asset.power_prob_queue_model(2.0)
    hbt = HashMapMarketDepthBacktest([asset])
    stats = np.zeros(12)
    log = np.zeros((100_000, 4))
    _run(hbt, params.array(), feed.windows, stats, log)
    hbt.close()
    return AnchorResult(
        fills=int(stats[S_TRADES]),
        volume=float(stats[S_VOLUME]),
        pnl=float(stats[S_BALANCE] + stats[S_POSITION] * stats[S_MID] - stats[S_FEE]),
        position=float(stats[S_POSITION]),
        mid=float(stats[S_MID]),
        placed=int(stats[S_PLACED]),
        cancelled=int(stats[S_CANCELLED]),
        decisions=int(stats[S_DECISIONS]),
        fill_log=tuple(
            FillLog(t=row[0] / NS, is_bid=row[1] > 0, yes_price=round(row[2], 6), size=round(row[3], 6))
            for row in log[: int(stats[S_LOGGED])].tolist()
        ),
    )
