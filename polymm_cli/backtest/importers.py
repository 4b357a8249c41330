"""Real Polymarket captures -> recordings of the same format (recording.py), so a backtest runs on
real data from the first day, through the same wire parser as the live feed.

Formats, told apart by their content:
- **nautilus** (`.json`): one market-channel WebSocket message or a JSON array of them, as
  nautilus_trader keeps them in its test data. Each message becomes one frame whose text is the
  message's own JSON text, verbatim (cut out of the array). An object without `event_type` that
  holds `asset_id`, `bids` and `asks` is a REST `/book` answer and becomes a book record.
- **aaimek** (`.csv`, columns `id, asset_id, market, timestamp, hash, changes`): legacy-era
  `price_change` messages exported from a database: timestamps in local time with their offset
  (`2025-01-25 18:15:47.925 +0100`), `changes` a JSON string with its keys re-ordered. Each row
  becomes a legacy `price_change` frame with the wire's key order (`price, side, size`) and an
  epoch-ms timestamp. There is no book snapshot: a replay knows only the levels the feed touched.
- **tickscope** (`.parquet`, columns `timestamp, price, size, best_bid, best_ask, side, event_type,
  asset_id`): one row per level update (`PRICE_CHANGE`) or trade (`LAST_TRADE`, side = the
  taker's), in arrival order, with no book snapshots. Consecutive level updates of one market with
  one timestamp become one current-era `price_change` frame (best bid/ask per entry, an empty side
  spelled "0"/"1" as the venue does), each trade a `last_trade_price` frame.

Receive times: none of these captures kept one, so `recv_ns` is the exchange timestamp (ms), held
non-decreasing: the rows are in arrival order, and nothing arrives before what came ahead of it.
The frames keep their own timestamps (`venue_ts`).

Markets (the header): the condition id comes from the data when it has one (nautilus, aaimek);
tickscope has none, so its tokens are paired into YES/NO markets by their mirrored updates (a BID at
p on one token with the same timestamp and size as an ASK at 1-p on the other) and each pair gets
`synthetic_condition_id(a, b)`: "0x" + sha256("polymm-import:" + the two ids in numeric order),
stable across cuts of the same data. Which token is YES cannot be told from the data: it is the one
with the first book snapshot, else the first seen. A token whose partner never shows gets the
placeholder NO token `complement:<token id>`. Tick size: the book's `tick_size` when a snapshot has
one (or the first `tick_size_change`'s old tick), else inferred from the prices seen (their most
decimals: 2 -> 0.01, 3 -> 0.001, 4 -> 0.0001); minimum order size: the book's, else 5.

Must not: import cli or services, read the wall clock.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import hashlib
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from polymm_cli.backtest.recording import (
    DEFAULT_ROTATE_BYTES,
    Data,
    Frame,
    RecordingError,
    RecordingWriter,
    RestBook,
    file_name,
    private_directory,
    recording_files,
)
from polymm_cli.model import TICK_SIZES, Market, decimal_str

FORMATS = ("nautilus", "aaimek", "tickscope")
DEFAULT_MIN_ORDER_SIZE = Decimal(5)
COMPLEMENT_PREFIX = "complement:"
IMPORTER_VERSION = 1  # part of the cache key: a changed importer never reuses an old import
_MS_NS = 1_000_000
_AAIMEK_COLUMNS = ("id", "asset_id", "market", "timestamp", "hash", "changes")
_TICKSCOPE_COLUMNS = ("timestamp", "price", "size", "best_bid", "best_ask", "side", "event_type", "asset_id")
_SIDES = {"BID": "BUY", "ASK": "SELL", "BUY": "BUY", "SELL": "SELL"}
_TICK_BY_DECIMALS = {2: Decimal("0.01"), 3: Decimal("0.001"), 4: Decimal("0.0001")}


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture read into the recording's terms: its markets and its records, in arrival order."""

    format: str
    source: str
    markets: tuple[Market, ...]
    records: Iterable[Data]


@dataclass(frozen=True, slots=True)
class ImportResult:
    capture: Path
    format: str
    files: tuple[Path, ...]
    records: int
    markets: tuple[Market, ...]


# -- markets --------------------------------------------------------------------------------------------


def synthetic_condition_id(*token_ids: str) -> str:
    """A stable stand-in condition id for tokens whose capture does not name their market."""
    ordered = sorted(token_ids, key=lambda t: (len(t), t))  # numeric order of decimal ids
    return "0x" + hashlib.sha256(("polymm-import:" + ":".join(ordered)).encode()).hexdigest()


