"""Income in three kinds, as a user meets it: `polymm run` on the local exchange with a short reward
epoch is paid liquidity rewards and maker rebates, records each payout once (a restart re-reads
them and records nothing twice), and `polymm pnl` shows spread capture, rewards and rebates apart."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.ledger import Ledger
from polymm_cli.model import FlowKind, FlowRecord
from polymm_cli.venues.base import Payout
from tests.e2e.support import bot_venue, data_dir, polymm

# The World Cup market pays both: rewards (3c band, 25 shares min, $100 a day) and maker rebates
# (15% of a 5% taker fee), on a 0.01 tick where the bot's quotes meet the flow's takers.
CUP = sample_markets()[2]
INCOME = (FlowKind.REWARD, FlowKind.REBATE)

pytestmark = pytest.mark.slow


def income_flows() -> list[FlowRecord]:
    with Ledger.open(data_dir()) as ledger:
        return [f for f in ledger.flows() if f.kind in INCOME]


def paid_at_exchange() -> list[Payout]:
    async def main() -> list[Payout]:
        async with bot_venue() as venue:
            return await venue.payouts()

    return asyncio.run(main())


def test_a_run_records_rewards_and_rebates_once_and_pnl_shows_the_three_kinds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every process of this test (and the exchange each starts from the saved state) pays every 4 s
    monkeypatch.setenv("POLYMM_EXCHANGE_REWARD_EPOCH", "4")
    monkeypatch.setenv("POLYMM_EXCHANGE_TAKER_RATE", "120")
    args = ("run", CUP.slug, "--venue", "local", "--headless", "--size", "25")

    first = polymm(*args, "--duration", "20", timeout=90)

    assert first.returncode == 0, first.stderr
    flows = income_flows()
    kinds = {(f.kind, f.market) for f in flows}
    assert (FlowKind.REWARD, CUP.condition_id) in kinds, "25 shares inside the band earn rewards"
    assert (FlowKind.REBATE, CUP.condition_id) in kinds, "a taker's fee pays the maker it hit a rebate"
    assert all(f.collateral_delta > 0 for f in flows)

    pnl = polymm("pnl", "--json")

    assert pnl.returncode == 0, pnl.stderr
    report = json.loads(pnl.stdout)
    rewards = sum((f.collateral_delta for f in flows if f.kind is FlowKind.REWARD), Decimal(0))
    rebates = sum((f.collateral_delta for f in flows if f.kind is FlowKind.REBATE), Decimal(0))
    assert (Decimal(report["rewards"]), Decimal(report["rebates"])) == (rewards, rebates)
    parts = Decimal(report["spread_capture"]) + Decimal(report["rewards"]) + Decimal(report["rebates"])
    assert parts == Decimal(report["total_pnl"])
    [market] = report["markets"]
    assert (Decimal(market["rewards"]), Decimal(market["rebates"])) == (rewards, rebates)
    text = polymm("pnl")
    assert "income: spread capture" in text.stdout and "maker rebates" in text.stdout, text.stdout

    # a restart reads every payout again (its first poll asks for all): none is recorded twice
    second = polymm(*args, "--duration", "6", timeout=60)

    assert second.returncode == 0, second.stderr
    again = income_flows()
    assert [f.flow_id for f in again][: len(flows)] == [f.flow_id for f in flows]
    assert len({f.flow_id for f in again}) == len(again)
    at_exchange = {p.payout_id: p.amount for p in paid_at_exchange()}
    assert all(at_exchange[f.flow_id] == f.collateral_delta for f in again), "each flow is one payout"
