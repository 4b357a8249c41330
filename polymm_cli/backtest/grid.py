"""Parameter grids: `--grid spread=0.02,0.03 skew_factor=0.25,0.5` as the list of settings to try.

Pure: parsing and expansion only. The names are settings fields (the same names as `polymm run`'s
flags, with `_` for `-`); which ones a grid may vary is the caller's list, so a typo is one clear
line instead of a silently ignored axis. The expansion order is fixed (axes as given, values as
given), so a sweep over the same input and seed always lists the same points in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from polymm_cli.errors import UsageError


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    values: tuple[str, ...]


def parse_axes(specs: Sequence[str], allowed: Collection[str]) -> list[Axis]:
    """`name=v1,v2,...` per spec; names must be in `allowed` and not repeated."""
    axes: list[Axis] = []
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip().replace("-", "_")
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        if not sep or not name or not values:
            raise UsageError(f"--grid {spec!r}: expected name=value1,value2 (e.g. spread=0.02,0.03)")
        if name not in allowed:
            raise UsageError(
                f"--grid {name!r} is not a setting a grid can vary: {', '.join(sorted(allowed))}"
            )
        if any(a.name == name for a in axes):
            raise UsageError(f"--grid {name!r} is given twice")
        axes.append(Axis(name, values))
    return axes


def points(axes: Sequence[Axis]) -> list[dict[str, str]]:
    """Every combination, the first axis varying slowest."""
    return [
        dict(zip((a.name for a in axes), combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


def label(point: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items())
