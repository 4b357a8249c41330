"""Prometheus metrics of one engine, and the loopback endpoint that serves them.

`EngineMetrics` is an engine observer: events (orders, fills, decisions, reconnects, halts, venue
errors) increment counters and observe histograms, nothing more, so the hot path stays cheap. What is
a state rather than an event (positions, exposure, P&L, fees, the reward rate, health) is read from
the engine by `EngineCollector` when Prometheus scrapes, so it costs nothing between scrapes.

Conventions: every name starts with `polymm_`, counters end in `_total`, values are in base units:
seconds, shares, and pUSD as the unit of money. Markets are labelled by condition id
(`polymm_market_info` joins it to the slug). Each engine has its own `CollectorRegistry`, never the
process-global one, so tests and several engines never collide.

`MetricsServer` serves `/metrics` from an aiohttp handler on the engine's own event loop rather than
prometheus_client's threaded server: the collector reads the engine's dicts and books, which only the
loop's thread may touch while it runs (a scrape from another thread could see them mid-change). A
scrape costs about a millisecond of the loop every scrape interval.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from polymm_cli.engine.config import StopReport
from polymm_cli.engine.observer import EngineObserver
from polymm_cli.errors import UsageError, describe
from polymm_cli.model import EngineSnapshot, MarketSnapshot, Side
from polymm_cli.ops.alerts import is_loopback_host
from polymm_cli.risk import net_exposure_notional

if TYPE_CHECKING:
    from polymm_cli.engine.loop import QuotingEngine

log = logging.getLogger("polymm.ops")

SECONDS_PER_DAY = 86_400
# decision compute is tens of microseconds to a few milliseconds; tick-to-quote adds the wait for
# the decision loop, so its buckets reach further
DECISION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
TICK_TO_QUOTE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# Refusal reasons as a small fixed set of label values (the texts carry prices and sizes: one label
# value per text would grow the series without bound). First match wins; anything else is "other".
REFUSAL_REASONS: tuple[tuple[str, str], ...] = (
    ("halted", "halted"),
    ("post-only", "would_cross"),
    ("cross", "would_cross"),
    ("self-cross", "self_cross"),
    ("balance", "balance"),
    ("allowance", "balance"),
    ("free inventory", "inventory"),
    ("worst case e", "position_limit"),
    ("max_orders_per_market", "max_orders"),
    ("max_order_notional", "notional_cap"),
    ("max_order_size", "size_cap"),
    ("minimum", "min_size"),
    ("tick", "tick"),
    ("outside [", "price_range"),
    ("rate limit", "rate_limited"),
    ("too many", "rate_limited"),
    ("not one of this market", "token"),
)


def refusal_reason(text: str) -> str:
    """A refusal's text as one of the fixed `reason` label values."""
    lowered = text.lower()
    return next((label for needle, label in REFUSAL_REASONS if needle in lowered), "other")


