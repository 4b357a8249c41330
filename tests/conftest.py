"""Shared fixtures: settings with no environment, virtual clocks, and local exchanges on free ports."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.core import SettlementConfig
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeThread

# Real Polymarket captures. Those under an open licence are copied into the repository (FIXTURES,
# provenance and licences in tests/fixtures/README.md), so their tests run on a fresh clone; the
# others stay in the team's collection beside the repository (../shared/data, absent on a fresh
# clone) and are never copied in: their tests skip without it.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def fixture_path(relative: str) -> Path:
    """A capture in tests/fixtures (always in the repository)."""
    path = FIXTURES / relative
    if not path.is_file():
        raise FileNotFoundError(f"tests/fixtures/{relative} is missing from the repository")
    return path


# Openly licensed sources: their full captures are only too big to copy (a cut of each is in fixtures).
_OPEN_LICENCE = ("tickscope__", "nautilus__")


def shared_capture(relative: str) -> Path:
    """A capture of the team's collection, read from ../shared/data; the test skips when it is absent
    (without an open licence it is never copied here; an open one is kept here only as a cut)."""
    path = SHARED_DATA / relative
    if not path.is_file():
        why = (
            "too big to copy; tests/fixtures holds a cut of it"
            if Path(relative).name.startswith(_OPEN_LICENCE)
            else "no open licence, so not copied into tests/fixtures"
        )
        pytest.skip(f"needs ../shared/data/{relative} ({why})")
    return path


def throwaway_key(label: str) -> str:
    """A deterministic throwaway private key for tests (never a real one)."""
    return "0x" + hashlib.sha256(f"polymm-test-key:{label}".encode()).hexdigest()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(autouse=True)
def _no_polymm_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's POLYMM_* variables or .env."""
    import os

    for name in list(os.environ):
        if name.startswith("POLYMM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("POLYMM_DATA_DIR", str(tmp_path / "polymm-data"))


def start_exchange(**overrides: object) -> ExchangeThread:
    config = ExchangeConfig(
        flow=False,
        settlement=SettlementConfig(delay_s=0.0),
        page_size=5,
        tick_s=0.05,
    )
    for name, value in overrides.items():
        setattr(config, name, value)
    return ExchangeThread(config).start()


@pytest.fixture(scope="module")
def quiet_exchange() -> Iterator[ExchangeThread]:
    """A quiet local exchange (no synthetic flow, instant settlement), shared by a test module."""
    server = start_exchange()
    yield server
    server.stop()


@pytest.fixture
def fresh_exchange() -> Iterator[ExchangeThread]:
    """A quiet local exchange of the test's own (for tests that change its faults or time)."""
    server = start_exchange()
    yield server
    server.stop()


def fund(server: ExchangeThread, address: str, amount: Decimal | int) -> None:
    import httpx

    response = httpx.post(f"{server.url}/_local/fund", json={"address": address, "amount": str(amount)})
    response.raise_for_status()
