"""What `polymm run` adds to run unattended: the metrics endpoint, webhook alerts and the run log.

`RunOps` is built from the settings before anything trades: a bad webhook URL or a metrics port
already in use ends the command with one clear line before the venue is opened. Then it gives the
engine one observer (metrics, alerts, order events in the log), wraps the decision callback so each
decision is also logged, and runs the alert tasks beside the engine. The secrets it knows (the
settings', the local wallet's key, the webhook tokens) go to the log's redactor.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from polymm_cli.clock import Clock
from polymm_cli.engine import QuotingEngine
from polymm_cli.engine.observer import EngineObserver, Observers
from polymm_cli.errors import PolymmError
from polymm_cli.ops.alerts import AlertSettings, AlertSink, Webhook, parse_webhook, summary_text
from polymm_cli.ops.logs import OrderLog, Redactor, log_decision, run_log
from polymm_cli.ops.metrics import EngineMetrics, MetricsServer, engine_registry
from polymm_cli.settings import Settings

log = logging.getLogger("polymm.run")
LOG_DIR = "logs"
LOG_FILE = "polymm-{key}.log"


def log_path(directory: Path, key: str) -> Path:
    """This wallet's run log (one engine per wallet holds it: no two processes rotate one file)."""
    return directory / LOG_DIR / LOG_FILE.format(key=key.lower())


class RunOps:
    """The metrics, alerts and log of one run (each only when configured)."""

    def __init__(self, settings: Settings, clock: Clock, *, extra_secrets: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.clock = clock
        self.webhooks: list[Webhook] = [parse_webhook(w.get_secret_value()) for w in settings.alert_webhooks]
        secrets = [*settings.secret_values(), *extra_secrets, *(s for w in self.webhooks for s in w.secrets)]
        self.redactor = Redactor(secrets)
        self.registry = CollectorRegistry()  # this engine's own, never the process-global one
        self.metrics = EngineMetrics(self.registry) if settings.metrics_port is not None else None
        self.server: MetricsServer | None = None
        self.alerts: AlertSink | None = None
        self._engine: QuotingEngine | None = None
        if self.webhooks:
            self.alerts = AlertSink(
                self.webhooks,
                clock,
                AlertSettings(
                    queue_size=settings.alert_queue_size,
                    min_interval_s=settings.alert_min_interval,
                    timeout_s=settings.alert_timeout,
                    feed_unhealthy_s=settings.alert_feed_unhealthy,
                    summary_interval_s=settings.alert_summary_interval,
                ),
                registry=self.registry,
                scrub=self.redactor.scrub,
                health=self._health,
                summary=self._summary,
            )

    @property
    def observer(self) -> EngineObserver:
        listeners: list[EngineObserver] = [o for o in (self.metrics, self.alerts) if o is not None]
        if self.settings.log_file:
            listeners.append(OrderLog())
        return Observers(listeners)

    @contextlib.asynccontextmanager
    async def metrics_served(self) -> AsyncIterator[None]:
        """The metrics endpoint bound while the block runs (enter it first: a port in use stops the
        run before it trades)."""
        if self.settings.metrics_port is None:
            yield
            return
        self.server = MetricsServer(self.registry, self.settings.metrics_host, self.settings.metrics_port)
        await self.server.start()
        try:
            yield
        finally:
            await self.server.close()

    def attach(self, engine: QuotingEngine) -> None:
        """Read `engine` at scrape time and in the alerts' summary and feed watch."""
        self._engine = engine
        if self.metrics is not None:
            engine_registry(engine, self.metrics)
        if self.alerts is not None:
            self.alerts.names = {cid: s.market.slug or cid[:12] for cid, s in engine.states.items()}

    def decisions(
        self, printed: Callable[[dict[str, Any]], None] | None
    ) -> Callable[[dict[str, Any]], None] | None:
        """The decision callback: `printed` (the headless lines) and, with the log on, the log."""
        if not self.settings.log_file:
            return printed
        if printed is None:
            return log_decision

        def both(record: dict[str, Any]) -> None:
            printed(record)
            log_decision(record)

        return both

    @contextlib.contextmanager
    def logging_to(self, directory: Path, key: str) -> Iterator[Path | None]:
        """The rotating run log of this wallet while the block runs (nothing when it is off)."""
        if not self.settings.log_file:
            yield None
            return
        path = log_path(directory, key)
        with run_log(
            path,
            fmt=self.settings.log_format,
            max_bytes=self.settings.log_max_bytes,
            backups=self.settings.log_backups,
            redactor=self.redactor,
        ):
            log.info("run started: %s", self.describe())
            yield path

    def describe(self) -> str:
        """The settings of this run as the log shows them: secrets as ********, webhooks by host."""
        shown = self.settings.model_dump(mode="json", exclude={"alert_webhooks"})
        shown["alert_webhooks"] = [w.label for w in self.webhooks]
        return self.redactor.scrub(str(shown))

    @contextlib.asynccontextmanager
    async def alerting(self) -> AsyncIterator[None]:
        """The alert tasks beside the engine; a crash (an unexpected error) is alerted, then raised."""
        if self.alerts is None:
            yield
            return
        async with self.alerts.running():
            try:
                yield
            except PolymmError:
                raise  # said by the engine's own alerts (a halt, a failure, an unconfirmed stop)
            except Exception as exc:
                self.alerts.crashed(exc)
                raise

    def _health(self) -> dict[str, bool]:
        engine = self._engine
        if engine is None or engine.ended:
            return {}
        return {
            "market feed": engine.market_feed,
            "user stream": engine.user_stream,
            "heartbeat": engine.heartbeat_ok,
        }

    def _summary(self) -> str:
        engine = self._engine
        if engine is None:
            return "summary: the engine has not started"
        snap = engine.snapshot()
        started = engine.run_started or self.clock.now()
        status = (
            f"halted: {engine.halted}"
            if engine.halted
            else "healthy"
            if engine.healthy
            else engine.pause_reason()
        )
        return summary_text(
            pnl=snap.total_pnl,
            fills=snap.fills,
            placed=snap.orders_placed,
            cancelled=snap.orders_canceled,
            markets=len(snap.markets),
            status=status,
            uptime_s=self.clock.now() - started,
        )
