"""The recording format (v1): what `polymm record` writes, what the importers of real captures
produce, and what the backtest replays through the same wire parser as the live feed.

A recording is a directory of files `rec-<UTC start>-<seq:04d>.jsonl.zst` (or one such file): zstandard-
compressed JSON lines. Every file starts with a header, so each file stands on its own:

    {"type":"header","version":1,"created_ns":N,"source":"<ws url or import:<file>>","markets":[...]}
    {"type":"frame","recv_ns":N,"text":"<a raw WebSocket text frame, verbatim>"}
    {"type":"book","recv_ns":N,"token_id":"...","text":"<a raw REST /book body, verbatim>"}
    {"type":"gap","recv_ns":N,"reason":"..."}        (the feed was lost: what happened since is missing)

`recv_ns` is our receive time in unix nanoseconds (for an import: the capture's own receive time,
else its exchange timestamp). A market is `model.Market`'s fields with Decimals as strings.

Crash safety: the writer ends a zstd frame (and fsyncs) at least once a second of receive time and
whenever the caller's timer calls `flush()`, so a crash loses under a second. The reader reads every
complete line, frame by frame, and stops cleanly at a cut (an unfinished zstd frame, a partial line):
it never raises for a truncated file; it logs what was cut and reports it (`Truncation`).
Files are created 0600 in a directory created 0700, like every private file of polymm (files.py).

Must not: import cli or services, read the wall clock (times come with the records).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import IO, Any, get_type_hints

import zstandard

from polymm_cli.errors import UsageError
from polymm_cli.files import PRIVATE_DIR, PRIVATE_FILE, fsync_directory
from polymm_cli.model import Market, RewardParams
from polymm_cli.venues.base import MarketEvent
from polymm_cli.venues.polymarket.wire import WireError, parse_market_frame, parse_rest_book

log = logging.getLogger("polymm.backtest")

FORMAT_VERSION = 1
FILE_PREFIX = "rec-"
FILE_SUFFIX = ".jsonl.zst"
DEFAULT_ROTATE_BYTES = 100 * 1024 * 1024  # compressed bytes per file
DEFAULT_ROTATE_S = 3600.0  # receive time per file
DEFAULT_FLUSH_S = 1.0
_NS = 1_000_000_000
_READ_CHUNK = 1 << 20
_MAX_LOGGED_PROBLEMS = 20


class RecordingError(UsageError):
    """A recording that cannot be read or written (not a recording, a newer version, no space)."""


# -- records -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    """The first line of every file: what was recorded, from where, and the markets to rebuild."""

    created_ns: int
    source: str
    markets: tuple[Market, ...]
    version: int = FORMAT_VERSION

    @property
    def recv_ns(self) -> int:
        return self.created_ns


@dataclass(frozen=True, slots=True)
class Frame:
    """One WebSocket text frame of the market channel, verbatim."""

    recv_ns: int
    text: str


@dataclass(frozen=True, slots=True)
class RestBook:
    """One REST `GET /book` answer for a token, verbatim."""

    recv_ns: int
    token_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Gap:
    """The feed was lost at `recv_ns` (why: `reason`); data up to the next book snapshot is missing."""

    recv_ns: int
    reason: str


Record = Header | Frame | RestBook | Gap
Data = Frame | RestBook | Gap  # what a writer is given: the header it writes itself


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One step of a replay: a parsed market event (its `venue_ts` from the wire, its `recv_ts` the
    recording's) or a gap (`gap` says why); `recv_ts` in unix seconds."""

    recv_ts: float
    event: MarketEvent | None
    gap: str | None = None


