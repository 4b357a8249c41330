"""The real figures behind the calibration bands: the tape statistics of each real Polymarket capture.

`python -m bench.calibration_sources DATA_DIR` reads the team's capture collection (the layout of its
MANIFEST.md) and prints, per capture, the median and range over its markets of every figure that
capture can measure, computed with the same definitions as the synthetic flow's (`tapestats`).
docs/market-world.md ("Calibration") turns these into the bands of `polymm_cli.exchange.calibration`.

Captures and what each can measure:
- Tickscope NHL game tape (June 2026, ms timestamps, trades + every level update; no book snapshots,
  so only the best bid/ask is always known and the size at best only once its level was touched);
  one tape per YES/NO pair (the pair's updates mirror each other; the token with the lexically
  smaller id is taken as YES). Rows arrive out of order (up to 2.9 s): sorted by time, stably.
- selcuk crypto up/down trades (March 2026, ms, two bursts of about 40 and 55 s) and top-5 book
  snapshots (polled about every 30 s): trades per market (Up = YES) over the burst windows; spreads
  and depth from the snapshots. Too short for Fano factors, volatility or 60 s impact.
- NYC-mayor trade tape (October 2025, 1 s timestamps, one token): five pages of 1,900 trades split at
  gaps over a day; no book, and 1 s stamps cannot separate taker events.
- Fed top of book (October 2025, snapshots every 3 s to 5 min): spreads, depth, 300 s volatility.
- Recorded book snapshots of 0.001-tick markets: the spread in cents.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polymm_cli.exchange.calibration import CAPTURES
from polymm_cli.exchange.tapestats import STAT_NAMES, Print, Tape, TapeStats, Top, tape_stats

TICKSCOPE = (
    "03_normalized_ticks/tickscope__polymarket_20260607_0130.parquet",
    "03_normalized_ticks/tickscope__polymarket_20260607_0145.parquet",
)
SELCUK_TRADES = "04_snapshots_and_trades/selcuk__live_trades_ws_2026-03-10.csv"
SELCUK_BOOKS = "04_snapshots_and_trades/selcuk__book_snapshots_top5_2026-03-10.csv"
NYC_TRADES = "04_snapshots_and_trades/rakshit__trades_nyc_mayor_2025-10-15_11-04.csv"
FED_TOP = "04_snapshots_and_trades/rakshit__dome_orderbook_tob_fed_2025-10-15_31.csv"
FINE_TICK_BOOKS = (
    "01_ws_current_format/nautilus__ws_book_snapshot_captured.json",
    "01_ws_current_format/polymercado__clob_ws_book_2026-01-04.json",
    "01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json",
    "02_ws_legacy_format/nautilus__ws_book_2024-10-13.json",
    "05_rest_and_metadata/polymercado__clob_rest_book_2026-01-04.json",
    "05_rest_and_metadata/nautilus__clob_rest_book_2024-10-13.json",
    "02_ws_legacy_format/aaimek__book_message_2025-01-21.json",
)

_TRADES = (
    "trades_per_min",
    "prints_per_event",
    "size_median",
    "size_p90",
    "size_p99",
    "tail_index",
    "sign_ac1_prints",
    "sign_ac1_events",
    "interarrival_cv",
    "fano_60s",
)
_TOP = ("spread_cents", "spread_ticks", "spread_ticks_mean", "depth_at_best")
_MID = ("mid_vol_1s", "mid_vol_10s", "mid_vol_60s", "mid_vol_300s", "jumps_per_hour")
_IMPACT = ("impact_0_5s", "impact_10s", "impact_60s")

# What each capture can measure (the rest of its figures are artefacts of its resolution or length).
MEASURES: dict[str, tuple[str, ...]] = {
    "tickscope": (*_TRADES, *_TOP, "book_updates_per_min", *_MID, *_IMPACT),
    "crypto": (*_TRADES[:9],),
    "crypto-books": _TOP,
    # 1 s stamps: order within a second and taker events are unknown, so no sign or event figures
    "nyc": (
        "trades_per_min",
        "size_median",
        "size_p90",
        "size_p99",
        "tail_index",
        "interarrival_cv",
        "fano_60s",
    ),
    "fed": (*_TOP, "mid_vol_300s"),
}
GAP_SPLIT_S = 86_400.0  # the NYC tape is five pages days apart: one tape per page
TICKSCOPE_MIN_PRINTS = 20  # of the six pairs, one traded 3 times; another's book never moved (left out)
CRYPTO_MIN_PRINTS = 30  # fewer prints in a 40 s burst say nothing about a market's flow


@dataclass
class SourceFigures:
    """One capture's tapes (one per market or page) and their figures."""

    name: str
    label: str
    tapes: dict[str, TapeStats] = field(default_factory=dict)

    def values(self, stat: str) -> list[float]:
        return [v for s in self.tapes.values() if (v := s.as_dict()[stat]) is not None]

    def summary(self, stat: str) -> tuple[float, float, float] | None:
        """(median, min, max) over the tapes, or None when no tape measures it."""
        values = self.values(stat)
        if not values or stat not in MEASURES[self.name]:
            return None
        return statistics.median(values), min(values), max(values)


