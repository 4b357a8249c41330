"""Behaviour of the append-only fill ledger: idempotency, settlement statuses, flows, runs, durability."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import stat
import statistics
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polymm_cli.errors import ConfigError
from polymm_cli.ledger import SCHEMA_VERSION, Ledger
from polymm_cli.model import Account, FillRecord, FlowKind, FlowRecord, Side, TradeStatus

D = Decimal
MARKET = "0xmarket"
ACCOUNT = Account("local", "0xme")


def fill(
    trade_id: str = "trade-1",
    order_id: str = "order-1",
    *,
    status: TradeStatus = TradeStatus.MATCHED,
    side: Any = Side.BUY,
    price: str = "0.52",
    size: str = "20",
    fee: str = "0",
    market: str = MARKET,
    token_id: str = "no-token",
    liquidity: str = "MAKER",
    venue_ts: float = 1_000.0,
    recv_ts: float = 1_000.5,
) -> FillRecord:
    return FillRecord(
        trade_id=trade_id,
        order_id=order_id,
        market=market,
        token_id=token_id,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(fee),
        liquidity=liquidity,
        status=status,
        venue_ts=venue_ts,
        recv_ts=recv_ts,
    )


def flow(
    flow_id: str = "flow-1",
    kind: FlowKind = FlowKind.SPLIT,
    *,
    cash: str = "-10",
    yes: str = "10",
    no: str = "10",
    market: str = MARKET,
    ts: float = 900.0,
    note: str = "",
) -> FlowRecord:
    return FlowRecord(
        flow_id=flow_id,
        kind=kind,
        market=market,
        collateral_delta=D(cash),
        yes_delta=D(yes),
        no_delta=D(no),
        ts=ts,
        note=note,
    )


def raw_row(path: Path, query: str) -> tuple[Any, ...]:
    """One row read behind the ledger's back, with plain sqlite3."""
    with closing(sqlite3.connect(path)) as raw:
        row: tuple[Any, ...] = raw.execute(query).fetchone()
    return row


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "data", account=ACCOUNT) as opened:
        yield opened


# -- idempotency and statuses ------------------------------------------------------------------------


def test_the_same_fill_event_delivered_three_times_is_one_fill(ledger: Ledger) -> None:
    event = fill()

    written = [ledger.record_fill(event) for _ in range(3)]

    assert written == [True, False, False]
    assert ledger.fill_count() == 1
    assert ledger.fills() == [event]


def test_a_fill_handler_tells_new_fills_from_new_statuses(ledger: Ledger) -> None:
    deliveries = [
        fill(status=s, recv_ts=t) for s, t in [(TradeStatus.MATCHED, 1.0), (TradeStatus.MATCHED, 1.5)]
    ]
    deliveries += [
        fill(status=TradeStatus.MINED, recv_ts=2.0),
        fill(status=TradeStatus.CONFIRMED, recv_ts=3.0),
    ]
    outcomes = []

    for event in deliveries:
        if ledger.record_fill(event):
            outcomes.append("new fill")
        elif ledger.record_status(event.trade_id, event.order_id, event.status, event.recv_ts):
            outcomes.append(f"now {event.status.value}")
        else:
            outcomes.append("old news")

    assert outcomes == ["new fill", "old news", "now MINED", "now CONFIRMED"]
    assert ledger.fill_count() == 1


def test_status_moves_matched_then_mined_then_confirmed(ledger: Ledger) -> None:
    ledger.record_fill(fill(status=TradeStatus.MATCHED, recv_ts=1.0))

    mined = ledger.record_status("trade-1", "order-1", TradeStatus.MINED, 2.0)
    confirmed = ledger.record_status("trade-1", "order-1", TradeStatus.CONFIRMED, 3.0)

    assert (mined, confirmed) == (True, True)
    assert ledger.status_history("trade-1", "order-1") == [
        (TradeStatus.MATCHED, 1.0),
        (TradeStatus.MINED, 2.0),
        (TradeStatus.CONFIRMED, 3.0),
    ]
    [stored] = ledger.fills()
    assert stored.status is TradeStatus.CONFIRMED
    assert stored.recv_ts == 1.0  # the fill row keeps its first delivery
    assert ledger.fill_count() == 1


def test_a_failed_status_reverses_the_fill_without_deleting_it(ledger: Ledger) -> None:
    ledger.record_fill(fill("kept", status=TradeStatus.CONFIRMED))
    ledger.record_fill(fill("ghost", status=TradeStatus.MATCHED))

    reversed_ = ledger.record_status("ghost", "order-1", TradeStatus.FAILED, 2.0)

    assert reversed_
    assert ledger.fill_count() == 2
    by_trade = {f.trade_id: f for f in ledger.fills()}
    assert by_trade["ghost"].status is TradeStatus.FAILED
    assert [f.trade_id for f in ledger.fills() if f.effective] == ["kept"]


