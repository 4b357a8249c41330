"""Pure Rich renderers: snapshots in, renderables out (no I/O, no state) — the dashboard and tables."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from polymm_cli.cli.common import dec
from polymm_cli.model import EngineSnapshot, MarketSnapshot, Side, decimal_str
from polymm_cli.services.backtest import BacktestResult
from polymm_cli.services.markets import MarketRow
from polymm_cli.services.recording import RecordStatus, size_text
from polymm_cli.status import MarketSummary, QuoteLine, summarize

GOOD, BAD, WARN = "green", "red", "yellow"


def money(value: Decimal | None, signed: bool = True) -> Text:
    if value is None:
        return Text("n/a", style="dim")
    q = value.quantize(Decimal("0.01"))
    text = f"{q:+,.2f}" if signed else f"{q:,.2f}"
    style = "" if not signed or q == 0 else (GOOD if q > 0 else BAD)
    return Text(text, style=style)


def income(value: Decimal) -> Text:
    """A payout total: to 4 decimals, since a short reward epoch pays fractions of a cent."""
    q = value.quantize(Decimal("0.0001"))
    return Text(f"{q:+,.4f}", style=GOOD if q > 0 else "" if q == 0 else BAD)


def dot(ok: bool, label: str, detail: str = "") -> Text:
    return Text.assemble(("● ", GOOD if ok else BAD), label, (f" {detail}" if detail else "", "dim"))


def age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}s ago"


def header(snap: EngineSnapshot) -> Panel:
    h = snap.health
    status = Text.assemble(
        dot(h.market_feed, "market feed", age(h.feed_age_s)),
        "   ",
        dot(h.user_stream, "user stream"),
        "   ",
        dot(h.heartbeat, "heartbeat", age(h.heartbeat_age_s)),
    )
    if h.halted:
        status.append(f"   HALTED: {h.halted}", style=f"bold {BAD}")
    stats = Text.assemble(
        ("P&L ", "bold"),
        money(snap.total_pnl),
        f"   fills {snap.fills}   placed {snap.orders_placed}   cancelled {snap.orders_canceled}"
        f"   decisions {snap.decisions}",
    )
    if snap.latency_p50_us is not None and snap.latency_p99_us is not None:
        stats.append(
            f"   decision latency p50 {snap.latency_p50_us:,.0f}µs p99 {snap.latency_p99_us:,.0f}µs",
            style="dim",
        )
    rows: list[RenderableType] = [status, stats]
    if snap.width:
        rows.append(Text(f"width: {snap.width}", style="dim"))
    if snap.reward_fit:
        rows.append(Text(f"reward fitting: {snap.reward_fit}", style="dim"))
    if h.last_error:
        rows.append(Text(f"last error: {h.last_error}", style=WARN))
    return Panel(
        Group(*rows), title=title(snap), title_align="left", border_style=WARN if paper(snap) else "none"
    )


def paper(snap: EngineSnapshot) -> bool:
    return snap.venue == "paper"


def title(snap: EngineSnapshot) -> Text:
    """The dashboard's title: venue and wallet; a paper run says PAPER first, so no one mistakes its
    simulated fills for real ones."""
    short = f"{snap.address[:6]}…{snap.address[-4:]}" if len(snap.address) > 12 else snap.address
    if paper(snap):
        return Text.assemble(
            (" PAPER ", f"bold black on {WARN}"),
            f" polymm — paper trading: simulated fills, nothing is sent — paper wallet {short}",
        )
    return Text(f"polymm — {snap.venue} — wallet {short}")


def price_str(price: Decimal, tick: Decimal) -> str:
    """A price at the tick's precision, so a column reads 0.51 / 0.50 / 0.49 (not 0.5)."""
    on_grid = price.quantize(tick)
    return str(on_grid) if on_grid == price else decimal_str(price)


