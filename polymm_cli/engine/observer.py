"""What the engine tells the outside while it runs: metrics, alerts and the log listen here.

The engine calls an `EngineObserver` at its edges (an order placed or refused, a fill recorded, a
halt, a stream going up or down, a failure, the stop's report); the default does nothing. Observers
must be cheap and must not raise or block: they run on the engine's event loop, some of them on the
hot path (increment a counter, observe a histogram, put on a queue; never I/O or a wait). Gauges
such as positions and P&L are not pushed here: a reader computes them from the engine's state when
it is asked (the metrics endpoint at scrape time). `Observers` fans one call out to several.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from polymm_cli.model import Side

if TYPE_CHECKING:
    from polymm_cli.engine.config import StopReport

log = logging.getLogger("polymm.engine")


class EngineObserver:
    """The engine's notifications; override what you listen to (every method is a no-op here)."""

    def order_placed(
        self, market: str, order_id: str, side: Side, price: Decimal, size: Decimal, tag: str
    ) -> None:
        """The venue accepted one of our orders (`tag`: bid, ask or exit)."""

    def order_refused(self, market: str, source: str, reason: str) -> None:
        """An order that did not go out: `source` "venue" (refused there) or "risk" (dropped by risk)."""

    def orders_cancelled(self, market: str | None, count: int) -> None:
        """The venue confirmed `count` cancels (market None: not known per market)."""

    def fill(self, market: str, outcome: str, side: Side, price: Decimal, size: Decimal) -> None:
        """A new fill of ours was recorded in the ledger."""

    def decision(self, compute_s: float | None, tick_to_quote_s: float | None) -> None:
        """A decision acted on: its compute time (quoter, reconcile, risk; None for a stand-down,
        which computes nothing) and, when a book update started it, the seconds from that update
        to the plan going to the venue."""

    def stream(self, name: str, connected: bool, reason: str) -> None:
        """The market feed or the user stream went up or down."""

    def venue_error(self, where: str, status: int | None) -> None:
        """A venue call failed (`status`: the HTTP status, None without one: a timeout, a refused
        connection)."""

    def halted(self, reason: str, external: bool) -> None:
        """Trading halted (`external`: asked from outside: `polymm halt` or `cancel-all`)."""

    def resumed(self) -> None:
        """An external halt was lifted (`polymm resume`)."""

    def stop_loss(self, market: str, reason: str) -> None:
        """A market's stop-loss fired; its exit starts."""

    def exit_done(self, market: str, flat: bool, detail: str) -> None:
        """A stop-loss exit ended (`flat`: nothing left to sell)."""

    def stop_loss_over(self, market: str) -> None:
        """A stop-loss cool-down ended and the market quotes again."""

    def failed(self, cause: str) -> None:
        """An engine task died: the run stops safely and ends with this cause."""

    def stopped(self, report: StopReport) -> None:
        """The run's stop cancelled what it could (`report.confirmed`: the venue lists none open)."""


class Observers(EngineObserver):
    """Several observers as one; one that raises is logged and skipped, never the engine's problem."""

    def __init__(self, observers: Sequence[EngineObserver]) -> None:
        self.observers = tuple(observers)

    def _each(self, method: str, *args: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception:
                log.exception("observer %s failed in %s", type(observer).__name__, method)

    def order_placed(
        self, market: str, order_id: str, side: Side, price: Decimal, size: Decimal, tag: str
    ) -> None:
        self._each("order_placed", market, order_id, side, price, size, tag)

    def order_refused(self, market: str, source: str, reason: str) -> None:
        self._each("order_refused", market, source, reason)

    def orders_cancelled(self, market: str | None, count: int) -> None:
        self._each("orders_cancelled", market, count)

    def fill(self, market: str, outcome: str, side: Side, price: Decimal, size: Decimal) -> None:
        self._each("fill", market, outcome, side, price, size)

    def decision(self, compute_s: float | None, tick_to_quote_s: float | None) -> None:
        self._each("decision", compute_s, tick_to_quote_s)

    def stream(self, name: str, connected: bool, reason: str) -> None:
        self._each("stream", name, connected, reason)

    def venue_error(self, where: str, status: int | None) -> None:
        self._each("venue_error", where, status)

    def halted(self, reason: str, external: bool) -> None:
        self._each("halted", reason, external)

    def resumed(self) -> None:
        self._each("resumed")

    def stop_loss(self, market: str, reason: str) -> None:
        self._each("stop_loss", market, reason)

    def exit_done(self, market: str, flat: bool, detail: str) -> None:
        self._each("exit_done", market, flat, detail)

    def stop_loss_over(self, market: str) -> None:
        self._each("stop_loss_over", market)

    def failed(self, cause: str) -> None:
        self._each("failed", cause)

    def stopped(self, report: StopReport) -> None:
        self._each("stopped", report)
