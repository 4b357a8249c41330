"""What the end-to-end tests share: `polymm` as a subprocess, and the exchange's and ledger's view.

Every test has its own POLYMM_DATA_DIR (tests/conftest.py sets it per test); subprocesses inherit it.
The exchange's view of the bot's account is read through public code paths only: the services'
`local_exchange` (the URL a running `polymm run` published, or an exchange started from the state it
saved in the data dir) and `open_venue` (the Polymarket adapter with the data dir's wallet key).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from polymm_cli.clock import SystemClock
from polymm_cli.ledger import Ledger, RunRecord
from polymm_cli.model import FillRecord, Market, Side, TradeStatus
from polymm_cli.services.venues import local_exchange, open_venue
from polymm_cli.settings import load_settings
from polymm_cli.venues.base import OpenOrder
from polymm_cli.venues.polymarket import PolymarketVenue

LEDGER_FILE = "ledger.sqlite3"


def data_dir() -> Path:
    """This test's data dir (the autouse fixture in tests/conftest.py points POLYMM_DATA_DIR at it)."""
    return Path(os.environ["POLYMM_DATA_DIR"])


def polymm_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "140", **extra}


def polymm_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "polymm_cli", *args]


def polymm(
    *args: str, timeout: float = 60, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `polymm ARGS` to completion in its own process (cwd: the data dir's parent, no .env)."""
    return subprocess.run(
        polymm_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=polymm_env(**env),
        cwd=cwd or data_dir().parent,
    )


def start_polymm(*args: str, **env: str) -> subprocess.Popen[str]:
    """Start `polymm ARGS` in the background (stdout and stderr piped)."""
    return subprocess.Popen(
        polymm_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=polymm_env(**env),
        cwd=data_dir().parent,
    )


# -- the exchange's view of the bot's account ------------------------------------------------------


@dataclass(frozen=True)
class ExchangeFill:
    """One of the account's orders' part of a trade, as the exchange reports it."""

    trade_id: str
    order_id: str
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal  # what the account paid (takers only), from the fee rate and the fee formula
    status: TradeStatus

    @property
    def key(self) -> tuple[str, str]:
        return (self.trade_id, self.order_id)


@dataclass(frozen=True)
class AccountView:
    address: str
    collateral: Decimal
    tokens: dict[str, Decimal]
    open_orders: list[OpenOrder]
    fills: list[ExchangeFill]


@asynccontextmanager
async def bot_venue() -> AsyncIterator[PolymarketVenue]:
    """The bot's own account (the data dir's wallet key) at the data dir's local exchange.

    A running `polymm run` published its exchange: this reaches it. Otherwise an exchange is
    started from the state file the run left behind (and stopped, saving it, afterwards)."""
    settings = load_settings(data_dir=data_dir())
    assert settings.venue.value == "local"
    with local_exchange(settings, flow=False, publish=False) as url:
        async with open_venue(settings, SystemClock(), url) as handle:
            yield handle.venue


async def read_account(venue: PolymarketVenue, markets: list[Market]) -> AccountView:
    balances = await venue.balances([t for m in markets for t in m.tokens])
    fills = []
    for update in await venue.trades():
        for f in update.fills:
            fee = Decimal(0)
            if f.liquidity == "TAKER":
                fee = f.size * f.fee_rate_bps / Decimal(10_000) * f.price * (1 - f.price)
            fills.append(
                ExchangeFill(
                    update.trade_id, f.order_id, f.token_id, f.side, f.price, f.size, fee, update.status
                )
            )
    return AccountView(venue.address, balances.collateral, balances.tokens, await venue.open_orders(), fills)


def account_at_exchange(markets: list[Market]) -> AccountView:
    """The bot's account as the exchange sees it now (see `bot_venue`)."""

    async def main() -> AccountView:
        async with bot_venue() as venue:
            return await read_account(venue, markets)

    return asyncio.run(main())


# -- the ledger -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerView:
    runs: list[RunRecord]
    fills: list[FillRecord]


def ledger_contents() -> LedgerView | None:
    """The ledger's runs and fills, or None when no ledger file exists (nothing ever wrote one)."""
    if not (data_dir() / LEDGER_FILE).exists():
        return None
    with Ledger.open(data_dir()) as ledger:
        return LedgerView(ledger.runs(), ledger.fills())


def cash_effect(side: Side, price: Decimal, size: Decimal, fee: Decimal) -> Decimal:
    """pUSD in (+) or out (-) of the account for one fill of its own order."""
    notional = price * size
    return (notional if side is Side.SELL else -notional) - fee


def assert_stopped_cleanly(line: str, reason: str) -> None:
    """A headless run's last line: a normal stop for `reason`, every cancel confirmed, exit 0."""
    stopped = json.loads(line)
    assert stopped["event"] == "stopped" and stopped["reason"] == reason, stopped
    assert stopped["exit_code"] == 0, stopped
    assert "confirmed by the exchange" in stopped["summary"], stopped