# -- Tickscope ---------------------------------------------------------------------------------------


def _tickscope_rows(paths: Iterable[Path]) -> list[tuple[float, str, str, str, float, float, float, float]]:
    """(time s, kind, token, side, price, size, best bid, best ask) of every row, stably time-sorted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: list[tuple[float, str, str, str, float, float, float, float]] = []
    for path in paths:
        table = pq.read_table(path)
        ms = table.column("timestamp").cast(pa.int64()).to_pylist()
        unit = getattr(table.column("timestamp").type, "unit", "ms")
        scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
        cols = [table.column(c).to_pylist() for c in ("event_type", "asset_id", "side", "price", "size")]
        bbo = [table.column(c).to_pylist() for c in ("best_bid", "best_ask")]
        for i, stamp in enumerate(ms):
            kind, token, side, price, size = (c[i] for c in cols)
            rows.append((stamp * scale, kind, token, side, price, size, bbo[0][i], bbo[1][i]))
    rows.sort(key=lambda r: r[0])
    return rows


def _tickscope_pairs(
    rows: Sequence[tuple[float, str, str, str, float, float, float, float]],
) -> dict[str, str]:
    """token -> partner, from level updates that mirror each other (same time and size, prices sum to 1)."""
    votes: Counter[tuple[str, str]] = Counter()
    for i in range(len(rows) - 1):
        a, b = rows[i], rows[i + 1]
        same = a[0] == b[0] and a[1] == b[1] == "PRICE_CHANGE" and a[5] == b[5]
        if same and a[2] != b[2] and abs(a[4] + b[4] - 1.0) < 1e-9:
            votes[(a[2], b[2])] += 1
            votes[(b[2], a[2])] += 1
    best: dict[str, tuple[int, str]] = {}
    for (a_token, b_token), n in votes.items():
        if n > best.get(a_token, (0, ""))[0]:
            best[a_token] = (n, b_token)
    return {a: b for a, (_, b) in best.items() if best.get(b, (0, ""))[1] == a}


def _tick_of(prices: Iterable[float]) -> float:
    """0.001 when any price needs a third decimal, else 0.01."""
    return 0.001 if any(abs(p * 100 - round(p * 100)) > 1e-6 for p in prices if p > 0) else 0.01


def tickscope_tapes(paths: Sequence[Path]) -> dict[str, Tape]:
    """One tape per YES/NO pair of the Tickscope files (read together, as one capture)."""
    rows = _tickscope_rows(paths)
    partners = _tickscope_pairs(rows)
    start, end = rows[0][0], rows[-1][0]
    tapes: dict[str, Tape] = {}
    for yes in sorted(t for t in partners if t < partners[t]):
        no = partners[yes]
        mine = [r for r in rows if r[2] in (yes, no)]
        tape = _pair_tape(mine, yes, start, end)
        mids = {(top.bid, top.ask) for top in tape.tops}
        if len(tape.prints) >= TICKSCOPE_MIN_PRINTS and len(mids) > 1:
            tapes[f"{yes[:6]}…/{no[:6]}…"] = tape
    return tapes


def _pair_tape(
    rows: Sequence[tuple[float, str, str, str, float, float, float, float]],
    yes: str,
    start: float,
    end: float,
) -> Tape:
    prints: list[Print] = []
    tops: list[Top] = []
    levels: dict[bool, dict[float, float]] = {True: {}, False: {}}
    updates = 0
    for t, kind, token, side, price, size, best_bid, best_ask in rows:
        if kind == "LAST_TRADE":
            bought = side in ("BID", "BUY")
            is_yes = token == yes
            prints.append(Print(t, price if is_yes else 1 - price, size, 1 if bought == is_yes else -1))
        elif kind == "PRICE_CHANGE" and token == yes:
            updates += 1
            book = levels[side in ("BID", "BUY")]
            if size > 0:
                book[round(price, 4)] = size
            else:
                book.pop(round(price, 4), None)
            bid = best_bid if best_bid > 0 else None
            ask = best_ask if 0 < best_ask < 1 else None
            tops.append(Top(t, bid, ask, _size_at(levels[True], bid), _size_at(levels[False], ask)))
    tick = _tick_of(r[4] for r in rows if r[1] == "PRICE_CHANGE")
    return Tape(start, end, tick, prints, tops, updates)


def _size_at(levels: dict[float, float], price: float | None) -> float | None:
    return None if price is None else levels.get(round(price, 4))


# -- selcuk crypto up/down ---------------------------------------------------------------------------


def _bursts(times: Sequence[float], gap_s: float = 300.0) -> list[tuple[float, float]]:
    """(first, last) of runs of times separated by less than `gap_s`."""
    ordered = sorted(times)
    runs = [[ordered[0], ordered[0]]]
    for t in ordered[1:]:
        if t - runs[-1][1] < gap_s:
            runs[-1][1] = t
        else:
            runs.append([t, t])
    return [(a, b) for a, b in runs]


def crypto_tapes(trades_csv: Path) -> dict[str, Tape]:
    """One trade tape per up/down market and trade burst with enough prints (Up = YES)."""
    with trades_csv.open(newline="") as f:
        trades = list(csv.DictReader(f))
    bursts = _bursts([int(r["timestamp_ms"]) / 1000 for r in trades])
    by_market: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in trades:
        by_market[row["market_slug"]].append(row)
    tapes: dict[str, Tape] = {}
    for slug, rows in sorted(by_market.items()):
        for start, end in bursts:
            mine = [r for r in rows if start <= int(r["timestamp_ms"]) / 1000 <= end]
            if len(mine) >= CRYPTO_MIN_PRINTS:
                tapes[f"{slug}@{start:.0f}"] = Tape(start, end, 0.01, _crypto_prints(mine), [], 0)
    return tapes


def crypto_book_tapes(books_csv: Path, markets: Iterable[str]) -> dict[str, Tape]:
    """The snapshots of the Up book of each of `markets` (slugs) as a tops-only tape."""
    wanted = set(markets)
    with books_csv.open(newline="") as f:
        books = [r for r in csv.DictReader(f) if r["outcome"] == "Up" and r["market_slug"] in wanted]
    tapes: dict[str, Tape] = {}
    for slug in sorted(wanted):
        tops = _snapshot_tops(r for r in books if r["market_slug"] == slug)
        if tops:
            tapes[slug] = Tape(tops[0].time, tops[-1].time + 1, 0.01, [], tops, 0)
    return tapes


def _crypto_prints(rows: Iterable[dict[str, str]]) -> list[Print]:
    prints = []
    for r in rows:
        up = r["outcome"] == "Up"
        bought = r["side"] == "BUY"
        price = float(r["price"])
        prints.append(
            Print(
                int(r["timestamp_ms"]) / 1000,
                price if up else 1 - price,
                float(r["size"]),
                1 if bought == up else -1,
            )
        )
    prints.sort(key=lambda p: p.time)
    return prints


def _snapshot_tops(rows: Iterable[dict[str, str]]) -> list[Top]:
    tops = [
        Top(
            int(r["timestamp_ms"]) / 1000,
            float(r["bid_1_price"]),
            float(r["ask_1_price"]),
            float(r["bid_1_size"]),
            float(r["ask_1_size"]),
        )
        for r in rows
        if r["bid_1_price"] and r["ask_1_price"]
    ]
    tops.sort(key=lambda t: t.time)
    return tops


def _traded_slugs(trades_csv: Path) -> set[str]:
    """The markets with a trade tape (the busy ones: the snapshots also poll markets not yet trading)."""
    return {key.split("@")[0] for key in crypto_tapes(trades_csv)}


# -- NYC mayor and Fed ---------------------------------------------------------------------------------


def nyc_tapes(trades_csv: Path) -> dict[str, Tape]:
    """One tape per page of the NYC-mayor trade tape (pages are days apart)."""
    with trades_csv.open(newline="") as f:
        prints = [
            Print(
                float(r["timestamp_sec"]),
                float(r["price"]),
                float(r["shares_normalized"]),
                int(r["direction"]),
            )
            for r in csv.DictReader(f)
        ]
    prints.sort(key=lambda p: p.time)
    pages: list[list[Print]] = [[prints[0]]]
    for p in prints[1:]:
        if p.time - pages[-1][-1].time > GAP_SPLIT_S:
            pages.append([])
        pages[-1].append(p)
    return {
        f"page {i + 1}": Tape(pg[0].time, pg[-1].time + 1, 0.001, pg, [], 0) for i, pg in enumerate(pages)
    }


def fed_tapes(top_csv: Path) -> dict[str, Tape]:
    """The Fed market's top of book as one tape."""
    with top_csv.open(newline="") as f:
        tops = [
            Top(
                int(r["timestamp_ms"]) / 1000,
                float(r["best_bid_price"]),
                float(r["best_ask_price"]),
                float(r["best_bid_size"]),
                float(r["best_ask_size"]),
            )
            for r in csv.DictReader(f)
            if r["best_bid_price"] and r["best_ask_price"]
        ]
    tops.sort(key=lambda t: t.time)
    return {"fed": Tape(tops[0].time, tops[-1].time, 0.01, [], tops, 0)}


