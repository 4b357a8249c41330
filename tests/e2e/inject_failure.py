"""Loaded into a `polymm` subprocess by the failure tests: one code point raises once armed.

`INJECT_FAILURE` names the point (`ledger`: recording a fill, `parser`: parsing a market frame,
`decision`: computing quotes); the failure is armed when the file `INJECT_TRIGGER` exists, and the
first call after that raises and writes `time.monotonic()` to `INJECT_STAMP` (the monotonic clock is
system-wide, so the test can measure from it). Only the product's public module attributes are
patched: what runs is the real engine, venue and exchange.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _armed() -> bool:
    if not Path(os.environ["INJECT_TRIGGER"]).exists():
        return False
    stamp = Path(os.environ["INJECT_STAMP"])
    if not stamp.exists():  # written whole, then renamed: the watcher never reads it half-written
        partial = stamp.with_suffix(".partial")
        partial.write_text(repr(time.monotonic()))
        partial.replace(stamp)
    return True


def _raising(real: Callable[..., Any], error: Exception) -> Callable[..., Any]:
    def patched(*args: Any, **kwargs: Any) -> Any:
        if _armed():
            raise error
        return real(*args, **kwargs)

    return patched


def install() -> None:
    kind = os.environ["INJECT_FAILURE"]
    if kind == "ledger":
        from polymm_cli.ledger import Ledger

        Ledger.record_fill = _raising(  # type: ignore[method-assign]
            Ledger.record_fill, sqlite3.OperationalError("database is locked")
        )
    elif kind == "parser":
        from polymm_cli.venues.polymarket import streams

        streams.parse_market_frame = _raising(  # type: ignore[assignment]
            streams.parse_market_frame, KeyError("asset_id")
        )
    elif kind == "decision":
        from polymm_cli.engine import loop as engine

        engine.quote = _raising(engine.quote, ValueError("a quote the validation refuses"))  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown INJECT_FAILURE {kind!r}")
