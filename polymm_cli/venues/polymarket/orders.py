"""Turning `OrderIntent`s into signed POST /order envelopes, and POST answers into `PlaceResult`s.

Two signers produce byte-identical envelope shapes (docs/protocol.md §3.6): "fast" is polymm's own
`signing.OrderSigner` (exact Decimal amounts, libsecp256k1; cheap enough for the event loop) and
"reference" is py-clob-client-v2's `OrderBuilder` amount maths plus its `ExchangeOrderBuilderV2`
EIP-712 signing (eth_account; slow, so the adapter runs it in a worker thread). Both take the salt
and the millisecond timestamp from the caller, never from the wall clock or a global RNG.

Must not: do I/O, choose ticks (the adapter passes the market's current tick), or log key material.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.model import OrderType
from polymm_cli.venues.base import OrderIntent, PlaceResult

ACCEPTED_STATUSES = frozenset({"live", "matched", "delayed", "unmatched"})
TICK_RULE = "breaks minimum tick size rule"
DUPLICATED = "Duplicated"


@dataclass(frozen=True, slots=True)
class SignJob:
    """One intent to sign, with everything the signature depends on."""

    index: int
    intent: OrderIntent
    tick: Decimal
    neg_risk: bool
    salt: int
    timestamp_ms: int
    owner: str


@dataclass(frozen=True, slots=True)
class SignedEnvelope:
    job: SignJob
    envelope: dict[str, Any]
    order_id: str


@dataclass(frozen=True, slots=True)
class SignFailure:
    job: SignJob
    error: str


SignOutcome = SignedEnvelope | SignFailure


class BatchSigner(Protocol):
    """Signs a batch of jobs; a job that cannot be signed (bad price/size) becomes a SignFailure."""

    def sign_batch(self, jobs: Sequence[SignJob]) -> list[SignOutcome]: ...


def order_type_problem(intent: OrderIntent) -> str:
    """Why the venue would refuse this intent's type/post-only combination ("" = fine)."""
    kind = intent.order_type.upper()
    if kind not in (OrderType.GTC, OrderType.FOK, OrderType.FAK):
        if kind == OrderType.GTD:
            return "GTD orders need an expiration, which OrderIntent does not carry"
        return f"unknown order type {intent.order_type[:12]!r}"
    if intent.post_only and kind in (OrderType.FOK, OrderType.FAK):
        return "invalid post-only order: only GTC and GTD order types are allowed"
    return ""


class FastSigner:
    """polymm's own signer (`signing.OrderSigner`)."""

    def __init__(self, signer: signing.OrderSigner) -> None:
        self._signer = signer

    def __repr__(self) -> str:
        return f"FastSigner(address={self._signer.address!r})"

    def sign_batch(self, jobs: Sequence[SignJob]) -> list[SignOutcome]:
        out: list[SignOutcome] = []
        for job in jobs:
            intent = job.intent
            try:
                signed = self._signer.sign_limit_order(
                    intent.token_id,
                    intent.side,
                    intent.price,
                    intent.size,
                    job.tick,
                    job.neg_risk,
                    job.salt,
                    job.timestamp_ms,
                )
            except ValueError as exc:
                out.append(SignFailure(job, str(exc)))
                continue
            envelope = signing.order_wire(signed, job.owner, intent.order_type.upper(), intent.post_only)
            out.append(SignedEnvelope(job, envelope, signed.order_id))
        return out


