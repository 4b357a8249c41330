"""Importers of real captures: each gives records of the recording format whose frames the wire
parser accepts whole and whose books rebuild.

The copies in tests/fixtures (open licences) always run; the rest of the team's collection in
../shared/data runs when it is there (tests.conftest.shared_capture skips otherwise).
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from polymm_cli.backtest.importers import (
    COMPLEMENT_PREFIX,
    detect_format,
    import_capture,
    import_source,
    read_capture,
    synthetic_condition_id,
)
from polymm_cli.backtest.recording import (
    Frame,
    Header,
    RecordingError,
    RestBook,
    open_source,
    read_records,
    recording_files,
    recording_markets,
    replay_events,
)
from polymm_cli.book import OrderBook
from polymm_cli.model import Market, Side
from polymm_cli.venues.base import BookSnapshot, LastTrade, PriceChange, TickSizeChange
from polymm_cli.venues.books import apply_market_event
from polymm_cli.venues.polymarket.wire import parse_market_frame
from tests.conftest import fixture_path, shared_capture

D = Decimal
BURST = "01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json"
TICKSCOPE_SAMPLE = "03_normalized_ticks/tickscope__polymarket_20260607_0130_sample.parquet"
SAMPLE_A = "57953460969144501144385266431497900786362265483971474370583776523710017709396"
SAMPLE_B = "96068695550770798875229279981526101361495338295429275783268080720263673016964"
AAIMEK = "02_ws_legacy_format/aaimek__price_change_messages_2025-01-25_to_01-30.csv"
NAUTILUS_MESSAGES = [
    BURST,
    "01_ws_current_format/nautilus__ws_book_snapshot_captured.json",
    "02_ws_legacy_format/nautilus__ws_book_2024-10-13.json",
    "02_ws_legacy_format/nautilus__ws_last_trade_price_2024-08-25.json",
    "02_ws_legacy_format/nautilus__ws_price_change_flat_2024-08-18.json",
    "02_ws_legacy_format/nautilus__ws_tick_size_change_2025-02-09.json",
    "06_doc_examples/nautilus__price_change_v2_current_docderived.json",
    "06_doc_examples/nautilus__price_change_v2_legacy-changes_docderived.json",
]
SHARED_ONLY_MESSAGES = [
    "01_ws_current_format/polymercado__clob_ws_book_2026-01-04.json",
    "02_ws_legacy_format/aaimek__book_message_2025-01-21.json",
    "02_ws_legacy_format/aaimek__price_change_changes-array_2025-01-21.json",
]
REST_BOOKS = ["05_rest_and_metadata/nautilus__clob_rest_book_2024-10-13.json"]
SHARED_REST_BOOKS = ["05_rest_and_metadata/polymercado__clob_rest_book_2026-01-04.json"]
TICKSCOPE_FULL = [
    "03_normalized_ticks/tickscope__polymarket_20260607_0130.parquet",
    "03_normalized_ticks/tickscope__polymarket_20260607_0145.parquet",
]


def frames_parse_whole(recording: Path) -> list[object]:
    """Every frame and book of a recording parses with no bad element; the events, in order."""
    events: list[object] = []
    for record in read_records(recording):
        if isinstance(record, Frame):
            parsed = parse_market_frame(record.text, record.recv_ns / 1_000_000_000)
            assert parsed.problems == (), parsed.problems
            events.extend(parsed.events)
    replayed = [item.event for item in replay_events(recording)]
    assert [e for e in replayed if not isinstance(e, BookSnapshot)] == [
        e for e in events if not isinstance(e, BookSnapshot)
    ]
    return [e for e in replayed if e is not None]


def receive_times_never_go_back(recording: Path) -> None:
    times = [r.recv_ns for r in read_records(recording) if not isinstance(r, Header)]
    assert times == sorted(times)


# -- nautilus: WebSocket messages ---------------------------------------------------------------------


def test_the_crossing_burst_replays_to_its_closing_book_exactly(tmp_path: Path) -> None:
    result = import_capture(fixture_path(BURST), tmp_path)
    events = frames_parse_whole(tmp_path)
    opening, *changes, closing = events
    assert isinstance(opening, BookSnapshot) and isinstance(closing, BookSnapshot)
    books: dict[str, OrderBook] = {}

    for event in [opening, *changes]:
        apply_market_event(books, event)  # type: ignore[arg-type]

    book = books[opening.token_id]
    assert book.levels(Side.BUY) == closing.bids
    assert book.levels(Side.SELL) == closing.asks
    assert result.records == 51 and len(changes) == 49
    receive_times_never_go_back(tmp_path)


def test_the_crossing_burst_s_market_comes_from_its_own_messages(tmp_path: Path) -> None:
    import_capture(fixture_path(BURST), tmp_path)

    [market] = recording_markets(tmp_path)

    assert market.condition_id == "0x285746de0e4f751fd4dc8f9dc2cecd0101ba9ad0096a43145ed9643b09514f01"
    assert market.yes_token.startswith("7667")  # the token with the book snapshot
    assert market.no_token.startswith("5417")  # its partner in the price changes
    assert (market.tick_size, market.min_order_size) == (D("0.001"), D(5))


def test_each_frame_is_the_message_s_own_text_and_times_are_its_timestamps(tmp_path: Path) -> None:
    messages = json.loads(fixture_path(BURST).read_text())
    import_capture(fixture_path(BURST), tmp_path)

    frames = [r for r in read_records(tmp_path) if isinstance(r, Frame)]

    assert [json.loads(f.text) for f in frames] == messages
    assert frames[0].recv_ns == int(messages[0]["timestamp"]) * 1_000_000


@pytest.mark.parametrize("relative", NAUTILUS_MESSAGES)
def test_each_nautilus_capture_imports_and_parses(relative: str, tmp_path: Path) -> None:
    import_capture(fixture_path(relative), tmp_path)

    events = frames_parse_whole(tmp_path)

    assert events
    assert all(isinstance(e, BookSnapshot | PriceChange | LastTrade | TickSizeChange) for e in events)


@pytest.mark.parametrize("relative", SHARED_ONLY_MESSAGES)
def test_each_shared_message_capture_imports_and_parses(relative: str, tmp_path: Path) -> None:
    import_capture(shared_capture(relative), tmp_path)

    assert frames_parse_whole(tmp_path)


def test_a_lone_message_s_market_gets_a_placeholder_complement(tmp_path: Path) -> None:
    import_capture(
        fixture_path("02_ws_legacy_format/nautilus__ws_tick_size_change_2025-02-09.json"), tmp_path
    )

    [market] = recording_markets(tmp_path)

    assert market.no_token == COMPLEMENT_PREFIX + market.yes_token
    assert market.tick_size == D("0.01")  # the tick before the change: the market's at the start


@pytest.mark.parametrize("relative", REST_BOOKS)
def test_a_rest_book_becomes_a_book_record(relative: str, tmp_path: Path) -> None:
    import_capture(fixture_path(relative), tmp_path)

    [record] = [r for r in read_records(tmp_path) if not isinstance(r, Header)]
    [item] = list(replay_events(tmp_path))

    assert isinstance(record, RestBook) and record.text == fixture_path(relative).read_text().strip()
    assert isinstance(item.event, BookSnapshot) and item.event.token_id == record.token_id


@pytest.mark.parametrize("relative", SHARED_REST_BOOKS)
def test_a_shared_rest_book_becomes_a_book_record(relative: str, tmp_path: Path) -> None:
    import_capture(shared_capture(relative), tmp_path)

    [market] = recording_markets(tmp_path)
    [item] = list(replay_events(tmp_path))

    assert isinstance(item.event, BookSnapshot)
    assert market.tick_size == item.event.tick_size and market.min_order_size == item.event.min_order_size


# -- tickscope: normalized ticks -------------------------------------------------------------------------


def test_the_tickscope_sample_pairs_its_two_tokens_into_one_market(tmp_path: Path) -> None:
    import_capture(fixture_path(TICKSCOPE_SAMPLE), tmp_path)

    [market] = recording_markets(tmp_path)

    assert set(market.tokens) == {SAMPLE_A, SAMPLE_B}
    assert (
        market.condition_id
        == synthetic_condition_id(SAMPLE_A, SAMPLE_B)
        == synthetic_condition_id(SAMPLE_B, SAMPLE_A)
    )
    assert (market.tick_size, market.min_order_size) == (D("0.01"), D(5))


def test_the_tickscope_sample_keeps_every_row_in_arrival_order(tmp_path: Path) -> None:
    import_capture(fixture_path(TICKSCOPE_SAMPLE), tmp_path)

    events = frames_parse_whole(tmp_path)

    rows = pq.read_table(fixture_path(TICKSCOPE_SAMPLE)).to_pylist()
    levels = [r for r in rows if r["event_type"] == "PRICE_CHANGE"]
    updates = [u for e in events if isinstance(e, PriceChange) for u in e.updates]
    trades = [e for e in events if isinstance(e, LastTrade)]
    assert (len(updates), len(trades)) == (len(levels), len(rows) - len(levels)) == (19_314, 36)
    for row, update in zip(levels, updates, strict=True):
        assert update.token_id == row["asset_id"]
        assert update.side is (Side.BUY if row["side"] == "BID" else Side.SELL)
        assert (float(update.price), float(update.size)) == (row["price"], row["size"])
    assert [t.price for t in trades] == [D(repr(r["price"])) for r in rows if r["event_type"] == "LAST_TRADE"]
    receive_times_never_go_back(tmp_path)


def test_the_tickscope_books_rebuild_from_their_deltas(tmp_path: Path) -> None:
    import_capture(fixture_path(TICKSCOPE_SAMPLE), tmp_path)
    [market] = recording_markets(tmp_path)
    # no snapshot in this capture: the books start empty and hold what the deltas touched
    books = {t: OrderBook(t) for t in market.tokens}
    agreed = checked = 0
    items = list(replay_events(tmp_path))

    for n, item in enumerate(items):
        assert item.event is not None
        apply_market_event(books, item.event)
        if isinstance(item.event, PriceChange) and n > len(items) // 2:  # once the deltas warmed up
            last = {u.token_id: u for u in item.event.updates}
            for token, u in last.items():
                checked += 1
                agreed += (books[token].best_bid, books[token].best_ask) == (u.best_bid, u.best_ask)

    assert agreed / checked > 0.95  # the venue's own top of book, rebuilt
    yes, no = books[market.yes_token], books[market.no_token]
    assert {lv.price: lv.size for lv in yes.levels(Side.BUY)} == {
        1 - lv.price: lv.size for lv in no.levels(Side.SELL)
    }  # and the two books mirror each other, level for level


@pytest.mark.slow
@pytest.mark.parametrize("relative", TICKSCOPE_FULL)
def test_the_full_tickscope_captures_import_into_six_paired_markets(relative: str, tmp_path: Path) -> None:
    import_capture(shared_capture(relative), tmp_path)

    markets = recording_markets(tmp_path)
    events = frames_parse_whole(tmp_path)

    assert len(markets) == 6 and all(not m.no_token.startswith(COMPLEMENT_PREFIX) for m in markets)
    tokens = {t for m in markets for t in m.tokens}
    assert {e.token_id for e in events if isinstance(e, LastTrade)} <= tokens
    for event in events:
        if isinstance(event, PriceChange):
            [market] = [m for m in markets if m.condition_id == event.market]
            assert {u.token_id for u in event.updates} <= set(market.tokens)
    receive_times_never_go_back(tmp_path)


# -- aaimek: legacy price_change CSV ----------------------------------------------------------------------


def test_the_aaimek_csv_becomes_legacy_frames_in_utc(tmp_path: Path) -> None:
    result = import_capture(shared_capture(AAIMEK), tmp_path)

    events = frames_parse_whole(tmp_path)

    changes = [e for e in events if isinstance(e, PriceChange)]
    assert result.records == len(changes) == 3829
    sides = Counter(u.side for e in changes for u in e.updates)
    assert sides == {Side.SELL: 5404, Side.BUY: 725}
    assert changes[0].venue_ts == 1737825347.925  # 2025-01-25 18:15:47.925 +0100
    assert changes[0].updates[0].price == D("0.23") and changes[0].updates[0].size == D(300)
    [market] = recording_markets(tmp_path)
    assert market.condition_id.startswith("0xe0a5b98f") and market.yes_token.startswith("19132077")
    assert market.tick_size == D("0.01")
    receive_times_never_go_back(tmp_path)


# -- entry points ------------------------------------------------------------------------------------------


def test_formats_are_told_apart_by_their_content(tmp_path: Path) -> None:
    other = tmp_path / "notes.csv"
    other.write_text("a,b,c\n1,2,3\n")

    assert detect_format(fixture_path(BURST)) == "nautilus"
    assert detect_format(fixture_path(TICKSCOPE_SAMPLE)) == "tickscope"
    with pytest.raises(RecordingError, match="not a capture polymm can import"):
        detect_format(other)
    with pytest.raises(RecordingError, match="no such file"):
        detect_format(tmp_path / "missing.json")


def test_json_that_is_not_market_messages_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.json"
    page.write_text(json.dumps([{"condition_id": "0x1", "tokens": []}]))

    with pytest.raises(RecordingError, match="not market-channel messages"):
        read_capture(page)


def test_an_import_is_deterministic_and_never_doubled(tmp_path: Path) -> None:
    first = import_capture(fixture_path(BURST), tmp_path / "a")
    second = import_capture(fixture_path(BURST), tmp_path / "b")

    assert [f.read_bytes() for f in first.files] == [f.read_bytes() for f in second.files]
    with pytest.raises(RecordingError, match="imported before"):
        import_capture(fixture_path(BURST), tmp_path / "a")


def test_open_source_passes_a_recording_through_and_imports_a_capture_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    imported = open_source(fixture_path(BURST), cache)
    again = open_source(fixture_path(BURST), cache)

    assert imported == again and imported.parent == cache
    assert open_source(imported) == imported
    assert recording_files(imported)[0].stat().st_mtime_ns == recording_files(again)[0].stat().st_mtime_ns
    assert [p.name for p in cache.iterdir()] == [imported.name]  # no staging left behind
    temporary = import_source(fixture_path(BURST))
    assert recording_markets(temporary) == recording_markets(imported)


def test_markets_of_an_import_are_complete_market_values(tmp_path: Path) -> None:
    capture = read_capture(fixture_path(TICKSCOPE_SAMPLE))

    [market] = capture.markets

    assert isinstance(market, Market) and market.slug.startswith("tickscope-") and market.question
