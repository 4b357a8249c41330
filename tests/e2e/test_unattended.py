"""`polymm run` unattended, as an operator runs it: metrics scraped while it trades, alerts posted to
webhook receivers (one of them hangs), and a JSON run log with every secret scrubbed.

One headless run on the local exchange serves the three checks (it is the expensive part): it quotes
with the metrics endpoint on, two webhooks (a Telegram-style one that answers and a Slack-style one
that never does) and known fake secrets in its settings; it is halted from another terminal part
way through (`polymm halt`) so its fills stop and the last scrape can be compared with the ledger.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from polymm_cli.errors import EXIT_RISK_HALT, EXIT_USAGE
from polymm_cli.ledger import Ledger
from tests.e2e.support import ledger_contents, polymm
from tests.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.slow

FAKE_KEY = "0x" + "5eed" * 16  # a syntactically valid key no one holds
FAKE_API_SECRET = "ZmFrZS1hcGktc2VjcmV0LWZvci10ZXN0cw=="
FAKE_PASSPHRASE = "fake-passphrase-0123456789abcdef"
FAKE_TOKEN = "987654321:AAFakeTelegramBotTokenForTests_x"
DURATION_S = 40
HALT_REASON = "ops test halt"


@dataclass
class UnattendedRun:
    data_dir: Path
    scrapes: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]]
    stdout: str
    stderr: str
    returncode: int
    elapsed_s: float
    receiver: Receiver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(value for (n, _), value in samples.items() if n == name)


def _wait_for(
    port: int, ready: object, limit_s: float
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    deadline = time.monotonic() + limit_s
    last = None
    while time.monotonic() < deadline:
        last = _scrape(port)
        if last is not None and ready(last):  # type: ignore[operator]
            return last
        time.sleep(0.5)
    raise AssertionError(f"metrics never got there in {limit_s} s; last scrape: {last}")


@pytest.fixture(scope="module")
def unattended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnattendedRun]:
    data_dir = tmp_path_factory.mktemp("unattended") / "polymm-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMM_")}
    env.update(
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
        POLYMM_DATA_DIR=str(data_dir),
        POLYMM_EXCHANGE_TAKER_RATE="240",
        POLYMM_PRIVATE_KEY=FAKE_KEY,
        POLYMM_API_KEY="fake-api-key",
        POLYMM_API_SECRET=FAKE_API_SECRET,
        POLYMM_API_PASSPHRASE=FAKE_PASSPHRASE,
        POLYMM_ALERT_TIMEOUT="1",
    )
    port = _free_port()
    with webhook_receiver() as receiver:
        command = [
            sys.executable,
            "-m",
            "polymm_cli",
            "run",
            "--venue",
            "local",
            "--headless",
            "--duration",
            str(DURATION_S),
            "--metrics-port",
            str(port),
            "--log-format",
            "json",
            "--alert-webhook",
            f"telegram+{receiver.url}/bot{FAKE_TOKEN}/sendMessage?chat_id=42",
            "--alert-webhook",
            f"slack+{receiver.url}/hang/services/T0/B0/{FAKE_TOKEN}",
        ]
        started = time.monotonic()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=data_dir.parent
        )
        try:
            scrapes = [_wait_for(port, lambda s: total(s, "polymm_orders_placed_total") > 0, 30)]
            scrapes.append(_wait_for(port, lambda s: total(s, "polymm_fills_total") > 0, 20))
            halt = subprocess.run(
                [sys.executable, "-m", "polymm_cli", "halt", "--reason", HALT_REASON],
                env=env,
                cwd=data_dir.parent,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert halt.returncode == 0, halt.stderr
            scrapes.append(
                _wait_for(
                    port, lambda s: total(s, "polymm_open_orders") == 0 and total(s, "polymm_halted") == 1, 15
                )
            )
            time.sleep(2)  # fills of orders cancelled as the halt came have reached the ledger
            scrapes.append(_wait_for(port, lambda s: True, 5))
            stdout, stderr = proc.communicate(timeout=DURATION_S + 60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        yield UnattendedRun(
            data_dir, scrapes, stdout, stderr, proc.returncode, time.monotonic() - started, receiver
        )


def test_metrics_scraped_during_the_run_agree_with_what_it_did(unattended: UnattendedRun) -> None:
    first, with_fills, halted, last = unattended.scrapes
    assert total(first, "polymm_orders_placed_total") > 0
    assert first[("polymm_feed_up", (("feed", "market_feed"),))] == 1
    assert first[("polymm_healthy", ())] == 1
    assert total(with_fills, "polymm_fill_volume_shares_total") > 0
    assert total(with_fills, "polymm_decision_duration_seconds_count") > 0
    assert halted[("polymm_halts_total", (("source", "external"),))] == 1
    assert total(halted, "polymm_orders_cancelled_total") > 0
    with Ledger.open(unattended.data_dir) as ledger:
        fills = ledger.fills()
    # the halt stopped the fills: the last scrape counted every fill the run recorded
    assert total(last, "polymm_fills_total") == len(fills)


def test_the_halt_was_alerted_and_the_hanging_webhook_did_not_hold_the_run(unattended: UnattendedRun) -> None:
    assert unattended.returncode == EXIT_RISK_HALT, unattended.stderr  # it ended halted, as asked
    texts = unattended.receiver.texts("/bot")
    assert any(f"HALTED: {HALT_REASON}" in t for t in texts), texts
    assert unattended.elapsed_s < DURATION_S + 20
    decisions = [json.loads(line) for line in unattended.stdout.splitlines()[:-1]]
    assert decisions and all("market" in d for d in decisions)


def test_the_json_run_log_has_decisions_and_order_events_and_no_secret(unattended: UnattendedRun) -> None:
    files = sorted((unattended.data_dir / "logs").glob("polymm-*.log*"))
    assert files
    text = "".join(path.read_text(encoding="utf-8") for path in files)
    lines = [json.loads(line) for line in text.splitlines()]
    events = {line.get("event") for line in lines}
    assert {"decision", "order_placed", "orders_cancelled", "fill", "stop"} <= events, events
    local_key = (unattended.data_dir / "local-wallet.key").read_text().strip()
    everything = text + unattended.stdout + unattended.stderr
    for secret in (FAKE_KEY, FAKE_KEY[2:], FAKE_API_SECRET, FAKE_PASSPHRASE, FAKE_TOKEN, local_key[2:]):
        assert secret.lower() not in everything.lower(), f"a secret leaked: {secret[:6]}…"
    # the hanging webhook's failure is in the log, by its host only (its path holds the token)
    assert any(line["message"].startswith("alert to slack webhook at http://127.0.0.1") for line in lines)


def test_a_metrics_port_in_use_stops_the_run_before_it_trades() -> None:
    """One line, exit 2, and no run in the ledger: nothing was quoted."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = polymm("run", "--headless", "--duration", "5", "--metrics-port", str(port), timeout=60)
    assert run.returncode == EXIT_USAGE
    assert run.stderr == (
        f"error: cannot serve metrics on 127.0.0.1:{port}: the port is already in use"
        " (choose another with --metrics-port)\n"
    )
    assert ledger_contents() is None


def test_a_bad_webhook_is_refused_in_one_line_without_its_token() -> None:
    run = polymm("run", "--headless", "--alert-webhook", f"http://hooks.example.com/services/{FAKE_TOKEN}")
    assert run.returncode == EXIT_USAGE
    assert run.stderr.startswith("error: alert webhook http://hooks.example.com: use https")
    assert FAKE_TOKEN not in run.stderr + run.stdout
    assert ledger_contents() is None
