"""Polymarket wire formats -> normalised venue events, at the boundary, in one pass.

Owns: decoding market-channel and user-channel WebSocket frames and the REST `/book` response into
the events of `venues/base.py`. Everything that arrives from the network is validated here, one
element at a time: a frame parses into a `ParsedFrame` of the events of its good elements plus a
`BadElement` (short error, raw text) for each malformed one, so one bad event never costs the others
of its frame (a lost `trade` is a fill missing from the ledger). Only a frame that is not a JSON
object or array at all raises one `WireError`. Errors are short messages, never a bare
KeyError/TypeError; an element is never half-parsed. Must not: hold state, touch books (that is
`venues/books.py`), do I/O, log, or read a clock (`recv_ts` is passed in).

Venue quirks handled here (reference §6, data/MANIFEST.md):
- a frame is one JSON object or an array of them; the keepalive answer is the bare text `PONG`;
- `price_change` has three eras: flat (<= Aug 2024: one level at top level), legacy (top-level
  `asset_id` + `changes: [{price, side, size}]`) and current (`price_changes: [{asset_id, price, size,
  side, hash, best_bid, best_ask}]`, since 2025-09-15);
- `book` levels come best-LAST (bids ascending, asks descending) but the order is not guaranteed:
  they are sorted best-first here; `tick_size`, `min_order_size`, `last_trade_price` ("" allowed) and
  `neg_risk` are optional;
- prices and sizes are decimal strings (numbers are tolerated); a top of book of "0" bid / "1" ask
  means that side is empty (no level can rest at 0 or 1) and becomes None;
- timestamps are epoch ms strings on the market channel, seconds or ms on the user channel: a value
  below 1e11 is read as seconds, anything else as ms;
- user `order`: `size_matched` may be "" (a killed FOK/FAK since the V2 cut-over): it reads as 0;
- user `trade`: `match_time` or `matchtime`, `fee_rate_bps` may be "", statuses with or without the
  `TRADE_STATUS_` prefix; our maker fills are the `maker_orders` elements whose `owner` is our api key
  or whose `maker_address` is our funder address, in THEIR token/side/price (mint/merge matches put a
  maker on the complementary token of the taker).

Unknown `event_type`s and objects without one are ignored (the venue adds event types over time);
a known event with a missing or malformed field, a non-object element or a non-string `event_type`
is a `BadElement`.

Hot path: a `price_change` entry costs a few dict lookups, cached price Decimals (price strings
repeat; the cache is bounded), one Decimal per size, no regexes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Final, Generic, NamedTuple, NoReturn, TypeVar

import msgspec

from polymm_cli.errors import VenueError
from polymm_cli.jsonsafe import MAX_DEPTH, nesting_exceeds
from polymm_cli.model import PriceLevel, Side, TradeStatus
from polymm_cli.venues.base import (
    BestBidAsk,
    BookSnapshot,
    Fill,
    LastTrade,
    LevelUpdate,
    Liquidity,
    MarketEvent,
    MarketResolved,
    OrderEventKind,
    OrderUpdate,
    PriceChange,
    TickSizeChange,
    TradeUpdate,
    UserEvent,
)

__all__ = [
    "RAW_TEXT_MAX",
    "BadElement",
    "ParsedFrame",
    "WireError",
    "parse_market_frame",
    "parse_rest_book",
    "parse_rest_books",
    "parse_user_frame",
]


class WireError(VenueError, ValueError):
    """A frame or response from the venue that does not parse; the message is short and safe to log."""


# Characters of a bad element's text kept: a user `trade` with several maker orders whole, and a
# bound on what one bad element can put in a log line.
RAW_TEXT_MAX = 4096


@dataclass(frozen=True, slots=True)
class BadElement:
    """One element of a frame that did not parse: why (short) and its raw JSON text (<= RAW_TEXT_MAX
    characters plus a "... (N chars)" note when cut). Venue data only: safe to log."""

    error: str
    raw: str


E = TypeVar("E")


class ParsedFrame(NamedTuple, Generic[E]):
    """The events of a frame's good elements, in frame order, and its bad elements."""

    events: list[E]
    problems: tuple[BadElement, ...]


_NO_PROBLEMS: tuple[BadElement, ...] = ()
# Why: ParsedFrame(...) runs NamedTuple's Python-level __new__ (~0.2 us, 2% of a frame's parse);
# tuple.__new__ builds the same object directly.
_new_tuple: Any = tuple.__new__

_ZERO = Decimal(0)
_ONE = Decimal(1)
_MAX_SIZE = Decimal(10) ** 15  # far above any real level (1e15 shares), far below Decimal trouble
_MAX_NUM_CHARS = 40  # longest decimal string accepted for a price or size
_MS_THRESHOLD = 100_000_000_000  # below: seconds (until year 5138); above: ms (after 1973)
_PLAIN_DECIMAL_CHARS = "0123456789."
_SIDES: dict[str, Side] = {"BUY": Side.BUY, "SELL": Side.SELL, "buy": Side.BUY, "sell": Side.SELL}
_ORDER_KINDS: dict[str, OrderEventKind] = {
    "PLACEMENT": "PLACEMENT",
    "UPDATE": "UPDATE",
    "CANCELLATION": "CANCELLATION",
}
_LIQUIDITY: dict[str, Liquidity] = {"MAKER": "MAKER", "TAKER": "TAKER"}
_KEEPALIVES = frozenset({"PONG", "PING", b"PONG", b"PING"})

# price string -> Decimal, for valid prices only; bounded (see _price)
_PRICE_CACHE: dict[str, Decimal] = {}
_PRICE_CACHE_MAX = 8192
# best_bid / best_ask value -> what it reads as (see _top_values): None for a missing or empty
# field and for the venue's empty side (bid "0", ask "1"), else the price; valid values only, bounded
_BID_CACHE: dict[str | None, Decimal | None] = {None: None, "": None}
_ASK_CACHE: dict[str | None, Decimal | None] = {None: None, "": None}