class ReferenceSigner:
    """py-clob-client-v2's order builder: its (float) amount maths and its EIP-712 signing.

    Blocking and slow (eth_account): call `sign_batch` through `asyncio.to_thread`. The SDK is
    imported on first use so the fast path never pays for it.
    """

    def __init__(
        self, private_key: SecretStr, chain_id: int, signature_type: int, funder: str | None
    ) -> None:
        self._key = private_key
        self._chain_id = chain_id
        self._signature_type = signature_type
        self._funder = funder
        self._lock = threading.Lock()
        self._state: Any = None
        self._salt = 0

    def __repr__(self) -> str:
        return f"ReferenceSigner(chain_id={self._chain_id}, signature_type={self._signature_type})"

    def __reduce__(self) -> Any:
        raise TypeError("ReferenceSigner holds a private key and cannot be pickled")

    def _load(self) -> Any:
        if self._state is None:
            from py_clob_client_v2.config import get_contract_config
            from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
            from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, SignatureTypeV2
            from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, order_to_json_v2
            from py_clob_client_v2.signer import Signer

            sdk_signer = Signer(self._key.get_secret_value(), self._chain_id)
            builder = OrderBuilder(sdk_signer, SignatureTypeV2(self._signature_type), self._funder)
            contracts = get_contract_config(self._chain_id)
            exchanges = {
                neg_risk: ExchangeOrderBuilderV2(
                    contracts.neg_risk_exchange_v2 if neg_risk else contracts.exchange_v2,
                    self._chain_id,
                    sdk_signer,
                    generate_salt=lambda: self._salt,
                )
                for neg_risk in (False, True)
            }
            self._state = (builder, exchanges, ROUNDING_CONFIG, OrderDataV2, order_to_json_v2)
        return self._state

    def sign_batch(self, jobs: Sequence[SignJob]) -> list[SignOutcome]:
        out: list[SignOutcome] = []
        with self._lock:  # the salt is handed to the SDK through self._salt
            builder, exchanges, rounding, order_data_cls, to_json = self._load()
            for job in jobs:
                intent = job.intent
                try:
                    round_config = rounding[str(job.tick)]
                    if not job.tick <= intent.price <= 1 - job.tick:
                        raise ValueError(
                            f"invalid price ({intent.price}), min: {job.tick} - max: {1 - job.tick}"
                        )
                    side, maker_amount, taker_amount = builder.get_order_amounts(
                        intent.side.value, float(intent.size), float(intent.price), round_config
                    )
                    if int(maker_amount) <= 0 or int(taker_amount) <= 0:
                        raise ValueError(f"size {intent.size} rounds down to zero")
                    data = order_data_cls(
                        maker=builder.funder,
                        tokenId=intent.token_id,
                        makerAmount=str(maker_amount),
                        takerAmount=str(taker_amount),
                        side=side,
                        signer=builder._v2_order_signer(),
                        signatureType=builder.signature_type,
                        timestamp=str(job.timestamp_ms),
                        metadata=signing.ZERO_BYTES32,
                        builder=signing.ZERO_BYTES32,
                        expiration="0",
                    )
                    self._salt = job.salt
                    signed = exchanges[job.neg_risk].build_signed_order(data)
                except (ValueError, KeyError) as exc:
                    out.append(SignFailure(job, f"cannot sign: {exc}"))
                    continue
                envelope = to_json(signed, job.owner, intent.order_type.upper(), intent.post_only)
                order_id = signing.parse_wire_order(envelope["order"], job.neg_risk, self._chain_id).order_id
                out.append(SignedEnvelope(job, envelope, order_id))
        return out


def refused(intent: OrderIntent, error: str) -> PlaceResult:
    return PlaceResult(intent=intent, ok=False, error=error)


def result_of(signed: SignedEnvelope, item: Any) -> PlaceResult:
    """One element of a POST /order(s) answer as a PlaceResult."""
    intent = signed.job.intent
    if not isinstance(item, Mapping):
        return refused(intent, f"unexpected answer element: {type(item).__name__}")
    error = str(item.get("errorMsg") or item.get("error") or "")
    order_id = str(item.get("orderID") or "")
    status = str(item.get("status") or "").lower()
    if item.get("success", True) is True and order_id and status in ACCEPTED_STATUSES:
        return PlaceResult(intent=intent, ok=True, order_id=order_id, status=status)
    return refusal_of(signed, error or f"order refused (status {status or 'none'})")


def refusal_of(signed: SignedEnvelope, error: str) -> PlaceResult:
    """The venue refused this order with `error` (a whole-request 400 or one batch element)."""
    if DUPLICATED in error:
        # Only a retried request meets its own order again (salts never repeat): it is on the book.
        return PlaceResult(intent=signed.job.intent, ok=True, order_id=signed.order_id, status="live")
    return refused(signed.job.intent, error)