@pytest.mark.parametrize("late", [TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.RETRYING])
def test_status_never_goes_backwards_after_confirmed(ledger: Ledger, late: TradeStatus) -> None:
    ledger.record_fill(fill(status=TradeStatus.MATCHED))
    ledger.record_status("trade-1", "order-1", TradeStatus.CONFIRMED, 2.0)

    applied = [ledger.record_status("trade-1", "order-1", late, 3.0) for _ in range(3)]

    assert applied == [False, False, False]
    assert ledger.fills()[0].status is TradeStatus.CONFIRMED


def test_matched_after_mined_is_ignored(ledger: Ledger) -> None:
    ledger.record_fill(fill(status=TradeStatus.MINED))

    applied = ledger.record_status("trade-1", "order-1", TradeStatus.MATCHED, 2.0)

    assert not applied
    assert ledger.fills()[0].status is TradeStatus.MINED


def test_nothing_follows_a_failed_status(ledger: Ledger) -> None:
    ledger.record_fill(fill(status=TradeStatus.FAILED))

    applied = [ledger.record_status("trade-1", "order-1", s, 2.0) for s in TradeStatus]

    assert applied == [False] * len(TradeStatus)
    assert ledger.fills()[0].status is TradeStatus.FAILED


def test_failed_after_confirmed_is_recorded_as_a_reorg(ledger: Ledger) -> None:
    ledger.record_fill(fill(status=TradeStatus.CONFIRMED))

    applied = ledger.record_status("trade-1", "order-1", TradeStatus.FAILED, 9.0)

    assert applied
    assert not ledger.fills()[0].effective


def test_a_retry_is_visible_and_can_still_confirm(ledger: Ledger) -> None:
    ledger.record_fill(fill(status=TradeStatus.MINED, recv_ts=1.0))

    steps = [
        ledger.record_status("trade-1", "order-1", TradeStatus.RETRYING, 2.0),
        ledger.record_status("trade-1", "order-1", TradeStatus.MINED, 3.0),
        ledger.record_status("trade-1", "order-1", TradeStatus.CONFIRMED, 4.0),
    ]

    assert steps == [True, True, True]
    assert [s for s, _ in ledger.status_history("trade-1", "order-1")] == [
        TradeStatus.MINED,
        TradeStatus.RETRYING,
        TradeStatus.MINED,
        TradeStatus.CONFIRMED,
    ]


def test_a_status_for_an_unknown_fill_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="no fill nope/order-1"):
        ledger.record_status("nope", "order-1", TradeStatus.CONFIRMED, 1.0)


def test_two_of_our_orders_in_one_trade_are_two_fills(ledger: Ledger) -> None:
    ledger.record_fill(fill("trade-1", "order-a"))
    ledger.record_fill(fill("trade-1", "order-b"))

    assert [f.key for f in ledger.fills()] == [("trade-1", "order-a"), ("trade-1", "order-b")]


def test_a_redelivered_fill_writes_nothing_its_status_goes_through_record_status(ledger: Ledger) -> None:
    ledger.record_fill(fill(price="0.52", status=TradeStatus.MATCHED))

    redelivered = ledger.record_fill(fill(price="0.99", status=TradeStatus.CONFIRMED))
    [before_status] = ledger.fills()
    applied = ledger.record_status("trade-1", "order-1", TradeStatus.CONFIRMED, 5.0)

    assert (redelivered, before_status.status, before_status.price) == (False, TradeStatus.MATCHED, D("0.52"))
    assert applied
    assert ledger.fills()[0].status is TradeStatus.CONFIRMED


def test_a_fill_first_seen_confirmed_starts_confirmed(ledger: Ledger) -> None:
    ledger.record_fill(fill(status=TradeStatus.CONFIRMED, recv_ts=7.0))

    assert ledger.status_history("trade-1", "order-1") == [(TradeStatus.CONFIRMED, 7.0)]
    assert not ledger.record_status("trade-1", "order-1", TradeStatus.MINED, 8.0)


# -- flows and runs ------------------------------------------------------------------------------------


def test_flows_are_idempotent_on_flow_id(ledger: Ledger) -> None:
    split = flow("split-1")

    written = [ledger.record_flow(split) for _ in range(3)]

    assert written == [True, False, False]
    assert ledger.flows() == [split]


