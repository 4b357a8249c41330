"""A local EVM for the chain tests: Anvil (from `make anvil`, npm) with Polymarket's contracts placed at
their real Polygon addresses, so polymm's addresses work unchanged.

- The real Gnosis ConditionalTokens runtime bytecode (npm `@gnosis.pm/conditional-tokens-contracts`)
  at the CTF address; the chain id is 137.
- Stand-ins with the real ABIs (tests/chain/contracts, compiled by `make contracts`, output committed):
  pUSD and USDC.e (an ERC-20 with 6 decimals and a test mint) and the two pUSD collateral adapters.

`anvil_setCode` places RUNTIME code: no constructor runs, so the stand-ins keep no constructor state.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from polymm_cli.venues.polymarket import contracts as c

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
CTF_ARTIFACT = (
    TOOLS / "node_modules/@gnosis.pm/conditional-tokens-contracts/build/contracts/ConditionalTokens.json"
)
BUILD = Path(__file__).resolve().parent / "contracts" / "build"
STAND_INS = {
    c.PUSD: "StandInUSD",
    c.USDC_E: "StandInUSD",
    c.CTF_COLLATERAL_ADAPTER: "StandInCollateralAdapter",
    c.NEG_RISK_CTF_COLLATERAL_ADAPTER: "StandInCollateralAdapter",
}
MINT_ABI = [
    {
        "type": "function",
        "name": "mint",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
        "stateMutability": "nonpayable",
    }
]


class AnvilMissing(Exception):
    """Anvil is not installed and cannot be (no npm): the chain tests skip with this reason."""


def anvil_binary() -> Path | None:
    found = sorted(TOOLS.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))
    return found[0] if found else None


def ensure_anvil() -> Path:
    """The Anvil binary, installed by `make anvil` when missing; AnvilMissing without npm."""
    binary = anvil_binary()
    if binary is not None and CTF_ARTIFACT.is_file():
        return binary
    if shutil.which("npm") is None:
        raise AnvilMissing("npm not found: the chain tests need Anvil from npm (`make anvil`)")
    subprocess.run(["make", "-s", "anvil"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    binary = anvil_binary()
    if binary is None or not CTF_ARTIFACT.is_file():
        raise RuntimeError("`make anvil` ran but .tools holds no Anvil binary or CTF artifact")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Condition:
    """A prepared binary condition and its two position ids (the market's token ids)."""

    condition_id: str  # 0x + 64 hex
    question_id: str
    oracle: str
    yes_token: str  # uint256 as a decimal string, as the CLOB names tokens
    no_token: str


class AnvilChain:
    """One Anvil process with the contracts placed; `stop()` ends it."""

    def __init__(self, binary: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", "137", "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 10}))
        self._wait_ready()
        self.admin = self.w3.eth.accounts[0]  # an unlocked Anvil account: mints, pays for test setup
        self.oracle = self.w3.eth.accounts[9]  # reports payouts
        self.ctf = self.w3.eth.contract(address=c.CTF, abi=c.CTF_ABI)
        self.pusd = self.w3.eth.contract(address=c.PUSD, abi=c.ERC20_ABI + MINT_ABI)
        self._place_contracts()

    def _wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"anvil exited with {self.process.returncode}: {err.strip()[:300]}")
            try:
                if self.w3.eth.chain_id == c.POLYGON_CHAIN_ID:
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"anvil did not answer on {self.url} within {timeout}s")

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def _place_contracts(self) -> None:
        self.rpc("anvil_setCode", c.CTF, json.loads(CTF_ARTIFACT.read_text())["deployedBytecode"])
        for address, name in STAND_INS.items():
            artifact = json.loads((BUILD / f"{name}.json").read_text())
            self.rpc("anvil_setCode", address, artifact["deployedBytecode"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stderr:
            self.process.stderr.close()

    # -- setting up accounts ---------------------------------------------------------------------

    def _send(self, fn: Any, sender: str) -> None:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}), timeout=10)
        assert receipt["status"] == 1, receipt

    def set_pol(self, address: str, pol: Decimal) -> None:
        self.rpc("anvil_setBalance", address, hex(int(pol * 10**18)))

    def mint_pusd(self, address: str, amount: Decimal) -> None:
        self._send(self.pusd.functions.mint(address, c.to_base_units(amount)), self.admin)

    def new_wallet(
        self, label: str, *, pol: Decimal = Decimal(10), pusd: Decimal = Decimal(0)
    ) -> tuple[str, str]:
        """A throwaway EOA (address, private key) with `pol` POL for gas and `pusd` pUSD."""
        from tests.conftest import throwaway_key

        key = throwaway_key(f"anvil:{label}")
        address = Account.from_key(key).address
        self.set_pol(address, pol)
        if pusd:
            self.mint_pusd(address, pusd)
        return address, key

    # -- conditions ------------------------------------------------------------------------------

    def prepare_condition(self, question: str) -> Condition:
        """prepareCondition(oracle, questionId, 2): the condition id is keccak(oracle, questionId, 2)."""
        question_id = Web3.keccak(text=question)
        self._send(self.ctf.functions.prepareCondition(self.oracle, question_id, 2), self.admin)
        condition_id = Web3.solidity_keccak(["address", "bytes32", "uint256"], [self.oracle, question_id, 2])
        yes, no = (self.position_id(condition_id.to_0x_hex(), index_set) for index_set in c.BINARY_PARTITION)
        return Condition(condition_id.to_0x_hex(), question_id.to_0x_hex(), self.oracle, str(yes), str(no))

    def position_id(self, condition_id: str, index_set: int) -> int:
        collection = self.ctf.functions.getCollectionId(bytes(32), condition_id, index_set).call()
        return int(self.ctf.functions.getPositionId(c.USDC_E, collection).call())

    def resolve(self, condition: Condition, payouts: tuple[int, int] = (1, 0)) -> None:
        """The oracle reports the payouts (YES wins by default)."""
        self._send(self.ctf.functions.reportPayouts(condition.question_id, list(payouts)), condition.oracle)

    # -- reading balances (human units) ----------------------------------------------------------

    def pusd_of(self, address: str) -> Decimal:
        return c.from_base_units(self.pusd.functions.balanceOf(address).call())

    def shares_of(self, address: str, token_id: str) -> Decimal:
        return c.from_base_units(self.ctf.functions.balanceOf(address, int(token_id)).call())

    def pol_of(self, address: str) -> Decimal:
        return Decimal(self.w3.eth.get_balance(address)) / 10**18