# -- recorded books of 0.001-tick markets -------------------------------------------------------------


def _book_messages(obj: Any) -> list[dict[str, Any]]:
    if isinstance(obj, list):
        return [m for m in obj if isinstance(m, dict) and "bids" in m]
    return [obj] if isinstance(obj, dict) and "bids" in obj else []


def fine_tick_spreads(paths: Iterable[Path]) -> dict[str, float]:
    """Spread in cents of each recorded book on a 0.001-tick market (the first book of each file)."""
    spreads: dict[str, float] = {}
    for path in paths:
        for message in _book_messages(json.loads(path.read_text()))[:1]:
            bids = [float(level["price"]) for level in message["bids"]]
            asks = [float(level["price"]) for level in message["asks"]]
            if bids and asks and _tick_of([*bids, *asks]) == 0.001:
                spreads[path.name] = round(100 * (min(asks) - max(bids)), 2)
    return spreads


# -- the report ----------------------------------------------------------------------------------------


READERS: dict[str, Callable[[Path], dict[str, Tape]]] = {
    "tickscope": lambda data: tickscope_tapes([data / p for p in TICKSCOPE]),
    "crypto": lambda data: crypto_tapes(data / SELCUK_TRADES),
    "crypto-books": lambda data: crypto_book_tapes(data / SELCUK_BOOKS, _traded_slugs(data / SELCUK_TRADES)),
    "nyc": lambda data: nyc_tapes(data / NYC_TRADES),
    "fed": lambda data: fed_tapes(data / FED_TOP),
}
"""capture name (as in `calibration.CAPTURES`) -> its tapes, read from the collection at a path."""