def test_flows_read_back_by_market_in_order(ledger: Ledger) -> None:
    ledger.record_flow(flow("deposit", FlowKind.DEPOSIT, cash="100", yes="0", no="0", market=""))
    ledger.record_flow(flow("split", FlowKind.SPLIT, market="0xa"))
    ledger.record_flow(flow("merge", FlowKind.MERGE, cash="4", yes="-4", no="-4", market="0xa"))
    ledger.record_flow(flow("reward", FlowKind.REWARD, cash="1.25", yes="0", no="0", market="0xb"))

    assert [f.flow_id for f in ledger.flows()] == ["deposit", "split", "merge", "reward"]
    assert [f.flow_id for f in ledger.flows("0xa")] == ["split", "merge"]
    assert ledger.markets() == ["0xa", "0xb"]


@pytest.mark.parametrize(
    ("kind", "cash", "yes", "no"),
    [
        (FlowKind.SPLIT, "-10", "10", "9"),
        (FlowKind.SPLIT, "10", "-10", "-10"),
        (FlowKind.MERGE, "-10", "10", "10"),
        (FlowKind.DEPOSIT, "-5", "0", "0"),
        (FlowKind.WITHDRAW, "5", "0", "0"),
        (FlowKind.FEE, "0.1", "0", "0"),
        (FlowKind.REWARD, "-1", "0", "0"),
        (FlowKind.DEPOSIT, "5", "1", "0"),
        (FlowKind.REDEEM, "5", "5", "0"),
    ],
)
def test_a_flow_against_its_kinds_sign_convention_is_refused(
    ledger: Ledger, kind: FlowKind, cash: str, yes: str, no: str
) -> None:
    with pytest.raises(ValueError, match=f"a {kind.value} flow needs"):
        ledger.record_flow(flow(kind=kind, cash=cash, yes=yes, no=no))

    assert ledger.flows() == []


def test_runs_record_their_start_end_and_fills(ledger: Ledger) -> None:
    run_id = ledger.start_run(venue="local", markets=["0xa", "0xb"], address="0xme", ts=10.0)
    ledger.record_fill(fill(), run_id=run_id)

    ended = [ledger.end_run(run_id, reason="interrupted", ts=20.0) for _ in range(2)]

    assert ended == [True, False]
    [run] = ledger.runs()
    assert (run.run_id, run.venue, run.markets, run.address) == (run_id, "local", ("0xa", "0xb"), "0xme")
    assert (run.started_ts, run.ended_ts, run.end_reason, run.ended) == (10.0, 20.0, "interrupted", True)


def test_a_run_without_an_end_reads_as_unfinished(ledger: Ledger) -> None:
    ledger.start_run(markets=[], ts=1.0, run_id="run-a")

    again = ledger.start_run(markets=[], ts=1.0, run_id="run-a")

    assert again == "run-a"
    assert [(r.run_id, r.ended, r.end_reason) for r in ledger.runs()] == [("run-a", False, None)]


def test_ending_or_filling_an_unknown_run_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="no run ghost-run"):
        ledger.end_run("ghost-run", reason="x", ts=1.0)
    with pytest.raises(ValueError, match="refused by the ledger"):
        ledger.record_fill(fill(), run_id="ghost-run")

    assert ledger.fill_count() == 0


def test_markets_and_last_fill_ts_cover_fills_and_flows(ledger: Ledger) -> None:
    assert ledger.last_fill_ts() is None
    ledger.record_fill(fill("t1", market="0xa", venue_ts=50.0))
    ledger.record_fill(fill("t2", market="0xb", venue_ts=70.0))
    ledger.record_fill(fill("t3", market="0xa", venue_ts=60.0))
    ledger.record_flow(flow("f", market="0xc"))

    assert ledger.markets() == ["0xa", "0xb", "0xc"]
    assert ledger.last_fill_ts() == 70.0
    assert ledger.last_fill_ts("0xa") == 60.0
    assert ledger.last_fill_ts("0xc") is None
    assert ledger.fill_count("0xa") == 2
    assert [f.trade_id for f in ledger.fills("0xa")] == ["t1", "t3"]


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"size": "-5"}, "size -5 must be positive"),
        ({"size": "0"}, "size 0 must be positive"),
        ({"price": "0.5200001"}, "price 0.5200001 has more than 6 decimals"),
        ({"size": "1.0000001"}, "size 1.0000001 has more than 6 decimals"),
        ({"price": "1"}, "outside (0, 1)"),
        ({"price": "0"}, "outside (0, 1)"),
        ({"side": "HOLD"}, "unknown side 'HOLD'"),
        ({"fee": "-0.01"}, "must not be negative"),
        ({"liquidity": "maker"}, "liquidity must be MAKER or TAKER"),
        ({"trade_id": ""}, "trade_id must be a non-empty string"),
        ({"market": ""}, "market must be a non-empty string"),
        ({"venue_ts": float("nan")}, "venue_ts must be a finite number"),
        ({"status": "SETTLED"}, "unknown trade status 'SETTLED'"),
    ],
)
def test_bad_fill_input_raises_value_error_and_writes_nothing(
    ledger: Ledger, bad: dict[str, Any], message: str
) -> None:
    record = fill(**bad)

    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        ledger.record_fill(record)

    assert "\n" not in str(raised.value)
    assert ledger.fill_count() == 0
    assert ledger.fills() == []


