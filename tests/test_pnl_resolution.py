"""P&L of a resolved market: positions marked at the payout (1 for the winner, 0 for the loser) and
realised whether or not redeemed; a REDEEM afterwards keeps every total; the ledger's market
metadata carries the resolution (append-only: a new row, the latest wins)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FlowKind, FlowRecord, Side
from polymm_cli.pnl import MarketProjection, project
from tests.test_pnl import MARKET, TODAY, fill

YES_WON = MARKET.resolved_with(MARKET.yes_token)
NO_WON = MARKET.resolved_with(MARKET.no_token)


def redeem(yes: str, no: str, payout: str) -> FlowRecord:
    return FlowRecord(
        flow_id="redeem-1",
        kind=FlowKind.REDEEM,
        market=MARKET.condition_id,
        collateral_delta=D(payout),
        yes_delta=-D(yes),
        no_delta=-D(no),
        ts=TODAY + 100,
    )


FILLS = [
    fill(Side.BUY, "YES", "0.40", "10"),
    fill(Side.BUY, "NO", "0.50", "4"),
    fill(Side.SELL, "YES", "0.45", "2"),
]


def test_a_resolved_market_is_marked_at_the_payout_and_realised() -> None:
    open_market = project(FILLS, [], {MARKET.condition_id: MARKET}, {MARKET.condition_id: D("0.35")}).markets[
        0
    ]
    won = project(FILLS, [], {MARKET.condition_id: YES_WON}, {MARKET.condition_id: D("0.35")}).markets[0]
    lost = project(FILLS, [], {MARKET.condition_id: NO_WON}, {}).markets[0]

    assert not open_market.resolved and open_market.unrealized_pnl != 0
    # 8 YES at 0.40 (cost 3.20) + 4 NO at 0.50 (cost 2), 2 YES sold at 0.45 (+0.10 realised)
    assert (won.resolved, won.mark, won.unrealized_pnl) == (True, D(1), D(0))
    assert won.realized_pnl == D("0.10") + D(8) - D("3.20") - D(2)  # the book's mid (0.35) is ignored
    assert (lost.mark, lost.unrealized_pnl, lost.realized_pnl) == (
        D(0),
        D(0),
        D("0.10") + D(4) - D("3.20") - D(2),
    )
    assert won.yes_position == 8 and won.no_position == 4  # not redeemed yet: still held


def test_redeeming_keeps_the_projection_the_same_total() -> None:
    markets = {MARKET.condition_id: YES_WON}
    before = project(FILLS, [], markets, {})
    after = project(FILLS, [redeem("8", "4", "8")], markets, {})

    assert after.total_pnl == before.total_pnl == before.realized_pnl
    assert after.realized_pnl == before.realized_pnl and after.unrealized_pnl == 0
    assert (after.markets[0].yes_position, after.markets[0].no_position) == (0, 0)
    assert after.cash_delta == before.cash_delta + 8


def test_the_engine_projection_agrees_with_project_once_the_market_resolves() -> None:
    projection = MarketProjection(MARKET)
    for f in FILLS:
        projection.add_fill(f)
    quoted = projection.pnl(D("0.35"))
    projection.market = YES_WON
    resolved = projection.pnl(D("0.35"))

    assert not quoted.resolved and quoted.realized_pnl == D("0.10")
    assert resolved == project(FILLS, [], {MARKET.condition_id: YES_WON}, {}).markets[0]


def test_the_ledger_keeps_the_resolution_as_market_metadata(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=Account("local", "0x" + "ab" * 20)) as ledger:
        ledger.record_market(MARKET, TODAY)
        ledger.record_market(YES_WON, TODAY + 5)
        ledger.record_market(MARKET, TODAY + 6)  # a stale copy seen again writes nothing new
        assert ledger.market_meta()[MARKET.condition_id].winner == MARKET.yes_token