def figures(name: str, data: Path) -> SourceFigures:
    """One capture's figures (FileNotFoundError when its files are absent)."""
    tapes = READERS[name](data)
    return SourceFigures(name, CAPTURES[name], {k: tape_stats(t) for k, t in tapes.items()})


def all_figures(data: Path) -> list[SourceFigures]:
    """Every capture's figures (a missing file skips its capture)."""
    out = []
    for name in READERS:
        try:
            out.append(figures(name, data))
        except FileNotFoundError:
            continue
    return out


def report(data: Path) -> str:
    lines: list[str] = []
    for source in all_figures(data):
        lines.append(f"== {source.label} ({source.name}, {len(source.tapes)} tapes)")
        for stat in STAT_NAMES:
            summary = source.summary(stat)
            if summary is not None:
                median, low, high = summary
                lines.append(f"  {stat:22s} {median:10.4g}   ({low:.4g} .. {high:.4g})")
    spreads = fine_tick_spreads(data / p for p in FINE_TICK_BOOKS if (data / p).is_file())
    lines.append("== recorded books of 0.001-tick markets: spread in cents")
    lines.extend(f"  {name:60s} {value:6.2f}" for name, value in spreads.items())
    if spreads:
        lines.append(f"  median {statistics.median(spreads.values()):.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")))