def test_a_price_given_as_a_float_is_refused(ledger: Ledger) -> None:
    record = replace(fill(), price=0.52)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="price must be a finite Decimal"):
        ledger.record_fill(record)


def test_a_bad_flow_amount_writes_nothing(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match=re.escape("collateral_delta -10.0000001 has more than 6 decimals")):
        ledger.record_flow(flow(cash="-10.0000001"))

    assert ledger.flows() == []


def test_a_batch_is_all_or_nothing(ledger: Ledger) -> None:
    ledger.record_fill(fill("before"))

    with pytest.raises(ValueError), ledger.batch():
        ledger.record_fill(fill("in-batch-1"))
        ledger.record_flow(flow("in-batch-flow"))
        ledger.record_fill(fill("in-batch-2", size="-1"))

    assert [f.trade_id for f in ledger.fills()] == ["before"]
    assert ledger.flows() == []


# -- exactness -------------------------------------------------------------------------------------


def test_prices_and_sizes_are_stored_as_exact_micro_units(ledger: Ledger) -> None:
    ledger.record_fill(fill(price="0.333", size="7.5", fee="0.0012345"))

    [stored] = ledger.fills()
    raw = raw_row(ledger.path, "SELECT price_micro, size_micro, fee_micro FROM fills")

    assert raw == (333_000, 7_500_000, 1_234)
    assert (stored.price, stored.size) == (D("0.333"), D("7.5"))
    assert stored.price * stored.size == D("2.4975")
    assert str(stored.price) == "0.333" and str(stored.size) == "7.5"


@pytest.mark.parametrize(
    ("fee", "stored"),
    [("0.0000125", "0.000012"), ("0.0000135", "0.000014"), ("0.00001", "0.00001"), ("1.5", "1.5")],
)
def test_fees_are_quantized_to_micro_units_half_even(ledger: Ledger, fee: str, stored: str) -> None:
    ledger.record_fill(fill(fee=fee, liquidity="TAKER"))

    assert ledger.fills()[0].fee == D(stored)


def test_large_sizes_round_trip_exactly(ledger: Ledger) -> None:
    ledger.record_fill(fill(size="123456789.123456", price="0.999999"))

    assert ledger.fills()[0].size == D("123456789.123456")
    assert ledger.fills()[0].price == D("0.999999")


# -- files, schema, restarts, concurrency ------------------------------------------------------------


def test_reopening_after_close_keeps_everything(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=ACCOUNT) as first:
        run_id = first.start_run(venue="local", markets=[MARKET], address="0xme", ts=1.0)
        first.record_fill(fill("t1", status=TradeStatus.MATCHED), run_id=run_id)
        first.record_status("t1", "order-1", TradeStatus.CONFIRMED, 5.0)
        first.record_fill(fill("t2", status=TradeStatus.FAILED))
        first.record_flow(flow("split-1"))
        first.end_run(run_id, reason="done", ts=9.0)
        before = (first.fills(), first.flows(), first.runs(), first.status_history("t1", "order-1"))

    with Ledger.open(tmp_path, account=ACCOUNT) as second:
        after = (second.fills(), second.flows(), second.runs(), second.status_history("t1", "order-1"))
        duplicate = second.record_status("t1", "order-1", TradeStatus.CONFIRMED, 6.0)

    assert after == before
    assert not duplicate


