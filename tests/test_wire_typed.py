"""The typed (msgspec) fast path of `parse_market_frame` against the dict path, on good and
hostile frames: same events, same bad elements, same errors.

`parse_market_frame` tries msgspec structs first and falls back to the dict path for anything
that is not a usual current-era `price_change` or `book`; these tests make sure the fast path
never gives a different answer, whichever shape a frame has.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from polymm_cli.venues.polymarket import wire
from polymm_cli.venues.polymarket.wire import WireError, parse_market_frame
from tests.conftest import fixture_path

CAPTURE = fixture_path("01_ws_current_format/nautilus__ws_market_price_change_crossing_burst.json")
_YES = "7" * 77

good_prices = st.sampled_from(["0.5", "0.001", "0.999", "1", "0", "0.50", "0.123"])
prices = st.one_of(good_prices, good_prices, st.sampled_from(["5E-1", "-0.1", "1.5", "", "abc", "0.1.1"]))
good_sizes = st.sampled_from(["0", "10", "12.5", "0.000001"])
sizes = st.one_of(
    good_sizes, good_sizes, st.sampled_from(["1e3", "-1", "", "1.2.3", "9" * 41, "1" + "0" * 16, " 1", "NaN"])
)
sides = st.one_of(
    st.sampled_from(["BUY", "SELL"]), st.sampled_from(["BUY", "SELL", "buy", "Sell", "", "HOLD"])
)
timestamps = st.sampled_from(["1790658674035", "1790658674", "0", "", "-5", "12ab", "00001790658674"])
odd_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just([]),
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly (15 in 16) the usual string, else a value of another type or no field at all."""
    return st.integers(0, 15).flatmap(lambda n: strategy if n < 15 else st.one_of(odd_values, st.just(_DROP)))


_DROP = object()


def obj(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not _DROP}


