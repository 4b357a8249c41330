"""PayoutRecorder: the venue's liquidity rewards and maker rebates, recorded once each in the ledger.

Off the hot path: the engine polls it at start, every `EngineConfig.payout_poll_s` (payouts come
once an epoch, a day on Polymarket) and once more at the stop. Each payout becomes one REWARD or
REBATE flow keyed by its payout id, so a payout read again (every poll overlaps the last, a restart
reads the venue's list afresh) writes nothing: the ledger's idempotency key is the guard.

Must not: compute income (the venue pays, `pnl` projects), read a clock (times are passed in).
"""

from __future__ import annotations

from polymm_cli.ledger import Ledger
from polymm_cli.model import FlowRecord
from polymm_cli.venues.base import Venue, payout_flow

# Each poll asks for payouts since the previous poll began less this: a payout the venue listed a
# moment after its own timestamp is still asked for; the overlap costs nothing (recorded once).
OVERLAP_S = 3600.0


class PayoutRecorder:
    """Reads the venue's payouts since the last poll and records the new ones as ledger flows."""

    def __init__(self, venue: Venue, ledger: Ledger) -> None:
        self._venue = venue
        self._ledger = ledger
        self._since: float | None = None  # None: the first poll asks for all the venue still lists
        self.recorded = 0

    async def poll(self, now: float) -> list[FlowRecord]:
        """The flows newly recorded by this poll (VenueError when the venue cannot be read)."""
        payouts = await self._venue.payouts(since=self._since)
        new = [flow for flow in map(payout_flow, payouts) if self._ledger.record_flow(flow)]
        self._since = now - OVERLAP_S
        self.recorded += len(new)
        return new
