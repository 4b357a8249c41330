"""Everything cryptographic polymm needs, as pure functions: no I/O, no clock, no randomness.

Owns:

* keccak256 and the one-pass EIP-712 digest (pycryptodome's compiled Keccak, called through a
  reused per-thread sponge), EIP-55 checksummed addresses, `address_from_private_key`;
* the CTF Exchange V2 order (reference §4.1): type hash, cached domain separators per
  (chain_id, neg_risk), struct hashing by direct 32-byte packing, `order_digest` (the order id);
* the limit-order amount maths of the official client, in exact Decimal arithmetic
  (`limit_order_amounts`), and the exchange's reading of an incoming order
  (`implied_price_and_size`);
* `SignedOrder` and its POST /order wire form (`order_wire`, identical to the client's
  `order_to_json_v2`), `OrderSigner` (signature types 0-3, ECDSA via coincurve/libsecp256k1; the
  order hot path calls libsecp256k1 through coincurve's compiled module directly),
  `parse_wire_order` and `recover_order_signer` for the local exchange;
* L1 ClobAuth EIP-712 signatures and L2 HMAC request headers (reference §2).

Salts and timestamps are arguments: callers draw them from `polymm_cli.clock` and their own RNG.
Prices and sizes are `Decimal`, never float. Private keys never appear in a repr or an error message.
"""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import functools
import hmac as _hmac
import threading
from collections.abc import Callable, Mapping
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any, Final, cast

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak as _pycryptodome_keccak

from polymm_cli.model import OrderType, Side

__all__ = [
    "CLOB_AUTH_MESSAGE",
    "EXCHANGE_V2",
    "LOCAL_CHAIN_ID",
    "NEG_RISK_EXCHANGE_V2",
    "ORDER_TYPE_STRING",
    "POLYGON_CHAIN_ID",
    "ZERO_BYTES32",
    "OrderSigner",
    "SignedOrder",
    "address_from_private_key",
    "clob_auth_digest",
    "exchange_address",
    "exchange_domain_separator",
    "hmac_signature",
    "implied_price_and_size",
    "is_checksum_address",
    "keccak256",
    "l2_headers",
    "limit_order_amounts",
    "order_digest",
    "order_in_domain",
    "order_struct_hash",
    "order_wire",
    "parse_wire_order",
    "parse_wire_order_struct",
    "recover_clob_auth_signer",
    "recover_order_signer",
    "sign_clob_auth",
    "to_checksum_address",
]

# --------------------------------------------------------------------------------------------------
# keccak256
# --------------------------------------------------------------------------------------------------


def _portable_keccak256(data: bytes) -> bytes:
    return bytes(_pycryptodome_keccak.new(digest_bits=256, data=data).digest())


def _portable_eip712_digest(separator: bytes, encoded_struct: bytes) -> bytes:
    return _portable_keccak256(b"\x19\x01" + separator + _portable_keccak256(encoded_struct))


_ENVELOPE_SIZE: Final = 66  # 0x1901 ‖ domain separator ‖ struct hash
_MAX_ENVELOPES: Final = 64  # per thread; two exchanges per chain id in practice
# pycryptodome's keccak_state: uint64 state[25], then the message buffer (src/keccak.c). The
# envelope sponges are copied into buffers of our own, far larger than the struct (416 bytes), so
# that writing at the buffer's offset never leaves our memory; the probes check the offset.
_SPONGE_BUFFER_OFFSET: Final = 200
_SPONGE_COPY_SIZE: Final = 4096


class _KeccakState:
    """One Keccak-256 sponge of pycryptodome's C library, reset and reused for every hash, with
    its output buffer and one EIP-712 envelope sponge per domain separator (per thread).

    The hashing calls take `state_arg`, `out_arg` and the envelopes' pointers as ready-made
    `byref` arguments: passed a ctypes object, ctypes builds such an argument on every call."""

    __slots__ = ("_functions", "_state_bytes", "envelopes", "out", "out_arg", "state", "state_arg")

    def __init__(self, functions: tuple[Any, ...]) -> None:
        init = functions[0]
        self._functions = functions
        self.state = ctypes.c_void_p()
        self.out = ctypes.create_string_buffer(32)
        self.out_arg = ctypes.byref(self.out)
        self.envelopes: dict[bytes, tuple[Any, Any, Any]] = {}
        if init(ctypes.byref(self.state), 64, 24):  # capacity 2*32 bytes, 24 rounds = Keccak-256
            raise OSError("keccak_init failed")
        # A C object at the sponge's address (not owning it): byref of it passes that address.
        self._state_bytes = ctypes.c_char.from_address(self.state.value or 0)
        self.state_arg = ctypes.byref(self._state_bytes)

    def envelope(self, separator: bytes) -> tuple[Any, Any, Any]:
        """(sponge, pointer to its 32 placeholder bytes, the sponge's buffer) as call arguments: a
        sponge that has absorbed 0x1901 ‖ separator ‖ 32 placeholder bytes and is never permuted
        in place (`keccak_digest` squeezes a copy). The struct hash is squeezed straight over the
        placeholder, and digesting the sponge then hashes the whole envelope: two C calls."""
        init, destroy, _, absorb, copy = self._functions
        if len(self.envelopes) >= _MAX_ENVELOPES:
            self.envelopes.clear()
        fresh = ctypes.c_void_p()
        if init(ctypes.byref(fresh), 64, 24):
            raise OSError("keccak_init failed")
        try:
            absorb(fresh, b"\x19\x01" + separator + bytes(32), _ENVELOPE_SIZE)
            sponge = ctypes.create_string_buffer(_SPONGE_COPY_SIZE)
            copy(fresh, sponge)
        finally:
            destroy(fresh)
        found = self.envelopes[separator] = (
            ctypes.byref(sponge),
            ctypes.byref(sponge, _SPONGE_BUFFER_OFFSET + 34),
            sponge,
        )
        return found

    def __del__(self) -> None:
        try:
            if self.state.value:
                self._functions[1](self.state)
        except Exception:  # interpreter shutdown
            pass


_FAST_KECCAK_MAX_LEN: Final = 1 << 30  # the length travels as a C int (see below)


def _keccak_c_functions() -> tuple[Any, ...] | None:
    """(init, destroy, copy, reset, absorb, digest) of pycryptodome's keccak C library through ctypes'
    PyDLL (no GIL round trip, no hash object per call), or None without the ctypes backend.

    Why no `argtypes` on the per-hash calls: ctypes' argument converters cost ~0.2 us per call,
    a third of a 352-byte hash. Without them a bytes object passes as its buffer pointer, the
    state and output buffer as pointers and the length as a C int, which libffi widens to the
    64-bit `size_t` register on every supported ABI; lengths of 2**30 and more (never an order)
    take the portable path. `_make_keccak` checks the results against the public API."""
    try:
        lib = ctypes.PyDLL(getattr(_pycryptodome_keccak, "_raw_keccak_lib")._name)  # noqa: B009
        init, destroy, copy = lib.keccak_init, lib.keccak_destroy, lib.keccak_copy
        reset, absorb, digest = lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest
        init.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_ubyte]
        destroy.argtypes = [ctypes.c_void_p]
        for fn in (init, destroy, copy, reset, absorb, digest):
            fn.restype = ctypes.c_int
    except Exception:
        return None
    return init, destroy, copy, reset, absorb, digest


