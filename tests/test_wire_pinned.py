"""A pinned transcript of the wire parser over systematically corrupted frames: every event and
every error message, for one, two and three corrupted fields of each valid frame of test_wire.py.

Why: the parsers of `price_change` and user `trade` are refactored for readability without any
change of behaviour. The property tests of test_wire.py check that hostile input never escapes as
anything but events or a WireError; this pins WHICH events and WHICH messages, including which of
several bad fields an error names (the order the fields are read in).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections import Counter
from typing import Any

from polymm_cli.venues.polymarket.wire import WireError, parse_market_frame, parse_user_frame
from tests.test_wire import OUR_ADDRESS, OUR_KEY, RECV, VALID_FRAMES, maker_order, trade_event

REPLACEMENTS: list[Any] = [None, "", 7, -1, 1.5, "0", "1", "x", "1e3", [], {}, "BUY", "TAKER", OUR_KEY]
FRAMES: list[Any] = [
    *VALID_FRAMES,
    {"event_type": "price_change", "market": "0xm", "asset_id": "11", "price": "0.5", "side": "BUY"}
    | {"size": "10", "hash": "h", "timestamp": "1757908892351"},
    trade_event(trader_side="", maker_orders=[maker_order(side=None, asset_id=None), maker_order()]),
    trade_event(maker_orders=[maker_order(owner="", maker_address=OUR_ADDRESS.upper())]),
]
PINNED_SHA256 = "e1899b9755d06fe6f2883f1c0599f3ea5238b14c023a859d1d918be00406605a"


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a frame: object keys and the first element of each list."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in [(*prefix, k), *_paths(v, (*prefix, k))]]
    if isinstance(value, list) and value:
        return [(*prefix, 0), *_paths(value[0], (*prefix, 0))]
    return []


def _corrupt(frame: Any, path: tuple[Any, ...], replacement: Any) -> None:
    target = frame
    for step in path[:-1]:
        target = target[step]
    if replacement is _DELETE and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = None if replacement is _DELETE else replacement


_DELETE = object()


def _outcome(text: str) -> tuple[str, bool]:
    """Both parsers' events and error messages for one frame, and whether there was an error."""
    lines = []
    failed = False
    for name, parse in (
        ("market", lambda: parse_market_frame(text, RECV)),
        ("user", lambda: parse_user_frame(text, RECV, api_key=OUR_KEY, maker_address=OUR_ADDRESS)),
    ):
        try:
            events, problems = parse()
            lines.append(f"{name}: {events!r} {[p.error for p in problems]!r}")
            failed = failed or bool(problems)
        except WireError as exc:
            lines.append(f"{name}: WireError {exc}")
            failed = True
    return "\n".join(lines), failed


def transcript() -> tuple[list[str], Counter[str]]:
    rng = random.Random(5)
    lines: list[str] = []
    kinds: Counter[str] = Counter()
    for frame in FRAMES:
        paths = _paths(frame)
        cases: list[list[tuple[tuple[Any, ...], Any]]] = [[]]
        cases += [[(p, r)] for p in paths for r in [_DELETE, *REPLACEMENTS]]
        for _ in range(200):  # several bad fields at once: which one the error names is pinned too
            picked = rng.sample(paths, min(len(paths), rng.choice([2, 3])))
            cases.append([(p, rng.choice([_DELETE, *REPLACEMENTS])) for p in picked])
        for case in cases:
            corrupted = copy.deepcopy(frame)
            try:
                for path, replacement in case:
                    _corrupt(corrupted, path, replacement)
            except (KeyError, IndexError, TypeError):  # an earlier corruption removed the path
                continue
            outcome, failed = _outcome(json.dumps(corrupted))
            lines.append(outcome)
            kinds["error" if failed else "clean"] += 1
    return lines, kinds


def test_corrupted_frames_parse_into_the_pinned_events_and_messages() -> None:
    lines, kinds = transcript()

    assert dict(kinds) == {"error": 3066, "clean": 2175}
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == PINNED_SHA256