def _decimals(price: str) -> int:
    return len(price.partition(".")[2].rstrip("0"))


@dataclass
class _MarketFacts:
    """What a capture says about one market, gathered while reading it."""

    condition_id: str = ""
    tokens: list[str] = field(default_factory=list)  # in order seen
    booked: list[str] = field(default_factory=list)  # tokens with a book snapshot, in order
    tick: Decimal | None = None
    min_size: Decimal | None = None
    neg_risk: bool = False
    decimals: int = 0

    def token(self, token_id: str) -> None:
        if token_id not in self.tokens:
            self.tokens.append(token_id)

    def price(self, price: str) -> None:
        self.decimals = max(self.decimals, _decimals(price))

    def market(self, label: str) -> Market:
        order = self.booked + [t for t in self.tokens if t not in self.booked]
        yes = order[0]
        no = order[1] if len(order) > 1 else COMPLEMENT_PREFIX + yes
        cid = self.condition_id or synthetic_condition_id(*order[:2])
        tick = self.tick or _TICK_BY_DECIMALS.get(max(2, min(self.decimals, 4)), Decimal("0.01"))
        return Market(
            condition_id=cid,
            question=f"{label} capture, market {cid[:10]}…",
            slug=f"{label}-{cid[2:10]}",
            yes_token=yes,
            no_token=no,
            tick_size=tick,
            min_order_size=self.min_size or DEFAULT_MIN_ORDER_SIZE,
            neg_risk=self.neg_risk,
        )


def _tick_of(value: Any) -> Decimal | None:
    try:
        tick = Decimal(str(value))
    except InvalidOperation:
        return None
    return tick if tick in TICK_SIZES else None


class _Clock:
    """Receive times from exchange timestamps, held non-decreasing (see the module docstring)."""

    def __init__(self) -> None:
        self.ns = 0

    def at_ms(self, ms: int | None) -> int:
        if ms is not None:
            self.ns = max(self.ns, ms * _MS_NS)
        return self.ns


# -- nautilus: JSON messages ------------------------------------------------------------------------


