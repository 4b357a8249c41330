"""`polymm run --select ... --top N` on the local exchange: several markets in one headless engine,
re-selected while it runs, `polymm status` listing them all, and a clean stop in every market; the
dashboard's overview in a real terminal, keys switching the market shown in detail."""

from __future__ import annotations

import json
import re
import time

import pytest

from polymm_cli.exchange.markets import sample_markets
from tests.e2e.support import (
    account_at_exchange,
    assert_stopped_cleanly,
    ledger_contents,
    polymm,
    polymm_command,
    polymm_env,
    start_polymm,
)
from tests.e2e.test_dashboard_terminal import COLUMNS, ROWS, Terminal

pytestmark = pytest.mark.slow

FED, BTC, CUP, SUN = sample_markets()  # reward pools 50, 25, 100, none


def test_a_selection_quotes_the_top_markets_in_one_engine_and_stops_cleanly_in_all() -> None:
    # Arrange: rewarded markets with a sane spread; the two best (ties on our estimate go to the
    # bigger pool: the World Cup's 100, then the Fed's 50); re-selected every 3 s
    run = start_polymm(
        "run",
        "--select",
        "rewards>=25,spread<=0.05",
        "--top",
        "2",
        "--reselect-min",
        "0.05",
        "--headless",
        "--duration",
        "14",
    )
    try:
        # Act: `status` while it runs
        deadline, doc = time.monotonic() + 25, {}
        while time.monotonic() < deadline:
            answer = polymm("status", "--json", timeout=30)
            doc = json.loads(answer.stdout) if answer.returncode == 0 else {}
            if doc and all(m["quotes"] for m in doc["markets"]):
                break
            time.sleep(0.5)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()

    # Assert: both markets quoted in one engine, status shows both
    assert run.returncode == 0, err
    assert "Traceback" not in err
    assert [m["slug"] for m in doc["markets"]] == [CUP.slug, FED.slug], doc
    selection = doc["selection"]
    assert selection["rule"] == "--select rewards>=25,spread<=0.05 --top 2 --rank ours", selection
    assert selection["every_s"] == 3.0 and selection["liquidate_dropped"] is False
    lines = [json.loads(line) for line in out.splitlines()]
    assert_stopped_cleanly(out.splitlines()[-1], "duration")
    placed = {d["market"] for d in lines if d.get("places")}
    assert placed == {CUP.condition_id, FED.condition_id}
    # re-selection ran (every 3 s) and, the same markets passing, changed nothing
    rounds = [d for d in lines if d.get("event") == "reselected"]
    assert len(rounds) >= 2, rounds
    assert all(r["added"] == [] and r["dropped"] == [] for r in rounds), rounds
    assert {tuple(sorted(r["markets"])) for r in rounds} == {tuple(sorted([CUP.slug, FED.slug]))}
    # nothing left at the exchange in any market; one run recorded
    assert account_at_exchange(sample_markets()).open_orders == []
    ledger = ledger_contents()
    assert ledger is not None
    [recorded] = ledger.runs
    assert set(recorded.markets) == {CUP.condition_id, FED.condition_id}


def test_markets_and_select_together_are_refused_in_one_line() -> None:
    answer = polymm("run", FED.slug, "--select", "rewards>=25", "--headless", "--duration", "1")

    assert answer.returncode == 2
    assert answer.stderr.strip() == "error: name markets or choose them with --select, not both"


def test_the_dashboard_shows_every_market_in_a_row_and_keys_switch_the_detailed_one() -> None:
    # Arrange: three markets in a real terminal
    terminal = Terminal(
        polymm_command("run", "--select", "rewards>=25", "--top", "3"),
        polymm_env(TERM="xterm", COLUMNS=str(COLUMNS), LINES=str(ROWS)),
    )
    try:
        # Act + Assert: the overview lists all three; the first (the biggest pool) is detailed
        terminal.wait_for("(Tab/↓ next", CUP.slug, FED.slug, BTC.slug, CUP.question, timeout=40)
        terminal.wait_for("status: quoting", timeout=20)
        assert FED.question not in terminal.text()
        overview = [ln for ln in terminal.text().splitlines() if "/±" in ln]
        assert len(overview) == 3 and "▶" in overview[0], overview

        terminal.child.send("\t")  # Tab: the next market in detail
        terminal.wait_for(FED.question, timeout=10)
        assert CUP.question not in terminal.text()

        terminal.child.send("3")  # a number picks the row
        terminal.wait_for(BTC.question, timeout=10)

        terminal.child.send("\x1b[A")  # up: back to the second
        terminal.wait_for(FED.question, timeout=10)

        terminal.child.sendintr()  # Ctrl+C still stops it (the keys do not swallow it)
        code = terminal.wait_for_exit(timeout=40)
    finally:
        terminal.kill()

    assert code == 130, terminal.text()
    assert re.search(r"stopped: \d+ orders? cancelled, confirmed by the exchange", terminal.text())
    assert account_at_exchange(sample_markets()).open_orders == []
