"""QuotingEngine: the event loop of one bot, over the Venue port.

    market events ──▶ books ──▶ dirty markets ──▶ decide: quoter → reconcile → risk ──▶ venue (cancel, place)
    user events   ──▶ our live orders; fills ──▶ ledger (append-only) ──▶ positions (projection) ──▶ dirty
    health        ──▶ market feed, user stream, heartbeat, halt: unhealthy pulls every quote at once,
                      healthy again requotes; nothing is ever quoted on stale data or a guessed price

Where a book update becomes a new quote: `_on_market_event` marks the market dirty and wakes
`_decide_loop`, which handles a whole burst of updates as one decision (`_decide`). Where a fill
becomes P&L: `_on_trade` appends it to the ledger; positions and P&L are projections over it.

The engine knows the Venue protocol only, never a concrete venue (`venues/books.py`, which applies
the port's events to `book.OrderBook`s, is part of the port: venue-neutral), and reads time only
from the injected clock. It owns no files: the halt signal and the decision log are callables handed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from polymm_cli.book import BookTop, OrderBook, book_top, external_levels, mark, own_levels
from polymm_cli.clock import Clock
from polymm_cli.engine.config import (
    CLOSED_MARKET_ERROR,
    CLOSED_STATUSES,
    FINAL,
    MARKET_RESOLVED_STATUS,
    RESYNC_MARGIN_S,
    EngineConfig,
    RetireReport,
    StopReport,
)
from polymm_cli.engine.exit import arm_stop, exit_intents, merge_pairs
from polymm_cli.engine.income import PayoutRecorder
from polymm_cli.engine.leaving import LeavingOrders
from polymm_cli.engine.observer import EngineObserver
from polymm_cli.engine.state import MarketState, exposure, holding
from polymm_cli.engine.view import decision_record, snapshot
from polymm_cli.errors import EngineFailure, PolymmError, VenueError, describe
from polymm_cli.health import HeartbeatWatch, OrderPathBreaker
from polymm_cli.ledger import Ledger
from polymm_cli.liquidation import (
    ExitOrder,
    plan_exit,
    stop_loss_trigger,
)
from polymm_cli.model import (
    MICRO,
    ONE,
    ZERO,
    EngineSnapshot,
    FillView,
    FlowKind,
    Market,
    OurOrder,
    PriceLevel,
    Side,
)
from polymm_cli.pnl import MarketPnl, MarketProjection, day_start
from polymm_cli.pricing import PricingInput
from polymm_cli.quoter import (
    NO_RISK,
    QuoteDecision,
    QuoteInput,
    SideRisk,
    TargetQuote,
    adaptive_key,
    maker_rebate_per_share,
    needs_requote,
    quote,
)
from polymm_cli.reconcile import ReconcilePlan, reconcile
from polymm_cli.regime import MarketRegime, RegimeView
from polymm_cli.risk import Holding, RiskLimits, RiskVerdict, cap_blocks, vet
from polymm_cli.toxicity import SideToxicity
from polymm_cli.trust import MidTrust, depth_weighted_mid
from polymm_cli.venues.base import (
    BookSnapshot,
    Chain,
    Fill,
    LastTrade,
    MarketEvent,
    MarketResolved,
    OrderIntent,
    OrderUpdate,
    StreamStatus,
    TickSizeChange,
    TradeUpdate,
    UserEvent,
    Venue,
    VenueEvents,
    chain_flow,
    fill_record,
)
from polymm_cli.venues.books import apply_market_event

FeedEvent = MarketEvent | UserEvent | StreamStatus  # what a venue's stream yields

log = logging.getLogger("polymm.engine")
T = TypeVar("T")


class QuotingEngine:
    """One bot: quotes its markets on one venue until stopped, recording every fill in the ledger."""

    def __init__(
        self,
        venue: Venue,
        ledger: Ledger,
        clock: Clock,
        markets: Sequence[Market],
        config: EngineConfig,
        *,
        venue_name: str = "local",
        halt_check: Callable[[], str | None] = lambda: None,
        on_decision: Callable[[dict[str, Any]], None] | None = None,
        chain: Chain | None = None,
        observer: EngineObserver | None = None,
    ) -> None:
        self.venue = venue
        self.observer = observer or EngineObserver()  # metrics, alerts, the log: told, never waited on
        self.ledger = ledger
        self.clock = clock
        self.config = config
        self.venue_name = venue_name
        self._halt_check = halt_check
        self._on_decision = on_decision
        self.states: dict[str, MarketState] = {m.condition_id: self._new_state(m) for m in markets}
        self.chain = chain
        self.payouts = PayoutRecorder(venue, ledger)  # rewards and rebates, polled off the hot path
        self._token_market = {t: m.condition_id for m in markets for t in m.tokens}
        self.books: dict[str, OrderBook] = {m.yes_token: OrderBook(m.yes_token, m.tick_size) for m in markets}
        self.live: dict[str, OurOrder] = {}  # our orders resting at the venue, by order id
        self.leaving = LeavingOrders()  # cancelled, but the feed's book still shows them
        self._dirty: set[str] = set()  # markets with something new to decide on
        self._wake = asyncio.Event()
        self._decide_lock = asyncio.Lock()
        self._streams: list[VenueEvents] = []
        self._tasks: list[asyncio.Task[None]] = []
        # health
        self.market_feed = self.user_stream = self._was_healthy = False
        self._heartbeat = HeartbeatWatch(config.heartbeat_stale_s)
        self._order_path = OrderPathBreaker(limit=config.order_failure_limit)
        self.halted: str | None = None
        self._halt_external = False
        self.last_error = ""
        self.last_market_event: float | None = None
        # the run's life: its end, a failure, how the stop went
        self.run_id: str | None = None
        self.run_started: float | None = None
        self._finished = asyncio.Event()  # set when a stop-loss with no resume has done its exit
        self._no_market_left = asyncio.Event()  # every market closed or resolved: nothing to quote
        self.markets_gone = ""  # what became of them, in the run's end reason
        self.failure: str | None = None  # the first task failure: the run stops and says this
        self._failed = asyncio.Event()
        self._stopping = self.ended = False
        self.stop_report: StopReport | None = None
        # counters the dashboard shows
        self.decisions = self.orders_placed = self.orders_canceled = self.fill_count = 0
        self.latencies_us: deque[float] = deque(maxlen=20_000)
        self._extra_tasks: list[tuple[str, Callable[[], Awaitable[None]]]] = []  # `also_run`
        self._brings_markets = False  # an `also_run` task may add markets: closing them all is no end

    def _new_state(self, m: Market) -> MarketState:
        config = self.config
        state = MarketState(
            m,
            regime=MarketRegime(config.regime),
            trust=MidTrust(config.trust),
            projection=MarketProjection(m),
            pricer=config.pricer(m) if config.pricer is not None else None,
        )
        if not m.tradable:  # a market already over when it joins the run is never quoted
            state.closed, state.closed_at = _closed_reason(m), 0.0
        return state

    def also_run(
        self, name: str, body: Callable[[], Awaitable[None]], *, keeps_run_alive: bool = False
    ) -> None:
        """Run `body` as one more supervised task of the next `run` (re-selection does): cancelled
        first at the stop, and a failure of it stops the run the safe way like any other task's.
        `keeps_run_alive`: the task may bring new markets (re-selection), so the run does not end
        when every market it holds now has closed."""
        self._extra_tasks.append((name, body))
        self._brings_markets = self._brings_markets or keeps_run_alive

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self, *, duration: float | None = None, stop: asyncio.Event | None = None) -> str:
        """Quote until `duration` seconds pass, `stop` is set, or the task is cancelled; then cancel
        every order and wait for the venue to confirm (`stop_report` says how that went). Returns why
        it ended ("duration", "stopped", or "halted: <reason>" when it was halted at the end).

        Every background task is supervised: one that dies (or ends while the run goes on) stops the
        run the same safe way, and `run` then raises EngineFailure naming the task and the cause."""
        stop = stop or asyncio.Event()
        self.run_started = self.clock.now()
        self.run_id = self.ledger.start_run(
            venue=self.venue_name,
            markets=list(self.states),
            address=self.venue.address,
            ts=self.clock.now(),
        )
        reason = "stopped"
        try:
            await self._startup()
            if self.config.freeze_heap:
                gc.collect()  # the start-up's garbage goes first: frozen, it would stay
                gc.freeze()
            self._tasks = [
                self._spawn("market feed", self._consume_market),
                self._spawn("user stream", self._consume_user),
                self._spawn("decisions", self._decide_loop),
                self._spawn("heartbeat", self._heartbeat_loop),
                self._spawn("halt watch", self._halt_loop),
                self._spawn("timers", self._tick_loop),
                self._spawn("payouts", self._payout_loop),
                *(self._spawn(name, body) for name, body in self._extra_tasks),
            ]
            reason = await self._until_done(stop, duration)
        finally:
            await self._shutdown()
            self.ended = True
            final = self._final_reason(reason)
            try:
                self.ledger.end_run(self.run_id, reason=final, ts=self.clock.now())
            except Exception as exc:  # a broken ledger must not hide how the run ended
                self.fail("ledger", exc)
        if self.failure is not None:
            raise EngineFailure(f"engine stopped: {self.failure}")
        return final

    async def _until_done(self, stop: asyncio.Event, duration: float | None) -> str:
        waiters: dict[asyncio.Task[Any], str] = {
            asyncio.create_task(stop.wait()): "stopped",
            asyncio.create_task(self._finished.wait()): "stopped",
            asyncio.create_task(self._failed.wait()): "failed",
            asyncio.create_task(self._no_market_left.wait()): "no market left",
        }
        if duration is not None:
            waiters[asyncio.create_task(self.clock.sleep(duration))] = "duration"
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
        return next(waiters[t] for t in waiters if t in done)

    def _final_reason(self, reason: str) -> str:
        if self.failure is not None:
            return f"failed: {self.failure}"
        if self.halted:
            return f"halted: {self.halted}"
        return f"no market left to quote ({self.markets_gone})" if reason == "no market left" else reason

    # -- supervision ------------------------------------------------------------------------------

    def _spawn(self, name: str, body: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        return asyncio.create_task(self._supervised(name, body), name=name)

    async def _supervised(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run one background task; any way it ends but a clean stop fails the engine safely."""
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fail(name, exc)
            return
        if not self._stopping:
            self.fail(name, None)

    def fail(self, task: str, exc: BaseException | None) -> None:
        """Record the first failure and wake `run`, which pulls quotes, stops the heartbeat and
        cancels everything. The cause is one line: the task, the exception type and its message."""
        cause = f"{task} ended unexpectedly" if exc is None else f"{task} failed: {describe(exc)}"
        log.warning("engine failure: %s", cause)
        if self.failure is None:
            self.failure = cause
            self.last_error = cause
            self.observer.failed(cause)
        self._failed.set()

    async def _startup(self) -> None:
        """Reconcile with the venue before quoting: leftover orders, and fills missed while away."""
        await self._prepare(list(self.states))
        tokens = [s.market.yes_token for s in self.states.values()]
        self._streams = [self.venue.market_events(tokens), self.venue.user_events(list(self.states))]

    async def _prepare(self, cids: Sequence[str]) -> None:
        """Before these markets are quoted: what the ledger holds, leftover orders, missed fills."""
        for cid in cids:
            state = self.states[cid]
            self.ledger.record_market(state.market, self.clock.now())
            for fill in self.ledger.fills(cid):  # what this account already holds here
                self._projection(cid).add_fill(fill)
            for flow in self.ledger.flows(cid):
                self._projection(cid).add_flow(flow)
        for cid in cids:
            leftovers = await self.venue.open_orders(cid)
            if self.config.adopt_orders:
                for o in leftovers:
                    tag = self.states[cid].market.quote_side(o.token_id, o.side)
                    self.live[o.order_id] = OurOrder(
                        o.order_id, o.token_id, o.side, o.price, o.remaining, market=cid, tag=tag
                    )
            elif leftovers:
                result = await self.venue.cancel([o.order_id for o in leftovers])
                self.orders_canceled += len(result.canceled)
                self.observer.orders_cancelled(cid, len(result.canceled))
                log.info("cancelled %d leftover orders in %s", len(result.canceled), cid)
        for cid in cids:
            for update in await self.venue.trades(cid, after=self._resync_after(cid)):
                self._on_trade(update)
            self._refresh_positions(cid)

    async def _shutdown(self) -> None:
        # Stop deciding and beating first (the exchange's dead-man's switch is our backstop from
        # here); the user stream keeps running while orders are cancelled and the last fills
        # settle, so their final statuses reach the ledger.
        self._stopping = True
        listening = [t for t in self._tasks if t.get_name() == "user stream"]
        for task in self._tasks:
            if task not in listening:
                task.cancel()
        for task in self._tasks:
            if task not in listening:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.stop_report = await self._cancel_everything_and_confirm()
        self.observer.stopped(self.stop_report)
        if self.stop_report.reachable:  # else the next run's start-up resync catches the trades up
            await self._await_settlement()
            await self._record_payouts()  # what was paid while we ran, before `pnl` is shown
        for task in listening:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for stream in self._streams:
            with contextlib.suppress(Exception):
                await stream.close()
        self._streams = []

    def _unsettled(self) -> int:
        return sum(1 for cid in self.states for f in self.ledger.fills(cid) if f.status not in FINAL)

    def _resync_after(self, cid: str, *, at_latest: float | None = None) -> float | None:
        """Since when to ask the venue for this market's trades: the last fill we recorded, or the
        oldest one still settling if older (its final status may have come while we were away: a
        crash, a stop), minus a margin; `at_latest` caps it (the run's start). None: everything."""
        fills = self.ledger.fills(cid)  # this account's and market's: another's late fill hides nothing
        settling = [f.venue_ts for f in fills if f.status not in FINAL]
        anchors = [min(settling)] if settling else [max(f.venue_ts for f in fills)] if fills else []
        if at_latest is not None:
            anchors.append(at_latest)
        return min(anchors) - RESYNC_MARGIN_S if anchors else None

    async def _await_settlement(self) -> None:
        """Wait (bounded) until every fill is CONFIRMED or FAILED, then resync trades over REST once:
        the ledger a run leaves behind holds final statuses, not MATCHED fills that may still fail."""
        if self.run_started is None:
            return
        try:
            # counted in sleeps, not clock time: a virtual clock does not move while we wait
            for _ in range(int(self.config.settle_timeout_s / 0.2)):
                if not self._unsettled():
                    break
                await asyncio.sleep(0.2)
            for cid in self.states:
                try:
                    async with asyncio.timeout(self.config.stop_timeout_s):  # an exchange that is down
                        after = self._resync_after(cid, at_latest=self.run_started)
                        updates = await self.venue.trades(cid, after=after)
                except (VenueError, TimeoutError) as exc:
                    self.last_error = f"final resync: {describe(exc)}"
                    continue
                for update in updates:
                    self._on_trade(update)
            if self._unsettled():
                log.warning(
                    "%d fill(s) still settling when the run ended: `polymm pnl` shows them provisional",
                    self._unsettled(),
                )
        except Exception as exc:  # the ledger itself failed: say so, the orders are already cancelled
            self.fail("final settlement", exc)

    async def _cancel_everything_and_confirm(self) -> StopReport:
        """Cancel all our orders in our markets and poll until the venue lists none (or time runs out).

        Where the venue cannot be asked, the orders we believe live there count as possibly open."""
        deadline = self.clock.monotonic() + self.config.stop_timeout_s
        rounds = max(1, int(self.config.stop_timeout_s / 0.2))  # also bounded in sleeps: virtual clocks
        known, cancelled = len(self.live), 0
        open_now, answered = known, False
        for _ in range(rounds):
            open_now, answered = 0, True
            for cid in self.states:
                done, still_open = await self._cancel_round(cid, "stop", lambda exc: f"stop: {exc}")
                cancelled += done
                if still_open is None:
                    answered = False
                    open_now += sum(1 for o in self.live.values() if o.market == cid)
                else:
                    open_now += still_open
            if answered and open_now == 0:
                self.live.clear()
                return StopReport(
                    cancelled=cancelled,
                    may_be_open=0,
                    confirmed=True,
                    known=known,
                    venue_label=self.config.venue_label,
                )
            if self.clock.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        log.warning("%d order(s) may still be open at the venue after cancelling", open_now)
        return StopReport(
            cancelled=cancelled,
            may_be_open=open_now,
            confirmed=False,
            reachable=answered,
            known=known,
            venue_label=self.config.venue_label,
        )

    # -- health -----------------------------------------------------------------------------------

    @property
    def heartbeat_ok(self) -> bool:
        return self._heartbeat.ok(self.clock.monotonic())

    def heartbeat_age(self, now: float) -> float | None:
        """Seconds since the venue last acknowledged a heartbeat (None: never)."""
        return self._heartbeat.age(now)

    @property
    def healthy(self) -> bool:
        now = self.clock.monotonic()
        return (
            self.market_feed
            and self.user_stream
            and self._heartbeat.ok(now)
            and not self._order_path.paused(now)
            and self.halted is None
        )

    def _health_changed(self) -> None:
        healthy = self.healthy
        if healthy and not self._was_healthy:
            self._dirty.update(self.states)
            self._wake.set()
        elif not healthy and self._was_healthy:
            self._dirty.update(self.states)  # the decision loop pulls quotes while unhealthy
            self._wake.set()
        self._was_healthy = healthy

    def halt(self, reason: str, *, external: bool = False) -> None:
        """Stop quoting: every quote is pulled and none placed again until this run ends — or, for a
        halt asked from outside (`polymm halt`, `polymm cancel-all`), until it is lifted (`polymm resume`)."""
        if self.halted is None:
            self.halted = reason
            self._halt_external = external
            log.warning("halted: %s", reason)
            self.observer.halted(reason, external)
            self._health_changed()
            self._wake.set()

    def _resume(self) -> None:
        log.warning("resumed: the halt was lifted")
        self.observer.resumed()
        self.halted = None
        self._halt_external = False
        for state in self.states.values():
            state.last_inputs = ()
        self._health_changed()
        self._wake.set()

    async def _heartbeat_loop(self) -> None:
        """Beat the venue's dead-man's switch, start to start (a slow beat does not stretch the
        period). While the order path is tripped and orders of ours may rest, the beat is withheld:
        the venue then removes every order we could not cancel about 10 s after the last one it
        accepted. With none left the beat goes on: a stale beat would keep the engine unhealthy,
        and an unhealthy engine with nothing to cancel makes no call that could heal the path."""
        interval = self.config.heartbeat_interval_s
        while True:
            started = self.clock.monotonic()
            if not self._order_path.tripped() or not self.live:
                try:
                    await self.venue.heartbeat()
                    self._heartbeat.acked(self.clock.monotonic())
                except VenueError as exc:
                    self.observer.venue_error("heartbeat", exc.status)
                    self.last_error = f"heartbeat: {exc}"
            self._health_changed()
            await self.clock.sleep(max(0.0, started + interval - self.clock.monotonic()))

    async def _order_call(self, call: Awaitable[T]) -> T:
        """An order-path call (place or cancel), counted by the breaker: raises what it raised."""
        try:
            result = await call
        except VenueError as exc:
            self.observer.venue_error("order", exc.status)
            if self._order_path.failed(self.clock.monotonic(), describe(exc)):
                log.warning("order path paused: %s", self._order_path.reason(self.clock.monotonic()))
            self._health_changed()
            raise
        if self._order_path.succeeded():
            log.warning("order path recovered")
            self._health_changed()
        return result

    async def _halt_loop(self) -> None:
        while True:
            reason = self._halt_check()
            if reason and self.halted is None:
                self.halt(reason, external=True)
            elif not reason and self.halted is not None and self._halt_external:
                self._resume()
            await self.clock.sleep(self.config.halt_poll_s)

    # -- events -----------------------------------------------------------------------------------

    async def _consume_market(self) -> None:
        await self._consume(0, self._on_market_stream)

    async def _consume(self, index: int, handle: Callable[[FeedEvent], None]) -> None:
        """Read stream `index` (0: market, 1: user) into `handle`; a re-subscription
        (`_resubscribe`) replaces the stream: read the new one, ignoring the old one's last events."""
        while True:
            stream = self._streams[index]
            async for event in stream:
                if stream is not self._streams[index]:
                    break
                handle(event)
            if stream is self._streams[index]:
                return  # ended by itself: supervision reports it

    def _on_market_stream(self, event: FeedEvent) -> None:
        if isinstance(event, StreamStatus):
            self.market_feed = event.connected
            self.observer.stream("market feed", event.connected, event.reason)
            if not event.connected:
                self.last_error = f"market feed: {event.reason}"
                for state in self.states.values():
                    state.trust.on_feed_lost()
            self._health_changed()
        elif not isinstance(event, (OrderUpdate, TradeUpdate)):
            self._on_market_event(event)

    def _on_market_event(self, event: MarketEvent) -> None:
        now = self.clock.monotonic()
        self.last_market_event = now
        kind = type(event)
        if kind is MarketResolved:
            self._on_resolved(event)  # type: ignore[arg-type]
            return
        if kind is LastTrade or kind is TickSizeChange:
            self._on_trade_or_tick(event)  # type: ignore[arg-type]
        for token in apply_market_event(self.books, event):
            cid = self._token_market.get(token)
            if cid is None:
                continue
            state = self.states[cid]
            if kind is BookSnapshot:
                state.trust.on_snapshot()
            else:
                state.trust.on_update()
            if state.event_t0 is None:
                state.event_t0 = now
            self._dirty.add(cid)
        if self._dirty:
            self._wake.set()

    def _on_trade_or_tick(self, event: LastTrade | TickSizeChange) -> None:
        cid = self._token_market.get(event.token_id)
        if cid is None:
            return
        state = self.states[cid]
        if isinstance(event, TickSizeChange):
            state.market = replace(state.market, tick_size=event.new_tick)
        else:
            yes = state.market.yes_price(event.token_id, event.price)
            state.trust.on_trade(yes)
            if state.pricer is not None:  # the book has not taken the trade in yet: the mid before it
                mid = self.external_mid(state.market)
                state.pricer.observe_trade(self.clock.monotonic(), yes, event.size, mid)
            self._dirty.add(cid)  # a trade can confirm a jumped mid

    async def _consume_user(self) -> None:
        await self._consume(1, self._on_user_stream)

    def _on_user_stream(self, event: FeedEvent) -> None:
        if isinstance(event, StreamStatus):
            self.user_stream = event.connected
            self.observer.stream("user stream", event.connected, event.reason)
            if not event.connected:
                self.last_error = f"user stream: {event.reason}"
            self._health_changed()
        elif isinstance(event, OrderUpdate):
            self._on_order(event)
        elif isinstance(event, TradeUpdate):
            self._on_trade(event)

    def _on_order(self, event: OrderUpdate) -> None:
        cid = self._token_market.get(event.token_id)
        if cid is None:
            return
        status = event.status
        if status == MARKET_RESOLVED_STATUS and self.states[cid].closed is None:
            self._close_market(cid, "closed: the venue cancelled our orders as the market resolved")
        closed = event.kind == "CANCELLATION" or status.startswith(CLOSED_STATUSES) or event.remaining <= 0
        known = self.live.get(event.order_id)
        if closed:
            if self.live.pop(event.order_id, None) is not None:
                self._dirty.add(cid)
                self._wake.set()
            return
        if known is not None:
            self.live[event.order_id] = replace(known, remaining=event.remaining)
        elif status == "LIVE":
            # ours (the user channel carries only our orders) but placed elsewhere or before a restart
            market = self.states[cid].market
            tag = market.quote_side(event.token_id, event.side)
            self.live[event.order_id] = OurOrder(
                event.order_id, event.token_id, event.side, event.price, event.remaining, market=cid, tag=tag
            )
            self._dirty.add(cid)
            self._wake.set()

    def _on_trade(self, update: TradeUpdate) -> None:
        cid = update.market
        state = self.states.get(cid)
        if state is None:
            return
        changed = False
        for fill in update.fills:
            record = fill_record(update, fill, fee_exponent=state.market.fee_exponent)
            if self.ledger.record_fill(record, run_id=self.run_id):
                changed = True
                self.fill_count += 1
                self._projection(cid).add_fill(record)
                self.observer.fill(
                    cid, state.market.outcome_of(fill.token_id), fill.side, fill.price, fill.size
                )
                if state.regime is not None:
                    _observe_fill(state.regime, state.market, fill, self.clock.monotonic())
                state.fills.appendleft(
                    (
                        fill.key,
                        FillView(
                            ts=record.recv_ts,
                            outcome=state.market.outcome_of(fill.token_id),
                            side=fill.side,
                            price=fill.price,
                            size=fill.size,
                            liquidity=fill.liquidity,
                            status=update.status,
                        ),
                    )
                )
            elif self.ledger.record_status(update.trade_id, fill.order_id, update.status, update.recv_ts):
                changed = True
                self._projection(cid).set_status(fill.key, update.status)
                for i, (key, view) in enumerate(state.fills):
                    if key == fill.key:
                        state.fills[i] = (key, replace(view, status=update.status))
                        break
        if changed:
            self._refresh_positions(cid)
            self._dirty.add(cid)
            self._wake.set()

    def _projection(self, cid: str) -> MarketProjection:
        projection = self.states[cid].projection
        assert projection is not None  # made with the state
        return projection

    def market_pnl(self, cid: str) -> MarketPnl:
        """This market's P&L now: the projection (the ledger's records, applied as they came) marked
        at the book without our own quotes, daily P&L since the start of today (UTC)."""
        market = self.states[cid].market
        return self._projection(cid).pnl(self.external_mid(market), day_start=day_start(self.clock.now()))

    def _refresh_positions(self, cid: str) -> None:
        """Positions from the projection: all effective fills, and the settled ones (may be sold)."""
        state = self.states[cid]
        pnl = state.pnl = self.market_pnl(cid)
        state.yes_position, state.no_position = pnl.yes_position, pnl.no_position
        settled_yes, settled_no = self._projection(cid).settled()
        state.sellable_yes = min(state.yes_position, settled_yes)
        state.sellable_no = min(state.no_position, settled_no)

    # -- markets that close or resolve -----------------------------------------------------------

    def _on_resolved(self, event: MarketResolved) -> None:
        """A market of ours resolved: record the winner (a ledger fact `polymm pnl` marks the
        payout by), mark its positions at what they pay, and never quote it again."""
        cid = event.market
        state = self.states.get(cid)
        if state is None or state.market.resolved or event.winning_token not in state.market.tokens:
            return
        resolved = state.market.resolved_with(event.winning_token)
        state.market = resolved
        self._projection(cid).market = resolved
        self.ledger.record_market(resolved, self.clock.now())
        self._refresh_positions(cid)
        self._close_market(cid, _closed_reason(resolved))

    def _close_market(self, cid: str, reason: str) -> None:
        """Stop quoting one market for good (the others go on): its orders are cancelled at the
        next decision, and when no market is left the run ends."""
        state = self.states[cid]
        if state.closed is None:
            state.closed_at = self.clock.monotonic()
            log.warning("%s: %s; no more quotes there", state.market.slug or cid, reason)
        elif state.closed != reason:
            log.warning("%s: %s", state.market.slug or cid, reason)
        changed, state.closed = state.closed != reason, reason
        state.last_decision = reason
        if changed and self._on_decision is not None:  # `--headless` prints it as one JSON line
            market = state.market
            self._on_decision(
                {
                    "event": "market_closed",
                    "ts": self.clock.now(),
                    "market": cid,
                    "slug": market.slug,
                    "reason": reason,
                    "winner": market.outcome_of(market.winner) if market.resolved else None,
                }
            )
        self._dirty.add(cid)
        self._wake.set()

    async def _wind_down(self, state: MarketState, mine: Sequence[OurOrder]) -> None:
        """A closed market: cancel whatever of ours still rests there (exit orders too)."""
        if mine:
            plan = ReconcilePlan(cancels=tuple(o.order_id for o in mine), places=(), keeps=())
            await self._act(state, plan, note=str(state.closed))
        state.event_t0 = None
        self._check_markets_left()

    def _check_markets_left(self) -> None:
        """End the run once every market is closed with nothing of ours resting there, and each
        has resolved or been closed for `closed_grace_s` (its winner may still be on its way)."""
        if self._brings_markets:  # a run that re-selects goes on: its next round brings new markets
            return
        now = self.clock.monotonic()
        for cid, state in self.states.items():
            if state.closed is None or any(o.market == cid for o in self.live.values()):
                return
            if not state.market.resolved and now - state.closed_at < self.config.closed_grace_s:
                return
        if not self._no_market_left.is_set():
            self.markets_gone = "; ".join(
                f"{s.market.slug or cid}: {s.closed}" for cid, s in self.states.items()
            )
            log.warning("no market left to quote: %s", self.markets_gone)
            self._no_market_left.set()

    # -- decisions --------------------------------------------------------------------------------

    async def _decide_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # let the rest of a burst land: one burst, one decision
            dirty, self._dirty = self._dirty, set()
            for cid in dirty:
                try:
                    await self._decide(cid)
                except VenueError as exc:
                    self.last_error = str(exc)
                    log.warning("decision for %s failed: %s", cid, exc)
                except PolymmError as exc:
                    self.last_error = str(exc)
                    self.halt(f"unexpected error: {exc}")

    async def _decide(self, cid: str) -> None:
        """One decision for one market, the hot path: book → quoter → reconcile → risk → venue."""
        async with self._decide_lock:
            started = self.clock.monotonic()
            state = self.states.get(cid)
            if state is None:  # wound down and removed since it was marked (re-selection)
                return
            mine = [o for o in self.live.values() if o.market == cid]
            if state.closed:
                await self._wind_down(state, mine)
                return
            if not self.healthy or state.stopped or state.retired:
                await self._stand_down(state, mine)
                return
            inp = self._quote_input(state, mine)
            decision = self._quote(state, inp)
            inputs = (
                state.yes_position,
                state.no_position,
                tuple(sorted(o.order_id for o in mine)),
                state.market.tick_size,
                inp.spread_multiplier,
                tuple(side for side, _ in inp.blocked),
                inp.bid_risk.widen,
                inp.ask_risk.widen,
                inp.bid_risk.pulled,
                inp.ask_risk.pulled,
                adaptive_key(inp, self.config.params),  # the touch and adverse move a chosen width reads
            )
            if (
                decision.mid is not None
                and inputs == state.last_inputs
                and not needs_requote(state.last_mid, decision.mid, self.config.params.requote_threshold)
            ):
                state.event_t0 = None
                return  # the mid has not moved enough and nothing else changed: keep our queue position
            verdict = self._plan(state, mine, decision)
            if verdict.halt_reason:
                self.halt(verdict.halt_reason)
            why = "; ".join(decision.notes) or (decision.skipped[0].reason if decision.skipped else "")
            await self._act(
                state, verdict.plan, note=why, decision=decision, dropped=verdict.dropped, started=started
            )
            # only a plan carried out is remembered: after a failed call the same inputs must act again
            state.last_mid, state.last_inputs = decision.mid, inputs

    async def _stand_down(self, state: MarketState, mine: Sequence[OurOrder]) -> None:
        """Unhealthy or stopped: pull our quotes (exit orders stay); a stopped market then exits."""
        quotes = [o for o in mine if o.tag != "exit"]
        if quotes:
            await self._act(
                state,
                ReconcilePlan(cancels=tuple(o.order_id for o in quotes), places=(), keeps=()),
                note=state.stopped or state.retired or self.pause_reason(),
            )
        state.event_t0 = None
        if state.stopped and self.healthy and not quotes:
            # only once our quotes are gone from the book: never sell into our own bid
            await self._exit_round(state)

    def _quote_input(self, state: MarketState, mine: Sequence[OurOrder]) -> QuoteInput:
        """What the quoter sees: the book without us and without dust, our inventory, the sides the
        regime rules or the mid's trust (a stale book, an unconfirmed jump) pull, and a pricing
        model's centre and half-spread when one is configured."""
        top = self._book_top(state.market, mine)
        now = self.clock.monotonic()
        regime = state.regime
        top_mid = None
        if top.bid is not None and top.ask is not None and top.bid.price < top.ask.price:
            top_mid = (top.bid.price + top.ask.price) / 2
        if regime is not None and top_mid is not None:
            regime.observe_mid(now, top_mid)
        view = regime.assess(now) if regime is not None else None
        blocked = view.blocked if view is not None else ()
        distrust = state.trust.judge(top_mid, now) if top_mid is not None else None
        if distrust is not None:
            blocked = (*blocked, ("bid", distrust), ("ask", distrust))
        override, why = self._warmup_mid(state, mine)
        multiplier = view.spread_multiplier if view is not None else ONE
        if state.pricer is not None:
            mid = override if override is not None else top_mid
            override, why, multiplier = self._priced(state, now, mid, (override, why, multiplier))
        volatility, bid_risk, ask_risk = _measured(view)
        return QuoteInput.at(
            state.market,
            top,
            yes_position=state.yes_position,
            no_position=state.no_position,
            sellable_yes=state.sellable_yes,
            sellable_no=state.sellable_no,
            spread_multiplier=multiplier,
            blocked=blocked,
            mid_override=override,
            mid_reason=why,
            volatility=volatility,
            bid_risk=bid_risk,
            ask_risk=ask_risk,
        )

    def _priced(
        self,
        state: MarketState,
        now: float,
        mid: Decimal | None,
        unpriced: tuple[Decimal | None, str, Decimal],
    ) -> tuple[Decimal | None, str, Decimal]:
        """The pricing model's answer as (mid override, its note, spread multiplier): its centre is
        the mid the quoter quotes around, its half-spread the base offset; `unpriced` when it has
        none (or there is no mid to give it)."""
        assert state.pricer is not None
        if mid is None:
            return unpriced
        params = self.config.params
        priced = state.pricer.price(
            PricingInput(
                t=now,
                mid=mid,
                net_position=state.yes_position - state.no_position,
                volatility=state.regime.volatility(now) if state.regime is not None else 0.0,
                size=params.size,
                position_limit=params.position_limit,
            )
        )
        if priced is None:
            return unpriced
        half_spread = max(priced.half_spread, MICRO)
        multiplier = (unpriced[2] * half_spread / (params.spread / 2)).quantize(MICRO)
        return priced.centre.quantize(MICRO), priced.note, multiplier

    def _quote(self, state: MarketState, inp: QuoteInput) -> QuoteDecision:
        """The quoter's answer; quoted again without the sides a portfolio cap blocks."""
        decision = quote(inp, self.config.params)
        caps = self.config.caps
        if decision.quotes and (caps.max_total_exposure is not None or caps.max_event_loss is not None):
            cid = state.market.condition_id
            capped = cap_blocks(self._holding(state), self._other_holdings(cid), decision.quotes, caps)
            if capped:
                decision = quote(replace(inp, blocked=(*inp.blocked, *capped)), self.config.params)
        return decision

    def _plan(self, state: MarketState, mine: Sequence[OurOrder], decision: QuoteDecision) -> RiskVerdict:
        """The fewest cancels and places that turn our orders into the targets, vetted by risk."""
        market = state.market
        plan = reconcile(decision.quotes, mine, tick=market.tick_size, tolerance=self.config.tolerance)
        kept = [o for o in mine if o.order_id in plan.keeps]
        return vet(plan, market=market, exposure=exposure(state, kept), kept=kept, limits=self._limits())

    def _limits(self) -> RiskLimits:
        return RiskLimits(
            position_limit=self.config.params.position_limit,
            max_order_size=self.config.max_order_size,
            max_order_notional=self.config.max_order_notional,
            max_orders_per_market=self.config.max_orders_per_market,
            halted=self.halted is not None,
        )

    def _may_overlap(self, state: MarketState, plan: ReconcilePlan) -> bool:
        """Whether the places may go out while the cancels are in flight: risk passes every place
        even with every order being cancelled still resting (a cancel can fail, or lose the race
        with a fill), so the position limit, free inventory, the order count, no self-cross and the
        portfolio caps all hold whichever order the venue sees them in. Otherwise the cancels are
        confirmed first."""
        cid = state.market.condition_id
        ids = {*plan.keeps, *plan.cancels}
        resting = [o for o in self.live.values() if o.market == cid and o.order_id in ids]
        as_if_kept = replace(plan, cancels=(), keeps=(*plan.keeps, *plan.cancels))  # counted by rule 8
        both = vet(
            as_if_kept,
            market=state.market,
            exposure=exposure(state, resting),
            kept=resting,
            limits=self._limits(),
        )
        if both.dropped or both.halt_reason is not None:
            return False
        return not self._capped_beside(state, resting, plan.places)

    def _capped_beside(
        self, state: MarketState, resting: Sequence[OurOrder], places: Sequence[TargetQuote]
    ) -> bool:
        """Whether a portfolio cap blocks the side of a place once the orders resting beside it (kept
        or being cancelled) count too: each side's worst case is all of them filled."""
        caps = self.config.caps
        if caps.max_total_exposure is None and caps.max_event_loss is None:
            return False
        market = state.market
        quotes = [*places, *(_as_quote(market, o) for o in resting)]
        capped = cap_blocks(self._holding(state), self._other_holdings(market.condition_id), quotes, caps)
        blocked = {side for side, _ in capped}
        return any(p.side in blocked for p in places)

    # -- portfolio views for the caps -----------------------------------------------------------------

    def _holding(self, state: MarketState) -> Holding:
        payout = state.market.payout_mark
        return holding(state, payout if payout is not None else self.external_mid(state.market))

    def _other_holdings(self, cid: str) -> list[Holding]:
        return [self._holding(s) for other, s in self.states.items() if other != cid]

    # -- income: rewards and rebates ------------------------------------------------------------------

    async def _payout_loop(self) -> None:
        while True:
            await self._record_payouts()
            await self.clock.sleep(self.config.payout_poll_s)

    async def _record_payouts(self) -> None:
        """Record what the venue paid us; a failure to read is shown and retried at the next poll."""
        try:
            flows = await self.payouts.poll(self.clock.now())
        except (VenueError, ValueError) as exc:
            if isinstance(exc, VenueError):
                self.observer.venue_error("payouts", exc.status)
            self.last_error = f"payouts: {describe(exc)}"
            log.warning("reading rewards and rebates failed: %s", describe(exc))
            return
        for flow in flows:
            log.info(
                "%s paid: %s pUSD in %s", flow.kind.value, flow.collateral_delta, flow.market or "the account"
            )
            if flow.market in self.states:
                self._projection(flow.market).add_flow(flow)

    # -- stop-loss ------------------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        """Time-driven rules: cool-downs that end, stop-losses to check, stopped markets to resume."""
        while True:
            await self.clock.sleep(self.config.tick_s)
            self._health_changed()  # a heartbeat going stale, an order-path pause ending
            now = self.clock.monotonic()
            for cid, state in self.states.items():
                if state.closed is not None:
                    if any(o.market == cid for o in self.live.values()):
                        self._dirty.add(cid)  # a wind-down cancel that failed: again
                    continue
                if state.stopped is None:
                    self._check_stop_loss(state)
                elif state.resume_at is not None and now >= state.resume_at:
                    state.stopped, state.resume_at, state.exit_rounds = None, None, 0
                    self._check_stop_loss(state)  # a loss still past the limit keeps it stopped
                    if state.stopped is None:
                        log.warning("%s: stop-loss cool-down over, quoting again", cid)
                        self.observer.stop_loss_over(cid)
                        state.last_inputs = ()
                self._dirty.add(cid)
            self._check_markets_left()
            self._wake.set()

    def _check_stop_loss(self, state: MarketState) -> None:
        params = self.config.stop_loss
        if not params.enabled:
            return
        cid = state.market.condition_id
        pnl = self.market_pnl(cid)
        reason = stop_loss_trigger(pnl.unrealized_pnl, pnl.daily_pnl, params)
        if reason:
            anchor = self.external_mid(state.market)
            log.warning("%s: %s", cid, arm_stop(state, reason, params, anchor, self.clock.monotonic()))
            self.observer.stop_loss(cid, reason)
            self._dirty.add(cid)
            self._wake.set()

    async def _exit_round(self, state: MarketState) -> None:
        """One round of getting flat after a stop-loss: merge pairs, then the mode's orders."""
        market = state.market
        cid = market.condition_id
        await self._merge_for_exit(state)
        flat = max(state.yes_position, state.no_position) < market.min_order_size
        exits = [o for o in self.live.values() if o.market == cid and o.tag == "exit"]
        mode = state.exit_mode
        if not flat and mode != "passive" and not (mode == "limit" and exits):
            state.exit_rounds += 1
            mine = [o for o in self.live.values() if o.market == cid]
            bids, asks = self._external_levels(market, mine)
            orders = plan_exit(
                market,
                yes=state.sellable_yes,
                no=state.sellable_no,
                yes_bids=bids,
                yes_asks=asks,
                mode=mode,
                anchor_mid=state.exit_anchor,
            )
            await self._place_exit(market, orders, "exit order")
        gave_up = mode == "market" and state.exit_rounds >= self.config.exit_rounds
        if state.resume_at is None and (flat or mode == "passive" or gave_up):
            self.observer.exit_done(cid, flat, f"{mode} exit, {state.exit_rounds} round(s)")
            self.halt(str(state.stopped) + ("" if flat else "; position not flat, see `polymm pnl`"))
            self._finished.set()

    async def _place_exit(self, market: Market, orders: Sequence[ExitOrder], error_label: str) -> None:
        """Send an exit's orders: the refused are observed (`error_label` names them in the last
        error), the resting ones (GTC) kept as ours."""
        if not orders:
            return
        cid = market.condition_id
        for result in await self.venue.place(exit_intents(market, orders, "exit")):
            i = result.intent
            if not result.ok:
                self.observer.order_refused(cid, "venue", result.error)
                self.last_error = f"{error_label}: {result.error}"
                continue
            self.observer.order_placed(cid, result.order_id, i.side, i.price, i.size, "exit")
            if i.order_type == "GTC":
                self.live[result.order_id] = OurOrder(
                    result.order_id, i.token_id, i.side, i.price, i.size, market=cid, tag="exit"
                )

    async def _merge_for_exit(
        self, state: MarketState, *, note: str = "stop-loss exit", ref: str = ""
    ) -> None:
        """Merge the settled YES+NO pairs back to collateral, recorded as a flow of the exit (`ref`:
        the exit's round, so two merges of one exit are two flows; the stop-loss exit's by default)."""
        cid = state.market.condition_id
        try:
            merged = await merge_pairs(self.chain, state.market, state.sellable_yes, state.sellable_no)
        except VenueError as exc:
            self.last_error = f"merge: {exc}"
            return
        if merged is None:
            return
        log.info("%s: merged %s YES+NO pairs back to collateral", cid, merged.collateral_delta)
        flow = chain_flow(
            FlowKind.MERGE, cid, merged, self.clock.now(), note=note, ref=ref or str(state.exit_rounds)
        )
        if self.ledger.record_flow(flow):
            self._projection(cid).add_flow(flow)
        self._refresh_positions(cid)

    def _external_levels(
        self, market: Market, mine: Sequence[OurOrder], depth: int = 10
    ) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
        """The YES book WITHOUT our own orders and without dust (best first). Quoting around, marking to
        or selling into a book our own quotes make would anchor us to ourselves; a level smaller than
        the dust size (`TrustParams.min_top_size`, default the market minimum) is not the market."""
        book = self.books.get(market.yes_token)
        if book is None:
            return (), ()
        ours = self._own_levels(market, mine)
        dust = self.config.trust.min_top_size or market.min_order_size
        return external_levels(book.levels(Side.BUY, depth), book.levels(Side.SELL, depth), ours, dust)

    def _own_levels(self, market: Market, mine: Sequence[OurOrder]) -> dict[tuple[bool, Decimal], Decimal]:
        """Our size per YES level as the feed shows it: our live orders, and the cancelled ones the
        feed has not dropped yet (`LeavingOrders`), so the book without us never counts them."""
        if not self.leaving:  # the common case: no lambda, no clock read
            orders: Sequence[OurOrder] = mine
        else:
            leaving = self.leaving.shown(
                market.condition_id, lambda o: self._feed_size(market, o), self.clock.monotonic()
            )
            orders = (*mine, *leaving) if leaving else mine
        return own_levels(market, ((o.token_id, o.side, o.price, o.remaining) for o in orders))

    def _feed_size(self, market: Market, order: OurOrder) -> Decimal:
        """The size the feed's YES book shows at `order`'s level (ours and everyone else's)."""
        book = self.books.get(market.yes_token)
        if book is None:
            return Decimal(0)
        side = Side.BUY if market.is_bid(order.token_id, order.side) else Side.SELL
        return book.size_at(side, market.yes_price(order.token_id, order.price))

    def _warmup_mid(self, state: MarketState, mine: Sequence[OurOrder]) -> tuple[Decimal | None, str]:
        """While a fresh book is warming up, the depth-weighted mid (a thin top cannot drag it)."""
        trust = state.trust
        if not trust.warming_up:
            return None, ""
        bids, asks = self._external_levels(state.market, mine)
        mid = depth_weighted_mid(bids, asks, self.config.trust.warmup_depth)
        if mid is None:
            return None, ""
        done, need = trust.updates, self.config.trust.warmup_updates
        return mid.quantize(MICRO), f"depth-weighted (book warming up: {done} of {need} updates)"

    def _book_top(self, market: Market, mine: Sequence[OurOrder]) -> BookTop:
        book = self.books.get(market.yes_token)
        if book is None:
            return BookTop(None, None, None, None)
        ours = self._own_levels(market, mine)
        dust = self.config.trust.min_top_size or market.min_order_size
        return book_top(book.levels(Side.BUY, 4), book.levels(Side.SELL, 4), ours, dust)

    def external_mid(self, market: Market) -> Decimal | None:
        """The mark (`book.mark`): the mid of the book without our orders and without dust."""
        mine = [o for o in self.live.values() if o.market == market.condition_id]
        return mark(*self._external_levels(market, mine))

    def pause_reason(self) -> str:
        if self.halted:
            return f"halted: {self.halted}"
        now = self.clock.monotonic()
        if self._order_path.paused(now):
            return "paused: " + self._order_path.reason(now)
        missing = [
            name
            for name, ok in (
                ("market feed", self.market_feed),
                ("user stream", self.user_stream),
                ("heartbeat", self.heartbeat_ok),
            )
            if not ok
        ]
        return "paused: " + ", ".join(missing) + " unhealthy"

    async def _act(
        self,
        state: MarketState,
        plan: ReconcilePlan,
        *,
        note: str,
        decision: QuoteDecision | None = None,
        dropped: Sequence[tuple[TargetQuote, str]] = (),
        started: float | None = None,
    ) -> None:
        """Hand the plan to the venue. With `overlap_cancels` (the default) the places and the cancels
        go at once when risk passes the places even if every order being cancelled stayed and filled
        (`_may_overlap`): for that moment two of our quotes may rest on one side. Otherwise the
        cancels are confirmed first, then the places. `started`: when the decision began (its compute
        time goes to the observer)."""
        cid = state.market.condition_id
        if plan.cancels or plan.places:
            now = self.clock.monotonic()
            tick_to_quote = now - state.event_t0 if state.event_t0 is not None else None
            if tick_to_quote is not None:
                self.latencies_us.append(tick_to_quote * 1e6)
            self.observer.decision(now - started if started is not None else None, tick_to_quote)
        for _, reason in dropped:
            self.observer.order_refused(cid, "risk", reason)
        state.event_t0 = None
        self.decisions += 1
        if self.config.overlap_cancels and plan.cancels and plan.places and self._may_overlap(state, plan):
            errors = await self._cancel_and_place(cid, plan)
        else:
            if plan.cancels:
                await self._cancel(cid, plan.cancels)
            errors = await self._place(cid, plan.places) if plan.places else []
        if errors:
            self.last_error = errors[-1]
        if note or plan.cancels or plan.places:  # what was done, when no rule had a word to say
            state.last_decision = note or f"{len(plan.places)} placed, {len(plan.cancels)} cancelled"
        if self._on_decision is not None and (plan.cancels or plan.places or errors or dropped):
            self._on_decision(decision_record(self, state, plan, note, decision, dropped, errors))

    async def _cancel(self, cid: str, order_ids: Sequence[str]) -> None:
        market = self.states[cid].market
        shown = {oid: self._feed_size(market, o) for oid in order_ids if (o := self.live.get(oid))}
        cancelled = await self._order_call(self.venue.cancel(order_ids))
        self.orders_canceled += len(cancelled.canceled)
        self.observer.orders_cancelled(cid, len(cancelled.canceled))
        now = self.clock.monotonic()
        for oid in cancelled.canceled:
            order = self.live.get(oid)
            if order is not None and oid in shown:
                self.leaving.add(order, shown[oid], now)
        for oid in (*cancelled.canceled, *cancelled.not_canceled):
            self.live.pop(oid, None)

    async def _cancel_and_place(self, cid: str, plan: ReconcilePlan) -> list[str]:
        """The places and the cancels as two calls in flight at once (one batch request each). The
        places go first, in this task: their acknowledgement is the new quote, and the venue takes
        the cancel right after. Each call's answer is recorded before a failure of the other is
        raised: a failed cancel never loses an order that was placed, and the next decision cancels
        what is still live."""
        cancelling = asyncio.ensure_future(self._cancel(cid, plan.cancels))
        placed: list[str] | Exception
        try:
            placed = await self._place(cid, plan.places)
        except asyncio.CancelledError:
            cancelling.cancel()
            cancelling.add_done_callback(_retrieve_outcome)  # nobody awaits it now: no stray warning
            raise
        except Exception as exc:
            placed = exc
        try:
            await cancelling
        except Exception:
            if isinstance(placed, Exception):  # both failed: the cancel's is raised, the place's logged
                log.warning("the places beside a failed cancel failed too: %s", placed)
            raise
        if isinstance(placed, Exception):
            raise placed
        return placed

    async def _place(self, cid: str, places: Sequence[TargetQuote]) -> list[str]:
        """Place the targets as post-only orders; our orders as the venue accepted them, and the
        venue's reasons for those it refused."""
        intents = [
            OrderIntent(
                market=cid,
                token_id=t.token_id,
                side=t.order_side,
                price=t.price,
                size=t.size,
                client_tag=t.side,
            )
            for t in places
        ]
        errors: list[str] = []
        for result in await self._order_call(self.venue.place(intents)):
            i = result.intent
            if not result.ok:
                errors.append(result.error)
                self.observer.order_refused(cid, "venue", result.error)
                if CLOSED_MARKET_ERROR in result.error and self.states[cid].closed is None:
                    self._close_market(cid, f"closed: the venue refuses orders here ({CLOSED_MARKET_ERROR})")
                continue
            self.orders_placed += 1
            self.observer.order_placed(cid, result.order_id, i.side, i.price, i.size, i.client_tag)
            self.live[result.order_id] = OurOrder(
                result.order_id, i.token_id, i.side, i.price, i.size, market=cid, tag=i.client_tag
            )
        return errors

    # -- the set of markets: re-selection adds markets and winds markets down while the run goes on --

    async def add_markets(self, markets: Sequence[Market]) -> list[str]:
        """Start quoting these markets too (a market wound down but still held is taken back): the
        ledger's holdings loaded, leftovers cancelled (or adopted), missed fills resynced, then the
        feeds re-subscribed with their tokens. Returns the condition ids added or taken back."""
        added: list[str] = []
        taken_back: list[str] = []
        for m in markets:
            held = self.states.get(m.condition_id)
            if held is not None and held.retired:
                held.retired, held.last_inputs = None, ()
                self._dirty.add(m.condition_id)
                taken_back.append(m.condition_id)
            elif held is None and not self._stopping:
                self.states[m.condition_id] = self._new_state(m)
                self.books[m.yes_token] = OrderBook(m.yes_token, m.tick_size)
                added.append(m.condition_id)
        if added:
            await self._prepare(added)
            for cid in added:  # tokens known last: no book update reaches a market not prepared
                self._token_market.update(dict.fromkeys(self.states[cid].market.tokens, cid))
            await self._resubscribe()
        self._wake.set()
        return added + taken_back

    async def retire_market(self, cid: str, reason: str, *, liquidate: bool = False) -> RetireReport:
        """Wind a market down: stop quoting it, cancel its orders and confirm the venue lists none;
        with `liquidate`, merge pairs and sell what is held (market mode, bounded rounds). A market
        left flat leaves the engine; one still held stays, unquoted, so the caps still count it."""
        state = self.states.get(cid)
        if state is None:
            return RetireReport(cid, reason, cancelled=0, confirmed=True, removed=True)
        async with self._decide_lock:  # a decision in flight for it finishes first; none follows
            state.retired = reason
        log.warning("%s: winding down: %s", cid, reason)
        cancelled, confirmed = await self._cancel_market(cid)
        if liquidate and confirmed:
            await self._liquidate_retired(state)
        flat = max(state.yes_position, state.no_position) < state.market.min_order_size
        removed = confirmed and flat and state.retired is not None
        if removed:
            self._forget(cid)
            await self._resubscribe()
        state.last_decision = f"wound down: {reason}"
        return RetireReport(cid, reason, cancelled=cancelled, confirmed=confirmed, removed=removed)

    async def _cancel_market(self, cid: str) -> tuple[int, bool]:
        """Cancel every order of ours in one market until the venue lists none (bounded, like the stop)."""
        cancelled = 0
        for _ in range(max(1, int(self.config.stop_timeout_s / 0.2))):  # counted in sleeps: virtual clocks
            done, still_open = await self._cancel_round(
                cid, "wind-down", lambda exc: f"wind-down of {cid}: {describe(exc)}"
            )
            cancelled += done
            if still_open == 0:
                for oid in [oid for oid, o in self.live.items() if o.market == cid]:
                    del self.live[oid]
                return cancelled, True
            await asyncio.sleep(0.2)
        return cancelled, False

    async def _cancel_round(
        self, cid: str, where: str, error_text: Callable[[VenueError], str]
    ) -> tuple[int, int | None]:
        """Cancel every order of ours in one market once: how many the venue cancelled, and how many
        it still lists (None when it could not be asked; the error is observed as `where`)."""
        cancelled = 0
        try:
            result = await self.venue.cancel_all(cid)
            cancelled = len(result.canceled)
            self.orders_canceled += cancelled
            self.observer.orders_cancelled(cid, cancelled)
            return cancelled, len(await self.venue.open_orders(cid))
        except VenueError as exc:
            self.observer.venue_error(where, exc.status)
            self.last_error = error_text(exc)
            return cancelled, None

    async def _liquidate_retired(self, state: MarketState) -> None:
        """Get flat in a wound-down market: merge pairs, then market-mode exit rounds (FAK, never
        below the floor off the mid at the start) while the book has bids within it."""
        market = state.market
        cid = market.condition_id
        anchor = self.external_mid(market)
        for round_no in range(self.config.exit_rounds):
            # its own round counter: `state.exit_rounds` (the stop-loss exit's) stays put meanwhile
            await self._merge_for_exit(state, note="wind-down exit", ref=f"wind-down {round_no}")
            if max(state.yes_position, state.no_position) < market.min_order_size or anchor is None:
                return
            bids, asks = self._external_levels(market, [])
            orders = plan_exit(
                market,
                yes=state.sellable_yes,
                no=state.sellable_no,
                yes_bids=bids,
                yes_asks=asks,
                mode="market",
                anchor_mid=anchor,
            )
            if not orders:
                return
            await self._place_exit(market, orders, f"{cid}: wind-down exit order")
            await asyncio.sleep(0.5)  # the fills arrive on the user stream

    def _forget(self, cid: str) -> None:
        state = self.states.pop(cid)
        self.leaving.forget(cid)
        self.books.pop(state.market.yes_token, None)
        for token in state.market.tokens:
            self._token_market.pop(token, None)
        self._dirty.discard(cid)

    async def _resubscribe(self) -> None:
        """Feeds for the markets held now: the new streams open before the old ones close (so nothing
        falls between them; an event seen twice is applied once), and the consumers switch over."""
        if not self._streams or self._stopping:
            return
        tokens = [s.market.yes_token for s in self.states.values()]
        old = self._streams
        self._streams = [self.venue.market_events(tokens), self.venue.user_events(list(self.states))]
        for stream in old:
            with contextlib.suppress(Exception):
                await stream.close()

    # -- what the dashboard shows -------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        """What the dashboard, `--headless` and the stop line read (engine/view.py)."""
        return snapshot(self)


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    """Read a task's outcome that nobody awaits, so asyncio does not warn that it was never retrieved
    (the decision that started it was cancelled; what the call did is recorded by the call itself)."""
    if not task.cancelled():
        task.exception()


