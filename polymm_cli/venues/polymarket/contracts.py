"""Polymarket's contracts on Polygon (chain id 137): addresses, the minimal ABIs polymm calls, and the
approvals a trading account needs, as data.

Owns the facts of docs/protocol.md §12 (addresses §12.1, approvals §12.3, split/merge/redeem §12.4).
The chain port (`chain.py`) sends transactions with them; `polymm doctor` reads `TRADING_APPROVALS`
to check a wallet's allowances. Nothing here touches the network.

Amounts on chain are base units: pUSD, USDC.e and every outcome token have 6 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

POLYGON_CHAIN_ID: Final = 137
DECIMALS: Final = 6
WEI_PER_POL: Final = Decimal(10**18)  # POL, the gas token, has 18 decimals
UNIT: Final = 10**DECIMALS  # base units per pUSD (and per share)
MAX_UINT256: Final = 2**256 - 1
ZERO_BYTES32: Final = "0x" + "00" * 32
BINARY_PARTITION: Final = (1, 2)  # index set 1 = outcome 0 (YES), 2 = outcome 1 (NO)

# §12.1: checksummed addresses
PUSD: Final = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
USDC_E: Final = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"  # the asset pUSD wraps; positions are in it
CTF: Final = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"  # Gnosis ConditionalTokens (ERC-1155)
CTF_EXCHANGE: Final = "0xE111180000d2663C0091e4f400237545B87B996B"  # CTF Exchange V2
NEG_RISK_CTF_EXCHANGE: Final = "0xe2222d279d744050d28e00520010520000310F59"  # NegRisk CTF Exchange V2
NEG_RISK_ADAPTER: Final = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"  # NegRisk Adapter (V1)
CTF_COLLATERAL_ADAPTER: Final = "0xAdA100Db00Ca00073811820692005400218FcE1f"
NEG_RISK_CTF_COLLATERAL_ADAPTER: Final = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
PROXY_FACTORY: Final = "0xaB45c5A4B0c941a2F231C04C3f49182e1A254052"  # signature type 1 wallets
SAFE_FACTORY: Final = "0xaacFeEa03eb1561C4e67d661e40682Bd20E3541b"  # signature type 2 wallets
DEPOSIT_WALLET_FACTORY: Final = "0x00000000000Fb5C9ADea0298D729A0CB3823Cc07"  # signature type 3 wallets

CONTRACT_NAMES: Final[dict[str, str]] = {
    PUSD: "pUSD",
    USDC_E: "USDC.e",
    CTF: "Conditional Tokens",
    CTF_EXCHANGE: "CTF Exchange V2",
    NEG_RISK_CTF_EXCHANGE: "NegRisk CTF Exchange V2",
    NEG_RISK_ADAPTER: "NegRisk Adapter V1",
    CTF_COLLATERAL_ADAPTER: "CtfCollateralAdapter",
    NEG_RISK_CTF_COLLATERAL_ADAPTER: "NegRiskCtfCollateralAdapter",
    PROXY_FACTORY: "Polymarket Proxy Factory",
    SAFE_FACTORY: "Gnosis Safe Factory",
    DEPOSIT_WALLET_FACTORY: "Deposit Wallet Factory",
}


def collateral_adapter(neg_risk: bool) -> str:
    """The pUSD adapter that splits, merges and redeems a market's positions (§12.4)."""
    return NEG_RISK_CTF_COLLATERAL_ADAPTER if neg_risk else CTF_COLLATERAL_ADAPTER


def to_base_units(amount: Decimal) -> int:
    """pUSD or shares -> 6-decimal base units; refuses what is finer than a micro-unit."""
    units = amount * UNIT
    if units != units.to_integral_value():
        raise ValueError(f"{amount} has more than {DECIMALS} decimals")
    return int(units)


def from_base_units(units: int) -> Decimal:
    return Decimal(units) / UNIT


# --- approvals (§12.3) ------------------------------------------------------------------------------