def _fast_keccak_functions(
    init: Any, destroy: Any, copy: Any, reset: Any, absorb: Any, digest: Any
) -> tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]:
    """keccak256 and the EIP-712 digest on a per-thread reused sponge (`keccak_digest` squeezes
    a copy of the sponge, so every hash starts with a reset) and per-thread envelope sponges."""
    local = threading.local()
    state_functions = (init, destroy, reset, absorb, copy)

    def fast_keccak256(data: bytes) -> bytes:
        try:
            st: _KeccakState = local.st
        except AttributeError:
            st = local.st = _KeccakState(state_functions)
        size = len(data)
        if size >= _FAST_KECCAK_MAX_LEN or data.__class__ is not bytes:
            return _portable_keccak256(data)
        state = st.state_arg
        reset(state)
        absorb(state, data, size)
        digest(state, st.out_arg, 32, 1)  # padding 0x01: original Keccak, not SHA3
        return st.out.raw

    def fast_eip712_digest(separator: bytes, encoded_struct: bytes) -> bytes:
        try:
            st: _KeccakState = local.st
        except AttributeError:
            st = local.st = _KeccakState(state_functions)
        size = len(encoded_struct)
        if size >= _FAST_KECCAK_MAX_LEN or encoded_struct.__class__ is not bytes or len(separator) != 32:
            return _portable_eip712_digest(separator, encoded_struct)
        envelope = st.envelopes.get(separator) or st.envelope(separator)
        state = st.state_arg
        reset(state)
        absorb(state, encoded_struct, size)
        digest(state, envelope[1], 32, 1)  # the struct hash, over the envelope's placeholder
        digest(envelope[0], st.out_arg, 32, 1)
        return st.out.raw

    return fast_keccak256, fast_eip712_digest


def _make_keccak() -> tuple[Callable[[bytes], bytes], Callable[[bytes, bytes], bytes]]:
    """The fast functions when pycryptodome's C library answers exactly like its public API on
    the startup probes (the EIP-712 probes alternate domains, as the two exchanges do), else the
    portable ones."""
    portable = (_portable_keccak256, _portable_eip712_digest)
    functions = _keccak_c_functions()
    if functions is None:
        return portable
    try:
        fast_keccak256, fast_eip712_digest = _fast_keccak_functions(*functions)
        probes = (b"", b"abc", bytes(range(256)) * 3, bytes(range(200)) * 7)
        separators = (bytes(range(32)), bytes(range(32, 64)))
        if all(fast_keccak256(p) == _portable_keccak256(p) for p in probes) and all(
            fast_eip712_digest(sep, p) == _portable_eip712_digest(sep, p)
            for p in probes
            for sep in separators
        ):
            return fast_keccak256, fast_eip712_digest
    except Exception:
        pass
    return portable


_keccak_functions: Final = _make_keccak()
keccak256: Final[Callable[[bytes], bytes]] = _keccak_functions[0]
"""keccak256(data) -> 32-byte digest (Ethereum's Keccak-256, not SHA3-256)."""
_eip712_digest: Final[Callable[[bytes, bytes], bytes]] = _keccak_functions[1]
"""_eip712_digest(domain separator, encoded struct) -> keccak256(0x1901 ‖ separator ‖
keccak256(encoded struct)), the digest an EIP-712 signature signs, in one pass over the C sponge."""


# --------------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------------

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_ZERO12: Final = bytes(12)


def _is_hex(text: str) -> bool:
    return all(c in _HEX_DIGITS for c in text)


def _address_body(address: str) -> str:
    """The 40 lower-case hex digits of an address, or ValueError."""
    if (
        not isinstance(address, str)
        or len(address) != 42
        or address[:2] not in ("0x", "0X")
        or not _is_hex(address[2:])
    ):
        raise ValueError(f"not an address (0x + 40 hex digits): {address!r}")
    return address[2:].lower()


@functools.lru_cache(maxsize=4096)
def to_checksum_address(address: str) -> str:
    """EIP-55 form of an address given in any case (the input's own case is not checked)."""
    body = _address_body(address)
    digest = keccak256(body.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(body, digest[:40], strict=True))


def is_checksum_address(address: str) -> bool:
    """True when `address` is a well-formed address spelled exactly in its EIP-55 case."""
    try:
        return to_checksum_address(address) == address
    except ValueError:
        return False


@functools.lru_cache(maxsize=4096)
def _address_word(address: str) -> bytes:
    """ABI word of an address: 12 zero bytes then the 20 address bytes."""
    return _ZERO12 + bytes.fromhex(_address_body(address))


def _parse_private_key(private_key_hex: str) -> PrivateKey:
    if not isinstance(private_key_hex, str):
        raise ValueError("private key must be a hex string")
    text = private_key_hex[2:] if private_key_hex[:2] in ("0x", "0X") else private_key_hex
    if len(text) != 64 or not _is_hex(text):
        raise ValueError("private key must be 32 bytes of hex (64 digits, optional 0x)")
    try:
        return PrivateKey(bytes.fromhex(text))
    except ValueError:
        raise ValueError("private key is not a valid secp256k1 scalar") from None


def _address_of_public_key(public_key: PublicKey) -> str:
    return to_checksum_address("0x" + keccak256(public_key.format(compressed=False)[1:])[12:].hex())


def address_from_private_key(private_key_hex: str) -> str:
    """Checksummed Ethereum address of a hex private key (with or without 0x)."""
    return _address_of_public_key(_parse_private_key(private_key_hex).public_key)


# --------------------------------------------------------------------------------------------------
# ECDSA (secp256k1, Ethereum r‖s‖v encoding)
# --------------------------------------------------------------------------------------------------

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SECP256K1_HALF_N: Final = _SECP256K1_N // 2


def _sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """65-byte r‖s‖v (v = 27/28) over a 32-byte digest, RFC 6979 nonce, low s (as eth_account)."""
    sig = key.sign_recoverable(digest, hasher=None)
    return sig[:64] + (b"\x1c" if sig[64] else b"\x1b")


def _portable_signature_hex(key: PrivateKey, digest: bytes) -> str:
    return "0x" + _sign_digest(key, digest).hex()


def _make_signature_hex() -> Callable[[PrivateKey, bytes], str]:
    """`signature_hex(key, digest)`: "0x" + r‖s‖v hex (v = 27/28) of the same libsecp256k1 call
    that `PrivateKey.sign_recoverable(digest, hasher=None)` makes (same context, default RFC 6979
    nonce), on per-thread output buffers. Why: coincurve's wrapper allocates three C objects and
    joins bytes per signature, ~1.5 us that the order hot path does not need. It falls back to
    the public API when coincurve's compiled module is not where it is expected or a startup
    probe differs from it; a digest that is not 32 bytes or a failed signature take the public
    API too, which raises coincurve's own ValueError."""
    try:
        from coincurve._libsecp256k1 import ffi, lib

        sign = lib.secp256k1_ecdsa_sign_recoverable
        serialize = lib.secp256k1_ecdsa_recoverable_signature_serialize_compact
        null = ffi.NULL
    except Exception:
        return _portable_signature_hex
    local = threading.local()

    def fast_signature_hex(key: PrivateKey, digest: bytes) -> str:
        try:
            signature, compact, recovery_id, compact_bytes = local.buffers
        except AttributeError:
            signature = ffi.new("secp256k1_ecdsa_recoverable_signature *")
            compact = ffi.new("unsigned char[64]")
            recovery_id = ffi.new("int *")
            compact_bytes = ffi.buffer(compact)
            local.buffers = (signature, compact, recovery_id, compact_bytes)
        context = key.context.ctx
        if len(digest) != 32 or not sign(context, signature, digest, key.secret, null, null):
            return _portable_signature_hex(key, digest)
        serialize(context, compact, recovery_id, signature)
        r_and_s: bytes = compact_bytes[:]
        return "0x" + r_and_s.hex() + ("1c" if recovery_id[0] else "1b")

    try:
        probe_key = PrivateKey(bytes(31) + b"\x01")
        if all(
            fast_signature_hex(probe_key, digest) == _portable_signature_hex(probe_key, digest)
            for digest in (bytes(32), bytes(range(32)), b"\xff" * 32)
        ):
            return fast_signature_hex
    except Exception:
        pass
    return _portable_signature_hex