def test_the_ledger_lives_in_the_data_dir_in_wal_mode(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"

    with Ledger.open(data_dir, account=ACCOUNT) as ledger:
        ledger.record_fill(fill())
        path = ledger.path

    assert path == data_dir / "ledger.sqlite3"
    assert raw_row(path, "PRAGMA journal_mode") == ("wal",)
    assert raw_row(path, "SELECT MAX(version) FROM schema_version") == (SCHEMA_VERSION,)


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    Ledger.open(tmp_path).close()
    raw = sqlite3.connect(tmp_path / "ledger.sqlite3")
    raw.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()

    with pytest.raises(ConfigError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this polymm"):
        Ledger.open(tmp_path)


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "ledger.sqlite3")
    raw.execute("CREATE TABLE something (x)")
    raw.commit()
    raw.close()

    with pytest.raises(ConfigError, match="not a polymm ledger"):
        Ledger.open(tmp_path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ledger.sqlite3").write_bytes(b"this is not sqlite at all, just some text" * 100)

    with pytest.raises(ConfigError, match="not a usable SQLite ledger"):
        Ledger.open(tmp_path)


def test_a_reader_is_not_blocked_while_a_writer_holds_a_transaction(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=ACCOUNT) as writer:
        writer.record_fill(fill("committed"))

        with writer.batch():
            writer.record_fill(fill("pending"))
            started = time.perf_counter()
            with Ledger.open(tmp_path, busy_timeout_s=10.0) as reader:
                seen_during = [f.trade_id for f in reader.fills()]
                count_during = reader.fill_count()
            waited = time.perf_counter() - started

        with Ledger.open(tmp_path) as reader:
            seen_after = [f.trade_id for f in reader.fills()]

    assert seen_during == ["committed"]
    assert count_during == 1
    assert waited < 2.0  # not the 10 s busy timeout
    assert seen_after == ["committed", "pending"]


def test_a_reader_open_in_another_connection_sees_new_commits(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=ACCOUNT) as writer, Ledger.open(tmp_path) as reader:
        assert reader.fills() == []

        writer.record_fill(fill())

        assert [f.trade_id for f in reader.fills()] == ["trade-1"]


def test_a_killed_writer_loses_nothing_it_committed(tmp_path: Path) -> None:
    script = f"""
import os, signal
from decimal import Decimal
from pathlib import Path
from polymm_cli.ledger import Ledger
from polymm_cli.model import Account, FillRecord, Side, TradeStatus
ledger = Ledger.open(Path({str(tmp_path)!r}), account=Account("local", "0xme"))
for i in range(5):
    ledger.record_fill(FillRecord(trade_id=f"t{{i}}", order_id="o", market="m", token_id="y",
        side=Side.BUY, price=Decimal("0.5"), size=Decimal("1"), fee=Decimal("0"), liquidity="MAKER",
        status=TradeStatus.MATCHED, venue_ts=1.0, recv_ts=1.0))
os.kill(os.getpid(), signal.SIGKILL)
"""

    result = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)

    assert result.returncode != 0
    with Ledger.open(tmp_path) as reopened:
        assert [f.trade_id for f in reopened.fills()] == [f"t{i}" for i in range(5)]


def test_record_fill_is_fast_enough_for_the_fill_path(ledger: Ledger) -> None:
    events = [fill(f"trade-{i}") for i in range(300)]
    timings = []

    for event in events:
        started = time.perf_counter()
        ledger.record_fill(event)
        timings.append(time.perf_counter() - started)

    assert statistics.median(timings) < 0.001  # ~50 µs typical; a wide margin for busy CI hosts


def test_a_data_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")

    with pytest.raises(ConfigError, match="cannot create the ledger's directory"):
        Ledger.open(tmp_path / "taken" / "data")


def test_market_metadata_is_kept_so_pnl_needs_no_venue(tmp_path: Path) -> None:
    from dataclasses import replace

    from polymm_cli.exchange.markets import sample_markets

    market = sample_markets()[1]
    with Ledger.open(tmp_path, account=ACCOUNT) as ledger:
        assert ledger.record_market(market, ts=1.0)
        assert not ledger.record_market(market, ts=2.0)  # the same metadata again is nothing new
        assert ledger.record_market(replace(market, tick_size=Decimal("0.0001")), ts=3.0)
    with Ledger.open(tmp_path) as ledger:
        assert ledger.market_meta() == {market.condition_id: replace(market, tick_size=Decimal("0.0001"))}


# -- accounts ----------------------------------------------------------------------------------------

DEMO = Account("local", "0x" + "de" * 20)
REAL = Account("polymarket", "0xAbCdEf0000000000000000000000000000000001")  # checksummed spelling


def test_two_accounts_in_one_file_each_read_only_their_own_fills_and_flows(tmp_path: Path) -> None:
    # the same venue ids in both accounts: two fills, not one fill and a "redelivery"
    with Ledger.open(tmp_path, account=DEMO) as demo, Ledger.open(tmp_path, account=REAL) as real:
        demo.record_fill(fill("t1", price="0.40", venue_ts=500.0))
        demo.record_flow(flow("split-1"))
        real.record_fill(fill("t1", price="0.60", venue_ts=100.0))
        real.record_fill(fill("t2", market="0xother", venue_ts=90.0))

        assert [(f.trade_id, f.price) for f in demo.fills()] == [("t1", D("0.40"))]
        assert [(f.trade_id, f.price) for f in real.fills()] == [("t1", D("0.60")), ("t2", D("0.52"))]
        assert [f.flow_id for f in demo.flows()] == ["split-1"] and real.flows() == []
        assert (demo.markets(), real.markets()) == ([MARKET], [MARKET, "0xother"])
        assert (demo.fill_count(), real.fill_count(MARKET)) == (1, 1)
        assert (demo.last_fill_ts(), real.last_fill_ts(MARKET)) == (500.0, 100.0)
        assert demo.accounts() == [DEMO]
    with Ledger.open(tmp_path) as everything:
        assert everything.accounts() == [DEMO, Account("polymarket", REAL.wallet.lower())]
        assert everything.fill_count() == 3


def test_a_status_applies_only_to_the_fill_of_the_ledgers_account(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=DEMO) as demo, Ledger.open(tmp_path, account=REAL) as real:
        demo.record_fill(fill("t1"))
        real.record_fill(fill("t1"))

        assert real.record_status("t1", "order-1", TradeStatus.FAILED, 5.0)
        with pytest.raises(ValueError, match="no fill t2/order-1 of local:0xdede"):
            demo.record_status("t2", "order-1", TradeStatus.CONFIRMED, 5.0)

        assert [f.status for f in demo.fills()] == [TradeStatus.MATCHED]
        assert [f.status for f in real.fills()] == [TradeStatus.FAILED]
        assert [s for s, _ in demo.status_history("t1", "order-1")] == [TradeStatus.MATCHED]


def test_a_ledger_opened_without_an_account_reads_every_account_and_writes_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=DEMO) as demo:
        run_id = demo.start_run(markets=[MARKET], ts=1.0)
        demo.record_fill(fill("t1"), run_id=run_id)

    with Ledger.open(tmp_path) as reader:
        writes = [
            lambda: reader.record_fill(fill("t2")),
            lambda: reader.record_status("t1", "order-1", TradeStatus.CONFIRMED, 2.0),
            lambda: reader.record_flow(flow()),
            lambda: reader.start_run(markets=[], ts=1.0),
            lambda: reader.end_run(run_id, reason="x", ts=2.0),
        ]
        for write in writes:
            with pytest.raises(ValueError, match="opened without an account"):
                write()
        assert [f.trade_id for f in reader.fills()] == ["t1"]
        assert [r.run_id for r in reader.runs()] == [run_id]


