"""Synthetic market participants for the local exchange: a latent fair value, background makers, takers.

Owns, per market: a latent fair value (a random walk in logit space with Poisson jumps, so it stays in
(0, 1)); a few background makers that ladder post-only GTC quotes around their own noisy, lagged view of
that value; and takers who send FAK orders. Uninformed takers pick a side at random or follow the
market's running meta-order; informed takers trade only when the book is off the fair value by more
than their edge, and then toward it. Every flow taker's fill moves the latent value in its direction
(square-root impact, part of it transient), so the book follows the flow as on real tapes. Takers hit
whatever rests, a market-making bot's quotes included, so adverse selection is real. The arrival,
side, size and impact formulas are in `exchange.flow_takers`; the knobs in `exchange.flow_config`;
named presets calibrated to kinds of real markets in `exchange.regimes`.

Driven, not running: `step(now)` processes every participant event due up to `now` in time order (the
server calls it every ~100 ms of wall time, tests and backtests in virtual time). Every draw comes from
per-market `random.Random` streams seeded from `seed`, and each event diffuses the value to the event's
own time, so the same seed, the same `step` calls and the same exchange state give the same orders
(the latent path does not even depend on how time is chunked into `step` calls).

Makers' spreads and level steps are prices, converted to whole ticks of the market they quote, so a
0.001-tick market shows cent-wide spreads as real ones do, not one-tenth-of-a-cent ones.

Must not: read the wall clock, sleep, use asyncio, or touch the exchange other than through its public
operations (`submit`, `cancel`, `fund`, `split`, `merge`, book and account queries). Every price handed
to the exchange is a Decimal on the market's *current* tick grid, every size a Decimal with at most two
decimals.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from polymm_cli.clock import Clock
from polymm_cli.errors import ConfigError, ExchangeRejection
from polymm_cli.exchange.accounts import COLLATERAL
from polymm_cli.exchange.core import LocalExchange, OrderRequest, OrderResult
from polymm_cli.exchange.flow_config import FlowConfig, whole_ticks
from polymm_cli.exchange.flow_takers import (
    TakerState,
    decay_excitation,
    excite,
    impact_logit,
    next_side,
    next_wait,
    spliced_size,
    taker_size,
)
from polymm_cli.exchange.markets import SAMPLE_START_PRICES
from polymm_cli.model import ONE, ZERO, Market, OrderType, Side

__all__ = ["FlowConfig", "FlowStats", "MarketFlowStats", "SyntheticFlow"]  # FlowConfig: from flow_config

CENT = Decimal("0.01")  # size quantum of taker orders (two decimals)
_JUMP, _REQUOTE, _TAKE, _INFORMED = 0, 1, 2, 3
_EPS = 1e-9


@dataclass(slots=True)
class MarketFlowStats:
    """What the flow did in one market."""

    trades: int = 0  # trades (one per price level matched) initiated by flow takers
    taker_orders: int = 0  # FAK orders submitted
    informed_orders: int = 0  # of which informed
    informed_trades: int = 0  # trades initiated by informed takers
    informed_idle: int = 0  # informed arrivals that found no edge and did nothing
    no_liquidity: int = 0  # uninformed arrivals that found the side they wanted empty
    taker_volume: Decimal = ZERO  # shares filled for flow takers
    up_volume: Decimal = ZERO  # of which buying YES (or selling NO)
    down_volume: Decimal = ZERO  # of which selling YES (or buying NO)
    up_trades: int = 0
    down_trades: int = 0
    jumps: int = 0
    maker_placed: int = 0
    maker_canceled: int = 0


@dataclass(slots=True)
class FlowStats:
    """Counters of the whole flow; `markets` is keyed by condition id."""

    markets: dict[str, MarketFlowStats] = field(default_factory=dict)
    rejections: Counter[str] = field(default_factory=Counter)  # by who: "maker", "taker", "funding"
    last_rejection: str = ""
    funded: Decimal = ZERO  # pUSD credited to flow accounts, start included
    splits: int = 0
    merges: int = 0

    @property
    def trades(self) -> int:
        return sum(s.trades for s in self.markets.values())

    @property
    def taker_volume(self) -> Decimal:
        return sum((s.taker_volume for s in self.markets.values()), ZERO)

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())


@dataclass(frozen=True, slots=True)
class _Account:
    owner: str
    address: str


@dataclass(slots=True)
class _MarketState:
    condition_id: str
    index: int
    rng: random.Random
    x: float  # latent fair value, logit: its permanent part
    p: float  # the fair value (permanent + transient), as a probability
    t: float  # time the latent value refers to
    bias: list[float]  # each maker's error about the value, in price
    maker_orders: list[dict[str, bool]]  # each maker's orders here: order id -> is a YES bid
    stats: MarketFlowStats
    transient: float = 0.0  # the transient part of past impact, logit; decays toward 0
    pending: float = 0.0  # impact not yet in the value, logit; arrives over impact_build_s
    takers: TakerState = field(default_factory=TakerState)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _tradable(exchange: LocalExchange, market: Market) -> bool:
    return exchange.accepting and market.accepting_orders and market.active and not market.closed


class SyntheticFlow:
    """Seeded synthetic participants trading on a `LocalExchange`; call `step(now)` to let time pass."""

    def __init__(
        self,
        exchange: LocalExchange,
        clock: Clock,
        config: FlowConfig | None = None,
        seed: int = 0,
        markets: list[str] | None = None,
        start_prices: dict[str, Decimal] | None = None,
        *,
        prefix: str = "flow",
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.config = cfg = config or FlowConfig()
        self.seed = seed
        self.prefix = prefix
        self.stats = FlowStats()
        prices = SAMPLE_START_PRICES if start_prices is None else start_prices
        ids = list(exchange.markets) if markets is None else list(markets)
        for cid in ids:
            if cid not in exchange.markets:
                raise ConfigError(f"unknown market {cid}")
        self._makers = [self._new_account(f"{prefix}-maker-{i + 1}") for i in range(cfg.makers)]
        self._takers = [self._new_account(f"{prefix}-taker-{i + 1}") for i in range(cfg.taker_accounts)]
        self._order_counter = 0
        self._event_seq = 0
        self._events: list[tuple[float, int, int, int, int]] = []  # (due, seq, kind, market, maker)
        self._now = clock.now()
        self._states: list[_MarketState] = []
        self._by_id: dict[str, _MarketState] = {}
        for index, cid in enumerate(ids):
            state = self._new_state(index, cid, prices)
            self._states.append(state)
            self._by_id[cid] = state
            self.stats.markets[cid] = state.stats
        self._open_accounts()
        for state in self._states:
            for maker in range(cfg.makers):
                self._schedule(self._now, _REQUOTE, state.index, maker)  # books appear at the first step
            state.takers.at = self._now
            self._schedule_take(state, self._now)
            self._schedule_next(state, _JUMP)

    # -- public -------------------------------------------------------------------------------------

    @property
    def markets(self) -> list[str]:
        """Condition ids the flow trades, in order."""
        return [s.condition_id for s in self._states]

    @property
    def owners(self) -> tuple[str, ...]:
        """Owner labels of every flow account (makers first), to tell flow orders and trades apart."""
        return tuple(a.owner for a in (*self._makers, *self._takers))

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(a.address for a in (*self._makers, *self._takers))

    def fair_value(self, condition_id: str) -> Decimal:
        """The latent value of YES, as of the flow's latest event in that market (6 decimals)."""
        return Decimal(f"{self._by_id[condition_id].p:.6f}")

    def shock(self, condition_id: str, price: Decimal) -> None:
        """Jump the latent value to `price` now (clamped in bounds), news traders included: a scenario
        for tests and benchmarks, e.g. to watch informed takers pick off stale quotes."""
        state = self._by_id[condition_id]
        state.t = max(state.t, self._now)
        state.x = _logit(min(max(float(price), _EPS), 1.0 - _EPS))
        state.transient = state.pending = 0.0
        self._news(state, self._now)

    def step(self, now: float) -> None:
        """Advance to `now`: process every participant event due by then, in time order."""
        events = self._events
        horizon = now - self.config.max_lag_s
        while events and events[0][0] <= now:
            due, _, kind, index, maker = heapq.heappop(events)
            state = self._states[index]
            self._diffuse(state, due)
            # else skipped: the stream restarts from the horizon; a closed or resolved market trades no more
            live = due >= horizon and self.exchange.markets[state.condition_id].tradable
            if kind == _REQUOTE:
                if live:
                    self._requote(state, maker)
                self._schedule_next(state, _REQUOTE, maker, max(due, horizon))
            elif kind == _TAKE:
                if live:
                    self._take(state)
                excite(state.takers, self.config, due)
                self._schedule_take(state, max(due, horizon))
            elif kind == _INFORMED:
                if live:
                    self._take(state, informed=True)
            else:
                if live:
                    self._jump(state, due)
                self._schedule_next(state, _JUMP, after=max(due, horizon))
        self._now = max(self._now, now)

    def next_event_time(self) -> float | None:
        """When the next participant event is due (None when there is none), for virtual-time drivers."""
        return self._events[0][0] if self._events else None

    def cancel_all(self) -> int:
        """Cancel every open order of the flow's accounts; returns how many were canceled."""
        canceled = 0
        for account in (*self._makers, *self._takers):
            canceled += len(self.exchange.cancel_where(account.owner))
        for state in self._states:
            for orders in state.maker_orders:
                orders.clear()
        return canceled

    # -- set-up -------------------------------------------------------------------------------------

    def _new_state(self, index: int, cid: str, prices: dict[str, Decimal]) -> _MarketState:
        market = self.exchange.markets[cid]
        p = self._start_price(market, prices.get(market.slug))
        digest = hashlib.sha256(f"polymm-flow:{self.prefix}:{self.seed}:{cid}".encode()).digest()
        state = _MarketState(
            condition_id=cid,
            index=index,
            rng=random.Random(int.from_bytes(digest, "big")),
            x=_logit(p),
            p=p,
            t=self._now,
            bias=[0.0] * self.config.makers,
            maker_orders=[{} for _ in range(self.config.makers)],
            stats=MarketFlowStats(),
        )
        self._clamp(state, market)
        return state

    def _new_account(self, owner: str) -> _Account:
        digest = hashlib.sha256(f"polymm-flow:{self.prefix}:{self.seed}:{owner}".encode()).hexdigest()
        return _Account(owner, "0xf10" + digest[:37])

    def _start_price(self, market: Market, configured: Decimal | None) -> float:
        """The configured price, else the book's mid, else 0.50 (clamped to the grid's bounds later)."""
        price = 0.5
        bid, ask = self.exchange.best_bid_ask(market.yes_token)
        if configured is not None:
            price = float(configured)
        elif bid is not None and ask is not None:
            price = float((bid + ask) / 2)
        return min(max(price, _EPS), 1.0 - _EPS)

    def _open_accounts(self) -> None:
        """Fund the accounts and give makers inventory; over a saved exchange, only what is missing."""
        cfg = self.config
        ex = self.exchange
        for account in (*self._makers, *self._takers):
            ex.cancel_where(account.owner)  # a restarted flow over a saved exchange starts clean
        for account in self._makers:
            acct = ex.account(account.address)
            shorts = {
                s.condition_id: cfg.maker_inventory - acct.free(ex.markets[s.condition_id].yes_token)
                for s in self._states
            }
            to_split = sum((v for v in shorts.values() if v > 0), ZERO)
            self._top_up(account, to_split + cfg.maker_collateral / 2, to_split + cfg.maker_collateral)
            for cid, short in shorts.items():
                if short > 0:
                    self._split(account, cid, short)
        for account in self._takers:
            self._top_up(account, cfg.taker_collateral / 2, cfg.taker_collateral)

    # -- scheduling ---------------------------------------------------------------------------------

    def _schedule(self, due: float, kind: int, index: int, maker: int = -1) -> None:
        self._event_seq += 1
        heapq.heappush(self._events, (due, self._event_seq, kind, index, maker))

    def _schedule_next(
        self, state: _MarketState, kind: int, maker: int = -1, after: float | None = None
    ) -> None:
        cfg = self.config
        base = self._now if after is None else after
        if kind == _REQUOTE:
            delay = cfg.maker_requote_s * state.rng.uniform(0.5, 1.5)
        else:
            if cfg.jump_rate_per_hour <= 0:
                return
            delay = state.rng.expovariate(cfg.jump_rate_per_hour / 3600.0)
        self._schedule(base + delay, kind, state.index, maker)

    def _schedule_take(self, state: _MarketState, at: float) -> None:
        """The next taker arrival after `at`, from the self-exciting intensity as of `at`."""
        decay_excitation(state.takers, self.config, at)
        wait = next_wait(state.rng, self.config, state.takers.excitation)
        if math.isfinite(wait):
            self._schedule(at + wait, _TAKE, state.index)

    # -- the latent value ---------------------------------------------------------------------------

    def _diffuse(self, state: _MarketState, when: float) -> None:
        dt = when - state.t
        if dt <= 0:
            return
        state.t = when
        cfg = self.config
        if cfg.fair_vol > 0:
            state.x += cfg.fair_vol * math.sqrt(dt) * state.rng.gauss(0.0, 1.0)
        if state.transient:
            state.transient *= math.exp(-dt / cfg.impact_decay_s)
        if state.pending:  # impact still on its way into the value
            arrived = (
                state.pending * -math.expm1(-dt / cfg.impact_build_s)
                if cfg.impact_build_s > 0
                else state.pending
            )
            state.pending -= arrived
            self._absorb(state, arrived)
        self._clamp(state, self.exchange.markets[state.condition_id])

    def _impact(self, state: _MarketState, up: bool, filled: Decimal) -> None:
        """A flow taker's fill moves the value its way: square root of the size, reached over
        `impact_build_s` (traders react progressively), part of it transient."""
        move = impact_logit(float(filled), self.config)
        if move <= 0:
            return
        move = move if up else -move
        if self.config.impact_build_s > 0:
            state.pending += move
            return
        self._absorb(state, move)
        self._clamp(state, self.exchange.markets[state.condition_id])

    def _absorb(self, state: _MarketState, move: float) -> None:
        """Add an impact that has arrived: its permanent part to the value, the rest to the transient."""
        share = self.config.impact_transient_share
        state.x += (1.0 - share) * move
        state.transient += share * move

    def _jump(self, state: _MarketState, now: float) -> None:
        state.x += state.rng.gauss(0.0, self.config.jump_logit_sd)
        self._news(state, now)

    def _news(self, state: _MarketState, now: float) -> None:
        """After a jump: clamp, count it, and send the news traders in."""
        cfg = self.config
        state.stats.jumps += 1
        self._clamp(state, self.exchange.markets[state.condition_id])
        if cfg.informed_share > 0:
            for _ in range(cfg.jump_informed_takers):
                delay = state.rng.expovariate(1.0 / cfg.jump_informed_delay_s)
                self._schedule(now + delay, _INFORMED, state.index)

    @staticmethod
    def _clamp(state: _MarketState, market: Market) -> None:
        # Keep the value 1.5 ticks inside the bounds, so a one-tick quote always fits around it.
        margin = 1.5 * float(market.tick_size)
        lo, hi = _logit(margin), _logit(1.0 - margin)
        state.x = min(max(state.x + state.transient, lo), hi) - state.transient
        state.p = _expit(state.x + state.transient)

    # -- makers -------------------------------------------------------------------------------------

    def _requote(self, state: _MarketState, maker: int) -> None:
        """Diff the maker's ladder against what it has resting: cancel what moved, place what is missing."""
        self._drift_view(state, maker)
        market = self.exchange.markets[state.condition_id]
        if not _tradable(self.exchange, market):
            return
        n = int(ONE / market.tick_size)  # every Polymarket tick size divides 1
        bid0, ask0 = self._inner_quotes(state, maker, market.tick_size, n)
        pinned, kept = self._cancel_off_ladder(state, maker, market.tick_size, bid0, ask0)
        new = self._missing_levels(state, market, pinned, kept)
        if new:
            self._place_levels(state, maker, market, new)
            self._give_back_surplus(state, maker, market)

    def _drift_view(self, state: _MarketState, maker: int) -> None:
        """The maker's view of the fair value wanders (persistent noise): an AR(1) bias, in price."""
        rho = self.config.maker_noise_persistence
        noise = state.rng.gauss(0.0, self.config.maker_noise)
        state.bias[maker] = rho * state.bias[maker] + math.sqrt(1 - rho * rho) * noise

    def _inner_quotes(self, state: _MarketState, maker: int, tick: Decimal, n: int) -> tuple[int, int]:
        """The maker's best bid and ask, in ticks: its spread around its view, inside [1, n - 1]."""
        ref = (state.p + state.bias[maker]) / float(tick)  # the maker's view, in ticks
        spreads = self.config.maker_spread
        spread = min(whole_ticks(spreads[maker % len(spreads)], float(tick)), n - 2)
        # An odd spread brackets the view, an even one centres on the nearest tick: mid within 1/2 tick.
        bid0 = math.floor(ref - (spread - 1) / 2) if spread % 2 else math.floor(ref + 0.5) - spread // 2
        ask0 = bid0 + spread
        if ask0 > n - 1:
            ask0, bid0 = n - 1, min(bid0, n - 2)
        if bid0 < 1:
            bid0, ask0 = 1, max(ask0, 2)
        return bid0, ask0

    def _cancel_off_ladder(
        self, state: _MarketState, maker: int, tick: Decimal, bid0: int, ask0: int
    ) -> tuple[dict[tuple[bool, int], int], set[tuple[bool, int]]]:
        """Cancel what is off the ladder (moved, refilled, off-grid), then pin the ladder just behind
        the best opposite price (never cross the rest of the book, the bot's quotes included) and
        cancel what that moves; the pinned ladder and the levels still resting on it."""
        account, mine, stats = self._makers[maker], state.maker_orders[maker], state.stats
        desired = self._ladder(bid0, ask0, tick)
        kept = self._cancel_stale(account, mine, desired, tick, stats)
        book = self.exchange.books[state.condition_id]
        best_bid, best_ask = book.best_yes_bid(), book.best_yes_ask()
        if best_ask is not None:
            bid0 = min(bid0, int((best_ask / tick).to_integral_value(ROUND_CEILING)) - 1)
        if best_bid is not None:
            ask0 = max(ask0, int(best_bid // tick) + 1)
        pinned = self._ladder(bid0, ask0, tick)
        if pinned != desired:  # only others' orders can bind here: ours are consistent with `desired`
            kept = self._cancel_stale(account, mine, pinned, tick, stats)
        return pinned, kept

    def _missing_levels(
        self,
        state: _MarketState,
        market: Market,
        pinned: dict[tuple[bool, int], int],
        kept: set[tuple[bool, int]],
    ) -> list[tuple[bool, Decimal, Decimal]]:
        """(is bid, price, size) of each ladder level not resting yet, sizes drawn per level."""
        cfg = self.config
        new: list[tuple[bool, Decimal, Decimal]] = []
        for (is_bid, ticks), level in sorted(pinned.items(), key=lambda kv: (kv[1], not kv[0][0])):
            if (is_bid, ticks) in kept:
                continue
            median = cfg.maker_level_size * cfg.maker_size_growth**level
            drawn = spliced_size(
                state.rng.gauss(0.0, 1.0), median, cfg.maker_size_jitter, cfg.maker_size_tail_index
            )
            size = Decimal(max(1, round(min(drawn, cfg.maker_size_max))))
            new.append((is_bid, ticks * market.tick_size, max(size, market.min_order_size)))
        return new

    def _place_levels(
        self, state: _MarketState, maker: int, market: Market, new: list[tuple[bool, Decimal, Decimal]]
    ) -> None:
        """Fund the levels (top up pUSD, split for the YES the asks sell), then place them post-only."""
        cfg, account = self.config, self._makers[maker]
        need_cash = sum((size * price for is_bid, price, size in new if is_bid), ZERO)
        need_yes = sum((size for is_bid, _, size in new if not is_bid), ZERO)
        short_yes = need_yes - self.exchange.account(account.address).free(market.yes_token)
        split = short_yes + cfg.maker_inventory if short_yes > 0 else ZERO
        self._top_up(account, need_cash + split + 1, cfg.maker_collateral + need_cash + split)
        if split > 0:
            self._split(account, state.condition_id, split)
        for is_bid, price, size in new:
            oid = self._order_id()
            request = OrderRequest(
                order_id=oid,
                owner=account.owner,
                address=account.address,
                token_id=market.yes_token,
                side=Side.BUY if is_bid else Side.SELL,
                price=price,
                size=size,
                order_type=OrderType.GTC,
                post_only=True,
            )
            if self._submit(request, "maker") is not None:
                state.maker_orders[maker][oid] = is_bid
                state.stats.maker_placed += 1

    def _give_back_surplus(self, state: _MarketState, maker: int, market: Market) -> None:
        """Fills on the bid side pile up YES; give the surplus back as pUSD with the NO from past splits."""
        account = self._makers[maker]
        acct = self.exchange.account(account.address)
        free_yes, free_no = acct.free(market.yes_token), acct.free(market.no_token)
        surplus = min(free_no, free_yes - 4 * self.config.maker_inventory)
        if surplus >= 1:
            self._merge(account, state.condition_id, surplus)

    def _ladder(self, bid0: int, ask0: int, tick: Decimal) -> dict[tuple[bool, int], int]:
        """(is bid, price in ticks) -> level number, for a ladder whose inner quotes are bid0 / ask0."""
        n = int(ONE / tick)
        step = whole_ticks(self.config.maker_level_step, float(tick))
        ladder: dict[tuple[bool, int], int] = {}
        for level in range(self.config.maker_levels):
            if bid0 - level * step >= 1:
                ladder[(True, bid0 - level * step)] = level
            if ask0 + level * step <= n - 1:
                ladder[(False, ask0 + level * step)] = level
        return ladder

    def _cancel_stale(
        self,
        account: _Account,
        mine: dict[str, bool],
        ladder: dict[tuple[bool, int], int],
        tick: Decimal,
        stats: MarketFlowStats,
    ) -> set[tuple[bool, int]]:
        """Cancel the maker's orders that are off `ladder` (or filled down); return the levels kept."""
        ex = self.exchange
        refill = Decimal(self.config.maker_refill_fraction)
        kept: set[tuple[bool, int]] = set()
        stale: list[str] = []
        for oid, is_bid in list(mine.items()):
            order = ex.orders.get(oid)
            if order is None or order.status != "LIVE" or order.remaining <= 0:
                del mine[oid]
                continue
            ticks = order.price / tick
            key = (is_bid, int(ticks))
            on_grid = ticks == ticks.to_integral_value()
            full = order.remaining >= order.original_size * refill
            if on_grid and full and key in ladder and key not in kept:
                kept.add(key)
            else:
                stale.append(oid)
        if stale:
            canceled, _ = ex.cancel(account.owner, stale)
            stats.maker_canceled += len(canceled)
            for oid in stale:
                del mine[oid]
        return kept

    # -- takers -------------------------------------------------------------------------------------

    def _take(self, state: _MarketState, *, informed: bool = False) -> None:
        """One taker arrives: informed ones trade toward the fair value when it pays, others at random."""
        cfg = self.config
        rng = state.rng
        # Draw everything first, so the random stream does not depend on the book the taker finds.
        informed = rng.random() < cfg.informed_share or informed
        if informed:  # its side comes from the book; it is no meta-order's child
            up = rng.random() < 0.5
        else:
            up, _ = next_side(rng, cfg, state.takers.meta)
        raw_size = taker_size(rng.gauss(0.0, 1.0), cfg)
        sweep = rng.random() < cfg.taker_sweep_share
        who = rng.randrange(len(self._takers))
        market = self.exchange.markets[state.condition_id]
        if not _tradable(self.exchange, market):
            return
        aim = self._taker_aim(state, market, informed, up, raw_size, sweep)
        if aim is None:
            return
        up, yes_limit, raw_size = aim
        size = Decimal(f"{min(max(raw_size, cfg.taker_size_min), cfg.taker_size_max):.2f}")
        account = self._takers[who]
        request = self._taker_order(account, market, up, yes_limit, size)
        state.stats.taker_orders += 1
        result = self._submit(request, "taker")
        if result is None:
            return
        filled = result.taking_amount if request.side is Side.BUY else result.making_amount
        self._count_take(state.stats, up, informed, filled, len(result.trade_ids))
        self._impact(state, up, filled)
        acct = self.exchange.account(account.address)
        pairs = min(acct.free(market.yes_token), acct.free(market.no_token))
        if pairs >= 1:
            self._merge(account, state.condition_id, pairs)  # recycle YES+NO back to pUSD

    def _taker_aim(
        self, state: _MarketState, market: Market, informed: bool, up: bool, raw_size: float, sweep: bool
    ) -> tuple[bool, Decimal, float] | None:
        """(direction, YES limit price, size before bounds) for a taker facing this book, or None."""
        tick = market.tick_size
        book = self.exchange.books[state.condition_id]
        best_bid, best_ask = book.best_yes_bid(), book.best_yes_ask()
        stats = state.stats
        if informed:
            aim = self._informed_aim(state, float(tick), best_bid, best_ask)
            if aim is None:
                stats.informed_idle += 1
                return None
            up, limit, scale = aim
            stats.informed_orders += 1
            raw_size *= scale
        else:
            best = best_ask if up else best_bid
            if best is None:
                stats.no_liquidity += 1
                return None
            slippage = 0 if sweep else whole_ticks(self.config.taker_slippage, float(tick), at_least=0)
            ticks = int((best / tick).to_integral_value(ROUND_CEILING) if up else best // tick)
            limit = ticks + slippage if up else ticks - slippage
            if sweep:  # sized to the book: the whole best level, whatever rests there
                raw_size = float((book.asks if up else book.bids).total(best))
        yes_limit = min(max(limit, 1), int(ONE / tick) - 1) * tick
        if (best_ask is None or yes_limit < best_ask) if up else (best_bid is None or yes_limit > best_bid):
            stats.no_liquidity += 1  # only off-grid leftovers after a tick change are out of reach
            return None
        return up, yes_limit, raw_size

    def _informed_aim(
        self, state: _MarketState, tick: float, best_bid: Decimal | None, best_ask: Decimal | None
    ) -> tuple[bool, int, float] | None:
        """(direction, limit in ticks, size multiple) when the book is through the value by the edge."""
        cfg = self.config
        edge = max(cfg.informed_edge_ticks * tick, cfg.informed_min_edge)
        if best_ask is not None and float(best_ask) <= state.p - edge + _EPS:
            up, limit, gap = True, math.floor((state.p - edge) / tick + _EPS), state.p - float(best_ask)
        elif best_bid is not None and float(best_bid) >= state.p + edge - _EPS:
            up, limit, gap = False, math.ceil((state.p + edge) / tick - _EPS), float(best_bid) - state.p
        else:
            return None
        scale = min(max(gap / edge, 1.0), cfg.informed_size_scale) if edge > 0 else cfg.informed_size_scale
        return up, limit, scale

    def _taker_order(
        self, account: _Account, market: Market, up: bool, yes_limit: Decimal, size: Decimal
    ) -> OrderRequest:
        """Sell what it holds of the token it is leaving, otherwise buy the complement (same economics)."""
        held = market.no_token if up else market.yes_token
        if self.exchange.account(account.address).free(held) >= size:
            token, side, price = held, Side.SELL, (ONE - yes_limit if up else yes_limit)
        else:
            token = market.yes_token if up else market.no_token
            side, price = Side.BUY, (yes_limit if up else ONE - yes_limit)
            size = max(size, (ONE / price).quantize(CENT, rounding=ROUND_CEILING))  # the $1 minimum
            cost = size * price * (ONE + market.taker_fee_rate) + 1
            self._top_up(account, cost, cost + self.config.taker_collateral)
        return OrderRequest(
            order_id=self._order_id(),
            owner=account.owner,
            address=account.address,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=OrderType.FAK,
        )

    @staticmethod
    def _count_take(stats: MarketFlowStats, up: bool, informed: bool, filled: Decimal, trades: int) -> None:
        stats.trades += trades
        stats.taker_volume += filled
        if up:
            stats.up_volume += filled
            stats.up_trades += trades
        else:
            stats.down_volume += filled
            stats.down_trades += trades
        if informed:
            stats.informed_trades += trades

    # -- exchange calls -----------------------------------------------------------------------------

    def _order_id(self) -> str:
        while True:
            self._order_counter += 1
            text = f"polymm-flow-order:{self.prefix}:{self.seed}:{self._order_counter}"
            oid = "0x" + hashlib.sha256(text.encode()).hexdigest()
            if oid not in self.exchange.orders:  # a restarted flow over a saved exchange
                return oid

    def _submit(self, request: OrderRequest, who: str) -> OrderResult | None:
        try:
            return self.exchange.submit(request)
        except ExchangeRejection as exc:
            self.stats.rejections[who] += 1
            self.stats.last_rejection = exc.message
            return None

    def _top_up(self, account: _Account, minimum: Decimal, target: Decimal) -> None:
        free = self.exchange.account(account.address).free(COLLATERAL)
        if free < minimum:
            amount = (target - free).quantize(CENT, rounding=ROUND_CEILING)
            self.exchange.fund(account.address, amount)
            self.stats.funded += amount

    def _split(self, account: _Account, condition_id: str, amount: Decimal) -> None:
        try:
            self.exchange.split(account.address, condition_id, amount)
            self.stats.splits += 1
        except ExchangeRejection as exc:
            self.stats.rejections["funding"] += 1
            self.stats.last_rejection = exc.message

    def _merge(self, account: _Account, condition_id: str, amount: Decimal) -> None:
        try:
            self.exchange.merge(account.address, condition_id, amount)
            self.stats.merges += 1
        except ExchangeRejection as exc:
            self.stats.rejections["funding"] += 1
            self.stats.last_rejection = exc.message
