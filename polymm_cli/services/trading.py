"""Services for `polymm run`, `polymm quote` and `polymm cancel-all`.

`run` wires one QuotingEngine: settings -> venue (local exchange or Polymarket) -> ledger -> engine,
with a per-wallet lock (one engine per wallet), the halt file other processes use to stop it, and a
snapshot callback for the dashboard. Commands stay thin: each calls one function here.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polymm_cli.book import BookTop, book_top, own_levels
from polymm_cli.clock import Clock, SystemClock
from polymm_cli.engine import EngineConfig, QuotingEngine
from polymm_cli.engine.fleet import Reselector
from polymm_cli.errors import EXIT_INTERRUPTED, EngineFailure, PolymmError, RiskHalt, UsageError, VenueError
from polymm_cli.ledger import Ledger
from polymm_cli.liquidation import StopLossParams
from polymm_cli.model import ZERO, EngineSnapshot, Market, decimal_str
from polymm_cli.ops.alerts import KILL_SWITCH_PREFIX
from polymm_cli.quoter import QuoteDecision, QuoteInput, QuoteParams, quote
from polymm_cli.regime import RegimeParams
from polymm_cli.risk import PortfolioCaps
from polymm_cli.services.guard import Action, Consent
from polymm_cli.services.operations import RunOps
from polymm_cli.services.status import StatusPublisher, status_path
from polymm_cli.services.venues import (
    chain_of,
    data_dir,
    local_private_key,
    on_venue,
    open_venue,
    run_key,
    run_lock_path,
    settings_account,
    wallet_address,
)
from polymm_cli.settings import HardCaps, Settings, VenueName
from polymm_cli.toxicity import ToxicityParams
from polymm_cli.trust import TrustParams
from polymm_cli.venues.base import Venue

if TYPE_CHECKING:
    from polymm_cli.services.fleet import MarketSelector, SelectOptions

HALT_FILE = "halt-{address}.json"
SNAPSHOT_INTERVAL_S = 0.25
CENT = Decimal("0.01")
UNCAPPED_ORDER_SIZE = Decimal(100_000)  # no cap set: a bound no sane order reaches
PAYOUT_POLL_S = 300.0  # rewards and rebates are paid once a day: reading them every 5 minutes is plenty


class Interrupted(PolymmError):
    exit_code = EXIT_INTERRUPTED


@dataclass
class RunOptions:
    markets: list[str] = field(default_factory=list)
    duration: float | None = None
    adopt_orders: bool = False
    select: SelectOptions | None = None  # `--select`: the markets are chosen by rule (services/fleet.py)


def engine_config(settings: Settings, *, adopt_orders: bool = False) -> EngineConfig:
    """Everything the engine is told, from the one settings object."""
    hard = settings.hard_caps()
    return EngineConfig(
        params=quote_params(settings),
        adopt_orders=adopt_orders,
        freeze_heap=True,  # one engine per process: nothing of the start-up heap for the collector
        regime=RegimeParams(
            vol_enabled=settings.volatility_filter,
            vol_reference=settings.vol_reference,
            vol_sensitivity=settings.vol_sensitivity,
            max_widen=settings.max_widen,
            jump_enabled=settings.jump_filter,
            jump_threshold=settings.jump_threshold,
            jump_cooldown_s=settings.jump_cooldown,
            trend_enabled=settings.trend_filter,
            trend_threshold=settings.trend_threshold,
            trend_window_s=settings.trend_window,
            fill_cooldown_s=settings.fill_cooldown,
            toxicity=toxicity_params(settings),
        ),
        caps=PortfolioCaps(max_total_exposure=hard.total_exposure, max_event_loss=settings.max_event_loss),
        max_order_size=hard.order_size or UNCAPPED_ORDER_SIZE,
        max_order_notional=hard.order_notional,
        stop_loss=StopLossParams(
            enabled=settings.max_unrealized_loss is not None or settings.max_daily_loss is not None,
            max_unrealized_loss=settings.max_unrealized_loss,
            max_daily_loss=settings.max_daily_loss,
            mode=settings.liquidation_mode,
            resume_after_s=settings.resume_after,
        ),
        max_orders_per_market=max(10, 2 * settings.levels + 2),
        reward_fit=settings.reward_fit(),
        width=settings.width(),
        venue_label="the paper venue" if settings.venue is VenueName.PAPER else "the exchange",
        # read payouts at least once an epoch of the in-process exchange (a day on Polymarket)
        payout_poll_s=min(PAYOUT_POLL_S, settings.exchange_reward_epoch),
        trust=TrustParams(
            min_top_size=settings.dust_size,
            jump_bound=settings.mid_jump_bound,
            confirm_s=settings.mid_confirm_s,
        ),
    )


def quote_params(settings: Settings) -> QuoteParams:
    return QuoteParams(
        spread=settings.spread,
        size=settings.size,
        position_limit=settings.position_limit,
        requote_threshold=settings.requote_threshold,
        skew_enabled=settings.skew_enabled,
        skew_factor=settings.skew_factor,
        skew_start=settings.skew_start,
        skew_gamma=settings.skew_gamma,
        skew_horizon_s=settings.skew_horizon,
        use_microprice=settings.microprice,
        levels=settings.levels,
        level_spacing_ticks=settings.level_spacing_ticks,
        level_size=settings.level_size,
        reward_band=settings.reward_band_on(),
        reward_size=settings.reward_size,
        reward_gate=settings.reward_gate,
        adaptive_spread=settings.adaptive_spread_on(),
        taper=settings.taper_on(),
    )


def toxicity_params(settings: Settings) -> ToxicityParams:
    """The toxic-flow rule's knobs; thresholds out of order are one clear line, not a traceback."""
    if settings.toxicity_widen_at > settings.toxicity_pull_at:
        raise UsageError(
            f"toxicity widen threshold {settings.toxicity_widen_at:g} is above the pull threshold "
            f"{settings.toxicity_pull_at:g} (POLYMM_TOXICITY_WIDEN_AT <= POLYMM_TOXICITY_PULL_AT)"
        )
    return ToxicityParams(
        enabled=settings.toxicity_filter,
        horizon_s=settings.toxicity_horizon,
        widen_at=settings.toxicity_widen_at,
        pull_at=settings.toxicity_pull_at,
        pull_s=settings.toxicity_pull,
    )