def _fail(message: str) -> NoReturn:
    raise WireError(message)


def _reject_constant(name: str) -> NoReturn:
    _fail(f"non-finite number {name}")


# One decoder for every frame: json.loads(..., parse_float=...) would build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def _loads(text: str | bytes) -> Any:
    """JSON with exact decimals; invalid input of any kind becomes a WireError."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if nesting_exceeds(text):
            _fail("frame nested too deeply")
        return _DECODER.decode(text)
    except WireError:
        raise
    except RecursionError:
        _fail("frame nested too deeply")
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        _fail(f"invalid JSON: {str(exc)[:80]}")


# -- field readers: each returns a validated value or raises WireError ------------------------------


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if type(value) is str:
        return value
    if value is None:
        _fail(f"missing field {key!r}")
    _fail(f"field {key!r} is {type(value).__name__}, not a string")


def _opt_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is str:
        return value
    _fail(f"field {key!r} is {type(value).__name__}, not a string")


def _id(obj: Mapping[str, Any], key: str) -> str:
    """A token/asset id: a decimal string (a bare integer is tolerated)."""
    value = obj.get(key)
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    if value is None or value == "":
        _fail(f"missing field {key!r}")
    _fail(f"field {key!r} is {type(value).__name__}, not an id string")


def _decimal(value: Any, key: str) -> Decimal:
    """A non-negative finite decimal from a plain decimal string or a JSON number."""
    if type(value) is str:
        # Plain digits and dots only (no sign, exponent, whitespace, underscore, NaN): the cheap
        # C-level strip check replaces a regex; Decimal() then rejects "1.2.3", "." and "".
        if len(value) > _MAX_NUM_CHARS or value.strip(_PLAIN_DECIMAL_CHARS):
            _fail(f"field {key!r} is not a non-negative decimal string: {value[:24]!r}")
        try:
            return Decimal(value)
        except ArithmeticError:
            _fail(f"field {key!r} is not a decimal: {value[:24]!r}")
    if type(value) is int:
        if value < 0:
            _fail(f"field {key!r} is negative")
        return Decimal(value)
    if type(value) is Decimal:
        if not value.is_finite() or value < 0:
            _fail(f"field {key!r} is not a non-negative finite number")
        return value
    if value is None:
        _fail(f"missing field {key!r}")
    _fail(f"field {key!r} is {type(value).__name__}, not a decimal string")


def _price(value: Any, key: str) -> Decimal:
    """A price in [0, 1]. Valid price strings are cached: they repeat constantly on the wire."""
    if type(value) is str:
        cached = _PRICE_CACHE.get(value)
        if cached is not None:
            return cached
    price = _decimal(value, key)
    if price > _ONE:
        _fail(f"field {key!r} is not a price in [0, 1]: {str(price)[:24]}")
    if type(value) is str and len(_PRICE_CACHE) < _PRICE_CACHE_MAX:
        _PRICE_CACHE[value] = price
    return price


def _size(value: Any, key: str) -> Decimal:
    """A size in [0, 1e15]; the common plain-string case is checked inline (hot path)."""
    if type(value) is str and len(value) <= _MAX_NUM_CHARS and not value.strip(_PLAIN_DECIMAL_CHARS):
        try:
            size = Decimal(value)
        except ArithmeticError:
            _fail(f"field {key!r} is not a decimal: {value[:24]!r}")
    else:
        size = _decimal(value, key)
    if size > _MAX_SIZE:
        _fail(f"field {key!r} is an implausible size: {str(size)[:24]}")
    return size


def _opt_decimal(obj: Mapping[str, Any], key: str) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _size(value, key)


def _opt_price(obj: Mapping[str, Any], key: str) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _price(value, key)


def _tick(value: Any, key: str) -> Decimal:
    tick = _decimal(value, key)
    if not _ZERO < tick < _ONE:
        _fail(f"field {key!r} is not a tick size in (0, 1): {str(tick)[:24]}")
    return tick


def _top(obj: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """best_bid/best_ask; the venue reports an empty side as bid "0" / ask "1", which is None here."""
    return _top_values(obj.get("best_bid"), obj.get("best_ask"))


def _top_values(bid_value: Any, ask_value: Any) -> tuple[Decimal | None, Decimal | None]:
    bid = None if bid_value is None or bid_value == "" else _price(bid_value, "best_bid")
    ask = None if ask_value is None or ask_value == "" else _price(ask_value, "best_ask")
    bid = bid if bid else None
    ask = None if ask is None or ask == _ONE else ask
    if type(bid_value) is str and type(ask_value) is str:  # each cache bounded on its own
        if len(_BID_CACHE) < _PRICE_CACHE_MAX:
            _BID_CACHE[bid_value] = bid
        if len(_ASK_CACHE) < _PRICE_CACHE_MAX:
            _ASK_CACHE[ask_value] = ask
    return bid, ask


def _side(obj: Mapping[str, Any], key: str = "side") -> Side:
    value = obj.get(key)
    side = _SIDES.get(value) if type(value) is str else None
    if side is None:
        _fail(f"field {key!r} is not BUY or SELL: {str(value)[:16]!r}")
    return side


def _ts_value(value: Any, key: str) -> float:
    """Unix seconds from an epoch in seconds or ms, as a digit string or a JSON number."""
    if type(value) is str:
        if not (value.isascii() and value.isdigit()) or len(value) > 20:
            _fail(f"field {key!r} is not an epoch timestamp: {value[:24]!r}")
        n = int(value)
    elif type(value) is int and value >= 0:
        n = value
    elif type(value) is Decimal and value.is_finite() and 0 <= value < 10**20:
        n_float = float(value)
        return n_float / 1000.0 if n_float >= _MS_THRESHOLD else n_float
    else:
        _fail(f"field {key!r} is not an epoch timestamp")
    return n / 1000.0 if n >= _MS_THRESHOLD else float(n)


def _ts(obj: Mapping[str, Any], *keys: str) -> float:
    """The first present timestamp among `keys`."""
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "":
            return _ts_value(value, key)
    _fail(f"missing field {keys[0]!r}")


def _opt_ts(obj: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "":
            return _ts_value(value, key)
    return None


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if type(value) is list:
        return value
    if value is None:
        _fail(f"missing field {key!r}")
    _fail(f"field {key!r} is {type(value).__name__}, not a list")


# Why: a frozen dataclass __init__ costs ~1.7 us for a 7-field class (object.__setattr__ per field),
# ~0.5 us per book level. Writing the slots through their member descriptors builds the identical,
# still-immutable object in a third of the time. `_slot_setters` checks the field list against the
# class at import, so a new field fails loudly here instead of leaving a slot unset. (`LevelUpdate`,
# one per price_change entry, is a msgspec Struct, whose own constructor is faster still.)
_new_object = object.__new__


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...]:
    if tuple(f.name for f in dataclasses.fields(cls)) != names:  # pragma: no cover
        raise RuntimeError(f"{cls.__name__} fields changed: update its fast constructor in wire.py")
    return tuple(cls.__dict__[name].__set__ for name in names)


_pl_price, _pl_size = _slot_setters(PriceLevel, ("price", "size"))
_pc_market, _pc_updates, _pc_venue_ts, _pc_recv_ts = _slot_setters(
    PriceChange, ("market", "updates", "venue_ts", "recv_ts")
)


def _new_price_level(price: Decimal, size: Decimal) -> PriceLevel:
    level: PriceLevel = _new_object(PriceLevel)
    _pl_price(level, price)
    _pl_size(level, size)
    return level


def _new_price_change(
    market: str, updates: tuple[LevelUpdate, ...], venue_ts: float, recv_ts: float
) -> PriceChange:
    change: PriceChange = _new_object(PriceChange)
    _pc_market(change, market)
    _pc_updates(change, updates)
    _pc_venue_ts(change, venue_ts)
    _pc_recv_ts(change, recv_ts)
    return change


# -- market channel -------------------------------------------------------------------------------


def _levels(raw: list[Any], key: str, best_first_descending: bool) -> tuple[PriceLevel, ...]:
    out: list[PriceLevel] = []
    append = out.append
    cache_get = _PRICE_CACHE.get
    for lvl in raw:
        if type(lvl) is not dict:
            _fail(f"{key} level is {type(lvl).__name__}, not an object")
        p = lvl.get("price")
        price = cache_get(p) if type(p) is str else None
        if price is None:
            price = _price(p, "price")
        size = _size(lvl.get("size"), "size")
        if size:  # an empty level is validated but not kept
            append(_new_price_level(price, size))
    # Timsort is linear on the usual best-last (= reversed) input.
    out.sort(key=_PRICE_KEY, reverse=best_first_descending)
    return tuple(out)


_PRICE_KEY = attrgetter("price")


def _book(obj: Mapping[str, Any], recv_ts: float) -> BookSnapshot:
    neg_risk = obj.get("neg_risk")
    if neg_risk is not None and type(neg_risk) is not bool:
        _fail("field 'neg_risk' is not a boolean")
    tick = obj.get("tick_size")
    return BookSnapshot(
        market=_opt_str(obj, "market"),
        token_id=_id(obj, "asset_id"),
        bids=_levels(_list(obj, "bids"), "bids", True),
        asks=_levels(_list(obj, "asks"), "asks", False),
        tick_size=None if tick is None or tick == "" else _tick(tick, "tick_size"),
        min_order_size=_opt_decimal(obj, "min_order_size"),
        hash=_opt_str(obj, "hash"),
        venue_ts=_ts(obj, "timestamp"),
        recv_ts=recv_ts,
        last_trade_price=_opt_price(obj, "last_trade_price"),
        neg_risk=neg_risk,
    )


def _price_change(obj: Mapping[str, Any], recv_ts: float) -> PriceChange:
    """A `price_change` of any era, its fields read in a fixed order (market, timestamp, levels) so
    a frame with several bad fields always names the same one."""
    market = obj.get("market")
    if type(market) is not str:
        market = _str(obj, "market")
    t = obj.get("timestamp")
    if type(t) is str and 12 <= len(t) <= 16 and t[0] != "0" and t.isdigit() and t.isascii():
        venue_ts = int(t) / 1000.0  # the usual epoch-ms string (>= 1e11, so ms by the rule of _ts)
    else:
        venue_ts = _ts(obj, "timestamp")
    entries = obj.get("price_changes")
    if entries is not None:  # current era: per-entry asset_id, hash and top of book
        updates = _current_level_updates(entries)
    elif "changes" in obj:  # legacy era (Oct 2024 -> Sep 2025): one asset, no top of book
        updates = _legacy_level_updates(obj)
    elif "price" in obj:  # flat era (<= Aug 2024): one level at top level
        updates = [_flat_level_update(obj)]
    else:
        _fail("no 'price_changes', 'changes' or 'price' field")
    return _new_price_change(market, tuple(updates), venue_ts, recv_ts)


def _current_level_updates(entries: Any) -> list[LevelUpdate]:
    """The `price_changes` entries (current era). Hot path: each field takes its common valid shape
    inline (cached price, "0" size, known side, cached top of book) and the checked reader only
    when it is anything else, which also names the field in the error."""
    if type(entries) is not list:
        _fail("field 'price_changes' is not a list")
    updates: list[LevelUpdate] = []
    cache_get = _PRICE_CACHE.get
    sides = _SIDES
    append = updates.append
    new_update = LevelUpdate
    for e in entries:
        if type(e) is not dict:
            _fail("price_changes entry is not an object")
        asset = e.get("asset_id")
        if type(asset) is not str or not asset:
            asset = _id(e, "asset_id")
        p = e.get("price")
        price = cache_get(p) if type(p) is str else None
        if price is None:
            price = _price(p, "price")
        s = e.get("size")
        # "0" is the commonest size (level removed) and a valid one can skip the checks below
        size = _ZERO if s == "0" else _size(s, "size")
        sd = e.get("side")
        side = sides.get(sd) if type(sd) is str else None
        if side is None:
            side = _side(e)
        bb = e.get("best_bid")
        ba = e.get("best_ask")
        best_bid = cache_get(bb) if type(bb) is str else None
        best_ask = cache_get(ba) if type(ba) is str else None
        if best_bid is None or best_ask is None:
            best_bid, best_ask = _top(e)
        else:
            best_bid = best_bid if best_bid else None
            best_ask = None if best_ask == _ONE else best_ask
        h = e.get("hash")
        if type(h) is not str:
            h = _opt_str(e, "hash")
        append(
            new_update(
                token_id=asset,
                side=side,
                price=price,
                size=size,
                best_bid=best_bid,
                best_ask=best_ask,
                hash=h,
            )
        )
    return updates


def _legacy_level_updates(obj: Mapping[str, Any]) -> list[LevelUpdate]:
    """The `changes` array of one asset (legacy era); asset and hash are the message's."""
    asset = _id(obj, "asset_id")
    h = _opt_str(obj, "hash")
    updates: list[LevelUpdate] = []
    for c in _list(obj, "changes"):
        if type(c) is not dict:
            _fail("changes entry is not an object")
        updates.append(
            LevelUpdate(
                token_id=asset,
                side=_side(c),
                price=_price(c.get("price"), "price"),
                size=_size(c.get("size"), "size"),
                hash=h,
            )
        )
    return updates