def test_a_run_is_recorded_and_ended_only_under_its_own_account(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=DEMO) as demo, Ledger.open(tmp_path, account=REAL) as real:
        with pytest.raises(ValueError, match="run on venue 'polymarket' recorded in the ledger of local"):
            demo.start_run(venue="polymarket", markets=[], address=DEMO.wallet, ts=1.0)
        with pytest.raises(ValueError, match="run of wallet '0xbad' recorded in the ledger of local"):
            demo.start_run(venue="local", markets=[], address="0xbad", ts=1.0)
        run_id = real.start_run(venue="polymarket", markets=[], address=REAL.wallet.upper(), ts=1.0)

        with pytest.raises(ValueError, match=f"no run {run_id} of local"):
            demo.end_run(run_id, reason="not mine", ts=2.0)

        assert real.end_run(run_id, reason="done", ts=2.0)
        assert [r.run_id for r in real.runs()] == [run_id] and demo.runs() == []


# -- migration from version 1 ---------------------------------------------------------------------------

V1_DUMP = Path(__file__).parent / "data" / "ledger_v1.sql"  # written by the v1 code itself
V1_READS = Path(__file__).parent / "data" / "ledger_v1_reads.json"  # what the v1 code read back from it
V1_LOCAL = Account("local", "0xabcdef0000000000000000000000000000000001")
V1_REAL = Account("polymarket", "0x1234567890abcdef1234567890abcdef12345678")


