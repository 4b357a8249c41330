"""Behaviour of the Polymarket wire parser: real captures, every format era, hostile frames, user fills.

Conformance tests read real captures: those under an open licence from tests/fixtures (in the
repository; provenance in its README), the others from ../shared/data beside the repository, never
copied in, and those tests skip when it is absent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polymm_cli.book import OrderBook
from polymm_cli.model import PriceLevel, Side, TradeStatus
from polymm_cli.venues.base import (
    BestBidAsk,
    BookSnapshot,
    LastTrade,
    OrderUpdate,
    PriceChange,
    TickSizeChange,
    TradeUpdate,
    UserEvent,
)
from polymm_cli.venues.books import apply_market_event
from polymm_cli.venues.polymarket.wire import (
    RAW_TEXT_MAX,
    BadElement,
    ParsedFrame,
    WireError,
    parse_market_frame,
    parse_rest_book,
    parse_rest_books,
    parse_user_frame,
)
from tests.conftest import fixture_path, shared_capture

D = Decimal
BURST = "01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json"
RECV = 1_800_000_000.5

MARKET = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
OUR_KEY = "11111111-2222-3333-4444-555555555555"
OUR_ADDRESS = "0xAbCdEf0000000000000000000000000000000001"
OTHER_KEY = "99999999-8888-7777-6666-555555555555"


def fixture_text(relative: str) -> str:
    """A capture under an open licence, from tests/fixtures."""
    return fixture_path(relative).read_text(encoding="utf-8")


def shared_text(relative: str) -> str:
    """A capture without an open licence, from ../shared/data (the test skips without it)."""
    return shared_capture(relative).read_text(encoding="utf-8")


def market_events(text: str | bytes, recv_ts: float = RECV) -> list[Any]:
    """The events of a market frame every element of which must parse."""
    parsed = parse_market_frame(text, recv_ts)
    assert parsed.problems == (), parsed.problems
    return parsed.events


def user_frame(frame: Any) -> ParsedFrame[UserEvent]:
    return parse_user_frame(json.dumps(frame), RECV, api_key=OUR_KEY, maker_address=OUR_ADDRESS)


def user(frame: Any) -> list[Any]:
    """The events of a user frame every element of which must parse."""
    parsed = user_frame(frame)
    assert parsed.problems == (), parsed.problems
    return parsed.events


# -- real captures: current format -----------------------------------------------------------------


def test_crossing_burst_replay_reproduces_the_closing_book_exactly() -> None:
    messages = json.loads(fixture_text(BURST))
    events = [e for m in messages for e in market_events(json.dumps(m), RECV)]
    opening, *changes, closing = events
    assert isinstance(opening, BookSnapshot) and isinstance(closing, BookSnapshot)
    books: dict[str, OrderBook] = {}

    for event in [opening, *changes]:
        apply_market_event(books, event)

    book = books[opening.token_id]
    assert opening.token_id.startswith("7667")
    assert book.levels(Side.BUY) == closing.bids
    assert book.levels(Side.SELL) == closing.asks
    assert (book.best_bid, book.best_ask) == (D("0.29"), D("0.301"))


def test_crossing_burst_top_of_book_agrees_except_mid_match() -> None:
    messages = json.loads(fixture_text(BURST))
    events = [e for m in messages for e in market_events(json.dumps(m), RECV)]
    opening = events[0]
    assert isinstance(opening, BookSnapshot)
    book = OrderBook(opening.token_id)
    book.apply_snapshot(opening.bids, opening.asks, opening.tick_size)
    disagreements = []

    for event in events[1:-1]:
        assert isinstance(event, PriceChange)
        for u in event.updates:
            if u.token_id == book.token_id:
                book.apply_level(u.side, u.price, u.size)
                if (book.best_bid, book.best_ask) != (u.best_bid, u.best_ask):
                    disagreements.append((event.venue_ts, book.is_crossed))

    # The venue's best_bid/best_ask is the state after the whole match: mid-match the replayed book
    # is briefly crossed (the MANIFEST documents exactly these two entries).
    assert disagreements == [(1790658827.0, True), (1790658827.0, True)]


def test_crossing_burst_parses_into_mirrored_two_token_changes() -> None:
    messages = json.loads(fixture_text(BURST))

    events = [e for m in messages for e in market_events(json.dumps(m), RECV)]

    changes = [e for e in events if isinstance(e, PriceChange)]
    assert len(changes) == 49
    assert sum(len(c.updates) for c in changes) == 98
    first = changes[0]
    assert first.venue_ts == 1790658674.035
    assert first.recv_ts == RECV
    yes, no = first.updates
    assert (yes.side, yes.price, yes.size) == (Side.BUY, D("0.301"), D("1000"))
    assert (no.side, no.price, no.size) == (Side.SELL, D("0.699"), D("1000"))
    assert (yes.best_bid, yes.best_ask) == (D("0.301"), D("0.397"))
    assert yes.hash == "b7623b6417b3ae46dbe5d608a65474c9cec84ef9"


def test_subscription_book_with_tick_size_and_last_trade_price() -> None:
    text = fixture_text("01_ws_current_format/nautilus__ws_book_snapshot_captured.json")

    [book] = market_events(text, RECV)

    assert isinstance(book, BookSnapshot)
    assert len(book.token_id) == 75
    assert book.tick_size == D("0.01")
    assert book.last_trade_price == D("0.920")
    assert (len(book.bids), len(book.asks)) == (7, 57)
    assert book.bids[0].price == max(lvl.price for lvl in book.bids)
    assert book.asks[0].price == min(lvl.price for lvl in book.asks)
    assert book.venue_ts == 1786604072.222


@pytest.mark.parametrize(
    ("read", "relative", "n_bids", "n_asks"),
    [
        (shared_text, "01_ws_current_format/polymercado__clob_ws_book_2026-01-04.json", 77, 7),
        (shared_text, "02_ws_legacy_format/aaimek__book_message_2025-01-21.json", 28, 12),
        (fixture_text, "02_ws_legacy_format/nautilus__ws_book_2024-10-13.json", 76, 86),
    ],
    ids=["2026-01", "2025-01", "2024-10"],
)
def test_books_of_every_era_parse_best_first(
    read: Callable[[str], str], relative: str, n_bids: int, n_asks: int
) -> None:
    text = read(relative)

    [book] = market_events(text, RECV)

    assert isinstance(book, BookSnapshot)
    assert (len(book.bids), len(book.asks)) == (n_bids, n_asks)
    bid_prices = [lvl.price for lvl in book.bids]
    ask_prices = [lvl.price for lvl in book.asks]
    assert bid_prices == sorted(bid_prices, reverse=True)
    assert ask_prices == sorted(ask_prices)
    assert book.tick_size is None
    assert book.bids[0].price < book.asks[0].price


# -- real captures and doc examples: older formats ---------------------------------------------------


def test_flat_2024_price_change_is_one_level_update() -> None:
    text = fixture_text("02_ws_legacy_format/nautilus__ws_price_change_flat_2024-08-18.json")

    [change] = market_events(text, RECV)

    assert isinstance(change, PriceChange)
    [u] = change.updates
    assert u.token_id.startswith("48331043")
    assert (u.side, u.price, u.size) == (Side.SELL, D("0.514"), D("21574.08"))
    assert u.hash == "bf32b3746fff40c76c98021b7f3f07261169dd26"
    assert u.best_bid is None and u.best_ask is None
    assert change.venue_ts == 1723967931.411


def test_legacy_changes_array_takes_the_top_level_asset_and_hash() -> None:
    text = shared_text("02_ws_legacy_format/aaimek__price_change_changes-array_2025-01-21.json")

    [change] = market_events(text, RECV)

    assert isinstance(change, PriceChange)
    [u] = change.updates
    assert u.token_id.startswith("54774190")
    assert (u.side, u.price, u.size) == (Side.BUY, D("0.644"), D("0"))
    assert u.hash == "d7186e8abc4ed70e41e6cb6abf65b4c20150dfe3"


def test_legacy_changes_export_of_six_thousand_levels_parses() -> None:
    path = shared_capture("02_ws_legacy_format/aaimek__price_change_messages_2025-01-25_to_01-30.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    sides = {Side.BUY: 0, Side.SELL: 0}

    for row in rows:
        ts = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S.%f %z")
        frame = {
            "event_type": "price_change",
            "asset_id": row["asset_id"],
            "market": row["market"],
            "timestamp": str(round(ts.timestamp() * 1000)),
            "hash": row["hash"],
            "changes": json.loads(row["changes"]),
        }
        [change] = market_events(json.dumps(frame), RECV)
        assert isinstance(change, PriceChange)
        for u in change.updates:
            sides[u.side] += 1

    assert len(rows) == 3829
    assert sides == {Side.BUY: 725, Side.SELL: 5404}


def test_last_trade_price_without_transaction_hash() -> None:
    text = fixture_text("02_ws_legacy_format/nautilus__ws_last_trade_price_2024-08-25.json")

    [trade] = market_events(text, RECV)

    assert isinstance(trade, LastTrade)
    assert (trade.price, trade.size, trade.taker_side) == (D("0.491"), D("85.36"), Side.SELL)
    assert trade.fee_rate_bps == 0
    assert trade.transaction_hash == ""


def test_tick_size_change_capture() -> None:
    text = fixture_text("02_ws_legacy_format/nautilus__ws_tick_size_change_2025-02-09.json")

    [change] = market_events(text, RECV)

    assert isinstance(change, TickSizeChange)
    assert (change.old_tick, change.new_tick) == (D("0.01"), D("0.001"))


@pytest.mark.parametrize(
    ("relative", "n_updates"),
    [
        ("06_doc_examples/nautilus__price_change_v2_current_docderived.json", 3),
        ("06_doc_examples/nautilus__price_change_v2_legacy-changes_docderived.json", 3),
    ],
)
def test_doc_derived_price_changes_parse(relative: str, n_updates: int) -> None:
    [change] = market_events(fixture_text(relative), RECV)

    assert isinstance(change, PriceChange)
    assert len(change.updates) == n_updates
    assert {u.token_id for u in change.updates} == {NO}


def doc_examples() -> list[dict[str, Any]]:
    path = shared_capture("06_doc_examples/polymarket_docs__ws_examples.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_valid_doc_example_parses_and_unknown_types_give_nothing() -> None:
    examples = [r for r in doc_examples() if r["valid_json"]]
    expected = {
        "book": BookSnapshot,
        "price_change": PriceChange,
        "last_trade_price": LastTrade,
        "best_bid_ask": BestBidAsk,
    }

    for record in examples:
        events = market_events(record["raw_text"], RECV)
        event_type = record["parsed"]["event_type"]
        if event_type in expected:
            assert [type(e) for e in events] == [expected[event_type]], record["doc_section"]
        else:  # new_market / market_resolved: not market-data events for the book
            assert events == [], record["doc_section"]
    assert len(examples) == 8


def test_docs_book_example_with_bare_leading_dot_prices() -> None:
    [record] = [r for r in doc_examples() if r["doc_section"] == "book"]

    [book] = market_events(record["raw_text"], RECV)

    assert isinstance(book, BookSnapshot)
    assert book.bids[0] == PriceLevel(D("0.50"), D("15"))
    assert book.asks[0] == PriceLevel(D("0.52"), D("25"))
    assert book.hash == "0x0...."


def test_docs_price_change_reports_empty_sides_as_none() -> None:
    [record] = [r for r in doc_examples() if r["doc_section"] == "price_change"]

    [change] = market_events(record["raw_text"], RECV)

    assert isinstance(change, PriceChange)
    yes, no = change.updates
    assert (yes.best_bid, yes.best_ask) == (D("0.5"), None)  # best_ask "1": no ask
    assert (no.best_bid, no.best_ask) == (None, D("0.5"))  # best_bid "0": no bid


def test_docs_tick_size_change_example_is_invalid_json_and_rejected() -> None:
    [record] = [r for r in doc_examples() if r["doc_section"] == "tick_size_change"]

    with pytest.raises(WireError, match="invalid JSON"):
        parse_market_frame(record["raw_text"], RECV)

    fixed = json.dumps(record["parsed_after_removing_stray_backslash"])
    [change] = market_events(fixed, RECV)
    assert isinstance(change, TickSizeChange)
    assert change.venue_ts == 100_000_000.0  # a value this small is read as seconds


@pytest.mark.parametrize(
    ("read", "relative", "n_bids", "n_asks", "tick"),
    [
        (fixture_text, "05_rest_and_metadata/nautilus__clob_rest_book_2024-10-13.json", 5, 7, None),
        (shared_text, "05_rest_and_metadata/polymercado__clob_rest_book_2026-01-04.json", 20, 20, D("0.01")),
    ],
    ids=["2024-10", "2026-01"],
)
def test_rest_books_parse_best_first(
    read: Callable[[str], str], relative: str, n_bids: int, n_asks: int, tick: Decimal | None
) -> None:
    obj = json.loads(read(relative))

    book = parse_rest_book(obj, RECV)

    assert (len(book.bids), len(book.asks), book.tick_size) == (n_bids, n_asks, tick)
    assert book.bids[0].price == max(lvl.price for lvl in book.bids)
    assert book.asks[0].price == min(lvl.price for lvl in book.asks)
    assert parse_rest_books([obj, obj], RECV) == [book, book]


def test_rest_book_2026_fields() -> None:
    obj = json.loads(shared_text("05_rest_and_metadata/polymercado__clob_rest_book_2026-01-04.json"))

    book = parse_rest_book(obj, RECV)

    assert book.min_order_size == D("5")
    assert book.neg_risk is False


# -- frames and events (no data needed) ----------------------------------------------------------------


def price_change_frame(**entry: Any) -> dict[str, Any]:
    base = {"asset_id": YES, "price": "0.5", "size": "200", "side": "BUY", "hash": "h1"}
    base.update(entry)
    return {
        "event_type": "price_change",
        "market": MARKET,
        "timestamp": "1757908892351",
        "price_changes": [base],
    }


def test_frame_array_gives_events_in_order() -> None:
    frame = [
        {**price_change_frame(), "timestamp": "1757908892351"},
        {"event_type": "best_bid_ask", "market": MARKET, "asset_id": YES, "best_bid": "0.4"}
        | {"best_ask": "0.6", "spread": "0.2", "timestamp": "1757908892352"},
    ]

    events = market_events(json.dumps(frame).encode(), RECV)

    assert [type(e) for e in events] == [PriceChange, BestBidAsk]
    assert isinstance(events[1], BestBidAsk)
    assert events[1].spread == D("0.2")


@pytest.mark.parametrize("text", ["PONG", "PING", b"PONG", " PONG\n", "[]"])
def test_keepalives_and_empty_arrays_give_nothing(text: str | bytes) -> None:
    assert market_events(text, RECV) == []


def test_unknown_event_types_and_untyped_objects_give_nothing() -> None:
    frame = [{"event_type": "new_market", "id": 1}, {"type": "whatever"}, price_change_frame()]

    events = market_events(json.dumps(frame), RECV)

    assert [type(e) for e in events] == [PriceChange]


def test_prices_as_json_numbers_are_tolerated_exactly() -> None:
    frame = price_change_frame(price=0.52, size=100, best_bid=0.52, best_ask=0.53)

    [change] = market_events(json.dumps(frame), RECV)

    assert isinstance(change, PriceChange)
    [u] = change.updates
    assert (u.price, u.size, u.best_bid, u.best_ask) == (D("0.52"), D("100"), D("0.52"), D("0.53"))


def test_book_levels_with_zero_size_are_dropped() -> None:
    frame = {
        "event_type": "book",
        "market": MARKET,
        "asset_id": YES,
        "timestamp": "1757908892351",
        "hash": "h",
        "bids": [{"price": "0.4", "size": "0"}, {"price": "0.3", "size": "5"}],
        "asks": [],
        "last_trade_price": "",
    }

    [book] = market_events(json.dumps(frame), RECV)

    assert isinstance(book, BookSnapshot)
    assert book.bids == (PriceLevel(D("0.3"), D("5")),)
    assert book.last_trade_price is None


def test_apply_skips_updates_for_tokens_without_a_book() -> None:
    [change] = market_events(json.dumps(price_change_frame()), RECV)
    books: dict[str, OrderBook] = {}

    changed = apply_market_event(books, change)

    assert changed == set()
    assert books == {}


def test_apply_tick_change_clears_the_book_and_reports_it() -> None:
    book = OrderBook(YES)
    book.apply_snapshot([PriceLevel(D("0.5"), D("1"))], [PriceLevel(D("0.6"), D("1"))])
    books = {YES: book}
    frame = {
        "event_type": "tick_size_change",
        "market": MARKET,
        "asset_id": YES,
        "old_tick_size": "0.01",
        "new_tick_size": "0.001",
        "timestamp": "1757908892351",
    }
    [event] = market_events(json.dumps(frame), RECV)

    changed = apply_market_event(books, event)

    assert changed == {YES}
    assert book.is_empty and book.epoch == 1 and book.tick_size == D("0.001")
    assert book.last_update_ts == RECV


NOT_A_FRAME: list[tuple[str, str | bytes]] = [
    ("invalid JSON", '{"event_type": "book",'),
    ("bare text", "INVALID OPERATION"),
    ("non-utf8 bytes", b"\xff\xfe\x00{"),
    ("scalar frame", '"price_change"'),
    ("NaN constant", '{"event_type":"best_bid_ask","market":"m","asset_id":"1","best_bid":NaN}'),
    (
        "huge integer",
        '{"event_type":"book","asset_id":"1","bids":[],"asks":[],"timestamp":' + "9" * 5000 + "}",
    ),
    ("deeply nested", "[" * 100_000 + "]" * 100_000),
    ("deeply nested field", '{"event_type":"book","bids":' + "[" * 50_000 + "]" * 50_000 + "}"),
]

BAD_ELEMENTS: list[tuple[str, Any]] = [
    ("non-object element", 7),
    ("event_type not a string", {"event_type": ["book"]}),
    ("price above 1", price_change_frame(price="1.5")),
    ("price not a decimal", price_change_frame(price="abc")),
    ("price NaN string", price_change_frame(price="NaN")),
    ("price with exponent", price_change_frame(price="5e-1")),
    ("price two dots", price_change_frame(price="0.1.2")),
    ("price bool", price_change_frame(price=True)),
    ("negative size string", price_change_frame(size="-1")),
    ("negative size number", price_change_frame(size=-1)),
    ("absurd size", price_change_frame(size="9" * 30)),
    ("side unknown", price_change_frame(side="HOLD")),
    ("side unhashable", price_change_frame(side=["BUY"])),
    ("asset missing", price_change_frame(asset_id=None)),
    ("asset an object", price_change_frame(asset_id={"a": 1})),
    ("timestamp not digits", {**price_change_frame(), "timestamp": "yesterday"}),
    ("timestamp missing", {k: v for k, v in price_change_frame().items() if k != "timestamp"}),
    ("price_changes not a list", {**price_change_frame(), "price_changes": {"a": 1}}),
    ("entry not an object", {**price_change_frame(), "price_changes": ["x"]}),
    ("no level at all", {"event_type": "price_change", "market": "m", "timestamp": "1757908892351"}),
    ("book without bids", {"event_type": "book", "asset_id": "1", "asks": [], "timestamp": "1"}),
    (
        "book level a list",
        {"event_type": "book", "asset_id": "1", "bids": [[0.5, 1]], "asks": [], "timestamp": "1"},
    ),
    (
        "tick of zero",
        {"event_type": "tick_size_change", "market": "m", "asset_id": "1", "new_tick_size": "0"},
    ),
]


@pytest.mark.parametrize(("name", "text"), NOT_A_FRAME, ids=[n for n, _ in NOT_A_FRAME])
def test_a_frame_that_is_not_json_fails_whole_with_one_wire_error(name: str, text: str | bytes) -> None:
    with pytest.raises(WireError) as caught:
        parse_market_frame(text, RECV)

    assert isinstance(caught.value, ValueError)
    assert 0 < len(str(caught.value)) < 200


@pytest.mark.parametrize(("name", "element"), BAD_ELEMENTS, ids=[n for n, _ in BAD_ELEMENTS])
def test_a_bad_element_between_two_good_ones_costs_only_itself(name: str, element: Any) -> None:
    good = price_change_frame()
    bad_text = json.dumps(element)
    text = f"[{json.dumps(good)}, {bad_text} ,\n{json.dumps(good)}]"

    events, problems = parse_market_frame(text, RECV)

    assert [type(e) for e in events] == [PriceChange, PriceChange]
    [problem] = problems
    assert 0 < len(problem.error) < 200
    assert problem.raw == bad_text  # the element's exact text, as the venue sent it


def test_a_bad_event_alone_in_its_frame_is_reported_with_the_frame_text() -> None:
    text = json.dumps(price_change_frame(price="2"))

    events, problems = parse_market_frame(text.encode(), RECV)

    assert events == []
    assert problems == (BadElement("price_change: field 'price' is not a price in [0, 1]: 2", text),)


def test_a_bad_elements_raw_text_is_cut_to_a_bounded_length() -> None:
    bad = price_change_frame(price="2") | {"padding": "x" * 5000}
    text = json.dumps([bad, price_change_frame()])

    events, [problem] = parse_market_frame(text, RECV)

    assert len(events) == 1
    raw_length = len(json.dumps(bad))
    assert problem.raw == json.dumps(bad)[:RAW_TEXT_MAX] + f"... ({raw_length} chars)"


def test_thousands_of_bad_elements_give_a_bounded_report() -> None:
    text = json.dumps([7] * 5000 + [price_change_frame()])

    events, problems = parse_market_frame(text, RECV)

    assert len(events) == 1
    assert len(problems) == 33
    assert problems[-1] == BadElement("4968 more malformed elements (not shown)", "")


# -- user channel ------------------------------------------------------------------------------------


def order_event(**fields: Any) -> dict[str, Any]:
    event = {
        "event_type": "order",
        "type": "PLACEMENT",
        "id": "0x8f3a",
        "owner": OUR_KEY,
        "order_owner": OUR_KEY,
        "market": MARKET,
        "asset_id": YES,
        "side": "BUY",
        "price": "0.52",
        "original_size": "100",
        "size_matched": "0",
        "outcome": "Yes",
        "order_type": "GTC",
        "expiration": "0",
        "status": "LIVE",
        "maker_address": OUR_ADDRESS,
        "associate_trades": None,
        "created_at": "1777370400",
        "timestamp": "1777370400123",
    }
    event.update(fields)
    return event


def maker_order(**fields: Any) -> dict[str, Any]:
    element = {
        "order_id": "0xours",
        "owner": OUR_KEY,
        "maker_address": OUR_ADDRESS,
        "matched_amount": "75",
        "price": "0.52",
        "fee_rate_bps": "0",
        "asset_id": YES,
        "outcome": "Yes",
        "outcome_index": 0,
        "side": "BUY",
    }
    element.update(fields)
    return element


def trade_event(**fields: Any) -> dict[str, Any]:
    event = {
        "event_type": "trade",
        "type": "TRADE",
        "id": "a1b2c3d4",
        "taker_order_id": "0xtaker",
        "market": MARKET,
        "asset_id": YES,
        "side": "SELL",
        "size": "75",
        "price": "0.52",
        "fee_rate_bps": "0",
        "status": "MATCHED",
        "matchtime": "1777370400",
        "last_update": "1777370400",
        "outcome": "Yes",
        "owner": OTHER_KEY,
        "trade_owner": OUR_KEY,
        "maker_address": "0xsomeone",
        "transaction_hash": "",
        "bucket_index": 0,
        "trader_side": "MAKER",
        "timestamp": "1777370400123",
        "maker_orders": [maker_order()],
    }
    event.update(fields)
    return event


def test_order_placement_is_normalised() -> None:
    [order] = user(order_event(status="order_status_live"))

    assert isinstance(order, OrderUpdate)
    assert (order.order_id, order.kind, order.status) == ("0x8f3a", "PLACEMENT", "LIVE")
    assert (order.side, order.price, order.original_size, order.size_matched) == (
        Side.BUY,
        D("0.52"),
        D("100"),
        D("0"),
    )
    assert order.remaining == D("100")
    assert order.associate_trades == ()
    assert order.venue_ts == 1777370400.123


def test_order_update_with_timestamp_in_seconds_and_trades() -> None:
    event = order_event(type="UPDATE", size_matched="40", status="LIVE", timestamp="1777370401")
    event["associate_trades"] = ["t1"]

    [order] = user(event)

    assert isinstance(order, OrderUpdate)
    assert (order.kind, order.size_matched, order.remaining) == ("UPDATE", D("40"), D("60"))
    assert order.venue_ts == 1777370401.0
    assert order.associate_trades == ("t1",)


def test_order_cancellation_keeps_unknown_status_reasons() -> None:
    [order] = user(order_event(type="CANCELLATION", status="CANCELED_SOMETHING_NEW"))

    assert isinstance(order, OrderUpdate)
    assert (order.kind, order.status) == ("CANCELLATION", "CANCELED_SOMETHING_NEW")


def test_maker_fill_is_extracted_for_our_api_key_only() -> None:
    theirs = maker_order(order_id="0xtheirs", owner=OTHER_KEY, maker_address="0xother", matched_amount="25")
    event = trade_event(size="100", maker_orders=[theirs, maker_order()])

    [trade] = user(event)

    assert isinstance(trade, TradeUpdate)
    assert trade.trader_side == "MAKER"
    assert trade.status is TradeStatus.MATCHED
    [fill] = trade.fills
    assert fill.key == ("a1b2c3d4", "0xours")
    assert (fill.token_id, fill.side, fill.price, fill.size) == (YES, Side.BUY, D("0.52"), D("75"))
    assert fill.liquidity == "MAKER"
    assert trade.match_ts == 1777370400.0


def test_maker_fill_is_matched_by_funder_address_case_insensitively() -> None:
    ours = maker_order(owner="", maker_address=OUR_ADDRESS.lower())

    [trade] = user(trade_event(maker_orders=[ours]))

    assert isinstance(trade, TradeUpdate)
    assert [f.order_id for f in trade.fills] == ["0xours"]


def test_mint_fill_uses_our_own_complementary_token_side_and_price() -> None:
    # The taker BUYs YES at 0.52; our resting BUY on NO at 0.48 completes the pair: a mint.
    ours = maker_order(asset_id=NO, side="BUY", price="0.48", outcome="No", outcome_index=1)
    event = trade_event(side="BUY", asset_id=YES, price="0.52", maker_orders=[ours])

    [trade] = user(event)

    assert isinstance(trade, TradeUpdate)
    [fill] = trade.fills
    assert (fill.token_id, fill.side, fill.price, fill.size) == (NO, Side.BUY, D("0.48"), D("75"))
    assert fill.outcome == "No"


def test_maker_side_missing_is_inferred_from_the_token() -> None:
    same_token = maker_order(order_id="0xa", side=None)
    other_token = maker_order(order_id="0xb", side=None, asset_id=NO, price="0.48")

    [trade] = user(trade_event(side="SELL", maker_orders=[same_token, other_token]))

    assert isinstance(trade, TradeUpdate)
    assert [(f.token_id, f.side) for f in trade.fills] == [(YES, Side.BUY), (NO, Side.SELL)]


def test_taker_fill_comes_from_the_top_level_fields() -> None:
    others = maker_order(order_id="0xtheirs", owner=OTHER_KEY, maker_address="0xother")
    event = trade_event(trader_side="TAKER", owner=OUR_KEY, side="BUY", price="0.53", size="10")
    event.update(maker_orders=[others], fee_rate_bps="", match_time="1777370402")
    del event["matchtime"]

    [trade] = user(event)

    assert isinstance(trade, TradeUpdate)
    [fill] = trade.fills
    assert fill.key == ("a1b2c3d4", "0xtaker")
    assert (fill.token_id, fill.side, fill.price, fill.size) == (YES, Side.BUY, D("0.53"), D("10"))
    assert fill.fee_rate_bps == 0
    assert fill.liquidity == "TAKER"
    assert trade.match_ts == 1777370402.0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("MATCHED", TradeStatus.MATCHED),
        ("TRADE_STATUS_MINED", TradeStatus.MINED),
        ("trade_status_confirmed", TradeStatus.CONFIRMED),
        ("RETRYING", TradeStatus.RETRYING),
        ("TRADE_STATUS_FAILED", TradeStatus.FAILED),
    ],
)
def test_trade_status_prefixes_are_normalised(raw: str, status: TradeStatus) -> None:
    [trade] = user(trade_event(status=raw, transaction_hash="0xabc"))

    assert isinstance(trade, TradeUpdate)
    assert trade.status is status
    assert trade.transaction_hash == "0xabc"


def test_every_settlement_step_repeats_the_same_fill_key() -> None:
    steps = [trade_event(status=s) for s in ("MATCHED", "MINED", "CONFIRMED")]

    keys = {f.key for step in steps for t in user(step) if isinstance(t, TradeUpdate) for f in t.fills}

    assert keys == {("a1b2c3d4", "0xours")}


@pytest.mark.parametrize(
    "event",
    [
        trade_event(status="SETTLED_SOMEHOW"),
        trade_event(maker_orders={"order_id": "x"}),
        trade_event(maker_orders=["x"]),
        trade_event(maker_orders=[maker_order(matched_amount="-3")]),
        trade_event(trader_side="BYSTANDER"),
        trade_event(trader_side="TAKER", taker_order_id=""),
        order_event(price="1.01"),
        order_event(associate_trades="t1"),
        order_event(status=5),
        order_event(id=None),
    ],
)
def test_a_malformed_user_event_is_reported_alone(event: dict[str, Any]) -> None:
    events, [problem] = user_frame(event)

    assert events == []
    assert problem.raw == json.dumps(event)
    assert 0 < len(problem.error) < 200


def test_a_bad_order_between_a_good_order_and_a_good_trade_costs_only_itself() -> None:
    """A frame the venue batches: our PLACEMENT, a broken UPDATE, and the trade that filled us."""
    bad = order_event(id="0xbad", type="UPDATE", price="1.01")
    frame = [order_event(), bad, trade_event()]

    events, [problem] = user_frame(frame)

    assert [type(e) for e in events] == [OrderUpdate, TradeUpdate]
    assert events[0].order_id == "0x8f3a"
    assert [f.key for f in events[1].fills] == [("a1b2c3d4", "0xours")]
    assert problem.error == "order: field 'price' is not a price in [0, 1]: 1.01"
    assert problem.raw == json.dumps(bad)


def test_a_killed_fok_orders_empty_size_matched_reads_as_zero() -> None:
    """Since the V2 cut-over the venue sends `"size_matched": ""` for a FOK/FAK that was killed."""
    killed = order_event(type="CANCELLATION", status="CANCELED", order_type="FOK", size_matched="")

    [order] = user(killed)

    assert isinstance(order, OrderUpdate)
    assert order.size_matched == 0
    assert (order.kind, order.status) == ("CANCELLATION", "CANCELED")


def test_user_frames_ignore_keepalives_and_unknown_types() -> None:
    assert parse_user_frame("PONG", RECV, api_key=OUR_KEY, maker_address=OUR_ADDRESS) == ([], ())
    assert user([{"event_type": "balance"}, order_event()])[0].order_id == "0x8f3a"


# -- hostile input, generated --------------------------------------------------------------------------

FIELD_NAMES = [
    "event_type", "market", "asset_id", "price", "size", "side", "timestamp", "hash", "bids", "asks",
    "price_changes", "changes", "best_bid", "best_ask", "tick_size", "old_tick_size", "new_tick_size",
    "id", "type", "status", "maker_orders", "trader_side", "matched_amount", "owner", "order_id",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["0.5", "0", "1", "BUY", "SELL", "book", "price_change", "trade", "order", "1e3"])
    | st.sampled_from(["1757908892351", "MAKER", "TAKER", OUR_KEY, "", "-0.1", ".5", "NaN"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=25,
)
VALID_FRAMES: list[Any] = [
    price_change_frame(best_bid="0.5", best_ask="0.6"),
    {"event_type": "price_change", "market": MARKET, "asset_id": YES, "hash": "h", "timestamp": "1"}
    | {"changes": [{"price": "0.4", "side": "SELL", "size": "3300"}]},
    {"event_type": "book", "market": MARKET, "asset_id": YES, "timestamp": "1", "hash": "h"}
    | {"bids": [{"price": "0.4", "size": "1"}], "asks": [{"price": "0.6", "size": "2"}], "tick_size": "0.01"},
    {"event_type": "last_trade_price", "market": MARKET, "asset_id": YES, "price": "0.5", "size": "1"}
    | {"side": "BUY", "fee_rate_bps": "0", "timestamp": "1"},
    {"event_type": "tick_size_change", "market": MARKET, "asset_id": YES, "old_tick_size": "0.01"}
    | {"new_tick_size": "0.001", "timestamp": "1"},
    order_event(),
    trade_event(),
    trade_event(trader_side="TAKER", owner=OUR_KEY),
]


def parse_both(text: str | bytes) -> None:
    """Events and bounded reports of bad elements, or a WireError for a frame that is not JSON, from
    both parsers; anything else escapes and fails the test."""
    for parse in (
        lambda: parse_market_frame(text, RECV),
        lambda: parse_user_frame(text, RECV, api_key=OUR_KEY, maker_address=OUR_ADDRESS),
    ):
        try:
            events, problems = parse()
        except WireError:
            continue
        assert isinstance(events, list)
        for problem in problems:
            assert 0 < len(problem.error) < 200
            assert len(problem.raw) <= RAW_TEXT_MAX + 20


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES)
def test_random_json_values_give_events_or_wire_error(value: Any) -> None:
    parse_both(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200))
def test_random_bytes_give_events_or_wire_error(raw: bytes) -> None:
    parse_both(raw)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_frames_with_one_field_corrupted_give_events_or_wire_error(data: st.DataObject) -> None:
    frame = json.loads(json.dumps(data.draw(st.sampled_from(VALID_FRAMES))))
    target = frame
    for nested in ("price_changes", "changes", "bids", "maker_orders"):
        if nested in frame and data.draw(st.booleans()):
            target = frame[nested][0]
            break
    key = data.draw(st.sampled_from(sorted(target)))

    if data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(JSON_VALUES)

    parse_both(json.dumps(frame))


def test_a_rest_trade_record_keeps_every_digit_the_venue_sent() -> None:
    """REST bodies are decoded with exact decimals; a record is parsed as it is, never re-encoded
    through floats (0.1 + 0.2 style losses on sizes and prices the ledger then records)."""
    from polymm_cli.venues.polymarket.records import trade_update_of
    from polymm_cli.venues.polymarket.rest import decode_json

    body = decode_json(
        '{"id": "t1", "status": "MATCHED", "market": "0xm", "asset_id": "11", "side": "BUY",'
        ' "price": 0.1234567890123456789, "size": 7.123456789012345678901, "taker_order_id": "0xo",'
        ' "trader_side": "TAKER", "owner": "key", "match_time": "1777370400", "fee_rate_bps": "0"}'
    )

    update = trade_update_of(body, 1.0, api_key="key", maker_address="")

    [fill] = update.fills
    assert (fill.price, fill.size) == (Decimal("0.1234567890123456789"), Decimal("7.123456789012345678901"))