_signature_hex: Final = _make_signature_hex()


def _recover_address(sig65: bytes, digest: bytes) -> str:
    """Signer (checksummed) of a 65-byte r‖s‖v signature over `digest`; ValueError when malformed."""
    return to_checksum_address(_recover_lower(sig65, digest))


def _recover_lower(sig65: bytes, digest: bytes) -> str:
    """Signer (lower case: no checksum hashing) of a 65-byte r‖s‖v signature over `digest`."""
    if len(sig65) != 65:
        raise ValueError(f"ECDSA signature must be 65 bytes (r‖s‖v), got {len(sig65)}")
    v = sig65[64]
    if v not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {v}")
    r = int.from_bytes(sig65[:32], "big")
    s = int.from_bytes(sig65[32:64], "big")
    if not 0 < r < _SECP256K1_N:
        raise ValueError("signature r is out of range")
    if not 0 < s <= _SECP256K1_HALF_N:
        raise ValueError("signature s is zero or not canonical (high s)")
    try:
        public_key = PublicKey.from_signature_and_message(sig65[:64] + bytes((v - 27,)), digest, hasher=None)
    except Exception:
        raise ValueError("signature does not recover to a public key") from None
    return "0x" + keccak256(public_key.format(compressed=False)[1:])[12:].hex()


def _hex_bytes(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a hex string")
    body = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise ValueError(f"{what} is not valid hex") from None


# --------------------------------------------------------------------------------------------------
# The V2 order: EIP-712 type, domains, struct hash
# --------------------------------------------------------------------------------------------------

ORDER_TYPE_STRING: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_ORDER_TYPE_HASH: Final = keccak256(ORDER_TYPE_STRING.encode())
_DOMAIN_TYPE_HASH: Final = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_EXCHANGE_NAME_HASH: Final = keccak256(b"Polymarket CTF Exchange")
_EXCHANGE_VERSION_HASH: Final = keccak256(b"2")

POLYGON_CHAIN_ID: Final = 137
LOCAL_CHAIN_ID: Final = 123_623_863_577_965
"""The EIP-155 chain id of polymm's local world: what orders and L1 auth for the local exchange are
signed for. It spells "polymm" in ASCII (0x706f6c796d6d): a 47-bit number no network is known to
use, below 2**53 so JavaScript tooling holds it exactly. A signature for this domain does not verify
under Polygon's (137) or Amoy's (80002), so nothing signed for local play can be replayed against
real money."""

EXCHANGE_V2: Final = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2: Final = "0xe2222d279d744050d28e00520010520000310F59"
ZERO_BYTES32: Final = "0x" + "0" * 64

# POLY_1271 (deposit wallets): Solady ERC-7739 nested typed data, reference §4.1.
_TYPED_DATA_SIGN_TYPE_HASH: Final = keccak256(
    (
        "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
        "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
    ).encode()
)
_DEPOSIT_WALLET_NAME_HASH: Final = keccak256(b"DepositWallet")
_DEPOSIT_WALLET_VERSION_HASH: Final = keccak256(b"1")
_POLY_1271_TYPE_TAIL: Final = ORDER_TYPE_STRING.encode() + len(ORDER_TYPE_STRING).to_bytes(2, "big")
_POLY_1271_TAIL_HEX: Final = _POLY_1271_TYPE_TAIL.hex()
_POLY_1271_SIG_LEN: Final = 65 + 32 + 32 + len(_POLY_1271_TYPE_TAIL)

_EIP712_PREFIX: Final = b"\x19\x01"
_SIDE_WORD: Final = {Side.BUY: bytes(32), Side.SELL: bytes(31) + b"\x01"}
# Why: `Side.BUY` is an enum class attribute lookup (~0.3 us); the hot paths compare with globals
_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_ZERO_METADATA_AND_BUILDER: Final = bytes(64)
_MAX_CACHED_TOKENS: Final = 4096  # per signer: the Order words of each token id it signs for
_SIGNATURE_TYPES: Final = (0, 1, 2, 3)
_POLY_1271: Final = 3


def exchange_address(neg_risk: bool) -> str:
    """verifyingContract of the V2 exchange for a market: NegRisk CTF Exchange or CTF Exchange."""
    return NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2


@functools.lru_cache(maxsize=64)
def exchange_domain_separator(chain_id: int = 137, neg_risk: bool = False) -> bytes:
    """EIP-712 domain separator of the V2 exchange (name, version "2", chainId, verifyingContract)."""
    return keccak256(
        _DOMAIN_TYPE_HASH
        + _EXCHANGE_NAME_HASH
        + _EXCHANGE_VERSION_HASH
        + _uint256_word(chain_id, "chain_id")
        + _address_word(exchange_address(neg_risk))
    )


def _uint256_word(value: int, what: str) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what} must be an int")
    try:
        return value.to_bytes(32, "big")
    except OverflowError:
        raise ValueError(f"{what} is not a uint256: {value}") from None


@functools.lru_cache(maxsize=4096)
def _token_word(token_id: str) -> bytes:
    if not isinstance(token_id, str) or not token_id.isascii() or not token_id.isdigit():
        raise ValueError(f"token id must be a uint256 decimal string, got {token_id!r}")
    return _uint256_word(int(token_id), "token id")


@functools.lru_cache(maxsize=1024)
def _bytes32_word(value: str) -> bytes:
    if not isinstance(value, str) or len(value) != 66 or value[:2] != "0x" or not _is_hex(value[2:]):
        raise ValueError(f"bytes32 field must be 0x + 64 hex digits, got {value!r}")
    return bytes.fromhex(value[2:])


def _side_word(side: Side) -> bytes:
    try:
        return _SIDE_WORD[side]
    except KeyError:
        raise ValueError(f"side must be BUY or SELL, got {side!r}") from None


def _signature_type_word(signature_type: int) -> bytes:
    if signature_type not in _SIGNATURE_TYPES or isinstance(signature_type, bool):
        raise ValueError(f"signature type must be 0, 1, 2 or 3, got {signature_type!r}")
    return bytes(31) + bytes((signature_type,))


def _pack_order(
    salt: int,
    party_words: bytes,
    token_word: bytes,
    maker_amount: int,
    taker_amount: int,
    side_word: bytes,
    signature_type_word: bytes,
    timestamp_ms: int,
    metadata_word: bytes,
    builder_word: bytes,
) -> bytes:
    """abi.encode(ORDER_TYPE_HASH, ...) of the Order struct; `party_words` is maker‖signer.
    Integers must be non-negative (OverflowError when one does not fit 32 bytes)."""
    return b"".join(
        (
            _ORDER_TYPE_HASH,
            salt.to_bytes(32, "big"),
            party_words,
            token_word,
            maker_amount.to_bytes(32, "big"),
            taker_amount.to_bytes(32, "big"),
            side_word,
            signature_type_word,
            timestamp_ms.to_bytes(32, "big"),
            metadata_word,
            builder_word,
        )
    )


