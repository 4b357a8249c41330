"""Re-selection: every N minutes ask which markets to quote, wind down those dropped, add the new ones.

The choosing (the listing, the rules, the ranking) is handed in as a `Chooser`, so this module owns
only the when and the order: it runs as one more supervised task of the engine (`also_run`), on the
injected clock; drops go first (cancel, confirm, optionally liquidate: `QuotingEngine.retire_market`),
then adds (`QuotingEngine.add_markets`). A listing that fails keeps the markets as they are and
says so (`last_error`): a venue hiccup must not wind down a whole portfolio.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polymm_cli.engine.config import RetireReport
from polymm_cli.errors import VenueError, describe
from polymm_cli.model import Market

if TYPE_CHECKING:
    from polymm_cli.engine.loop import QuotingEngine

log = logging.getLogger("polymm.fleet")


@dataclass(frozen=True, slots=True)
class Reselection:
    """A chooser's answer: every market to quote now (best first), and the held ones to drop, why."""

    chosen: Sequence[Market]
    dropped: Mapping[str, str] = field(default_factory=dict)


Chooser = Callable[[tuple[str, ...]], Awaitable[Reselection]]  # the markets quoted now -> the answer


class Reselector:
    def __init__(
        self,
        engine: QuotingEngine,
        chooser: Chooser,
        *,
        every_s: float,
        liquidate: bool = False,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.chooser = chooser
        self.every_s = every_s
        self.liquidate = liquidate
        self.on_change = on_change
        self.rounds = 0
        self.last_round: float | None = None  # wall time of the last round (the engine's clock)

    async def run(self) -> None:
        while True:
            await self.engine.clock.sleep(self.every_s)
            await self.once()

    def quoted(self) -> tuple[str, ...]:
        """The markets being quoted (a wound-down market still held is not)."""
        return tuple(cid for cid, s in self.engine.states.items() if not s.retired)

    async def once(self) -> tuple[list[RetireReport], list[str]]:
        """One re-selection: the wind-downs done and the markets added."""
        engine = self.engine
        self.rounds += 1
        self.last_round = engine.clock.now()
        held = self.quoted()
        try:
            answer = await self.chooser(held)
        except VenueError as exc:
            engine.last_error = f"re-selection: {describe(exc)}; keeping the markets as they are"
            log.warning("%s", engine.last_error)
            return [], []
        reports = [
            await engine.retire_market(cid, why, liquidate=self.liquidate)
            for cid, why in answer.dropped.items()
            if cid in held
        ]
        added = await engine.add_markets([m for m in answer.chosen if m.condition_id not in held])
        if self.on_change is not None:  # every round, a change or not: the operator sees it is alive
            self.on_change(self._record(reports, added, answer))
        return reports, added

    def _record(self, reports: list[RetireReport], added: list[str], answer: Reselection) -> dict[str, Any]:
        """The headless line of a re-selection: what it added and dropped, and the markets quoted now."""
        names = {m.condition_id: m.slug or m.condition_id for m in answer.chosen}
        return {
            "ts": self.engine.clock.now(),
            "event": "reselected",
            "added": [names.get(cid, cid) for cid in added],
            "dropped": [
                {
                    "market": r.market,
                    "reason": r.reason,
                    "cancelled": r.cancelled,
                    "confirmed": r.confirmed,
                    "left_engine": r.removed,
                }
                for r in reports
            ],
            "markets": [names.get(cid, cid) for cid in self.quoted()],
        }
