"""The Polymarket CLOB V2 adapter (real Polymarket or the local exchange over loopback).

`PolymarketVenue` (adapter.py) implements the Venue port; `PolymarketConfig` (config.py) configures
it. Both load lazily so that importing `wire` (the hot-path parsers) does not pull in aiohttp and
websockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polymm_cli.venues.polymarket.adapter import PolymarketVenue
    from polymm_cli.venues.polymarket.config import PolymarketConfig

__all__ = ["PolymarketConfig", "PolymarketVenue"]


def __getattr__(name: str) -> Any:
    if name == "PolymarketVenue":
        from polymm_cli.venues.polymarket.adapter import PolymarketVenue

        return PolymarketVenue
    if name == "PolymarketConfig":
        from polymm_cli.venues.polymarket.config import PolymarketConfig

        return PolymarketConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