@dataclass(frozen=True, slots=True)
class Truncation:
    """What a cut file lost at its end: compressed bytes of an unfinished zstd frame, and the bytes of
    a partial last line. `corrupt`: the file stopped on bytes that are not zstd at all."""

    path: Path
    lines: int
    unfinished_frame_bytes: int
    partial_line_bytes: int
    corrupt: bool = False

    def describe(self) -> str:
        what = "is corrupt" if self.corrupt else "was cut (a crash?)"
        return (
            f"{self.path.name} {what}: read its {self.lines} complete lines; dropped "
            f"{self.unfinished_frame_bytes} compressed bytes of an unfinished zstd frame and "
            f"{self.partial_line_bytes} bytes of a partial line"
        )


# -- markets as JSON ------------------------------------------------------------------------------------

_MARKET_TYPES = get_type_hints(Market)
_REWARD_TYPES = get_type_hints(RewardParams)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, RewardParams):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(RewardParams)}
    return value


def market_to_json(market: Market) -> dict[str, Any]:
    """A market's every field, Decimals as strings (exact: "5.0" stays "5.0")."""
    return {f.name: _plain(getattr(market, f.name)) for f in fields(Market)}


def _typed(name: str, kind: Any, value: Any) -> Any:
    if kind is Decimal:
        if not isinstance(value, str | int):
            raise ValueError(f"{name} is not a decimal string")
        return Decimal(value)
    if kind is RewardParams:
        if not isinstance(value, dict):
            raise ValueError(f"{name} is not an object")
        known = {k: _typed(k, _REWARD_TYPES[k], v) for k, v in value.items() if k in _REWARD_TYPES}
        return RewardParams(**known)
    if kind in (str, bool, int) and type(value) is not kind:
        raise ValueError(f"{name} is not a {kind.__name__}")
    return value


def market_from_json(obj: Any) -> Market:
    """The market a header holds; unknown keys are ignored (a later version may add some), a missing
    optional field takes its default. ValueError names the first bad field."""
    if not isinstance(obj, dict):
        raise ValueError("a market is not an object")
    try:
        known = {k: _typed(k, _MARKET_TYPES[k], v) for k, v in obj.items() if k in _MARKET_TYPES}
        return Market(**known)
    except (TypeError, InvalidOperation) as exc:
        raise ValueError(f"malformed market: {type(exc).__name__}") from None


# -- lines ----------------------------------------------------------------------------------------------


def encode(record: Record) -> bytes:
    """One JSON line (ASCII, so any text survives byte for byte)."""
    if type(record) is Frame:
        obj: dict[str, Any] = {"type": "frame", "recv_ns": record.recv_ns, "text": record.text}
    elif type(record) is RestBook:
        obj = {"type": "book", "recv_ns": record.recv_ns, "token_id": record.token_id, "text": record.text}
    elif type(record) is Gap:
        obj = {"type": "gap", "recv_ns": record.recv_ns, "reason": record.reason}
    elif type(record) is Header:
        obj = {
            "type": "header",
            "version": record.version,
            "created_ns": record.created_ns,
            "source": record.source,
            "markets": [market_to_json(m) for m in record.markets],
        }
    else:
        raise TypeError(f"not a record: {type(record).__name__}")
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode("ascii")


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if type(value) is not int:
        raise ValueError(f"{key} is not an integer")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if type(value) is not str:
        raise ValueError(f"{key} is not a string")
    return value


_LINE_DECODER = json.JSONDecoder()


def decode(line: bytes | str) -> Record | None:
    """The record of one line; None for a record type this version does not know (skipped).
    ValueError for a line that is not a record."""
    obj = _LINE_DECODER.decode(line.decode("utf-8") if isinstance(line, bytes) else line)
    if not isinstance(obj, dict):
        raise ValueError("a line is not a JSON object")
    kind = obj.get("type")
    if kind == "frame":
        return Frame(_int(obj, "recv_ns"), _text(obj, "text"))
    if kind == "book":
        return RestBook(_int(obj, "recv_ns"), _text(obj, "token_id"), _text(obj, "text"))
    if kind == "gap":
        return Gap(_int(obj, "recv_ns"), _text(obj, "reason"))
    if kind == "header":
        markets = obj.get("markets")
        if not isinstance(markets, list):
            raise ValueError("markets is not a list")
        return Header(
            created_ns=_int(obj, "created_ns"),
            source=_text(obj, "source"),
            markets=tuple(market_from_json(m) for m in markets),
            version=_int(obj, "version"),
        )
    return None


