"""A market resolves while `polymm run` quotes it and another: the run drops it (says so in a headless
line), keeps quoting the other, ends by itself when that one resolves too, and `polymm pnl` shows the
resolved market's positions realised at the payout. The test resolves markets as a user of the local
exchange would: `POST /_local/resolve`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from polymm_cli import signing
from polymm_cli.exchange.core import SettlementConfig
from polymm_cli.exchange.flow import FlowConfig
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread
from polymm_cli.model import Side
from polymm_cli.services.venues import local_private_key
from tests.e2e.support import cash_effect, data_dir, ledger_contents, polymm, start_polymm

pytestmark = pytest.mark.slow

FED, SUN = sample_markets()[0], sample_markets()[3]


@pytest.fixture
def busy_exchange() -> Iterator[ExchangeThread]:
    """Lively takers (fills within seconds), instant settlement."""
    server = ExchangeThread(
        ExchangeConfig(
            flow=True,
            settlement=SettlementConfig(delay_s=0.0),
            flow_config=FlowConfig(taker_rate_per_min=240.0, maker_level_size=10.0),
        )
    ).start()
    yield server
    server.stop()


def resting(server: ExchangeThread, address: str) -> set[str]:
    """The markets the bot has orders resting in, read on the exchange's control plane."""
    orders = httpx.get(f"{server.url}/_local/orders", params={"address": address}).json()
    return {o["market"] for o in orders}


def wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_market_resolved_mid_run_is_dropped_the_other_quoted_on_and_pnl_realises_the_payout(
    busy_exchange: ExchangeThread,
) -> None:
    # Arrange: a run quoting two markets, with fills in the first
    data_dir().mkdir(parents=True, exist_ok=True)
    key, _ = local_private_key(data_dir())  # made here, used by the run: the same wallet
    address = signing.OrderSigner(key.get_secret_value()).address
    run = start_polymm(
        "run", FED.slug, SUN.slug, "--headless", "--duration", "150", "--exchange-url", busy_exchange.url
    )
    assert run.stdout is not None
    out_lines: list[str] = []  # read as it comes: a full pipe would block the run's prints
    reader = threading.Thread(target=lambda: out_lines.extend(run.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:

        def fed_fills() -> bool:  # read at the exchange: the ledger is the run's while it runs
            trades = busy_exchange.call(lambda: list(busy_exchange.server.exchange.trades.values()))
            mine = address.lower()
            return any(
                t.market == FED.condition_id and any(m.address.lower() == mine for m in t.maker_fills)
                for t in trades
            )

        wait_for(lambda: run.poll() is None and fed_fills(), "no fill in FED, or the run ended")
        wait_for(lambda: SUN.condition_id in resting(busy_exchange, address), "the run never quoted SUN")

        # Act: FED resolves YES
        resolved = httpx.post(
            f"{busy_exchange.url}/_local/resolve", json={"condition_id": FED.condition_id, "winner": "YES"}
        )
        assert resolved.status_code == 200, resolved.text

        # Assert: FED is never quoted again; SUN is, for seconds after
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            markets = resting(busy_exchange, address)
            assert FED.condition_id not in markets
            time.sleep(0.1)
        assert SUN.condition_id in resting(busy_exchange, address)
        assert run.poll() is None, "the run stopped with a market left to quote"

        # Act: SUN resolves NO: nothing is left, the run ends by itself
        httpx.post(
            f"{busy_exchange.url}/_local/resolve", json={"condition_id": SUN.condition_id, "winner": "NO"}
        ).raise_for_status()
        run.wait(timeout=60)
        reader.join(timeout=10)
        err = run.stderr.read() if run.stderr else ""
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    assert run.returncode == 0, err
    lines = [json.loads(line) for line in out_lines]
    closed = [line for line in lines if line.get("event") == "market_closed"]
    assert [(c["slug"], c["winner"]) for c in closed if c["winner"]] == [(FED.slug, "Yes"), (SUN.slug, "No")]
    stopped = lines[-1]
    assert stopped["event"] == "stopped" and stopped["exit_code"] == 0, stopped
    assert stopped["reason"] == (
        f"no market left to quote ({FED.slug}: resolved: Yes won; {SUN.slug}: resolved: No won)"
    )
    assert "Traceback" not in err

    # Act: pnl, from the ledger
    pnl = polymm("pnl", "--json", "--exchange-url", busy_exchange.url)

    # Assert: FED's position is realised at the payout (YES at 1, NO at 0), computed here from the fills
    assert pnl.returncode == 0, pnl.stderr
    report = json.loads(pnl.stdout)
    [item] = [m for m in report["markets"] if m["condition_id"] == FED.condition_id]
    ledger = ledger_contents()
    assert ledger is not None
    fills = [f for f in ledger.fills if f.market == FED.condition_id and f.effective]
    yes = sum(
        (f.size if f.side is Side.BUY else -f.size for f in fills if f.token_id == FED.yes_token), Decimal(0)
    )
    no = sum(
        (f.size if f.side is Side.BUY else -f.size for f in fills if f.token_id == FED.no_token), Decimal(0)
    )
    cash = sum((cash_effect(f.side, f.price, f.size, f.fee) for f in fills), Decimal(0))
    fees = sum((f.fee for f in fills), Decimal(0))
    assert (Decimal(item["yes_position"]), Decimal(item["no_position"])) == (yes, no)
    assert item["winner"] == "Yes" and Decimal(item["unrealized_pnl"]) == 0
    assert Decimal(item["realized_pnl"]) - Decimal(item["fees"]) == cash + yes * 1 + no * 0
    assert Decimal(item["fees"]) == fees
    assert report["marked_to_venue"] is True
