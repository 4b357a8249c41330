"""What the Polymarket adapter needs to know: endpoints, key material, signer choice and timing knobs.

Owns `PolymarketConfig`, a frozen value built once by the composition root (services/) from settings.
Secrets are `SecretStr` and every field that could identify the account's credentials is left out of
the repr, so a config can be logged or shown in a traceback. Must not: read the environment (that is
`settings.py`), open connections, or validate the private key itself (the venue does, once).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import SecretStr

from polymm_cli.errors import ConfigError
from polymm_cli.signing import LOCAL_CHAIN_ID

POLYMARKET_CLOB_URL = "https://clob.polymarket.com"
POLYMARKET_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws"
POLYMARKET_GAMMA_URL = "https://gamma-api.polymarket.com"

SIGNERS = ("fast", "reference")


@dataclass(frozen=True, slots=True, kw_only=True)
class PolymarketConfig:
    """Endpoints, credentials and knobs of one Polymarket (or local exchange) connection.

    `ws_url` is the WebSocket base: the channels are `{ws_url}/market` and `{ws_url}/user`.
    API credentials are optional: without them `start()` creates or derives them over L1.
    Without a private key the connection is market data only (`market_data_only`): listings, books
    and the market stream, never an order, a cancel or anything signed (see `for_market_data`).
    `signer` is "fast" (polymm's own signing) or "reference" (py-clob-client-v2's order builder,
    run in a worker thread). The timing knobs default to the venue's documented values; tests
    shrink them.
    """

    clob_url: str
    ws_url: str
    gamma_url: str
    private_key: SecretStr | None = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    api_secret: SecretStr | None = field(default=None, repr=False)
    api_passphrase: SecretStr | None = field(default=None, repr=False)
    signature_type: int = 0
    funder: str | None = None
    chain_id: int = 137
    signer: str = "fast"

    # WebSocket keepalive and reconnects. Polymarket answers a text PING with PONG; the official SDK
    # pings every 10 s and gives up after 30 s of silence. A market maker cannot rest quotes on a
    # book that went silent for 30 s: we ping every 2 s and call a connection dead after 5 s without
    # any frame, so a silent stall pulls our quotes within about 5 s.
    ws_ping_interval_s: float = 2.0
    ws_watchdog_s: float = 5.0
    reconnect_backoff_base_s: float = 0.5
    reconnect_backoff_cap_s: float = 30.0
    resync_margin_s: float = 60.0  # user-stream trade resync looks back this far before the last trade
    # the dead-man's switch cadence the caller should beat at (docs/protocol.md §3.8: armed at 10 s)
    heartbeat_interval_s: float = 5.0

    # HTTP
    http_timeout_s: float = 10.0
    http_max_attempts: int = 5
    http_retry_budget_s: float = 30.0
    http_backoff_base_s: float = 0.25
    http_backoff_cap_s: float = 8.0
    # The order path (place, cancel): a short budget for all attempts together, so a 5xx storm fails
    # fast (the engine pauses and pulls quotes) instead of holding a decision for half a minute.
    order_retry_budget_s: float = 2.0

    # per-signer token buckets (docs/protocol.md §8, standard tier); cancels get twice these
    order_rate_per_s: float = 40.0
    order_burst: float = 60.0

    markets_ttl_s: float = 300.0
    gamma_page_size: int = 100
    seed: int | None = None  # salts and jitter; None = derived from the clock at start

    def __post_init__(self) -> None:
        for name in ("clob_url", "ws_url", "gamma_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or "://" not in value:
                raise ConfigError(f"polymarket {name} must be an absolute URL")
        if self.signer not in SIGNERS:
            raise ConfigError(f"unknown signer {str(self.signer)[:20]!r}: expected fast or reference")
        if self.signature_type not in (0, 1, 2, 3):
            raise ConfigError("signature_type must be 0, 1, 2 or 3")
        creds = (self.api_key, self.api_secret, self.api_passphrase)
        if self.private_key is None and any(c is not None for c in creds):
            raise ConfigError("a market-data-only connection (no private key) takes no API credentials")
        if any(c is not None for c in creds) and not all(c is not None for c in creds):
            raise ConfigError("api_key, api_secret and api_passphrase must be given together (or none)")
        positive = (
            "ws_ping_interval_s",
            "ws_watchdog_s",
            "reconnect_backoff_base_s",
            "reconnect_backoff_cap_s",
            "http_timeout_s",
            "http_retry_budget_s",
            "http_backoff_base_s",
            "http_backoff_cap_s",
            "order_retry_budget_s",
            "order_rate_per_s",
            "order_burst",
            "heartbeat_interval_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"polymarket {name} must be positive")
        if self.http_max_attempts < 1 or self.gamma_page_size < 1:
            raise ConfigError("http_max_attempts and gamma_page_size must be at least 1")

    @property
    def has_api_creds(self) -> bool:
        return self.api_key is not None

    @property
    def market_data_only(self) -> bool:
        """No key: the venue reads markets and books and refuses everything that signs."""
        return self.private_key is None

    @property
    def market_ws_url(self) -> str:
        return self.ws_url.rstrip("/") + "/market"

    @property
    def user_ws_url(self) -> str:
        return self.ws_url.rstrip("/") + "/user"

    def with_changes(self, **changes: Any) -> PolymarketConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def for_market_data(cls, url: str | None = None, **options: Any) -> PolymarketConfig:
        """Market data only, with no key at all: real Polymarket's public hosts (`url` None), or the
        exchange at `url` laid out like the local exchange. Placing, cancelling and every account
        read raise `MarketDataOnly`; nothing is ever signed."""
        if url is None:
            return cls(
                clob_url=POLYMARKET_CLOB_URL,
                ws_url=POLYMARKET_WS_URL,
                gamma_url=POLYMARKET_GAMMA_URL,
                private_key=None,
                **options,
            )
        return cls.for_local_exchange(url, None, **options)

    @classmethod
    def for_local_exchange(cls, url: str, private_key: SecretStr | None, **options: Any) -> PolymarketConfig:
        """The local exchange at `url` (e.g. http://127.0.0.1:8080): WebSocket at ws://.../ws,
        Gamma-style listing at {url}/gamma. Orders are signed for the local world's own chain id
        (`signing.LOCAL_CHAIN_ID`), so nothing signed for it is valid on Polygon."""
        base = url.rstrip("/")
        if base.startswith("https://"):
            ws = "wss://" + base.removeprefix("https://")
        elif base.startswith("http://"):
            ws = "ws://" + base.removeprefix("http://")
        else:
            raise ConfigError("local exchange URL must start with http:// or https://")
        options.setdefault("chain_id", LOCAL_CHAIN_ID)
        return cls(
            clob_url=base, ws_url=ws + "/ws", gamma_url=base + "/gamma", private_key=private_key, **options
        )

    @classmethod
    def for_polymarket(
        cls,
        private_key: SecretStr,
        *,
        api_key: str | None = None,
        api_secret: SecretStr | None = None,
        api_passphrase: SecretStr | None = None,
        signature_type: int = 0,
        funder: str | None = None,
        **options: Any,
    ) -> PolymarketConfig:
        """The real Polymarket hosts (docs/protocol.md §1)."""
        return cls(
            clob_url=POLYMARKET_CLOB_URL,
            ws_url=POLYMARKET_WS_URL,
            gamma_url=POLYMARKET_GAMMA_URL,
            private_key=private_key,
            api_key=api_key,
            api_secret=api_secret,
            api_passphrase=api_passphrase,
            signature_type=signature_type,
            funder=funder,
            **options,
        )
