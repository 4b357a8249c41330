"""Which kind of Polymarket wallet an address is: from the signer's key and the code at the address.

Two pieces of evidence, strongest first:

1. Address derivation. Polymarket's wallets are deployed with CREATE2 by fixed factories from the
   signer's EOA, and the exchange contracts accept a proxy (signature type 1) or Safe (type 2) maker
   only when it is the one the factory derives for the order's signer. So the funder is compared with
   the proxy, Safe and deposit wallet (type 3) addresses derived for the key, with the factories'
   derivations of `py-builder-relayer-client` (the official relayer client) and the factories of
   `contracts.py`. A match names the kind
   even before the wallet is deployed (no code yet).
2. The shape of the code at the address (`eth_getCode`), for what derivation cannot place: none (an
   EOA), an EIP-7702 delegation designator (an EOA with delegated code), an EIP-1167 minimal proxy,
   a Gnosis Safe proxy, an ERC-1967 proxy (implementation or beacon; deposit wallets are these).
   A shape alone never makes a contract "your" wallet: a contract not derived from the key is
   reported as such.

Pure: no network, no key material (only the signer's public address).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from eth_utils.address import to_checksum_address
from py_builder_relayer_client.builder.derive import (
    derive,
    derive_beacon_deposit_wallet,
    derive_proxy_wallet,
    derive_uups_deposit_wallet,
)
from py_builder_relayer_client.config import get_contract_config

from polymm_cli.venues.polymarket import contracts as c

# The deposit wallet factory's beacon (docs/protocol.md §12.1); the relayer client reads it from the
# factory at run time and derives the beacon-proxy address when the UUPS one is not deployed.
DEPOSIT_WALLET_BEACON = "0x7A18EDfe055488A3128f01F563e5B479D92ffc3a"


class WalletKind(StrEnum):
    EOA = "EOA"
    PROXY = "Polymarket proxy wallet"
    SAFE = "Gnosis Safe"
    DEPOSIT = "deposit wallet"
    UNKNOWN = "unknown"


# The signature type each kind trades with (docs/protocol.md §4.1).
SIGNATURE_TYPE_OF = {WalletKind.EOA: 0, WalletKind.PROXY: 1, WalletKind.SAFE: 2, WalletKind.DEPOSIT: 3}
KIND_OF_SIGNATURE_TYPE = {number: kind for kind, number in SIGNATURE_TYPE_OF.items()}


class CodeShape(StrEnum):
    NONE = "no code"
    EIP7702 = "an EIP-7702 delegation"
    MINIMAL_PROXY = "an EIP-1167 minimal proxy"
    SAFE_PROXY = "a Gnosis Safe proxy"
    ERC1967_PROXY = "an ERC-1967 proxy"
    ERC1967_BEACON_PROXY = "an ERC-1967 beacon proxy"
    OTHER = "a contract"


_EIP7702_PREFIX = bytes.fromhex("ef0100")
_MINIMAL_PROXY_HEAD = bytes.fromhex("363d3d373d3d3d363d73")
_MINIMAL_PROXY_TAIL = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
# GnosisSafeProxy (1.x) runtime: it answers masterCopy() (0xa619486e) from storage slot 0 itself.
_SAFE_PROXY_HEAD = bytes.fromhex("608060405273" + "ff" * 20 + "600054167fa619486e")
# keccak("eip1967.proxy.implementation") - 1 and keccak("eip1967.proxy.beacon") - 1, as PUSH32 operands
_ERC1967_IMPLEMENTATION_SLOT = bytes.fromhex(
    "360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"
)
_ERC1967_BEACON_SLOT = bytes.fromhex("a3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6c")


def code_shape(code: bytes) -> CodeShape:
    """What the runtime code at an address looks like (see the module docstring)."""
    if not code.strip(b"\x00"):
        return CodeShape.NONE
    if code.startswith(_EIP7702_PREFIX) and len(code) == 23:
        return CodeShape.EIP7702
    if code.startswith(_MINIMAL_PROXY_HEAD) and code.endswith(_MINIMAL_PROXY_TAIL) and len(code) == 45:
        return CodeShape.MINIMAL_PROXY
    if code.startswith(_SAFE_PROXY_HEAD):
        return CodeShape.SAFE_PROXY
    if _ERC1967_BEACON_SLOT in code:
        return CodeShape.ERC1967_BEACON_PROXY
    if _ERC1967_IMPLEMENTATION_SLOT[:20] in code:
        return CodeShape.ERC1967_PROXY
    return CodeShape.OTHER


@dataclass(frozen=True, slots=True)
class ExpectedWallets:
    """The wallets Polymarket's factories derive for one signer (checksummed)."""

    signer: str
    proxy: str
    safe: str
    deposit: tuple[str, ...]  # the UUPS and the beacon-proxy derivations

    def kind_of(self, address: str) -> WalletKind | None:
        """Which of the signer's own wallets `address` is, or None when it is none of them."""
        target = to_checksum_address(address)
        if target == self.signer:
            return WalletKind.EOA
        if target == self.proxy:
            return WalletKind.PROXY
        if target == self.safe:
            return WalletKind.SAFE
        if target in self.deposit:
            return WalletKind.DEPOSIT
        return None

    def address_of(self, kind: WalletKind) -> str | None:
        return {
            WalletKind.EOA: self.signer,
            WalletKind.PROXY: self.proxy,
            WalletKind.SAFE: self.safe,
            WalletKind.DEPOSIT: self.deposit[0],
        }.get(kind)