def _message_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each element of a JSON array text, or of the one top-level value."""
    scanner = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        return [(start, len(text.rstrip()))]
    spans: list[tuple[int, int]] = []
    pos = start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\n\r,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return spans
        _, end = scanner.raw_decode(text, pos)
        spans.append((pos, end))
        pos = end


def _ms(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        n = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        return None
    return n if n >= 100_000_000_000 else n * 1000  # seconds or ms, as wire.py reads them


def _note_levels(facts: _MarketFacts, obj: dict[str, Any]) -> None:
    for key in ("bids", "asks", "changes", "price_changes"):
        for level in obj.get(key) or []:
            if isinstance(level, dict) and isinstance(level.get("price"), str):
                facts.price(level["price"])
                if isinstance(level.get("asset_id"), str):
                    facts.token(level["asset_id"])
    if isinstance(obj.get("price"), str):
        facts.price(obj["price"])


def _note_book(facts: _MarketFacts, obj: dict[str, Any], token: str) -> None:
    if token not in facts.booked:
        facts.booked.append(token)
    tick = _tick_of(obj.get("tick_size")) if obj.get("tick_size") else None
    facts.tick = facts.tick or tick
    if obj.get("min_order_size"):
        with contextlib.suppress(InvalidOperation):
            facts.min_size = facts.min_size or Decimal(str(obj["min_order_size"]))
    facts.neg_risk = facts.neg_risk or obj.get("neg_risk") is True


def _note_message(facts: dict[str, _MarketFacts], obj: dict[str, Any]) -> str | None:
    """Learn what one message says about its market; the token id of a REST book, else None."""
    raw_cid, raw_token = obj.get("market"), obj.get("asset_id")
    cid = raw_cid if isinstance(raw_cid, str) else ""
    token = raw_token if isinstance(raw_token, str) else None
    kind = obj.get("event_type")
    is_rest_book = kind is None and token is not None and "bids" in obj and "asks" in obj
    key = cid or (token or "")
    market = facts.setdefault(key, _MarketFacts(condition_id=cid))
    if token is not None:
        market.token(token)
    _note_levels(market, obj)
    if token is not None and (kind == "book" or is_rest_book):
        _note_book(market, obj, token)
    if kind == "tick_size_change" and market.tick is None:
        market.tick = _tick_of(obj.get("old_tick_size"))
    return token if is_rest_book else None


def read_nautilus(path: Path) -> Capture:
    text = path.read_text(encoding="utf-8")
    try:
        spans = _message_spans(text)
    except ValueError as exc:
        raise RecordingError(f"{path.name} is not JSON: {str(exc)[:80]}") from None
    facts: dict[str, _MarketFacts] = {}
    records: list[Data] = []
    clock = _Clock()
    for start, end in spans:
        raw = text[start:end]
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise RecordingError(f"{path.name}: an element is not a JSON object")
        book_token = _note_message(facts, obj)
        if book_token is None and not isinstance(obj.get("event_type"), str):
            raise RecordingError(f"{path.name}: not market-channel messages (an object has no event_type)")
        recv_ns = clock.at_ms(_ms(obj.get("timestamp")))
        records.append(Frame(recv_ns, raw) if book_token is None else RestBook(recv_ns, book_token, raw))
    markets = tuple(f.market("nautilus") for f in facts.values() if f.tokens)
    if not markets:
        raise RecordingError(f"{path.name}: no market messages")
    return Capture("nautilus", f"import:{path.name}", markets, records)


# -- aaimek: legacy price_change messages in a CSV ---------------------------------------------------------


def _local_ms(text: str) -> int:
    """Epoch ms of '2025-01-25 18:15:47.925 +0100' (a time with its own UTC offset)."""
    text = text.strip()
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f %z")
    except ValueError:
        try:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            raise ValueError(f"not a timestamp with an offset: {text[:40]!r}") from None
    return round(moment.timestamp() * 1000)


def _legacy_frame(row: dict[str, str], ms: int) -> str:
    changes = [
        {"price": c["price"], "side": c["side"], "size": c["size"]} for c in json.loads(row["changes"])
    ]
    message = {
        "asset_id": row["asset_id"],
        "changes": changes,
        "event_type": "price_change",
        "hash": row["hash"],
        "market": row["market"],
        "timestamp": str(ms),
    }
    return json.dumps(message, separators=(",", ":"))


def read_aaimek(path: Path) -> Capture:
    facts: dict[str, _MarketFacts] = {}
    records: list[Data] = []
    clock = _Clock()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != _AAIMEK_COLUMNS:
            raise RecordingError(f"{path.name}: expected the columns {', '.join(_AAIMEK_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            try:
                ms = _local_ms(row["timestamp"])
                text = _legacy_frame(row, ms)
            except (ValueError, KeyError, TypeError) as exc:
                raise RecordingError(f"{path.name} line {line}: {str(exc)[:80]}") from None
            market = facts.setdefault(row["market"], _MarketFacts(condition_id=row["market"]))
            market.token(row["asset_id"])
            for change in json.loads(row["changes"]):
                market.price(str(change["price"]))
            records.append(Frame(clock.at_ms(ms), text))
    if not records:
        raise RecordingError(f"{path.name}: no messages")
    return Capture(
        "aaimek", f"import:{path.name}", tuple(f.market("aaimek") for f in facts.values()), records
    )


# -- tickscope: normalized ticks in parquet -------------------------------------------------------------


def _num(value: float) -> str:
    """A float the feed handler parsed from a decimal string, back to that string."""
    if value == int(value):
        return str(int(value))
    text = repr(value)
    if "e" in text or len(text.partition(".")[2]) > 6:
        text = f"{value:.6f}"
    return decimal_str(Decimal(text))


@dataclass(frozen=True, slots=True)
class _Ticks:
    """The parquet's columns as Python lists (ms timestamps, prices as decimal strings)."""

    ms: list[int]
    price: list[str]
    size: list[str]
    best_bid: list[str]
    best_ask: list[str]
    side: list[str]
    kind: list[str]
    token: list[str]

    def __len__(self) -> int:
        return len(self.ms)

    def mirrored(self, i: int, j: int) -> bool:
        return (
            self.ms[i] == self.ms[j]
            and self.kind[i] == self.kind[j] == "PRICE_CHANGE"
            and self.token[i] != self.token[j]
            and self.side[i] != self.side[j]
            and self.size[i] == self.size[j]
            and Decimal(self.price[i]) + Decimal(self.price[j]) == 1
        )


