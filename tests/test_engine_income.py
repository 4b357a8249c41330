"""The engine's PayoutRecorder over SimVenue in virtual time: each payout the exchange makes becomes
one ledger flow (REWARD or REBATE), however often it is read, across restarts, and P&L shows it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from polymm_cli.clock import ManualClock
from polymm_cli.engine.income import PayoutRecorder
from polymm_cli.exchange.core import LocalExchange, OrderRequest, SettlementConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.payouts import IncomeConfig
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FlowKind, OrderType, Side
from polymm_cli.pnl import income_breakdown
from polymm_cli.venues.sim import SimVenue

D = Decimal
CUP = sample_markets()[2]  # rewards (3c, 25 shares, $100 a day) and rebates (15% of a 5% fee)
BOT = "0x" + "b0" * 20
TAKER = "0x" + "ca" * 20


def paid_exchange(clock: ManualClock) -> LocalExchange:
    """Our bids rest inside the band for two 60 s epochs; a taker hits one of them once."""
    clock.advance(60 - clock.now() % 60)
    ex = LocalExchange([CUP], clock, settlement=SettlementConfig(delay_s=0), income=IncomeConfig(epoch_s=60))
    ex.fund(BOT, D(1000))
    ex.fund(TAKER, D(1000))
    ex.split(TAKER, CUP.condition_id, D(100))
    for token, oid in ((CUP.yes_token, "0x01"), (CUP.no_token, "0x02")):
        ex.submit(OrderRequest(oid, "bot", BOT, token, Side.BUY, D("0.49"), D(50)))
    ex.submit(OrderRequest("0x03", "taker", TAKER, CUP.yes_token, Side.SELL, D("0.49"), D(10), OrderType.FAK))
    for _ in range(121):
        clock.advance(1)
        ex.advance()
    return ex


async def test_each_payout_is_recorded_once_across_polls_and_restarts(tmp_path: Path) -> None:
    clock = ManualClock()
    ex = paid_exchange(clock)
    venue = SimVenue(ex, clock, address=BOT, owner="bot", dead_mans_switch=False)
    account = Account("local", BOT)

    with Ledger.open(tmp_path, account=account) as ledger:
        first = await PayoutRecorder(venue, ledger).poll(clock.now())
        again = await PayoutRecorder(venue, ledger).poll(clock.now())  # a restart reads them all again
        flows = ledger.flows()

    paid = ex.payouts_to(BOT)
    assert {p.kind for p in paid} == {"reward", "rebate"} and len(paid) >= 3  # rewards of 2 epochs + a rebate
    assert [f.flow_id for f in first] == [p.payout_id for p in paid]
    assert again == [], "the ledger's idempotency key: a payout read again writes nothing"
    assert len(flows) == len(paid)
    income = income_breakdown([], flows, {CUP.condition_id: CUP}, {})
    assert income.rewards == sum((p.amount for p in paid if p.kind == "reward"), D(0))
    assert income.rebates == sum((p.amount for p in paid if p.kind == "rebate"), D(0))
    assert [f.kind for f in flows if f.kind is FlowKind.REBATE] == [FlowKind.REBATE]