class EngineMetrics(EngineObserver):
    """The engine's events as counters and histograms in `registry` (cheap: called on the hot path)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.orders_placed = Counter(
            "polymm_orders_placed", "Orders the venue accepted.", ["market", "side", "tag"], registry=r
        )
        self.cancels = Counter(
            "polymm_orders_cancelled", "Cancels the venue confirmed.", ["market"], registry=r
        )
        self.orders_refused = Counter(
            "polymm_orders_refused",
            "Orders that did not go out: refused by the venue or dropped by risk, by reason.",
            ["market", "source", "reason"],
            registry=r,
        )
        self.fills = Counter(
            "polymm_fills", "Our fills recorded in the ledger.", ["market", "outcome", "side"], registry=r
        )
        self.fill_shares = Counter(
            "polymm_fill_volume_shares", "Shares filled.", ["market", "outcome", "side"], registry=r
        )
        self.fill_pusd = Counter(
            "polymm_fill_volume_pusd",
            "Notional filled (price x size) in pUSD, the money unit.",
            ["market", "outcome", "side"],
            registry=r,
        )
        self.decision_seconds = Histogram(
            "polymm_decision_duration_seconds",
            "Compute time of a decision acted on: quoter, reconcile and risk.",
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.tick_to_quote = Histogram(
            "polymm_tick_to_quote_seconds",
            "From the book update that started a decision to its plan going to the venue.",
            buckets=TICK_TO_QUOTE_BUCKETS,
            registry=r,
        )
        self._register_health(r)
        self._down: set[str] = set()

    def _register_health(self, r: CollectorRegistry) -> None:
        """Streams, halts, venue errors, stop-losses and failures: how the run is holding up."""
        self.disconnects = Counter(
            "polymm_stream_disconnects", "Market feed or user stream lost.", ["stream"], registry=r
        )
        self.reconnects = Counter(
            "polymm_stream_reconnects",
            "Market feed or user stream back after a loss.",
            ["stream"],
            registry=r,
        )
        self.halts = Counter(
            "polymm_halts", "Trading halts (external: polymm halt or cancel-all).", ["source"], registry=r
        )
        self.venue_errors = Counter(
            "polymm_venue_errors",
            "Failed venue calls by call and HTTP status (status none: a timeout or no connection).",
            ["call", "status"],
            registry=r,
        )
        self.stop_losses = Counter("polymm_stop_losses", "Stop-losses fired.", ["market"], registry=r)
        self.failures = Counter("polymm_engine_failures", "Engine tasks that died.", registry=r)
        self.unconfirmed_stops = Counter(
            "polymm_unconfirmed_stops", "Stops after which orders may still be open.", registry=r
        )

    def order_placed(
        self, market: str, order_id: str, side: Side, price: Decimal, size: Decimal, tag: str
    ) -> None:
        self.orders_placed.labels(market, side.value.lower(), tag).inc()

    def order_refused(self, market: str, source: str, reason: str) -> None:
        self.orders_refused.labels(market, source, refusal_reason(reason)).inc()

    def orders_cancelled(self, market: str | None, count: int) -> None:
        if count:
            self.cancels.labels(market or "unknown").inc(count)

    def fill(self, market: str, outcome: str, side: Side, price: Decimal, size: Decimal) -> None:
        labels = (market, outcome.lower(), side.value.lower())
        self.fills.labels(*labels).inc()
        self.fill_shares.labels(*labels).inc(float(size))
        self.fill_pusd.labels(*labels).inc(float(price * size))

    def decision(self, compute_s: float | None, tick_to_quote_s: float | None) -> None:
        if compute_s is not None:
            self.decision_seconds.observe(compute_s)
        if tick_to_quote_s is not None:
            self.tick_to_quote.observe(tick_to_quote_s)

    def stream(self, name: str, connected: bool, reason: str) -> None:
        label = name.replace(" ", "_")
        if not connected and label not in self._down:
            self._down.add(label)
            self.disconnects.labels(label).inc()
        elif connected and label in self._down:
            self._down.discard(label)
            self.reconnects.labels(label).inc()

    def venue_error(self, where: str, status: int | None) -> None:
        self.venue_errors.labels(where, str(status) if status is not None else "none").inc()

    def halted(self, reason: str, external: bool) -> None:
        self.halts.labels("external" if external else "engine").inc()

    def stop_loss(self, market: str, reason: str) -> None:
        self.stop_losses.labels(market).inc()

    def failed(self, cause: str) -> None:
        self.failures.inc()

    def stopped(self, report: StopReport) -> None:
        if not report.confirmed:
            self.unconfirmed_stops.inc()


class EngineCollector(Collector):
    """The engine's state as gauges, computed when scraped (from the dashboard's own snapshot, so the
    endpoint and the dashboard show the same numbers)."""

    def __init__(self, engine: QuotingEngine) -> None:
        self.engine = engine

    def describe(self) -> Iterator[Metric]:
        return iter(())  # unchecked: the families depend on the markets at scrape time

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        snap = engine.snapshot()
        yield from _market_families(engine, snap)
        yield from _health_families(engine, snap)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


def _market_families(engine: QuotingEngine, snap: EngineSnapshot) -> Iterator[Metric]:
    info = InfoMetricFamily("polymm_market", "The markets quoted: condition id, slug.", labels=["market"])
    position = _gauge("polymm_position_shares", "Shares held.", ["market", "outcome"])
    exposure = _gauge(
        "polymm_exposure_pusd", "pUSD at risk on the net position (YES - NO at the mark).", ["market"]
    )
    money = {
        "realized": _gauge("polymm_realized_pnl_pusd", "Realised P&L in pUSD.", ["market"]),
        "unrealized": _gauge("polymm_unrealized_pnl_pusd", "Unrealised P&L at the mark, pUSD.", ["market"]),
        "total": _gauge("polymm_pnl_pusd", "Total P&L (incl. fees, rewards, rebates), pUSD.", ["market"]),
        "fees": _gauge("polymm_fees_pusd", "Fees paid, pUSD.", ["market"]),
        "rewards": _gauge("polymm_rewards_pusd", "Liquidity rewards received, pUSD.", ["market"]),
        "rebates": _gauge("polymm_rebates_pusd", "Maker rebates received, pUSD.", ["market"]),
    }
    reward_rate = _gauge(
        "polymm_estimated_reward_rate_pusd_per_second",
        "Estimated liquidity-reward income from the book now, pUSD per second (x 86400: per day).",
        ["market"],
    )
    orders = _gauge("polymm_open_orders", "Our orders resting at the venue.", ["market"])
    mid = _gauge("polymm_mid_price", "The mark: YES mid without our orders, pUSD per share.", ["market"])
    for m in snap.markets:
        cid = m.market.condition_id
        info.add_metric([cid], {"slug": m.market.slug or "", "question": (m.market.question or "")[:120]})
        position.add_metric([cid, "yes"], float(m.yes_position))
        position.add_metric([cid, "no"], float(m.no_position))
        mark = engine.external_mid(m.market)
        if mark is not None:
            mid.add_metric([cid], float(mark))
        exposure.add_metric([cid], float(_exposure(m, mark)))
        for key, value in (
            ("realized", m.realized_pnl),
            ("unrealized", m.unrealized_pnl),
            ("total", m.total_pnl),
            ("fees", m.fees),
            ("rewards", m.rewards),
            ("rebates", m.rebates),
        ):
            if value is not None:  # no mark: no unrealised P&L to show
                money[key].add_metric([cid], float(value))
        if m.reward_rate is not None:
            reward_rate.add_metric([cid], float(m.reward_rate) / SECONDS_PER_DAY)
        orders.add_metric([cid], len(m.orders))
    yield from (info, position, exposure, *money.values(), reward_rate, orders, mid)


def _exposure(m: MarketSnapshot, external_mid: Decimal | None) -> Decimal:
    """The total exposure cap's measure (`risk.net_exposure_notional`) at the cap's mark: what a
    resolved market pays, else the external mid (`QuotingEngine._holding`)."""
    payout = m.market.payout_mark
    return net_exposure_notional(
        m.yes_position, m.no_position, payout if payout is not None else external_mid
    )


def _health_families(engine: QuotingEngine, snap: EngineSnapshot) -> Iterator[Metric]:
    health = snap.health
    up = _gauge("polymm_feed_up", "1 while the market feed, user stream or heartbeat is healthy.", ["feed"])
    up.add_metric(["market_feed"], float(health.market_feed))
    up.add_metric(["user_stream"], float(health.user_stream))
    up.add_metric(["heartbeat"], float(health.heartbeat))
    yield up
    yield _single(
        "polymm_healthy", "1 while the engine may quote (every feed up, not halted).", engine.healthy
    )
    yield _single("polymm_halted", "1 while trading is halted.", health.halted is not None)
    if health.heartbeat_age_s is not None:
        yield _single(
            "polymm_heartbeat_age_seconds", "Since the venue last acked a heartbeat.", health.heartbeat_age_s
        )
    if health.feed_age_s is not None:
        yield _single(
            "polymm_market_data_age_seconds", "Since the last market-data event.", health.feed_age_s
        )
    if engine.run_started is not None:
        yield _single("polymm_start_time_seconds", "When this run started, unix seconds.", engine.run_started)


def _single(name: str, doc: str, value: float | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def engine_registry(engine: QuotingEngine, metrics: EngineMetrics) -> CollectorRegistry:
    """Add the scrape-time gauges of `engine` to the registry its event metrics live in."""
    metrics.registry.register(EngineCollector(engine))
    return metrics.registry


class MetricsServer:
    """`GET /metrics` on host:port, served by the running event loop (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; a port already taken is one clear UsageError (raised before trading)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            why = "the port is already in use" if exc.errno == errno.EADDRINUSE else describe(exc)
            raise UsageError(
                f"cannot serve metrics on {self.host}:{self.port}: {why} (choose another with --metrics-port)"
            ) from None
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])  # the port bound (0 asks for a free one)
        log.info("serving Prometheus metrics on http://%s:%d/metrics", self.host, self.port)
        if not is_loopback_host(self.host):
            log.warning(
                "the metrics endpoint on %s is reachable from other hosts, without authentication", self.host
            )

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="polymm metrics: /metrics\n")
