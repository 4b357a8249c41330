"""The one settings object (pydantic-settings, `POLYMM_` prefix, `.env`). The ONLY environment reader.

Secrets are `SecretStr`: they never appear in a repr, a log line or a traceback.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from polymm_cli.errors import ConfigError


class VenueName(StrEnum):
    LOCAL = "local"
    POLYMARKET = "polymarket"
    PAPER = "paper"  # market data from a live venue, fills simulated in process: nothing is sent


PAPER_FEEDS = ("local", "polymarket")  # or the http(s) URL of an exchange that speaks the protocol


class SignerName(StrEnum):
    FAST = "fast"
    REFERENCE = "reference"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("polymm", appauthor=False))


@dataclass(frozen=True, slots=True)
class HardCaps:
    """Per-order size (shares) and notional (pUSD), and the total exposure across markets (pUSD)."""

    order_size: Decimal | None
    order_notional: Decimal | None
    total_exposure: Decimal | None


@dataclass(frozen=True, slots=True)
class QueueChoice:
    """The queue-position model of simulated fills (paper trading and the backtest):
    `risk-averse` (cancels ahead never move us forward) or `power:N` (hftbacktest's power
    probabilistic queue with exponent N: a cancel moves us forward by the share of it that was
    probably ahead of us)."""

    kind: Literal["risk-averse", "power"]
    power: Decimal = Decimal(0)

    def __str__(self) -> str:
        return self.kind if self.kind == "risk-averse" else f"power:{self.power.normalize():f}"

    @classmethod
    def parse(cls, text: str) -> QueueChoice:
        value = text.strip().lower()
        if value == "risk-averse":
            return cls("risk-averse")
        if value.startswith("power:"):
            n = _finite(value.removeprefix("power:"))
            if n is not None and 0 < n <= 100:
                return cls("power", Decimal(value.removeprefix("power:").strip()))
        raise ValueError(
            f"queue model must be risk-averse or power:N (N > 0, e.g. power:2), got {text.strip()[:40]!r}"
        )


@dataclass(frozen=True, slots=True)
class LatencyChoice:
    """Simulated latencies in seconds: an order reaches the book `order_entry_s` after it is sent, a
    cancel takes effect after `cancel_s`; market data is delivered `market_data_s` after it was
    received, or as received (recorded) when None."""

    order_entry_s: float
    cancel_s: float
    market_data_s: float | None = None

    def __str__(self) -> str:
        feed = "recorded" if self.market_data_s is None else f"{self.market_data_s * 1000:g}"
        return f"order={self.order_entry_s * 1000:g},cancel={self.cancel_s * 1000:g},feed={feed}"

    @classmethod
    def parse(cls, text: str) -> LatencyChoice:
        """`50` (order entry and cancel 50 ms, market data as received) or any of
        `order=MS,cancel=MS,feed=MS|recorded` (milliseconds; a part left out keeps its default)."""
        problem = ValueError(
            "latency must be milliseconds (e.g. 50) or order=MS,cancel=MS,feed=MS|recorded,"
            f" got {text.strip()[:60]!r}"
        )
        value = text.strip().lower()
        if "=" not in value:
            ms = _milliseconds(value)
            if ms is None:
                raise problem
            return cls(ms, ms, None)
        changes: dict[str, Any] = {}
        for item in value.split(","):
            name, _, ms_text = (part.strip() for part in item.partition("="))
            field_name = _LATENCY_PARTS.get(name)
            recorded = name == "feed" and ms_text == "recorded"
            ms = None if recorded else _milliseconds(ms_text)
            if field_name is None or field_name in changes or (ms is None and not recorded):
                raise problem
            changes[field_name] = ms
        return replace(DEFAULT_LATENCY, **changes)


_LATENCY_PARTS = {"order": "order_entry_s", "cancel": "cancel_s", "feed": "market_data_s"}
# Polymarket's order path from a well-placed host is tens of milliseconds each way, the local
# exchange's over loopback a few; market data is taken as it arrives (its real delay is in it).
DEFAULT_LATENCY = LatencyChoice(order_entry_s=0.05, cancel_s=0.05, market_data_s=None)


def _finite(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _milliseconds(text: str) -> float | None:
    """Milliseconds (0 to one minute) as seconds, or None when it is not that."""
    value = _finite(text)
    return value / 1000 if value is not None and 0 <= value <= 60_000 else None


# What trading real funds gets when the user set no cap: small enough that a mistake is cheap.
LIVE_CAPS = HardCaps(order_size=Decimal(100), order_notional=Decimal(50), total_exposure=Decimal(500))


class Settings(BaseSettings):
    """Everything configurable, from flags, `POLYMM_*` environment variables or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="POLYMM_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    venue: VenueName = VenueName.LOCAL
    exchange_url: str | None = None
    gamma_url: str | None = None
    # The real venue talks only to https on polymarket.com unless this is set (--unsafe-polymarket-url).
    unsafe_polymarket_url: bool = False
    data_dir: Path = Field(default_factory=default_data_dir)

    private_key: SecretStr | None = None
    api_key: str | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None
    signature_type: int = Field(default=0, ge=0, le=3)
    funder: str | None = None
    signer: SignerName = SignerName.FAST

    # Polygon, for split / merge / redeem on --venue polymarket (docs/chain.md): the JSON-RPC endpoint
    # (--rpc-url), the most polymm pays per gas in gwei (EIP-1559 max fee; refused above it), whether
    # a missing adapter approval is sent (off: named, nothing sent), how long a receipt is awaited.
    rpc_url: str | None = None
    max_fee_gwei: Decimal = Field(default=Decimal(500), gt=0)
    chain_approve: bool = True
    receipt_timeout: float = Field(default=120.0, gt=0)
    # Proxy and Safe wallets act through Polymarket's relayer, with builder API credentials.
    relayer_url: str = "https://relayer-v2.polymarket.com"
    builder_api_key: str | None = None
    builder_secret: SecretStr | None = None
    builder_passphrase: SecretStr | None = None

    # quoting
    # Unset, polymm chooses the width itself (`adaptive_spread_on`, quoter.adaptive_offset) and this
    # 2c (1c a side) is only its fallback without a two-sided book; set, it is quoted as set.
    spread: Decimal = Field(default=Decimal("0.02"), gt=0, lt=1)
    size: Decimal = Field(default=Decimal("10"), gt=0)
    requote_threshold: Decimal = Field(default=Decimal("0.005"), ge=0)
    position_limit: Decimal = Field(default=Decimal("100"), gt=0)
    skew_enabled: bool = True
    # From the first share, 1 at the limit (the reducing side at the mid there, as Avellaneda-Stoikov's
    # reservation price is): with the volatility term, crypto-short +2.45 -> +4.43 per unit of risk
    # and active's worst drawdown 4.04 -> 2.12 against the skew 0.5 from 0.6 x L
    # (docs/strategy.md#rebate-and-skew).
    skew_factor: Decimal = Field(default=Decimal("1"), ge=0, le=1)
    skew_start: Decimal = Field(default=Decimal("0"), ge=0, le=1)
    # The skew's volatility term |e| x gamma x sigma^2 x horizon (docs/strategy.md#inventory-skew):
    # risk aversion per pUSD (0 = off) and the seconds inventory is expected to be held. 1: inventory
    # in a market whose mid moves fast is shed sooner (the worst drawdowns came from held inventory).
    skew_gamma: Decimal = Field(default=Decimal("1"), ge=0)
    skew_horizon: Decimal = Field(default=Decimal("60"), ge=0)
    # The side whose fill adds exposure quotes size x (1 - |e| / L): a position builds more slowly the
    # larger it is (docs/strategy.md#defaults-measured: less held when the price jumps). Unset, it is
    # on unless the size was set explicitly: an explicit --size is quoted as set.
    inventory_taper: bool | None = None
    # The size-weighted mid (leans toward the side about to give way). Off by default: on the
    # calibrated regimes' one- and two-tick books it moved our quotes onto the side about to be run
    # over (docs/strategy.md#defaults-measured).
    microprice: bool = False

    # levels and rewards
    levels: int = Field(default=1, ge=1, le=10)
    level_spacing_ticks: int = Field(default=1, ge=1)
    level_size: Decimal | None = Field(default=None, gt=0)
    # Reward fitting. `reward_band` pulls level 0 inside a rewarded market's band (a price change);
    # unset, it is on unless the spread was set explicitly: an explicit spread is quoted as set.
    # `reward_size` raises a quote to the reward minimum size, above `size`: only when asked for.
    reward_band: bool | None = None
    reward_size: bool = False
    # Fit only where the estimated reward outweighs the adverse selection measured on our fills.
    reward_gate: bool = True

    # trusting the mid (trust.py): levels below the dust size are not the market (unset: the market's
    # minimum order size); a mid jumping further than the bound from the last trusted mid and the last
    # trade waits for a trade near it, or for holding this many seconds
    dust_size: Decimal | None = Field(default=None, gt=0)
    mid_jump_bound: Decimal = Field(default=Decimal("0.05"), gt=0, lt=1)
    mid_confirm_s: float = Field(default=3.0, ge=0)

    # regime rules (each off-able)
    volatility_filter: bool = True
    vol_reference: float = Field(default=0.008, gt=0)
    vol_sensitivity: float = Field(default=1.0, ge=0)
    max_widen: float = Field(default=3.0, ge=1)
    jump_filter: bool = False  # off: see RegimeParams.jump_enabled (docs/strategy.md#defaults-measured)
    jump_threshold: Decimal = Field(default=Decimal("0.03"), gt=0)
    jump_cooldown: float = Field(default=15.0, ge=0)
    trend_filter: bool = True
    trend_threshold: Decimal = Field(default=Decimal("0.04"), gt=0)
    trend_window: float = Field(default=60.0, gt=0)
    fill_cooldown: float = Field(default=0.0, ge=0)
    # toxic flow (docs/strategy.md#toxic-flow): our fills marked out against the mid `toxicity_horizon`
    # seconds later; a side whose fills lose widen_at x their edge is widened, pull_at x is pulled
    toxicity_filter: bool = True
    toxicity_horizon: float = Field(default=5.0, gt=0)
    toxicity_widen_at: float = Field(default=0.8, gt=0)
    toxicity_pull_at: float = Field(default=1.5, gt=0)
    toxicity_pull: float = Field(default=30.0, ge=0)

    # Hard caps. Unset: none on the local exchange; on --venue polymarket the conservative ones of
    # `LIVE_CAPS` apply unless set here (an explicit value is always what is used).
    max_order_size: Decimal | None = Field(default=None, gt=0)  # shares per order
    max_order_notional: Decimal | None = Field(default=None, gt=0)  # pUSD per order (price x size)
    # portfolio caps (pUSD)
    max_total_exposure: Decimal | None = Field(default=None, gt=0)
    max_event_loss: Decimal | None = Field(default=None, gt=0)

    # stop-loss (docs/strategy.md#stop-loss): off unless a loss limit is set
    max_unrealized_loss: Decimal | None = Field(default=None, gt=0)
    max_daily_loss: Decimal | None = Field(default=None, gt=0)
    liquidation_mode: Literal["market", "limit", "passive"] = "market"
    resume_after: float | None = Field(default=None, ge=0)

    # paper trading (--venue paper): market data from `paper_feed` ("local": the local exchange,
    # the one a run published or one started in process; "polymarket": real Polymarket, no key
    # needed; or the http(s) URL of an exchange speaking the protocol), fills simulated in process
    # from a paper wallet funded with `paper_collateral` pUSD. `queue` and `latency_ms` are the fill
    # simulation's, shared with `polymm backtest`.
    paper_feed: str = "local"
    paper_collateral: Decimal = Field(default=Decimal(1000), gt=0)
    queue: str = "risk-averse"
    latency_ms: str = str(DEFAULT_LATENCY)

    # local exchange
    exchange_seed: int = 7
    exchange_flow: bool = True
    # The in-process exchange's synthetic flow: a named regime (docs/market-world.md), optionally
    # busier (taker arrivals per minute per market) or thinner/deeper (median shares of a background
    # maker's innermost order); None keeps the regime's own figure.
    exchange_regime: Literal["quiet", "active", "in-play", "crypto-short"] = "active"
    exchange_taker_rate: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    exchange_maker_depth: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # Seconds between the in-process exchange's payouts of liquidity rewards and maker rebates: a
    # day, as Polymarket pays; shorter to see payouts in a short run (the pool is prorated).
    exchange_reward_epoch: float = Field(default=86_400.0, ge=1, le=7 * 86_400)

    # running unattended (docs/operations.md). Metrics: Prometheus on metrics_host:metrics_port
    # (unset: none; loopback unless the host is set). Alerts: webhook URLs (a token is in each: kept
    # as secrets), each kind at most once per alert_min_interval seconds, a feed down for
    # alert_feed_unhealthy seconds, a summary every alert_summary_interval seconds (0: none).
    # The run log: <data dir>/logs/, rotated at log_max_bytes, log_backups old files kept.
    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    metrics_host: str = "127.0.0.1"
    alert_webhooks: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    alert_feed_unhealthy: float = Field(default=60.0, gt=0)
    alert_summary_interval: float = Field(default=3600.0, ge=0)
    alert_min_interval: float = Field(default=60.0, ge=0)
    alert_queue_size: int = Field(default=100, ge=1, le=10_000)
    alert_timeout: float = Field(default=5.0, gt=0, le=60)
    log_file: bool = True
    log_format: Literal["text", "json"] = "text"
    log_max_bytes: int = Field(default=10_000_000, ge=10_000)
    log_backups: int = Field(default=5, ge=0, le=100)

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, for the log's redactor (never shown anywhere)."""
        held = [
            self.private_key,
            self.api_secret,
            self.api_passphrase,
            self.builder_secret,
            self.builder_passphrase,
            *self.alert_webhooks,
        ]
        return [s.get_secret_value() for s in held if s is not None and s.get_secret_value()]

    def reward_band_on(self) -> bool:
        """Whether level 0 is pulled into the reward band: as set, else unless --spread was set."""
        return self.reward_band if self.reward_band is not None else "spread" not in self.model_fields_set

    def taper_on(self) -> bool:
        """Whether the side that adds exposure is tapered: as set, else unless --size was set."""
        return (
            self.inventory_taper if self.inventory_taper is not None else "size" not in self.model_fields_set
        )

    def adaptive_spread_on(self) -> bool:
        """Whether polymm chooses the width itself: only when --spread (POLYMM_SPREAD) was not set."""
        return "spread" not in self.model_fields_set

    def width(self) -> str:
        """Which width is in force and why, in words (shown by the dashboard and `polymm quote`)."""
        if self.adaptive_spread_on():
            return (
                "chosen by polymm: at or a tick inside the book's touch, never below the adverse move "
                "measured on its fills less the maker rebate (--spread sets a fixed width)"
            )
        return f"{self.spread} as set (--spread)"

    def reward_fit(self) -> str:
        """Reward fitting in words, with why (shown by the dashboard and `polymm quote`)."""
        parts = [p for p, on in (("band", self.reward_band_on()), ("size", self.reward_size)) if on]
        what = " + ".join(parts) or "off"
        if self.reward_band is None and "spread" in self.model_fields_set:
            return f"{what} (the spread was set explicitly: --reward-band would pull quotes into the band)"
        if self.reward_band is None:
            return f"{what} (default; --no-reward-band keeps quotes at the spread)"
        return what

    def hard_caps(self) -> HardCaps:
        """The caps in force: what the user set, else `LIVE_CAPS` on Polymarket (and on paper fed by
        Polymarket, so a paper run quotes as the live one with the same settings would), else none."""
        paper_on_polymarket = self.venue is VenueName.PAPER and self.paper_feed == "polymarket"
        live = self.venue is VenueName.POLYMARKET or paper_on_polymarket
        return HardCaps(
            order_size=self.max_order_size or (LIVE_CAPS.order_size if live else None),
            order_notional=self.max_order_notional or (LIVE_CAPS.order_notional if live else None),
            total_exposure=self.max_total_exposure or (LIVE_CAPS.total_exposure if live else None),
        )

    def queue_choice(self) -> QueueChoice:
        return QueueChoice.parse(self.queue)

    def latency_choice(self) -> LatencyChoice:
        return LatencyChoice.parse(self.latency_ms)

    def paper_feed_url(self) -> str | None:
        """The paper feed's exchange URL, or None for "local" and "polymarket" (chosen by name)."""
        return None if self.paper_feed in PAPER_FEEDS else self.paper_feed.rstrip("/")

    @field_validator("paper_feed")
    @classmethod
    def _feed(cls, value: str) -> str:
        text = value.strip()
        if text.lower() in PAPER_FEEDS:
            return text.lower()
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.hostname:
            return text
        raise ValueError(
            f"paper feed must be local, polymarket or an http(s):// exchange URL, got {text[:60]!r}"
        )

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        return str(QueueChoice.parse(value))

    @field_validator("latency_ms")
    @classmethod
    def _latency(cls, value: str) -> str:
        return str(LatencyChoice.parse(value))

    @field_validator("alert_webhooks", mode="before")
    @classmethod
    def _webhook_list(cls, value: object) -> object:
        # POLYMM_ALERT_WEBHOOKS: a JSON list, or URLs separated by spaces
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.split()
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # POLYMM_DATA_DIR= (empty) means "not set", never the current directory: keys and the
        # ledger must not land in whatever folder a command happens to run in
        return default_data_dir() if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation failure into one clear line (no secret values echoed)."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")  # a validator's own words
        raise ConfigError(f"invalid setting POLYMM_{where.upper()}: {message}") from None
