"""Balances, reservations, API keys and heartbeats of the local exchange's accounts.

Settlement follows the real CLOB: at MATCHED what an account gives leaves its balance at once, what
it receives is *pending* until the trade is CONFIRMED; a FAILED trade refunds what was given and the
pending credit never arrives (the "ghost fill": shares bought but not yet settled cannot be sold).
Open orders reserve what they would give (BUY: remaining x price in pUSD, SELL: remaining shares).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from polymm_cli.model import ZERO

COLLATERAL = "COLLATERAL"
MAX_ALLOWANCE = str(2**256 - 1)


@dataclass(slots=True)
class Account:
    address: str
    collateral: Decimal = ZERO
    tokens: dict[str, Decimal] = field(default_factory=dict)
    allowance_set: bool = False
    reserved_collateral: Decimal = ZERO
    reserved_tokens: dict[str, Decimal] = field(default_factory=dict)
    pending_collateral: Decimal = ZERO
    pending_tokens: dict[str, Decimal] = field(default_factory=dict)

    def balance(self, asset: str) -> Decimal:
        return self.collateral if asset == COLLATERAL else self.tokens.get(asset, ZERO)

    def reserved(self, asset: str) -> Decimal:
        return self.reserved_collateral if asset == COLLATERAL else self.reserved_tokens.get(asset, ZERO)

    def free(self, asset: str) -> Decimal:
        return self.balance(asset) - self.reserved(asset)

    def credit(self, asset: str, amount: Decimal) -> None:
        if asset == COLLATERAL:
            self.collateral += amount
        else:
            self.tokens[asset] = self.tokens.get(asset, ZERO) + amount

    def reserve(self, asset: str, amount: Decimal) -> None:
        if asset == COLLATERAL:
            self.reserved_collateral += amount
        else:
            self.reserved_tokens[asset] = self.reserved_tokens.get(asset, ZERO) + amount

    def add_pending(self, asset: str, amount: Decimal) -> None:
        if asset == COLLATERAL:
            self.pending_collateral += amount
        else:
            self.pending_tokens[asset] = self.pending_tokens.get(asset, ZERO) + amount


@dataclass(frozen=True, slots=True)
class Leg:
    """One account's side of a trade: what it gave at match time and what it receives at settlement."""

    address: str
    give_asset: str
    give_amount: Decimal
    receive_asset: str
    receive_amount: Decimal


@dataclass(slots=True)
class ApiKey:
    key: str
    secret: str
    passphrase: str
    address: str
    nonce: int


@dataclass(slots=True)
class Heartbeat:
    expected_id: str = ""
    last_beat: float = 0.0
    armed: bool = False


class ApiKeys:
    """API credentials, deterministic per (address, nonce) as on the real CLOB: derived from a
    secret of this exchange's own (random per state file, see LocalExchange), never from its
    public seed, so nobody can compute another account's credentials."""

    def __init__(self, server_secret: bytes) -> None:
        self._server_secret = server_secret
        self.by_key: dict[str, ApiKey] = {}
        self._by_owner: dict[tuple[str, int], ApiKey] = {}

    def _derive(self, address: str, nonce: int) -> ApiKey:
        seed = hmac.new(self._server_secret, f"{address.lower()}:{nonce}".encode(), hashlib.sha256).digest()
        key = str(uuid.UUID(bytes=seed[:16], version=4))
        secret = base64.urlsafe_b64encode(hashlib.sha256(seed + b"secret").digest()).decode()
        passphrase = hashlib.sha256(seed + b"passphrase").hexdigest()
        return ApiKey(key, secret, passphrase, address, nonce)

    def create(self, address: str, nonce: int) -> ApiKey | None:
        """A new key, or None when one exists already for (address, nonce)."""
        if (address.lower(), nonce) in self._by_owner:
            return None
        api_key = self._derive(address, nonce)
        self.register(api_key)
        return api_key

    def derive(self, address: str, nonce: int) -> ApiKey | None:
        """The key created for (address, nonce), as it was handed out (also from an older state file)."""
        return self._by_owner.get((address.lower(), nonce))

    def register(self, api_key: ApiKey) -> None:
        self._by_owner[(api_key.address.lower(), api_key.nonce)] = api_key
        self.by_key[api_key.key] = api_key
