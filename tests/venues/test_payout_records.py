"""`/rewards/user` and `/rebates/current` records as the port's Payouts (records.payout_of): the
documented shape without an id (real Polymarket), the local exchange's with one, and bad records."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from polymm_cli.venues.polymarket.records import payout_of
from polymm_cli.venues.polymarket.wire import WireError

CID = "0x" + "ab" * 32
USDC = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"


def test_a_real_reward_record_gets_an_id_of_its_day_market_and_asset_and_is_paid_at_the_next_midnight() -> (
    None
):
    record = {
        "asset_address": USDC,
        "asset_rate": 50,
        "condition_id": CID,
        "date": "2026-06-01",
        "earnings": 1.234567,
        "maker_address": "0x" + "11" * 20,
    }

    payout = payout_of(record, "reward")

    assert payout is not None
    assert payout.payout_id == f"reward:2026-06-01:{CID}:{USDC.lower()}"
    assert (payout.kind, payout.market, payout.amount) == ("reward", CID, Decimal("1.234567"))
    assert payout.paid_ts == datetime(2026, 6, 2, tzinfo=UTC).timestamp()
    assert payout_of(dict(record), "reward") == payout, "the same day read again is the same payout"


def test_a_rebate_record_reads_its_amount_and_a_zero_is_no_payout() -> None:
    rebate = {"condition_id": CID, "date": "2026-06-01", "rebated_fees_usdc": "0.5"}

    payout = payout_of(rebate, "rebate")

    assert payout is not None and payout.amount == Decimal("0.5") and payout.kind == "rebate"
    assert payout_of({**rebate, "rebated_fees_usdc": 0}, "rebate") is None


def test_the_local_exchanges_own_id_and_epoch_end_are_kept() -> None:
    record = {
        "condition_id": CID,
        "date": "2026-06-01",
        "earnings": 0.01,
        "payout_id": "reward-7-abc",
        "epoch_end": Decimal("1780300005"),
    }

    payout = payout_of(record, "reward")

    assert payout is not None and (payout.payout_id, payout.paid_ts) == ("reward-7-abc", 1780300005.0)


@pytest.mark.parametrize(
    "record",
    [
        {"condition_id": CID, "earnings": 1},  # no date
        {"condition_id": CID, "date": "June 1", "earnings": 1},
        {"condition_id": CID, "date": "2026-06-01"},  # no amount
        {"condition_id": CID, "date": "2026-06-01", "earnings": -1},
        {"condition_id": CID, "date": "2026-06-01", "earnings": "NaN"},
        ["not", "an", "object"],
    ],
)
def test_a_record_without_a_date_or_a_valid_amount_is_refused(record: object) -> None:
    with pytest.raises(WireError):
        payout_of(record, "reward")
