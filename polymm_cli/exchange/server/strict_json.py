"""JSON from clients, strictly: what the exchange's HTTP bodies and WebSocket frames are parsed with.

Python's json accepts NaN, Infinity and -Infinity, which are not JSON; a NaN or infinite amount must
never reach a balance, so they are refused like any other malformed input. Absurd nesting is
refused before the decoder recurses into it (see `polymm_cli.jsonsafe`).
"""

from __future__ import annotations

import json
from typing import Any

from polymm_cli.jsonsafe import nesting_exceeds


class InvalidJson(ValueError):
    """Not JSON, or JSON the exchange refuses (non-finite numbers, absurd nesting)."""


def _refuse_constant(constant: str) -> Any:
    raise InvalidJson(f"{constant} is not a JSON number")


def loads(text: str) -> Any:
    """The parsed value; raises InvalidJson for anything but plain, finite, reasonably nested JSON."""
    if nesting_exceeds(text):
        raise InvalidJson("nested too deeply")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except InvalidJson:
        raise
    except (ValueError, RecursionError):  # JSONDecodeError, integers past the digit limit
        raise InvalidJson("not JSON") from None
