"""`polymm doctor` against Anvil (Polygon's contracts at their real addresses) and the local exchange,
as a user runs it: a subprocess, `--venue polymarket --exchange-url <local> --unsafe-polymarket-url
--rpc-url <anvil>`.

A wallet set up as Polymarket needs it passes every check (exit 0). Broken ones name each problem on
its own line and exit 2: no POL, no pUSD, missing approvals, bad API credentials and a world-writable
data dir (one wallet); a signature type that does not fit the wallet; the RPC down.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import pytest

from polymm_cli.exchange.server.runner import ExchangeThread
from polymm_cli.venues.polymarket import contracts as c
from tests.chain.anvil import AnvilChain, free_port
from tests.e2e.support import data_dir, polymm

pytestmark = pytest.mark.slow


def grant_all_approvals(anvil: AnvilChain, owner: str) -> None:
    """Every approval of contracts.TRADING_APPROVALS, sent from `owner` (impersonated on Anvil)."""
    anvil.rpc("anvil_impersonateAccount", owner)
    for approval in c.TRADING_APPROVALS:
        if approval.kind == "erc20":
            fn = anvil.pusd.functions.approve(approval.spender, c.MAX_UINT256)
        else:
            fn = anvil.ctf.functions.setApprovalForAll(approval.spender, True)
        anvil._send(fn, owner)
    anvil.rpc("anvil_stopImpersonatingAccount", owner)


def doctor(
    exchange: ExchangeThread, rpc_url: str, key: str, *extra: str, **env: str
) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`polymm doctor --json` on the chain; (exit code, checks by name, stderr)."""
    done = polymm(
        "doctor",
        "--json",
        "--venue",
        "polymarket",
        "--exchange-url",
        exchange.url,
        "--unsafe-polymarket-url",
        "--rpc-url",
        rpc_url,
        *extra,
        POLYMM_PRIVATE_KEY=key,
        timeout=90,
        **env,
    )
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]} if done.stdout else {}
    return done.returncode, checks, done.stderr


def failing(checks: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, check in checks.items() if not check["ok"]}


def test_a_wallet_set_up_for_polymarket_passes_every_check(
    anvil: AnvilChain, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("doctor-ready", pol=Decimal(2), pusd=Decimal(250))
    grant_all_approvals(anvil, address)

    code, checks, stderr = doctor(chain_exchange, anvil.url, key)

    assert code == 0, (stderr, {n: checks[n]["detail"] for n in failing(checks)})
    assert failing(checks) == set()
    assert "EOA" in checks["wallet"]["detail"] and "signature type 0 fits" in checks["wallet"]["detail"]
    assert "250 pUSD" in checks["pusd"]["detail"] and "on chain" in checks["pusd"]["detail"]
    assert f"POL at {address}" in checks["gas"]["detail"]  # 2 POL less the approvals' gas
    assert len([n for n in checks if n.startswith("approval ")]) == 5
    assert checks["rpc"]["latency_ms"] is not None and "chain id 137" in checks["rpc"]["detail"]
    assert key[2:] not in json.dumps(checks)  # the key is never shown


def test_a_broken_wallet_names_each_problem(anvil: AnvilChain, chain_exchange: ExchangeThread) -> None:
    address, key = anvil.new_wallet("doctor-broken", pol=Decimal(0), pusd=Decimal(0))
    # one approval of ten is there: only the others are named
    anvil.rpc("anvil_impersonateAccount", address)
    anvil.set_pol(address, Decimal(1))
    anvil._send(anvil.ctf.functions.setApprovalForAll(c.CTF_EXCHANGE, True), address)
    anvil.set_pol(address, Decimal(0))
    data_dir().mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir(), 0o777)
    bad_creds = {
        "POLYMM_API_KEY": "00000000-0000-0000-0000-000000000000",
        "POLYMM_API_SECRET": "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1vbmUtaXNzdWVkLQ==",
        "POLYMM_API_PASSPHRASE": "not-the-passphrase",
    }

    code, checks, _ = doctor(chain_exchange, anvil.url, key, **bad_creds)

    assert code == 2
    approvals = {f"approval {name}" for name in c.CONTRACT_NAMES.values()} & checks.keys()
    assert failing(checks) == {"data-dir", "api-creds", "gas", "pusd", *approvals}
    assert "open to anyone" in checks["data-dir"]["detail"] and "chmod 700" in checks["data-dir"]["fix"]
    assert (
        "do not work" in checks["api-creds"]["detail"]
        and "401" in checks["api-creds"]["detail"]
        and "POLYMM_API_KEY" in checks["api-creds"]["fix"]
    )
    assert "0 POL" in checks["gas"]["detail"] and address in checks["gas"]["fix"]
    assert "0 pUSD" in checks["pusd"]["detail"]
    exchange_check = checks["approval CTF Exchange V2"]["detail"]
    assert "missing pUSD approve for" in exchange_check and "CTF setApprovalForAll" not in exchange_check
    adapter_check = checks["approval CtfCollateralAdapter"]["detail"]
    assert "pUSD approve and CTF setApprovalForAll" in adapter_check
    for name in failing(checks):
        assert checks[name]["fix"], name  # every failure says its fix
    secret = bad_creds["POLYMM_API_SECRET"]
    assert secret not in json.dumps(checks)