def _observe_fill(regime: MarketRegime, market: Market, fill: Fill, now: float) -> None:
    """A fill of ours to the regime's markouts: its side and price in YES terms, and the rebate it
    earns a share as the maker (part of its edge on a fee-enabled market)."""
    yes_price = market.yes_price(fill.token_id, fill.price)
    rebate = maker_rebate_per_share(market, yes_price) if fill.liquidity == "MAKER" else ZERO
    regime.observe_fill(now, market.quote_side(fill.token_id, fill.side), yes_price, fill.size, rebate)


def _as_quote(market: Market, order: OurOrder) -> TargetQuote:
    """A resting order as the portfolio caps read a quote: its side in YES terms and what is left."""
    side = market.quote_side(order.token_id, order.side)
    yes_price = market.yes_price(order.token_id, order.price)
    return TargetQuote(side, order.token_id, order.side, order.price, yes_price, order.remaining)


def _closed_reason(market: Market) -> str:
    """Why a market is not quoted: "resolved: Yes won", or closed by the venue."""
    if market.resolved:
        return f"resolved: {market.outcome_of(market.winner)} won"
    return "closed: the venue no longer accepts orders in this market"


def _measured(view: RegimeView | None) -> tuple[Decimal, SideRisk, SideRisk]:
    """The regime's measurements as the quoter takes them: the volatility and each side's toxicity."""
    if view is None:
        return ZERO, NO_RISK, NO_RISK
    volatility = Decimal(f"{view.volatility:.4g}") if view.volatility else ZERO
    if view.toxic is None:
        return volatility, NO_RISK, NO_RISK
    return volatility, _side_risk(view.toxic[0]), _side_risk(view.toxic[1])


def _side_risk(toxic: SideToxicity) -> SideRisk:
    """A side's markouts as the quoter takes them (the widening rounded to 2 decimals: a requote
    input, so a hair's change must not move the quotes)."""
    if not toxic.fills:
        return NO_RISK  # nothing marked out on this side (a pull is the regime's blocked side)
    widen = Decimal(f"{toxic.widen:.2f}") if toxic.widen > 1.0 else ONE
    return SideRisk(
        widen=widen,
        adverse=Decimal(f"{toxic.adverse:.6f}"),
        fill_rate=Decimal(f"{toxic.fill_rate:.4f}"),
        note=toxic.note,
        pulled=toxic.pulled,
    )
