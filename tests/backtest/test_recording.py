"""The recording format: lossless round trips, rotation, crash safety, the replay through wire.py."""

from __future__ import annotations

import json
import random
import shutil
import stat
from decimal import Decimal
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm_cli.backtest.recording import (
    FILE_SUFFIX,
    Frame,
    Gap,
    Header,
    RecordingError,
    RecordingWriter,
    RestBook,
    Truncation,
    encode,
    market_from_json,
    market_to_json,
    read_records,
    recording_files,
    recording_markets,
    replay_events,
)
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.model import Market, RewardParams
from polymm_cli.venues.base import BookSnapshot, LastTrade, PriceChange

D = Decimal
NS = 1_000_000_000
T0 = 1_796_000_000 * NS
FED = sample_markets()[0]
YES, NO = FED.yes_token, FED.no_token

RICH_MARKET = Market(
    condition_id="0x" + "ab" * 32,
    question='Will "it" happen? ünïcödé',
    slug="will-it-happen",
    yes_token="123",
    no_token="456",
    tick_size=D("0.001"),
    min_order_size=D("5.0"),
    neg_risk=True,
    rewards=RewardParams(max_spread_cents=D("3.5"), min_size=D("20"), daily_rate=D("125.000")),
    taker_fee_rate=D("0.072"),
    fee_exponent=2,
    end_date="2026-12-31T00:00:00Z",
    category="Sports",
    active=True,
    closed=False,
    accepting_orders=False,
    neg_risk_market_id="0x" + "cd" * 32,
    volume=D("123456.789"),
)


def price_change(ts_ms: int, price: str, size: str, side: str = "BUY", token: str = YES) -> str:
    return json.dumps(
        {
            "market": FED.condition_id,
            "price_changes": [
                {
                    "asset_id": token,
                    "price": price,
                    "size": size,
                    "side": side,
                    "hash": "h",
                    "best_bid": price,
                }
            ],
            "timestamp": str(ts_ms),
            "event_type": "price_change",
        }
    )


def rest_book(token: str = YES, ts_ms: int = 1_796_000_000_000) -> str:
    return json.dumps(
        {
            "market": FED.condition_id,
            "asset_id": token,
            "timestamp": str(ts_ms),
            "hash": "x",
            "bids": [{"price": "0.48", "size": "10"}, {"price": "0.49", "size": "20"}],
            "asks": [{"price": "0.52", "size": "30"}, {"price": "0.51", "size": "40"}],
            "tick_size": "0.01",
            "min_order_size": "5",
            "neg_risk": False,
        }
    )


def writer(directory: Path, **options: object) -> RecordingWriter:
    return RecordingWriter(directory, source="ws://test/ws/market", markets=[FED], **options)  # type: ignore[arg-type]


def data_records(recording: Path) -> list[Frame | RestBook | Gap]:
    return [r for r in read_records(recording) if not isinstance(r, Header)]


# -- round trips ------------------------------------------------------------------------------------


def test_frames_books_and_gaps_come_back_byte_for_byte(tmp_path: Path) -> None:
    awkward = [
        '{"a":"line\nbreak","q":"\\"quoted\\"","tab":"\t"}',
        "ünïcödé ✓ 🚀 and a lone backslash \\",
        "",
        "PONG",
        "x" * 200_000,
        "\u2028 line separators \u2029 and \x00 nul",
    ]
    written: list[Frame | RestBook | Gap] = [Frame(T0 + i, text) for i, text in enumerate(awkward)]
    written += [RestBook(T0 + 10, YES, rest_book()), Gap(T0 + 11, "watchdog: no frame for 5 s")]

    with writer(tmp_path / "rec") as w:
        for record in written:
            w.write(record)

    assert data_records(tmp_path / "rec") == written
    [header] = [r for r in read_records(tmp_path / "rec") if isinstance(r, Header)]
    assert header == Header(T0, "ws://test/ws/market", (FED,))


def test_every_market_field_survives_the_header_exactly() -> None:
    again = market_from_json(json.loads(json.dumps(market_to_json(RICH_MARKET))))

    assert again == RICH_MARKET
    assert str(again.min_order_size) == "5.0"  # exact decimals, not just equal ones


def test_a_header_written_by_a_later_version_with_more_fields_still_reads() -> None:
    obj = market_to_json(FED) | {"some_future_field": [1, 2]}
    del obj["volume"]  # and one an older writer did not have takes its default

    assert market_from_json(obj) == FED


@pytest.mark.parametrize(
    ("field", "value"), [("tick_size", 0.01), ("neg_risk", "yes"), ("rewards", []), ("yes_token", 123)]
)
def test_a_malformed_market_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        market_from_json(market_to_json(FED) | {field: value})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**12), st.text(max_size=300)), max_size=30))
def test_any_text_round_trips(
    tmp_path_factory: pytest.TempPathFactory, frames: list[tuple[int, str]]
) -> None:
    directory = tmp_path_factory.mktemp("rec")
    written = [Frame(T0 + dt, text) for dt, text in frames]
    with writer(directory) as w:
        for record in written:
            w.write(record)

    assert (data_records(directory) if written else []) == written