def _load_ticks(path: Path) -> _Ticks:
    import pyarrow as pa  # heavy: only an import of this format pays for it
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise RecordingError(f"{path.name} is not a parquet file: {str(exc)[:80]}") from None
    if not set(_TICKSCOPE_COLUMNS) <= set(table.column_names):
        raise RecordingError(f"{path.name}: expected the columns {', '.join(_TICKSCOPE_COLUMNS)}")
    stamp = table.column("timestamp")
    unit = getattr(stamp.type, "unit", "ms")
    divisor = {"s": 1, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
    raw_ms = stamp.cast(pa.int64()).to_pylist()
    ms = [v * 1000 if unit == "s" else v // divisor for v in raw_ms]

    def floats(name: str) -> list[str]:
        cache: dict[float, str] = {}  # prices and sizes repeat: each distinct value is formatted once
        out = []
        for v in table.column(name).to_pylist():
            text = cache.get(v)
            if text is None:
                text = cache[v] = _num(v)
            out.append(text)
        return out

    def strings(name: str) -> list[str]:
        return [str(v) for v in table.column(name).to_pylist()]

    return _Ticks(
        ms,
        floats("price"),
        floats("size"),
        floats("best_bid"),
        floats("best_ask"),
        strings("side"),
        strings("event_type"),
        strings("asset_id"),
    )


def _pair_tokens(ticks: _Ticks) -> dict[str, str]:
    """token -> its partner, from mirrored updates (each token to the partner it mirrors most)."""
    votes: Counter[tuple[str, str]] = Counter()
    for i in range(len(ticks) - 1):
        for j in range(i + 1, min(i + 4, len(ticks))):
            if ticks.ms[j] != ticks.ms[i]:
                break
            if ticks.mirrored(i, j):
                votes[(ticks.token[i], ticks.token[j])] += 1
                votes[(ticks.token[j], ticks.token[i])] += 1
    best: dict[str, tuple[int, str]] = {}
    for (a, b), n in votes.items():
        if n > best.get(a, (0, ""))[0]:
            best[a] = (n, b)
    return {a: b for a, (_, b) in best.items() if best.get(b, (0, ""))[1] == a}


def _tickscope_markets(ticks: _Ticks) -> dict[str, Market]:
    """token -> its market."""
    partners = _pair_tokens(ticks)
    keys = {t: synthetic_condition_id(t, partners[t]) if t in partners else t for t in set(ticks.token)}
    facts: dict[str, _MarketFacts] = {}
    for token, price in zip(ticks.token, ticks.price, strict=True):
        market = facts.setdefault(keys[token], _MarketFacts())
        market.token(token)
        market.price(price)
    by_token: dict[str, Market] = {}
    for f in facts.values():
        built = f.market("tickscope")
        for token in f.tokens:
            by_token[token] = built
    return by_token


def _tick_frames(ticks: _Ticks, markets: dict[str, Market]) -> Iterator[Frame]:
    clock = _Clock()
    i = 0
    while i < len(ticks):
        cid = markets[ticks.token[i]].condition_id
        recv_ns = clock.at_ms(ticks.ms[i])
        if ticks.kind[i] != "PRICE_CHANGE":
            if ticks.kind[i] == "LAST_TRADE":
                yield Frame(recv_ns, _trade_text(ticks, i, cid))
            i += 1
            continue
        j = i + 1
        while (
            j < len(ticks)
            and ticks.kind[j] == "PRICE_CHANGE"
            and ticks.ms[j] == ticks.ms[i]
            and markets[ticks.token[j]].condition_id == cid
        ):
            j += 1
        yield Frame(recv_ns, _price_change_text(ticks, range(i, j), cid))
        i = j


def _price_change_text(ticks: _Ticks, rows: Sequence[int], cid: str) -> str:
    entries = [
        {
            "asset_id": ticks.token[r],
            "price": ticks.price[r],
            "size": ticks.size[r],
            "side": _SIDES[ticks.side[r]],
            "best_bid": ticks.best_bid[r],
            "best_ask": "1" if ticks.best_ask[r] == "0" else ticks.best_ask[r],
        }
        for r in rows
    ]
    message = {
        "market": cid,
        "price_changes": entries,
        "timestamp": str(ticks.ms[rows[0]]),
        "event_type": "price_change",
    }
    return json.dumps(message, separators=(",", ":"))


def _trade_text(ticks: _Ticks, r: int, cid: str) -> str:
    message = {
        "asset_id": ticks.token[r],
        "event_type": "last_trade_price",
        "market": cid,
        "price": ticks.price[r],
        "side": _SIDES[ticks.side[r]],
        "size": ticks.size[r],
        "timestamp": str(ticks.ms[r]),
    }
    return json.dumps(message, separators=(",", ":"))


def read_tickscope(path: Path) -> Capture:
    ticks = _load_ticks(path)
    if not len(ticks):
        raise RecordingError(f"{path.name}: no rows")
    unknown = set(ticks.side) - set(_SIDES)
    if unknown:
        raise RecordingError(f"{path.name}: unknown side {sorted(unknown)[0][:16]!r}")
    by_token = _tickscope_markets(ticks)
    # busiest first: a backtest without --market replays the recording's first market
    rows = Counter(by_token[t].condition_id for t in ticks.token)
    markets = tuple(
        sorted({m.condition_id: m for m in by_token.values()}.values(), key=lambda m: -rows[m.condition_id])
    )
    return Capture("tickscope", f"import:{path.name}", markets, _tick_frames(ticks, by_token))


# -- entry points ---------------------------------------------------------------------------------------


def detect_format(path: Path) -> str:
    """Which capture `path` is (by its content's kind: JSON, CSV or parquet); RecordingError if none."""
    if not path.is_file():
        raise RecordingError(f"no such file: {path}")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "tickscope"
    stripped = head.lstrip()
    if stripped.startswith((b"[", b"{")):
        return "nautilus"
    first_line = stripped.split(b"\n", 1)[0].decode("utf-8", "replace")
    if first_line.replace('"', "").strip().split(",") == list(_AAIMEK_COLUMNS):
        return "aaimek"
    raise RecordingError(
        f"{path.name} is not a capture polymm can import (nautilus JSON, aaimek CSV, tickscope parquet)"
    )


_READERS = {"nautilus": read_nautilus, "aaimek": read_aaimek, "tickscope": read_tickscope}


def read_capture(path: Path) -> Capture:
    return _READERS[detect_format(path)](path)


def import_capture(path: Path, out_dir: Path, *, rotate_bytes: int = DEFAULT_ROTATE_BYTES) -> ImportResult:
    """Write the capture at `path` as a recording in `out_dir` (files named by the capture's start,
    so a directory of imports that do not overlap reads in time order). Refuses a directory that
    already holds a recording starting at the same second (the same capture imported before)."""
    capture = read_capture(path)
    records = iter(capture.records)
    first = next(records, None)
    if first is None:
        raise RecordingError(f"{path.name}: nothing to import")
    private_directory(out_dir)
    stamp = file_name(first.recv_ns, 1).rsplit("-", 1)[0]
    if any(p.name.startswith(stamp + "-") for p in out_dir.iterdir()):
        raise RecordingError(
            f"{out_dir} already holds a recording starting at {stamp[4:]} (imported before?)"
        )
    with RecordingWriter(
        out_dir,
        source=capture.source,
        markets=capture.markets,
        rotate_bytes=rotate_bytes,
        rotate_s=None,
        flush_every_s=None,
    ) as writer:
        writer.write(first)
        for record in records:
            writer.write(record)
    return ImportResult(path, capture.format, tuple(writer.files), writer.records, capture.markets)


def _digest(path: Path) -> str:
    sha = hashlib.sha256(f"polymm-import-v{IMPORTER_VERSION}:".encode())
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()[:16]


def import_source(path: Path, cache_dir: Path | None = None) -> Path:
    """A recording of the capture at `path`: imported into `cache_dir` once (keyed by the file's
    content, reused afterwards), or without a cache into a temporary directory removed at exit."""
    if cache_dir is None:
        out = Path(tempfile.mkdtemp(prefix="polymm-import-"))
        atexit.register(shutil.rmtree, out, True)
        import_capture(path, out)
        return out
    target = cache_dir / f"{path.stem}-{_digest(path)}"
    if target.is_dir():
        try:
            recording_files(target)
            return target
        except RecordingError:
            shutil.rmtree(target, ignore_errors=True)
    private_directory(cache_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    try:
        import_capture(path, staging)
        staging.rename(target)  # whole or not at all: a crash never leaves half an import cached
    except OSError:
        if not target.is_dir():  # not another process's import of the same file, finished first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
