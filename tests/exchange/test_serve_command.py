"""`polymm exchange serve` as a user runs it: ready fast, stops cleanly, keeps its state across restarts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, OrderType

from polymm_cli.exchange.markets import sample_markets
from tests.conftest import throwaway_key

FED = sample_markets()[0]
READY = re.compile(r"local exchange ready at (http://\S+)")


class Served:
    def __init__(self, *args: str) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "polymm_cli", "exchange", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.ready_after = time.monotonic() - self.started
        match = READY.search(line)
        assert match, (
            f"no ready line: {line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        )
        self.url = match.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.proc.stderr:
            self.proc.stderr.close()
        return code


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_serve_is_ready_within_two_seconds_and_stops_cleanly(stop_signal: int) -> None:
    served = Served("--flow", "off")
    try:
        assert served.ready_after < 2.0
        assert httpx.get(f"{served.url}/ok").json() == "OK"
    finally:
        code = served.stop(stop_signal)
    assert code == 0


def test_serve_runs_the_chosen_regime_and_says_which() -> None:
    served = Served("--regime", "crypto-short", "--taker-rate", "240", "--depth", "30")
    try:
        assert served.proc.stdout is not None
        line = served.proc.stdout.readline()
        assert "synthetic flow regime crypto-short (240 takers/min per market, depth 30 shares" in line
        book = httpx.get(f"{served.url}/book", params={"token_id": FED.yes_token}).json()
        assert book["bids"] and book["asks"]  # the regime's makers quote from the first request
    finally:
        assert served.stop() == 0


def test_state_file_keeps_accounts_orders_and_keys_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "exchange.json"
    key = throwaway_key("restart")
    address = ClobClient(host="http://unused", chain_id=137, key=key).get_address()
    served = Served("--flow", "off", "--state", str(state), "--fund", f"{address}=300")
    try:
        client = ClobClient(host=served.url, chain_id=137, key=key)
        creds = client.create_or_derive_api_key()
        client.set_api_creds(creds)
        order = client.create_order(OrderArgsV2(token_id=FED.yes_token, price=0.25, size=10, side="BUY"))
        order_id = client.post_order(order, OrderType.GTC, post_only=True)["orderID"]
    finally:
        assert served.stop() == 0
    assert state.exists()

    again = Served("--flow", "off", "--state", str(state))
    try:
        client = ClobClient(host=again.url, chain_id=137, key=key)
        assert client.derive_api_key() == creds
        client.set_api_creds(creds)
        assert [o["id"] for o in client.get_open_orders()] == [order_id]
        book = client.get_order_book(FED.yes_token)
        assert {"price": "0.25", "size": "10"} in book["bids"]
        from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

        balance = client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        assert balance["balance"] == "300000000"
    finally:
        again.stop()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fund", "0x123=5"], "--fund expects 0xADDRESS=AMOUNT"),
        (["--fund", "0x" + "a" * 40 + "=lots"], "--fund amount must be a number"),
        (["--flow", "maybe"], "--flow must be on or off"),
        (["--latency-ms", "-5"], "--latency-ms must be between 0 and 30000"),
        (["--latency-ms", "nan"], "--latency-ms must be between 0 and 30000"),
        (
            ["--regime", "frantic"],
            "unknown regime 'frantic': choose quiet, active, in-play or crypto-short",
        ),
        (["--taker-rate", "0"], "--taker-rate must be a positive number of takers per minute"),
        (["--taker-rate", "nan"], "--taker-rate must be a positive number of takers per minute"),
        (["--depth", "-10"], "--depth must be a positive number of shares"),
    ],
)
def test_bad_serve_options_fail_with_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "polymm_cli", "exchange", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "broken.json"
    state.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "polymm_cli", "exchange", "serve", "--port", "0", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot read exchange state" in result.stderr
    assert state.read_text() == "{not json"  # nothing lost