def test_a_signature_type_that_does_not_fit_the_wallet_is_named(
    anvil: AnvilChain, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("doctor-sigtype", pol=Decimal(1), pusd=Decimal(10))
    grant_all_approvals(anvil, address)

    code, checks, _ = doctor(chain_exchange, anvil.url, key, POLYMM_SIGNATURE_TYPE="1", POLYMM_FUNDER=address)

    assert code == 2
    assert failing(checks) == {"wallet", "relayer"}  # a type 1 wallet would need builder credentials too
    wallet = checks["wallet"]
    assert "an EOA" in wallet["detail"] and "signature type 0, not 1" in wallet["detail"]
    assert wallet["fix"] == "set POLYMM_SIGNATURE_TYPE=0 and unset POLYMM_FUNDER"


def test_the_rpc_down_fails_the_chain_checks_and_says_so(
    anvil: AnvilChain, chain_exchange: ExchangeThread
) -> None:
    _, key = anvil.new_wallet("doctor-rpc-down", pol=Decimal(1), pusd=Decimal(10))
    down = f"http://127.0.0.1:{free_port()}/v2/secret-provider-token"

    code, checks, _ = doctor(chain_exchange, down, key)

    assert code == 2
    assert {"rpc", "wallet", "gas", "approvals"} <= failing(checks)
    assert "unreachable" in checks["rpc"]["detail"]
    assert "secret-provider-token" not in json.dumps(checks)  # an RPC URL's path is never shown
    assert checks["wallet"]["status"] == "skipped" and checks["wallet"]["detail"].startswith("not checked")
    # what does not need the chain still ran, and passed
    assert {"rest", "clock", "websocket", "api-creds", "geoblock", "key"} <= {
        n for n, check in checks.items() if check["ok"]
    }


def approvals_on_chain(anvil: AnvilChain, owner: str) -> list[bool]:
    """Each approval of contracts.TRADING_APPROVALS as the contracts hold it."""
    return [
        anvil.pusd.functions.allowance(owner, a.spender).call() == c.MAX_UINT256
        if a.kind == "erc20"
        else anvil.ctf.functions.isApprovedForAll(owner, a.spender).call()
        for a in c.TRADING_APPROVALS
    ]


def test_fix_allowances_needs_live_and_then_sends_only_what_is_missing(
    anvil: AnvilChain, chain_exchange: ExchangeThread
) -> None:
    address, key = anvil.new_wallet("doctor-fix", pol=Decimal(1), pusd=Decimal(40))
    anvil.rpc("anvil_impersonateAccount", address)
    anvil._send(anvil.pusd.functions.approve(c.CTF_EXCHANGE, c.MAX_UINT256), address)
    anvil.rpc("anvil_stopImpersonatingAccount", address)
    nonce_before = anvil.w3.eth.get_transaction_count(address)
    flags = ["--venue", "polymarket", "--exchange-url", chain_exchange.url, "--unsafe-polymarket-url"]
    flags += ["--rpc-url", anvil.url]

    refused = polymm("doctor", "--fix-allowances", *flags, POLYMM_PRIVATE_KEY=key, timeout=90)
    assert refused.returncode == 2 and "--live" in refused.stderr.strip().splitlines()[-1]
    assert anvil.w3.eth.get_transaction_count(address) == nonce_before  # nothing was sent
    assert approvals_on_chain(anvil, address).count(True) == 1

    fixed = polymm(
        "doctor", "--fix-allowances", "--live", "--yes", *flags, POLYMM_PRIVATE_KEY=key, timeout=120
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    sent = [line for line in fixed.stdout.splitlines() if line.startswith("sent: ")]
    assert len(sent) == 9 and all("(tx 0x" in line and " POL)" in line for line in sent)
    assert approvals_on_chain(anvil, address) == [True] * 10
    assert anvil.w3.eth.get_transaction_count(address) == nonce_before + 9
    assert "the CLOB was asked to re-read the wallet's pUSD balance and allowances" in fixed.stdout
    assert fixed.stdout.splitlines()[-1] == "all checks pass"

    again = polymm(
        "doctor", "--fix-allowances", "--live", "--yes", "--json", *flags, POLYMM_PRIVATE_KEY=key, timeout=90
    )
    assert again.returncode == 0
    payload = json.loads(again.stdout)
    assert payload["fixed"] == [] and payload["ok"] is True  # nothing left to send
    assert payload["clob_refresh_error"] is None


def test_fix_allowances_refuses_a_relayer_wallet(anvil: AnvilChain, chain_exchange: ExchangeThread) -> None:
    _, key = anvil.new_wallet("doctor-fix-proxy", pol=Decimal(1))
    done = polymm(
        "doctor",
        "--fix-allowances",
        "--live",
        "--yes",
        "--venue",
        "polymarket",
        "--exchange-url",
        chain_exchange.url,
        "--unsafe-polymarket-url",
        "--rpc-url",
        anvil.url,
        POLYMM_PRIVATE_KEY=key,
        POLYMM_SIGNATURE_TYPE="1",
        timeout=60,
    )
    assert done.returncode == 2
    assert "relayer" in done.stderr and "polymarket.com" in done.stderr


def test_a_proxy_wallet_is_recognised_by_its_derived_address(
    anvil: AnvilChain, chain_exchange: ExchangeThread
) -> None:
    """The key's Polymarket proxy (CREATE2 from the proxy factory) with code at it: type 1 fits, gas
    is the relayer's, and the missing approvals' fix is the Polymarket UI (the relayer path)."""
    from polymm_cli.venues.polymarket.wallets import expected_wallets

    signer, key = anvil.new_wallet("doctor-proxy", pol=Decimal(0))
    proxy = expected_wallets(signer).proxy
    minimal_proxy = "0x363d3d373d3d3d363d73" + "11" * 20 + "5af43d82803e903d91602b57fd5bf3"
    anvil.rpc("anvil_setCode", proxy, minimal_proxy)
    anvil.mint_pusd(proxy, Decimal(75))

    builder = {
        "POLYMM_BUILDER_API_KEY": "builder-key",
        "POLYMM_BUILDER_SECRET": "YnVpbGRlci1zZWNyZXQtZm9yLXRlc3RzLW9ubHk=",
        "POLYMM_BUILDER_PASSPHRASE": "builder-passphrase",
    }

    code, checks, _ = doctor(
        chain_exchange, anvil.url, key, POLYMM_SIGNATURE_TYPE="1", POLYMM_FUNDER=proxy, **builder
    )

    assert code == 2
    assert failing(checks) == {n for n in checks if n.startswith("approval ")}
    wallet = checks["wallet"]["detail"]
    assert f"{proxy} is a Polymarket proxy wallet" in wallet and "derived from the key" in wallet
    assert "signature type 1 fits" in wallet and "relayer" in wallet
    assert checks["gas"]["ok"] and "relayer pays" in checks["gas"]["detail"]
    assert checks["relayer"]["ok"] and checks["relayer"]["status"] == "pass"
    assert f"75 pUSD at {proxy}" in checks["pusd"]["detail"]
    assert "polymarket.com" in checks["approval CTF Exchange V2"]["fix"]