def book_table(m: MarketSnapshot) -> Table:
    """The YES book's top levels, asks above bids, our orders marked with ◀."""
    ours: dict[tuple[str, Decimal], Decimal] = {}
    for o in m.orders:
        # from the order itself, not its tag: an adopted order's tag is "" (it was shown as an ask)
        is_bid = m.market.is_bid(o.token_id, o.side)
        key = ("bid" if is_bid else "ask", o.yes_price)
        ours[key] = ours.get(key, Decimal(0)) + o.remaining
    table = Table(title="book (YES)", show_edge=False, pad_edge=False, box=None)
    table.add_column("side")
    table.add_column("price", justify="right")
    table.add_column("size", justify="right")
    table.add_column("ours", justify="left")
    for level in reversed(m.asks):
        mine = ours.get(("ask", level.price))
        table.add_row(
            Text("ask", style=BAD),
            price_str(level.price, m.market.tick_size),
            decimal_str(level.size),
            Text(f"◀ {decimal_str(mine)}", style="bold") if mine else "",
        )
    table.add_row(
        "",
        Text(f"mid {price_str(m.mid, m.market.tick_size)}" if m.mid is not None else "no book", style="dim"),
        "",
        "",
    )
    for level in m.bids:
        mine = ours.get(("bid", level.price))
        table.add_row(
            Text("bid", style=GOOD),
            price_str(level.price, m.market.tick_size),
            decimal_str(level.size),
            Text(f"◀ {decimal_str(mine)}", style="bold") if mine else "",
        )
    return table


def inventory_table(m: MarketSnapshot) -> Table:
    table = Table(title="inventory and P&L", show_header=False, show_edge=False, box=None)
    table.add_column("what")
    table.add_column("value", justify="right")
    limit = m.position_limit
    used = abs(m.net_position) / limit if limit else Decimal(0)
    bar_len = 10  # fits the column at 140 wide (20 was cut to "█░░░░░░░░░░…", hiding usage past ~55%)
    filled = min(bar_len, int(used * bar_len))
    style = GOOD if used < Decimal("0.5") else WARN if used < 1 else BAD
    table.add_row("YES", decimal_str(m.yes_position))
    table.add_row("NO", decimal_str(m.no_position))
    table.add_row("net / limit", Text(f"{decimal_str(m.net_position)} / ±{decimal_str(limit)}", style=style))
    table.add_row("", Text("█" * filled + "░" * (bar_len - filled), style=style))
    table.add_row("realized", money(m.realized_pnl))
    table.add_row("unrealized", money(m.unrealized_pnl))
    table.add_row("fees", money(-m.fees))
    # income in its three kinds (labels short enough not to wrap): spread capture (realised +
    # unrealised - fees), and the liquidity rewards and maker rebates the venue paid
    table.add_row("from spread", money(m.total_pnl - m.rewards - m.rebates))
    table.add_row("rewards", income(m.rewards))
    table.add_row("rebates", income(m.rebates))
    table.add_row(Text("total", style="bold"), money(m.total_pnl))
    if m.market.rewards.active:
        scoring = sum(1 for o in m.orders if o.scoring)
        rate = f"~{m.reward_rate:.2f} est." if m.reward_rate is not None else "n/a"
        table.add_row("reward/day", Text(rate, style=GOOD if scoring else WARN))
        table.add_row("scoring", Text(f"{scoring}/{len(m.orders)} orders", style=GOOD if scoring else WARN))
    if m.volatility:
        table.add_row("volatility", Text(f"{m.volatility * 100:.2f}c/√s", style="dim"))
    return table


def orders_table(m: MarketSnapshot) -> Table:
    """Our resting orders, each marked as earning liquidity rewards or not (and why)."""
    table = Table(title="our orders", show_edge=False, box=None)
    for name in ("side", "order", "price", "left", "rewards"):
        table.add_column(name, justify="right" if name in ("price", "left") else "left")
    for o in sorted(m.orders, key=lambda o: (o.tag != "ask", -o.yes_price)):
        mark = Text("★ scoring", style=GOOD) if o.scoring else Text(f"✗ {o.scoring_note}", style="dim")
        table.add_row(
            o.tag or "-",
            f"{o.side.value} {o.outcome}",
            price_str(o.price, m.market.tick_size),
            decimal_str(o.remaining),
            mark,
        )
    if not m.orders:
        table.add_row("", Text("no orders resting", style="dim"), "", "", "")
    return table


def fills_table(m: MarketSnapshot) -> Table:
    table = Table(title="last fills", show_edge=False, box=None)
    for name in ("side", "outcome", "price", "size", "role", "status"):
        table.add_column(name, justify="right" if name in ("price", "size") else "left")
    for f in m.fills:
        table.add_row(
            Text(f.side.value, style=GOOD if f.side is Side.BUY else BAD),
            f.outcome,
            price_str(f.price, m.market.tick_size),
            decimal_str(f.size),
            f.liquidity.lower(),
            Text(
                f.status.value,
                style=GOOD if f.status.value == "CONFIRMED" else BAD if f.status.value == "FAILED" else WARN,
            ),
        )
    if not m.fills:
        table.add_row("", Text("no fills yet", style="dim"), "", "", "", "")
    return table


