"""Behaviour of the L2 book: ordering, level updates, tick-change epochs, derived prices."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polymm_cli.book import OrderBook
from polymm_cli.model import PriceLevel, Side

D = Decimal


def levels(*pairs: tuple[str, str]) -> list[PriceLevel]:
    return [PriceLevel(D(p), D(s)) for p, s in pairs]


def wire_order_book() -> OrderBook:
    """A book fed in the wire's best-LAST order: bids ascending, asks descending."""
    book = OrderBook("yes")
    book.apply_snapshot(
        bids=levels(("0.48", "1200"), ("0.49", "350.5"), ("0.50", "20")),
        asks=levels(("0.54", "900"), ("0.53", "100"), ("0.52", "75")),
        tick=D("0.01"),
        ts=10.0,
    )
    return book


def test_snapshot_in_best_last_wire_order_reads_best_first() -> None:
    book = wire_order_book()

    bids = book.levels(Side.BUY)
    asks = book.levels(Side.SELL)

    assert [lvl.price for lvl in bids] == [D("0.50"), D("0.49"), D("0.48")]
    assert [lvl.price for lvl in asks] == [D("0.52"), D("0.53"), D("0.54")]
    assert book.best_bid == D("0.50")
    assert book.best_ask == D("0.52")
    assert book.best_bid_level == PriceLevel(D("0.50"), D("20"))
    assert book.best_ask_level == PriceLevel(D("0.52"), D("75"))
    assert book.tick_size == D("0.01")
    assert book.last_update_ts == 10.0
    assert book.synced


def test_snapshot_in_shuffled_order_reads_best_first() -> None:
    book = OrderBook("yes")

    book.apply_snapshot(
        bids=levels(("0.49", "1"), ("0.30", "2"), ("0.50", "3"), ("0.41", "4")),
        asks=levels(("0.60", "1"), ("0.52", "2"), ("0.99", "3")),
    )

    assert [lvl.price for lvl in book.levels(Side.BUY)] == [D("0.50"), D("0.49"), D("0.41"), D("0.30")]
    assert [lvl.price for lvl in book.levels(Side.SELL)] == [D("0.52"), D("0.60"), D("0.99")]


def test_levels_depth_limits_best_first() -> None:
    book = wire_order_book()

    assert book.levels(Side.BUY, 2) == (PriceLevel(D("0.50"), D("20")), PriceLevel(D("0.49"), D("350.5")))
    assert book.levels(Side.SELL, 1) == (PriceLevel(D("0.52"), D("75")),)
    assert book.levels(Side.BUY, 0) == ()
    assert len(book.levels(Side.SELL, 99)) == 3


def test_size_zero_removes_the_level_and_moves_the_top() -> None:
    book = wire_order_book()

    book.apply_level(Side.BUY, D("0.50"), D("0"))
    book.apply_level(Side.SELL, D("0.52"), D("0"))

    assert book.best_bid == D("0.49")
    assert book.best_ask == D("0.53")
    assert book.depth(Side.BUY) == 2
    assert book.size_at(Side.BUY, D("0.50")) == 0


def test_removing_an_absent_level_changes_nothing() -> None:
    book = wire_order_book()

    book.apply_level(Side.BUY, D("0.10"), D("0"))

    assert book.depth(Side.BUY) == 3
    assert book.best_bid == D("0.50")


def test_level_size_is_the_new_total_not_a_delta() -> None:
    book = wire_order_book()

    book.apply_level(Side.BUY, D("0.49"), D("10"), ts=11.0)

    assert book.size_at(Side.BUY, D("0.49")) == D("10")
    assert book.depth(Side.BUY) == 3
    assert book.last_update_ts == 11.0


def test_new_level_inside_the_spread_becomes_the_top() -> None:
    book = wire_order_book()

    book.apply_level(Side.BUY, D("0.51"), D("5"))
    book.apply_level(Side.SELL, D("0.515"), D("7"))

    assert book.best_bid == D("0.51")
    assert book.best_ask == D("0.515")


def test_equal_decimals_with_different_spelling_are_one_level() -> None:
    book = wire_order_book()

    book.apply_level(Side.BUY, D("0.5"), D("33"))
    book.apply_level(Side.BUY, D("0.500"), D("0"))

    assert book.depth(Side.BUY) == 2
    assert book.best_bid == D("0.49")


def test_mid_microprice_and_spread() -> None:
    book = OrderBook("yes")
    book.apply_snapshot(bids=levels(("0.40", "300")), asks=levels(("0.50", "100")))

    assert book.mid == D("0.45")
    assert book.spread == D("0.10")
    # (0.40 * 100 + 0.50 * 300) / 400: the thin ask pulls the microprice toward it
    assert book.microprice == D("0.475")