# -- writing --------------------------------------------------------------------------------------------


def file_name(start_ns: int, seq: int) -> str:
    """`rec-<UTC start>-<seq:04d>.jsonl.zst`: names sort in time order, then in sequence."""
    stamp = datetime.fromtimestamp(start_ns / _NS, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{FILE_PREFIX}{stamp}-{seq:04d}{FILE_SUFFIX}"


def private_directory(directory: Path) -> None:
    """Create the recording's directory (0700, parents too); RecordingError when it cannot be one."""
    try:
        directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    except FileExistsError:
        raise RecordingError(f"{directory} exists and is not a directory") from None
    except OSError as exc:
        raise RecordingError(f"cannot create {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise RecordingError(f"{directory} is not a directory")


class RecordingWriter:
    """Writes records to rotating files; see the module docstring for the guarantees.

    A new file starts (header first) when the current one holds `rotate_bytes` compressed bytes or
    `rotate_s` seconds of receive time. `flush_every_s` (None: only at rotation and close) bounds
    how much receive time a crash can lose; `flush()` ends the current zstd frame now (a caller's
    timer calls it, so a quiet feed is on disk too). `on_rotate(path)` is told of each new file after
    the first. Times come from the records, so writing is deterministic.
    """

    def __init__(
        self,
        directory: Path,
        *,
        source: str,
        markets: Sequence[Market],
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
        rotate_s: float | None = DEFAULT_ROTATE_S,
        flush_every_s: float | None = DEFAULT_FLUSH_S,
        level: int = 3,
        on_rotate: Callable[[Path], None] | None = None,
    ) -> None:
        if rotate_bytes <= 0 or (rotate_s is not None and rotate_s <= 0):
            raise ValueError("rotation limits must be positive")
        private_directory(directory)
        self._dir = directory
        self._source = source
        self._markets = tuple(markets)
        self._rotate_bytes = rotate_bytes
        self._rotate_ns = None if rotate_s is None else int(rotate_s * _NS)
        self._flush_ns = None if flush_every_s is None else int(flush_every_s * _NS)
        self._compressor = zstandard.ZstdCompressor(level=level)
        self._on_rotate = on_rotate
        self._file: IO[bytes] | None = None
        self._zw: Any = None  # zstandard's stream writer over _file
        self._session_ns: int | None = None
        self._seq = 0
        self._file_start_ns = 0
        self._last_ns = 0
        self._flushed_ns = 0
        self._pending = False
        self._done_bytes = 0
        self._closed = False
        self.files: list[Path] = []
        self.records = 0

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def bytes_written(self) -> int:
        """Compressed bytes in every file so far (what the disk holds after the next flush)."""
        return self._done_bytes + (self._zw.tell() if self._zw is not None else 0)

    def write(self, record: Data) -> None:
        if self._closed:
            raise ValueError("the recording is closed")
        if self._zw is None or (
            self._rotate_ns is not None and record.recv_ns - self._file_start_ns >= self._rotate_ns
        ):
            self._next_file(record.recv_ns)
        self._zw.write(encode(record))
        self.records += 1
        self._pending = True
        self._last_ns = record.recv_ns
        if self._flush_ns is not None and record.recv_ns - self._flushed_ns >= self._flush_ns:
            self.flush()
        if self._zw.tell() >= self._rotate_bytes:
            self._finish_file()

    def flush(self) -> None:
        """End the current zstd frame and fsync: everything written so far survives a crash."""
        if self._zw is None or not self._pending:
            return
        assert self._file is not None
        self._zw.flush(zstandard.FLUSH_FRAME)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._pending = False
        self._flushed_ns = self._last_ns

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finish_file()

    def _finish_file(self) -> None:
        if self._zw is None:
            return
        self._pending = True  # the frame is ended even when empty, so the file always ends cleanly
        self.flush()
        self._zw.close()  # closes the file too
        self._zw = self._file = None
        self._done_bytes += self.files[-1].stat().st_size
        fsync_directory(self._dir)

    def _next_file(self, start_ns: int) -> None:
        self._finish_file()
        if self._session_ns is None:
            self._session_ns = start_ns
        handle = self._create(self._session_ns)
        self._file = handle
        self._zw = self._compressor.stream_writer(handle, closefd=True)
        self._file_start_ns = self._flushed_ns = start_ns
        self._zw.write(encode(Header(start_ns, self._source, self._markets)))
        self._pending = True
        self.flush()  # the header is on disk before any data: a file is a recording from its start
        fsync_directory(self._dir)
        if len(self.files) > 1 and self._on_rotate is not None:
            self._on_rotate(self.files[-1])

    def _create(self, session_ns: int) -> IO[bytes]:
        while True:
            self._seq += 1
            path = self._dir / file_name(session_ns, self._seq)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            except FileExistsError:
                continue  # another recording started in the same second: take the next number
            except OSError as exc:
                raise RecordingError(f"cannot create {path}: {exc.strerror or exc}") from None
            os.fchmod(fd, PRIVATE_FILE)
            self.files.append(path)
            return os.fdopen(fd, "wb")


# -- reading --------------------------------------------------------------------------------------------


def recording_files(path: Path) -> list[Path]:
    """The files of a recording: `path` itself, or a directory's `*.jsonl.zst` in name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith(FILE_SUFFIX) and p.is_file())
        if not files:
            raise RecordingError(f"no recording files (*{FILE_SUFFIX}) in {path}")
        return files
    if path.is_file():
        return [path]
    raise RecordingError(f"no such recording: {path}")


class _LineReader:
    """The complete lines of one file, zstd frame after zstd frame, stopping cleanly at a cut."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.truncation: Truncation | None = None

    def __iter__(self) -> Iterator[bytes]:
        dctx = zstandard.ZstdDecompressor()
        obj = dctx.decompressobj()
        fed = 0  # compressed bytes given to the current (unfinished) zstd frame
        tail = b""
        with self.path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                data = chunk
                while data:
                    fed += len(data)
                    try:
                        out = obj.decompress(data)
                    except zstandard.ZstdError:
                        self._cut(fed, len(tail), corrupt=True)
                        return
                    data = b""
                    if obj.eof:
                        data = obj.unused_data
                        obj, fed = dctx.decompressobj(), 0
                    if out:
                        parts = (tail + out).split(b"\n")
                        tail = parts.pop()
                        self.lines += len(parts)
                        yield from parts
        if fed or tail:
            self._cut(fed, len(tail), corrupt=False)

    def _cut(self, frame_bytes: int, line_bytes: int, *, corrupt: bool) -> None:
        self.truncation = Truncation(self.path, self.lines, frame_bytes, line_bytes, corrupt)
        log.warning("%s", self.truncation.describe())


def _file_records(path: Path, truncations: list[Truncation] | None) -> Generator[Record, None, None]:
    reader = _LineReader(path)
    first = True
    for line in reader:
        try:
            record = decode(line)
        except ValueError as exc:
            if first:
                raise RecordingError(f"{path.name} is not a polymm recording ({exc})") from None
            log.warning("%s: stopped at a line that is not a record (%s)", path.name, exc)
            break
        if first:
            _check_header(path, record)
            first = False
        if record is not None:
            yield record
    if reader.truncation is not None and truncations is not None:
        truncations.append(reader.truncation)


def _check_header(path: Path, record: Record | None) -> None:
    if type(record) is not Header:
        raise RecordingError(f"{path.name} is not a polymm recording (no header line)")
    if record.version > FORMAT_VERSION:
        raise RecordingError(
            f"{path.name} is format v{record.version}; this polymm reads up to v{FORMAT_VERSION}"
        )


def read_records(path: Path, truncations: list[Truncation] | None = None) -> Iterator[Record]:
    """Every record of a recording (a file, or a directory's files in name order), headers included.

    A cut file is read up to its last complete line, then the next file follows; each cut is logged
    and, when `truncations` is given, appended to it. RecordingError for what is not a recording."""
    for file in recording_files(path):
        yield from _file_records(file, truncations)


def recording_markets(path: Path) -> list[Market]:
    """The markets of a recording's headers, each once (by condition id), in first-seen order."""
    found: dict[str, Market] = {}
    for file in recording_files(path):
        records = _file_records(file, None)
        try:
            header = next(records, None)
        finally:
            records.close()
        if isinstance(header, Header):
            for market in header.markets:
                found.setdefault(market.condition_id, market)
    return list(found.values())


_BOOK_DECODER = json.JSONDecoder(parse_float=Decimal)


class _Noise:
    """Counts what a replay skipped, logging the first few (a bad recording must not flood the log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, what: str) -> None:
        self.count += 1
        if self.count <= _MAX_LOGGED_PROBLEMS:
            log.warning("replay: skipped %s", what)


def _frame_items(record: Frame, noise: _Noise) -> list[ReplayItem]:
    recv_ts = record.recv_ns / _NS
    try:
        events, problems = parse_market_frame(record.text, recv_ts)
    except WireError as exc:
        noise(f"a frame that does not parse: {exc}")
        return []
    for bad in problems:
        noise(f"a malformed event: {bad.error}")
    return [ReplayItem(recv_ts, event) for event in events]


def _book_item(record: RestBook, noise: _Noise) -> ReplayItem | None:
    recv_ts = record.recv_ns / _NS
    try:
        return ReplayItem(recv_ts, parse_rest_book(_BOOK_DECODER.decode(record.text), recv_ts))
    except (ValueError, WireError) as exc:
        noise(f"a REST book of {record.token_id[:16]} that does not parse: {str(exc)[:80]}")
        return None


def replay_events(path: Path, tokens: Collection[str] = ()) -> Iterator[ReplayItem]:
    """The recording as the engine would have seen it: each frame parsed by `wire.parse_market_frame`
    and each REST book by `wire.parse_rest_book` (events keep the wire's `venue_ts` and take the
    recording's receive time), and each gap; in recording order. What does not parse is skipped and
    logged (the first few), as the live stream does.

    `tokens`: only frames and books that name one of these token ids (a recording of several
    markets replayed for one: the others' frames are not even parsed)."""
    noise = _Noise()
    wanted = tuple(tokens)
    for record in read_records(path):
        if type(record) is Frame:
            if not wanted or any(t in record.text for t in wanted):
                yield from _frame_items(record, noise)
        elif type(record) is RestBook:
            if wanted and record.token_id not in wanted:
                continue
            item = _book_item(record, noise)
            if item is not None:
                yield item
        elif type(record) is Gap:
            yield ReplayItem(record.recv_ns / _NS, None, record.reason)


def is_recording(path: Path) -> bool:
    """A recording file or a directory holding some (not a capture to import)."""
    if path.is_dir():
        return any(p.name.endswith(FILE_SUFFIX) for p in path.iterdir())
    return path.name.endswith(FILE_SUFFIX)


def open_source(path: Path, cache_dir: Path | None = None) -> Path:
    """A recording to replay from `path`: a recording as it is, or a real capture (a nautilus .json
    of WebSocket messages, the aaimek .csv, a tickscope .parquet) imported first (importers.py)."""
    from polymm_cli.backtest.importers import import_source  # importers write with this module

    return path if is_recording(path) else import_source(path, cache_dir)