def market_panel(m: MarketSnapshot) -> Panel:
    grid = Table.grid(expand=True, padding=(0, 3))
    grid.add_column(ratio=3)
    grid.add_column(ratio=2)
    grid.add_column(ratio=4)
    grid.add_row(book_table(m), inventory_table(m), Group(orders_table(m), fills_table(m)))
    status_style = GOOD if m.status == "quoting" else BAD if m.status.startswith("halted") else WARN
    footer = Text.assemble(("status: ", "dim"), (m.status, status_style))
    if m.last_decision:
        footer.append(f"   last decision: {m.last_decision}", style="dim")
    # Text, not a str: a str title is Rich markup, and "[slug]" (or brackets in a question) vanished
    title = Text(f"{m.market.question}  [{m.market.slug}]  tick {decimal_str(m.market.tick_size)}")
    if m.market.resolved:  # for good: marked at the payout (inventory shows the realised P&L)
        title.append(f"  RESOLVED: {m.market.outcome_of(m.market.winner)} won", style=f"bold {WARN}")
    elif not m.market.tradable or m.status.startswith("closed"):
        title.append("  CLOSED", style=f"bold {WARN}")
    return Panel(Group(grid, footer), title=title, title_align="left")


def dashboard(snap: EngineSnapshot, selected: int = 0) -> RenderableType:
    """The whole live dashboard: health and totals, then (with several markets) the overview table,
    one row a market, and the detailed panel of the selected one (keys switch it)."""
    if len(snap.markets) <= 1:
        return Group(header(snap), *(market_panel(m) for m in snap.markets))
    chosen = selected % len(snap.markets)
    return Group(
        header(snap),
        overview_table([summarize(m) for m in snap.markets], selected=chosen),
        market_panel(snap.markets[chosen]),
    )


def quote_cell(q: QuoteLine | None) -> str:
    return "-" if q is None else f"{decimal_str(q.yes_price)} x{decimal_str(q.size)}"


def status_style(status: str) -> str:
    return GOOD if status == "quoting" else BAD if status.startswith(("halted", "stopped")) else WARN


OVERVIEW_FIGURES = ("mid", "our bid", "our ask", "net pos", "P&L", "reward/day", "scoring")
NARROW_OVERVIEW_FIGURES = ("mid", "our bid", "our ask", "net pos", "P&L")  # what fits 80 columns
UNBOUNDED = 10_000  # a width to measure a table at without squeezing it
STATUS_MIN = 9  # "quoting" whole, or the start of a longer status and its ellipsis