def test_one_sided_book_has_no_mid_microprice_or_spread() -> None:
    book = OrderBook("yes")
    book.apply_snapshot(bids=levels(("0.40", "300")), asks=[])

    assert book.best_ask is None
    assert book.mid is None
    assert book.microprice is None
    assert book.spread is None
    assert not book.is_crossed


def test_crossed_and_locked_books_are_flagged() -> None:
    book = wire_order_book()

    book.apply_level(Side.BUY, D("0.52"), D("1"))
    locked = book.is_crossed
    book.apply_level(Side.BUY, D("0.53"), D("1"))

    assert locked
    assert book.is_crossed
    assert book.spread == D("-0.01")


def test_tick_change_clears_the_book_and_starts_a_new_epoch() -> None:
    book = wire_order_book()
    epoch = book.epoch

    book.reset_for_tick_change(D("0.001"), ts=12.0)

    assert book.epoch == epoch + 1
    assert book.tick_size == D("0.001")
    assert book.is_empty
    assert book.best_bid is None and book.best_ask is None and book.mid is None
    assert not book.synced
    assert book.last_update_ts == 12.0


def test_snapshot_after_tick_change_resyncs_on_the_new_grid() -> None:
    book = wire_order_book()
    book.reset_for_tick_change(D("0.001"))

    book.apply_snapshot(bids=levels(("0.501", "5")), asks=levels(("0.502", "6")))

    assert book.synced
    assert book.epoch == 1
    assert book.tick_size == D("0.001")  # a snapshot without a tick keeps the current one
    assert book.mid == D("0.5015")


def test_snapshot_replaces_every_level_and_drops_empty_ones() -> None:
    book = wire_order_book()

    book.apply_snapshot(bids=levels(("0.30", "1"), ("0.31", "0")), asks=levels(("0.70", "2")))

    assert book.levels(Side.BUY) == (PriceLevel(D("0.30"), D("1")),)
    assert book.levels(Side.SELL) == (PriceLevel(D("0.70"), D("2")),)


def test_every_mutation_bumps_the_version() -> None:
    book = OrderBook("yes")
    versions = [book.version]

    book.apply_snapshot(bids=[], asks=[])
    versions.append(book.version)
    book.apply_level(Side.BUY, D("0.1"), D("1"))
    versions.append(book.version)
    book.reset_for_tick_change(D("0.001"))
    versions.append(book.version)

    assert versions == sorted(set(versions))


def test_clear_empties_and_unsyncs_without_a_new_epoch() -> None:
    book = wire_order_book()

    book.clear()

    assert book.is_empty
    assert not book.synced
    assert book.epoch == 0


PRICES = st.integers(min_value=1, max_value=99).map(lambda cents: D(cents) / 100)
SIZES = st.sampled_from([D(0), D(0), D("1"), D("2.5"), D("100")])
OPS = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), PRICES, SIZES), max_size=200)


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_any_sequence_of_updates_matches_a_plain_dict_model(
    ops: list[tuple[Side, Decimal, Decimal]],
) -> None:
    book = OrderBook("yes")
    model: dict[Side, dict[Decimal, Decimal]] = {Side.BUY: {}, Side.SELL: {}}

    for side, price, size in ops:
        book.apply_level(side, price, size)
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)

    bids = sorted(model[Side.BUY].items(), reverse=True)
    asks = sorted(model[Side.SELL].items())
    assert book.levels(Side.BUY) == tuple(PriceLevel(p, s) for p, s in bids)
    assert book.levels(Side.SELL) == tuple(PriceLevel(p, s) for p, s in asks)
    assert book.best_bid == (bids[0][0] if bids else None)
    assert book.best_ask == (asks[0][0] if asks else None)


def test_the_mark_is_the_mid_of_the_book_without_our_orders_and_without_dust() -> None:
    from polymm_cli.book import external_levels, mark, own_levels
    from polymm_cli.exchange.markets import sample_markets
    from polymm_cli.model import PriceLevel

    fed = sample_markets()[0]
    bids = (PriceLevel(D("0.54"), D("10")), PriceLevel(D("0.50"), D("2")), PriceLevel(D("0.45"), D("100")))
    asks = (PriceLevel(D("0.55"), D("100")),)
    ours = own_levels(fed, [(fed.yes_token, Side.BUY, D("0.54"), D("10"))])  # our bid is the best

    assert mark(bids, asks) == D("0.545")
    assert mark(*external_levels(bids, asks, ours, D(5))) == D("0.50")  # 0.50 x 2 is dust
    assert mark((), asks) is None
