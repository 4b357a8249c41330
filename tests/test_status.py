"""`polymm status` and the dashboard's overview: one projection (`status.py`), one table.

The dashboard's overview is drawn from the live snapshot's summaries; `status` draws the same table
from the summaries read back from the published document: the two must print the same figures. And
the reader's liveness rules: a document only counts while its process lives, holds the run lock and
rewrites it within `STALE_S`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from polymm_cli.cli import views
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.files import write_atomic
from polymm_cli.services import status as service
from polymm_cli.services.venues import run_key, settings_account
from polymm_cli.settings import load_settings
from polymm_cli.status import read_summaries, status_document, summarize
from tests.e2e.support import polymm
from tests.test_views import quoting_snapshot

D = Decimal


def two_market_snapshot():  # type: ignore[no-untyped-def]
    snap = quoting_snapshot()
    [fed] = snap.markets
    btc = replace(
        fed,
        market=sample_markets()[1],
        mid=D("0.312"),
        orders=(),
        yes_position=D("0"),
        no_position=D("40"),
        total_pnl=D("-3.1"),
        status="paused: market feed unhealthy",
    )
    return replace(snap, markets=(fed, btc))


def text_of(renderable: object) -> str:
    console = Console(width=140, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_the_status_document_reads_back_into_the_summaries_the_dashboard_draws() -> None:
    # Arrange
    snap = two_market_snapshot()
    live = [summarize(m) for m in snap.markets]

    # Act: through JSON text, as `polymm status` reads the file
    doc = json.loads(json.dumps(status_document(snap, pid=7, started=snap.ts - 90, running=True)))
    read = read_summaries(doc)

    # Assert
    assert read == live
    assert doc["uptime_s"] == 90.0
    fed = doc["markets"][0]
    assert (fed["mid"], fed["net_position"], fed["total_pnl"]) == ("0.5", "7", "0.82")
    assert fed["quotes"][1] == {"side": "ask", "yes_price": "0.52", "size": "7.5", "scoring": False}


def test_the_dashboard_and_status_print_the_same_overview_table() -> None:
    # Arrange
    snap = two_market_snapshot()
    doc = json.loads(json.dumps(status_document(snap, pid=7, started=snap.ts - 5, running=True)))

    # Act
    dashboard = text_of(views.dashboard(snap, selected=1))
    status = text_of(views.status_view(doc, read_summaries(doc)))

    # Assert: every market's row is the same line on both screens (cell by cell, the selection's marker aside)
    for slug in ("fed-cut-rates-december-2026", "btc-above-150k-end-of-2026"):
        [on_dashboard] = [ln for ln in dashboard.splitlines() if slug in ln and "/±" in ln]
        [in_status] = [ln for ln in status.splitlines() if slug in ln and "/±" in ln]
        assert on_dashboard.replace("▶", "").split() == in_status.split()
    fed_row = next(ln for ln in status.splitlines() if "fed-cut" in ln and "/±" in ln)
    for figure in ("0.5", "0.48 x10", "0.52 x7.5", "7/±100", "+0.82", "quoting"):
        assert figure in fed_row
    # with several markets, the detailed panel is the selected one's only
    assert "Will Bitcoin trade above" in dashboard and "Will the Fed cut" not in dashboard


def test_one_market_keeps_the_single_panel_dashboard() -> None:
    screen = text_of(views.dashboard(quoting_snapshot()))
    assert "book (YES)" in screen and "our bid" not in screen


# -- the reader: when is an engine running? ---------------------------------------------------------------


@pytest.fixture
def publish(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = load_settings()
    directory = settings.data_dir
    directory.mkdir(parents=True, exist_ok=True)
    key = run_key(settings_account(settings))

    def write(*, pid: int, running: bool = True, updated: float, lock_pid: int | None = None) -> None:
        snap = replace(quoting_snapshot(), ts=updated)
        doc = status_document(snap, pid=pid, started=updated - 10, running=running, ended="duration")
        write_atomic(service.status_path(directory, key), json.dumps(doc))
        if lock_pid is not None:
            (directory / f"run-{key.lower()}.lock").write_text(f"pid {lock_pid}")

    return settings, write


def test_a_live_fresh_engine_holding_the_lock_is_running(publish) -> None:  # type: ignore[no-untyped-def]
    settings, write = publish
    write(pid=os.getpid(), updated=1000.0, lock_pid=os.getpid())

    found = service.read_status(settings, now=1002.0)

    assert found.age_s == 2.0 and found.markets[0].slug == "fed-cut-rates-december-2026"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "no polymm run has published a status"),
        ("ended", "stopped: duration"),
        ("dead", "is gone without a clean stop"),
        ("lock", "no longer holds the run lock"),
        ("stale", "has not updated its status for 30s: it is hung"),
    ],
)
def test_no_engine_is_running_exits_3_with_the_reason(publish, case: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    settings, write = publish
    me = os.getpid()
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    gone = int(dead.stdout)  # a process that has exited: its pid is free
    if case == "ended":
        write(pid=me, running=False, updated=1000.0, lock_pid=me)
    elif case == "dead":
        write(pid=gone, updated=1000.0, lock_pid=gone)
    elif case == "lock":
        write(pid=me, updated=1000.0, lock_pid=me + 1)
    elif case == "stale":
        write(pid=me, updated=1000.0, lock_pid=me)

    with pytest.raises(service.NoEngine) as caught:
        service.read_status(settings, now=1030.0 if case == "stale" else 1001.0)

    assert expected in str(caught.value)
    assert caught.value.exit_code == 3


def test_under_select_status_says_the_rule_and_when_it_was_last_applied() -> None:
    snap = two_market_snapshot()
    doc = json.loads(json.dumps(status_document(snap, pid=7, started=snap.ts - 5, running=True)))
    doc["selection"] = {
        "rule": "--select rewards>=25 --top 2 --rank ours",
        "every_s": 900.0,
        "liquidate_dropped": False,
        "rounds": 3,
        "last_round": snap.ts - 65,
    }

    screen = text_of(views.status_view(doc, read_summaries(doc)))

    line = (
        "selection: --select rewards>=25 --top 2 --rank ours; re-selected every 15m00s, 3 round(s), the last"
    )
    assert line + " 1m05s ago" in screen


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_keeps_the_market_names_and_the_money_whole(width: int) -> None:
    # Rich squeezes every column of a table too wide for its space: at 80 columns the market column
    # vanished and P&L read "+0.…"; the reward figures and a long status give way first now
    snap = two_market_snapshot()
    doc = json.loads(json.dumps(status_document(snap, pid=7, started=snap.ts - 5, running=True)))
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())

    console.print(views.status_view(doc, read_summaries(doc)))
    screen = console.export_text()

    rows = [ln for ln in screen.splitlines() if "/±" in ln]
    assert [ln.split()[0] for ln in rows] == ["1", "2"]  # the # column, then the market's name
    assert rows[0].split()[1].startswith("fed-cut-rate") and rows[1].split()[1].startswith("btc-above")
    for figure in ("0.48 x10", "0.52 x7.5", "7/±100", "+0.82"):
        assert figure in rows[0]
    assert "-40/±100" in rows[1] and "-3.10" in rows[1]
    assert max(len(line) for line in screen.splitlines()) <= width


def test_status_into_a_pipe_prints_each_market_on_one_line(publish) -> None:  # type: ignore[no-untyped-def]
    _, write = publish
    write(pid=os.getpid(), updated=time.time(), lock_pid=os.getpid())

    result = polymm("status", COLUMNS="80")  # not a terminal: nothing to fit

    assert result.returncode == 0, result.stderr
    [row] = [ln for ln in result.stdout.splitlines() if "/±" in ln]
    assert row.split()[:2] == ["1", "fed-cut-rates-december-2026"]
    assert "+0.82" in row and "quoting" in row
