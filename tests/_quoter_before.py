"""A frozen copy of `quoter.quote` as it was before the side-driven rewrite, for the equivalence test.

Test-only and temporary: it is deleted once the rewrite is proven identical. The records are the
production ones, so decisions compare with `==`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from polymm_cli.model import MICRO, ONE, ZERO, Market, Side
from polymm_cli.quoter import (
    NO_BOOK_REASON,
    QuoteDecision,
    QuoteInput,
    QuoteParams,
    QuoteSide,
    SkippedSide,
    TargetQuote,
)

_TWO = Decimal(2)
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


# -- helpers ------------------------------------------------------------------------------------


def round_down_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The largest multiple of `tick` that is <= `price` (works for 0.0025 and 0.005 ticks too)."""
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def round_up_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The smallest multiple of `tick` that is >= `price`."""
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def needs_requote(last_mid: Decimal | None, mid: Decimal | None, threshold: Decimal) -> bool:
    """Whether the quotes should be recomputed: the first quote always, then a mid move >= threshold.

    No mid (no two-sided book) never asks for a requote: there is nothing to quote around.
    """
    if mid is None:
        return False
    if last_mid is None:
        return True
    return abs(mid - last_mid) >= threshold


def _fmt(value: Decimal, dp: int = 0) -> str:
    """Display form for reasons and notes: no exponent, trailing zeros dropped down to `dp`
    decimals (0.5 -> "0.500" on a 0.001 market, 10.00 -> "10"), at most `dp` + 6 decimals.

    A string helper of its own (not `decimal_str`) because it runs several times per quote().
    """
    text = f"{value:f}"
    point = text.find(".")
    if point < 0:
        return text + "." + "0" * dp if dp else text
    text = text.rstrip("0")
    decimals = len(text) - point - 1
    if decimals < dp:
        return text + "0" * (dp - decimals)
    if decimals == 0:
        return text[:-1]
    if decimals > dp + 6:
        return f"{value:.{dp + 6}f}"
    return text


def _signed(value: Decimal) -> str:
    text = _fmt(value)
    return text if value < ZERO else "+" + text


def _skip_both(mid: Decimal | None, reason: str, notes: tuple[str, ...] = ()) -> QuoteDecision:
    return QuoteDecision(
        mid=mid,
        quotes=(),
        skipped=(SkippedSide("bid", reason), SkippedSide("ask", reason)),
        notes=notes,
    )


# -- the quoter ---------------------------------------------------------------------------------


def quote(inp: QuoteInput, params: QuoteParams) -> QuoteDecision:
    """Decide the bid and ask to rest for one market, with the reason for each and notes on every rule.

    See the module docstring for the rules, in the order they apply: mid, blocked sides, widening,
    skew, rounding, clamps, reward band, position limit, size cut, min size, inventory vs
    collateral, then the levels behind level 0.
    """
    market = inp.market
    tick = market.tick_size
    dp = max(0, -int(tick.as_tuple().exponent))
    best_bid = inp.best_bid
    best_ask = inp.best_ask
    notes: list[str] = []

    # 1. The mid.
    if inp.mid_override is not None:
        mid = inp.mid_override
        notes.append(
            f"mid = {inp.mid_reason or 'override'} {_fmt(mid, dp)}"
            + ("" if inp.mid_reason else " (not the book)")
        )
    elif best_bid is None or best_ask is None:
        return _skip_both(None, NO_BOOK_REASON)
    elif best_bid >= best_ask:
        return _skip_both(
            None,
            f"book crossed or locked (best bid {best_bid} >= best ask {best_ask}): "
            "never quote a guessed price",
        )
    elif params.use_microprice:
        bid_sz = inp.best_bid_size
        ask_sz = inp.best_ask_size
        if bid_sz is not None and ask_sz is not None and bid_sz > ZERO and ask_sz > ZERO:
            mid = ((best_bid * ask_sz + best_ask * bid_sz) / (bid_sz + ask_sz)).quantize(MICRO)
            notes.append(
                f"mid = microprice {_fmt(mid, dp)} (top sizes bid {_fmt(bid_sz)} / ask {_fmt(ask_sz)})"
            )
        else:
            mid = (best_bid + best_ask) / _TWO
            notes.append("microprice needs both top-of-book sizes: using the plain mid")
    else:
        mid = (best_bid + best_ask) / _TWO

    if not ZERO < mid < ONE:
        return _skip_both(mid, f"mid {_fmt(mid)} is outside (0, 1)", tuple(notes))
    if market.closed or not market.accepting_orders:
        return _skip_both(mid, "market is closed or not accepting orders", tuple(notes))
    multiplier = inp.spread_multiplier
    widened = multiplier != ONE
    if widened and multiplier <= ZERO:
        return _skip_both(mid, f"spread multiplier {_fmt(multiplier)} must be > 0", tuple(notes))

    # 2. Sides another rule pulled: skipped before anything else is computed for them.
    bid_block: str | None = None
    ask_block: str | None = None
    for blocked_side, why in inp.blocked:
        if blocked_side == "bid":
            bid_block = why if bid_block is None else f"{bid_block}; {why}"
        else:
            ask_block = why if ask_block is None else f"{ask_block}; {why}"

    # 3. Offsets (volatility widening, then the inventory skew of seed 004 Phase 2).
    e = inp.yes_position - inp.no_position
    limit = params.position_limit
    base = params.spread / _TWO
    if widened:
        wide = base * multiplier
        notes.append(
            f"spread x{_fmt(multiplier)} (volatility, decided upstream): "
            f"base offset {_fmt(base, dp)} -> {_fmt(wide, dp)}"
        )
        base = wide
    bid_off = base
    ask_off = base
    skew = ZERO
    if params.skew_enabled and e:
        ratio = e / limit
        if ratio > ONE:
            ratio = ONE
        elif ratio < -ONE:
            ratio = -ONE
        used = abs(ratio)
        if used >= params.skew_start:
            skew = used * params.skew_factor * base
            if e < ZERO:
                bid_off -= skew
                ask_off += skew
                toward = "bid moves closer (buying YES reduces NO exposure), ask moves away"
            else:
                ask_off -= skew
                bid_off += skew
                toward = "ask moves closer (selling YES reduces YES exposure), bid moves away"
            notes.append(
                f"inventory skew {_fmt(skew, dp)} = |e|/L {_fmt(used * _HUNDRED, 0)}% x "
                f"factor {_fmt(params.skew_factor)} x base {_fmt(base, dp)} (e {_signed(e)}, "
                f"L {_fmt(limit)}): {toward}"
            )

    lo = tick
    hi = ONE - tick
    min_size = market.min_order_size
    quotes: list[TargetQuote] = []
    skipped: list[SkippedSide] = []

    # 4. Level-0 prices: round away from the mid, clamp to [tick, 1 - tick], then the post-only clamp.
    mid_txt = _fmt(mid, dp)
    bid: Decimal | None = None
    bid_adj = ""
    bid_clamped = False
    if bid_block is not None:
        skipped.append(SkippedSide("bid", bid_block))
        notes.append(f"bid blocked: {bid_block}")
    elif e >= limit:
        reason = f"position limit: e {_signed(e)} >= +L {_fmt(limit)}: no bid (it would add YES exposure)"
        skipped.append(SkippedSide("bid", reason))
        notes.append(reason)
    else:
        bid = round_down_to_tick(mid - bid_off, tick)
        if bid < lo:
            bid, bid_clamped = lo, True
            bid_adj += f", raised to the minimum price {lo}"
            notes.append(f"bid clamped up to the minimum price {lo}")
        elif bid > hi:
            bid, bid_clamped = hi, True
            bid_adj += f", lowered to the maximum price {hi}"
            notes.append(f"bid clamped down to the maximum price {hi}")
        if best_ask is not None and bid >= best_ask:
            capped = round_up_to_tick(best_ask, tick) - tick
            notes.append(
                f"post-only: bid {bid} would cross or touch the best ask {best_ask}: lowered to {capped}"
            )
            bid_adj += f", post-only below best ask {best_ask}"
            bid, bid_clamped = capped, True
            if bid < lo:
                skipped.append(SkippedSide("bid", f"post-only: no valid price below the best ask {best_ask}"))
                bid = None

    ask: Decimal | None = None
    ask_adj = ""
    if ask_block is not None:
        skipped.append(SkippedSide("ask", ask_block))
        notes.append(f"ask blocked: {ask_block}")
    elif e <= -limit:
        reason = f"position limit: e {_signed(e)} <= -L {_fmt(limit)}: no ask (it would add NO exposure)"
        skipped.append(SkippedSide("ask", reason))
        notes.append(reason)
    else:
        ask = round_up_to_tick(mid + ask_off, tick)
        if ask > hi:
            ask = hi
            ask_adj += f", lowered to the maximum price {hi}"
            notes.append(f"ask clamped down to the maximum price {hi}")
        elif ask < lo:
            ask = lo
            ask_adj += f", raised to the minimum price {lo}"
            notes.append(f"ask clamped up to the minimum price {lo}")
        if best_bid is not None and ask <= best_bid:
            floored = round_down_to_tick(best_bid, tick) + tick
            notes.append(
                f"post-only: ask {ask} would cross or touch the best bid {best_bid}: raised to {floored}"
            )
            ask_adj += f", post-only above best bid {best_bid}"
            ask = floored
            if ask > hi:
                skipped.append(SkippedSide("ask", f"post-only: no valid price above the best bid {best_bid}"))
                ask = None

    if bid is not None and ask is not None and bid >= ask:
        # Only a clamp can get here (unclamped, ask - bid >= spread > 0): a clamped bid yields, else the ask.
        if bid_clamped:
            reason = f"clamped bid {bid} would cross or touch our ask {ask}"
            skipped.append(SkippedSide("bid", reason))
            bid = None
        else:
            reason = f"clamped ask {ask} would cross or touch our bid {bid}"
            skipped.append(SkippedSide("ask", reason))
            ask = None
        notes.append(reason)

    # 5. Reward fitting (opt-in, rewarded markets only): level 0 inside the band, at the reward min size.
    bid_in_band = False
    ask_in_band = False
    reward_min = ZERO
    fitting = params.reward_band or params.reward_size
    band_off = "" if params.reward_band else "reward band fitting is off"
    if fitting and (bid is not None or ask is not None) and market.rewards.active:
        rewards = market.rewards
        reward_min = rewards.min_size
        band = rewards.max_spread_cents / _HUNDRED
        band_txt = f"max spread {_fmt(rewards.max_spread_cents)}c"
        held_back = f"spread widened x{_fmt(multiplier)}" if widened else ""
        if bid is not None:
            why = held_back or ("skewed away" if skew and e > ZERO else "")
            if mid - bid >= band:
                if why or band_off:
                    left = why or band_off
                    notes.append(f"bid {_fmt(bid)} outside the reward band ({band_txt}): left there ({left})")
                else:
                    pulled = round_down_to_tick(mid - band, tick) + tick  # > mid - band > old bid
                    if pulled >= mid:
                        stop = "no on-grid price inside the band below the mid"
                    elif ask is not None and pulled >= ask:
                        stop = f"{_fmt(pulled)} would cross or touch our ask {ask}"
                    elif best_ask is not None and pulled >= best_ask:
                        stop = f"post-only: {_fmt(pulled)} would cross or touch the best ask {best_ask}"
                    else:
                        stop = ""
                    if stop:
                        notes.append(
                            f"bid {_fmt(bid)} outside the reward band ({band_txt}): not pulled ({stop})"
                        )
                    else:
                        notes.append(
                            f"inside the reward band ({band_txt}): bid {_fmt(bid)} -> {_fmt(pulled)}"
                        )
                        bid_adj += f", pulled inside the reward band ({band_txt})"
                        bid = pulled
            bid_in_band = not why and abs(mid - bid) < band
        if ask is not None:
            why = held_back or ("skewed away" if skew and e < ZERO else "")
            if ask - mid >= band:
                if why or band_off:
                    left = why or band_off
                    notes.append(f"ask {_fmt(ask)} outside the reward band ({band_txt}): left there ({left})")
                else:
                    pulled = round_up_to_tick(mid + band, tick) - tick  # < mid + band < old ask
                    if pulled <= mid:
                        stop = "no on-grid price inside the band above the mid"
                    elif bid is not None and pulled <= bid:
                        stop = f"{_fmt(pulled)} would cross or touch our bid {bid}"
                    elif best_bid is not None and pulled <= best_bid:
                        stop = f"post-only: {_fmt(pulled)} would cross or touch the best bid {best_bid}"
                    else:
                        stop = ""
                    if stop:
                        notes.append(
                            f"ask {_fmt(ask)} outside the reward band ({band_txt}): not pulled ({stop})"
                        )
                    else:
                        notes.append(
                            f"inside the reward band ({band_txt}): ask {_fmt(ask)} -> {_fmt(pulled)}"
                        )
                        ask_adj += f", pulled inside the reward band ({band_txt})"
                        ask = pulled
            ask_in_band = not why and abs(ask - mid) < band

    # 6. Sizes and the order that carries each level; levels 1.. follow level 0 (`_deeper_levels`).
    size = params.size
    if bid is not None:
        skew_txt = ""
        if skew:
            skew_txt = (
                f" (skew {_fmt(skew, dp)} toward reducing NO exposure)"
                if e < ZERO
                else f" (skew {_fmt(skew, dp)} away: a fill would add YES exposure)"
            )
        room = limit - e
        s = size
        if params.reward_size and bid_in_band and s < reward_min:
            if room >= reward_min:
                notes.append(f"bid size {_fmt(s)} -> {_fmt(reward_min)}: the reward min size, so it scores")
                s = reward_min
            else:
                notes.append(
                    f"bid size {_fmt(s)} left below the reward min size {_fmt(reward_min)}: "
                    f"position-limit room {_fmt(room)}"
                )
        cut = ""
        if room < s:
            notes.append(
                f"bid size cut {_fmt(s)} -> {_fmt(room)}: one fill must not take "
                f"e {_signed(e)} past +L {_fmt(limit)}"
            )
            s = room
            cut = " (cut by the position limit)"
        held = (inp.no_position if inp.sellable_no is None else inp.sellable_no).quantize(
            _CENT, rounding=ROUND_DOWN
        )
        sell = held > ZERO and held >= min_size
        if sell and bid_in_band and held < reward_min <= s:
            sell = False
            notes.append(
                f"bid: NO held {_fmt(held)} is below the reward min size {_fmt(reward_min)}: "
                "BUY YES with collateral so the order scores"
            )
        if sell:
            if held < s:
                notes.append(f"bid size cut {_fmt(s)} -> {_fmt(held)}: NO held")
                s = held
            token, order_side, price = market.no_token, Side.SELL, ONE - bid
            how = f"SELL NO from inventory at 1 - {bid} = {price}"
        else:
            token, order_side, price = market.yes_token, Side.BUY, bid
            how = "BUY YES with collateral"
        s = s.quantize(_CENT, rounding=ROUND_DOWN)
        if s <= ZERO or s < min_size:
            skipped.append(
                SkippedSide(
                    "bid",
                    f"bid {_fmt(bid, dp)}: size {_fmt(s)}{cut} below the market minimum {_fmt(min_size)}",
                )
            )
        else:
            quotes.append(
                TargetQuote(
                    "bid",
                    token,
                    order_side,
                    price,
                    bid,
                    s,
                    f"bid = mid {mid_txt} - {_fmt(bid_off, dp)}{skew_txt}{bid_adj}; {how}",
                )
            )
            if params.levels > 1:
                _deeper_levels(
                    "bid", bid, market, params, room - s, held - s if sell else held, quotes, notes
                )

    if ask is not None:
        skew_txt = ""
        if skew:
            skew_txt = (
                f" (skew {_fmt(skew, dp)} toward reducing YES exposure)"
                if e > ZERO
                else f" (skew {_fmt(skew, dp)} away: a fill would add NO exposure)"
            )
        room = limit + e
        s = size
        if params.reward_size and ask_in_band and s < reward_min:
            if room >= reward_min:
                notes.append(f"ask size {_fmt(s)} -> {_fmt(reward_min)}: the reward min size, so it scores")
                s = reward_min
            else:
                notes.append(
                    f"ask size {_fmt(s)} left below the reward min size {_fmt(reward_min)}: "
                    f"position-limit room {_fmt(room)}"
                )
        cut = ""
        if room < s:
            notes.append(
                f"ask size cut {_fmt(s)} -> {_fmt(room)}: one fill must not take "
                f"e {_signed(e)} past -L {_fmt(limit)}"
            )
            s = room
            cut = " (cut by the position limit)"
        held = (inp.yes_position if inp.sellable_yes is None else inp.sellable_yes).quantize(
            _CENT, rounding=ROUND_DOWN
        )
        sell = held > ZERO and held >= min_size
        if sell and ask_in_band and held < reward_min <= s:
            sell = False
            notes.append(
                f"ask: YES held {_fmt(held)} is below the reward min size {_fmt(reward_min)}: "
                "BUY NO with collateral so the order scores"
            )
        if sell:
            if held < s:
                notes.append(f"ask size cut {_fmt(s)} -> {_fmt(held)}: YES held")
                s = held
            token, order_side, price = market.yes_token, Side.SELL, ask
            how = "SELL YES from inventory"
        else:
            token, order_side, price = market.no_token, Side.BUY, ONE - ask
            how = f"BUY NO with collateral at 1 - {ask} = {price}"
        s = s.quantize(_CENT, rounding=ROUND_DOWN)
        if s <= ZERO or s < min_size:
            skipped.append(
                SkippedSide(
                    "ask",
                    f"ask {_fmt(ask, dp)}: size {_fmt(s)}{cut} below the market minimum {_fmt(min_size)}",
                )
            )
        else:
            quotes.append(
                TargetQuote(
                    "ask",
                    token,
                    order_side,
                    price,
                    ask,
                    s,
                    f"ask = mid {mid_txt} + {_fmt(ask_off, dp)}{skew_txt}{ask_adj}; {how}",
                )
            )
            if params.levels > 1:
                _deeper_levels(
                    "ask", ask, market, params, room - s, held - s if sell else held, quotes, notes
                )

    return QuoteDecision(mid=mid, quotes=tuple(quotes), skipped=tuple(skipped), notes=tuple(notes))


def _level_range(side: QuoteSide, first: int, last: int) -> str:
    return f"{side} level {first}" if first == last else f"{side} levels {first}-{last}"


def _deeper_levels(
    side: QuoteSide,
    first: Decimal,
    market: Market,
    params: QuoteParams,
    room: Decimal,
    held: Decimal,
    quotes: list[TargetQuote],
    notes: list[str],
) -> None:
    """Append levels 1.. of one side behind its placed level 0 at YES price `first`.

    `room` is what the position limit leaves after level 0, `held` the sellable inventory level 0
    left over. A level that leaves the price range or falls below the market minimum ends the side
    (every level after it would too: prices only move out, the room only shrinks), with one note.
    """
    tick = market.tick_size
    spacing = params.level_spacing_ticks
    step = tick * spacing
    size = params.size if params.level_size is None else params.level_size
    min_size = market.min_order_size
    last = params.levels - 1
    is_bid = side == "bid"
    for k in range(1, params.levels):
        if is_bid:
            yes_price = first - step * k
            if yes_price < tick:
                notes.append(f"{_level_range(side, k, last)} dropped: below the minimum price {tick}")
                return
        else:
            yes_price = first + step * k
            if yes_price > ONE - tick:
                notes.append(f"{_level_range(side, k, last)} dropped: above the maximum price {ONE - tick}")
                return
        s = size
        cut = ""
        if room < s:
            s = room
            cut = " (cut by the position limit)"
        sell = held > ZERO and held >= min_size
        if sell and held < s:
            notes.append(
                f"{side} level {k} size cut {_fmt(s)} -> {_fmt(held)}: {'NO' if is_bid else 'YES'} held"
            )
            s = held
        s = s.quantize(_CENT, rounding=ROUND_DOWN)
        if s <= ZERO or s < min_size:
            notes.append(
                f"{_level_range(side, k, last)} dropped: size {_fmt(s)}{cut} "
                f"below the market minimum {_fmt(min_size)}"
            )
            return
        if is_bid:
            if sell:
                token, order_side, price = market.no_token, Side.SELL, ONE - yes_price
                how = f"SELL NO from inventory at 1 - {yes_price} = {price}"
            else:
                token, order_side, price = market.yes_token, Side.BUY, yes_price
                how = "BUY YES with collateral"
        elif sell:
            token, order_side, price = market.yes_token, Side.SELL, yes_price
            how = "SELL YES from inventory"
        else:
            token, order_side, price = market.no_token, Side.BUY, ONE - yes_price
            how = f"BUY NO with collateral at 1 - {yes_price} = {price}"
        ticks = k * spacing
        quotes.append(
            TargetQuote(
                side,
                token,
                order_side,
                price,
                yes_price,
                s,
                f"{side} level {k} = level 0 {first} {'-' if is_bid else '+'} {ticks} "
                f"tick{'' if ticks == 1 else 's'}; {how}",
            )
        )
        room -= s
        if sell:
            held -= s
