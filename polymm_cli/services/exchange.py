"""Service for `polymm exchange ...`: turns command options into a running local exchange."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from polymm_cli.errors import UsageError
from polymm_cli.exchange.core import SettlementConfig
from polymm_cli.exchange.flow_config import FlowConfig
from polymm_cli.exchange.payouts import DAY_S, IncomeConfig
from polymm_cli.exchange.regimes import DEFAULT_REGIME, flow_for
from polymm_cli.exchange.server.faults import MAX_LATENCY_MS, Faults
from polymm_cli.exchange.server.runner import ExchangeConfig, ExchangeServer, serve_forever

ADDRESS_CHARS = set("0123456789abcdefABCDEF")
MAX_REWARD_EPOCH_S = 7 * DAY_S


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    flow: bool = True
    fund: list[str] = field(default_factory=list)
    state: Path | None = None
    settlement_delay_s: float = 2.0
    settlement_fail_rate: float = 0.0
    latency_ms: float = 0.0
    reward_epoch_s: float = DAY_S
    regime: str = DEFAULT_REGIME
    taker_rate: float | None = None  # None: the regime's
    depth: float | None = None
    resolve_at_end: bool = True  # markets resolve by themselves at their end date
    timing: bool = False


def flow_config(options: ServeOptions) -> FlowConfig:
    """The synthetic flow of `--regime`, `--taker-rate` and `--depth`, one clear line when wrong."""
    if options.taker_rate is not None and not 0 < options.taker_rate < math.inf:  # NaN fails too
        raise UsageError(
            f"--taker-rate must be a positive number of takers per minute, got {options.taker_rate}"
        )
    if options.depth is not None and not 0 < options.depth < math.inf:
        raise UsageError(f"--depth must be a positive number of shares, got {options.depth}")
    # an unknown regime: flow_for's ConfigError (a UsageError) names the choices
    return flow_for(options.regime, taker_rate_per_min=options.taker_rate, depth=options.depth)


def parse_fund(spec: str) -> tuple[str, Decimal]:
    """`0xADDRESS=AMOUNT` -> (address, amount), with a one-line error for anything else."""
    address, sep, amount = spec.partition("=")
    if not sep or not (address.startswith("0x") and len(address) == 42 and set(address[2:]) <= ADDRESS_CHARS):
        raise UsageError(f"--fund expects 0xADDRESS=AMOUNT with a 40-hex-digit address, got {spec!r}")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise UsageError(f"--fund amount must be a number, got {amount!r}") from None
    if not value.is_finite() or value < 0:
        raise UsageError(f"--fund amount must be a non-negative number, got {amount!r}")
    return address, value


def exchange_config(options: ServeOptions) -> ExchangeConfig:
    if not 0 <= options.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {options.port}")
    if not 0.0 <= options.settlement_fail_rate <= 1.0:
        raise UsageError("--settlement-fail-rate must be between 0 and 1")
    if options.settlement_delay_s < 0:
        raise UsageError("--settlement-delay must be >= 0")
    if not 0 <= options.latency_ms <= MAX_LATENCY_MS:  # NaN fails this too
        raise UsageError(f"--latency-ms must be between 0 and {MAX_LATENCY_MS}")
    if not 1 <= options.reward_epoch_s <= MAX_REWARD_EPOCH_S:  # NaN fails this too
        raise UsageError(f"--reward-epoch-s must be between 1 and {MAX_REWARD_EPOCH_S:.0f} (a week)")
    return ExchangeConfig(
        host=options.host,
        port=options.port,
        seed=options.seed,
        flow=options.flow,
        fund=[parse_fund(spec) for spec in options.fund],
        state_path=options.state,
        settlement=SettlementConfig(options.settlement_delay_s, options.settlement_fail_rate),
        faults=Faults(latency_ms=options.latency_ms),
        income=IncomeConfig(epoch_s=options.reward_epoch_s),
        flow_config=flow_config(options),
        resolve_at_end=options.resolve_at_end,
        timing=options.timing,
    )


@dataclass(frozen=True)
class ServingInfo:
    """What `polymm exchange serve` tells the user once the exchange answers."""

    url: str
    ws_url: str
    market_slugs: tuple[str, ...]
    flow: str  # the synthetic flow in words: "off", or its regime and rates


def serve(options: ServeOptions, on_ready: Callable[[ServingInfo], None]) -> None:
    """Run the local exchange in the foreground until interrupted."""
    config = exchange_config(options)

    def ready(server: ExchangeServer) -> None:
        slugs = tuple(m.slug for m in server.exchange.markets.values())
        on_ready(ServingInfo(server.url, server.ws_url, slugs, describe_flow(options, config.flow_config)))

    try:
        serve_forever(config, ready)
    except OSError as exc:
        raise UsageError(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an unreadable state file
        raise UsageError(str(exc)) from None


def describe_flow(options: ServeOptions, config: FlowConfig | None) -> str:
    """The flow as the ready line shows it, e.g. "regime active (3.5 takers/min, depth 60 shares)"."""
    if not options.flow or config is None:
        return "off"
    return (
        f"regime {options.regime} ({config.taker_rate_per_min:g} takers/min per market, "
        f"depth {config.maker_level_size:g} shares per maker level)"
    )