_UINT256_LIMIT: Final = 1 << 256


def _check_uints(**fields: int) -> None:
    for name, value in fields.items():
        if value.__class__ is not int:
            _uint256_word(value, name)  # ValueError for bools and non-ints
        if not 0 <= value < _UINT256_LIMIT:
            raise ValueError(f"{name} is not a uint256: {value}")


def _check_order_integers(
    maker_amount: int, taker_amount: int, salt: int, timestamp_ms: int, expiration: int
) -> None:
    """Positive amounts, uint256 salt, timestamp and expiration. The common valid case is one
    inline test (hot path); otherwise `_check_uints` names the offending field. Values too large
    for 32 bytes but otherwise valid are caught when packing."""
    if (
        maker_amount.__class__ is int
        and taker_amount.__class__ is int
        and salt.__class__ is int
        and timestamp_ms.__class__ is int
        and expiration.__class__ is int
        and maker_amount > 0
        and taker_amount > 0
        and salt >= 0
        and timestamp_ms >= 0
        and 0 <= expiration < _UINT256_LIMIT
    ):
        return
    _check_uints(
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        salt=salt,
        timestamp_ms=timestamp_ms,
        expiration=expiration,
    )
    raise ValueError(f"amounts must be positive, got {maker_amount} and {taker_amount}")


def order_struct_hash(
    *,
    salt: int,
    maker: str,
    signer: str,
    token_id: str,
    maker_amount: int,
    taker_amount: int,
    side: Side,
    signature_type: int,
    timestamp_ms: int,
    metadata: str = ZERO_BYTES32,
    builder: str = ZERO_BYTES32,
) -> bytes:
    """hashStruct(Order) of EIP-712 (also the `contents` hash of a POLY_1271 signature)."""
    _check_uints(salt=salt, maker_amount=maker_amount, taker_amount=taker_amount, timestamp_ms=timestamp_ms)
    return keccak256(
        _pack_order(
            salt,
            _address_word(maker) + _address_word(signer),
            _token_word(token_id),
            maker_amount,
            taker_amount,
            _side_word(side),
            _signature_type_word(signature_type),
            timestamp_ms,
            _bytes32_word(metadata),
            _bytes32_word(builder),
        )
    )


def order_digest(
    *,
    salt: int,
    maker: str,
    signer: str,
    token_id: str,
    maker_amount: int,
    taker_amount: int,
    side: Side,
    signature_type: int,
    timestamp_ms: int,
    metadata: str = ZERO_BYTES32,
    builder: str = ZERO_BYTES32,
    neg_risk: bool,
    chain_id: int = 137,
) -> bytes:
    """EIP-712 digest keccak(0x1901 ‖ domainSeparator ‖ hashStruct(Order)); the order id is "0x" + hex."""
    struct_hash = order_struct_hash(
        salt=salt,
        maker=maker,
        signer=signer,
        token_id=token_id,
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        side=side,
        signature_type=signature_type,
        timestamp_ms=timestamp_ms,
        metadata=metadata,
        builder=builder,
    )
    return keccak256(_EIP712_PREFIX + exchange_domain_separator(chain_id, neg_risk) + struct_hash)


def _poly_1271_digest(
    struct_hash: bytes, domain_separator: bytes, chain_id_word: bytes, wallet: str
) -> bytes:
    """What the deposit wallet's owner EOA signs: the Order nested in the wallet's TypedDataSign."""
    typed_data_sign = keccak256(
        b"".join(
            (
                _TYPED_DATA_SIGN_TYPE_HASH,
                struct_hash,
                _DEPOSIT_WALLET_NAME_HASH,
                _DEPOSIT_WALLET_VERSION_HASH,
                chain_id_word,
                _address_word(wallet),
                bytes(32),  # the wallet domain's salt
            )
        )
    )
    return keccak256(_EIP712_PREFIX + domain_separator + typed_data_sign)


# --------------------------------------------------------------------------------------------------
# Amount maths
# --------------------------------------------------------------------------------------------------

# tick -> (price decimals, size decimals, amount decimals): the client's ROUNDING_CONFIG (§4.2).
_ROUNDING: Final[dict[Decimal, tuple[int, int, int]]] = {
    Decimal("0.1"): (1, 2, 3),
    Decimal("0.01"): (2, 2, 4),
    Decimal("0.005"): (3, 2, 5),
    Decimal("0.0025"): (4, 2, 6),
    Decimal("0.001"): (3, 2, 5),
    Decimal("0.0001"): (4, 2, 6),
}
_MAX_PRICE: Final = {tick: 1 - tick for tick in _ROUNDING}  # computed once, not per order
_QUANTUM: Final = tuple(Decimal(1).scaleb(-d) for d in range(16))  # 10**-d
# Wide enough that every operation below is exact for any amount that fits a uint256.
_EXACT: Final = Context(prec=120, Emax=999, Emin=-999, traps=[InvalidOperation, DivisionByZero, Overflow])
_PRICE_PREC: Final = 40
_PRICE_CTX: Final = Context(prec=_PRICE_PREC, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])
_MAX_SIZE_DIGITS: Final = 60  # sizes of 1e60 shares and more are refused (amounts must fit a uint256)
_MAX_SIZE_CENTS: Final = 10 ** (_MAX_SIZE_DIGITS + 2)


def _tick_grid(tick: Decimal, price_decimals: int) -> tuple[int, int, int, int]:
    """(price units per 1, lowest and highest price in price units, 1e-6 units per price unit x
    cent) of a tick at its price decimals: what `_grid_amounts` needs, computed once."""
    scale = 10**price_decimals
    tick_units = int(tick.scaleb(price_decimals))
    return scale, tick_units, scale - tick_units, 10 ** (4 - price_decimals)


# Every row of the table qualifies: 2 size decimals, amount decimals = price decimals + 2.
_TICK_GRID: Final = {
    tick: _tick_grid(tick, price_decimals)
    for tick, (price_decimals, size_decimals, amount_decimals) in _ROUNDING.items()
    if size_decimals == 2 and amount_decimals == price_decimals + 2
}


def _cap_decimals(value: Decimal, decimals: int) -> Decimal:
    """The client's rule for an amount with more than `decimals` decimals: round up at decimals+4,
    then, if that still has too many, round down to `decimals`."""
    if value.quantize(_QUANTUM[decimals], ROUND_FLOOR, _EXACT) == value:
        return value
    value = value.quantize(_QUANTUM[decimals + 4], ROUND_CEILING, _EXACT)
    return value.quantize(_QUANTUM[decimals], ROUND_FLOOR, _EXACT)


def _base_units(value: Decimal) -> int:
    """Decimal pUSD/shares -> integer 1e-6 units, half-even like the client's to_token_decimals."""
    return int(value.scaleb(6, _EXACT).to_integral_value(ROUND_HALF_EVEN, _EXACT))