def _flat_level_update(obj: Mapping[str, Any]) -> LevelUpdate:
    """The one level of a flat-era message, at its top level."""
    return LevelUpdate(
        token_id=_id(obj, "asset_id"),
        side=_side(obj),
        price=_price(obj.get("price"), "price"),
        size=_size(obj.get("size"), "size"),
        hash=_opt_str(obj, "hash"),
    )


def _last_trade(obj: Mapping[str, Any], recv_ts: float) -> LastTrade:
    fee = _opt_decimal(obj, "fee_rate_bps")
    return LastTrade(
        market=_str(obj, "market"),
        token_id=_id(obj, "asset_id"),
        price=_price(obj.get("price"), "price"),
        size=_size(obj.get("size"), "size"),
        taker_side=_side(obj),
        fee_rate_bps=_ZERO if fee is None else fee,
        venue_ts=_ts(obj, "timestamp"),
        recv_ts=recv_ts,
        transaction_hash=_opt_str(obj, "transaction_hash"),
    )


def _tick_size_change(obj: Mapping[str, Any], recv_ts: float) -> TickSizeChange:
    old = obj.get("old_tick_size")
    return TickSizeChange(
        market=_str(obj, "market"),
        token_id=_id(obj, "asset_id"),
        old_tick=None if old is None or old == "" else _tick(old, "old_tick_size"),
        new_tick=_tick(obj.get("new_tick_size"), "new_tick_size"),
        venue_ts=_ts(obj, "timestamp"),
        recv_ts=recv_ts,
    )


