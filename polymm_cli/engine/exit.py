"""Getting out of a market: arming the stop-loss, and the pieces of an exit round that the engine's
stop-loss and `polymm liquidate` share (merge the pairs, then the mode's orders as venue intents).

The maths of an exit (the trigger, the mode's orders, the slippage floor) is pure and lives in
`liquidation.py`; this module turns it into the engine's state and the venue's calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from polymm_cli.engine.state import MarketState
from polymm_cli.liquidation import ExitOrder, StopLossParams, exit_mode, pairs_to_merge
from polymm_cli.model import Market
from polymm_cli.venues.base import Chain, ChainResult, OrderIntent

CENT = Decimal("0.01")


def arm_stop(
    state: MarketState, reason: str, params: StopLossParams, anchor: Decimal | None, now: float
) -> str:
    """Stop quoting this market and get out: the mode the exit may use (a market exit needs a
    two-sided book's mid to anchor its floor), when quoting may resume; returns the line to log."""
    state.exit_anchor = anchor
    state.exit_mode, note = exit_mode(params.mode, anchor)
    state.stopped = f"{reason}; liquidating ({state.exit_mode})" + (f": {note}" if note else "")
    state.resume_at = now + params.resume_after_s if params.resume_after_s is not None else None
    state.exit_rounds = 0
    return state.stopped


async def merge_pairs(chain: Chain | None, market: Market, yes: Decimal, no: Decimal) -> ChainResult | None:
    """Merge the whole YES+NO pairs held back to collateral (1 pUSD a pair, no spread paid): what the
    merge moved (pairs merged = its `collateral_delta`), None with nothing to merge or no chain.
    VenueError when the merge fails."""
    pairs = pairs_to_merge(yes, no).quantize(CENT, rounding=ROUND_DOWN)
    if pairs <= 0 or chain is None:
        return None
    return await chain.merge(market, pairs)


def exit_intents(market: Market, orders: Sequence[ExitOrder], tag: str = "") -> list[OrderIntent]:
    """An exit's orders as the venue takes them: FAK crosses, GTC rests post-only."""
    return [
        OrderIntent(
            market=market.condition_id,
            token_id=o.token_id,
            side=o.side,
            price=o.price,
            size=o.size,
            order_type=o.order_type,
            post_only=o.order_type == "GTC",
            client_tag=tag,
        )
        for o in orders
    ]
