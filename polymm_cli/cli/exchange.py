"""`polymm exchange ...`: the local Polymarket CLOB V2-compatible exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polymm_cli.errors import UsageError
from polymm_cli.services import exchange as service

app = typer.Typer(no_args_is_help=True, help="The local exchange (a Polymarket CLOB V2-compatible server).")


RewardEpochOption = Annotated[
    float,
    typer.Option(
        help="Seconds between payouts of liquidity rewards and maker rebates (a day, as Polymarket)."
    ),
]
ResolveAtEndOption = Annotated[
    bool,
    typer.Option(
        "--resolve-at-end/--no-resolve-at-end",
        help="Resolve each market at its end date (winner drawn with the mid as P(YES)).",
    ),
]
TimingOption = Annotated[
    bool,
    typer.Option(
        "--timing",
        help="Stamp monotonic-clock nanoseconds on book events (published_ns) and HTTP answers"
        " (X-Polymm-Timing), for latency benchmarks.",
    ),
]


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (keep it loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8080,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic flow and ids.")] = 7,
    flow: Annotated[str, typer.Option(help="Synthetic traders: on or off.")] = "on",
    fund: Annotated[
        list[str] | None, typer.Option(help="Credit 0xADDRESS=AMOUNT pUSD with allowances set (repeatable).")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="State file: accounts, orders and trades survive restarts.")
    ] = None,
    settlement_delay: Annotated[float, typer.Option(help="Seconds from MATCHED to CONFIRMED.")] = 2.0,
    settlement_fail_rate: Annotated[float, typer.Option(help="Share of trades that end FAILED (0-1).")] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Added latency on every HTTP request.")] = 0.0,
    reward_epoch_s: RewardEpochOption = 86_400.0,
    regime: Annotated[
        str,
        typer.Option(help="Synthetic market: quiet, active, in-play or crypto-short (docs/market-world.md)."),
    ] = "active",
    taker_rate: Annotated[
        float | None, typer.Option(help="Taker arrivals per minute per market (default: the regime's).")
    ] = None,
    depth: Annotated[
        float | None,
        typer.Option(
            help="Median shares of each background maker's innermost order (default: the regime's)."
        ),
    ] = None,
    resolve_at_end: ResolveAtEndOption = True,
    timing: TimingOption = False,
) -> None:
    """Serve the local exchange until Ctrl+C or SIGTERM."""
    if flow not in ("on", "off"):
        raise UsageError(f"--flow must be on or off, got {flow!r}")
    options = service.ServeOptions(
        host=host,
        port=port,
        seed=seed,
        flow=flow == "on",
        fund=fund or [],
        state=state,
        settlement_delay_s=settlement_delay,
        settlement_fail_rate=settlement_fail_rate,
        latency_ms=latency_ms,
        reward_epoch_s=reward_epoch_s,
        regime=regime,
        taker_rate=taker_rate,
        depth=depth,
        resolve_at_end=resolve_at_end,
        timing=timing,
    )

    def ready(server: service.ServingInfo) -> None:
        names = ", ".join(server.market_slugs)
        typer.echo(f"local exchange ready at {server.url} (WebSocket {server.ws_url}/market, /user)")
        typer.echo(f"markets: {names}; synthetic flow {server.flow}; Ctrl+C stops it")

    service.serve(options, ready)
