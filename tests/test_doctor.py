"""`polymm doctor`'s checks, one by one: the judgements (diagnosis.py), the wallet identification
(venues/polymarket/wallets.py) and the service's Polygon checks over a fake chain, timed with an
injected clock. The whole command runs in tests/e2e/test_doctor.py (local exchange) and
tests/chain/test_doctor_chain.py (Anvil)."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from polymm_cli import diagnosis as dx
from polymm_cli.diagnosis import ApprovalState, Status
from polymm_cli.services import doctor
from polymm_cli.services.doctor import Target, _Doctor, data_dir_check
from polymm_cli.settings import VenueName, load_settings
from polymm_cli.venues.polymarket import contracts as c
from polymm_cli.venues.polymarket.wallets import (
    CodeShape,
    WalletKind,
    code_shape,
    expected_wallets,
    identify,
    verdict,
)

SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
MINIMAL_PROXY = bytes.fromhex("363d3d373d3d3d363d73" + "11" * 20 + "5af43d82803e903d91602b57fd5bf3")
SAFE_PROXY = bytes.fromhex(
    "608060405273" + "ff" * 20 + "600054167fa619486e" + "00" * 28 + "60003514156050578060005260206000f3"
)
ERC1967 = bytes.fromhex(
    "363d3d373d3d363d7f360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc545af43d6000803e6038573d6000fd5b3d6000f3"
)
EIP7702 = bytes.fromhex("ef0100" + "22" * 20)
OTHER = bytes.fromhex("6080604052348015600f57600080fd5b50")


class StepClock:
    """A clock whose every reading moves it on by `step` seconds: latencies are exact multiples."""

    def __init__(self, step: float = 0.25, start: float = 1_777_370_400.0) -> None:
        self.t = start
        self.step = step

    def now(self) -> float:
        self.t += self.step
        return self.t

    def monotonic(self) -> float:
        return self.now()

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


# -- judgements ------------------------------------------------------------------------------------


def test_a_failure_shows_its_fix_on_the_same_line_and_the_json_shape() -> None:
    checks = [
        dx.passed("rest", "https://clob reachable", 12.3),
        dx.failed("gas", "0 POL at 0xabc", "send POL to 0xabc"),
        dx.not_applicable("rpc", "the local exchange has no chain"),
    ]
    lines = dx.render_all(checks)
    assert lines[0].startswith("✓ rest") and lines[0].endswith("(12 ms)")
    assert lines[1].startswith("✗ gas") and lines[1].endswith("— fix: send POL to 0xabc")
    assert lines[2].startswith("- rpc") and "skipped" in lines[2]
    assert lines[-1] == "1 of 3 checks fail"
    payload = dx.as_json(checks)
    assert payload["ok"] is False
    assert payload["checks"][1] == {
        "name": "gas",
        "ok": False,
        "status": "fail",
        "detail": "0 POL at 0xabc",
        "fix": "send POL to 0xabc",
        "latency_ms": None,
    }
    assert dx.exit_code(checks) == 2
    assert dx.exit_code([checks[0], checks[2]]) == 0


def test_a_check_that_applies_but_could_not_run_fails_one_that_does_not_apply_passes() -> None:
    unverified = dx.not_checked("gas", "no RPC URL set", "pass --rpc-url")
    irrelevant = dx.not_applicable("gas", "the local exchange has no chain")
    assert unverified.status is irrelevant.status is Status.SKIPPED
    assert not unverified.ok and irrelevant.ok
    assert dx.render(unverified).startswith("✗") and "fix: pass --rpc-url" in dx.render(unverified)


def test_clock_skew_beyond_the_bound_fails_and_within_it_passes() -> None:
    sent = 1_000.0
    assert dx.clock_skew(1_000, sent, sent + 0.1).ok
    late = dx.clock_skew(1_030, sent, sent + 0.1)  # the exchange is 30 s ahead of us
    assert not late.ok and "+30.5 s" in late.detail and "timedatectl" in late.fix
    assert late.latency_ms == pytest.approx(100.0)
    assert not dx.clock_skew(990, sent, sent + 0.1).ok


def test_geoblock_blocked_names_the_place_and_a_strange_answer_fails() -> None:
    blocked = dx.geoblock({"blocked": True, "ip": "203.0.113.42", "country": "US", "region": "NY"}, 0.05)
    assert not blocked.ok and "US-NY" in blocked.detail and "203.0.113.42" not in blocked.detail
    assert dx.geoblock({"blocked": False, "country": "IE", "region": "L"}, 0.05).ok
    assert not dx.geoblock({"blocked": "no"}, 0.05).ok


def test_gas_is_needed_by_an_eoa_only() -> None:
    assert not dx.pol_balance(Decimal("0.05"), 0, SIGNER).ok
    assert dx.pol_balance(Decimal("0.1"), 0, SIGNER).ok
    relayed = dx.pol_balance(Decimal(0), 1, SIGNER)
    assert relayed.ok and "relayer" in relayed.detail


def test_each_missing_approval_is_named_per_spender() -> None:
    states = [
        ApprovalState("0xA", "CTF Exchange V2", c.MAX_UINT256, True),
        ApprovalState("0xB", "NegRisk Adapter V1", 0, True),
        ApprovalState("0xC", "CtfCollateralAdapter", 5_000_000, False),
    ]
    checks = dx.approvals(states, "approve them", balance=10_000_000)
    assert [ch.ok for ch in checks] == [True, False, False]
    assert checks[0].detail == "pUSD + CTF approved for 0xA"
    assert checks[1].detail == "missing pUSD approve for 0xB"
    assert checks[2].detail == "missing pUSD allowance (5 < balance) and CTF setApprovalForAll for 0xC"
    assert all(ch.fix == "approve them" for ch in checks[1:])


# -- wallet identification -------------------------------------------------------------------------


def test_code_shapes() -> None:
    assert code_shape(b"") is CodeShape.NONE
    assert code_shape(EIP7702) is CodeShape.EIP7702
    assert code_shape(MINIMAL_PROXY) is CodeShape.MINIMAL_PROXY
    assert code_shape(SAFE_PROXY) is CodeShape.SAFE_PROXY
    assert code_shape(ERC1967) is CodeShape.ERC1967_PROXY
    assert code_shape(OTHER) is CodeShape.OTHER


def test_the_funder_is_identified_by_derivation_first() -> None:
    mine = expected_wallets(SIGNER)
    assert len({mine.signer, mine.proxy, mine.safe, *mine.deposit}) == 5
    assert identify(SIGNER, b"", mine).kind is WalletKind.EOA
    assert identify(SIGNER, EIP7702, mine).kind is WalletKind.EOA
    proxy = identify(mine.proxy, MINIMAL_PROXY, mine)
    assert proxy.kind is WalletKind.PROXY and proxy.deployed
    assert identify(mine.safe, SAFE_PROXY, mine).kind is WalletKind.SAFE
    assert identify(mine.deposit[1], ERC1967, mine).kind is WalletKind.DEPOSIT
    undeployed = identify(mine.proxy, b"", mine)
    assert undeployed.kind is WalletKind.PROXY and not undeployed.deployed
    # a Safe, but not this key's: the shape alone never makes it ours
    stranger = identify("0x" + "12" * 20, SAFE_PROXY, mine)
    assert stranger.kind is WalletKind.UNKNOWN and "a Gnosis Safe proxy" in stranger.evidence


def test_the_verdict_compares_the_signature_type_and_says_the_fix() -> None:
    mine = expected_wallets(SIGNER)
    assert verdict(0, None, identify(SIGNER, b"", mine), mine).ok
    assert verdict(1, mine.proxy, identify(mine.proxy, MINIMAL_PROXY, mine), mine).ok
    assert verdict(2, mine.safe, identify(mine.safe, SAFE_PROXY, mine), mine).ok

    no_funder = verdict(1, None, identify(SIGNER, b"", mine), mine)
    assert (
        not no_funder.ok
        and no_funder.fix == f"set POLYMM_FUNDER to your Polymarket proxy wallet (for this key: {mine.proxy})"
    )
    proxy_as_eoa = verdict(0, mine.proxy, identify(mine.proxy, MINIMAL_PROXY, mine), mine)
    assert not proxy_as_eoa.ok and proxy_as_eoa.fix == "set POLYMM_SIGNATURE_TYPE=1"
    safe_as_proxy = verdict(1, mine.safe, identify(mine.safe, SAFE_PROXY, mine), mine)
    assert "signature type 2, not 1" in safe_as_proxy.detail
    not_deployed = verdict(1, mine.proxy, identify(mine.proxy, b"", mine), mine)
    assert not not_deployed.ok and "not deployed" in not_deployed.detail
    stranger = "0x" + "12" * 20
    unknown = verdict(2, stranger, identify(stranger, SAFE_PROXY, mine), mine)
    assert not unknown.ok and mine.safe in unknown.fix


# -- the data dir ----------------------------------------------------------------------------------


def test_the_data_dir_must_be_private_and_writable(tmp_path: Path) -> None:
    path = tmp_path / "data"
    assert data_dir_check(path).ok and oct(path.stat().st_mode & 0o777) == "0o700"
    os.chmod(path, 0o750)
    group = data_dir_check(path)
    assert not group.ok and "open to the group" in group.detail and group.fix == f"chmod 700 {path}"
    os.chmod(path, 0o700)
    (path / "ledger.sqlite3").write_text("")
    os.chmod(path / "ledger.sqlite3", 0o644)
    ledger = data_dir_check(path)
    assert not ledger.ok and ledger.fix == f"chmod 600 {path / 'ledger.sqlite3'}"
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert not data_dir_check(blocked / "data").ok  # cannot even be created


# -- the Polygon checks over a fake chain, with an injected clock -----------------------------------


class FakeChain:
    def __init__(self, *, chain_id: int = 137, pol_wei: int = 10**18, pusd: int = 50_000_000) -> None:
        self.id, self.pol_wei, self.pusd = chain_id, pol_wei, pusd
        self.closed = False

    async def chain_id(self) -> int:
        return self.id

    async def code(self, address: str) -> bytes:
        return b""

    async def native_balance(self, address: str) -> int:
        return self.pol_wei

    async def pusd_balance(self, owner: str) -> int:
        return self.pusd

    async def approvals(self, owner: str) -> list[tuple[c.Approval, int | bool]]:
        return [(a, c.MAX_UINT256 if a.kind == "erc20" else True) for a in c.TRADING_APPROVALS]

    async def close(self) -> None:
        self.closed = True


def polymarket_target(rpc_url: str | None = "https://rpc.example/v2/KEY", sig: int = 0) -> Target:
    return Target(VenueName.POLYMARKET, None, "http://x/api/geoblock", rpc_url, sig, None, SIGNER)


def test_the_rpc_is_timed_with_the_injected_clock_and_the_wallet_passes() -> None:
    chain = FakeChain()
    checks = asyncio.run(_Doctor(polymarket_target(), StepClock(0.25), lambda url: chain).chain_checks(None))
    by_name = {ch.name: ch for ch in checks}
    assert by_name["rpc"].ok and by_name["rpc"].latency_ms == pytest.approx(250.0)
    assert by_name["rpc"].detail == "rpc.example: Polygon (chain id 137)"  # never the path (a key)
    assert by_name["wallet"].detail.endswith("on-chain operations: direct (this key signs and pays the gas)")
    assert all(ch.ok for ch in checks), [ch for ch in checks if not ch.ok]
    assert chain.closed


def test_a_chain_that_is_not_polygon_leaves_the_wallet_unchecked() -> None:
    checks = asyncio.run(
        _Doctor(polymarket_target(), StepClock(), lambda url: FakeChain(chain_id=1)).chain_checks(None)
    )
    by_name = {ch.name: ch for ch in checks}
    assert not by_name["rpc"].ok and "chain 1, not Polygon" in by_name["rpc"].detail
    assert by_name["wallet"].status is Status.SKIPPED and not by_name["wallet"].ok


def test_no_rpc_url_fails_a_polymarket_wallet_but_not_the_local_exchange() -> None:
    live = asyncio.run(_Doctor(polymarket_target(None), StepClock(), None).chain_checks(Decimal(20)))
    by_name = {ch.name: ch for ch in live}
    assert not by_name["rpc"].ok and "--rpc-url" in by_name["rpc"].fix
    assert not by_name["gas"].ok and not by_name["approvals"].ok
    assert by_name["pusd"].ok and "as the CLOB sees it" in by_name["pusd"].detail
    local = Target(VenueName.LOCAL, None, "http://x/api/geoblock", None, 0, None, SIGNER)
    local_checks = asyncio.run(_Doctor(local, StepClock(), None).chain_checks(Decimal(20)))
    assert all(ch.ok for ch in local_checks)


def test_a_key_that_does_not_parse_is_named_without_echoing_it(tmp_path: Path) -> None:
    settings = load_settings(
        venue="polymarket",
        private_key="0x1234-not-a-key",
        exchange_url="http://127.0.0.1:9",
        unsafe_polymarket_url=True,
        data_dir=tmp_path,
    )
    checks = doctor.diagnose(settings, clock=StepClock())
    by_name = {ch.name: ch for ch in checks}
    assert not by_name["key"].ok and "does not parse" in by_name["key"].detail
    assert "1234" not in json.dumps(dx.as_json(checks))
    assert by_name["rest"].status is Status.SKIPPED and not by_name["rest"].ok


def test_missing_approvals_are_the_ones_the_checks_name() -> None:
    states = [ApprovalState(a.spender, a.spender_name, c.MAX_UINT256, True) for a in c.TRADING_APPROVALS[:5]]
    assert doctor.missing_approvals(states, balance=10**9) == []
    states[0] = ApprovalState(c.CTF_EXCHANGE, "CTF Exchange V2", 5, True)  # below the balance
    states[4] = ApprovalState(c.NEG_RISK_CTF_COLLATERAL_ADAPTER, "x", c.MAX_UINT256, False)
    missing = doctor.missing_approvals(states, balance=10**9)
    assert [(a.kind, a.spender) for a in missing] == [
        ("erc20", c.CTF_EXCHANGE),
        ("erc1155", c.NEG_RISK_CTF_COLLATERAL_ADAPTER),
    ]


def test_a_key_in_an_env_file_others_can_read_fails_the_key_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import throwaway_key

    monkeypatch.chdir(tmp_path)
    env = tmp_path / ".env"
    env.write_text(f"# my wallet\nPOLYMM_PRIVATE_KEY={throwaway_key('doctor-env')}\n")
    os.chmod(env, 0o644)
    settings = load_settings(venue="polymarket", data_dir=tmp_path / "data")
    check, target = doctor._polymarket_target(settings)
    assert not check.ok and "mode 644" in check.detail and check.fix == f"chmod 600 {env}"
    assert target.config is not None  # the key works: the other checks still run
    os.chmod(env, 0o600)
    assert doctor._polymarket_target(settings)[0].ok


def test_a_local_key_file_others_can_read_is_named_with_its_chmod(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    check, _ = doctor._local_target(settings, "http://127.0.0.1:9")
    assert check.ok
    key_file = tmp_path / "data" / "local-wallet.key"
    os.chmod(key_file, 0o644)
    check, target = doctor._local_target(settings, "http://127.0.0.1:9")
    assert not check.ok and check.fix == f"chmod 600 {key_file}" and target.config is None


class _Answer:
    """A loopback HTTP server answering every POST with one fixed status and body."""

    def __init__(self, status: int, body: bytes) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"not found: /v2/SECRETKEY123"),
        (200, b'{"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":"bad key SECRETKEY123"}}'),
    ],
)
def test_an_rpc_failure_is_one_line_without_the_urls_key(status: int, body: bytes) -> None:
    from polymm_cli.errors import VenueError
    from polymm_cli.venues.polymarket.polygon_reads import PolygonReader

    server = _Answer(status, body)
    try:

        async def read() -> str:
            reads = PolygonReader(f"{server.url}/v2/SECRETKEY123?apikey=SECRETKEY123")
            try:
                await reads.chain_id()
            except VenueError as exc:
                return str(exc)
            finally:
                await reads.close()
            return "no error"

        message = asyncio.run(read())
    finally:
        server.close()
    host = server.url.removeprefix("http://")
    assert message.startswith(f"Polygon RPC {host} ") and "eth_chainId" in message
    assert "\n" not in message
    assert "SECRETKEY123" not in message


def test_a_data_dir_that_cannot_exist_is_named_and_the_local_checks_wait_for_it(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    checks = doctor.diagnose(load_settings(data_dir=blocked / "data"), clock=StepClock())
    assert checks[0].name == "data-dir" and not checks[0].ok and "POLYMM_DATA_DIR" in checks[0].fix
    assert [c.name for c in checks[1:]] == list(doctor.LOCAL_NAMES)
    assert all(c.status is Status.SKIPPED and not c.ok for c in checks[1:])


def test_a_funder_the_signer_refuses_is_a_failed_check_not_a_crash(tmp_path: Path) -> None:
    from tests.conftest import throwaway_key

    common = {
        "venue": "polymarket",
        "private_key": throwaway_key("doctor-funder"),
        "exchange_url": "http://127.0.0.1:9",
        "unsafe_polymarket_url": True,
        "data_dir": tmp_path,
    }
    key, target = doctor._polymarket_target(load_settings(**common, funder="0x" + "12" * 20))
    assert key.ok
    creds, _ = asyncio.run(_Doctor(target, StepClock(), None).credentials())
    assert not creds.ok and "cannot sign" in creds.detail and "funder must be the EOA" in creds.detail
    typo, target = doctor._polymarket_target(load_settings(**common, funder="0x12ab"))
    assert not typo.ok and "POLYMM_FUNDER '0x12ab' is not an address" in typo.detail
    assert target.config is None


def test_the_relayer_check_applies_to_proxy_and_safe_wallets_only() -> None:
    assert dx.relayer(0, False).ok and dx.relayer(0, False).status is Status.SKIPPED
    assert dx.relayer(3, False).ok and "deposit wallet" in dx.relayer(3, False).detail
    assert dx.relayer(1, True).ok and dx.relayer(2, True).status is Status.PASS
    missing = dx.relayer(2, False)
    assert not missing.ok and "POLYMM_BUILDER_API_KEY" in missing.fix


# -- --fix-allowances: the approvals sent, then the CLOB asked to re-read them ----------------------


class _Granter:
    """The chain port's `grant`, recorded; `fail_at`: the approval (by index) that fails."""

    def __init__(self, log: list[str], fail_at: int | None = None) -> None:
        self.log, self.fail_at, self.sent = log, fail_at, 0

    async def grant(self, approval: c.Approval) -> tuple[str, Decimal]:
        if self.sent == self.fail_at:
            from polymm_cli.errors import VenueError

            raise VenueError("approve reverted")
        self.sent += 1
        self.log.append(f"grant {approval.spender_name}")
        return f"0x{self.sent:064x}", Decimal("0.01")


