"""JSON from strangers: refuse absurd nesting before the C decoder recurses into it.

CPython's json decoder recurses once per nesting level and only stops at the interpreter's
recursion limit; when something has raised that limit (test tools do), a frame of 100,000 `[` can
overflow the C stack and kill the process. Counting brackets first costs one C-speed pass and
skips the precise scan for every normal message.
"""

from __future__ import annotations

MAX_DEPTH = 64


def nesting_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text nests arrays/objects deeper than `limit` (strings are skipped)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    return _deepest_reaches(text, limit)


def _deepest_reaches(text: str, limit: int) -> bool:
    """The precise scan: bracket depth outside strings, stopping as soon as it passes `limit`."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False