def _best_bid_ask(obj: Mapping[str, Any], recv_ts: float) -> BestBidAsk:
    best_bid, best_ask = _top(obj)
    return BestBidAsk(
        market=_str(obj, "market"),
        token_id=_id(obj, "asset_id"),
        best_bid=best_bid,
        best_ask=best_ask,
        spread=_opt_price(obj, "spread"),
        venue_ts=_ts(obj, "timestamp"),
        recv_ts=recv_ts,
    )


def _market_resolved(obj: Mapping[str, Any], recv_ts: float) -> MarketResolved:
    return MarketResolved(
        market=_str(obj, "market"),
        winning_token=_id(obj, "winning_asset_id"),
        winning_outcome=_opt_str(obj, "winning_outcome"),
        venue_ts=_ts(obj, "timestamp"),
        recv_ts=recv_ts,
    )


_MARKET_PARSERS: dict[str, Callable[[Mapping[str, Any], float], MarketEvent]] = {
    "book": _book,
    "price_change": _price_change,
    "last_trade_price": _last_trade,
    "tick_size_change": _tick_size_change,
    "best_bid_ask": _best_bid_ask,
    "market_resolved": _market_resolved,
}


def _objects(text: str | bytes) -> list[Any] | None:
    """The frame's top-level elements (each is checked on its own later), or None for a keepalive."""
    if type(text) is not str and type(text) is not bytes:
        if not isinstance(text, bytearray | memoryview):
            _fail(f"frame is {type(text).__name__}, not text")
        text = bytes(text)
    if len(text) <= 8 and (text in _KEEPALIVES or text.strip() in _KEEPALIVES):
        return None
    data = _loads(text)
    if type(data) is dict:
        return [data]
    if type(data) is list:
        return data
    _fail(f"frame is a JSON {type(data).__name__}, not an object or array")


def _event_type(obj: Any) -> str | None:
    if type(obj) is not dict:
        _fail(f"frame array element is {type(obj).__name__}, not an object")
    et = obj.get("event_type")
    if et is None or type(et) is str:
        return et
    _fail("field 'event_type' is not a string")


