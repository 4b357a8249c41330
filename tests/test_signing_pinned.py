"""`OrderSigner.sign_order` on the inputs the official-client comparison of test_signing.py never
draws: the refusals (which field a message names, which exception) and a side given as a string.

Why: sign_order is refactored for readability without any change of behaviour; the property tests
hold the signatures of valid orders byte for byte, these pin its answers to everything else.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from polymm_cli.model import Side
from polymm_cli.signing import OrderSigner

KEY = "0x" + hashlib.sha256(b"polymm-test-key:sign-order-pins").hexdigest()
WALLET = "0x" + "5a" * 20
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
UINT256_LIMIT = 1 << 256
GOOD: dict[str, Any] = {
    "token_id": TOKEN,
    "side": Side.BUY,
    "maker_amount": 5_200_000,
    "taker_amount": 10_000_000,
    "neg_risk": False,
    "salt": 12345,
    "timestamp_ms": 1_777_370_400_000,
}


def sign(signature_type: int = 0, **changes: Any) -> Any:
    signer = OrderSigner(KEY, 137, signature_type, WALLET if signature_type else None)
    return signer.sign_order(**(GOOD | changes))


BIG = str(UINT256_LIMIT)
REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({"maker_amount": 0}, "amounts must be positive, got 0 and 10000000"),
    ({"taker_amount": -1}, "taker_amount is not a uint256: -1"),
    ({"maker_amount": UINT256_LIMIT}, f"maker_amount is not a uint256: {BIG}"),  # found on packing
    ({"salt": -5}, "salt is not a uint256: -5"),
    ({"salt": UINT256_LIMIT}, f"salt is not a uint256: {BIG}"),
    ({"timestamp_ms": -1}, "timestamp_ms is not a uint256: -1"),
    ({"timestamp_ms": UINT256_LIMIT}, f"timestamp_ms is not a uint256: {BIG}"),
    ({"expiration": -1}, "expiration is not a uint256: -1"),
    ({"expiration": UINT256_LIMIT}, f"expiration is not a uint256: {BIG}"),
    ({"maker_amount": True}, "maker_amount must be an int"),
    ({"taker_amount": 1.5}, "taker_amount must be an int"),
    ({"salt": "1"}, "salt must be an int"),
    ({"side": "HOLD"}, "'HOLD' is not a valid Side"),
    ({"token_id": "0x12"}, "token id must be a uint256 decimal string, got '0x12'"),
    ({"token_id": BIG}, f"token id is not a uint256: {BIG}"),
    ({"metadata": "0x12"}, "bytes32 field must be 0x + 64 hex digits, got '0x12'"),
    ({"builder": "not hex"}, "bytes32 field must be 0x + 64 hex digits, got 'not hex'"),
    # several bad fields: which one is named
    ({"maker_amount": 0, "salt": -1}, "salt is not a uint256: -1"),
    ({"taker_amount": UINT256_LIMIT, "maker_amount": -3}, "maker_amount is not a uint256: -3"),
    ({"token_id": "0x12", "salt": -1}, "salt is not a uint256: -1"),
    ({"side": "HOLD", "salt": -1}, "'HOLD' is not a valid Side"),
    ({"metadata": "0x12", "token_id": "x"}, "token id must be a uint256 decimal string, got 'x'"),
]


@pytest.mark.parametrize("signature_type", [0, 3])
@pytest.mark.parametrize(("changes", "message"), REFUSALS)
def test_sign_order_refusals_are_pinned(signature_type: int, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        sign(signature_type, **changes)

    assert str(caught.value) == message


@pytest.mark.parametrize("signature_type", [0, 1, 2, 3])
def test_sign_order_accepts_a_side_given_by_its_value(signature_type: int) -> None:
    assert sign(signature_type, side="SELL") == sign(signature_type, side=Side.SELL)
    assert sign(signature_type, expiration=UINT256_LIMIT - 1).expiration == UINT256_LIMIT - 1


def test_sign_order_outputs_are_pinned() -> None:
    orders = [
        repr(sign(signature_type, side=side, neg_risk=neg_risk))
        for signature_type in (0, 1, 2, 3)
        for side in Side
        for neg_risk in (False, True)
    ]

    assert hashlib.sha256("\n".join(orders).encode()).hexdigest() == PINNED_ORDERS_SHA256


PINNED_ORDERS_SHA256 = "c9e61fdc9d759089009355d0359e52b36fe6f77650b326d0bed8ceece3791308"
