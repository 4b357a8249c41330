"""`make soak`: the chaos soak. Measures, as figures, that nothing is lost under faults.

A real `polymm exchange serve --port 0` (own state file; settlement delay and a 30% settlement
failure rate, i.e. ghost fills) and a real `polymm run --headless --exchange-url URL` (own temp
POLYMM_DATA_DIR) run as subprocesses. Faults drawn from a seeded RNG hit them one after another with
quiet periods between: WebSocket drops and silent stalls (longer than the bot's watchdog), 5xx storms,
429 bursts with Retry-After, 425 restart windows, latency spikes, tick-size changes and kill -9 of
the bot followed by a restart. A second wallet hits the bot's quotes with marketable orders; an
observer samples the bot's open orders at the exchange every ~150 ms. At the end faults are cleared,
the bot is stopped with SIGTERM, and the exchange's view is compared with the ledger's.

    python -m bench.soak [--minutes 30] [--seed 7] [--out bench/soak.json] ...

Prints a table, writes the JSON (no secrets: no keys, no API credentials) and exits 1 when an
invariant fails (lost or doubled fills, ledger != exchange, orders left open, stale quoting).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bench.soak_actors import FaultInjector, FaultRecord, Observer, Taker
from bench.soak_metrics import (
    FINAL,
    Timeline,
    check_money,
    compare_fills,
    exchange_fills,
    ledger_fills,
    summarise,
)
from bench.soak_procs import Bot, start_exchange
from bench.soak_schedule import (
    KINDS,
    PULLS_QUOTES,
    RESTARTS_BOT,
    WS_STALL,
    ScheduleParams,
    default_counts,
    plan_faults,
    schedule_length_s,
)
from polymm_cli.clock import SystemClock
from polymm_cli.errors import PolymmError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.ledger import Ledger
from polymm_cli.model import Market, decimal_str
from polymm_cli.services.venues import LOCAL_STARTING_PUSD, local_private_key
from polymm_cli.venues.polymarket import PolymarketConfig, PolymarketVenue

RESULTS = Path(__file__).with_name("soak.json")
CANCEL_ALLOWANCE_S = 1.0  # the bot's detection bound: its WebSocket watchdog plus one second to cancel


def default_detection_bound() -> float:
    """The bot's declared bound for noticing a silent feed: the adapter's watchdog default + 1 s."""
    watchdog = next(f for f in dataclasses.fields(PolymarketConfig) if f.name == "ws_watchdog_s")
    return float(watchdog.default) + CANCEL_ALLOWANCE_S  # type: ignore[arg-type]


@dataclass
class SoakConfig:
    minutes: float = 30.0
    seed: int = 7
    markets: list[str] = field(default_factory=lambda: [sample_markets()[0].slug])
    settlement_delay_s: float = 3.0
    settlement_fail_rate: float = 0.3
    detection_bound_s: float = field(default_factory=default_detection_bound)
    quiet_s: tuple[float, float] | None = None  # None: 3-8 s for short runs, 15-40 s for long ones
    http_fault_s: tuple[float, float] = (6.0, 18.0)
    kill_downtime_s: tuple[float, float] = (12.0, 16.0)
    stall_extra_s: tuple[float, float] = (3.0, 12.0)  # a stall lasts the detection bound plus this
    after_stall_s: float = 12.0  # extra quiet after a stall (the bot takes a while to come back)
    slow_settlement_s: tuple[float, float] = (75.0, 95.0)  # a slow chain, then a crash at its end
    counts: dict[str, int] | None = None  # required faults per kind; None: default_counts(minutes)
    fill: bool = True
    shuffle: bool = True  # False: required faults in the order `counts` lists them
    sample_interval_s: float = 0.15
    taker_interval_s: tuple[float, float] = (2.0, 5.0)
    taker_max_size: Decimal = Decimal(3000)  # the bot often queues behind the flow's large makers
    bot_funds: Decimal = LOCAL_STARTING_PUSD
    taker_funds: Decimal = Decimal(10_000_000)
    warmup_timeout_s: float = 60.0
    quotes_wait_s: float = 15.0  # before each fault, wait this long for the bot to be quoting
    stop_timeout_s: float = 90.0
    out: Path | None = RESULTS
    keep: bool = False
    workdir_parent: Path | None = None  # where the temp work dir goes (None: the system's temp dir)

    def schedule_params(self) -> ScheduleParams:
        quiet = self.quiet_s or ((3.0, 8.0) if self.minutes < 10 else (15.0, 40.0))
        return ScheduleParams(
            horizon_s=self.minutes * 60,
            detection_bound_s=self.detection_bound_s,
            quiet_s=quiet,
            http_fault_s=self.http_fault_s,
            kill_downtime_s=self.kill_downtime_s,
            stall_extra_s=self.stall_extra_s,
            after_stall_s=self.after_stall_s,
            slow_settlement_s=self.slow_settlement_s,
            counts=self.counts if self.counts is not None else default_counts(self.minutes),
            fill=self.fill,
            shuffle=self.shuffle,
        )

    def public(self) -> dict[str, Any]:
        """The configuration as the JSON shows it."""
        hidden = ("out", "keep", "workdir_parent")
        out = {k: v for k, v in dataclasses.asdict(self).items() if k not in hidden}
        public: dict[str, Any] = json.loads(json.dumps(out, default=str))
        return public


async def run_soak(config: SoakConfig) -> dict[str, Any]:
    """Run one soak in a temp work dir and return the report. The work dir (the bot's logs and
    ledger, the exchange's state) is removed afterwards unless `keep` or an invariant failed: then
    it is the evidence."""
    workdir = Path(tempfile.mkdtemp(prefix="polymm-soak-", dir=config.workdir_parent))
    report: dict[str, Any] = {}
    try:
        report = await Soak(config, workdir).run()
    finally:
        kept = config.keep or bool(report.get("failed"))
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)
    report["workdir"] = str(workdir) if kept else None
    return report


async def fund(url: str, address: str, amount: Decimal) -> None:
    """Credit pUSD once (the bot's own `once` funding at start then finds it funded and adds nothing)."""
    async with httpx.AsyncClient(timeout=10) as client:
        body = {"address": address, "amount": str(amount), "once": True}
        response = await client.post(f"{url}/_local/fund", json=body)
        response.raise_for_status()
        if not response.json().get("funded"):
            raise RuntimeError(f"wallet {address} was funded before: the soak needs a fresh exchange")


def fast_failing(url: str, key: SecretStr) -> PolymarketVenue:
    """An adapter that makes one attempt per request: the caller samples again instead of backing off."""
    config = PolymarketConfig.for_local_exchange(
        url, key, http_max_attempts=1, http_timeout_s=5.0, http_retry_budget_s=5.0
    )
    return PolymarketVenue(config, SystemClock())


async def answered(call: Any, attempts: int = 50) -> Any:
    """`await call()` until it answers: faults are cleared by then, but one attempt may still fail."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


@dataclass
class Timing:
    """When the soak's phases happened (unix seconds) and how the bot's final stop went."""

    started: float
    quoting: float  # when the observer first saw the bot's quotes
    faults_ended: float
    stopped: float
    final_exit_code: int | None
    stop_took_s: float
    left_open: list[str]


@dataclass
class Books:
    """The two sides' books after the final stop: the exchange's and the ledger's."""

    trades: list[Any]
    unsettled_at_exchange: int
    collateral: Decimal
    tokens: dict[str, Decimal]
    ledger_records: list[Any]
    ledger_markets: dict[str, Market]
    ledger_runs: int


class Soak:
    def __init__(self, config: SoakConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.data_dir = workdir / "bot-data"

    def _exchange_options(self) -> list[str]:
        c = self.config
        return [
            *("--seed", str(c.seed), "--state", str(self.workdir / "exchange-state.json")),
            *("--settlement-delay", str(c.settlement_delay_s)),
            *("--settlement-fail-rate", str(c.settlement_fail_rate)),
        ]

    async def run(self) -> dict[str, Any]:
        params = self.config.schedule_params()
        plan = plan_faults(params, self.rng)
        self.data_dir.mkdir()
        bot_key, _ = local_private_key(self.data_dir)  # the wallet `polymm run` will use, made its way
        exchange, url = await start_exchange(self.workdir, self._exchange_options())
        bot = Bot(self.workdir, self.data_dir, url, self.config.markets)
        observed = fast_failing(url, bot_key)
        taker_venue = fast_failing(url, SecretStr("0x" + secrets.token_hex(32)))
        injector: FaultInjector | None = None
        observer = Observer(url, observed, self.config.sample_interval_s)
        try:
            await observed.start()
            await taker_venue.start()
            await fund(url, observed.address, self.config.bot_funds)
            await fund(url, taker_venue.address, self.config.taker_funds)
            markets = [await observed.market(ident) for ident in self.config.markets]
            taker = Taker(
                taker_venue,
                observer,
                {m.condition_id: m for m in markets},
                random.Random(self.rng.getrandbits(64)),
                self.config.taker_interval_s,
                self.config.taker_max_size,
            )
            injector = FaultInjector(url, bot, observer, markets[0], self.config.settlement_delay_s, taker)
            timing = await self._drive(plan, params, bot, observer, taker, injector)
            books = await self._books(observed, markets)
            return build_report(self.config, timing, books, observer, taker, injector, bot)
        finally:
            bot.kill_quietly()
            if injector is not None:
                await injector.close()
            await observer.close()
            for venue in (observed, taker_venue):
                await venue.close()
            await exchange.stop(15)

    async def _drive(
        self,
        plan: list[Any],
        params: ScheduleParams,
        bot: Bot,
        observer: Observer,
        taker: Taker,
        injector: FaultInjector,
    ) -> Timing:
        """Warm up, run the schedule, then clear the faults and stop the bot as a user would."""
        stop_observer, stop_taker = asyncio.Event(), asyncio.Event()
        observing = asyncio.create_task(observer.run(stop_observer))
        taking = asyncio.create_task(taker.run(stop_taker))
        try:
            started = time.time()
            bot.start()
            if not await observer.wait_for_quotes(self.config.warmup_timeout_s):
                raise RuntimeError(f"the bot never quoted within {self.config.warmup_timeout_s:g} s")
            quoting = time.time()
            planned_end = 0.0
            for spec in plan:
                await injector.watch(spec.at_s - planned_end)  # the quiet period before it
                planned_end = spec.at_s + spec.duration_s
                # a fault tests little on a bot that is not quoting (none to pull, none to fill)
                await injector.wait_for_quotes(self.config.quotes_wait_s)
                await injector.inject(spec)
            await injector.watch(schedule_length_s(plan, params.quiet_s) - planned_end)
            faults_ended = time.time()
            stop_taker.set()
            await taking
            await injector.clear()
            stopped = time.time()
            exit_code, took = await bot.stop(self.config.stop_timeout_s)
            left = await observer.sample_until_answered()
            return Timing(started, quoting, faults_ended, stopped, exit_code, took, sorted(left.ids))
        finally:
            stop_observer.set()
            stop_taker.set()
            await asyncio.gather(observing, taking, return_exceptions=True)
            if not observing.cancelled() and observing.exception() is not None:
                raise RuntimeError("the observer failed") from observing.exception()

    async def _books(self, venue: PolymarketVenue, markets: list[Market]) -> Books:
        """The exchange's view once every trade of the bot is final (bounded wait), and the ledger's."""
        deadline = time.time() + 2 * self.config.settlement_delay_s + 10
        while True:
            trades = await answered(venue.trades)
            unsettled = sum(1 for t in trades if t.status not in FINAL)
            if not unsettled or time.time() > deadline:
                break
            await asyncio.sleep(0.5)
        with Ledger.open(self.data_dir) as ledger:
            records, meta, runs = ledger.fills(), ledger.market_meta(), len(ledger.runs())
        known = {**{m.condition_id: m for m in markets}, **meta}
        tokens = [t for m in known.values() for t in m.tokens]
        balances = await answered(lambda: venue.balances(tokens))
        return Books(trades, unsettled, balances.collateral, balances.tokens, records, known, runs)


# -- figures ----------------------------------------------------------------------------------------


def fill_times(trades: list[Any]) -> dict[str, list[float]]:
    """Order id -> when the exchange matched its fills (to tell a quote that was filled from one
    that was pulled)."""
    times: dict[str, list[float]] = {}
    for trade in trades:
        for fill in trade.fills:
            times.setdefault(fill.order_id, []).append(trade.match_ts or trade.venue_ts)
    return times


def fault_entries(
    timeline: Timeline, records: list[FaultRecord], fills: dict[str, list[float]], t0: float
) -> list[dict[str, Any]]:
    """Each fault as it happened, with the time its bot took to pull the quotes and to quote again;
    `filled_after_injection` counts the quotes open at injection that the taker or the flow hit since
    (a quote that is filled is gone without being pulled)."""
    return [
        {
            "kind": r.kind,
            "at_s": round(r.start - t0, 3),
            "at_unix": round(r.start, 3),
            "duration_s": round(r.end - r.start, 3),
            "params": r.params,
            "open_at_injection": len(r.open_at_start),
            "filled_after_injection": sum(
                1 for o in r.open_at_start if any(t >= r.start for t in fills.get(o, ()))
            ),
            # the bot's fills matched while the fault lasted: the ones its recovery must not lose
            "fills_during": sum(1 for times in fills.values() for t in times if r.start <= t <= r.end),
            "pull_s": _rounded(timeline.time_to_pull(r.start, r.open_at_start))
            if r.kind in PULLS_QUOTES
            else None,
            "quoting_again_after_s": _rounded(timeline.time_to_quote(r.end)),
        }
        for r in records
    ]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def stale_windows(
    timeline: Timeline, records: list[FaultRecord], bound: float, t0: float
) -> list[dict[str, Any]]:
    """Per stall: the seconds after t0 + bound during which the bot still had an open order."""
    out = []
    for r in records:
        if r.kind != WS_STALL:
            continue
        seconds, seen = timeline.open_seconds(r.start + bound, r.end)
        out.append(
            {
                "at_s": round(r.start - t0, 3),
                "until_s": round(r.end - t0, 3),
                "checked_from_s": round(r.start + bound - t0, 3),
                "stale_s": round(seconds, 3),
                "orders_open_then": sorted(seen),
            }
        )
    return out


def pull_summary(entries: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, Any] = {}
    for kind in sorted(PULLS_QUOTES):
        mine = [e for e in entries if e["kind"] == kind]
        pulled = [e["pull_s"] for e in mine if e["pull_s"] is not None]
        by_kind[kind] = {
            **summarise(pulled),
            "no_quotes_at_injection": sum(1 for e in mine if not e["open_at_injection"]),
            "never_pulled": sum(1 for e in mine if e["open_at_injection"] and e["pull_s"] is None),
        }
    worst = max((e for e in entries if e["pull_s"] is not None), key=lambda e: e["pull_s"], default=None)
    return {
        "max_s": worst["pull_s"] if worst else None,
        "max_kind": worst["kind"] if worst else None,
        "by_kind": by_kind,
    }


def recovery_summary(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The longest time from a fault's end until the bot had quotes at the exchange again."""
    timed = [e for e in entries if e["quoting_again_after_s"] is not None]
    worst = max(timed, key=lambda e: e["quoting_again_after_s"], default=None)
    return {
        "max_s": worst["quoting_again_after_s"] if worst else None,
        "max_kind": worst["kind"] if worst else None,
        "never": [e["kind"] for e in entries if e["quoting_again_after_s"] is None],
    }


def money_section(config: SoakConfig, books: Books) -> dict[str, Any]:
    money = check_money(
        books.collateral, config.bot_funds, books.tokens, books.ledger_records, books.ledger_markets
    )
    return {
        "funded": decimal_str(config.bot_funds),
        "exchange_cash": decimal_str(money.exchange_cash),
        "ledger_cash": decimal_str(money.ledger_cash),
        "cash_difference": decimal_str(money.ledger_cash - money.exchange_cash),
        "cash_equal": money.cash_equal,
        "positions": {
            t: {"exchange": decimal_str(e), "ledger": decimal_str(led)}
            for t, (e, led) in money.positions.items()
        },
        "position_differences": {
            t: {"exchange": decimal_str(e), "ledger": decimal_str(led)}
            for t, (e, led) in money.position_differences.items()
        },
    }


def fills_section(books: Books) -> dict[str, Any]:
    at_exchange, in_ledger = exchange_fills(books.trades), ledger_fills(books.ledger_records)
    statuses = Counter(t.status.value for t in books.trades)
    return {
        "exchange": len(at_exchange),
        "ledger": len(in_ledger),
        "bot_trades": len(books.trades),
        "trade_statuses": dict(sorted(statuses.items())),
        "unsettled_at_exchange": books.unsettled_at_exchange,
        "differences": compare_fills(at_exchange, in_ledger),
    }


def build_report(
    config: SoakConfig,
    timing: Timing,
    books: Books,
    observer: Observer,
    taker: Taker,
    injector: FaultInjector,
    bot: Bot,
) -> dict[str, Any]:
    t0 = timing.started
    timeline = Timeline([s.t for s in observer.samples], [s.ids for s in observer.samples])
    entries = fault_entries(timeline, injector.records, fill_times(books.trades), t0)
    stale = stale_windows(timeline, injector.records, config.detection_bound_s, t0)
    fills, money = fills_section(books), money_section(config, books)
    stale_total = round(sum(w["stale_s"] for w in stale), 3)
    invariants = {
        "fills_equal": not fills["differences"],
        "cash_equal": money["cash_equal"],
        "positions_equal": not money["position_differences"],
        "no_orders_left_open": not timing.left_open,
        "no_stale_quoting": stale_total == 0,
    }
    return {
        "config": config.public(),
        "minutes": round((timing.stopped - t0) / 60, 2),
        "started_unix": round(t0, 3),
        "phases_s": {
            "until_quoting": round(timing.quoting - t0, 3),
            "faults": round(timing.faults_ended - timing.quoting, 3),
            "final_stop": round(timing.stop_took_s, 3),
        },
        "faults": {kind: sum(1 for e in entries if e["kind"] == kind) for kind in KINDS},
        "fault_timeline": entries,
        "bot": bot_section(bot, entries, timing, books),
        "fills": fills,
        "money": money,
        "orders_left_open": timing.left_open,
        "stale": {"bound_s": config.detection_bound_s, "total_s": stale_total, "windows": stale},
        "pull": pull_summary(entries),
        "quoting_again": recovery_summary(entries),
        "observer": {
            "samples": len(observer.samples),
            "refused": dict(observer.failures),
            "largest_gap_s": round(timeline.largest_gap(), 3),
            "share_quoting": round(sum(1 for i in timeline.ids if i) / max(1, len(timeline.ids)), 3),
        },
        "taker": {
            "attempts": taker.stats.attempts,
            "placed": taker.stats.placed,
            "skipped_deep_queue": taker.stats.skipped,
            "refused": dict(taker.stats.refused.most_common(5)),
        },
        "invariants": invariants,
        "failed": [name for name, ok in invariants.items() if not ok],
    }


def bot_section(bot: Bot, entries: list[dict[str, Any]], timing: Timing, books: Books) -> dict[str, Any]:
    """Restarts (the soak's and any exit of the bot's own), and how its final stop went."""
    unexpected = [e for e in bot.exits if not e.expected]
    by_soak = sum(1 for e in entries if e["kind"] in RESTARTS_BOT)
    return {
        "restarts": by_soak + len(unexpected),
        "restarts_by_soak": by_soak,
        "unexpected_exits": [
            {
                "incarnation": e.incarnation,
                "at_s": round(e.at - timing.started, 3),
                "exit_code": e.exit_code,
                "stderr_tail": e.stderr_tail,
                "stdout_tail": e.stdout_tail,
            }
            for e in unexpected
        ],
        "final_exit_code": timing.final_exit_code,
        "final_stop_s": round(timing.stop_took_s, 3),
        "ledger_runs": books.ledger_runs,
    }


def table(report: dict[str, Any]) -> str:
    """The soak's figures as the terminal shows them."""
    faults = ", ".join(f"{k} {n}" for k, n in report["faults"].items() if n)
    fills, money, bot, pull = report["fills"], report["money"], report["bot"], report["pull"]
    statuses = ", ".join(f"{k} {n}" for k, n in fills["trade_statuses"].items())
    per_kind = ", ".join(
        f"{k} {v['max']}" + (f" ({v['never_pulled']} never)" if v["never_pulled"] else "")
        for k, v in pull["by_kind"].items()
        if v["count"] or v["never_pulled"]
    )
    stale = report["stale"]
    rows = [
        ("minutes run", f"{report['minutes']:g}", f"seed {report['config']['seed']}"),
        ("faults injected", str(sum(report["faults"].values())), faults),
        ("settlement (bot's trades at the exchange)", str(fills["bot_trades"]), statuses),
        ("bot restarts", str(bot["restarts"]), f"{len(bot['unexpected_exits'])} unexpected exits"),
        (
            "fills: exchange / ledger",
            f"{fills['exchange']} / {fills['ledger']}",
            _ok(not fills["differences"], f"{len(fills['differences'])} differences"),
        ),
        (
            "cash pUSD: exchange / ledger",
            f"{money['exchange_cash']} / {money['ledger_cash']}",
            _ok(money["cash_equal"], f"off by {money['cash_difference']}"),
        ),
        (
            "positions (tokens)",
            str(len(money["positions"])),
            _ok(not money["position_differences"], f"{len(money['position_differences'])} differ"),
        ),
        (
            "orders open after the final stop",
            str(len(report["orders_left_open"])),
            _ok(not report["orders_left_open"], "orphans"),
        ),
        (
            "stale quoting seconds",
            f"{stale['total_s']:g}",
            _ok(stale["total_s"] == 0, f"bound {stale['bound_s']:g} s, {len(stale['windows'])} stalls"),
        ),
        ("fault -> quotes pulled (max s)", f"{pull['max_s']}", f"{pull['max_kind']}; {per_kind}"),
        (
            "fault end -> quoting again (max s)",
            f"{report['quoting_again']['max_s']}",
            f"{report['quoting_again']['max_kind']}",
        ),
        (
            "observer samples",
            str(report["observer"]["samples"]),
            f"largest gap {report['observer']['largest_gap_s']} s",
        ),
        ("taker orders placed", str(report["taker"]["placed"]), f"of {report['taker']['attempts']}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = ["polymm soak"] + [f"  {name:<{width}}  {value:>22}  {note}" for name, value, note in rows]
    lines.append(
        "invariants: " + ("all hold" if not report["failed"] else "FAILED " + ", ".join(report["failed"]))
    )
    return "\n".join(lines)


def _ok(ok: bool, otherwise: str) -> str:
    return "ok" if ok else f"FAIL: {otherwise}"


def failure_details(report: dict[str, Any]) -> list[str]:
    """One line per failed invariant, naming what failed."""
    lines = []
    for diff in report["fills"]["differences"]:
        lines.append("fill: " + ", ".join(f"{k}={v}" for k, v in diff.items()))
    money = report["money"]
    if not money["cash_equal"]:
        lines.append(f"cash: exchange {money['exchange_cash']} vs ledger {money['ledger_cash']}")
    for token, pair in money["position_differences"].items():
        lines.append(f"position {token[:16]}...: exchange {pair['exchange']} vs ledger {pair['ledger']}")
    for order in report["orders_left_open"]:
        lines.append(f"orphan order after the final stop: {order}")
    for window in report["stale"]["windows"]:
        if window["stale_s"]:
            lines.append(
                f"stale: stall at {window['at_s']} s, {window['stale_s']} s with orders open after"
                f" {window['checked_from_s']} s: {', '.join(window['orders_open_then'][:4])}"
            )
    return lines


# -- command line -----------------------------------------------------------------------------------


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    pair = (float(low), float(high or low))
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX seconds, got {text!r}")
    return pair


def _counts(text: str) -> dict[str, int]:
    counts = {}
    for item in filter(None, text.split(",")):
        kind, _, n = item.partition("=")
        if kind not in KINDS or not n.isdigit():
            raise argparse.ArgumentTypeError(f"expected KIND=N,... with KIND in {', '.join(KINDS)}")
        counts[kind] = int(n)
    return counts


def parse_args(argv: list[str]) -> SoakConfig:
    d = SoakConfig()
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=d.minutes, help="length of the fault schedule")
    p.add_argument(
        "--seed", type=int, default=d.seed, help="seed of the schedule, the taker and the exchange"
    )
    p.add_argument("--market", action="append", dest="markets", help="market(s) the bot quotes (repeatable)")
    p.add_argument("--quiet", type=_range, help="quiet seconds between faults, MIN-MAX")
    p.add_argument("--http-fault", type=_range, default=d.http_fault_s, help="5xx/429/425/latency seconds")
    p.add_argument(
        "--kill-downtime", type=_range, default=d.kill_downtime_s, help="seconds the bot stays dead"
    )
    p.add_argument("--stall-extra", type=_range, default=d.stall_extra_s, help="stall seconds past the bound")
    p.add_argument("--after-stall", type=float, default=d.after_stall_s, help="extra quiet after a stall")
    p.add_argument("--slow-settlement", type=_range, default=d.slow_settlement_s, help="slow chain seconds")
    p.add_argument("--counts", type=_counts, help="required faults, e.g. ws_stall=1,kill_9=2")
    p.add_argument("--in-order", action="store_true", help="required faults in the order --counts gives")
    p.add_argument("--no-fill", action="store_true", help="only the required faults, none drawn at random")
    p.add_argument("--detection-bound", type=float, default=d.detection_bound_s, help="B: watchdog + 1 s")
    p.add_argument("--settlement-delay", type=float, default=d.settlement_delay_s)
    p.add_argument("--settlement-fail-rate", type=float, default=d.settlement_fail_rate)
    p.add_argument("--out", type=Path, default=d.out, help="where to write the JSON")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, ledger, exchange state)")
    a = p.parse_args(argv)
    return SoakConfig(
        minutes=a.minutes,
        seed=a.seed,
        markets=a.markets or d.markets,
        quiet_s=a.quiet,
        http_fault_s=a.http_fault,
        kill_downtime_s=a.kill_downtime,
        stall_extra_s=a.stall_extra,
        after_stall_s=a.after_stall,
        slow_settlement_s=a.slow_settlement,
        counts=a.counts,
        fill=not a.no_fill,
        shuffle=not a.in_order,
        detection_bound_s=a.detection_bound,
        settlement_delay_s=a.settlement_delay,
        settlement_fail_rate=a.settlement_fail_rate,
        out=a.out,
        keep=a.keep,
    )


async def _until_signalled(config: SoakConfig) -> dict[str, Any]:
    """The soak, cancelled by Ctrl+C or SIGTERM: the cancellation runs every finally block, so the
    bot and the exchange (in their own process groups) are always stopped."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await run_soak(config)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        report = asyncio.run(_until_signalled(config))
    except PolymmError as exc:  # e.g. an unknown --market: one line, as polymm says it
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except asyncio.CancelledError:
        print("soak interrupted: the bot and the exchange were stopped", file=sys.stderr)
        return 130
    print(table(report))
    for line in failure_details(report):
        print("  " + line)
    if report["workdir"]:
        print(f"  (work dir kept: {report['workdir']})")
    if config.out is not None:
        config.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        print(f"  (written to {config.out})")
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
