"""Behaviour of the P&L projection: average cost, realised/unrealised/daily P&L, flows, invariants."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, FlowKind, FlowRecord, Market, Side, TradeStatus
from polymm_cli.pnl import IncomeBreakdown, MarketPnl, MarketProjection, PnlReport, income_breakdown, project

D = Decimal
YESTERDAY = 1_777_300_000.0
DAY_START = 1_777_334_400.0
TODAY = 1_777_370_400.0


def market(condition_id: str = "0xm") -> Market:
    return Market(
        condition_id=condition_id,
        question="Will it happen?",
        slug=condition_id,
        yes_token=f"{condition_id}-yes",
        no_token=f"{condition_id}-no",
        tick_size=D("0.01"),
        min_order_size=D("5"),
    )


MARKET = market()
MARKETS = {MARKET.condition_id: MARKET}

_serial = iter(range(10**9))


def fill(
    side: Side,
    outcome: str,
    price: str,
    size: str,
    *,
    fee: str = "0",
    status: TradeStatus = TradeStatus.CONFIRMED,
    ts: float = TODAY,
    of: Market = MARKET,
) -> FillRecord:
    n = next(_serial)
    return FillRecord(
        trade_id=f"trade-{n}",
        order_id=f"order-{n}",
        market=of.condition_id,
        token_id=of.yes_token if outcome == "YES" else of.no_token,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(fee),
        liquidity="TAKER" if D(fee) else "MAKER",
        status=status,
        venue_ts=ts,
        recv_ts=ts,
    )


def flow(
    kind: FlowKind,
    cash: str,
    yes: str = "0",
    no: str = "0",
    *,
    ts: float = TODAY,
    note: str = "",
    market_id: str = MARKET.condition_id,
) -> FlowRecord:
    return FlowRecord(
        flow_id=f"flow-{next(_serial)}",
        kind=kind,
        market=market_id,
        collateral_delta=D(cash),
        yes_delta=D(yes),
        no_delta=D(no),
        ts=ts,
        note=note,
    )


def only(report: PnlReport) -> MarketPnl:
    [row] = report.markets
    return row


# -- the seed's floor ----------------------------------------------------------------------------------


def test_seed_004_buy_20_no_at_052_marked_at_mid_050() -> None:
    fills = [fill(Side.BUY, "NO", "0.52", "20")]

    pnl = only(project(fills, [], MARKETS, {"0xm": D("0.50")}))

    assert (pnl.yes_position, pnl.no_position, pnl.net_position) == (D(0), D(20), D(-20))
    assert (pnl.avg_cost_yes, pnl.avg_cost_no) == (None, D("0.52"))
    assert pnl.unrealized_pnl == D("-0.40")  # NO is marked at 1 - 0.50
    assert (pnl.realized_pnl, pnl.fees, pnl.total_pnl) == (D(0), D(0), D("-0.40"))
    assert (pnl.volume, pnl.fill_count, pnl.provisional_fill_count) == (D("10.40"), 1, 0)


def test_a_round_trip_realizes_the_spread() -> None:
    fills = [fill(Side.BUY, "YES", "0.40", "10"), fill(Side.SELL, "YES", "0.45", "10")]

    pnl = only(project(fills, [], MARKETS, {}))

    assert pnl.realized_pnl == D("0.50")
    assert (pnl.yes_position, pnl.avg_cost_yes) == (D(0), None)
    assert pnl.unrealized_pnl == 0  # flat: known without a mark
    assert pnl.total_pnl == D("0.50")
    assert pnl.volume == D("8.50")


def test_sells_do_not_change_the_average_cost() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "10"),
        fill(Side.BUY, "YES", "0.50", "10"),
        fill(Side.SELL, "YES", "0.60", "5"),
    ]

    pnl = only(project(fills, [], MARKETS, {"0xm": D("0.55")}))

    assert pnl.avg_cost_yes == D("0.45")
    assert pnl.realized_pnl == D("0.75")  # (0.60 - 0.45) x 5
    assert pnl.unrealized_pnl == D("1.50")  # 15 x (0.55 - 0.45)
    assert pnl.total_pnl == D("2.25")


def test_an_uneven_average_is_carried_without_losing_a_cent() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "1"),
        fill(Side.BUY, "YES", "0.41", "2"),
        fill(Side.SELL, "YES", "0.50", "1"),
        fill(Side.SELL, "YES", "0.50", "2"),
    ]

    pnl = only(project(fills, [], MARKETS, {}))

    assert pnl.realized_pnl == D("0.28")  # 1.50 received - 1.22 paid, exactly
    assert pnl.avg_cost_yes is None


def test_a_merge_realises_one_minus_the_pair_cost() -> None:
    fills = [fill(Side.BUY, "YES", "0.48", "10"), fill(Side.BUY, "NO", "0.50", "10")]
    merge = flow(FlowKind.MERGE, "10", "-10", "-10")

    pnl = only(project(fills, [merge], MARKETS, {}))

    assert pnl.realized_pnl == D("0.20")  # +0.02 per pair
    assert (pnl.yes_position, pnl.no_position) == (D(0), D(0))
    assert pnl.total_pnl == D("0.20")


def test_a_split_costs_one_per_pair_allocated_half_and_half() -> None:
    split = flow(FlowKind.SPLIT, "-100", "100", "100")

    pnl = only(project([], [split], MARKETS, {"0xm": D("0.62")}))

    assert (pnl.yes_position, pnl.no_position, pnl.net_position) == (D(100), D(100), D(0))
    assert (pnl.avg_cost_yes, pnl.avg_cost_no) == (D("0.5"), D("0.5"))
    assert (pnl.realized_pnl, pnl.unrealized_pnl, pnl.total_pnl) == (D(0), D(0), D(0))


def test_a_split_note_sets_the_allocation_and_total_pnl_does_not_move() -> None:
    plain = flow(FlowKind.SPLIT, "-100", "100", "100")
    priced = flow(FlowKind.SPLIT, "-100", "100", "100", note="seed; yes_price=0.62")
    sell = [fill(Side.SELL, "YES", "0.64", "40")]
    marks = {"0xm": D("0.60")}

    half = only(project(sell, [plain], MARKETS, marks))
    at_mid = only(project(sell, [priced], MARKETS, marks))

    assert (at_mid.avg_cost_yes, at_mid.avg_cost_no) == (D("0.62"), D("0.38"))
    assert (half.realized_pnl, at_mid.realized_pnl) == (D("5.60"), D("0.80"))
    assert half.total_pnl == at_mid.total_pnl == D("1.60")


def test_a_redeem_realises_the_payout_minus_the_average_cost() -> None:
    fills = [fill(Side.BUY, "YES", "0.40", "10"), fill(Side.BUY, "NO", "0.55", "4")]
    redeem = flow(FlowKind.REDEEM, "10", "-10", "-4")  # YES won: 1 each, NO pays 0

    pnl = only(project(fills, [redeem], MARKETS, {}))

    assert pnl.realized_pnl == D("3.80")  # 10 - 4.00 - 2.20
    assert (pnl.yes_position, pnl.no_position) == (D(0), D(0))


def test_a_sale_beyond_the_position_opens_a_short_at_the_sale_price() -> None:
    opened = [fill(Side.SELL, "YES", "0.60", "5")]
    covered = [*opened, fill(Side.BUY, "YES", "0.55", "5")]

    short = only(project(opened, [], MARKETS, {"0xm": D("0.50")}))
    closed = only(project(covered, [], MARKETS, {"0xm": D("0.50")}))

    assert (short.yes_position, short.avg_cost_yes, short.unrealized_pnl) == (D(-5), D("0.60"), D("0.50"))
    assert (closed.yes_position, closed.realized_pnl) == (D(0), D("0.25"))


def test_a_sale_through_flat_realises_the_long_and_shorts_the_rest() -> None:
    fills = [fill(Side.BUY, "YES", "0.40", "10"), fill(Side.SELL, "YES", "0.50", "15")]

    pnl = only(project(fills, [], MARKETS, {"0xm": D("0.45")}))

    assert pnl.realized_pnl == D("1.00")
    assert (pnl.yes_position, pnl.avg_cost_yes) == (D(-5), D("0.50"))
    assert pnl.unrealized_pnl == D("0.25")


# -- settlement statuses ------------------------------------------------------------------------------


def test_a_failed_fill_counts_for_nothing() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "10"),
        fill(Side.BUY, "YES", "0.10", "1000", fee="3", status=TradeStatus.FAILED),
    ]

    pnl = only(project(fills, [], MARKETS, {"0xm": D("0.40")}))

    assert (pnl.yes_position, pnl.avg_cost_yes, pnl.fees) == (D(10), D("0.40"), D(0))
    assert (pnl.fill_count, pnl.failed_fill_count, pnl.volume) == (1, 1, D("4.00"))
    assert pnl.total_pnl == 0


def test_provisional_fills_count_and_are_flagged() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "10", status=TradeStatus.MATCHED),
        fill(Side.BUY, "YES", "0.40", "10", status=TradeStatus.MINED),
        fill(Side.BUY, "YES", "0.40", "10", status=TradeStatus.RETRYING),
        fill(Side.BUY, "YES", "0.40", "10", status=TradeStatus.CONFIRMED),
    ]

    report = project(fills, [], MARKETS, {"0xm": D("0.40")})

    assert only(report).yes_position == 40
    assert (report.fill_count, report.provisional_fill_count) == (4, 3)


# -- fees, rewards, deposits ----------------------------------------------------------------------------


def test_a_taker_fee_reduces_total_pnl_but_not_realized() -> None:
    fills = [fill(Side.BUY, "YES", "0.50", "100", fee="1.00")]

    pnl = only(project(fills, [], MARKETS, {"0xm": D("0.50")}))

    assert (pnl.realized_pnl, pnl.unrealized_pnl, pnl.fees) == (D(0), D(0), D("1.00"))
    assert pnl.total_pnl == D("-1.00")
    assert pnl.cash_delta == D("-51.00")


def test_fee_and_reward_flows_hit_pnl_and_deposits_do_not() -> None:
    flows = [
        flow(FlowKind.DEPOSIT, "1000", market_id=""),
        flow(FlowKind.REWARD, "2.50"),
        flow(FlowKind.FEE, "-0.30"),
        flow(FlowKind.REWARD, "1.00", market_id=""),
        flow(FlowKind.FEE, "-0.10", market_id=""),
        flow(FlowKind.WITHDRAW, "-200", market_id=""),
    ]

    report = project([], flows, MARKETS, {})

    assert (only(report).realized_pnl, only(report).fees, only(report).total_pnl) == (
        D("2.50"),
        D("0.30"),
        D("2.20"),
    )
    assert (report.account_rewards, report.account_fees) == (D("1.00"), D("0.10"))
    assert (report.realized_pnl, report.fees, report.total_pnl) == (D("3.50"), D("0.40"), D("3.10"))
    assert (report.net_deposits, report.cash_delta) == (D("800"), D("803.10"))


def test_income_comes_in_three_kinds_that_sum_to_the_total() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "100"),
        fill(Side.SELL, "YES", "0.44", "60", fee="0.05"),  # 60 x 0.04 = 2.40 realised, fee 0.05
    ]
    flows = [
        flow(FlowKind.REWARD, "1.25"),
        flow(FlowKind.REBATE, "0.30"),
        flow(FlowKind.REBATE, "0.10", market_id=""),  # account-wide: in the totals only
    ]
    marks = {"0xm": D("0.45")}  # 40 left at 0.40, marked 0.45: unrealised 2.00

    report = project(fills, flows, MARKETS, marks)
    income = income_breakdown(fills, flows, MARKETS, marks)

    assert (only(report).rewards, only(report).rebates, only(report).spread_capture) == (
        D("1.25"),
        D("0.30"),
        D("4.35"),
    )
    assert income == IncomeBreakdown(spread_capture=D("4.35"), rewards=D("1.25"), rebates=D("0.40"))
    assert income.total == report.total_pnl == D("6.00")
    assert report.account_rewards == D("0.10")  # market-less income of either kind


def test_a_rebate_with_token_deltas_is_refused() -> None:
    bad = replace(flow(FlowKind.REBATE, "0.30"), yes_delta=D(1))
    with pytest.raises(ValueError, match="a rebate moves collateral only"):
        project([], [bad], MARKETS, {})


# -- marks, daily P&L, totals ------------------------------------------------------------------------


def test_a_market_without_a_mark_has_unknown_unrealized_pnl() -> None:
    other = market("0xother")
    fills = [fill(Side.BUY, "YES", "0.40", "10"), fill(Side.BUY, "NO", "0.30", "10", of=other)]

    report = project(fills, [], {**MARKETS, other.condition_id: other}, {"0xm": D("0.50")})

    marked, unmarked = report.market("0xm"), report.market("0xother")
    assert marked is not None and unmarked is not None
    assert (marked.unrealized_pnl, unmarked.unrealized_pnl, unmarked.mark) == (D("1.00"), None, None)
    assert unmarked.total_pnl == 0  # realized + (unrealized or 0) - fees
    assert report.unmarked == ("0xother",)
    assert report.unrealized_pnl == D("1.00")


def test_daily_pnl_splits_yesterdays_and_todays_fills() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "10", ts=YESTERDAY),
        fill(Side.BUY, "YES", "0.50", "10", ts=TODAY),
        fill(Side.SELL, "YES", "0.55", "5", ts=TODAY + 60),
    ]
    marks = {"0xm": D("0.52")}

    today = only(project(fills, [], MARKETS, marks, day_start=DAY_START))
    before = only(project(fills[:1], [], MARKETS, marks))

    # today's cash (-5.00 + 2.75) + today's position change (+5) x 0.52
    assert today.daily_pnl == D("0.35")
    assert before.total_pnl == D("1.20")
    assert today.total_pnl == D("1.55") == before.total_pnl + today.daily_pnl


def test_daily_pnl_without_a_day_start_is_the_total() -> None:
    fills = [fill(Side.BUY, "YES", "0.40", "10", fee="0.05"), fill(Side.SELL, "YES", "0.47", "4")]

    report = project(fills, [], MARKETS, {"0xm": D("0.43")})

    assert report.daily_pnl == report.total_pnl == only(report).daily_pnl


def test_daily_pnl_needs_a_mark_only_when_todays_position_moved() -> None:
    fills = [
        fill(Side.BUY, "YES", "0.40", "10", ts=YESTERDAY),
        fill(Side.BUY, "YES", "0.45", "2", ts=TODAY),
        fill(Side.SELL, "YES", "0.48", "2", ts=TODAY),
    ]

    quiet = only(project(fills, [], MARKETS, {}, day_start=DAY_START))
    moved = only(project(fills[:2], [], MARKETS, {}, day_start=DAY_START))

    assert quiet.daily_pnl == D("0.06")
    assert moved.daily_pnl is None
    assert not moved.marked


def test_totals_add_up_over_markets() -> None:
    other = market("0xother")
    fills = [
        fill(Side.BUY, "YES", "0.40", "10", fee="0.02"),
        fill(Side.SELL, "YES", "0.44", "5"),
        fill(Side.BUY, "NO", "0.30", "10", of=other),
    ]
    marks = {"0xm": D("0.41"), "0xother": D("0.65")}

    report = project(fills, [], {**MARKETS, "0xother": other}, marks)

    assert [m.condition_id for m in report.markets] == ["0xm", "0xother"]
    for row in report.markets:
        assert row.total_pnl == row.realized_pnl + (row.unrealized_pnl or 0) - row.fees
    assert report.total_pnl == report.realized_pnl + report.unrealized_pnl - report.fees
    assert report.total_pnl == sum(m.total_pnl for m in report.markets)


def test_bad_marks_and_unknown_markets_are_refused() -> None:
    fills = [fill(Side.BUY, "YES", "0.40", "10")]

    with pytest.raises(ValueError, match="mark of 0xm must be a Decimal in"):
        project(fills, [], MARKETS, {"0xm": D("1.5")})
    with pytest.raises(ValueError, match="no market metadata for 0xm"):
        project(fills, [], {}, {})


def test_projecting_the_same_records_twice_is_identical() -> None:
    fills = [fill(Side.BUY, "YES", "0.40", "3"), fill(Side.SELL, "YES", "0.41", "1", fee="0.001")]
    flows = [flow(FlowKind.SPLIT, "-7", "7", "7", ts=TODAY - 10)]

    first = project(fills, flows, MARKETS, {"0xm": D("0.37")}, day_start=DAY_START)
    second = project(iter(fills), iter(flows), MARKETS, {"0xm": D("0.37")}, day_start=DAY_START)

    assert first == second


def test_the_report_from_a_reopened_ledger_is_the_same(tmp_path: Path) -> None:
    fills = [
        fill(Side.BUY, "YES", "0.333", "7.5", status=TradeStatus.MATCHED),
        fill(Side.BUY, "NO", "0.61", "12", fee="0.0123456"),
        fill(Side.SELL, "YES", "0.35", "2.5"),
        fill(Side.BUY, "NO", "0.10", "50", status=TradeStatus.FAILED),
    ]
    flows = [flow(FlowKind.MERGE, "5", "-5", "-5", ts=TODAY + 1), flow(FlowKind.REWARD, "0.75")]
    marks = {"0xm": D("0.36")}
    with Ledger.open(tmp_path, account=Account("local", "0xme")) as ledger:
        for record in fills:
            ledger.record_fill(record)
        for movement in flows:
            ledger.record_flow(movement)
        live = project(ledger.fills(), ledger.flows(), MARKETS, marks, day_start=DAY_START)

    with Ledger.open(tmp_path) as reopened:
        restarted = project(reopened.fills(), reopened.flows(), MARKETS, marks, day_start=DAY_START)

    assert restarted == live
    assert only(live).fees == D("0.012346")  # the ledger holds fees in micro-units
    assert only(live).provisional_fill_count == 1


# -- the invariant: P&L is cash plus marked inventory ----------------------------------------------


OTHER = market("0xother")
BOTH = {MARKET.condition_id: MARKET, OTHER.condition_id: OTHER}
STATUSES = [TradeStatus.CONFIRMED, TradeStatus.CONFIRMED, TradeStatus.MATCHED, TradeStatus.FAILED]


@dataclass
class Tape:
    """A random history and what it must add up to, tracked independently of pnl.py."""

    fills: list[FillRecord] = field(default_factory=list)
    flows: list[FlowRecord] = field(default_factory=list)
    cash: Decimal = field(default_factory=Decimal)
    held: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def position(self, cid: str, outcome: str) -> Decimal:
        return self.held.get((cid, outcome), D(0))

    def move(self, cid: str, outcome: str, qty: Decimal) -> None:
        self.held[(cid, outcome)] = self.position(cid, outcome) + qty


@st.composite
def tapes(draw: st.DrawFn, *, allow_shorts: bool = False) -> Tape:
    tape = Tape()
    for step in range(draw(st.integers(min_value=0, max_value=30))):
        ts = TODAY - 50_000 + step * 3_000.0
        of = draw(st.sampled_from([MARKET, OTHER]))
        cid = of.condition_id
        action = draw(st.sampled_from(["buy", "buy", "sell", "sell", "split", "merge", "reward", "fee"]))
        if action in ("buy", "sell"):
            outcome = draw(st.sampled_from(["YES", "NO"]))
            price = D(draw(st.integers(min_value=1, max_value=99))) / 100
            size = D(draw(st.integers(min_value=1, max_value=50_000))) / 100
            if action == "sell" and not allow_shorts:
                size = min(size, tape.position(cid, outcome))
                if size <= 0:
                    continue
            fee = D(draw(st.integers(min_value=0, max_value=2_000))) / 100_000
            status = draw(st.sampled_from(STATUSES))
            side = Side.BUY if action == "buy" else Side.SELL
            tape.fills.append(
                fill(side, outcome, str(price), str(size), fee=str(fee), status=status, ts=ts, of=of)
            )
            if status is not TradeStatus.FAILED:
                qty = size if side is Side.BUY else -size
                tape.move(cid, outcome, qty)
                tape.cash += -qty * price - fee
        elif action in ("split", "merge"):
            pairs = D(draw(st.integers(min_value=1, max_value=10_000))) / 100
            if action == "merge":
                pairs = min(pairs, tape.position(cid, "YES"), tape.position(cid, "NO"))
                if pairs <= 0:
                    continue
            sign = 1 if action == "split" else -1
            note = draw(st.sampled_from(["", "yes_price=0.7", "yes_price=0.15"]))
            kind = FlowKind.SPLIT if action == "split" else FlowKind.MERGE
            tape.flows.append(
                flow(
                    kind,
                    str(-sign * pairs),
                    str(sign * pairs),
                    str(sign * pairs),
                    ts=ts,
                    note=note,
                    market_id=cid,
                )
            )
            tape.move(cid, "YES", sign * pairs)
            tape.move(cid, "NO", sign * pairs)
            tape.cash -= sign * pairs
        else:
            amount = D(draw(st.integers(min_value=1, max_value=500))) / 100
            amount = amount if action == "reward" else -amount
            kind = FlowKind.REWARD if action == "reward" else FlowKind.FEE
            where = draw(st.sampled_from([cid, ""]))
            tape.flows.append(flow(kind, str(amount), ts=ts, market_id=where))
            tape.cash += amount
    if draw(st.booleans()):
        tape.flows.append(flow(FlowKind.DEPOSIT, "500", ts=TODAY - 60_000, market_id=""))
        tape.cash += 500
    return tape


marks_strategy = st.fixed_dictionaries(
    {
        MARKET.condition_id: st.integers(min_value=0, max_value=100).map(lambda c: D(c) / 100),
        OTHER.condition_id: st.integers(min_value=0, max_value=1000).map(lambda c: D(c) / 1000),
    }
)


def marked_inventory(report: PnlReport, marks: dict[str, Decimal]) -> Decimal:
    return sum(
        (m.yes_position * marks[m.condition_id] + m.no_position * (1 - marks[m.condition_id]))
        for m in report.markets
    ) or D(0)


def check_invariants(tape: Tape, marks: dict[str, Decimal]) -> None:
    report = project(tape.fills, tape.flows, BOTH, marks)

    assert report.cash_delta == tape.cash
    for m in report.markets:
        assert (m.yes_position, m.no_position) == (
            tape.position(m.condition_id, "YES"),
            tape.position(m.condition_id, "NO"),
        )
        inventory = m.yes_position * marks[m.condition_id] + m.no_position * (1 - marks[m.condition_id])
        assert m.cash_delta + inventory == m.total_pnl
        assert m.total_pnl == m.realized_pnl + (m.unrealized_pnl or 0) - m.fees
    assert report.cash_delta + marked_inventory(report, marks) == report.total_pnl + report.net_deposits
    assert report.total_pnl == report.realized_pnl + report.unrealized_pnl - report.fees
    assert report.daily_pnl == report.total_pnl
    assert report.unmarked == ()


@settings(max_examples=300, deadline=None)
@given(tape=tapes(), marks=marks_strategy)
def test_pnl_is_cash_plus_marked_inventory_for_any_history(tape: Tape, marks: dict[str, Decimal]) -> None:
    check_invariants(tape, marks)


@settings(max_examples=150, deadline=None)
@given(tape=tapes(allow_shorts=True), marks=marks_strategy)
def test_pnl_is_cash_plus_marked_inventory_even_through_shorts(tape: Tape, marks: dict[str, Decimal]) -> None:
    check_invariants(tape, marks)


@settings(max_examples=150, deadline=None)
@given(tape=tapes(), marks=marks_strategy, cut=st.integers(min_value=0, max_value=30))
def test_daily_pnl_is_the_total_less_what_came_before_the_day(
    tape: Tape, marks: dict[str, Decimal], cut: int
) -> None:
    day_start = TODAY - 50_000 + cut * 3_000.0 - 1
    before_fills = [f for f in tape.fills if f.venue_ts < day_start]
    before_flows = [f for f in tape.flows if f.ts < day_start]

    whole = project(tape.fills, tape.flows, BOTH, marks, day_start=day_start)
    before = project(before_fills, before_flows, BOTH, marks)

    assert whole.daily_pnl == whole.total_pnl - before.total_pnl


@settings(max_examples=100, deadline=None)
@given(tape=tapes())
def test_a_flat_history_realises_everything(tape: Tape) -> None:
    report = project(tape.fills, tape.flows, BOTH, {})

    for m in report.markets:
        if m.yes_position == 0 and m.no_position == 0:
            assert m.unrealized_pnl == 0
            assert m.realized_pnl - m.fees == m.cash_delta
        else:
            assert m.unrealized_pnl is None


# -- the incremental projection the engine keeps ------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    tape=tapes(allow_shorts=True),
    marks=marks_strategy,
    order=st.randoms(use_true_random=False),
    cut=st.integers(min_value=0, max_value=30),
    settle=st.lists(st.sampled_from(list(TradeStatus)), max_size=30),
)
def test_the_incremental_projection_always_says_what_a_full_projection_says(
    tape: Tape, marks: dict[str, Decimal], order: Any, cut: int, settle: list[TradeStatus]
) -> None:
    """Records arrive in any order (resyncs), statuses move on (and fail), the day may start mid-way:
    after every step the engine's MarketProjection equals `project` over the same records, and its
    settled positions equal a projection over the CONFIRMED fills only."""
    cid = MARKET.condition_id
    day_start = TODAY - 50_000 + cut * 3_000.0 - 1
    arrivals: list[FillRecord | FlowRecord] = [f for f in tape.fills if f.market == cid]
    arrivals += [f for f in tape.flows if f.market == cid]
    order.shuffle(arrivals)
    projection = MarketProjection(MARKET)
    seen_fills: dict[tuple[str, str], FillRecord] = {}
    seen_flows: list[FlowRecord] = []
    statuses = iter(settle)
    for record in arrivals:
        if isinstance(record, FillRecord):
            projection.add_fill(record)
            seen_fills[record.key] = record
            status = next(statuses, None)
            if status is not None:  # a later status for some fill already recorded
                key = order.choice(list(seen_fills))
                projection.set_status(key, status)
                seen_fills[key] = replace(seen_fills[key], status=status)
        else:
            projection.add_flow(record)
            seen_flows.append(record)
        full = project(list(seen_fills.values()), seen_flows, {cid: MARKET}, marks, day_start=day_start)
        confirmed = [f for f in seen_fills.values() if f.status is TradeStatus.CONFIRMED]
        settled = project(confirmed, seen_flows, {cid: MARKET}, marks).market(cid)

        assert projection.pnl(marks[cid], day_start=day_start) == full.market(cid)
        assert projection.settled() == (
            (settled.yes_position, settled.no_position) if settled else (D(0), D(0))
        )