def check_params_for(market: Market, params: QuoteParams) -> None:
    """Refuse settings that cannot quote this market, with one clear line each."""
    name = market.slug or market.condition_id
    if params.spread < market.tick_size:
        raise UsageError(f"spread {params.spread} is below one tick ({market.tick_size}) of {name}")
    if params.size < market.min_order_size:
        raise UsageError(  # decimal_str: the listing's 5.0 reads 5
            f"size {params.size} is below the minimum order size ({decimal_str(market.min_order_size)})"
            f" of {name}"
        )


def check_caps(params: QuoteParams, caps: HardCaps) -> None:
    """Refuse a configured size that the hard caps would refuse on every order (one line)."""
    if caps.order_size is not None and params.size > caps.order_size:
        raise UsageError(
            f"size {decimal_str(params.size)} is above the per-order cap of {decimal_str(caps.order_size)}"
            " shares (POLYMM_MAX_ORDER_SIZE)"
        )


# -- the per-wallet lock and the halt file ---------------------------------------------------------


@contextlib.contextmanager
def wallet_lock(directory: Path, address: str) -> Iterator[None]:
    """One engine per wallet: a second `run` on the same account is refused while this is held.
    `address` is the run key (`services.venues.run_key`): the wallet, or paper-<wallet>."""
    path = run_lock_path(directory, address)
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UsageError(f"another polymm run is already trading wallet {address} ({holder})") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def halt_path(directory: Path, address: str) -> Path:
    return directory / HALT_FILE.format(address=address.lower())


def request_halt(directory: Path, address: str, reason: str) -> None:
    """Ask the running engine of this wallet to pull its quotes and stop quoting (obeyed within 1 s)."""
    path = halt_path(directory, address)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"reason": reason, "pid": os.getpid()}))
    os.replace(tmp, path)