def _grid_amounts(
    side: Side, price: Decimal, size: Decimal, grid: tuple[int, int, int, int]
) -> tuple[int, int] | None:
    """`limit_order_amounts` in integers, checks included, for the common case: a finite price
    with at most the tick's price decimals (every price on the tick grid) within [tick, 1 - tick],
    and a finite size of at least one cent and under 1e60 shares. The price needs no rounding,
    the size is floored to cents, and the notional (price units x cents) has exactly the amount
    decimals of the client's table (price decimals + 2), so step 4 never applies. None for any
    other input: the checked path then refuses it or computes it in Decimal.
    tests/test_signing.py checks it against the checked path, refusals included."""
    scale, lowest, highest, units_per_price_cent = grid
    if not price.is_finite() or not size.is_finite():
        return None
    # A huge or tiny exponent (a typo such as 1E+999999999) would build an enormous integer below:
    # such sizes and prices are refused cheaply by the checked path.
    if size.adjusted() >= _MAX_SIZE_DIGITS or size.adjusted() < -_MAX_SIZE_DIGITS or price.adjusted() < -40:
        return None
    try:
        numerator, denominator = price.as_integer_ratio()
        size_numerator, size_denominator = size.as_integer_ratio()
    except (ValueError, OverflowError):  # NaN, infinities
        return None
    if scale % denominator:
        return None
    price_units = numerator * (scale // denominator)
    if not lowest <= price_units <= highest:
        return None
    cents = size_numerator * 100 // size_denominator
    if not 0 < cents < _MAX_SIZE_CENTS:
        return None
    if side is _BUY:
        return price_units * cents * units_per_price_cent, cents * 10_000
    if side is _SELL:
        return cents * 10_000, price_units * cents * units_per_price_cent
    return None


def limit_order_amounts(side: Side, price: Decimal, size: Decimal, tick: Decimal) -> tuple[int, int]:
    """(maker_amount, taker_amount) in 1e-6 base units of a limit order, by the rules of the
    official client's `create_order` + `OrderBuilder.get_order_amounts` (reference §4.2):

    1. the price must lie in [tick, 1 - tick] (else ValueError, like the client);
    2. the price is rounded half-even to the tick's price decimals (Python `round`, as the client;
       it is not snapped to the tick grid — quote on the grid);
    3. the size is cut down to 2 decimals; BUY gives size x price pUSD for size shares, SELL gives
       size shares for size x price pUSD;
    4. a notional with more decimals than the tick's amount decimals is rounded up at amount+4
       decimals and then, if still too long, down to the amount decimals.

    Everything here is exact Decimal arithmetic. In exact arithmetic step 4 never fires (price
    decimals + 2 never exceed the amount decimals in the client's table); it is kept for fidelity.

    Where the official client differs (it computes in binary floats):

    * step 3's `floor(size * 100)` loses a cent when the float `size * 100` lands just below an
      integer: size 1.13 gives `1.13 * 100 == 112.99999999999999`, so the client signs 1.12
      shares (and 1.12 x price), where this function keeps 1.13. This hits about 5.9% of the
      2-decimal sizes from 1 to 100000 (1.13-1.16, 2.01, 4.02, ...; 10.29 is not one of them);
      sizes with more decimals are hit only when the cut lands on such a value (~0.15%);
    * step 2, for prices off the price decimals (never on the tick grid): a price exactly half
      way between two steps whose float is not exactly half way (0.145 is 0.14499999999999999)
      is rounded by the client according to the float, here half-even on the exact value.

    No other step diverges: on the grid the client's `round` of the price and of the 1e6-scaled
    amounts absorbs float error, and so does step 4 for the product. tests/test_signing.py checks
    this rule on thousands of inputs.
    """
    grid = _TICK_GRID.get(tick)
    if grid is not None and price.__class__ is Decimal and size.__class__ is Decimal:
        amounts = _grid_amounts(side, price, size, grid)
        if amounts is not None:
            return amounts
    return _checked_amounts(side, price, size, tick)


def _checked_amounts(side: Side, price: Decimal, size: Decimal, tick: Decimal) -> tuple[int, int]:
    """`limit_order_amounts` for any input: the checks with their error messages, then Decimal."""
    rounding = _ROUNDING.get(tick)
    if rounding is None:
        raise ValueError(
            f"unsupported tick size {tick} (expected one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001)"
        )
    if not isinstance(price, Decimal) or not isinstance(size, Decimal):
        raise TypeError("price and size must be Decimal")
    if not price.is_finite() or not size.is_finite():
        raise ValueError(f"price and size must be finite, got {price} and {size}")
    if price < tick or price > _MAX_PRICE[tick]:
        raise ValueError(f"invalid price ({price}), min: {tick} - max: {1 - tick}")
    if size.adjusted() >= _MAX_SIZE_DIGITS:
        raise ValueError(f"size {size} is too large")
    return _decimal_amounts(side, price, size, rounding)


def _decimal_amounts(
    side: Side, price: Decimal, size: Decimal, rounding: tuple[int, int, int]
) -> tuple[int, int]:
    """Steps 2-4 of `limit_order_amounts` in exact Decimal arithmetic (any price, any row)."""
    price_decimals, size_decimals, amount_decimals = rounding
    rounded_price = price.quantize(_QUANTUM[price_decimals], ROUND_HALF_EVEN, _EXACT)
    shares = size.quantize(_QUANTUM[size_decimals], ROUND_FLOOR, _EXACT)
    if shares <= 0:
        raise ValueError(f"size {size} rounds down to zero shares (sizes have {size_decimals} decimals)")
    notional = _cap_decimals(_EXACT.multiply(shares, rounded_price), amount_decimals)
    if side is _BUY:
        return _base_units(notional), _base_units(shares)
    if side is _SELL:
        return _base_units(shares), _base_units(notional)
    return _decimal_amounts(Side(side), price, size, rounding)


def implied_price_and_size(side: Side, maker_amount: int, taker_amount: int) -> tuple[Decimal, Decimal]:
    """(price, size in shares) an exchange reads from an order's amounts (reference §4.2):
    BUY: price = maker/taker, size = taker/1e6; SELL: price = taker/maker, size = maker/1e6.

    The size is exact (6 decimals). The price is exact whenever the ratio is a terminating decimal
    of at most 40 significant digits (every limit order the client builds); otherwise (market
    orders, hand-made amounts) it is the ratio rounded half-even to 40 significant digits, which is
    never on a tick grid."""
    for name, amount in (("maker_amount", maker_amount), ("taker_amount", taker_amount)):
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError(f"{name} must be a positive int, got {amount!r}")
    maker, taker = Decimal(maker_amount), Decimal(taker_amount)
    if side is Side.BUY:
        return _PRICE_CTX.divide(maker, taker), taker.scaleb(-6, _EXACT)
    if side is Side.SELL:
        return _PRICE_CTX.divide(taker, maker), maker.scaleb(-6, _EXACT)
    return implied_price_and_size(Side(side), maker_amount, taker_amount)


# --------------------------------------------------------------------------------------------------
# Signed orders
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SignedOrder:
    """A signed V2 order: the wire fields of POST /order plus its id (the EIP-712 order digest).

    `expiration` travels on the wire but is not signed. `order_id` is stored, not recomputed:
    `recover_order_signer` never trusts it."""

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: int
    timestamp_ms: int
    metadata: str
    builder: str
    expiration: int
    signature: str
    order_id: str


# Why: the frozen dataclass __init__ sets its 14 fields through object.__setattr__ (~1.4 us, a
# sixth of the signing overhead above the ECDSA). A mutable twin with the very same slots is filled
# by plain attribute stores, then becomes a SignedOrder by `__class__` assignment, which CPython
# allows between classes of identical slot layout: the identical, still-immutable object in about
# 40% of the time. The twin is derived from SignedOrder's own fields, and the import fails loudly
# below if the two ever stop building equal objects.
_SignedOrderDraft: Final[type] = dataclasses.make_dataclass(
    "_SignedOrderDraft", [(field.name, field.type) for field in dataclasses.fields(SignedOrder)], slots=True
)


def _new_signed_order(
    salt: int,
    maker: str,
    signer: str,
    token_id: str,
    maker_amount: int,
    taker_amount: int,
    side: Side,
    signature_type: int,
    timestamp_ms: int,
    metadata: str,
    builder: str,
    expiration: int,
    signature: str,
    order_id: str,
) -> SignedOrder:
    """SignedOrder(...) without the frozen dataclass __init__ (same object, same fields)."""
    signed = _SignedOrderDraft(
        salt,
        maker,
        signer,
        token_id,
        maker_amount,
        taker_amount,
        side,
        signature_type,
        timestamp_ms,
        metadata,
        builder,
        expiration,
        signature,
        order_id,
    )
    signed.__class__ = SignedOrder
    return cast(SignedOrder, signed)


def _check_signed_order_draft() -> None:
    """The drafted order must equal, field for field, the one the dataclass constructor builds,
    and stay frozen."""
    values = tuple(range(len(dataclasses.fields(SignedOrder))))
    drafted = _new_signed_order(*values)  # type: ignore[arg-type]
    if drafted.__class__ is not SignedOrder or drafted != SignedOrder(*values):  # type: ignore[arg-type]
        raise RuntimeError("SignedOrder changed: _SignedOrderDraft no longer builds an equal order")
    try:
        drafted.__setattr__("salt", -1)
    except dataclasses.FrozenInstanceError:
        return
    raise RuntimeError("a drafted SignedOrder is not frozen")


_check_signed_order_draft()


def order_wire(
    signed: SignedOrder,
    owner: str,
    order_type: str | OrderType,
    post_only: bool,
    defer_exec: bool = False,
) -> dict[str, Any]:
    """The POST /order body, key for key and type for type what the client's `order_to_json_v2`
    builds: salt and signatureType ints, amounts/timestamp/expiration strings, side "BUY"/"SELL"."""
    return {
        "order": {
            "salt": signed.salt,
            "maker": signed.maker,
            "signer": signed.signer,
            "tokenId": signed.token_id,
            "makerAmount": str(signed.maker_amount),
            "takerAmount": str(signed.taker_amount),
            "side": signed.side.value,
            "expiration": str(signed.expiration),
            "signatureType": signed.signature_type,
            "timestamp": str(signed.timestamp_ms),
            "metadata": signed.metadata,
            "builder": signed.builder,
            "signature": signed.signature,
        },
        "owner": owner,
        "orderType": order_type.value if isinstance(order_type, OrderType) else order_type,
        "deferExec": defer_exec,
        "postOnly": post_only,
    }


def _wire_uint(order: Mapping[str, Any], key: str) -> int:
    try:
        value = order[key]
    except KeyError:
        raise ValueError(f"order is missing {key!r}") from None
    if isinstance(value, bool):
        raise ValueError(f"order {key!r} must be an integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise ValueError(f"order {key!r} must be a non-negative integer, got {value!r}")
    if not 0 <= number < 1 << 256:
        raise ValueError(f"order {key!r} is not a uint256: {value!r}")
    return number


def _wire_str(order: Mapping[str, Any], key: str) -> str:
    try:
        value = order[key]
    except KeyError:
        raise ValueError(f"order is missing {key!r}") from None
    if not isinstance(value, str):
        raise ValueError(f"order {key!r} must be a string, got {value!r}")
    return value


def _signed_hashes(signed: SignedOrder, neg_risk: bool, chain_id: int) -> tuple[bytes, bytes, bytes]:
    """(struct hash, domain separator, order digest) recomputed from the order's fields."""
    struct_hash = _struct_hash_of(signed)
    separator = exchange_domain_separator(chain_id, neg_risk)
    return struct_hash, separator, keccak256(_EIP712_PREFIX + separator + struct_hash)


def _struct_hash_of(signed: SignedOrder) -> bytes:
    return order_struct_hash(
        salt=signed.salt,
        maker=signed.maker,
        signer=signed.signer,
        token_id=signed.token_id,
        maker_amount=signed.maker_amount,
        taker_amount=signed.taker_amount,
        side=signed.side,
        signature_type=signed.signature_type,
        timestamp_ms=signed.timestamp_ms,
        metadata=signed.metadata,
        builder=signed.builder,
    )


def _wire_fields(order: Mapping[str, Any]) -> SignedOrder:
    """The fields of a wire order, checked, with an empty `order_id`."""
    if "order" in order and isinstance(order["order"], Mapping):
        order = order["order"]
    side_raw = order.get("side")
    if side_raw.__class__ in (str, int) and side_raw in ("BUY", 0):
        side = Side.BUY
    elif side_raw.__class__ in (str, int) and side_raw in ("SELL", 1):
        side = Side.SELL
    else:
        raise ValueError(f"order 'side' must be BUY or SELL, got {side_raw!r}")
    signature_type = _wire_uint(order, "signatureType")
    if signature_type not in _SIGNATURE_TYPES:
        raise ValueError(f"order 'signatureType' must be 0, 1, 2 or 3, got {signature_type}")
    token_id = order.get("tokenId")
    if isinstance(token_id, int) and not isinstance(token_id, bool):
        token_id = str(token_id)
    if not isinstance(token_id, str):
        raise ValueError(f"order 'tokenId' must be a decimal string, got {token_id!r}")
    return SignedOrder(
        salt=_wire_uint(order, "salt"),
        maker=to_checksum_address(_wire_str(order, "maker")),
        signer=to_checksum_address(_wire_str(order, "signer")),
        token_id=token_id,
        maker_amount=_wire_uint(order, "makerAmount"),
        taker_amount=_wire_uint(order, "takerAmount"),
        side=side,
        signature_type=signature_type,
        timestamp_ms=_wire_uint(order, "timestamp"),
        metadata=_wire_str(order, "metadata"),
        builder=_wire_str(order, "builder"),
        expiration=_wire_uint(order, "expiration") if "expiration" in order else 0,
        signature=_wire_str(order, "signature"),
        order_id="",
    )


def _parse_wire(order: Mapping[str, Any], neg_risk: bool, chain_id: int) -> tuple[SignedOrder, bytes, bytes]:
    parsed = _wire_fields(order)
    struct_hash, separator, digest = _signed_hashes(parsed, neg_risk, chain_id)
    return dataclasses.replace(parsed, order_id="0x" + digest.hex()), struct_hash, separator


def parse_wire_order_struct(order: Mapping[str, Any]) -> tuple[SignedOrder, bytes]:
    """The wire order's fields (its `order_id` empty) and its EIP-712 struct hash, which are the
    same under every exchange domain: a server that accepts several domains parses and hashes an
    order once, then calls `order_in_domain` per domain. ValueError on any malformed field."""
    parsed = _wire_fields(order)
    return parsed, _struct_hash_of(parsed)


def order_in_domain(
    signed: SignedOrder, struct_hash: bytes, neg_risk: bool, chain_id: int
) -> tuple[str, str]:
    """(order id, lower-case signer address) of an order from `parse_wire_order_struct` under one
    exchange domain: what `parse_wire_order(...).order_id` and `recover_order_signer(...).lower()`
    give for it, with one hashing and no checksum. ValueError when the signature is malformed (or,
    for POLY_1271, wraps another domain)."""
    separator = exchange_domain_separator(chain_id, neg_risk)
    digest = keccak256(_EIP712_PREFIX + separator + struct_hash)
    return "0x" + digest.hex(), _recover_signature(signed, struct_hash, separator, digest, chain_id)


def parse_wire_order(order: Mapping[str, Any], neg_risk: bool, chain_id: int = 137) -> SignedOrder:
    """A SignedOrder from a wire order (the POST /order body or its "order" member), with its
    order id computed for the given exchange. Addresses come back checksummed. Integers are
    accepted as JSON numbers or decimal strings. Raises ValueError on any malformed field; the
    signature is not checked here (see `recover_order_signer`)."""
    return _parse_wire(order, neg_risk, chain_id)[0]


def recover_order_signer(order: SignedOrder | Mapping[str, Any], neg_risk: bool, chain_id: int = 137) -> str:
    """The checksummed EOA whose key produced the order's signature, for the exchange that
    `neg_risk` selects. The digest is recomputed from the fields (a stored order_id is ignored),
    so a tampered field or the wrong exchange recovers some other address.

    Types 0/1/2: ECDSA over the order digest. Type 3 (POLY_1271): the signature must be the
    ERC-7739 wrapper (65-byte ECDSA ‖ app domain separator ‖ contents hash ‖ Order type string ‖
    2-byte length), the wrapped separator and contents hash must be those of this order on this
    exchange (as the wallet contract checks), and the result is the EOA that signed the nested
    TypedDataSign digest for wallet `signer`; whether that EOA owns the wallet needs chain state.

    Raises ValueError for a malformed order or signature."""
    if isinstance(order, SignedOrder):
        signed = order
        struct_hash, separator, digest = _signed_hashes(signed, neg_risk, chain_id)
    else:
        signed, struct_hash, separator = _parse_wire(order, neg_risk, chain_id)
        digest = bytes.fromhex(signed.order_id[2:])
    return to_checksum_address(_recover_signature(signed, struct_hash, separator, digest, chain_id))


def _recover_signature(
    signed: SignedOrder, struct_hash: bytes, separator: bytes, digest: bytes, chain_id: int
) -> str:
    """`recover_order_signer` once the order's hashes are known, in lower case."""
    signature = _hex_bytes(signed.signature, "signature")
    if signed.signature_type != _POLY_1271:
        if len(signature) != 65:
            raise ValueError(f"signature must be 65 bytes (r‖s‖v), got {len(signature)}")
        return _recover_lower(signature, digest)
    if len(signature) != _POLY_1271_SIG_LEN or signature[129:] != _POLY_1271_TYPE_TAIL:
        raise ValueError(
            f"POLY_1271 signature must be {_POLY_1271_SIG_LEN} bytes: ECDSA(65) ‖ domain separator(32)"
            " ‖ contents hash(32) ‖ Order type string ‖ its 2-byte length"
        )
    if signature[65:97] != separator:
        raise ValueError("POLY_1271 signature wraps another exchange's domain separator")
    if signature[97:129] != struct_hash:
        raise ValueError("POLY_1271 signature wraps a different order (contents hash mismatch)")
    wrapped = _poly_1271_digest(struct_hash, separator, _uint256_word(chain_id, "chain_id"), signed.signer)
    return _recover_lower(signature[:65], wrapped)


class OrderSigner:
    """Signs V2 limit orders for one key. `address` is the EOA; `maker` holds the funds (the funder
    for types 1/2/3, else the EOA); `signer` is the EOA, or the deposit wallet for type 3.

    Signature types: 0 EOA (funder, if given, must be the EOA), 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE
    (plain ECDSA by the EOA over the order digest), 3 POLY_1271 (requires the deposit wallet as
    `funder`; ERC-7739 wrapped signature exactly as the client's `_build_poly_1271_order_signature`).
    Addresses are checksummed (the client sends a funder in whatever case it was given)."""

    __slots__ = (
        "_key",
        "_parties_and_token",
        "_party_words",
        "_separators",
        "_side_and_type_words",
        "_sig_type_word",
        "address",
        "chain_id",
        "maker",
        "signature_type",
        "signer",
    )

    def __init__(
        self,
        private_key_hex: str,
        chain_id: int = 137,
        signature_type: int = 0,
        funder: str | None = None,
    ) -> None:
        self._key = _parse_private_key(private_key_hex)
        self.address: str = _address_of_public_key(self._key.public_key)
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise ValueError(f"chain_id must be a positive int, got {chain_id!r}")
        self.chain_id: int = chain_id
        self._sig_type_word = _signature_type_word(signature_type)
        self.signature_type: int = signature_type
        funder_address = None if funder is None else to_checksum_address(funder)
        if signature_type == _POLY_1271:
            if funder_address is None:
                raise ValueError("signature type 3 (POLY_1271) needs the deposit wallet as funder")
            self.maker: str = funder_address
            self.signer: str = funder_address
        else:
            if signature_type == 0 and funder_address not in (None, self.address):
                raise ValueError("signature type 0 (EOA) trades the EOA's own funds: funder must be the EOA")
            self.maker = funder_address or self.address
            self.signer = self.address
        self._party_words = _address_word(self.maker) + _address_word(self.signer)
        self._parties_and_token: dict[str, bytes] = {}
        self._side_and_type_words = (
            _SIDE_WORD[Side.BUY] + self._sig_type_word,
            _SIDE_WORD[Side.SELL] + self._sig_type_word,
        )
        # (standard, neg risk) domain separators, looked up once: the hot path indexes them
        self._separators = (
            exchange_domain_separator(chain_id, False),
            exchange_domain_separator(chain_id, True),
        )

    def __repr__(self) -> str:
        return (
            f"OrderSigner(address={self.address!r}, chain_id={self.chain_id}, "
            f"signature_type={self.signature_type}, maker={self.maker!r})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("OrderSigner holds a private key and cannot be pickled")

    def sign_limit_order(
        self,
        token_id: str,
        side: Side,
        price: Decimal,
        size: Decimal,
        tick: Decimal,
        neg_risk: bool,
        salt: int,
        timestamp_ms: int,
        expiration: int = 0,
        builder: str = ZERO_BYTES32,
        metadata: str = ZERO_BYTES32,
    ) -> SignedOrder:
        """A signed limit order: amounts by `limit_order_amounts`, then `sign_order`."""
        maker_amount, taker_amount = limit_order_amounts(side, price, size, tick)
        return self.sign_order(
            token_id,
            side,
            maker_amount,
            taker_amount,
            neg_risk,
            salt,
            timestamp_ms,
            expiration,
            builder,
            metadata,
        )

    def sign_order(
        self,
        token_id: str,
        side: Side,
        maker_amount: int,
        taker_amount: int,
        neg_risk: bool,
        salt: int,
        timestamp_ms: int,
        expiration: int = 0,
        builder: str = ZERO_BYTES32,
        metadata: str = ZERO_BYTES32,
    ) -> SignedOrder:
        """Sign an order with explicit base-unit amounts (e.g. market orders built elsewhere)."""
        # Long by its 13-line signature; the body stays one frame on purpose: it is the signing hot path.
        if side.__class__ is not Side:
            side = Side(side)
        _check_order_integers(maker_amount, taker_amount, salt, timestamp_ms, expiration)
        # Only salt, amounts and timestamp are packed per order; the rest are cached 64-byte runs.
        # The layout is `_pack_order`'s (the general encoder, for recovery and hashes), kept apart
        # for the hot path; tests compare both with py-clob-client-v2 byte for byte.
        try:
            encoded = b"".join(
                (
                    _ORDER_TYPE_HASH,
                    salt.to_bytes(32, "big"),
                    self._parties_and_token.get(token_id) or self._parties_and_token_word(token_id),
                    maker_amount.to_bytes(32, "big"),
                    taker_amount.to_bytes(32, "big"),
                    self._side_and_type_words[0 if side is _BUY else 1],
                    timestamp_ms.to_bytes(32, "big"),
                    _ZERO_METADATA_AND_BUILDER
                    if metadata == ZERO_BYTES32 and builder == ZERO_BYTES32
                    else _bytes32_word(metadata) + _bytes32_word(builder),
                )
            )
        except OverflowError:
            _check_uints(
                maker_amount=maker_amount, taker_amount=taker_amount, salt=salt, timestamp_ms=timestamp_ms
            )
            raise
        separator = self._separators[1 if neg_risk else 0]
        if self.signature_type != _POLY_1271:  # ECDSA over the digest, r‖s‖v with v = 27/28 (hot path)
            digest = _eip712_digest(separator, encoded)
            signature = _signature_hex(self._key, digest)
        else:
            digest, signature = self._poly_1271_signed(encoded, separator)
        return _new_signed_order(
            salt,
            self.maker,
            self.signer,
            token_id,
            maker_amount,
            taker_amount,
            side,
            self.signature_type,
            timestamp_ms,
            metadata,
            builder,
            expiration,
            signature,
            "0x" + digest.hex(),
        )

    def _parties_and_token_word(self, token_id: str) -> bytes:
        """maker ‖ signer ‖ tokenId words of the Order struct, cached per token id (ValueError for
        a malformed token id, which is not cached)."""
        words = self._party_words + _token_word(token_id)
        if len(self._parties_and_token) >= _MAX_CACHED_TOKENS:
            self._parties_and_token.clear()
        self._parties_and_token[token_id] = words
        return words

    def _poly_1271_signed(self, encoded: bytes, separator: bytes) -> tuple[bytes, str]:
        """(order digest, POLY_1271 signature) of an encoded Order struct."""
        struct_hash = keccak256(encoded)
        digest = keccak256(_EIP712_PREFIX + separator + struct_hash)
        return digest, self._poly_1271_signature(struct_hash, separator)

    def _poly_1271_signature(self, struct_hash: bytes, separator: bytes) -> str:
        """POLY_1271: ECDSA over the ERC-7739 wrapped digest followed by the domain separator, the
        contents hash and the Order type string (the client's `_build_poly_1271_order_signature`)."""
        chain_word = self.chain_id.to_bytes(32, "big")
        wrapped = _poly_1271_digest(struct_hash, separator, chain_word, self.signer)
        return (
            "0x"
            + _sign_digest(self._key, wrapped).hex()
            + separator.hex()
            + struct_hash.hex()
            + _POLY_1271_TAIL_HEX
        )

    def sign_clob_auth(self, timestamp: int | str, nonce: int = 0) -> str:
        """L1 ClobAuth signature of this EOA (see `sign_clob_auth`)."""
        return (
            "0x"
            + _sign_digest(self._key, clob_auth_digest(self.address, timestamp, nonce, self.chain_id)).hex()
        )

    def l1_headers(self, timestamp: int | str, nonce: int = 0) -> dict[str, str]:
        """The POLY_* headers of an L1 call (create/derive API key), as the client's
        `create_level_1_headers`."""
        return {
            "POLY_ADDRESS": self.address,
            "POLY_SIGNATURE": self.sign_clob_auth(timestamp, nonce),
            "POLY_TIMESTAMP": str(timestamp),
            "POLY_NONCE": str(nonce),
        }


# --------------------------------------------------------------------------------------------------
# L1: ClobAuth
# --------------------------------------------------------------------------------------------------

CLOB_AUTH_MESSAGE: Final = "This message attests that I control the given wallet"
_CLOB_AUTH_DOMAIN_TYPE_HASH: Final = keccak256(b"EIP712Domain(string name,string version,uint256 chainId)")
_CLOB_AUTH_TYPE_HASH: Final = keccak256(
    b"ClobAuth(address address,string timestamp,uint256 nonce,string message)"
)
_CLOB_AUTH_MESSAGE_HASH: Final = keccak256(CLOB_AUTH_MESSAGE.encode())


@functools.lru_cache(maxsize=16)
def _clob_auth_domain_separator(chain_id: int) -> bytes:
    return keccak256(
        _CLOB_AUTH_DOMAIN_TYPE_HASH
        + keccak256(b"ClobAuthDomain")
        + keccak256(b"1")
        + _uint256_word(chain_id, "chain_id")
    )


def clob_auth_digest(address: str, timestamp: int | str, nonce: int = 0, chain_id: int = 137) -> bytes:
    """EIP-712 digest of ClobAuth(address, str(timestamp), nonce, CLOB_AUTH_MESSAGE) under the
    domain {name "ClobAuthDomain", version "1", chainId} (no verifyingContract)."""
    struct_hash = keccak256(
        _CLOB_AUTH_TYPE_HASH
        + _address_word(address)
        + keccak256(str(timestamp).encode())
        + _uint256_word(nonce, "nonce")
        + _CLOB_AUTH_MESSAGE_HASH
    )
    return keccak256(_EIP712_PREFIX + _clob_auth_domain_separator(chain_id) + struct_hash)


def sign_clob_auth(private_key: str, timestamp: int | str, nonce: int = 0, chain_id: int = 137) -> str:
    """POLY_SIGNATURE of the L1 headers: "0x" + r‖s‖v, byte for byte the client's
    `sign_clob_auth_message`."""
    key = _parse_private_key(private_key)
    digest = clob_auth_digest(_address_of_public_key(key.public_key), timestamp, nonce, chain_id)
    return "0x" + _sign_digest(key, digest).hex()


def recover_clob_auth_signer(
    signature: str, address: str, timestamp: int | str, nonce: int = 0, chain_id: int = 137
) -> str:
    """The checksummed signer of an L1 signature made for the claimed `address` (a server compares
    it with POLY_ADDRESS). Raises ValueError for a malformed signature."""
    return _recover_address(
        _hex_bytes(signature, "signature"), clob_auth_digest(address, timestamp, nonce, chain_id)
    )


# --------------------------------------------------------------------------------------------------
# L2: HMAC headers
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _decoded_secret(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret)


def hmac_signature(
    secret: str, timestamp: str | int, method: str, request_path: str, body: str | None = None
) -> str:
    """The client's `build_hmac_signature`: urlsafe-base64 (padded) HMAC-SHA256, keyed by the
    urlsafe-base64-decoded secret, of str(timestamp) + method + request_path + body, where a
    non-empty body has every ' replaced by ". The method is used as given (callers send it
    upper case); the path excludes the query string."""
    message = f"{timestamp}{method}{request_path}"
    if body:
        message += body.replace("'", '"')
    mac = _hmac.digest(_decoded_secret(secret), message.encode("utf-8"), "sha256")
    return base64.urlsafe_b64encode(mac).decode("ascii")


def l2_headers(
    address: str,
    api_key: str,
    secret: str,
    passphrase: str,
    timestamp: str | int,
    method: str,
    path: str,
    body: str | None = None,
) -> dict[str, str]:
    """The POLY_* headers of an authenticated call, as the client's `create_level_2_headers`."""
    return {
        "POLY_ADDRESS": address,
        "POLY_SIGNATURE": hmac_signature(secret, timestamp, method, path, body),
        "POLY_TIMESTAMP": str(timestamp),
        "POLY_API_KEY": api_key,
        "POLY_PASSPHRASE": passphrase,
    }