class _Clob:
    """What `send_missing` uses of the Polymarket adapter (start, refresh_balances), recorded."""

    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log, self.fail = log, fail

    async def start(self) -> None:
        self.log.append("start")

    async def refresh_balances(self, token_ids: list[str]) -> None:
        self.log.append(f"refresh {token_ids}")
        if self.fail:
            from polymm_cli.errors import VenueError

            raise VenueError("GET /balance-allowance/update: HTTP 503")


def test_after_the_approvals_are_sent_the_clob_is_asked_to_reread_the_collateral_once() -> None:
    log: list[str] = []
    missing = list(c.TRADING_APPROVALS[:3])
    fix = asyncio.run(doctor.send_missing(_Granter(log), missing, _Clob(log)))
    assert [g.approval for g in fix.granted] == missing and fix.clob_error is None
    assert log == [f"grant {a.spender_name}" for a in missing] + ["start", "refresh []"]


def test_nothing_sent_asks_the_clob_nothing() -> None:
    log: list[str] = []
    fix = asyncio.run(doctor.send_missing(_Granter(log), [], _Clob(log)))
    assert fix == doctor.AllowanceFix([], None) and log == []


def test_a_clob_that_does_not_answer_leaves_the_approvals_sent_and_says_why() -> None:
    log: list[str] = []
    fix = asyncio.run(
        doctor.send_missing(_Granter(log), list(c.TRADING_APPROVALS[:1]), _Clob(log, fail=True))
    )
    assert len(fix.granted) == 1 and fix.clob_error is not None and "HTTP 503" in fix.clob_error


def test_a_failed_approval_names_what_was_sent_before_it_and_still_refreshes_those() -> None:
    from polymm_cli.errors import VenueError

    log: list[str] = []
    with pytest.raises(VenueError, match=r"approve reverted \(sent before it: 0x0+1\)"):
        asyncio.run(doctor.send_missing(_Granter(log, fail_at=1), list(c.TRADING_APPROVALS[:3]), _Clob(log)))
    assert log[-2:] == ["start", "refresh []"]