# -- files ---------------------------------------------------------------------------------------------


def test_files_are_private_and_named_by_their_utc_start(tmp_path: Path) -> None:
    with writer(tmp_path / "new" / "rec") as w:
        w.write(Frame(1_796_000_000 * NS + 123, "x"))

    [file] = w.files
    assert file.name == "rec-20261130T005320Z-0001.jsonl.zst"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new" / "rec").stat().st_mode) == 0o700


def test_two_recordings_started_in_the_same_second_never_overwrite_each_other(tmp_path: Path) -> None:
    for text in ("first", "second"):
        with writer(tmp_path) as w:
            w.write(Frame(T0, text))

    assert [f.name[-14:] for f in recording_files(tmp_path)] == ["0001.jsonl.zst", "0002.jsonl.zst"]
    assert [r.text for r in data_records(tmp_path) if isinstance(r, Frame)] == ["first", "second"]


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")

    with pytest.raises(RecordingError, match="not a directory"):
        writer(tmp_path / "taken")


def test_size_rotation_starts_new_files_each_with_its_header(tmp_path: Path) -> None:
    rng = random.Random(3)
    rotated: list[Path] = []
    # four frames a second of about 1 kB compressed each (random hex): ~4 kB a second
    written = [Frame(T0 + i * NS // 4, rng.randbytes(1000).hex()) for i in range(60)]

    with writer(tmp_path, rotate_bytes=6_000, on_rotate=rotated.append) as w:
        for record in written:
            w.write(record)

    files = recording_files(tmp_path)
    assert len(files) >= 5 and files == w.files
    # a file ends at the first flush past the limit: at most a second of data (+ the header) more
    assert all(f.stat().st_size < 6_000 + 5_000 for f in files)
    assert rotated == files[1:]  # told of each new file
    for file in files:
        assert isinstance(next(iter(read_records(file))), Header)
    assert data_records(tmp_path) == written
    assert w.bytes_written == sum(f.stat().st_size for f in files)


def test_time_rotation_cuts_a_file_per_period_of_receive_time(tmp_path: Path) -> None:
    with writer(tmp_path, rotate_s=10) as w:
        for second in range(35):
            w.write(Frame(T0 + second * NS, f"frame {second}"))

    files = recording_files(tmp_path)
    assert len(files) == 4
    firsts = [next(r for r in read_records(f) if isinstance(r, Frame)).text for f in files]
    assert firsts == ["frame 0", "frame 10", "frame 20", "frame 30"]


# -- crashes and cuts -----------------------------------------------------------------------------------


def test_a_crash_loses_at_most_the_last_second(tmp_path: Path) -> None:
    w = writer(tmp_path)  # never closed: the process "dies" with it open
    for tenth in range(45):
        w.write(Frame(T0 + tenth * NS // 10, f"tick {tenth}"))
    crashed = tmp_path / "crash"
    crashed.mkdir()
    shutil.copy(w.files[0], crashed / w.files[0].name)  # what the disk holds at the crash

    got = [r.text for r in data_records(crashed) if isinstance(r, Frame)]

    assert got == [f"tick {t}" for t in range(len(got))]
    assert len(got) >= 45 - 10  # the frames of the last second at most are lost


def test_a_flush_puts_everything_written_on_disk(tmp_path: Path) -> None:
    w = writer(tmp_path, flush_every_s=None)
    w.write(Frame(T0, "a"))
    w.write(Frame(T0 + 1, "b"))
    w.flush()

    assert [r.text for r in data_records(w.files[0]) if isinstance(r, Frame)] == ["a", "b"]
    w.close()


def test_a_file_cut_anywhere_reads_up_to_its_last_complete_line_and_says_what_it_dropped(
    tmp_path: Path,
) -> None:
    with writer(tmp_path / "whole", flush_every_s=0.5) as w:
        for i in range(40):
            w.write(Frame(T0 + i * NS // 4, f"frame {i} " + "y" * (i * 37)))
    data = w.files[0].read_bytes()
    full = [r.text for r in data_records(tmp_path / "whole") if isinstance(r, Frame)]
    cut_file = tmp_path / ("cut" + FILE_SUFFIX)

    reported = 0
    for cut in range(1, len(data), 7):
        cut_file.write_bytes(data[:cut])
        truncations: list[Truncation] = []
        try:
            got = [r.text for r in read_records(cut_file, truncations) if isinstance(r, Frame)]
        except RecordingError:  # cut inside the header line: the file is not a recording yet
            assert cut < 200
            continue

        assert got == full[: len(got)]  # a clean prefix, never a garbled line
        assert len(truncations) <= 1  # none for a cut between two zstd frames: nothing was dropped
        for truncation in truncations:
            assert truncation.path == cut_file and not truncation.corrupt
            assert truncation.unfinished_frame_bytes + truncation.partial_line_bytes > 0
            assert "was cut" in truncation.describe()
            reported += 1
    assert reported > len(data) // 7 // 2


def test_garbage_after_the_last_frame_stops_the_file_cleanly_and_is_reported(tmp_path: Path) -> None:
    with writer(tmp_path) as w:
        w.write(Frame(T0, "kept"))
    with w.files[0].open("ab") as handle:
        handle.write(b"this is not zstd at all")

    truncations: list[Truncation] = []
    got = [r for r in read_records(tmp_path, truncations) if isinstance(r, Frame)]

    assert got == [Frame(T0, "kept")]
    assert truncations[0].corrupt and "is corrupt" in truncations[0].describe()


def test_a_cut_file_in_the_middle_of_a_directory_does_not_stop_the_next_one(tmp_path: Path) -> None:
    with writer(tmp_path, rotate_s=1) as w:
        for second in range(3):
            w.write(Frame(T0 + second * NS, f"s{second}"))
    first = w.files[0]
    first.write_bytes(first.read_bytes()[:-12])  # into the data frame, past the header's
    truncations: list[Truncation] = []

    got = [r.text for r in read_records(tmp_path, truncations) if isinstance(r, Frame)]

    assert got[-2:] == ["s1", "s2"]
    assert [t.path for t in truncations] == [first]


def compressed(*lines: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(b"".join(lines))


def test_what_is_not_a_recording_is_refused_in_one_line(tmp_path: Path) -> None:
    plain = tmp_path / ("plain" + FILE_SUFFIX)
    plain.write_bytes(compressed(b'{"hello": "world"}\n'))
    newer = tmp_path / "newer"
    newer.mkdir()
    header = json.loads(encode(Header(T0, "x", (FED,))))
    (newer / ("rec" + FILE_SUFFIX)).write_bytes(
        compressed(json.dumps(header | {"version": 2}).encode() + b"\n")
    )

    with pytest.raises(RecordingError, match="no header"):
        list(read_records(plain))
    with pytest.raises(RecordingError, match="format v2"):
        list(read_records(newer))
    with pytest.raises(RecordingError, match="no such recording"):
        list(read_records(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingError, match="no recording files"):
        list(read_records(tmp_path / "empty"))


def test_a_record_type_this_version_does_not_know_is_skipped(tmp_path: Path) -> None:
    file = tmp_path / ("rec" + FILE_SUFFIX)
    file.write_bytes(
        compressed(
            encode(Header(T0, "x", (FED,))),
            b'{"type":"hologram","recv_ns":1}\n',
            encode(Frame(T0 + 1, "after")),
        )
    )

    assert data_records(file) == [Frame(T0 + 1, "after")]


# -- markets and replay --------------------------------------------------------------------------------


def test_the_markets_of_a_recording_are_every_header_s_each_once(tmp_path: Path) -> None:
    btc = sample_markets()[1]
    with RecordingWriter(tmp_path, source="s", markets=[FED], rotate_s=1) as w:
        w.write(Frame(T0, "a"))
    with RecordingWriter(tmp_path, source="s", markets=[btc, FED], rotate_s=1) as w:
        w.write(Frame(T0 + 5 * NS, "b"))

    assert recording_markets(tmp_path) == [FED, btc]


def test_the_replay_parses_frames_and_books_with_the_wire_parser(tmp_path: Path) -> None:
    trade = json.dumps(
        {
            "asset_id": YES,
            "event_type": "last_trade_price",
            "market": FED.condition_id,
            "price": "0.49",
            "side": "SELL",
            "size": "12",
            "timestamp": "1796000002000",
        }
    )
    with writer(tmp_path) as w:
        w.write(RestBook(T0, YES, rest_book(ts_ms=1_795_999_999_000)))
        w.write(Frame(T0 + NS, price_change(1_796_000_000_500, "0.495", "7")))
        w.write(Frame(T0 + 2 * NS, "PONG"))
        w.write(Frame(T0 + 3 * NS, "{not json"))
        w.write(Gap(T0 + 4 * NS, "connection closed (code 1006)"))
        w.write(Frame(T0 + 5 * NS, trade))

    items = list(replay_events(tmp_path))

    assert [(i.recv_ts, type(i.event).__name__, i.gap) for i in items] == [
        (T0 / NS, "BookSnapshot", None),
        (T0 / NS + 1, "PriceChange", None),
        (T0 / NS + 4, "NoneType", "connection closed (code 1006)"),
        (T0 / NS + 5, "LastTrade", None),
    ]
    book, change, _, last = (i.event for i in items)
    assert isinstance(book, BookSnapshot) and book.venue_ts == 1_795_999_999.0
    assert book.bids[0].price == D("0.49") and book.asks[0].price == D("0.51")  # best first
    assert isinstance(change, PriceChange) and change.venue_ts == 1_796_000_000.5
    assert change.updates[0].price == D("0.495") and change.recv_ts == T0 / NS + 1
    assert isinstance(last, LastTrade) and last.size == D("12")