def expected_wallets(signer: str) -> ExpectedWallets:
    """The proxy, Safe and deposit wallet addresses Polymarket's factories derive for `signer`."""
    # the deposit wallets' implementation is the relayer client's (contracts.py does not list it)
    implementation = get_contract_config(c.POLYGON_CHAIN_ID).deposit_wallet_implementation
    owner = to_checksum_address(signer)
    return ExpectedWallets(
        signer=owner,
        proxy=derive_proxy_wallet(owner, c.PROXY_FACTORY),
        safe=derive(owner, c.SAFE_FACTORY),
        deposit=(
            derive_uups_deposit_wallet(owner, c.DEPOSIT_WALLET_FACTORY, implementation),
            derive_beacon_deposit_wallet(owner, c.DEPOSIT_WALLET_FACTORY, DEPOSIT_WALLET_BEACON),
        ),
    )


@dataclass(frozen=True, slots=True)
class WalletFinding:
    """What the funder address is: its kind, whether code is deployed there, and how we know."""

    kind: WalletKind
    deployed: bool
    evidence: str


def identify(funder: str, code: bytes, expected: ExpectedWallets) -> WalletFinding:
    """The kind of wallet at `funder` for this signer (see the module docstring for the method)."""
    shape = code_shape(code)
    deployed = shape is not CodeShape.NONE
    own = expected.kind_of(funder)
    if own is WalletKind.EOA:
        if shape in (CodeShape.NONE, CodeShape.EIP7702):
            return WalletFinding(WalletKind.EOA, True, f"the key's own address, {shape.value}")
        return WalletFinding(WalletKind.UNKNOWN, True, f"the key's own address holds {shape.value}")
    if own is not None:
        where = f"code: {shape.value}" if deployed else "not deployed yet (no code)"
        return WalletFinding(own, deployed, f"derived from the key by Polymarket's factory; {where}")
    if not deployed:
        return WalletFinding(
            WalletKind.UNKNOWN, False, "no code, and not the key's address nor a wallet derived from it"
        )
    return WalletFinding(
        WalletKind.UNKNOWN, True, f"{shape.value}, not derived from the key by any Polymarket factory"
    )


@dataclass(frozen=True, slots=True)
class WalletVerdict:
    """The configured signature type against the wallet found: ok, what was seen, and the fix."""

    ok: bool
    detail: str
    fix: str = ""


def verdict(
    signature_type: int, funder: str | None, finding: WalletFinding, expected: ExpectedWallets
) -> WalletVerdict:
    """Whether `signature_type` (with `funder`, None: the key's own address) fits the wallet found."""
    address = to_checksum_address(funder) if funder else expected.signer
    seen = f"{address} is {_kind_phrase(finding)} ({finding.evidence})"
    wanted = KIND_OF_SIGNATURE_TYPE[signature_type]
    if finding.kind is wanted and (finding.deployed or wanted is WalletKind.EOA):
        return WalletVerdict(True, f"{seen}; signature type {signature_type} fits")
    if finding.kind is wanted:
        fix = "deposit through polymarket.com once with this key: Polymarket deploys the wallet then"
        return WalletVerdict(False, f"{seen}: not deployed, so it holds nothing and cannot trade", fix)
    if signature_type != 0 and funder is None:
        want = expected.address_of(wanted)
        return WalletVerdict(
            False,
            f"signature type {signature_type} ({wanted.value}) but no funder is set",
            f"set POLYMM_FUNDER to your {wanted.value} (for this key: {want})",
        )
    found_type = SIGNATURE_TYPE_OF.get(finding.kind)
    if found_type is not None:
        fix = f"set POLYMM_SIGNATURE_TYPE={found_type}"
        if found_type == 0 and funder is not None:
            fix += " and unset POLYMM_FUNDER"
        return WalletVerdict(False, f"{seen}: signature type {found_type}, not {signature_type}", fix)
    want = expected.address_of(wanted)
    fix = (
        "unset POLYMM_FUNDER (signature type 0 trades the key's own address)"
        if wanted is WalletKind.EOA
        else f"set POLYMM_FUNDER to the address Polymarket shows for this key (its {wanted.value}: {want})"
    )
    return WalletVerdict(
        False, f"{seen}: not a wallet this key can trade with signature type {signature_type}", fix
    )


def _kind_phrase(finding: WalletFinding) -> str:
    if finding.kind is WalletKind.UNKNOWN:
        return "no wallet of this key"
    article = "an" if finding.kind is WalletKind.EOA else "a"
    return f"{article} {finding.kind.value}"
