"""The `--select` rule language, ranking and re-selection: pure, figures in, choices out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from polymm_cli.exchange.markets import sample_markets
from polymm_cli.selection import (
    Candidate,
    Rule,
    SelectionError,
    choose,
    failed_rule,
    parse_rank,
    parse_rules,
    ranked,
)

FED, BTC, CUP, SUN = sample_markets()  # reward pools 50, 25, 100, none
NOW = datetime(2026, 12, 1, tzinfo=UTC).timestamp()


def cand(m, *, spread: str | None = "0.02", volume: str = "0", ours: str = "0") -> Candidate:  # type: ignore[no-untyped-def]
    return Candidate(
        replace(m, volume=D(volume)),
        mid=D("0.5") if spread is not None else None,
        spread=D(spread) if spread is not None else None,
        liquidity=D("100"),
        ours=D(ours),
    )


def test_the_issue_example_parses_into_three_rules() -> None:
    rules = parse_rules("rewards>=50, volume >= 10000 ,spread<=0.03")
    assert rules == (
        Rule("rewards", ">=", D(50)),
        Rule("volume", ">=", D(10000)),
        Rule("spread", "<=", D("0.03")),
    )
    assert [str(r) for r in rules] == ["rewards>=50", "volume>=10000", "spread<=0.03"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--select is empty"),
        ("rewards>=50,,spread<0.1", "--select has an empty rule"),
        ("reward>=50", "unknown field 'reward' (fields: rewards, reward_band"),
        ("rewards=>50", "'rewards=>50' is not FIELD OP VALUE"),
        ("rewards~50", "is not FIELD OP VALUE (operators: >= <= > < = !=)"),
        ("rewards>=", "is not FIELD OP VALUE"),
        ("spread<=3c", "spread: '3c' is not a number"),
        ("volume>=NaN", "volume: 'NaN' is not a finite number"),
        ("category>=sports", "category takes = or != only, got >="),
        ("neg_risk=maybe", "neg_risk is true or false, got 'maybe'"),
    ],
)
def test_a_bad_selection_is_one_line_naming_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SelectionError) as caught:
        parse_rules(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_rules_read_the_listing_and_the_book_without_ours() -> None:
    rules = parse_rules("rewards>=50,spread<=0.03,category=sports,neg_risk=true,days_left>=20")

    assert failed_rule(cand(CUP), rules, NOW) is None
    assert failed_rule(cand(FED), rules, NOW) == "category economics fails category=sports"
    assert failed_rule(cand(CUP, spread="0.05"), rules, NOW) == "spread 0.05 fails spread<=0.03"
    # a figure the market does not have fails the rule on it: no two-sided book, no spread
    assert failed_rule(cand(CUP, spread=None), rules, NOW) == "spread n/a fails spread<=0.03"
    # the sample markets end on 2026-12-31: 30 days after NOW
    assert failed_rule(cand(CUP), parse_rules("days_left>30"), NOW) == "days_left 30 fails days_left>30"


def test_ranking_is_highest_first_or_lowest_with_a_minus() -> None:
    markets = [cand(FED, volume="10"), cand(BTC, volume="30"), cand(CUP, volume="20")]

    slugs = [BTC.slug, CUP.slug, FED.slug]
    assert [c.market.slug for c in ranked(markets, parse_rank("volume"), NOW)] == slugs
    assert [c.market.slug for c in ranked(markets, parse_rank("-volume"), NOW)] == slugs[::-1]
    with pytest.raises(SelectionError, match="--rank: 'category' is not a numeric field"):
        parse_rank("category")


def test_top_n_picks_the_best_that_pass_every_rule() -> None:
    rules = parse_rules("rewards>=25")
    listing = [cand(FED, ours="3"), cand(BTC, ours="1"), cand(CUP, ours="5"), cand(SUN, ours="9")]

    choice = choose(listing, rules, top=2, ranking=parse_rank("ours"), now=NOW)

    assert choice.ids == (CUP.condition_id, FED.condition_id)  # SUN pays no reward: it fails
    assert choice.dropped == {}


def test_reselection_keeps_a_held_market_that_still_passes_and_drops_the_others() -> None:
    rules = parse_rules("rewards>=25,spread<=0.03")
    held = [FED.condition_id, BTC.condition_id, SUN.condition_id]
    listing = [
        cand(FED, ours="1"),  # still passes: stays although CUP now ranks higher
        cand(BTC, spread="0.08", ours="2"),  # the book widened past the rule
        cand(CUP, ours="5"),
        # SUN is not listed any more (closed)
    ]

    choice = choose(listing, rules, top=2, ranking=parse_rank("ours"), now=NOW, held=held)

    assert set(choice.ids) == {FED.condition_id, CUP.condition_id}
    assert choice.dropped == {
        BTC.condition_id: "spread 0.08 fails spread<=0.03",
        SUN.condition_id: "no longer listed (closed or not accepting orders)",
    }


def test_a_market_we_cannot_quote_is_never_chosen() -> None:
    listing = [cand(FED, ours="1"), cand(CUP, ours="5")]
    excluded = {CUP.condition_id: "size 10 is below its minimum order size 25"}

    choice = choose(listing, (), top=2, ranking=parse_rank("ours"), now=NOW, excluded=excluded)

    assert choice.ids == (FED.condition_id,)
    with pytest.raises(SelectionError, match="--top must be at least 1"):
        choose(listing, (), top=0, ranking=parse_rank("ours"), now=NOW)