ApprovalKind = Literal["erc20", "erc1155"]


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval a trading account needs: `erc20` is pUSD `allowance(owner, spender)` (granted
    with `approve(spender, MAX)`), `erc1155` is CTF `isApprovedForAll(owner, spender)` (granted with
    `setApprovalForAll(spender, true)`)."""

    kind: ApprovalKind
    token: str  # the contract that holds the approval (PUSD or CTF)
    spender: str
    purpose: str  # why it is needed, one short phrase

    @property
    def token_name(self) -> str:
        return CONTRACT_NAMES[self.token]

    @property
    def spender_name(self) -> str:
        return CONTRACT_NAMES[self.spender]


def _approvals() -> tuple[Approval, ...]:
    buy = "BUY orders"
    sell = "SELL orders"
    return (
        Approval("erc20", PUSD, CTF_EXCHANGE, buy),
        Approval("erc20", PUSD, NEG_RISK_CTF_EXCHANGE, f"{buy} (neg-risk)"),
        Approval("erc20", PUSD, NEG_RISK_ADAPTER, f"{buy} (neg-risk)"),
        Approval("erc20", PUSD, CTF_COLLATERAL_ADAPTER, "split"),
        Approval("erc20", PUSD, NEG_RISK_CTF_COLLATERAL_ADAPTER, "split (neg-risk)"),
        Approval("erc1155", CTF, CTF_EXCHANGE, sell),
        Approval("erc1155", CTF, NEG_RISK_CTF_EXCHANGE, f"{sell} (neg-risk)"),
        Approval("erc1155", CTF, NEG_RISK_ADAPTER, f"{sell} (neg-risk)"),
        Approval("erc1155", CTF, CTF_COLLATERAL_ADAPTER, "merge and redeem"),
        Approval("erc1155", CTF, NEG_RISK_CTF_COLLATERAL_ADAPTER, "merge and redeem (neg-risk)"),
    )


# Every approval a wallet trading CLOB V2 binary markets with polymm needs (doctor checks them all).
TRADING_APPROVALS: Final[tuple[Approval, ...]] = _approvals()


def adapter_approvals(neg_risk: bool) -> tuple[Approval, Approval]:
    """What split (the pUSD allowance) and merge/redeem (the CTF operator approval) need."""
    adapter = collateral_adapter(neg_risk)
    erc20, erc1155 = (a for a in TRADING_APPROVALS if a.spender == adapter)
    return erc20, erc1155


# --- minimal ABIs -----------------------------------------------------------------------------------


def _fn(
    name: str,
    inputs: list[tuple[str, str]],
    outputs: tuple[str, ...] = (),
    *,
    view: bool = False,
) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": t} for t in outputs],
        "stateMutability": "view" if view else "nonpayable",
    }


_CONDITION_ARGS = [
    ("collateralToken", "address"),
    ("parentCollectionId", "bytes32"),
    ("conditionId", "bytes32"),
]

ERC20_ABI: Final = [
    _fn("balanceOf", [("owner", "address")], ("uint256",), view=True),
    _fn("allowance", [("owner", "address"), ("spender", "address")], ("uint256",), view=True),
    _fn("approve", [("spender", "address"), ("amount", "uint256")], ("bool",)),
]

# The CTF's split/merge/redeem; the collateral adapters expose the same three with the same ABI.
CTF_POSITIONS_ABI: Final = [
    _fn("splitPosition", [*_CONDITION_ARGS, ("partition", "uint256[]"), ("amount", "uint256")]),
    _fn("mergePositions", [*_CONDITION_ARGS, ("partition", "uint256[]"), ("amount", "uint256")]),
    _fn("redeemPositions", [*_CONDITION_ARGS, ("indexSets", "uint256[]")]),
]
COLLATERAL_ADAPTER_ABI: Final = CTF_POSITIONS_ABI

CTF_ABI: Final = [
    *CTF_POSITIONS_ABI,
    _fn("balanceOf", [("owner", "address"), ("id", "uint256")], ("uint256",), view=True),
    _fn("isApprovedForAll", [("owner", "address"), ("operator", "address")], ("bool",), view=True),
    _fn("setApprovalForAll", [("operator", "address"), ("approved", "bool")]),
    _fn(
        "prepareCondition",
        [("oracle", "address"), ("questionId", "bytes32"), ("outcomeSlotCount", "uint256")],
    ),
    _fn("reportPayouts", [("questionId", "bytes32"), ("payouts", "uint256[]")]),
    _fn("payoutDenominator", [("conditionId", "bytes32")], ("uint256",), view=True),
    _fn("payoutNumerators", [("conditionId", "bytes32"), ("index", "uint256")], ("uint256",), view=True),
    _fn("getOutcomeSlotCount", [("conditionId", "bytes32")], ("uint256",), view=True),
    _fn(
        "getCollectionId",
        [("parentCollectionId", "bytes32"), ("conditionId", "bytes32"), ("indexSet", "uint256")],
        ("bytes32",),
        view=True,
    ),
    _fn(
        "getPositionId",
        [("collateralToken", "address"), ("collectionId", "bytes32")],
        ("uint256",),
        view=True,
    ),
]
