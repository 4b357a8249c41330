"""Options every command shares, and the one way a command turns them into Settings."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer

from polymm_cli.errors import UsageError
from polymm_cli.settings import Settings, load_settings

VenueOption = Annotated[
    str | None, typer.Option("--venue", help="local (the built-in exchange, default) or polymarket.")
]
ExchangeUrlOption = Annotated[
    str | None, typer.Option("--exchange-url", help="A running exchange to use (POLYMM_EXCHANGE_URL).")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine-readable output (a stable, documented shape).")
]


def settings_for(venue: str | None, exchange_url: str | None, **overrides: Any) -> Settings:
    if venue is not None and venue not in ("local", "polymarket"):
        raise UsageError(f"--venue must be local or polymarket, got {venue!r}")
    return load_settings(venue=venue, exchange_url=exchange_url, **overrides)


def dumps(payload: Any) -> str:
    """JSON with Decimals as strings (numbers in our JSON outputs are decimal strings)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return json.dumps(payload, default=default, indent=2)


def dec(value: Decimal | None) -> str | None:
    return (
        None
        if value is None
        else format(value.normalize(), "f")
        if value == value.to_integral()
        else format(value, "f")
    )
