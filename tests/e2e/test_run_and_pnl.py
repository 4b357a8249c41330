"""`polymm run` on the local exchange as a user runs it, then `polymm pnl` against the exchange's books."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.services.venues import LOCAL_STARTING_PUSD
from tests.e2e.support import (
    account_at_exchange,
    assert_stopped_cleanly,
    cash_effect,
    ledger_contents,
    polymm,
)

MARKETS = sample_markets()
CENT = Decimal("0.01")

pytestmark = pytest.mark.slow


def test_a_20_second_headless_run_quotes_gets_fills_and_pnl_agrees_with_the_exchange() -> None:
    """The whole loop: quotes placed, fills recorded, and `polymm pnl --json` matches the exchange.

    POLYMM_EXCHANGE_TAKER_RATE=120 (takers per minute per market in the run's in-process exchange,
    default 30) so that 20 s reliably bring fills."""
    # Long on purpose: one journey end to end (arrange, act, assert); split, its order would be hidden.
    # Act: the run
    run = polymm(
        "run",
        "--venue",
        "local",
        "--headless",
        "--duration",
        "20",
        timeout=60,
        POLYMM_EXCHANGE_TAKER_RATE="120",
    )

    # Assert: it quoted, stopped at the duration, and recorded fills in one finished run
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert_stopped_cleanly(run.stdout.splitlines()[-1], "duration")
    decisions = lines[:-1]
    assert sum(d["places"] for d in decisions) >= 2
    assert "Traceback" not in run.stderr
    ledger = ledger_contents()
    assert ledger is not None
    [recorded_run] = ledger.runs
    assert recorded_run.end_reason == "duration"
    assert ledger.fills, "no fill in 20 s: the bot's quotes never traded"
    [cid] = {f.market for f in ledger.fills}
    market = next(m for m in MARKETS if m.condition_id == cid)

    # Act: pnl from the ledger (a fresh process, which starts an exchange from the saved state)
    pnl = polymm("pnl", "--json")

    # Assert: pnl and the exchange agree on positions and cash
    assert pnl.returncode == 0, pnl.stderr
    report = json.loads(pnl.stdout)
    [item] = report["markets"]
    assert item["condition_id"] == cid
    assert item["fills"] == len(ledger.fills)
    account = account_at_exchange(MARKETS)
    assert Decimal(item["yes_position"]) == account.tokens[market.yes_token]
    assert Decimal(item["no_position"]) == account.tokens[market.no_token]
    others = {t: v for t, v in account.tokens.items() if t not in market.tokens}
    assert not any(others.values()), others
    assert account.open_orders == []  # the run cancelled every order when it stopped

    # every fill the exchange has for the account is in the ledger once, at the same terms
    assert sorted(f.key for f in account.fills) == sorted(f.key for f in ledger.fills)
    ours = {f.key: f for f in ledger.fills}
    for f in account.fills:
        mine = ours[f.key]
        assert (mine.token_id, mine.side, mine.price, mine.size) == (f.token_id, f.side, f.price, f.size)

    # cash: the exchange's collateral == pnl's cash == funding + the fills' cash, to the cent
    expected = LOCAL_STARTING_PUSD + sum(
        (cash_effect(f.side, f.price, f.size, f.fee) for f in ledger.fills if f.effective), Decimal(0)
    )
    assert Decimal(report["cash"]).quantize(CENT) == account.collateral.quantize(CENT)
    assert account.collateral.quantize(CENT) == expected.quantize(CENT)