entries = st.builds(
    obj,
    asset_id=maybe(st.sampled_from([_YES, "", "12"])),
    price=maybe(prices),
    size=maybe(sizes),
    side=maybe(sides),
    hash=maybe(st.just("ab" * 20)),
    best_bid=maybe(prices),
    best_ask=maybe(prices),
    # a field the venue may add: the strict decoder refuses it, the lenient one skips it
    fee_rate_bps=st.one_of(st.just(_DROP), st.just(_DROP), st.just("0"), st.just([[1]])),
)
levels = st.lists(st.builds(obj, price=maybe(prices), size=maybe(sizes)), max_size=4)
price_changes = st.builds(
    obj,
    event_type=st.sampled_from(["price_change", "PRICE_CHANGE", "price_change"]),
    market=maybe(st.just("0x" + "ab" * 32)),
    timestamp=maybe(timestamps),
    price_changes=st.one_of(st.lists(entries, max_size=3), odd_values, st.just(_DROP)),
)
books = st.builds(
    obj,
    event_type=st.just("book"),
    market=maybe(st.just("0x" + "ab" * 32)),
    asset_id=maybe(st.sampled_from([_YES, ""])),
    timestamp=maybe(timestamps),
    hash=maybe(st.just("cd" * 20)),
    bids=st.one_of(levels, odd_values),
    asks=st.one_of(levels, odd_values),
    tick_size=maybe(st.sampled_from(["0.01", "0.001", "1", "0", ""])),
    min_order_size=maybe(st.sampled_from(["5", "", "-1"])),
    last_trade_price=maybe(prices),
    neg_risk=maybe(st.booleans()),
)
elements = st.one_of(price_changes, books, st.just({"event_type": "last_trade_price"}), st.integers())
# usual frames: every field there, a string of a valid shape (the typed path answers these)
usual_entries = st.fixed_dictionaries(
    {
        "asset_id": st.sampled_from([_YES, "12"]),
        "price": good_prices,
        "size": good_sizes,
        "side": st.sampled_from(["BUY", "SELL"]),
        "hash": st.just("ab" * 20),
        "best_bid": good_prices,
        "best_ask": good_prices,
    }
)
usual_levels = st.lists(st.fixed_dictionaries({"price": good_prices, "size": good_sizes}), max_size=4)
usual = st.one_of(
    st.fixed_dictionaries(
        {
            "event_type": st.just("price_change"),
            "market": st.just("0x" + "ab" * 32),
            "timestamp": st.sampled_from(["1790658674035", "1790658674"]),
            "price_changes": st.lists(usual_entries, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {
            "event_type": st.just("book"),
            "asset_id": st.just(_YES),
            "timestamp": st.sampled_from(["1790658674035", "1790658674"]),
            "bids": usual_levels,
            "asks": usual_levels,
        },
        optional={
            "market": st.just("0x" + "ab" * 32),
            "tick_size": st.sampled_from(["0.01", "0.001"]),
            "min_order_size": st.sampled_from(["5", ""]),
            "last_trade_price": st.sampled_from(["0.5", "", "1"]),
            "neg_risk": st.booleans(),
        },
    ),
)
frames = st.one_of(usual, st.lists(usual, max_size=3), elements, st.lists(elements, max_size=3))


def both(text: str | bytes) -> tuple[Any, Any]:
    """(parse_market_frame's answer, the dict path's answer); a WireError is an answer too."""
    answers = []
    for parse in (parse_market_frame, wire._parse_market_objects):
        try:
            answers.append(parse(text, 7.0))
        except WireError as exc:
            answers.append(("WireError", str(exc)))
    return answers[0], answers[1]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames, as_bytes=st.booleans())
def test_typed_path_answers_exactly_as_the_dict_path(frame: Any, as_bytes: bool) -> None:
    text = json.dumps(frame)
    if wire._typed_market_frame(text, 7.0) is not None:
        event("the typed path answered")
    fast, slow = both(text.encode() if as_bytes else text)
    assert fast == slow


def test_the_capture_takes_the_typed_path_and_matches() -> None:
    """Every frame of the real capture is decoded by the typed path (the fast path is used) and
    gives what the dict path gives."""
    for message in json.loads(CAPTURE.read_text(encoding="utf-8")):
        text = json.dumps(message)
        assert wire._typed_market_frame(text, 7.0) is not None
        fast, slow = both(text)
        assert fast == slow


@pytest.mark.parametrize(
    "text",
    [
        '{"event_type": "price_change", "market": "m", "timestamp": "1790658674035", "price_changes": '
        '[{"asset_id": "1", "price": "0.5", "size": "1", "side": "BUY", "hash": "\\ud800"}]}',
        '{"event_type": "book", "asset_id": "1", "timestamp": "1790658674035", "bids": [], "asks": [], '
        '"x": ' + "[" * 70 + "]" * 70 + "}",
        '{"event_type": "price_change", "market": "m", "timestamp": "1790658674035", "price_changes": [], '
        '"event_type": "tick_size_change"}',
        '{"event_type": "price_change", "market": "m", "timestamp": NaN, "price_changes": []}',
        "PONG",
        "[1, 2",
    ],
    ids=["lone-surrogate", "deep-unknown-field", "duplicate-event-type", "nan", "keepalive", "truncated"],
)
def test_hostile_frames_answer_as_the_dict_path(text: str) -> None:
    fast, slow = both(text)
    assert fast == slow
    fast_bytes, slow_bytes = both(text.encode("utf-8", "surrogatepass"))
    assert fast_bytes == slow_bytes


def _one_entry_frame(**entry: Any) -> str:
    fields = {"asset_id": _YES, "price": "0.5", "size": "10", "side": "BUY", "hash": "ab" * 20}
    return json.dumps(
        {
            "market": "0x" + "ab" * 32,
            "price_changes": [{**fields, **entry}],
            "timestamp": "1790658674035",
            "event_type": "price_change",
        }
    )


def test_a_field_the_venue_adds_takes_the_lenient_typed_path() -> None:
    """The strict decoder refuses an unknown field; the lenient one skips it (even a nested one) and
    the frame still parses on the typed path, as the dict path parses it."""
    text = _one_entry_frame(fee_rate_bps="0", extra={"nested": [1, [2]]})
    with pytest.raises(Exception, match="unknown field"):
        wire._STRICT_DECODER.decode(text)
    assert wire._typed_market_frame(text, 7.0) is not None
    fast, slow = both(text)
    assert fast == slow


def test_an_unseen_or_bad_top_of_book_is_checked_not_read_from_the_cache() -> None:
    """The top-of-book caches answer None for an empty side ("0" bid, "1" ask) without confusing it
    with a value they never saw: a bad best_bid is refused however often the good ones repeat."""
    for _ in range(2):  # the second time from the caches
        (change,) = parse_market_frame(_one_entry_frame(best_bid="0", best_ask="1"), 7.0).events
        assert (change.updates[0].best_bid, change.updates[0].best_ask) == (None, None)
    bad = _one_entry_frame(best_bid="0.5x", best_ask="1")
    assert wire._typed_market_frame(bad, 7.0) is None
    assert parse_market_frame(bad, 7.0).problems


def test_a_mirrored_size_is_reused_only_when_the_text_is_the_same() -> None:
    """Entries reuse the previous entry's size Decimal only for the same text; "0" starts it."""
    text = json.dumps(
        {
            "market": "0x" + "ab" * 32,
            "price_changes": [
                {"asset_id": _YES, "price": "0.5", "size": s, "side": "BUY", "hash": ""}
                for s in ("0", "12.5", "12.5", "0", "3", "1.2.3")
            ],
            "timestamp": "1790658674035",
            "event_type": "price_change",
        }
    )
    assert wire._typed_market_frame(text, 7.0) is None  # "1.2.3" is refused
    fast, slow = both(text)
    assert fast == slow and fast.problems
    good = text.replace('"1.2.3"', '"4"')
    (change,) = parse_market_frame(good, 7.0).events
    assert [u.size for u in change.updates] == [Decimal(s) for s in ("0", "12.5", "12.5", "0", "3", "4")]


def test_each_top_of_book_cache_is_bounded_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same best_bid with ever-new best_ask strings must not grow the ask cache without end."""
    from polymm_cli.venues.polymarket import wire as wire_module

    monkeypatch.setattr(wire_module, "_BID_CACHE", {None: None, "": None})
    monkeypatch.setattr(wire_module, "_ASK_CACHE", {None: None, "": None})
    monkeypatch.setattr(wire_module, "_PRICE_CACHE_MAX", 10)
    for i in range(1, 60):
        assert wire_module._top_values("0.5", f"0.{i:03d}")[1] == Decimal(f"0.{i:03d}")
    assert len(wire_module._BID_CACHE) <= 10
    assert len(wire_module._ASK_CACHE) <= 10