def version_1_ledger(data_dir: Path, *, drop_run: str | None = None) -> Path:
    """A version-1 ledger file as the v1 code left it (optionally without one run and its rows)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "ledger.sqlite3"
    with closing(sqlite3.connect(path)) as raw:
        raw.executescript(V1_DUMP.read_text())
        if drop_run is not None:
            raw.execute(
                "DELETE FROM fill_status WHERE trade_id IN (SELECT trade_id FROM fills WHERE run_id = ?)",
                (drop_run,),
            )
            for table in ("fills", "run_events", "runs"):
                raw.execute(f"DELETE FROM {table} WHERE run_id = ?", (drop_run,))
            raw.commit()
    return path


def plain(record: Any) -> dict[str, Any]:
    """A record as the JSON of ledger_v1_reads.json has it (decimals and enums as strings)."""
    out = json.loads(json.dumps(dataclasses.asdict(record), default=str))
    assert isinstance(out, dict)
    return out


def test_a_version_1_ledger_migrates_and_reads_back_exactly_as_before(tmp_path: Path) -> None:
    path = version_1_ledger(tmp_path)
    before = json.loads(V1_READS.read_text())

    with Ledger.open(tmp_path) as ledger:
        after = {
            "fills": [plain(f) for f in ledger.fills()],
            "flows": [plain(f) for f in ledger.flows()],
            "runs": [plain(r) for r in ledger.runs()],
            "status_history": {
                f"{f.trade_id}/{f.order_id}": [[s.value, ts] for s, ts in ledger.status_history(*f.key)]
                for f in ledger.fills()
            },
            "market_meta": sorted(ledger.market_meta()),
            "last_fill_ts": ledger.last_fill_ts(),
            "fill_count": ledger.fill_count(),
        }

    assert after == before
    assert raw_row(path, "SELECT MAX(version) FROM schema_version") == (SCHEMA_VERSION,)


def test_a_version_1_ledger_gives_each_fill_its_runs_account_and_the_rest_to_unknown(tmp_path: Path) -> None:
    version_1_ledger(tmp_path)  # two accounts ran: a run-less fill and the flows cannot be placed

    with Ledger.open(tmp_path) as everything:
        accounts = everything.accounts()
    owned = {}
    for account in accounts:
        with Ledger.open(tmp_path, account=account) as ledger:
            owned[account] = ([f.trade_id for f in ledger.fills()], len(ledger.flows()), len(ledger.runs()))

    assert accounts == [V1_LOCAL, V1_REAL, Account.UNKNOWN]
    assert owned == {
        V1_LOCAL: (["t-1", "t-2", "t-3"], 0, 1),
        V1_REAL: (["t-9"], 0, 1),
        Account.UNKNOWN: (["t-4"], 3, 0),
    }


def test_a_version_1_ledger_of_one_account_gives_it_the_run_less_rows_too(tmp_path: Path) -> None:
    version_1_ledger(tmp_path, drop_run="run-real")

    with Ledger.open(tmp_path) as everything:
        accounts = everything.accounts()
    with Ledger.open(tmp_path, account=V1_LOCAL) as ledger:
        fills, flows = [f.trade_id for f in ledger.fills()], [f.kind for f in ledger.flows()]
        statuses = [s for s, _ in ledger.status_history("t-1", "0xo1")]

    assert accounts == [V1_LOCAL]
    assert fills == ["t-1", "t-2", "t-3", "t-4"]
    assert flows == [FlowKind.DEPOSIT, FlowKind.SPLIT, FlowKind.MERGE]
    assert statuses == [TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED]


def test_a_migrated_ledger_has_exactly_the_schema_of_a_new_one_and_takes_new_writes(tmp_path: Path) -> None:
    version_1_ledger(tmp_path / "old")
    Ledger.open(tmp_path / "new").close()

    def schema(data_dir: Path) -> set[str]:
        with closing(sqlite3.connect(data_dir / "ledger.sqlite3")) as raw:
            return {row[0] for row in raw.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}

    with Ledger.open(tmp_path / "old", account=V1_LOCAL) as ledger:
        assert not ledger.record_fill(fill("t-1", "0xo1"))  # already there: a redelivery
        assert ledger.record_fill(fill("t-9", "0xo9"))  # the polymarket wallet's ids: a new fill here
        assert ledger.record_status("t-3", "0xo3", TradeStatus.CONFIRMED, 9.0)
    assert schema(tmp_path / "old") == schema(tmp_path / "new")


def test_a_version_1_ledger_that_cannot_migrate_whole_is_left_untouched(tmp_path: Path) -> None:
    path = version_1_ledger(tmp_path)
    with closing(sqlite3.connect(path)) as raw:  # damage: a status whose fill is gone
        raw.execute(
            "INSERT INTO fill_status (trade_id, order_id, status, ts) VALUES ('ghost', 'o', 'MINED', 1)"
        )
        raw.commit()
        dump_before = list(raw.iterdump())

    with pytest.raises(ConfigError, match="fill_status has 4 rows, 3 would survive; it was left unchanged"):
        Ledger.open(tmp_path)

    with closing(sqlite3.connect(path)) as raw:
        assert list(raw.iterdump()) == dump_before


# -- migration from version 2 (flow kind 'rebate') -------------------------------------------------------


def version_2_ledger(data_dir: Path) -> Path:
    """A version-2 ledger: today's tables with the version-2 flow kinds, a fill and two flows."""
    from polymm_cli import ledger as ledger_module

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "ledger.sqlite3"
    v2 = (ledger_module._BASE_SCHEMA + ledger_module._ACCOUNT_SCHEMA).replace(
        ",\n                                     'rebate'", ""
    )
    assert "'rebate'" not in v2
    with closing(sqlite3.connect(path)) as raw:
        raw.executescript(v2)
        raw.execute("INSERT INTO schema_version (version) VALUES (2)")
        raw.execute(
            "INSERT INTO flows (venue, wallet, flow_id, kind, market, collateral_micro, yes_micro, no_micro,"
            " ts, note) VALUES ('local', '0xa', 'd1', 'deposit', '', 5000000, 0, 0, 1.0, ''),"
            " ('local', '0xa', 'r1', 'reward', '0xm', 250000, 0, 0, 2.0, 'reward day 1')"
        )
        with pytest.raises(sqlite3.IntegrityError):  # why the migration exists: v2 refuses the kind
            raw.execute(
                "INSERT INTO flows (venue, wallet, flow_id, kind, market, collateral_micro, yes_micro,"
                " no_micro, ts, note) VALUES ('local', '0xa', 'b1', 'rebate', '0xm', 1, 0, 0, 3.0, '')"
            )
        raw.commit()
    return path