# -- the typed fast path: msgspec structs decoded straight from the frame's bytes --------------------
#
# The common frames (a current-era `price_change`, a `book`, or an array of them, every field a
# string of the usual shape) decode in one C pass into these structs, with no dict per element; the
# values then go through the same checks as the dict path (cached prices, plain-decimal sizes,
# known sides, epoch-ms timestamps). Anything else - another event type, an upper-case event type,
# a number where a string is usual, a missing field, a value a reader refuses, invalid JSON -
# returns None and the frame is parsed again by the dict path below, which gives its events and
# its errors exactly as before. So the fast path only ever returns what the dict path would.
#
# Two decoders, tried in turn. The strict one refuses unknown fields: a frame it accepts has only
# the fields below, so it nests at most 4 deep and needs no depth guard, and one struct for every
# event type (dispatched on `event_type` in Python) spares msgspec the look-ahead a tagged union
# needs when the tag comes last, as it does in `price_change`. A frame with a field the venue added
# since falls to the lenient twin, which skips unknown fields behind the bracket-count depth guard.


class _LevelMsg(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    price: str
    size: str


# kw_only: the fields in the order the venue sends them, which msgspec matches first
class _EntryMsg(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    asset_id: Annotated[str, msgspec.Meta(min_length=1)]
    price: str
    size: str
    side: Side  # "BUY" or "SELL", checked by msgspec (the dict path also takes lower case)
    hash: str = ""
    best_bid: str | None = None
    best_ask: str | None = None


class _MarketMsg(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    """A `price_change` or a `book` (the fields of both; `event_type` says which)."""

    market: str | None = None
    price_changes: list[_EntryMsg] | None = None
    asset_id: str | None = None
    timestamp: str
    hash: str = ""
    bids: list[_LevelMsg] | None = None
    asks: list[_LevelMsg] | None = None
    tick_size: str | None = None
    min_order_size: str | None = None
    event_type: str
    last_trade_price: str | None = None
    neg_risk: bool | None = None


class _LenientLevelMsg(_LevelMsg, forbid_unknown_fields=False, gc=False):
    pass


class _LenientEntryMsg(_EntryMsg, forbid_unknown_fields=False, gc=False, kw_only=True):
    pass


class _LenientMarketMsg(_MarketMsg, forbid_unknown_fields=False, gc=False, kw_only=True):
    price_changes: list[_LenientEntryMsg] | None = None  # type: ignore[assignment]
    bids: list[_LenientLevelMsg] | None = None  # type: ignore[assignment]
    asks: list[_LenientLevelMsg] | None = None  # type: ignore[assignment]


_STRICT_DECODER: Final = msgspec.json.Decoder(_MarketMsg | list[_MarketMsg])
_LENIENT_DECODER: Final[msgspec.json.Decoder[Any]] = msgspec.json.Decoder(
    _LenientMarketMsg | list[_LenientMarketMsg]
)
_TYPED_FAILS = (msgspec.MsgspecError, WireError, ArithmeticError)
_TYPED_MAX_BRACKETS: Final = MAX_DEPTH  # fewer brackets cannot nest deeper


def _typed_market_frame(text: str | bytes, recv_ts: float) -> list[MarketEvent] | None:
    """The frame's events by the typed fast path, or None: the dict path decides (see above)."""
    msg: _MarketMsg | list[_MarketMsg] | None
    try:
        msg = _STRICT_DECODER.decode(text)
    except (msgspec.MsgspecError, TypeError):  # TypeError: not text at all (the dict path says so)
        msg = _lenient_decode(text)
        if msg is None:
            return None
    try:
        if isinstance(msg, list):
            return [_typed_event(m, recv_ts) for m in msg]
        if msg.event_type == "price_change":  # the usual frame: one price_change
            return [_typed_price_change(msg, recv_ts)]
        return [_typed_event(msg, recv_ts)]
    except _TYPED_FAILS:
        return None


def _lenient_decode(text: str | bytes) -> _MarketMsg | list[_MarketMsg] | None:
    """The frame by the lenient decoder (unknown fields skipped), or None. msgspec recurses per
    nesting level of a skipped field like the json module: the same depth guard first (its bracket
    count settles every usual frame; a longer one gets the precise scan)."""
    if type(text) is str:
        if nesting_exceeds(text):
            return None
    elif type(text) is not bytes or text.count(b"[") + text.count(b"{") > _TYPED_MAX_BRACKETS:
        return None  # rare: the dict path decodes it and applies the precise guard
    try:
        msg: _MarketMsg | list[_MarketMsg] = _LENIENT_DECODER.decode(text)  # its structs subclass these
    except msgspec.MsgspecError:
        return None
    return msg


def _typed_event(msg: _MarketMsg, recv_ts: float) -> MarketEvent:
    et = msg.event_type
    if et == "price_change":
        return _typed_price_change(msg, recv_ts)
    if et == "book":
        return _typed_book(msg, recv_ts)
    _fail("not a typed event")  # another event type: the dict path parses the frame


def _typed_price_change(msg: _MarketMsg, recv_ts: float) -> PriceChange:
    """The struct twin of `_price_change` + `_current_level_updates` (same checks, same values)."""
    entries = msg.price_changes
    market = msg.market
    if entries is None or market is None:
        _fail("not a current-era price_change")
    updates: list[LevelUpdate] = []
    append = updates.append
    cache_get = _PRICE_CACHE.get
    bid_cache = _BID_CACHE
    ask_cache = _ASK_CACHE
    new_update = LevelUpdate
    new_decimal = Decimal
    # Polymarket mirrors a change on the complementary token with the same size, so an entry's size
    # text is often the previous entry's: reuse its Decimal (and "0", the commonest size, starts it)
    last_text, size = "0", _ZERO
    for e in entries:
        price = cache_get(e.price)
        if price is None:
            price = _price(e.price, "price")
        s = e.size
        if s != last_text:
            if len(s) <= _SHORT_SIZE_CHARS and not s.strip(_PLAIN_DECIMAL_CHARS):
                size = new_decimal(s)  # InvalidOperation (an ArithmeticError) for "1.2.3": dict path
            else:
                size = _size(s, "size")
            last_text = s
        bb = e.best_bid
        ba = e.best_ask
        best_bid = bid_cache.get(bb)
        best_ask = ask_cache.get(ba)
        if (best_bid is None and bb not in bid_cache) or (best_ask is None and ba not in ask_cache):
            best_bid, best_ask = _top_values(bb, ba)
        append(
            new_update(
                token_id=e.asset_id,
                side=e.side,
                price=price,
                size=size,
                best_bid=best_bid,
                best_ask=best_ask,
                hash=e.hash,
            )
        )
    change: PriceChange = _new_object(PriceChange)  # _new_price_change inlined (once a frame)
    _pc_market(change, market)
    _pc_updates(change, tuple(updates))
    _pc_venue_ts(change, _ts_value(msg.timestamp, "timestamp"))
    _pc_recv_ts(change, recv_ts)
    return change


# A plain decimal string of at most 15 characters is below 1e15 = _MAX_SIZE: no range check needed.
_SHORT_SIZE_CHARS: Final = 15


_LEVEL_PRICE = attrgetter("price")
_LEVEL_SIZE = attrgetter("size")
_FIRST = itemgetter(0)


def _typed_levels(raw: list[_LevelMsg], best_first_descending: bool) -> tuple[PriceLevel, ...]:
    """A book side, the usual case a step at a time over the whole side (C loops, no Python code per
    level but the last), else by the checked readers; sorted best first, empty levels dropped."""
    try:
        prices = list(map(_PRICE_CACHE.__getitem__, map(_LEVEL_PRICE, raw)))
    except KeyError:  # a price not seen yet
        prices = [_price(lvl.price, "price") for lvl in raw]
    texts = list(map(_LEVEL_SIZE, raw))
    joined = "".join(texts)
    # every size plain digits and dots and short (Decimal raises InvalidOperation for "1.2.3", "")
    if joined.isascii() and joined.replace(".", "").isdigit() and max(map(len, texts)) <= _SHORT_SIZE_CHARS:
        sizes = list(map(Decimal, texts))
    else:
        sizes = [_size(s, "size") for s in texts]
    pairs = zip(prices, sizes, strict=True)
    # sorted by price only, like the dict path (stable for a repeated price); Timsort is linear on
    # the usual best-last (= reversed) order
    ordered = sorted(
        pairs if all(sizes) else [ps for ps in pairs if ps[1]], key=_FIRST, reverse=best_first_descending
    )
    out: list[PriceLevel] = []
    append = out.append
    new_object = _new_object
    set_price = _pl_price
    set_size = _pl_size
    for price, size in ordered:
        level = new_object(PriceLevel)  # _new_price_level inlined
        set_price(level, price)
        set_size(level, size)
        append(level)
    return tuple(out)


def _typed_book(msg: _MarketMsg, recv_ts: float) -> BookSnapshot:
    """The struct twin of `_book`."""
    asset_id = msg.asset_id
    bids = msg.bids
    asks = msg.asks
    if not asset_id or bids is None or asks is None:
        _fail("book without asset_id, bids or asks")
    tick = msg.tick_size
    mos = msg.min_order_size
    ltp = msg.last_trade_price
    return BookSnapshot(
        market="" if msg.market is None else msg.market,
        token_id=asset_id,
        bids=_typed_levels(bids, True),
        asks=_typed_levels(asks, False),
        tick_size=None if tick is None or tick == "" else _tick(tick, "tick_size"),
        min_order_size=None if mos is None or mos == "" else _size(mos, "min_order_size"),
        hash=msg.hash,
        venue_ts=_ts_value(msg.timestamp, "timestamp"),
        recv_ts=recv_ts,
        last_trade_price=None if ltp is None or ltp == "" else _price(ltp, "last_trade_price"),
        neg_risk=msg.neg_risk,
    )


# What a malformed element can raise: WireError from the readers, the rest as a defensive net only.
_MALFORMED = (WireError, KeyError, TypeError, ValueError, ArithmeticError, AttributeError)
_MAX_PROBLEMS = 32  # per frame: a frame of thousands of bad elements must not flood the log
# Finds where each element of a bad frame ends (error path only); unlike _DECODER it accepts NaN.
_SCANNER = json.JSONDecoder()
_BETWEEN_ELEMENTS = " \t\n\r,"


def _element_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each element of a frame that is a valid JSON array (one pass)."""
    spans: list[tuple[int, int]] = []
    pos = text.index("[") + 1
    size = len(text)
    while True:
        while pos < size and text[pos] in _BETWEEN_ELEMENTS:
            pos += 1
        if pos >= size or text[pos] == "]":
            return spans
        _, end = _SCANNER.raw_decode(text, pos)
        spans.append((pos, end))
        pos = end


class _Problems:
    """The bad elements of one frame, with their raw text; built on the error path only."""

    __slots__ = ("_frame", "_spans", "dropped", "items")

    def __init__(self, frame: str | bytes) -> None:
        self._frame = frame
        self._spans: list[tuple[int, int]] | None = None
        self.items: list[BadElement] = []
        self.dropped = 0

    def add(self, index: int, obj: Any, exc: Exception) -> None:
        if len(self.items) >= _MAX_PROBLEMS:
            self.dropped += 1
            return
        detail = str(exc) if isinstance(exc, WireError) else f"malformed event ({type(exc).__name__})"
        et = obj.get("event_type") if type(obj) is dict else None
        self.items.append(BadElement(f"{et[:32]}: {detail}" if type(et) is str else detail, self._raw(index)))

    def _raw(self, index: int) -> str:
        frame = self._frame
        text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")
        raw = text
        if text.lstrip().startswith("["):
            try:
                if self._spans is None:
                    self._spans = _element_spans(text)
                start, end = self._spans[index]
                raw = text[start:end]
            except (ValueError, IndexError):  # cannot happen for a frame that decoded; keep it all
                raw = text
        return raw if len(raw) <= RAW_TEXT_MAX else f"{raw[:RAW_TEXT_MAX]}... ({len(raw)} chars)"

    def result(self) -> tuple[BadElement, ...]:
        if self.dropped:
            return (*self.items, BadElement(f"{self.dropped} more malformed elements (not shown)", ""))
        return tuple(self.items)


def _dispatch(
    obj: Mapping[str, Any], parser: Callable[[Mapping[str, Any], float], Any], et: str, recv_ts: float
) -> Any:
    try:
        return parser(obj, recv_ts)
    except WireError as exc:
        raise WireError(f"{et}: {exc}") from None
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        # A defensive net only: the readers above raise WireError for every malformed value.
        raise WireError(f"{et}: malformed event ({type(exc).__name__})") from None


def parse_market_frame(text: str | bytes, recv_ts: float) -> ParsedFrame[MarketEvent]:
    """Parse one market-channel frame into the events of its good elements, in frame order, and a
    `BadElement` for each malformed one (a non-object element, a non-string `event_type`, a known
    event with a missing or malformed field).

    `PONG`/`PING` and unknown event types give no events. Raises `WireError` only for a frame that
    is not a JSON object or array (invalid JSON, bad UTF-8, too deep, a scalar).
    """
    events = _typed_market_frame(text, recv_ts)
    if events is not None:
        frame: ParsedFrame[MarketEvent] = _new_tuple(ParsedFrame, (events, _NO_PROBLEMS))
        return frame
    return _parse_market_objects(text, recv_ts)


def _parse_market_objects(text: str | bytes, recv_ts: float) -> ParsedFrame[MarketEvent]:
    """`parse_market_frame` by the dict path: any frame, every element checked on its own."""
    objects = _objects(text)
    if objects is None:
        return ParsedFrame([], _NO_PROBLEMS)
    events: list[MarketEvent] = []
    problems: _Problems | None = None
    parsers = _MARKET_PARSERS
    for index, obj in enumerate(objects):
        try:
            et = obj.get("event_type") if type(obj) is dict else _event_type(obj)
            parser = parsers.get(et) if type(et) is str else None
            if parser is None:
                et = _event_type(obj)  # raises for a non-string
                if et is None or (parser := parsers.get(et.lower())) is None:
                    continue
            events.append(parser(obj, recv_ts))
        except _MALFORMED as exc:
            if problems is None:
                problems = _Problems(text)
            problems.add(index, obj, exc)
    frame: ParsedFrame[MarketEvent] = _new_tuple(
        ParsedFrame, (events, _NO_PROBLEMS if problems is None else problems.result())
    )
    return frame


def parse_rest_book(obj: Mapping[str, Any], recv_ts: float) -> BookSnapshot:
    """Parse a REST `GET /book` response (a decoded JSON object) into a best-first snapshot."""
    if type(obj) is not dict:
        _fail(f"book response is {type(obj).__name__}, not an object")
    result: BookSnapshot = _dispatch(obj, _book, "book", recv_ts)
    return result


def parse_rest_books(obj: Any, recv_ts: float) -> list[BookSnapshot]:
    """Parse a REST `POST /books` response (a JSON array of book objects)."""
    if type(obj) is not list:
        _fail(f"books response is {type(obj).__name__}, not an array")
    return [parse_rest_book(item, recv_ts) for item in obj]


# -- user channel ---------------------------------------------------------------------------------


def _status(obj: Mapping[str, Any]) -> str:
    status = _str(obj, "status").strip().upper()
    status = status.removeprefix("ORDER_STATUS_")
    if not status:
        _fail("field 'status' is empty")
    return status


def _order(obj: Mapping[str, Any], recv_ts: float, api_key: str, maker_address: str) -> OrderUpdate:
    raw_kind = obj.get("type")
    # An unknown lifecycle kind still carries the order's full state, so it is kept as an UPDATE.
    kind = _ORDER_KINDS.get(raw_kind.strip().upper(), "UPDATE") if type(raw_kind) is str else "UPDATE"
    assoc = obj.get("associate_trades")
    if assoc is None:
        trades: tuple[str, ...] = ()
    elif type(assoc) is list and all(type(t) is str for t in assoc):
        trades = tuple(assoc)
    else:
        _fail("field 'associate_trades' is not a list of strings")
    matched = _opt_decimal(obj, "size_matched")  # "" for a killed FOK/FAK since the V2 cut-over
    return OrderUpdate(
        order_id=_str(obj, "id"),
        market=_str(obj, "market"),
        token_id=_id(obj, "asset_id"),
        side=_side(obj),
        price=_price(obj.get("price"), "price"),
        original_size=_size(obj.get("original_size"), "original_size"),
        size_matched=_ZERO if matched is None else matched,
        status=_status(obj),
        kind=kind,
        owner=_opt_str(obj, "owner"),
        venue_ts=_ts(obj, "timestamp", "created_at"),
        recv_ts=recv_ts,
        maker_address=_opt_str(obj, "maker_address"),
        outcome=_opt_str(obj, "outcome"),
        order_type=_opt_str(obj, "order_type"),
        associate_trades=trades,
    )


def _fee(obj: Mapping[str, Any]) -> Decimal:
    fee = _opt_decimal(obj, "fee_rate_bps")
    return _ZERO if fee is None else fee


def _trade(obj: Mapping[str, Any], recv_ts: float, api_key: str, maker_address: str) -> TradeUpdate:
    """A user `trade`: our maker fills, then (when we took) our taker fill first. Fields are read in
    a fixed order so a trade with several bad fields always names the same one."""
    trade_id = _str(obj, "id")
    status = _trade_status(obj)
    taker_order_id = _opt_str(obj, "taker_order_id")
    taker_token = _id(obj, "asset_id")
    taker_side = _side(obj)
    owner = _opt_str(obj, "owner")
    fills = _our_maker_fills(obj, trade_id, taker_token, taker_side, api_key, maker_address)
    role = _trader_role(obj, owner, api_key)
    if role == "TAKER":
        if not taker_order_id:
            _fail("taker trade without 'taker_order_id'")
        fills.insert(0, _taker_fill(obj, trade_id, taker_order_id, taker_token, taker_side))
    return TradeUpdate(
        trade_id=trade_id,
        market=_str(obj, "market"),
        status=status,
        taker_order_id=taker_order_id,
        trader_side=role,
        fills=tuple(fills),
        venue_ts=_ts(obj, "timestamp", "last_update", "match_time", "matchtime"),
        recv_ts=recv_ts,
        transaction_hash=_opt_str(obj, "transaction_hash"),
        match_ts=_opt_ts(obj, "match_time", "matchtime"),
    )


def _trade_status(obj: Mapping[str, Any]) -> TradeStatus:
    raw_status = _str(obj, "status")
    try:
        return TradeStatus.parse(raw_status)
    except ValueError:
        _fail(f"unknown trade status {raw_status[:32]!r}")


def _our_maker_fills(
    obj: Mapping[str, Any],
    trade_id: str,
    taker_token: str,
    taker_side: Side,
    api_key: str,
    maker_address: str,
) -> list[Fill]:
    """The `maker_orders` that are ours (by api key or funder address), in THEIR token, side and
    price; the others are skipped unread beyond their owner and address."""
    ours_address = maker_address.lower()
    maker_orders = obj.get("maker_orders")
    if maker_orders is None:
        maker_orders = []
    elif type(maker_orders) is not list:
        _fail("field 'maker_orders' is not a list")
    fills: list[Fill] = []
    for m in maker_orders:
        if type(m) is not dict:
            _fail("maker_orders entry is not an object")
        m_owner = _opt_str(m, "owner")
        m_address = _opt_str(m, "maker_address")
        if not ((api_key and m_owner == api_key) or (ours_address and m_address.lower() == ours_address)):
            continue
        m_token = _id(m, "asset_id") if m.get("asset_id") is not None else taker_token
        if m.get("side") is not None:
            m_side = _side(m)
        else:
            # Same token: the maker took the other side; complementary token (mint/merge): same side.
            m_side = taker_side.opposite if m_token == taker_token else taker_side
        fills.append(
            Fill(
                trade_id=trade_id,
                order_id=_str(m, "order_id"),
                token_id=m_token,
                side=m_side,
                price=_price(m.get("price"), "price"),
                size=_size(m.get("matched_amount"), "matched_amount"),
                fee_rate_bps=_fee(m),
                liquidity="MAKER",
                outcome=_opt_str(m, "outcome"),
            )
        )
    return fills


def _trader_role(obj: Mapping[str, Any], owner: str, api_key: str) -> Liquidity:
    """`trader_side` when the venue sends it, else TAKER exactly when the trade's owner is our key."""
    raw_role = obj.get("trader_side")
    role: Liquidity | None = _LIQUIDITY.get(raw_role.strip().upper()) if type(raw_role) is str else None
    if role is None:
        if raw_role not in (None, ""):
            _fail(f"field 'trader_side' is not MAKER or TAKER: {str(raw_role)[:16]!r}")
        role = "TAKER" if api_key and owner == api_key else "MAKER"
    return role


def _taker_fill(
    obj: Mapping[str, Any], trade_id: str, taker_order_id: str, taker_token: str, taker_side: Side
) -> Fill:
    """Our fill as the taker: the trade's own token, side, price and size."""
    return Fill(
        trade_id=trade_id,
        order_id=taker_order_id,
        token_id=taker_token,
        side=taker_side,
        price=_price(obj.get("price"), "price"),
        size=_size(obj.get("size"), "size"),
        fee_rate_bps=_fee(obj),
        liquidity="TAKER",
        outcome=_opt_str(obj, "outcome"),
    )


_USER_PARSERS: dict[str, Callable[[Mapping[str, Any], float, str, str], UserEvent]] = {
    "order": _order,
    "trade": _trade,
}


def parse_user_frame(
    text: str | bytes, recv_ts: float, *, api_key: str, maker_address: str
) -> ParsedFrame[UserEvent]:
    """Parse one user-channel frame into `OrderUpdate`/`TradeUpdate` events, in frame order, and a
    `BadElement` for each malformed element (the others still parse: see the module docstring).

    `api_key` and `maker_address` identify OUR maker fills inside a trade's `maker_orders` (either
    match suffices; an empty value never matches). Unknown event types give no events. Raises
    `WireError` only for a frame that is not a JSON object or array.
    """
    objects = _objects(text)
    if objects is None:
        return ParsedFrame([], _NO_PROBLEMS)
    events: list[UserEvent] = []
    problems: _Problems | None = None
    for index, obj in enumerate(objects):
        try:
            et = _event_type(obj)
            if et is None:
                continue
            parser = _USER_PARSERS.get(et) or _USER_PARSERS.get(et.lower())
            if parser is None:
                continue
            events.append(parser(obj, recv_ts, api_key, maker_address))
        except _MALFORMED as exc:
            if problems is None:
                problems = _Problems(text)
            problems.add(index, obj, exc)
    frame: ParsedFrame[UserEvent] = _new_tuple(
        ParsedFrame, (events, _NO_PROBLEMS if problems is None else problems.result())
    )
    return frame


def parse_user_record(
    record: Any, event_type: str, recv_ts: float, *, api_key: str, maker_address: str
) -> UserEvent:
    """One REST record (`order` or `trade`, already decoded with exact decimals) as the event the
    user channel would carry; WireError when it is malformed. No re-encoding: nothing is lost."""
    if type(record) is not dict:
        _fail(f"{event_type} record is {type(record).__name__}, not an object")
    try:
        return _USER_PARSERS[event_type](record, recv_ts, api_key, maker_address)
    except WireError as exc:
        raise WireError(f"{event_type}: {exc}") from None
    except _MALFORMED as exc:
        raise WireError(f"{event_type}: malformed record ({type(exc).__name__})") from None
