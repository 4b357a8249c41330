"""`polymm status` from another terminal while a headless `polymm run` quotes, then after it stops."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from polymm_cli.exchange.markets import sample_markets
from tests.e2e.support import polymm, start_polymm

pytestmark = pytest.mark.slow


def test_status_reads_the_running_engine_and_exits_3_once_it_has_stopped() -> None:
    # Arrange: a run that quotes for a while
    run = start_polymm("run", "--headless", "--duration", "25")
    try:
        # Act: poll until the engine has published and quotes
        deadline = time.monotonic() + 20
        doc: dict[str, object] = {}
        while time.monotonic() < deadline:
            answer = polymm("status", "--json", timeout=30)
            doc = json.loads(answer.stdout) if answer.stdout else {"stderr": answer.stderr}
            if answer.returncode == 0 and doc["markets"][0]["quotes"]:  # type: ignore[index]
                break
            time.sleep(0.5)
        human = polymm("status", timeout=30)
    finally:
        run.terminate()  # SIGTERM: the same clean stop as the end of the duration
        out, _ = run.communicate(timeout=60)

    # Assert: the engine as it was, in JSON and for people
    assert doc.get("running") is True, doc
    assert doc["pid"] == run.pid
    assert doc["uptime_s"] is not None and float(doc["uptime_s"]) > 0  # type: ignore[arg-type]
    [market] = doc["markets"]  # type: ignore[misc]
    assert market["slug"] == sample_markets()[0].slug
    assert {q["side"] for q in market["quotes"]} == {"bid", "ask"}
    assert Decimal(market["total_pnl"]) == Decimal(doc["totals"]["total_pnl"])  # type: ignore[index]
    assert doc["health"]["healthy"] is True  # type: ignore[index]
    assert human.returncode == 0, human.stderr
    assert "polymm running — local — wallet 0x" in human.stdout
    assert sample_markets()[0].slug in human.stdout and "quoting" in human.stdout

    # Act: after the stop
    json.loads(out.splitlines()[-1])  # the run ended with its stop line
    after = polymm("status", "--json")
    plain = polymm("status")

    # Assert: exit 3, saying how the last run ended, for scripts and for people
    assert after.returncode == 3, after.stdout
    gone = json.loads(after.stdout)
    assert gone["running"] is False and "confirmed by the exchange" in gone["reason"]
    assert gone["last"]["ended"].startswith("terminated (SIGTERM); ")  # not "stopped: stopped;"
    assert plain.returncode == 3 and plain.stdout == ""
    assert plain.stderr.startswith("error: no engine is running for wallet 0x")
