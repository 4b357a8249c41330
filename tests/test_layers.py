"""The dependency rule of ARCHITECTURE.md, held by a test: each layer imports only what it may."""

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
}

# module (or package) -> polymm_cli modules it must NOT import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "cli": ("engine", "ledger", "exchange", "venues", "quoter", "pnl", "risk", "reconcile", "book"),
    "exchange": ("venues", "engine", "cli", "services", "ledger"),
    "engine": ("cli", "services", "exchange", "venues.polymarket", "venues.sim"),
    "ledger": ("cli", "services", "engine", "venues", "exchange"),
    **{m: ("cli", "services", "engine", "ledger", "venues", "exchange", "clock") for m in PURE},
}


def _modules() -> list[tuple[str, Path]]:
    return [(".".join(p.relative_to(PACKAGE).with_suffix("").parts), p) for p in PACKAGE.rglob("*.py")]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polymm_cli."):
            found.add(node.module.removeprefix("polymm_cli."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("polymm_cli.") for a in node.names if a.name.startswith("polymm_cli.")
            )
    return found


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_each_module_respects_the_dependency_rule(module: str, path: Path) -> None:
    layer = next((key for key in FORBIDDEN if module == key or module.startswith(key + ".")), None)
    if layer is None:
        return
    bad = sorted(
        imported
        for imported in _imports(path)
        for banned in FORBIDDEN[layer]
        if imported == banned or imported.startswith(banned + ".")
    )
    assert bad == [], f"{module} ({layer} layer) imports {bad}"


def test_the_pure_core_imports_only_the_stdlib_decimal_and_model() -> None:
    third_party = {"asyncio", "httpx", "websockets", "sqlite3", "rich", "typer", "time"}
    for name in PURE:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        top = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        top |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not (top & third_party), f"{name} imports {sorted(top & third_party)}"