def test_a_version_2_ledger_migrates_keeps_its_flows_and_takes_rebates(tmp_path: Path) -> None:
    path = version_2_ledger(tmp_path)
    account = Account("local", "0xa")

    with Ledger.open(tmp_path, account=account) as ledger:
        kept = [(f.flow_id, f.kind, f.collateral_delta) for f in ledger.flows()]
        rebate = FlowRecord(
            flow_id="rebate-1",
            kind=FlowKind.REBATE,
            market="0xm",
            collateral_delta=D("0.147"),
            yes_delta=D(0),
            no_delta=D(0),
            ts=4.0,
        )
        assert ledger.record_flow(rebate)
        assert not ledger.record_flow(rebate), "a payout recorded twice is one flow"
        flows = ledger.flows()

    assert kept == [("d1", FlowKind.DEPOSIT, D(5)), ("r1", FlowKind.REWARD, D("0.25"))]
    assert [f.kind for f in flows] == [FlowKind.DEPOSIT, FlowKind.REWARD, FlowKind.REBATE]
    assert raw_row(path, "SELECT MAX(version) FROM schema_version") == (SCHEMA_VERSION,)
    Ledger.open(tmp_path / "new").close()
    with (
        closing(sqlite3.connect(path)) as old,
        closing(sqlite3.connect(tmp_path / "new" / "ledger.sqlite3")) as new,
    ):
        query = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"
        assert {r[0] for r in old.execute(query)} == {r[0] for r in new.execute(query)}


def test_a_rebate_flow_must_pay_us_something(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, account=Account("local", "0xa")) as ledger:
        bad = FlowRecord(
            flow_id="rebate-0",
            kind=FlowKind.REBATE,
            market="0xm",
            collateral_delta=D("-1"),
            yes_delta=D(0),
            no_delta=D(0),
            ts=1.0,
        )
        with pytest.raises(ValueError, match="a rebate flow needs collateral_delta > 0"):
            ledger.record_flow(bad)


def test_a_taker_fill_is_recorded_with_the_fee_the_exchange_charges_exponent_included() -> None:
    """One fee formula: the ledger records what the venue charges, (p(1-p))^exponent and its rounding."""
    from polymm_cli.venues.base import Fill, TradeUpdate, fill_record

    fill = Fill(
        trade_id="t",
        order_id="o",
        token_id="1",
        side=Side.BUY,
        price=D("0.33"),
        size=D("7"),
        fee_rate_bps=D("1000"),
        liquidity="TAKER",
    )
    update = TradeUpdate(
        trade_id="t",
        market="m",
        status=TradeStatus.MATCHED,
        taker_order_id="o",
        trader_side="TAKER",
        fills=(fill,),
        venue_ts=1.0,
        recv_ts=1.0,
    )

    assert fill_record(update, fill).fee == D("0.15477")  # 7 x 0.1 x 0.2211 = 0.15477
    assert fill_record(update, fill, fee_exponent=2).fee == D("0.03422")  # 7 x 0.1 x 0.2211^2


def test_a_new_ledger_and_its_wal_are_private_under_the_usual_umask(tmp_path: Path) -> None:
    # `polymm doctor` fails a data dir whose ledger others can read: a ledger polymm creates must pass
    old = os.umask(0o022)
    try:
        with Ledger.open(tmp_path, account=ACCOUNT) as ledger:
            ledger.record_fill(fill())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    finally:
        os.umask(old)

    assert modes["ledger.sqlite3"] == 0o600
    assert modes["ledger.sqlite3-wal"] == 0o600
