"""The dependency rule of the architecture, held by a test: each layer imports only what it may.

Every form of import counts: `import polymm_cli.x`, `from polymm_cli.x import y`, `from polymm_cli
import x` and relative imports (`from . import x`, `from ..x import y`). Each rule is also shown to
bite: a planted forbidden import in a module of that layer is reported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "polymm_cli"
PURE = {
    "model",
    "book",
    "quoter",
    "reconcile",
    "risk",
    "pnl",
    "rewards",
    "regime",
    "liquidation",
    "jsonsafe",
    "health",
    "trust",
    "pricing",
    "toxicity",
    "status",
    "selection",
    "diagnosis",
}
_NOT_PURE = ("cli", "services", "engine", "ledger", "venues", "exchange", "clock", "settings", "signing")

# layer (module or package) -> polymm_cli modules it must NOT import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "cli": (
        "engine",
        "ledger",
        "exchange",
        "venues",
        "quoter",
        "pnl",
        "risk",
        "reconcile",
        "book",
        "signing",
        "backtest",
    ),
    "services": ("cli",),
    "engine": (
        "cli",
        "services",
        "exchange",
        "venues.polymarket",
        "venues.sim",
        "venues.paper",
        "backtest",
        "settings",
    ),
    "venues.polymarket": (
        "cli",
        "services",
        "engine",
        "ledger",
        "exchange",
        "settings",
        "backtest",
        "diagnosis",
    ),
    "venues.sim": ("cli", "services", "engine", "ledger", "venues.polymarket", "settings"),
    # paper trading: the fill simulator over any venue's market data, never a concrete venue
    # (and of backtest only queue and fills: test_paper_trading_uses_only_the_fill_simulator_of_backtest)
    "venues.paper": (
        "cli",
        "services",
        "engine",
        "ledger",
        "exchange",
        "venues.polymarket",
        "venues.sim",
        "settings",
    ),
    "backtest": ("cli", "services"),
    # metrics, alerts and the run log: observers of the engine, composed by services from plain values
    "ops": ("cli", "services", "settings", "exchange", "venues", "backtest", "ledger"),
    # the fill simulator and its queue models: pure, below the engine and the venues
    "backtest.queue": (*_NOT_PURE, "backtest.fills"),
    "backtest.fills": (
        "cli",
        "services",
        "engine",
        "ledger",
        "exchange",
        "venues.polymarket",
        "venues.sim",
        "venues.paper",
        "settings",
        "clock",
    ),
    "venues.base": ("cli", "services", "engine", "ledger", "exchange", "venues.polymarket", "venues.sim"),
    "venues.books": ("cli", "services", "engine", "ledger", "exchange", "venues.polymarket", "venues.sim"),
    "exchange": ("venues", "engine", "cli", "services", "ledger", "settings"),
    "ledger": ("cli", "services", "engine", "venues", "exchange", "settings"),
    "signing": ("cli", "services", "engine", "ledger", "venues", "exchange", "settings"),
    "files": ("model", "cli", "services", "engine", "ledger", "venues", "exchange", "settings"),
    **{m: _NOT_PURE for m in PURE},
}


def _modules() -> list[tuple[str, Path]]:
    return [(".".join(p.relative_to(PACKAGE).with_suffix("").parts), p) for p in PACKAGE.rglob("*.py")]


def _package_of(module: str, path: Path) -> list[str]:
    """The package a module's relative imports start from (a package's __init__ is its own)."""
    parts = module.split(".")
    return parts if path.name == "__init__.py" else parts[:-1]


def imports_of(module: str, path: Path, source: str) -> set[str]:
    """Every polymm_cli module `source` imports, as a dotted name below polymm_cli."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("polymm_cli.") for a in node.names if a.name.startswith("polymm_cli.")
            )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module, path)[: len(_package_of(module, path)) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module == "polymm_cli":
                target = ""
            elif node.module and node.module.startswith("polymm_cli."):
                target = node.module.removeprefix("polymm_cli.")
            else:
                continue
            if target:
                found.add(target)
            # the names may be modules (`from polymm_cli import engine`, `from .venues import sim`)
            found.update(f"{target}.{a.name}".strip(".") for a in node.names)
    return found


def _layer(module: str) -> str | None:
    matching = [key for key in FORBIDDEN if module == key or module.startswith(key + ".")]
    return max(matching, key=len) if matching else None


def violations(module: str, path: Path, source: str) -> list[str]:
    layer = _layer(module)
    if layer is None:
        return []
    return sorted(
        imported
        for imported in imports_of(module, path, source)
        for banned in FORBIDDEN[layer]
        if imported == banned or imported.startswith(banned + ".")
    )


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_each_module_respects_the_dependency_rule(module: str, path: Path) -> None:
    bad = violations(module, path, path.read_text())
    assert bad == [], f"{module} ({_layer(module)} layer) imports {bad}"


PLANTS = [
    ("cli.views", "cli/views.py", "from polymm_cli import engine, ledger", ["engine", "ledger"]),
    ("cli.views", "cli/views.py", "from .. import engine", ["engine"]),
    ("cli.views", "cli/views.py", "import polymm_cli.signing", ["signing"]),
    ("services.trading", "services/trading.py", "from ..cli import views", ["cli", "cli.views"]),
    ("engine.loop", "engine/loop.py", "from ..venues.polymarket import adapter", ["venues.polymarket"]),
    ("engine.loop", "engine/loop.py", "from ..settings import Settings", ["settings"]),
    ("engine.view", "engine/view.py", "from polymm_cli import services", ["services"]),
    ("venues.polymarket.adapter", "venues/polymarket/adapter.py", "from ...engine import X", ["engine"]),
    (
        "venues.sim",
        "venues/sim.py",
        "from .polymarket import wire",
        ["venues.polymarket", "venues.polymarket.wire"],
    ),
    ("venues.base", "venues/base.py", "from ..exchange import core", ["exchange", "exchange.core"]),
    ("exchange.core", "exchange/core.py", "from ..venues import base", ["venues", "venues.base"]),
    ("ledger", "ledger.py", "from polymm_cli.venues.base import Fill", ["venues.base"]),
    ("signing", "signing.py", "from polymm_cli.settings import Settings", ["settings"]),
    ("quoter", "quoter.py", "from . import clock", ["clock"]),
    ("trust", "trust.py", "from polymm_cli import ledger", ["ledger"]),
    ("files", "files.py", "from .model import ZERO", ["model"]),
    ("backtest.recording", "backtest/recording.py", "from ..services import venues", ["services"]),
    ("backtest.importers", "backtest/importers.py", "from polymm_cli.cli import app", ["cli", "cli.app"]),
    ("engine.loop", "engine/loop.py", "from ..backtest import recording", ["backtest"]),
    (
        "venues.polymarket.recorder",
        "venues/polymarket/recorder.py",
        "from polymm_cli.backtest.recording import Frame",
        ["backtest.recording"],
    ),
    ("venues.paper", "venues/paper.py", "from ..engine import QuotingEngine", ["engine"]),
    ("venues.paper", "venues/paper.py", "from .sim import SimVenue", ["venues.sim"]),
    ("backtest.fills", "backtest/fills.py", "from polymm_cli.ledger import Ledger", ["ledger"]),
    ("backtest.queue", "backtest/queue.py", "from ..venues import base", ["venues", "venues.base"]),
    ("engine.loop", "engine/loop.py", "from ..backtest import fills", ["backtest", "backtest.fills"]),
    ("engine.loop", "engine/loop.py", "from ..venues.paper import PaperVenue", ["venues.paper"]),
    ("ops.alerts", "ops/alerts.py", "from polymm_cli.settings import Settings", ["settings"]),
]


@pytest.mark.parametrize(("module", "relative", "planted", "caught"), PLANTS, ids=[p[2] for p in PLANTS])
def test_a_planted_forbidden_import_is_caught(
    module: str, relative: str, planted: str, caught: list[str]
) -> None:
    path = PACKAGE / relative
    source = path.read_text() + "\n" + planted + "\n"

    assert set(caught) <= set(violations(module, path, source))


def test_the_pure_core_imports_only_the_stdlib_decimal_and_model() -> None:
    third_party = {"asyncio", "httpx", "websockets", "sqlite3", "rich", "typer", "time", "os", "socket"}
    for name in PURE:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        top = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        top |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not (top & third_party), f"{name} imports {sorted(top & third_party)}"


def test_paper_trading_uses_only_the_fill_simulator_of_backtest() -> None:
    path = PACKAGE / "venues" / "paper.py"
    used = {m for m in imports_of("venues.paper", path, path.read_text()) if m.startswith("backtest")}

    assert used and {m.split(".")[1] for m in used} <= {"queue", "fills"}, used
