"""End to end on a real EVM: `polymm seed / merge / redeem --venue polymarket --rpc-url <anvil>` as
subprocesses against Anvil carrying the real Gnosis CTF (tests/chain/anvil.py), the market looked up
on a local exchange that lists the chain's condition. Balances are read back from the contracts;
`pnl` agrees with the chain to the micro-unit. Each failure is one line, exit 3, the ledger unchanged.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal

from polymm_cli.exchange.server.runner import ExchangeThread
from tests.chain.anvil import AnvilChain, free_port
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

    # pnl from the ledger agrees with the chain to the micro-unit: what it realised is the pUSD the
    # wallet gained or lost on chain, and nothing is held on either side
    code, out, err = chain_cli(anvil, chain_exchange, key, "pnl", "--json")
    assert code == 0, err
    pnl = json.loads(out)
    row = next(m for m in pnl["markets"] if m["condition_id"] == cid)
    assert Decimal(row["yes_position"]) == anvil.shares_of(address, market.yes_token) == 0
    assert Decimal(row["no_position"]) == anvil.shares_of(address, market.no_token) == 0
    assert Decimal(row["realized_pnl"]) == anvil.pusd_of(address) - Decimal(100)


def test_odd_amounts_are_recorded_to_the_micro_unit(
    anvil: AnvilChain, chain_market: ChainMarket, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("odd", pol=Decimal(10), pusd=Decimal("12.345678"))
    market, cid = chain_market.market, chain_market.market.condition_id

    assert chain_cli(anvil, chain_exchange, key, "seed", cid, "--amount", "12.34", "--live", "--yes")[0] == 0
    assert chain_cli(anvil, chain_exchange, key, "merge", cid, "--amount", "0.55", "--live", "--yes")[0] == 0
    anvil.resolve(chain_market.condition, (0, 1))  # NO wins

    code, out, err = chain_cli(anvil, chain_exchange, key, "pnl", "--json")
    assert code == 0, err
    row = next(m for m in json.loads(out)["markets"] if m["condition_id"] == cid)
    assert Decimal(row["yes_position"]) == anvil.shares_of(address, market.yes_token) == Decimal("11.79")
    assert Decimal(row["no_position"]) == anvil.shares_of(address, market.no_token) == Decimal("11.79")
    assert anvil.pusd_of(address) == Decimal("0.555678")

    code, out, err = chain_cli(anvil, chain_exchange, key, "redeem", cid, "--live", "--yes", "--json")
    assert code == 0, err
    assert anvil.pusd_of(address) == Decimal("12.345678")
    assert json.loads(out)["redeemed"] == "11.79"
    code, out, err = chain_cli(anvil, chain_exchange, key, "pnl", "--json")
    row = next(m for m in json.loads(out)["markets"] if m["condition_id"] == cid)
    assert Decimal(row["realized_pnl"]) == anvil.pusd_of(address) - Decimal("12.345678") == 0
    assert Decimal(row["yes_position"]) == Decimal(row["no_position"]) == 0


# -- failures: one line, exit 3, nothing recorded, nothing moved -------------------------------------


def assert_failed_cleanly(
    code: int, err: str, expected: str, anvil: AnvilChain, address: str, pusd: Decimal
) -> None:
    lines = err.strip().splitlines()
    assert code == 3, err
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    assert ledger_flows() == []
    assert anvil.pusd_of(address) == pusd


def test_no_pol_for_gas(anvil: AnvilChain, chain_market: ChainMarket, chain_exchange: ExchangeThread) -> None:
    address, key = anvil.new_wallet("no-gas", pol=Decimal(0), pusd=Decimal(100))
    cid = chain_market.market.condition_id
    code, _, err = chain_cli(anvil, chain_exchange, key, "seed", cid, "--amount", "50", "--live", "--yes")
    assert_failed_cleanly(code, err, "no POL for gas", anvil, address, Decimal(100))


def test_a_missing_approval_is_named_with_no_approve(
    anvil: AnvilChain, chain_market: ChainMarket, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("no-approve", pusd=Decimal(100))
    cid = chain_market.market.condition_id
    args = ("seed", cid, "--amount", "50", "--no-approve", "--live", "--yes")
    code, _, err = chain_cli(anvil, chain_exchange, key, *args)
    assert_failed_cleanly(
        code, err, "missing approval: pUSD for CtfCollateralAdapter", anvil, address, Decimal(100)
    )


def test_a_revert_says_its_reason(
    anvil: AnvilChain, chain_market: ChainMarket, chain_exchange: ExchangeThread
) -> None:
    """A market whose condition was never prepared on chain: the CTF refuses the split."""
    address, key = anvil.new_wallet("revert", pusd=Decimal(100))
    unprepared = "0x" + "ab" * 32
    yes, no = (str(anvil.position_id(unprepared, i)) for i in (1, 2))
    market = replace(
        chain_market.market, condition_id=unprepared, yes_token=yes, no_token=no, slug="unprepared"
    )
    chain_exchange.call(chain_exchange.server.exchange.add_market, market)
    code, _, err = chain_cli(
        anvil, chain_exchange, key, "seed", unprepared, "--amount", "5", "--live", "--yes"
    )
    assert_failed_cleanly(
        code, err, "split reverted: condition not prepared yet", anvil, address, Decimal(100)
    )


def test_an_unreachable_rpc(
    anvil: AnvilChain, chain_market: ChainMarket, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("rpc-down", pusd=Decimal(100))
    cid = chain_market.market.condition_id
    down = f"http://127.0.0.1:{free_port()}"
    code, _, err = chain_cli(
        anvil, chain_exchange, key, "seed", cid, "--amount", "5", "--live", "--yes", rpc_url=down
    )
    assert_failed_cleanly(code, err, "Polygon RPC 127.0.0.1", anvil, address, Decimal(100))
    assert "unreachable" in err