def read_halt(directory: Path, address: str) -> str | None:
    try:
        return str(json.loads(halt_path(directory, address).read_text())["reason"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return "halt requested"


# -- run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """How a run that ended normally ended: why, and what its stop did ("2 orders cancelled,
    confirmed by the exchange; P&L +0.16")."""

    reason: str
    summary: str


def run(
    settings: Settings,
    options: RunOptions,
    *,
    consent: Consent,
    on_snapshot: Callable[[EngineSnapshot], None] | None = None,
    on_decision: Callable[[dict[str, Any]], None] | None = None,
) -> RunOutcome:
    """Run the quoting engine until duration, Ctrl+C or SIGTERM.

    Raises Interrupted on Ctrl+C (exit 130: a requested stop, its message says what was done),
    RiskHalt when the run ended halted (4), EngineFailure when an engine task died (1), and
    VenueError when the exchange did not confirm every cancel at the stop (3)."""
    params = quote_params(settings)
    directory = data_dir(settings)
    names = ", ".join(options.markets) or "the first listed market"
    # a bad webhook URL is refused here, before anything starts
    ops = RunOps(settings, SystemClock(), extra_secrets=local_secrets(settings, directory))
    if options.select is not None:
        names = f"the markets {options.select.describe()} picks"
    return on_venue(
        settings,
        lambda url: _run(settings, options, params, directory, url, on_snapshot, on_decision, ops),
        action=Action.TRADE,
        consent=consent,
        what=f"quote {names}",
        publish=True,
    )


async def _run(
    settings: Settings,
    options: RunOptions,
    params: QuoteParams,
    directory: Path,
    url: str | None,
    on_snapshot: Callable[[EngineSnapshot], None] | None,
    on_decision: Callable[[dict[str, Any]], None] | None,
    ops: RunOps,
) -> RunOutcome:
    clock = ops.clock
    # the metrics port first: a port in use ends the run here, before the venue is opened
    async with ops.metrics_served(), open_venue(settings, clock, url) as handle:
        venue = handle.venue
        selector = _selector(venue, clock, params, options.select) if options.select else None
        markets = await selector.first() if selector else await _resolve_markets(venue, options.markets)
        for market in markets:
            check_params_for(market, params)
        check_caps(params, settings.hard_caps())
        key = run_key(handle.account)
        with (
            wallet_lock(directory, key),
            Ledger.open(directory, account=handle.account) as ledger,
            ops.logging_to(directory, key),
        ):
            halt_path(directory, key).unlink(missing_ok=True)  # a new run starts un-halted
            engine = QuotingEngine(
                venue,
                ledger,
                clock,
                markets,
                engine_config(settings, adopt_orders=options.adopt_orders),
                venue_name=handle.name,
                halt_check=lambda: read_halt(directory, key),
                on_decision=ops.decisions(on_decision),
                chain=chain_of(handle),  # the stop-loss merges pairs before it sells
                observer=ops.observer,
            )
            ops.attach(engine)
            selection = _reselect_in(engine, selector, on_decision) if selector is not None else None
            publisher = StatusPublisher(engine, status_path(directory, key), selection=selection)
            paper = handle.name == VenueName.PAPER.value
            async with ops.alerting():
                return await _drive(engine, options, on_snapshot, paper=paper, publisher=publisher)


def local_secrets(settings: Settings, directory: Path) -> tuple[str, ...]:
    """The data dir's wallet key when this run signs with it (the local exchange), for the redactor."""
    if settings.venue is not VenueName.LOCAL:
        return ()
    return (local_private_key(directory)[0].get_secret_value(),)


async def _drive(
    engine: QuotingEngine,
    options: RunOptions,
    on_snapshot: Callable[[EngineSnapshot], None] | None,
    *,
    paper: bool = False,
    publisher: StatusPublisher | None = None,
) -> RunOutcome:
    """Run the engine with the signals wired to a clean stop, the dashboard fed and the status file
    published, then judge the end."""
    stop = asyncio.Event()
    interrupted: list[int] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: int) -> None:
        interrupted.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    reporter = asyncio.create_task(_report(engine, on_snapshot)) if on_snapshot else None
    status = asyncio.create_task(publisher.publish_forever()) if publisher else None
    reason, failure = "stopped", None
    try:
        reason = await engine.run(duration=options.duration, stop=stop)
    except EngineFailure as exc:
        failure = exc
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            with contextlib.suppress(Exception):
                on_snapshot(engine.snapshot())  # type: ignore[misc]
        if status is not None and publisher is not None:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status
            publisher.final(
                _ended(engine, failure or _stop_reason(reason, interrupted[0] if interrupted else None))
            )
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return _judge(engine, reason, failure, interrupted[0] if interrupted else None, paper=paper)


def _stop_reason(reason: str, sig: int | None) -> str:
    """Why a run stopped, as `polymm status` shows it: the engine says only "stopped" when told to,
    so a signal names itself ("stopped" after "the last run stopped:" read twice)."""
    if reason != "stopped" or sig is None:
        return reason
    return "interrupted (Ctrl+C)" if sig == signal.SIGINT else "terminated (SIGTERM)"


def _ended(engine: QuotingEngine, reason: object) -> str:
    report = engine.stop_report
    return f"{reason}; {report.summary() if report is not None else 'nothing was cancelled'}"


def _judge(
    engine: QuotingEngine, reason: str, failure: EngineFailure | None, sig: int | None, *, paper: bool = False
) -> RunOutcome:
    """The run's end as the user reads it; the most urgent news wins: orders possibly left open,
    then a failure, a halt, an interrupt. A paper run's stop says what was simulated."""
    report = engine.stop_report
    done = report.summary() if report is not None else "nothing was cancelled"
    if paper and report is not None and report.confirmed:
        done = (
            f"{report.cancelled} paper order{'' if report.cancelled == 1 else 's'} cancelled,"
            f" {engine.snapshot().fills} simulated fill{'' if engine.snapshot().fills == 1 else 's'};"
            " nothing was sent to the exchange"
        )
    pnl = ""
    with contextlib.suppress(Exception):  # a broken ledger must not hide how the stop went
        pnl = f"; P&L {engine.snapshot().total_pnl.quantize(CENT):+}"
    if report is not None and not report.confirmed:
        why = f"stopped ({failure})" if failure is not None else _stop_reason(reason, sig)
        raise VenueError(f"{why}: {done}")
    if failure is not None:
        raise EngineFailure(f"{failure}; {done}")
    if reason.startswith("halted"):
        raise RiskHalt(f"run ended {reason}; {done}{pnl}")
    if sig == signal.SIGINT:
        raise Interrupted(f"stopped: {done}{pnl}")
    return RunOutcome(reason, f"{done}{pnl}")


async def _report(engine: QuotingEngine, on_snapshot: Callable[[EngineSnapshot], None]) -> None:
    """Feed the dashboard; a dashboard that fails stops the run safely (nobody could see it)."""
    try:
        while True:
            on_snapshot(engine.snapshot())
            await asyncio.sleep(SNAPSHOT_INTERVAL_S)
    except Exception as exc:
        engine.fail("dashboard", exc)


def _selector(venue: Venue, clock: Clock, params: QuoteParams, options: SelectOptions) -> MarketSelector:
    # imported here: services.fleet reads the listing through services.markets, which imports this module
    from polymm_cli.services.fleet import MarketSelector

    return MarketSelector(venue, clock, params, options)


def _reselect_in(
    engine: QuotingEngine, selector: MarketSelector, on_decision: Callable[[dict[str, Any]], None] | None
) -> Callable[[], dict[str, Any]]:
    """Re-select every `--reselect-min` minutes (never with 0), as one of the engine's tasks;
    returns what `polymm status` shows of the selection."""
    options = selector.options
    reselector = Reselector(
        engine,
        selector,
        every_s=options.reselect_s,
        liquidate=options.liquidate_dropped,
        on_change=on_decision,
    )
    if options.reselect_s > 0:
        engine.also_run("re-selection", reselector.run, keeps_run_alive=True)

    def shown() -> dict[str, Any]:
        return {
            "rule": options.describe(),
            "every_s": options.reselect_s,
            "liquidate_dropped": options.liquidate_dropped,
            "rounds": reselector.rounds,
            "last_round": reselector.last_round,
        }

    return shown


async def _resolve_markets(venue: Venue, idents: list[str]) -> list[Market]:
    if not idents:
        listed = await venue.markets()
        if not listed:
            raise UsageError("the venue lists no tradable market; name one")
        return [listed[0]]
    markets: list[Market] = []
    for ident in idents:
        market = await venue.market(ident)
        if market.condition_id not in {m.condition_id for m in markets}:
            markets.append(market)
    return markets


# -- quote (dry run of the quoter) -----------------------------------------------------------------


@dataclass(frozen=True)
class QuotePreview:
    market: Market
    decision: QuoteDecision
    position: Decimal
    reward_fit: str  # what reward fitting may do to the quotes (settings.reward_fit)
    width: str = ""  # which width is in force and why (settings.width)


def preview_quote(
    settings: Settings, ident: str, *, position: Decimal | None, mid: Decimal | None
) -> QuotePreview:
    """What the quoter would place now for this market, and why; places nothing."""
    params = quote_params(settings)

    async def main(url: str | None) -> QuotePreview:
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            market = await handle.venue.market(ident)
            check_params_for(market, params)
            top = BookTop(None, None, None, None)
            if mid is None:  # the book as a running engine reads it: without our orders and dust
                book = await handle.venue.book(market.yes_token)
                mine = await handle.venue.open_orders(market.condition_id)
                ours = own_levels(market, ((o.token_id, o.side, o.price, o.remaining) for o in mine))
                top = book_top(book.bids, book.asks, ours, settings.dust_size or market.min_order_size)
            yes = position if position is not None and position > 0 else ZERO
            no = -position if position is not None and position < 0 else ZERO
            holdings = {"yes_position": yes, "no_position": no, "sellable_yes": yes, "sellable_no": no}
            inp = QuoteInput.at(market, top, mid_override=mid, **holdings)
            return QuotePreview(market, quote(inp, params), yes - no, settings.reward_fit(), settings.width())

    return on_venue(settings, main, action=Action.READ)


# -- cancel-all (the kill switch) ------------------------------------------------------------------


@dataclass(frozen=True)
class CancelReport:
    address: str
    canceled: tuple[str, ...]
    still_open: int
    halted_run: bool


def cancel_all(settings: Settings, market: str | None, *, halt_grace_s: float = 0.6) -> CancelReport:
    """Cancel at the exchange, halt this wallet's running engine (if any), then sweep again until the
    exchange lists none of its orders (or report how many are left)."""
    directory = data_dir(settings)

    async def main(url: str | None) -> CancelReport:
        clock = SystemClock()
        async with open_venue(settings, clock, url) as handle:
            venue = handle.venue
            # resolve --market first: a typo must not halt the running engine and then fail
            cid = (await venue.market(market)).condition_id if market else None
            key = run_key(handle.account)
            running = _run_is_active(directory, key)
            # pull first (a kill switch must not wait), and so the report names the orders it pulled:
            # halting first let the engine cancel them itself and cancel-all said "cancelled 0"
            canceled: list[str] = list((await venue.cancel_all(cid)).canceled)
            if running:
                request_halt(directory, key, f"{KILL_SWITCH_PREFIX} from another terminal")
                await asyncio.sleep(halt_grace_s)  # the engine polls every 0.25 s, then stops placing
            for _ in range(5):
                result = await venue.cancel_all(cid)
                canceled.extend(result.canceled)
                if not await venue.open_orders(cid):
                    break
                await asyncio.sleep(0.2)
            left = len(await venue.open_orders(cid))
            return CancelReport(venue.address, tuple(dict.fromkeys(canceled)), left, running)

    return on_venue(settings, main, action=Action.CANCEL)


def _run_is_active(directory: Path, address: str) -> bool:
    path = run_lock_path(directory, address)
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


# -- halt / resume (from another terminal) -----------------------------------------------------------


def halt_engine(settings: Settings, reason: str) -> str:
    """Write the halt file the wallet's running engine watches; returns the wallet address."""
    address = wallet_address(settings)
    request_halt(data_dir(settings), run_key(settings_account(settings)), reason)
    return address


def resume_engine(settings: Settings) -> tuple[str, bool]:
    """Remove the halt file; returns (wallet, whether it was halted)."""
    address = wallet_address(settings)
    path = halt_path(data_dir(settings), run_key(settings_account(settings)))
    was = path.exists()
    path.unlink(missing_ok=True)
    return address, was