class OverviewTable:
    """One row a market (the dashboard's overview and `polymm status` draw this same table from the
    same summaries): mid, our best bid and ask (YES price x size), net position, P&L, rewards.

    Drawn for the width it is given: the reward figures go when the rest would not fit whole, and a
    long status is cut short (with an ellipsis) before any figure or the market's name is: a table
    too wide for its space otherwise has every column squeezed, and the names dropped first."""

    def __init__(self, rows: Sequence[MarketSummary], selected: int | None = None) -> None:
        self.rows = rows
        self.selected = selected

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width, unbounded = options.max_width, options.update_width(UNBOUNDED)
        for figures in (OVERVIEW_FIGURES, NARROW_OVERVIEW_FIGURES):
            table = self.table(figures, STATUS_MIN)
            need = Measurement.get(console, unbounded, table).maximum  # its natural width
            if need <= width:
                break
        yield self.table(figures, max(STATUS_MIN, STATUS_MIN + width - need))

    def table(self, figures: Sequence[str], status_width: int) -> Table:
        hint = "  (Tab/↓ next, ↑ previous, 1-9 pick)" if self.selected is not None else ""
        table = Table(title=f"markets{hint}", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("market", overflow="fold", min_width=12, max_width=34)
        for name in figures:
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("status", overflow="ellipsis", no_wrap=True, max_width=min(36, status_width))
        for n, r in enumerate(self.rows):
            cells: dict[str, str | Text] = {
                "mid": decimal_str(r.mid) if r.mid is not None else "-",
                "our bid": quote_cell(r.best_bid),
                "our ask": quote_cell(r.best_ask),
                "net pos": f"{decimal_str(r.net_position)}/±{decimal_str(r.position_limit)}",
                "P&L": money(r.total_pnl),
                "reward/day": f"~{r.reward_rate:.2f}" if r.reward_rate is not None else "-",
                "scoring": r.scoring,
            }
            table.add_row(
                ("▶ " if n == self.selected else "") + str(n + 1),
                r.slug or r.condition_id[:14],
                *(cells[name] for name in figures),
                Text(r.status, style=status_style(r.status)),
                style="bold" if n == self.selected else "",
            )
        return table


def overview_table(rows: Sequence[MarketSummary], selected: int | None = None) -> OverviewTable:
    """The overview of several markets (`OverviewTable`), `selected` marked."""
    return OverviewTable(rows, selected)


def status_view(doc: dict[str, Any], rows: Sequence[MarketSummary]) -> RenderableType:
    """`polymm status`: the engine in one line, its health, the overview table, each last decision."""
    h, totals = doc["health"], doc["totals"]
    uptime = _duration(float(doc["uptime_s"])) if doc.get("uptime_s") is not None else "?"
    wallet = str(doc["wallet"])
    short = f"{wallet[:6]}…{wallet[-4:]}" if len(wallet) > 12 else wallet
    state = Text("healthy", style=GOOD) if h["healthy"] else Text("UNHEALTHY", style=f"bold {BAD}")
    head = Text.assemble(
        f"polymm running — {doc['venue']} — wallet {short} — pid {doc['pid']} — up {uptime} — ", state
    )
    figures = Text.assemble(
        ("P&L ", "bold"),
        money(Decimal(totals["total_pnl"])),
        f"   fills {totals['fills']}   placed {totals['orders_placed']}"
        f"   cancelled {totals['orders_cancelled']}   decisions {totals['decisions']}",
    )
    health = Text.assemble(
        dot(h["market_feed"], "market feed", age(h["feed_age_s"])),
        "   ",
        dot(h["user_stream"], "user stream"),
        "   ",
        dot(h["heartbeat"], "heartbeat", age(h["heartbeat_age_s"])),
    )
    if h["halted"]:
        health.append(f"   HALTED: {h['halted']}", style=f"bold {BAD}")
    lines: list[RenderableType] = [head, figures, health]
    if h["last_error"]:
        lines.append(Text(f"last error: {h['last_error']}", style=WARN))
    if doc.get("selection"):
        lines.append(selection_line(doc["selection"], float(doc["updated"])))
    lines.append(overview_table(rows))
    for n, r in enumerate(rows, 1):
        name = r.slug or r.condition_id
        lines.append(Text(f"{n} {name}: last decision: {r.last_decision or '-'}", style="dim"))
    return Group(*lines)


def selection_line(selection: dict[str, Any], now: float) -> Text:
    """`polymm status` under `--select`: the rule, and when it was last applied."""
    every = float(selection["every_s"])
    when = "never re-selected" if every <= 0 else f"re-selected every {_duration(every)}"
    last = selection.get("last_round")
    done = f", {selection['rounds']} round(s), the last {_duration(max(0.0, now - last))} ago" if last else ""
    return Text(f"selection: {selection['rule']}; {when}{done}", style="dim")


MARKET_COLUMNS = ("mid", "spread", "tick", "min", "reward/day", "band", "ours/day", "volume", "ends")
NARROW_COLUMNS = ("mid", "spread", "reward/day", "band", "ours/day")  # what fits 80 columns


def markets_table(rows: Sequence[MarketRow], width: int = 140) -> Table:
    """`polymm markets list`: one row a market, named by its slug (what commands take). The figures
    never wrap; a terminal narrower than 110 columns gets the essential ones (`--json` has all)."""
    columns = MARKET_COLUMNS if width >= 110 else NARROW_COLUMNS
    table = Table(title="markets", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("market", overflow="fold", min_width=12)
    for name in columns:
        table.add_column(name, no_wrap=True, justify="left" if name == "ends" else "right")
    for r in rows:
        m = r.market
        cells = {
            "mid": dec(r.mid) or "-",
            "spread": dec(r.spread) or "-",
            "tick": dec(m.tick_size),
            "min": dec(m.min_order_size),
            "reward/day": dec(m.rewards.daily_rate),
            "band": f"{dec(m.rewards.max_spread_cents)}c",
            "ours/day": f"{r.est_reward:.2f}",
            "volume": dec(r.volume),
            "ends": m.end_date[:10],
        }
        table.add_row(m.slug or m.condition_id, *(str(cells[c]) for c in columns))
    return table


def recording_line(status: RecordStatus) -> Text:
    """`polymm record`'s status line: the feed's state, then frames, books, gaps, bytes, elapsed."""
    minutes, seconds = divmod(int(status.elapsed), 60)
    hours, minutes = divmod(minutes, 60)
    names = ", ".join(m.slug or m.condition_id[:12] for m in status.markets)
    return Text.assemble(
        ("● ", GOOD if status.connected else WARN),
        (status.state, "" if status.connected else WARN),
        f" {names} → {status.out}  ",
        f"frames {status.frames:,}  books {status.books:,}  ",
        ("gaps ", ""),
        (f"{status.gaps:,}", BAD if status.gaps else ""),
        f"  {size_text(status.bytes)} in {status.files} file{'s' if status.files != 1 else ''}",
        f"  {hours}:{minutes:02d}:{seconds:02d}",
    )


def _duration(seconds: float) -> str:
    """A session length for people: 1h02m03s, 4m05s, 6.5s."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def _per_hour(r: BacktestResult) -> Text:
    text = money(r.pnl_per_hour)
    if r.pnl_per_hour_std is not None:
        text.append(f" ± {r.pnl_per_hour_std.quantize(Decimal('0.01')):,.2f}", style="dim")
    return text


def backtest_table(r: BacktestResult) -> Table:
    """`polymm backtest`: one session's headline figures (docs/backtesting.md, "Reading the results")."""
    table = Table(title=Text(f"backtest: {r.question}"), show_header=False, box=box.SIMPLE, pad_edge=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("market", r.slug or r.market_id)
    table.add_row("duration", _duration(r.duration_s))
    table.add_row("events replayed", f"{r.events:,}")
    for key, value in r.params.items():
        table.add_row(Text(key, style="dim"), value)
    table.add_row("fills", f"{r.fills:,}")
    notional = r.maker_notional.quantize(Decimal("0.01"))
    table.add_row("maker volume", f"{decimal_str(r.maker_volume)} ({notional:,.2f} pUSD)")
    table.add_row("realised", money(r.realised))
    table.add_row("unrealised", money(r.unrealised))
    table.add_row("fees", money(-r.fees))
    table.add_row(Text("total P&L", style="bold"), money(r.total))
    table.add_row("P&L per hour ± std", _per_hour(r))
    table.add_row("max drawdown", money(-r.max_drawdown))
    table.add_row("inventory std", decimal_str(r.inventory_std.quantize(Decimal("0.01"))))
    limit_style = GOOD if r.time_at_limit < 0.05 else WARN if r.time_at_limit < 0.25 else BAD
    table.add_row(
        f"time at limit (±{decimal_str(r.position_limit)})",
        Text(f"{r.time_at_limit:.1%}", style=limit_style),
    )
    table.add_row("est. liquidity reward", money(r.estimated_reward))
    return table


def ranked_table(results: Sequence[BacktestResult]) -> Table:
    """`polymm backtest --grid`: one row a parameter set, in the order given (best first), its
    parameters as columns (those every row shares with the same value are left out)."""
    keys = list(dict.fromkeys(k for r in results for k in r.params))
    varying = [k for k in keys if len({r.params.get(k) for r in results}) > 1] or keys
    table = Table(title="backtest grid, best first", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right")
    for key in varying:
        table.add_column(key, justify="right", no_wrap=True)
    for name in ("total P&L", "P&L/h", "max dd", "fills", "inv std", "at limit", "reward"):
        table.add_column(name, justify="right", no_wrap=True)
    for n, r in enumerate(results, 1):
        table.add_row(
            str(n),
            *(r.params.get(k, "-") for k in varying),
            money(r.total),
            money(r.pnl_per_hour),
            money(-r.max_drawdown),
            f"{r.fills:,}",
            decimal_str(r.inventory_std.quantize(Decimal("0.01"))),
            f"{r.time_at_limit:.1%}",
            money(r.estimated_reward),
        )
    return table
