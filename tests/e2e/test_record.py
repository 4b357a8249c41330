"""`polymm record` against a local exchange (with its synthetic flow) started by the test, and
`polymm import-capture`, as a user runs them: subprocesses, their output, their files."""

from __future__ import annotations

import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from polymm_cli.backtest.recording import (
    Frame,
    Gap,
    Header,
    RecordingError,
    RestBook,
    Truncation,
    read_records,
    recording_files,
    recording_markets,
    replay_events,
)
from polymm_cli.exchange.flow import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.venues.base import BookSnapshot, PriceChange
from tests.conftest import fixture_path, start_exchange
from tests.e2e.support import polymm, start_polymm

pytestmark = pytest.mark.slow

FED = sample_markets()[0]
BURST = "01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json"


@pytest.fixture
def exchange() -> Iterator[ExchangeThread]:
    # lively synthetic traders: the book moves several times a second
    server = start_exchange(flow=True, flow_config=FlowConfig(taker_rate_per_min=120, maker_requote_s=0.5))
    yield server
    server.stop()


def record_args(exchange: ExchangeThread, out: Path, *extra: str) -> list[str]:
    return ["record", FED.slug, "--out", str(out), "--exchange-url", exchange.url, *extra]


def records(out: Path) -> list[Header | Frame | RestBook | Gap]:
    """What the recording holds now (it may still be written: a cut end is read up to its last line)."""
    try:
        return list(read_records(out))
    except RecordingError:  # no file yet
        return []


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_a_recording_of_the_local_exchange_replays_through_the_wire_parser(
    exchange: ExchangeThread, tmp_path: Path
) -> None:
    out = tmp_path / "rec"

    done = polymm(*record_args(exchange, out, "--duration", "3", "--snapshot-every", "0.02"))

    assert done.returncode == 0, done.stderr
    [line] = done.stdout.strip().splitlines()  # on a pipe: no status line, the one summary
    assert line.startswith("recorded ") and " 0 gaps " in line and str(out) in line, line
    assert recording_markets(out) == [FED]
    saved = records(out)
    books = [r for r in saved if isinstance(r, RestBook)]
    assert {b.token_id for b in books} == set(FED.tokens)  # at start, then every 1.2 s: each token
    assert len(books) >= 4
    assert sum(isinstance(r, Frame) for r in saved) >= 3
    times = [r.recv_ns for r in saved if not isinstance(r, Header)]
    assert times == sorted(times)
    events = [i.event for i in replay_events(out)]
    assert any(isinstance(e, BookSnapshot) for e in events) and any(
        isinstance(e, PriceChange) for e in events
    )
    for file in recording_files(out):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_a_dropped_websocket_leaves_a_gap_marker_then_fresh_books(
    exchange: ExchangeThread, tmp_path: Path
) -> None:
    out = tmp_path / "rec"
    process = start_polymm(*record_args(exchange, out, "--duration", "8"))
    try:
        wait_for(lambda: any(isinstance(r, Frame) for r in records(out)), 20, "the first frames")

        httpx.post(f"{exchange.url}/_local/faults", json={"ws_drop": True}).raise_for_status()

        code, stdout, stderr = finish(process)
    finally:
        process.kill()
    assert code == 0, stderr
    assert " 1 gap " in stdout, stdout
    saved = records(out)
    [gap] = [r for r in saved if isinstance(r, Gap)]
    assert "closed" in gap.reason or "lost" in gap.reason, gap
    after = saved[saved.index(gap) + 1 :]
    assert {r.token_id for r in after if isinstance(r, RestBook)} == set(FED.tokens)  # resynced
    assert any(isinstance(r, Frame) for r in after)  # and recording again
    assert [i.gap for i in replay_events(out) if i.gap] == [gap.reason]


def test_ctrl_c_closes_the_recording_cleanly(exchange: ExchangeThread, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    process = start_polymm(*record_args(exchange, out))
    try:
        wait_for(lambda: sum(isinstance(r, Frame) for r in records(out)) >= 2, 20, "frames")

        process.send_signal(signal.SIGINT)

        code, stdout, stderr = finish(process)
    finally:
        process.kill()
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1].startswith("stopped: recorded "), stdout
    truncations: list[Truncation] = []
    saved = list(read_records(out, truncations))
    assert truncations == []  # the file ends with a complete zstd frame and a complete line
    assert sum(isinstance(r, Frame) for r in saved) >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such-market",), "unknown market"),
        ((FED.slug, "--duration", "0"), "--duration must be positive"),
        ((FED.slug, "--rotate-mb", "0"), "--rotate-mb must be positive"),
        ((FED.slug, "--snapshot-every", "-1"), "--snapshot-every must be positive"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    exchange: ExchangeThread, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "rec"

    done = polymm("record", *args, "--out", str(out), "--exchange-url", exchange.url)

    assert done.returncode == 2, done.stdout
    [line] = done.stderr.strip().splitlines()
    assert message in line, line
    assert not out.exists()


def test_an_out_path_that_is_a_file_is_refused(exchange: ExchangeThread, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")

    done = polymm(*record_args(exchange, taken, "--duration", "1"))

    assert done.returncode == 2
    assert "not a directory" in done.stderr and taken.read_text() == "mine"


def test_import_capture_turns_a_real_capture_into_a_recording(tmp_path: Path) -> None:
    out = tmp_path / "imported"

    done = polymm("import-capture", str(fixture_path(BURST)), "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert "(nautilus): 51 records, 1 market" in done.stdout
    assert len([i for i in replay_events(out) if i.event is not None]) == 51


def test_import_capture_refuses_what_is_not_a_capture_and_writes_nothing(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")

    done = polymm("import-capture", str(fixture_path(BURST)), str(notes), "--out", str(tmp_path / "out"))

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "not a capture polymm can import" in line
    assert not (tmp_path / "out").exists()
