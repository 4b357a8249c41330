"""Market-channel hot path: parse raw WS text frames and apply them to L2 books, on one core.

Source: the real crossing-burst capture in tests/fixtures (51 frames, 98 price_change entries, both
tokens of the market), replayed until `min_entries` price_change entries went through parse + apply.
Should it be missing, a seeded stream of current-format frames of the same shape stands in.
Run: `.venv/bin/python bench/bench_ws.py`.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import random
import time
from pathlib import Path
from typing import Any

from polymm_cli.book import OrderBook
from polymm_cli.venues.base import PriceChange
from polymm_cli.venues.books import apply_market_event
from polymm_cli.venues.polymarket.wire import parse_market_frame

# nautilus_trader's capture (LGPL-3.0), kept with the tests: tests/fixtures/README.md says where from
CAPTURE = (
    Path(__file__).resolve().parents[1]
    / "tests/fixtures/01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json"
)

_ROOT = Path(__file__).resolve().parents[1]
_MARKET = "0x" + "ab" * 32
_YES = "7" * 77
_NO = "5" * 77


def _capture_frames() -> list[str] | None:
    if not CAPTURE.is_file():
        return None
    messages = json.loads(CAPTURE.read_text(encoding="utf-8"))
    return [json.dumps(m) for m in messages]


def _generated_frames(n_frames: int = 500, seed: int = 7) -> list[str]:
    """An opening book per token then mirrored YES/NO price_change pairs around a drifting mid."""
    rng = random.Random(seed)
    ts = 1_790_000_000_000

    def levels(prices: list[int]) -> list[dict[str, str]]:
        return [{"price": f"{p / 1000:g}", "size": f"{rng.randint(1, 50_000) / 100:g}"} for p in prices]

    frames: list[dict[str, Any]] = []
    for token, bid_top in ((_YES, 480), (_NO, 500)):
        frames.append(
            {
                "event_type": "book",
                "market": _MARKET,
                "asset_id": token,
                "bids": levels(list(range(bid_top - 40, bid_top + 1))),
                "asks": levels(list(range(bid_top + 60, bid_top + 19, -1))),
                "timestamp": str(ts),
                "hash": "0" * 40,
                "tick_size": "0.001",
            }
        )
    for _ in range(n_frames):
        ts += rng.randint(1, 400)
        p = rng.randint(440, 560)
        side = rng.choice(("BUY", "SELL"))
        size = "0" if rng.random() < 0.3 else f"{rng.randint(1, 100_000) / 100:g}"
        entry = {"price": f"{p / 1000:g}", "size": size, "hash": f"{rng.getrandbits(160):040x}"}
        frames.append(
            {
                "market": _MARKET,
                "price_changes": [
                    {"asset_id": _YES, **entry, "side": side, "best_bid": "0.48", "best_ask": "0.52"},
                    {
                        "asset_id": _NO,
                        **entry,
                        "price": f"{(1000 - p) / 1000:g}",
                        "side": "SELL" if side == "BUY" else "BUY",
                        "best_bid": "0.48",
                        "best_ask": "0.52",
                    },
                ],
                "timestamp": str(ts),
                "event_type": "price_change",
            }
        )
    return [json.dumps(f) for f in frames]


def bench_ws_apply(min_entries: int = 200_000, runs: int = 3) -> dict[str, Any]:
    """Parse + apply frames until `min_entries` price_change entries were processed, `runs` times;
    entries/s of the fastest run (as timeit takes the best: the slower runs measured what else the
    machine was doing), every run's figure kept beside it."""
    captured = _capture_frames()
    frames = captured if captured is not None else _generated_frames()
    source = "capture" if captured is not None else "generated"
    # Pre-create a book per token seen so every entry is applied, not skipped for lack of a book.
    tokens = {
        u.token_id
        for f in frames
        for e in parse_market_frame(f, 0.0).events
        if isinstance(e, PriceChange)
        for u in e.updates
    }
    timed = [_parse_and_apply(frames, tokens, min_entries) for _ in range(max(1, runs))]
    entries, rounds, elapsed = min(timed, key=lambda run: run[2] / run[0])
    return {
        "entries_per_s": entries / elapsed,
        "runs_entries_per_s": [n / seconds for n, _, seconds in timed],
        "source": source,
        "entries": entries,
        "frames": rounds * len(frames),
        "seconds": elapsed,
    }


def _parse_and_apply(frames: list[str], tokens: set[str], min_entries: int) -> tuple[int, int, float]:
    """One timed run from fresh books: entries applied, rounds over the frames, seconds."""
    entries = 0
    rounds = 0
    start = time.perf_counter()
    while entries < min_entries:
        books = {t: OrderBook(t) for t in tokens}
        for i, text in enumerate(frames):
            for event in parse_market_frame(text, float(i)).events:
                apply_market_event(books, event)
                if type(event) is PriceChange:
                    entries += len(event.updates)
        rounds += 1
    return entries, rounds, time.perf_counter() - start


WS_GOAL_ENTRIES_PER_S = 200_000


def profile_ws_apply(min_entries: int = 50_000, top: int = 12) -> list[str]:
    """Where the time of parse + apply goes (cProfile, by own time): printed when the goal is missed."""
    profiler = cProfile.Profile()
    profiler.runcall(bench_ws_apply, min_entries, 1)
    return profile_lines(profiler, top)


def profile_lines(profiler: cProfile.Profile, top: int) -> list[str]:
    """The `top` functions by own time of a profile, one line each: own s, cumulative s, calls, name."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    lines = []
    for (filename, lineno, name), (_, calls, own, cumulative, _) in rows:
        where = filename.rsplit("/site-packages/", 1)[-1].replace(f"{_ROOT}/", "")
        lines.append(f"{own:7.3f} s own {cumulative:7.3f} s cum {calls:>8} x  {name} ({where}:{lineno})")
    return lines


if __name__ == "__main__":
    result = bench_ws_apply()
    print(
        f"ws parse+apply ({result['source']}): {result['entries_per_s']:,.0f} price_change entries/s, "
        f"best of {', '.join(f'{r:,.0f}' for r in result['runs_entries_per_s'])} "
        f"({result['entries']:,} entries, {result['frames']:,} frames, {result['seconds']:.2f} s)"
    )
